// The shop page: sign in (a dev user locally, Easy Auth in Azure), pick items, place the order, watch it move.
// The status view is live: Microsoft's SignalR client (shop/signalr.min.js) negotiates through /api/negotiate as
// the signed-in customer and receives each orders.order.* step as a "notification" invocation; a shown step is
// confirmed with POST /api/me/notifications/{id}/seen, so no push follows it. GET /api/orders/{orderId} is read once
// when an order is opened and once per (re)connection, to catch up on what happened while disconnected; never polled.
"use strict";

const API = "/api";
const ORDER_EVENT = "orders.order.";
const FINAL = new Set(["delivered", "rejected"]);
const RANK = { placed: 0, confirmed: 1, shipped: 2, delivered: 3, rejected: 3 };
const LABELS = {
  en: { placed: "placed", confirmed: "confirmed", shipped: "shipped", delivered: "delivered", rejected: "rejected" },
  de: { placed: "aufgegeben", confirmed: "bestätigt", shipped: "versandt", delivered: "zugestellt", rejected: "abgelehnt" },
  es: { placed: "realizado", confirmed: "confirmado", shipped: "enviado", delivered: "entregado", rejected: "rechazado" },
};
const LIVE = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline · reconnect",
  unavailable: "live updates unavailable",
};

const state = { mode: document.body.dataset.authMode, user: sessionStorage.getItem("shopUser"), products: [],
  language: sessionStorage.getItem("shopLanguage") || "en", connection: null,
  wanted: null,  // the id of the order the status view shows (or is about to)
  order: null,  // that order as GET /api/orders/{orderId} or POST /api/orders last answered
  listedFinal: null,  // the order whose final status "My orders" was last refreshed for
  steps: new Map(),  // orderId -> status changes received live, [{ status, at, reason, id }]
};
const $ = (id) => document.getElementById(id);

function headers(extra = {}) {
  const all = { Accept: "application/json", ...extra };
  if (state.mode === "dev" && state.user) all["X-Dev-User"] = state.user;
  return all;
}

async function call(path, options = {}) {
  const response = await fetch(API + path, { credentials: "same-origin", ...options, headers: headers(options.headers) });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = body?.errors?.map((e) => `${e.location}: ${e.message}`).join("; ") || body?.detail || response.statusText;
    throw new Error(`${response.status} ${detail}`);
  }
  return body;
}

function say(text, error = false) {
  $("message").textContent = text;
  $("message").className = error ? "error" : "";
}

function cents(amount) { return Math.round(Number(amount) * 100); }
function money(centsValue) { return (centsValue / 100).toFixed(2); }

function renderProducts() {
  const rows = state.products.map((p) => {
    const row = document.createElement("tr");
    row.dataset.sku = p.sku;
    const name = document.createElement("td");
    name.textContent = p.names[state.language] || p.names.en;
    const price = document.createElement("td");
    price.textContent = `${p.price} ${p.currency}`;
    const qty = document.createElement("td");
    const input = document.createElement("input");
    Object.assign(input, { type: "number", min: "0", max: "100", value: "0", className: "qty" });
    input.setAttribute("aria-label", `quantity of ${p.sku}`);
    input.addEventListener("input", renderTotal);
    qty.append(input);
    row.append(name, price, qty);
    return row;
  });
  $("products").tBodies[0].replaceChildren(...rows);
  renderTotal();
}

function chosenItems() {
  return [...document.querySelectorAll("#products tbody tr")]
    .map((row) => ({ row, quantity: parseInt(row.querySelector("input.qty").value, 10) || 0 }))
    .filter(({ quantity }) => quantity > 0)
    .map(({ row, quantity }) => {
      const product = state.products.find((p) => p.sku === row.dataset.sku);
      return { sku: product.sku, quantity, unitPrice: product.price };
    });
}

function renderTotal() {
  const items = chosenItems();
  const total = items.reduce((sum, item) => sum + cents(item.unitPrice) * item.quantity, 0);
  $("total").textContent = `${money(total)} EUR`;
  $("place-order").disabled = items.length === 0 || !signedIn();
}

function signedIn() { return state.mode !== "dev" || Boolean(state.user); }

function rank(status) { return RANK[status] ?? 99; }

// The stored history first (its times are the order's), then the steps that came live; one entry per status.
function merged(order) {
  const byStatus = new Map();
  for (const change of [...order.history, ...(state.steps.get(order.orderId) || [])]) {
    if (!byStatus.has(change.status)) byStatus.set(change.status, change);
  }
  return [...byStatus.values()].sort((a, b) => rank(a.status) - rank(b.status));
}

function renderOrder() {
  const order = state.order;
  if (!order) return;
  const labels = LABELS[state.language] || LABELS.en;
  const history = merged(order);
  const status = history.length ? history[history.length - 1].status : order.status;
  $("order").hidden = false;
  $("order-id").textContent = order.orderId;
  $("order-status").textContent = labels[status] || status;
  $("order-status").className = status;
  $("order-status").dataset.status = status;
  $("history").replaceChildren(...history.map((change) => {
    const item = document.createElement("li");
    item.dataset.status = change.status;
    const when = new Date(change.at).toLocaleTimeString(state.language);
    item.textContent = `${labels[change.status] || change.status} · ${when}${change.reason ? ` (${change.reason})` : ""}`;
    return item;
  }));
  if (FINAL.has(status) && state.listedFinal !== order.orderId) {
    state.listedFinal = order.orderId;
    loadMyOrders();
  }
}

function show(order) {
  state.wanted = order.orderId;
  state.order = order;
  renderOrder();
  for (const step of state.steps.get(order.orderId) || []) markSeen(step);
}

// Once when an order is opened, and once per (re)connection: what happened while no message could arrive.
async function catchUp(orderId) {
  try {
    const order = await call(`/orders/${encodeURIComponent(orderId)}`);
    if (state.wanted === orderId) show(order);
  } catch (error) {
    say(`Could not read the order: ${error.message}`, true);
  }
}

function markSeen(step) {
  if (step.seen) return;
  step.seen = true;
  call(`/me/notifications/${encodeURIComponent(step.id)}/seen`, { method: "POST" }).catch((error) => {
    step.seen = false;  // not confirmed: the push fallback will tell the phone
    console.warn("seen not confirmed", step.id, error.message);
  });
}

function onNotification(message) {
  const type = typeof message?.type === "string" ? message.type : "";
  const status = type.slice(ORDER_EVENT.length);
  const orderId = message?.data?.orderId;
  if (!type.startsWith(ORDER_EVENT) || !(status in RANK) || typeof orderId !== "string") return;
  const step = { status, at: message.createdAt, reason: message.data.reason, id: message.id, seen: false };
  const steps = state.steps.get(orderId) || [];
  if (steps.some((known) => known.id === step.id)) return;
  state.steps.set(orderId, [...steps, step]);
  const listed = document.querySelector(`#my-orders li[data-order-id="${CSS.escape(orderId)}"]`);
  if (listed && rank(status) > rank(listed.dataset.status)) renderListed(listed, status);
  if (state.order?.orderId === orderId) {
    renderOrder();
    markSeen(step);
  }
}

function setLive(name) {
  $("live").dataset.state = name;
  $("live").textContent = LIVE[name];
  $("live").disabled = name !== "offline";
}

async function connect() {
  if (state.connection || !signedIn()) return;
  if (!window.signalR) { setLive("unavailable"); return; }
  const devUser = state.mode === "dev" && state.user ? { "X-Dev-User": state.user } : {};
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(API, { headers: devUser })
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  const current = () => state.connection === connection;
  state.connection = connection;
  connection.on("notification", (message) => { if (current()) onNotification(message); });
  connection.onreconnecting(() => { if (current()) setLive("reconnecting"); });
  connection.onreconnected(() => {
    if (!current()) return;
    setLive("live");
    if (state.wanted) catchUp(state.wanted);
  });
  connection.onclose(() => { if (current()) { state.connection = null; setLive("offline"); } });
  setLive("connecting");
  try {
    await connection.start();
    if (!current()) return;
    setLive("live");
    if (state.wanted) catchUp(state.wanted);
  } catch (error) {
    if (current()) { state.connection = null; setLive("offline"); }
  }
}

function disconnect() {
  const connection = state.connection;
  state.connection = null;
  if (connection) connection.stop();
  setLive("offline");
}

async function placeOrder() {
  const items = chosenItems();
  const key = crypto.randomUUID();  // one key per click: a retry of this request cannot order twice
  $("place-order").disabled = true;
  say("Placing the order ...");
  try {
    const order = await call("/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ items, currency: "EUR" }),
    });
    say(`Order ${order.orderId} placed: ${order.total} ${order.currency}.`);  // the total the server computed
    show(order);  // the answer is the order as stored: nothing to read until a step arrives
  } catch (error) {
    say(`The order was not placed: ${error.message}`, true);
  } finally {
    renderTotal();
  }
}

async function loadMyOrders() {
  try {
    const page = await call("/me/orders?limit=10");
    $("mine").hidden = false;
    $("my-orders").replaceChildren(...page.orders.map((order) => {
      const item = document.createElement("li");
      Object.assign(item.dataset, { orderId: order.orderId, summary: `${order.orderId} · ${order.total} ${order.currency}` });
      const live = (state.steps.get(order.orderId) || []).map((step) => step.status);
      renderListed(item, [order.status, ...live].sort((a, b) => rank(a) - rank(b)).pop());
      return item;
    }));
  } catch (error) {
    say(`Could not list your orders: ${error.message}`, true);
  }
}

function renderListed(item, status) {
  const labels = LABELS[state.language] || LABELS.en;
  const link = document.createElement("a");
  link.href = "#";
  link.textContent = `${item.dataset.summary} · ${labels[status] || status}`;
  link.addEventListener("click", (event) => { event.preventDefault(); openOrder(item.dataset.orderId); });
  item.dataset.status = status;
  item.replaceChildren(link);
}

function openOrder(orderId) {
  state.wanted = orderId;
  catchUp(orderId);
}

async function start() {
  $("sign-in-form").hidden = state.mode !== "dev" || Boolean(state.user);
  $("signed-in").hidden = state.mode !== "dev" || !state.user;
  $("easyauth-sign-in").hidden = state.mode === "dev";
  $("who").textContent = state.user || "";
  $("language").value = state.language;
  if (!signedIn()) { say("Sign in to shop."); renderTotal(); return; }
  connect();
  try {
    state.products = (await call("/products")).products;
    renderProducts();
    say("");
    loadMyOrders();
  } catch (error) {
    say(`Could not load the products: ${error.message}`, true);
  }
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.user = $("user").value.trim();
  if (state.user) sessionStorage.setItem("shopUser", state.user);
  start();
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("shopUser");
  state.user = null;
  Object.assign(state, { order: null, wanted: null, listedFinal: null });
  state.steps.clear();
  disconnect();
  $("order").hidden = true;
  $("mine").hidden = true;
  start();
});
$("language").addEventListener("change", () => {
  state.language = $("language").value;
  sessionStorage.setItem("shopLanguage", state.language);
  renderProducts();
  renderOrder();
  for (const item of document.querySelectorAll("#my-orders li")) renderListed(item, item.dataset.status);
});
$("live").addEventListener("click", connect);
$("place-order").addEventListener("click", placeOrder);
start();
