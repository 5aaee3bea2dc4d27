// report.test.mjs - rulsrv-replay --report in the browser: every chart drawn with data, the
// table's figures those of the run's own table on stdout, no error. Run by
// test_console_browser.sh with REPORT (the page) and TABLE (the replay's stdout).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { check, failed, launch, watch } from "./browser.mjs";

const report = process.env.REPORT;
const artifacts = process.env.ARTIFACTS;
// quarter rows of the printed table: Q1 FD001 engines requests errors req/s RMSE ...
const rows = readFileSync(process.env.TABLE, "utf8").split("\n").filter((l) => /^Q\d+\s/.test(l))
  .map((l) => l.trim().split(/\s+/));

const browser = await launch();
try {
  const page = await browser.context.newPage();
  const seen = watch(page, null);
  await page.goto(pathToFileURL(report).href);
  const quarters = await page.locator("#quarters tbody tr").count();
  check(quarters === rows.length && quarters > 0, `${quarters} quarters in the report, ${rows.length} in the run's table`);
  for (const r of rows) {
    const n = r[0].slice(1);
    const shown = (await page.locator(`#quarters tr[data-quarter="${n}"] td.rmse`).textContent()).trim();
    check(shown === r[6], `Q${n} RMSE ${shown} = ${r[6]} printed by the run`);
  }
  // the heatmap: one cell per feature and quarter, each with its PSI
  const cells = await page.locator("#heatmap rect.cell").evaluateAll((els) =>
    els.map((e) => ({ psi: e.dataset.psi, cls: e.getAttribute("class") })));
  const features = await page.locator("#heatmap svg > text[text-anchor=end]").count();
  check(features >= 20 && cells.length === features * quarters, `heatmap: ${cells.length} cells = ${features} features × ${quarters} quarters`);
  check(cells.filter((c) => /\d/.test(c.psi)).length >= cells.length / 2, "heatmap cells carry a PSI");
  check(cells.some((c) => c.cls.includes("drift")), "a drifted quarter shows red cells");
  // RMSE bars, capped and uncapped, per quarter, their values those of the table
  const bars = await page.locator("#rmse rect.bar").evaluateAll((els) =>
    els.map((e) => ({ q: e.dataset.quarter, v: Number(e.dataset.rmse), cls: e.getAttribute("class"), h: Number(e.getAttribute("height")) })));
  check(bars.length === 2 * quarters && bars.every((b) => b.h > 0), `${bars.length} RMSE bars with height`);
  for (const r of rows) {
    const b = bars.find((x) => x.q === r[0].slice(1) && x.cls.includes("capped"));
    check(b && b.v.toFixed(2) === r[6], `Q${r[0].slice(1)} RMSE bar ${b?.v} = ${r[6]}`);
  }
  // predicted against true RUL: one chart per quarter, each with points
  const scatters = await page.locator("#scatter svg.scatter").evaluateAll((els) =>
    els.map((e) => e.querySelectorAll("circle.point").length));
  check(scatters.length === quarters && scatters.every((n) => n > 0), `scatter points per quarter: ${scatters.join(", ")}`);
  // every chart is visible: laid out with a size
  for (const sel of ["#heatmap svg", "#rmse svg", "#scatter svg.scatter"]) {
    const box = await page.locator(sel).first().boundingBox();
    check(box && box.width > 100 && box.height > 100, `${sel} is drawn (${box?.width}×${box?.height})`);
  }
  await page.screenshot({ path: join(artifacts, "report.png"), fullPage: true });
  check(seen.requests.every((r) => r.startsWith("GET file:") || r.startsWith("GET data:")), `nothing fetched but the file: ${JSON.stringify(seen.requests)}`);
  check(seen.problems.length === 0, `no console error: ${JSON.stringify(seen.problems)}`);
} finally {
  await browser.close();
}
console.log(`report.test: ${failed()} failure(s)`);
process.exit(failed() ? 1 : 0);
