// console.js - the console's page: reads the service's JSON APIs and draws them as plain SVG.
// Read-only: only GET requests, to this origin. Every number is written with textContent.
"use strict";

const REFRESH_MS = 5000;
const HISTORY = 60; // readings kept for the sparklines (5 minutes at 5 s)
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  model: null,        // /v1/models entry of the served model
  lastMetrics: null,  // the previous /console/metrics.json, for rates
  rateHistory: [],
  rmseHistory: [],
  feature: null,      // the input whose bins are shown
  featuresListed: false,
};

function $(id) { return document.getElementById(id); }

function text(id, value) { $(id).textContent = value; }

// Fixed decimals; "—" for what is not a number (no data yet).
function fmt(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "—";
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const why = body && body.error ? body.error.message || body.error.code || body.error : r.statusText;
    throw new Error(`${path}: ${r.status} ${why}`);
  }
  return body;
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function showError(cardId, err) {
  const card = $(cardId);
  let p = card.querySelector("p.error");
  if (!err) { if (p) p.remove(); return; }
  if (!p) { p = document.createElement("p"); p.className = "error"; card.appendChild(p); }
  p.textContent = String(err.message || err);
}

// ---- model card --------------------------------------------------------------------------

function renderModel(m) {
  text("model-title", `${m.name} ${m.version}`);
  text("model-name", m.name);
  text("model-version", m.version);
  text("model-backend", m.backend || "—");
  text("model-trained-on", (m.trained_on || []).join(", ") || "—");
  text("model-rul-cap", m.rul_cap !== undefined ? String(m.rul_cap) : "—");
  text("model-loaded-at", m.loaded_at || "—");
  const tbody = $("model-eval").querySelector("tbody");
  clear(tbody);
  const ev = m.evaluation || {};
  const tests = Array.isArray(ev.test) ? ev.test : [];
  if (tests.length === 0) {
    const tr = tbody.insertRow();
    tr.insertCell().textContent = "the bundle has no evaluation";
  } else {
    const cols = ["subset", "units", "rmse_capped", "mae_capped", "nasa_score",
      "rmse_uncapped", "nasa_score_uncapped"].filter((c) => tests.some((t) => c in t));
    const head = tbody.insertRow();
    for (const c of cols) {
      const th = document.createElement("th");
      th.textContent = c.replace(/_/g, " ");
      head.appendChild(th);
    }
    for (const t of tests) {
      const tr = tbody.insertRow();
      tr.dataset.subset = t.subset;
      for (const c of cols) {
        const td = tr.insertCell();
        td.dataset.field = c;
        const v = t[c];
        td.textContent = typeof v === "number" && !Number.isInteger(v) ? fmt(v, 2) : String(v ?? "—");
      }
    }
  }
  const tr = ev.training;
  text("model-training", tr && typeof tr.cv_rmse === "number"
    ? `cross-validated RMSE ${fmt(tr.cv_rmse, 2)} over ${tr.folds} folds, ${tr.rows} training rows`
    : "");
}

// ---- traffic -------------------------------------------------------------------------------

function family(metrics, name) {
  return metrics.families.find((f) => f.name === name);
}

// Sum of a family's samples (counters, gauges) or of its histograms' sums, counts, buckets.
function total(metrics, name) {
  const f = family(metrics, name);
  if (!f) return null;
  return f.samples.reduce((a, s) => a + (s.value || 0), 0);
}

function histogram(metrics, name) {
  const f = family(metrics, name);
  if (!f || f.samples.length === 0) return null;
  const h = { bounds: f.bounds, buckets: f.bounds.map(() => 0).concat([0]), sum: 0, count: 0 };
  for (const s of f.samples) {
    s.buckets.forEach((b, i) => { h.buckets[i] += b; });
    h.sum += s.sum || 0;
    h.count += s.count;
  }
  return h;
}

// As Prometheus' histogram_quantile: linear inside the bucket the quantile falls in.
function quantile(q, bounds, buckets) {
  const n = buckets[buckets.length - 1];
  if (!(n > 0)) return NaN;
  const rank = q * n;
  let i = buckets.findIndex((c) => c >= rank);
  if (i >= bounds.length) return bounds[bounds.length - 1];
  const lo = i === 0 ? 0 : bounds[i - 1];
  const below = i === 0 ? 0 : buckets[i - 1];
  const inBucket = buckets[i] - below;
  return inBucket > 0 ? lo + (bounds[i] - lo) * ((rank - below) / inBucket) : bounds[i];
}

function sparkline(el, values, label) {
  clear(el);
  const w = 300, h = 60, pad = 4;
  svg("line", { class: "axis", x1: 0, y1: h - pad, x2: w, y2: h - pad }, el);
  const pts = values.filter((v) => isFinite(v));
  if (pts.length === 0) {
    svg("text", { x: 4, y: 14 }, el).textContent = "collecting readings…";
    return;
  }
  const max = Math.max(...pts) || 1;
  const step = (w - 2 * pad) / (HISTORY - 1);
  const x0 = w - pad - step * (values.length - 1);
  // one reading is a level, drawn across one step
  if (values.length === 1) values = [values[0], values[0]];
  const d = values.map((v, i) => `${i ? "L" : "M"}${(x0 + i * step).toFixed(1)},` +
    `${(h - pad - (isFinite(v) ? v : 0) / max * (h - 2 * pad - 10)).toFixed(1)}`).join(" ");
  svg("path", { class: "line", d, "data-points": pts.length }, el);
  svg("text", { x: 4, y: 10 }, el).textContent = `max ${fmt(max, 2)} ${label}`;
}

function renderTraffic(m) {
  const prev = state.lastMetrics;
  const preds = total(m, "predictions_total");
  const reqs = total(m, "prediction_requests_total");
  const errs = total(m, "prediction_errors_total");
  text("traffic-total", preds === null ? "no model plugin" : String(preds));
  text("traffic-requests-total", reqs === null ? "—" : String(reqs));
  text("traffic-errors-total", errs === null ? "—" : String(errs));
  const h = histogram(m, "prediction_latency_seconds");
  if (prev && m.time > prev.time) {
    const dt = m.time - prev.time;
    const rate = (preds - total(prev, "predictions_total")) / dt;
    text("traffic-rate", fmt(rate, 1));
    text("traffic-requests", fmt((reqs - total(prev, "prediction_requests_total")) / dt, 1));
    const hp = histogram(prev, "prediction_latency_seconds");
    if (h && hp) {
      const delta = h.buckets.map((b, i) => b - hp.buckets[i]);
      text("traffic-p50", fmt(quantile(0.5, h.bounds, delta) * 1000, 2));
      text("traffic-p99", fmt(quantile(0.99, h.bounds, delta) * 1000, 2));
    }
    state.rateHistory.push(rate);
    if (state.rateHistory.length > HISTORY) state.rateHistory.shift();
  }
  sparkline($("traffic-chart"), state.rateHistory, "engines/s");
  state.lastMetrics = m;
}

// ---- drift ---------------------------------------------------------------------------------

// PSI bars on a scale that keeps the thresholds readable: a PSI far past "drift" (a new
// operating regime gives 10 and more) is clipped at the top and labelled with its value.
function renderPSI(d) {
  const el = $("psi-chart");
  clear(el);
  const w = 720, h = 220, left = 36, bottom = 40, top = 14;
  const feats = d.features;
  const psis = feats.map((f) => (typeof f.psi === "number" ? f.psi : 0));
  const ymax = Math.max(d.thresholds.drift * 1.6, Math.min(1, Math.max(...psis)));
  const y = (v) => top + (h - top - bottom) * (1 - Math.min(v, ymax) / ymax);
  const bw = (w - left) / feats.length;
  svg("line", { class: "axis", x1: left, y1: y(0), x2: w, y2: y(0) }, el);
  for (const v of [0, d.thresholds.warn, d.thresholds.drift, ymax]) {
    svg("text", { x: 2, y: y(v) + 3 }, el).textContent = fmt(v, 2);
  }
  for (const [name, v] of [["warn", d.thresholds.warn], ["drift", d.thresholds.drift]]) {
    svg("line", { class: `threshold ${name}`, x1: left, y1: y(v), x2: w, y2: y(v) }, el);
  }
  feats.forEach((f, i) => {
    const v = typeof f.psi === "number" ? f.psi : 0;
    const x = left + i * bw + 2;
    const bar = svg("rect", {
      class: `bar ${f.status}${f.name === state.feature ? " selected" : ""}`,
      x: x.toFixed(1), y: y(v).toFixed(1), width: (bw - 4).toFixed(1),
      height: Math.max(0, y(0) - y(v)).toFixed(1),
      "data-feature": f.name, "data-psi": f.psi === null ? "" : f.psi, "data-status": f.status,
    }, el);
    svg("title", {}, bar).textContent = `${f.name}: PSI ${fmt(f.psi, 4)} (${f.status})`;
    bar.addEventListener("click", () => { selectFeature(f.name); });
    if (v > ymax) {
      svg("text", { x: (x + (bw - 4) / 2).toFixed(1), y: top - 3, "text-anchor": "middle",
        class: "clipped" }, el).textContent = fmt(v, 1);
    }
    const t = svg("text", { x: (x + bw / 2 - 2).toFixed(1), y: h - bottom + 12, "text-anchor": "end",
      transform: `rotate(-45 ${(x + bw / 2 - 2).toFixed(1)} ${h - bottom + 12})` }, el);
    t.textContent = f.name;
  });
}

function renderBins(fb) {
  const el = $("bins-chart");
  clear(el);
  if (!fb) return;
  const w = 720, h = 200, left = 60, bottom = 48, top = 10;
  const vals = fb.bins.flatMap((b) => [b.reference, b.current ?? 0]);
  const ymax = Math.max(0.05, ...vals);
  const y = (v) => top + (h - top - bottom) * (1 - v / ymax);
  const gw = (w - left) / fb.bins.length;
  svg("line", { class: "axis", x1: left, y1: y(0), x2: w, y2: y(0) }, el);
  for (const v of [0, ymax / 2, ymax]) svg("text", { x: 2, y: y(v) + 3 }, el).textContent = fmt(v, 2);
  fb.bins.forEach((b, i) => {
    const x = left + i * gw;
    const bw = Math.max(1, gw / 2 - 2);
    for (const [cls, v, dx] of [["reference", b.reference, 1], ["current", b.current, gw / 2]]) {
      if (typeof v !== "number") continue;
      const r = svg("rect", { class: `bar ${cls}`, x: (x + dx).toFixed(1), y: y(v).toFixed(1),
        width: bw.toFixed(1), height: Math.max(0, y(0) - y(v)).toFixed(1),
        "data-bin": b.le, "data-proportion": v }, el);
      svg("title", {}, r).textContent = `≤ ${b.le}: ${cls} ${fmt(v * 100, 1)} %`;
    }
    const lx = (x + gw / 2).toFixed(1), ly = h - bottom + 10;
    svg("text", { x: lx, y: ly, "text-anchor": "end", transform: `rotate(-30 ${lx} ${ly})` }, el)
      .textContent = b.le === "+Inf" ? "> last" : `≤ ${Number(b.le).toPrecision(4)}`;
  });
  svg("text", { x: left + 4, y: top + 8 }, el).textContent =
    `${fb.name}: ${fb.observations} observations in the current window`;
}

function renderDrift(d) {
  const win = d.window;
  text("drift-window", `#${win.index} “${win.label}” since ${win.start}`);
  text("drift-observations", String(d.observations));
  const st = $("drift-status");
  st.textContent = d.status;
  st.className = `status-${d.status}`;
  text("drift-psi-max", d.psi_max === null ? "—" : `${fmt(d.psi_max, 3)} (${d.max_feature})`);
  text("th-warn", String(d.thresholds.warn));
  text("th-drift", String(d.thresholds.drift));
  if (!state.featuresListed) {
    const sel = $("feature-select");
    for (const f of d.features) {
      const o = document.createElement("option");
      o.value = f.name; o.textContent = f.name;
      sel.appendChild(o);
    }
    sel.value = state.feature;
    sel.addEventListener("change", () => selectFeature(sel.value));
    state.featuresListed = true;
  }
  renderPSI(d);
  renderBins(d.feature_bins);
}

async function refreshDrift() {
  try {
    if (!state.feature) {
      const d0 = await getJSON("/v1/drift");
      state.feature = d0.max_feature || d0.features[0].name;
    }
    renderDrift(await getJSON(`/v1/drift?feature=${encodeURIComponent(state.feature)}`));
    showError("card-drift", null);
  } catch (e) { showError("card-drift", e); }
}

function selectFeature(name) {
  state.feature = name;
  $("feature-select").value = name;
  refreshDrift();
}

// ---- accuracy ------------------------------------------------------------------------------

function renderAccuracy(s) {
  const w = s.window || {}, a = s.all_time || {};
  text("acc-window-count", String(w.count ?? 0));
  text("acc-window-rmse", fmt(w.rmse, 2));
  text("acc-window-mae", fmt(w.mae, 2));
  text("acc-window-nasa", fmt(w.nasa_score, 1));
  text("acc-all-count", String(a.count ?? 0));
  text("acc-all-rmse", fmt(a.rmse, 2));
  text("acc-all-mae", fmt(a.mae, 2));
  text("acc-all-nasa", fmt(a.nasa_score, 1));
  // the trend: the recent window against all time, in cycles of RMSE
  const d = typeof w.rmse === "number" && typeof a.rmse === "number" && a.count > w.count
    ? w.rmse - a.rmse : null;
  text("acc-trend", d === null ? "" : `recent window ${d >= 0 ? "+" : "−"}${fmt(Math.abs(d), 2)} cycles RMSE against all time (${d > 0 ? "worse" : d < 0 ? "better" : "the same"})`);
  $("acc-trend").className = d > 0 ? "note status-drift" : "note";
  const models = Object.keys(s.models || {});
  text("acc-source", models.length ? `all models: ${models.join(", ")}` : "no ground truth yet");
  if (w.count > 0) {
    state.rmseHistory.push(w.rmse);
    if (state.rmseHistory.length > HISTORY) state.rmseHistory.shift();
  }
  sparkline($("acc-chart"), state.rmseHistory, "cycles RMSE");
}

// ---- fleet ---------------------------------------------------------------------------------

// GET /v1/engines: {"tracked", "matching", "engines": [{"unit", "cycle", "rul", "window",
// "last_seen"}], "next"}, sorted by predicted RUL, the closest to the end of life first.
function renderFleet(list) {
  const tbody = $("fleet-table").querySelector("tbody");
  clear(tbody);
  $("fleet-table").hidden = false;
  const engines = (list && list.engines) || [];
  const tracked = list && typeof list.tracked === "number" ? list.tracked : engines.length;
  text("fleet-status", engines.length
    ? `${tracked} engines tracked; the ${Math.min(10, engines.length)} closest to the end of their life:`
    : `${tracked} engines tracked`);
  for (const e of engines.slice(0, 10)) {
    const tr = tbody.insertRow();
    tr.dataset.unit = String(e.unit);
    tr.insertCell().textContent = String(e.unit);
    tr.insertCell().textContent = String(e.cycle ?? "—");
    tr.insertCell().textContent = fmt(e.rul, 1);
    tr.insertCell().textContent = e.last_seen || "—";
  }
}

// ---- the loop ------------------------------------------------------------------------------

async function refresh() {
  let m = null;
  try {
    m = await getJSON("/console/metrics.json");
    renderTraffic(m);
    showError("card-traffic", null);
  } catch (e) { showError("card-traffic", e); }
  await refreshDrift();
  if (m && m.feedback) {
    try {
      renderAccuracy(await getJSON("/console/feedback/stats"));
      showError("card-accuracy", null);
    } catch (e) { showError("card-accuracy", e); }
  } else if (m) {
    text("acc-source", "no feedback service configured (console setting feedback_url)");
  }
  // Fleet mode is on when the service has its families: no request that would 404.
  if (m && family(m, "fleet_engines")) {
    try {
      renderFleet(await getJSON("/v1/engines?limit=10"));
      showError("card-fleet", null);
    } catch (e) {
      // the families outlive a reload that turned fleet mode off
      if (/: 404 /.test(e.message)) {
        text("fleet-status", "fleet mode off");
        $("fleet-table").hidden = true;
        showError("card-fleet", null);
      } else {
        showError("card-fleet", e);
      }
    }
  } else if (m) {
    text("fleet-status", "fleet mode off");
    $("fleet-table").hidden = true;
  }
  text("updated", `updated ${new Date().toLocaleTimeString()}`);
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

async function start() {
  try {
    const models = await getJSON("/v1/models");
    state.model = models.models[0];
    renderModel(state.model);
  } catch (e) { showError("card-model", e); }
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
