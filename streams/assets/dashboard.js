// The tierstream dashboard: tier distribution (from /distribution), the live feed (/live,
// server-sent events), filters, search, and an entity's page (#/entity/<type>/<id>, from /tiers).
"use strict";

const $ = (sel) => document.querySelector(sel);
const FEED_MAX = 200;
const NONE = "~none"; // the filter value of "entities without a segment / group"
const charts = {};
let labels = {}; // entity type -> {dimension: label}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Best tier green, worst red, ungraded grey; faded when another tier is chosen.
function colors(tiers, chosen) {
  const graded = tiers.filter((t) => t !== "ungraded").length;
  return tiers.map((t, i) => {
    const alpha = chosen && t !== chosen ? 0.25 : 1;
    const hue = graded > 1 ? 130 - (130 * i) / (graded - 1) : 130;
    return t === "ungraded" ? `hsla(210, 5%, 63%, ${alpha})` : `hsla(${hue}, 55%, 48%, ${alpha})`;
  });
}

function filters() {
  return { type: $("#f-type").value, tier: $("#f-tier").value,
           segment: $("#f-segment").value, group: $("#f-group").value };
}

function query(f) {
  const q = new URLSearchParams();
  for (const name of ["segment", "group"]) if (f[name]) q.set(name, f[name] === NONE ? "" : f[name]);
  return q.toString();
}

function fillChoices(select, counts, keep) {
  const current = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"));
  for (const [name, n] of Object.entries(counts)) {
    select.append(el("option", { value: name || NONE }, `${name || "(none)"} (${n})`));
  }
  if (keep.includes(current)) select.value = current;
}

// --- overview ----------------------------------------------------------------

async function refreshDistribution() {
  const f = filters();
  const resp = await fetch(`/distribution?${query(f)}`);
  if (!resp.ok) return;
  const doc = await resp.json();
  const tiers = new Set(), segments = {}, groups = {};
  for (const [type, d] of Object.entries(doc)) {
    labels[type] = d.dimensions;
    d.tiers.forEach((t) => tiers.add(t.tier));
    for (const [k, n] of Object.entries(d.segments)) segments[k] = (segments[k] || 0) + n;
    for (const [k, n] of Object.entries(d.groups)) groups[k] = (groups[k] || 0) + n;
    drawDistribution(type, d, f);
  }
  fillChoices($("#f-segment"), segments, Object.keys(segments).map((k) => k || NONE));
  fillChoices($("#f-group"), groups, Object.keys(groups).map((k) => k || NONE));
  const tierSelect = $("#f-tier"), current = tierSelect.value;
  tierSelect.replaceChildren(el("option", { value: "" }, "all"), ...[...tiers].map((t) => el("option", {}, t)));
  tierSelect.value = tiers.has(current) ? current : "";
}

function drawDistribution(type, d, f) {
  const fig = document.querySelector(`figure.dist[data-type="${type}"]`);
  fig.hidden = Boolean(f.type && f.type !== type);
  const total = fig.querySelector(".total");
  total.textContent = `${d.total.toLocaleString()} entities`;
  total.dataset.total = d.total;
  const canvas = fig.querySelector("canvas");
  canvas.dataset.count = d.total;
  const names = d.tiers.map((t) => t.tier);
  const data = { labels: names, datasets: [{ label: type, data: d.tiers.map((t) => t.count),
    backgroundColor: colors(names, f.tier), borderWidth: 0 }] };
  if (charts[type]) {
    charts[type].data = data;
    charts[type].update();
    return;
  }
  charts[type] = new Chart(canvas, { type: "bar", data, options: {
    animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
    scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
}

let refreshPending = false;
function refreshSoon() { // at most one distribution read a second, however fast changes come
  if (refreshPending) return;
  refreshPending = true;
  setTimeout(() => { refreshPending = false; refreshDistribution(); }, 1000);
}

// --- live feed ---------------------------------------------------------------

function entityLink(type, id) {
  return el("a", { href: `#/entity/${type}/${encodeURIComponent(id)}` }, id);
}

function feedItem(kind, doc) {
  const type = doc.entity_type || "supplier";
  const id = doc.entity_id || doc.supplier_id;
  const when = (doc.occurred_at || "").replace("T", " ").slice(0, 16);
  let text, cls;
  if (kind === "change") {
    cls = `change ${doc.direction}`;
    text = [` ${doc.previous_tier || "–"} → `, el("b", {}, doc.tier), ` score ${doc.score.toFixed(1)}`,
            el("span", { class: "why" }, doc.reasons[0] || "")];
  } else if (kind === "alert") {
    cls = `alert ${doc.severity}`;
    text = [` ${doc.severity} alert: ${doc.previous_tier || "–"} → `, el("b", {}, doc.tier),
            el("span", { class: "why" }, doc.reasons[0] || "")];
  } else {
    cls = `notice ${doc.kind}`;
    text = [` notice ${doc.kind.replaceAll("_", " ")} (${doc.tier}${doc.target_tier ? " → " + doc.target_tier : ""})`,
            el("span", { class: "why" }, (doc.reasons || doc.hints || [])[0] || "")];
  }
  const li = el("li", { class: cls }, el("time", {}, when), ` ${type} `, entityLink(type, id), ...text);
  Object.assign(li.dataset, { type, id, tier: doc.tier, previous: doc.previous_tier || "",
                              segment: doc.segment || "", group: doc.group || "" });
  return li;
}

function visible(li, f) {
  const d = li.dataset;
  return (!f.type || d.type === f.type) && (!f.tier || d.tier === f.tier || d.previous === f.tier)
    && (!f.segment || d.segment === (f.segment === NONE ? "" : f.segment))
    && (!f.group || d.group === (f.group === NONE ? "" : f.group));
}

function addToFeed(kind, data) {
  const li = feedItem(kind, JSON.parse(data));
  li.hidden = !visible(li, filters());
  const feed = $("#feed");
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  if (kind === "change") refreshSoon();
}

function connect() {
  const source = new EventSource("/live");
  const status = $("#status");
  source.onopen = () => { status.textContent = "live"; status.className = "status up"; };
  source.onerror = () => { status.textContent = "reconnecting"; status.className = "status down"; };
  for (const kind of ["change", "alert", "notice"]) source.addEventListener(kind, (e) => addToFeed(kind, e.data));
  source.addEventListener("status", (e) => {
    const up = JSON.parse(e.data).redis === "up";
    status.textContent = up ? "live" : "Redis unavailable";
    status.className = `status ${up ? "up" : "down"}`;
  });
}

// --- entity page -------------------------------------------------------------

async function showEntity(type, id) {
  $("#overview").hidden = true;
  $("#entity").hidden = false;
  $("#e-title").textContent = `${type} ${id}`;
  $("#s-type").value = type;
  const base = `/tiers/${type}/${encodeURIComponent(id)}`;
  const [current, history] = await Promise.all([fetch(base), fetch(`${base}/history?limit=100`)]);
  const missing = $("#e-missing");
  missing.hidden = current.ok;
  if (!current.ok) {
    missing.textContent = (await current.json()).error;
    for (const sel of ["#e-tier", "#e-score"]) $(sel).textContent = "";
    for (const sel of ["#e-reasons", "#e-next", "#e-actions", "#e-history"]) $(sel).replaceChildren();
    drawEntityCharts({}, []);
    return;
  }
  const doc = await current.json();
  const changes = history.ok ? (await history.json()).changes : [];
  $("#e-tier").textContent = doc.tier;
  $("#e-tier").dataset.tier = doc.tier;
  $("#e-score").textContent = `score ${doc.score.toFixed(1)}` + (doc.ungraded_reason ? ` — ${doc.ungraded_reason}` : "")
    + ` · rules ${doc.rules_version} · since ${doc.occurred_at.slice(0, 10)}`;
  $("#e-reasons").replaceChildren(...doc.reasons.map((r) => el("li", {}, r)));
  $("#e-actions").replaceChildren(...(doc.actions.length ? doc.actions.map((a) => el("li", {}, a.label || a.name))
    : [el("li", { class: "muted" }, "nothing")]));
  $("#e-next").replaceChildren(...nextTier(doc.next_tier));
  $("#e-history").replaceChildren(...changes.map((c) => el("li", { class: c.direction },
    el("time", {}, c.occurred_at.replace("T", " ").slice(0, 16)), " ", c.previous_tier || "–", " → ",
    el("b", {}, c.tier), ` score ${c.score.toFixed(1)}`, el("span", { class: "why" }, c.reasons[0] || ""))));
  if (!labels[type]) await refreshDistribution();
  drawEntityCharts(doc.components, changes, labels[type] || {});
}

function nextTier(next) {
  if (!next) return [el("p", { class: "muted" }, "already in the best tier")];
  const out = [el("p", {}, `${next.tier}: `, el("b", {}, `${next.score_gap.toFixed(1)} points`), " to go")];
  if (next.hints.length) out.push(el("ul", {}, ...next.hints.map((h) => el("li", {}, h))));
  if (next.keep_hints && next.keep_hints.length) {
    out.push(el("p", {}, "to keep this tier:"), el("ul", {}, ...next.keep_hints.map((h) => el("li", {}, h))));
  }
  return out;
}

function drawEntityCharts(components, changes, names) {
  const dims = Object.keys(components);
  const bars = { labels: dims.map((d) => (names || {})[d] || d),
                 datasets: [{ data: dims.map((d) => components[d]), backgroundColor: "#4e79a7" }] };
  const past = [...changes].reverse();
  const line = { labels: past.map((c) => c.occurred_at.slice(0, 10)),
                 datasets: [{ data: past.map((c) => c.score), stepped: true, borderColor: "#4e79a7",
                              pointBackgroundColor: "#4e79a7" }] };
  for (const [key, data, options] of [
    ["components", bars, { indexAxis: "y", scales: { x: { min: 0, max: 100 } } }],
    ["scores", line, { scales: { y: { min: 0, max: 100, title: { display: true, text: "score" } } } }]]) {
    charts[key]?.destroy();
    charts[key] = new Chart($(`#e-${key}`), { type: key === "scores" ? "line" : "bar", data,
      options: { ...options, animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } } });
  }
}

// --- routing -----------------------------------------------------------------

function route() {
  const m = location.hash.match(/^#\/entity\/(customer|supplier)\/(.+)$/);
  if (m) return showEntity(m[1], decodeURIComponent(m[2]));
  $("#entity").hidden = true;
  $("#overview").hidden = false;
  return refreshDistribution();
}

function applyFilters() {
  refreshDistribution();
  const f = filters();
  for (const li of $("#feed").children) li.hidden = !visible(li, f);
}

$("#filters").addEventListener("change", applyFilters);
$("#search").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = $("#s-id").value.trim();
  if (id) location.hash = `#/entity/${$("#s-type").value}/${encodeURIComponent(id)}`;
});
window.addEventListener("hashchange", route);
route();
connect();
