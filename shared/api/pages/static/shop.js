// The shop page: sign in (a dev user locally, Easy Auth in Azure), pick items, place the order, watch it move.
// Until real-time delivery exists (issue 12) the order's status is polled from GET /api/orders/{orderId}.
"use strict";

const API = "/api";
const POLL_MS = 1000;
const FINAL = new Set(["delivered", "rejected"]);
const LABELS = {
  en: { placed: "placed", confirmed: "confirmed", shipped: "shipped", delivered: "delivered", rejected: "rejected" },
  de: { placed: "aufgegeben", confirmed: "bestätigt", shipped: "versandt", delivered: "zugestellt", rejected: "abgelehnt" },
  es: { placed: "realizado", confirmed: "confirmado", shipped: "enviado", delivered: "entregado", rejected: "rechazado" },
};

const state = { mode: document.body.dataset.authMode, user: sessionStorage.getItem("shopUser"), products: [],
  language: sessionStorage.getItem("shopLanguage") || "en", polling: null };
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

function renderOrder(order) {
  const labels = LABELS[state.language] || LABELS.en;
  $("order").hidden = false;
  $("order-id").textContent = order.orderId;
  $("order-status").textContent = labels[order.status] || order.status;
  $("order-status").className = order.status;
  $("order-status").dataset.status = order.status;
  $("history").replaceChildren(...order.history.map((change) => {
    const item = document.createElement("li");
    item.dataset.status = change.status;
    const when = new Date(change.at).toLocaleTimeString(state.language);
    item.textContent = `${labels[change.status] || change.status} · ${when}${change.reason ? ` (${change.reason})` : ""}`;
    return item;
  }));
}

function watch(orderId) {
  clearTimeout(state.polling);
  const tick = async () => {
    try {
      const order = await call(`/orders/${encodeURIComponent(orderId)}`);
      renderOrder(order);
      if (FINAL.has(order.status)) { loadMyOrders(); return; }
    } catch (error) {
      say(`Could not read the order: ${error.message}`, true);
    }
    state.polling = setTimeout(tick, POLL_MS);
  };
  tick();
}

async function placeOrder() {
  const items = chosenItems();
  const total = money(items.reduce((sum, item) => sum + cents(item.unitPrice) * item.quantity, 0));
  const key = crypto.randomUUID();  // one key per click: a retry of this request cannot order twice
  $("place-order").disabled = true;
  say("Placing the order ...");
  try {
    const order = await call("/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ items, currency: "EUR", total }),
    });
    say(`Order ${order.orderId} placed.`);
    renderOrder(order);
    watch(order.orderId);
  } catch (error) {
    say(`The order was not placed: ${error.message}`, true);
  } finally {
    renderTotal();
  }
}

async function loadMyOrders() {
  try {
    const page = await call("/me/orders?limit=10");
    const labels = LABELS[state.language] || LABELS.en;
    $("mine").hidden = false;
    $("my-orders").replaceChildren(...page.orders.map((order) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#";
      link.textContent = `${order.orderId} · ${order.total} ${order.currency} · ${labels[order.status] || order.status}`;
      link.addEventListener("click", (event) => { event.preventDefault(); watch(order.orderId); });
      item.append(link);
      return item;
    }));
  } catch (error) {
    say(`Could not list your orders: ${error.message}`, true);
  }
}

async function start() {
  $("sign-in-form").hidden = state.mode !== "dev" || Boolean(state.user);
  $("signed-in").hidden = state.mode !== "dev" || !state.user;
  $("easyauth-sign-in").hidden = state.mode === "dev";
  $("who").textContent = state.user || "";
  $("language").value = state.language;
  if (!signedIn()) { say("Sign in to shop."); renderTotal(); return; }
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
  clearTimeout(state.polling);
  $("order").hidden = true;
  $("mine").hidden = true;
  start();
});
$("language").addEventListener("change", () => {
  state.language = $("language").value;
  sessionStorage.setItem("shopLanguage", state.language);
  renderProducts();
});
$("place-order").addEventListener("click", placeOrder);
start();
