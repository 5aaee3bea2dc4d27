// console.test.mjs - the console against a live daemon with traffic: the page shows the same
// numbers as /v1/models, /v1/drift, /v1/feedback/stats and /metrics, draws every chart, asks
// only its own origin, only with GET, and logs no error. Run by test_console_browser.sh.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, failed, launch, watch } from "./browser.mjs";

const predict = process.env.PREDICT_URL;
const feedback = process.env.FEEDBACK_URL;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const fmt = (x, d) => (typeof x === "number" && isFinite(x) ? x.toFixed(d) : "—");
async function api(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}
async function metric(series) {
  const text = await (await fetch(predict + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

const browser = await launch();
try {
  const page = await browser.context.newPage();
  const seen = watch(page, predict);
  await page.goto(predict + "/");
  // two readings: rates need a previous one
  await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 2,
    null, { timeout: 20000 });
  const txt = (sel) => page.locator(sel).first().textContent().then((s) => s.trim());

  // ---- the model card: GET /v1/models
  const model = (await api(predict + "/v1/models")).models[0];
  check(await txt("#model-name") === model.name, `model name ${model.name}`);
  check(await txt("#model-version") === model.version, `model version ${model.version}`);
  check(await txt("#model-backend") === model.backend, `backend ${model.backend}`);
  check(await txt("#model-trained-on") === model.trained_on.join(", "), "trained on");
  check(await txt("#model-rul-cap") === String(model.rul_cap), "RUL cap");
  for (const t of model.evaluation?.test || []) {
    for (const field of ["rmse_capped", "mae_capped", "nasa_score"]) {
      if (!(field in t)) continue;
      const shown = await txt(`#model-eval tr[data-subset="${t.subset}"] td[data-field="${field}"]`);
      check(shown === fmt(t[field], 2), `evaluation ${t.subset} ${field}: ${shown} = ${fmt(t[field], 2)}`);
    }
  }

  // ---- traffic: the registry's counters, as /metrics has them (no traffic flows now)
  const preds = await metric(`predictions_total{model="${model.name}"}`);
  check(await txt("#traffic-total") === String(preds), `engines predicted ${preds}`);
  check(/^\d+\.\d$/.test(await txt("#traffic-rate")), "a rate of engines/s is shown");
  check(await page.locator("#traffic-chart path.line").count() === 1, "the traffic chart has a line");

  // ---- drift: GET /v1/drift?feature= of the feature the page shows
  const feature = await page.locator("#feature-select").inputValue();
  const drift = await api(`${predict}/v1/drift?feature=${feature}`);
  check(await txt("#drift-observations") === String(drift.observations), `drift observations ${drift.observations}`);
  check(await txt("#drift-status") === drift.status, `drift status ${drift.status}`);
  check((await txt("#drift-window")).includes(drift.window.label), `window label ${drift.window.label}`);
  check(await txt("#drift-psi-max") === `${fmt(drift.psi_max, 3)} (${drift.max_feature})`, "largest PSI");
  const bars = await page.locator("#psi-chart rect.bar").evaluateAll((els) =>
    els.map((e) => ({ f: e.dataset.feature, psi: e.dataset.psi, cls: e.getAttribute("class"),
      h: Number(e.getAttribute("height")) })));
  check(bars.length === drift.features.length, `${bars.length} PSI bars for ${drift.features.length} inputs`);
  for (const f of drift.features) {
    const b = bars.find((x) => x.f === f.name);
    check(b && Math.abs(Number(b.psi) - f.psi) < 1e-9 && b.cls.split(" ").includes(f.status),
      `PSI bar ${f.name}: ${b?.psi} ${b?.cls} = ${f.psi} ${f.status}`);
  }
  check(drift.features.some((f) => f.status === "drift"), "the FD004 window drifts (traffic did its job)");
  check(bars.some((b) => b.h > 0), "PSI bars have height");
  const bins = drift.feature_bins.bins;
  const ref = await page.locator("#bins-chart rect.bar.reference").evaluateAll((els) =>
    els.map((e) => Number(e.dataset.proportion)));
  const cur = await page.locator("#bins-chart rect.bar.current").evaluateAll((els) =>
    els.map((e) => Number(e.dataset.proportion)));
  check(ref.length === bins.length && bins.every((b, i) => Math.abs(ref[i] - b.reference) < 1e-12),
    `${feature}: reference proportions of ${bins.length} bins`);
  check(cur.length === bins.length && bins.every((b, i) => Math.abs(cur[i] - b.current) < 1e-9),
    `${feature}: current proportions of ${bins.length} bins`);

  // another feature chosen: its bins
  const other = drift.features.find((f) => f.name !== feature && f.status !== "insufficient_data").name;
  await page.locator("#feature-select").selectOption(other);
  const otherBins = (await api(`${predict}/v1/drift?feature=${other}`)).feature_bins.bins;
  await page.waitForFunction((n) => document.querySelectorAll("#bins-chart rect.bar.reference").length === n
    && document.querySelector("#bins-chart text:last-of-type").textContent.length > 0, otherBins.length);
  const ref2 = await page.locator("#bins-chart rect.bar.reference").evaluateAll((els) =>
    els.map((e) => Number(e.dataset.proportion)));
  check(otherBins.every((b, i) => Math.abs(ref2[i] - b.reference) < 1e-12), `choosing ${other} shows its bins`);
  await page.locator("#feature-select").selectOption(feature);

  // ---- accuracy: the feedback service's own GET /v1/feedback/stats
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 3, null, { timeout: 20000 });
  const stats = await api(feedback + "/v1/feedback/stats");
  for (const [id, v, d] of [["acc-window-count", stats.window.count, -1], ["acc-window-rmse", stats.window.rmse, 2],
    ["acc-window-mae", stats.window.mae, 2], ["acc-window-nasa", stats.window.nasa_score, 1],
    ["acc-all-count", stats.all_time.count, -1], ["acc-all-rmse", stats.all_time.rmse, 2],
    ["acc-all-mae", stats.all_time.mae, 2], ["acc-all-nasa", stats.all_time.nasa_score, 1]]) {
    const want = d < 0 ? String(v) : fmt(v, d);
    check(await txt("#" + id) === want, `${id}: ${want}`);
  }
  check(stats.all_time.count > 0, `ground truth was scored (${stats.all_time.count} records)`);
  check(await page.locator("#acc-chart path.line").count() === 1, "the accuracy chart has a line");

  // ---- fleet: GET /v1/engines when the service has fleet mode
  const engines = await fetch(predict + "/v1/engines");
  if (engines.status === 404) {
    check(await txt("#fleet-status") === "fleet mode off", "fleet mode off");
  } else {
    const list = await engines.json();
    check((await txt("#fleet-status")).startsWith(`${list.tracked} engines tracked`), `${list.tracked} engines tracked`);
    const units = await page.locator("#fleet-table tbody tr").evaluateAll((els) => els.map((e) => e.dataset.unit));
    check(units.join() === list.engines.slice(0, 10).map((e) => String(e.unit)).join(),
      `the engines closest to the end of life, in order: ${units.join(", ")}`);
  }

  await page.screenshot({ path: join(artifacts, "console.png"), fullPage: true });

  // ---- live: predictions flowing while the page refreshes show as a rate and a latency
  const mean = [0, 0, 100, 518.67, 642.68, 1590.5, 1408.9, 14.62, 21.61, 553.37, 2388.1, 9065.2,
    1.3, 47.54, 521.41, 2388.1, 8143.8, 8.44, 0.03, 393.2, 2388.0, 100.0, 38.82, 23.29];
  const engine = (unit) => JSON.stringify({ instances: Array.from({ length: 10 }, (_, k) => ({
    unit: unit * 10 + k, cycles: Array.from({ length: 30 }, (_, c) => ({ cycle: c + 1,
      settings: mean.slice(0, 3), sensors: mean.slice(3).map((m) => m * (1 + 0.001 * Math.sin(c + k))) })) })) });
  const before = Number(await page.evaluate(() => document.body.dataset.refreshes));
  let sent = 0, stop = false;
  const flow = (async () => {
    while (!stop) {
      const r = await fetch(predict + "/v1/predict", { method: "POST", body: engine(9000 + sent),
        headers: { "Content-Type": "application/json" } });
      await r.arrayBuffer();
      sent++;
      await new Promise((ok) => setTimeout(ok, 20));
    }
  })();
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes) >= n + 2, before, { timeout: 20000 });
  stop = true;
  await flow;
  const rate = Number(await txt("#traffic-rate"));
  const p50 = Number(await txt("#traffic-p50"));
  check(rate > 0, `with ${sent} requests flowing the page shows ${rate} engines/s`);
  check(p50 > 0, `and a p50 latency of ${p50} ms`);
  check(await page.locator("#traffic-chart path.line").getAttribute("data-points").then(Number) >= 2,
    "the traffic chart has the readings since the page opened");
  await page.screenshot({ path: join(artifacts, "console-live.png"), fullPage: true });
  check(seen.requests.every((r) => r.startsWith("GET ")), `only GET requests (${seen.requests.length})`);
  check(!seen.requests.some((r) => /\/-\/|\/v1\/drift\/window/.test(r)), "no admin endpoint asked");
  check(seen.problems.length === 0, `no console error, failed request or foreign request: ${JSON.stringify(seen.problems)}`);
} finally {
  await browser.close();
}
console.log(`console.test: ${failed()} failure(s)`);
process.exit(failed() ? 1 : 0);
