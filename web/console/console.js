"use strict";
// The operator console: reads the API of the app it is served by. Data is only ever put in the page as text.

const API = "/api";
const REFRESH_MS = 10000;

// Locally (AUTH_MODE=dev) the identity is in cookies that /api/console/signin set; the API wants headers.
// In Azure there are no such cookies: App Service Authentication's session cookie does the work.
function devHeaders() {
  const cookies = Object.fromEntries(
    document.cookie.split(";").map((part) => part.trim().split("=")).filter((kv) => kv.length === 2)
      .map(([k, v]) => [k, decodeURIComponent(v)]),
  );
  const headers = {};
  if (cookies.ep_dev_user) headers["X-Dev-User"] = cookies.ep_dev_user;
  if (cookies.ep_dev_roles) headers["X-Dev-Roles"] = cookies.ep_dev_roles;
  return headers;
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...devHeaders(), ...(options.headers || {}) },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `HTTP ${response.status}`;
    throw new Error(detail);
  }
  return body;
}

function status(text) {
  document.getElementById("status").textContent = text;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function outcomeCell(row, outcome) {
  const td = cell(row, "");
  const span = document.createElement("span");
  span.className = `outcome outcome-${outcome}`;
  span.textContent = outcome;
  td.appendChild(span);
}

function decisionRows(tbody, decisions) {
  tbody.replaceChildren();
  for (const d of decisions) {
    const row = tbody.insertRow();
    row.dataset.eventId = d.eventId;
    row.dataset.outcome = d.outcome;
    row.dataset.reason = d.reason;
    cell(row, when(d.occurredAt));
    cell(row, d.eventId, "mono");
    cell(row, d.eventType);
    cell(row, d.userId === null ? "(broadcast)" : d.userId);
    cell(row, d.channel);
    outcomeCell(row, d.outcome);
    cell(row, d.reason);
    const size = d.audienceSize === null ? "" : ` · devices reached: ${d.audienceSize}`;
    cell(row, (d.detail || (d.audience ? d.audience + size : "")) + (d.deadLettered ? " · dead-lettered" : ""), "detail");
    cell(row, d.notificationId, "mono");
    cell(row, d.traceId, "mono");
  }
}

function broadcastRows(tbody, decisions) {
  tbody.replaceChildren();
  for (const d of decisions) {
    const row = tbody.insertRow();
    row.dataset.eventId = d.eventId;
    row.dataset.outcome = d.outcome;
    row.dataset.reason = d.reason;
    cell(row, when(d.occurredAt));
    cell(row, d.eventId, "mono");
    cell(row, d.eventType);
    cell(row, d.audience, "mono");
    cell(row, d.audienceSize);
    outcomeCell(row, d.outcome);
    cell(row, d.reason);
    cell(row, d.detail, "detail");
  }
}

async function search(event) {
  event.preventDefault();
  const kind = document.getElementById("search-kind").value;
  const value = document.getElementById("search-input").value.trim();
  const summary = document.getElementById("search-summary");
  const results = document.getElementById("results");
  const broadcasts = document.getElementById("broadcasts");
  summary.textContent = "searching…";
  try {
    const page = await api(`/deliveries?${new URLSearchParams({ [kind]: value })}`);
    decisionRows(results.tBodies[0], page.items);
    results.hidden = false;
    const shown = page.broadcasts || [];
    broadcastRows(broadcasts.tBodies[0], shown);
    broadcasts.hidden = document.getElementById("broadcasts-title").hidden = shown.length === 0;
    const who = kind === "userId" ? `user ${value}` : `event ${value}`;
    summary.textContent = `${page.items.length} decision(s) for ${who}` +
      (shown.length ? `, ${shown.length} broadcast(s) in the window` : "") + (page.next ? " (more: narrow the window)" : "");
  } catch (error) {
    summary.textContent = `search failed: ${error.message}`;
  }
}

async function replay(id, button) {
  button.disabled = true;
  try {
    await api(`/deadletters/${encodeURIComponent(id)}/replay`, { method: "POST" });
    button.textContent = "replayed";
    await loadDeadLetters();
  } catch (error) {
    button.disabled = false;
    button.textContent = `replay failed: ${error.message}`;
  }
}

async function loadDeadLetters() {
  const tbody = document.getElementById("deadletters").tBodies[0];
  const { items } = await api("/deadletters");
  tbody.replaceChildren();
  for (const item of items) {
    const row = tbody.insertRow();
    row.dataset.id = item.id;
    row.dataset.kind = item.kind;
    cell(row, when(item.at));
    cell(row, item.kind);
    cell(row, item.topic);
    cell(row, item.messageId, "mono");
    cell(row, item.reason);
    cell(row, item.description, "detail");
    const td = cell(row, "");
    if (item.replayedAt) {
      td.textContent = `replayed ${when(item.replayedAt)}`;
    } else {
      const button = document.createElement("button");
      button.className = "replay";
      button.textContent = "Replay";
      button.addEventListener("click", () => replay(item.id, button));
      td.appendChild(button);
    }
  }
}

const charts = {};
const PALETTE = ["#0969da", "#1a7f37", "#cf222e", "#9a6700", "#8250df", "#bf3989", "#1b7c83", "#57606a"];

function seriesLabel(attributes, keys) {
  return keys.map((key) => attributes[key]).filter((v) => v !== undefined && v !== "none").join(" · ") || "all";
}

function drawChart(id, labels, datasets, type = "bar") {
  if (typeof Chart === "undefined") return;
  const data = { labels, datasets: datasets.map((d, i) => ({ ...d, backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length] })) };
  if (charts[id]) {
    charts[id].data = data;
    charts[id].update("none");
    return;
  }
  charts[id] = new Chart(document.getElementById(id), {
    type,
    data,
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { boxWidth: 10, font: { size: 10 } } } },
      scales: { x: { stacked: type === "bar", ticks: { maxTicksLimit: 6, font: { size: 9 } } }, y: { stacked: type === "bar", beginAtZero: true } },
    },
  });
}

function stacked(metrics, name, keys) {
  return (metrics[name] || []).map((s) => ({ label: seriesLabel(s.attributes, keys), data: s.values }));
}

function drawMetrics(series) {
  const labels = series.minutes.map((m) => new Date(m * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  const m = series.metrics;
  drawChart("chart-events", labels, stacked(m, "push.events.received", ["event_type"]));
  drawChart("chart-decisions", labels, stacked(m, "push.decisions", ["outcome", "reason"]));
  drawChart("chart-sends", labels, stacked(m, "push.nh.sends", ["outcome", "cause"]));
  const counts = m["push.event_to_nh_accepted.count"] || [];
  const sums = m["push.event_to_nh_accepted.sum"] || [];
  const total = (list) => labels.map((_, i) => list.reduce((acc, s) => acc + s.values[i], 0));
  const [count, sum] = [total(counts), total(sums)];
  drawChart("chart-latency", labels, [{ label: "mean s", data: count.map((c, i) => (c ? sum[i] / c : null)) }], "line");
  drawChart("chart-registrations", labels, stacked(m, "push.registrations", ["operation", "outcome", "cause"]));
  drawChart("chart-deadletters", labels, stacked(m, "push.dead_letters", ["kind", "reason"]));
}

async function refresh() {
  try {
    const summary = await api("/console/summary");
    decisionRows(document.getElementById("recent").tBodies[0], summary.recent);
    document.getElementById("metrics-scope").textContent = summary.metricsScope;
    drawMetrics(summary.metrics);
    await loadDeadLetters();
    status(`updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    status(`refresh failed: ${error.message}`);
  }
}

document.getElementById("search-form").addEventListener("submit", search);
refresh();
setInterval(refresh, REFRESH_MS);
