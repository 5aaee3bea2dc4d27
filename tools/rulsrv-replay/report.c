/* SPDX-License-Identifier: MIT */
/* report.c - the HTML report of a replay: a table and four kinds of inline SVG chart. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The drift plugin's default thresholds, used when a quarter's readout has none. */
#define REPORT_WARN 0.1
#define REPORT_DRIFT 0.25

static void
html(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void
number(FILE *f, int decimals, double v)
{
	if (isfinite(v))
		fprintf(f, "%.*f", decimals, v);
	else
		fputs("–", f);
}

static const char *
psi_status(const struct quarter_stats *s, double psi)
{
	double warn = s->drift_valid && isfinite(s->drift.warn) ? s->drift.warn : REPORT_WARN;
	double drift = s->drift_valid && isfinite(s->drift.drift) ? s->drift.drift : REPORT_DRIFT;

	if (!isfinite(psi))
		return "none";
	return psi >= drift ? "drift" : psi >= warn ? "warn" : "ok";
}

static const char report_style[] =
	"body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#212121;background:#f5f5f5}"
	"header{padding:12px 20px;background:#263238;color:#fff}header h1{margin:0;font-size:20px}"
	"header p{margin:2px 0 0;color:#b0bec5;font-size:12px}"
	"section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:12px;"
	"padding:12px 16px}h2{margin:0 0 8px;font-size:16px}"
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
	"th,td{border-bottom:1px solid #e0e0e0;padding:3px 8px;text-align:right}"
	"th:first-child,td:first-child{text-align:left}"
	".note{color:#616161;font-size:12px}svg{display:block;max-width:100%;height:auto}"
	"svg text{font-size:10px;fill:#616161}svg text.v{fill:#fff}svg .none+text.v{fill:#616161}.axis{stroke:#bdbdbd}"
	".ok{fill:#2e7d32}.warn{fill:#f9a825}.drift{fill:#c62828}.none{fill:#e0e0e0}"
	".capped{fill:#1565c0}.raw{fill:#90a4ae}.point{fill:#1565c0;fill-opacity:.35}"
	".diag{stroke:#c62828;stroke-dasharray:4 3}.ref{stroke:#2e7d32;stroke-dasharray:4 3}"
	"td.ok,td.warn,td.drift{color:#fff}td.ok{background:#2e7d32}td.warn{background:#f9a825}"
	"td.drift{background:#c62828}.key{display:inline-block;width:10px;height:10px;"
	"margin:0 3px 0 10px}.key.ok{background:#2e7d32}.key.warn{background:#f9a825}"
	".key.drift{background:#c62828}.key.none{background:#e0e0e0}.key.capped{background:#1565c0}"
	".key.raw{background:#90a4ae}svg.scatter{display:inline-block;margin:4px}";

static void
write_table(FILE *f, const struct quarter_stats *q, size_t count)
{
	fputs("<section id=\"quarters\"><h2>Quarters</h2><table><thead><tr><th>quarter</th>"
	      "<th>subset</th><th>engines</th><th>requests</th><th>errors</th><th>req/s</th>"
	      "<th>RMSE</th><th>RMSE raw</th><th>NASA/pred</th><th>max PSI</th><th>feature</th>"
	      "<th>drift</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < count; i++) {
		const struct quarter_stats *s = &q[i];
		const char *st = s->drift_valid && s->drift.status[0] ? s->drift.status : "–";

		fprintf(f, "<tr data-quarter=\"%u\"><td>Q%u</td><td>", s->number, s->number);
		html(f, s->subset);
		fprintf(f, "%s</td><td>%zu</td><td>%zu</td><td>%zu</td><td>", s->holdout ? " (held out)" : "",
			s->engines_done, s->requests, s->errors);
		number(f, 0, s->seconds > 0 ? (double)s->requests / s->seconds : NAN);
		fputs("</td><td class=\"rmse\">", f);
		number(f, 2, stats_rmse(s, true));
		fputs("</td><td>", f);
		number(f, 2, stats_rmse(s, false));
		fputs("</td><td>", f);
		number(f, 2, stats_nasa_mean(s));
		fputs("</td><td>", f);
		number(f, 3, s->drift_valid ? s->drift.max_psi : NAN);
		fputs("</td><td>", f);
		html(f, s->drift_valid && s->drift.max_feature[0] ? s->drift.max_feature : "–");
		fprintf(f, "</td><td class=\"%s\">", strcmp(st, "–") ? st : "");
		html(f, st);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table><p class=\"note\">RMSE: every prediction against the true RUL "
	      "(failure cycle − cycle) capped as in training; RMSE raw: uncapped. NASA/pred: mean "
	      "NASA score term per prediction. max PSI, feature, drift: GET /v1/drift at the end "
	      "of the quarter.</p></section>\n", f);
}

/* Features are the rows, in the order of the first quarter that listed them. */
static void
write_heatmap(FILE *f, const struct quarter_stats *q, size_t count)
{
	const struct drift_report *names = NULL;
	const int left = 70, top = 24, cw = 90, ch = 16;
	size_t rows, i, j, k;

	for (i = 0; i < count && names == NULL; i++)
		if (q[i].drift_valid && q[i].drift.feature_count > 0)
			names = &q[i].drift;
	fputs("<section id=\"heatmap\"><h2>PSI per feature and quarter</h2>\n", f);
	if (names == NULL) {
		fputs("<p>No quarter has a drift readout.</p></section>\n", f);
		return;
	}
	rows = names->feature_count;
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %zu %zu\" width=\"%zu\" role=\"img\" "
		   "aria-label=\"PSI heatmap\">\n", (size_t)left + count * cw + 10,
		(size_t)top + rows * ch + 10, ((size_t)left + count * cw + 10) * 3 / 2);
	for (j = 0; j < count; j++) {
		fprintf(f, "<text x=\"%zu\" y=\"16\" text-anchor=\"middle\">Q%u ", left + j * cw + cw / 2,
			q[j].number);
		html(f, q[j].subset);
		fputs("</text>\n", f);
	}
	for (i = 0; i < rows; i++) {
		fprintf(f, "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", left - 6,
			top + i * ch + ch - 4);
		html(f, names->feature[i]);
		fputs("</text>\n", f);
		for (j = 0; j < count; j++) {
			double psi = NAN;

			for (k = 0; q[j].drift_valid && k < q[j].drift.feature_count; k++)
				if (strcmp(q[j].drift.feature[k], names->feature[i]) == 0)
					psi = q[j].drift.psi[k];
			fprintf(f, "<rect class=\"cell %s\" x=\"%zu\" y=\"%zu\" width=\"%d\" "
				   "height=\"%d\" data-feature=\"", psi_status(&q[j], psi),
				left + j * cw + 1, top + i * ch + 1, cw - 2, ch - 2);
			html(f, names->feature[i]);
			fprintf(f, "\" data-quarter=\"%u\" data-psi=\"", q[j].number);
			number(f, 6, psi);
			fputs("\"><title>", f);
			html(f, names->feature[i]);
			fprintf(f, " Q%u: PSI ", q[j].number);
			number(f, 4, psi);
			fputs("</title></rect>", f);
			fprintf(f, "<text class=\"v\" x=\"%zu\" y=\"%zu\" text-anchor=\"middle\">",
				left + j * cw + cw / 2, top + i * ch + ch - 4);
			number(f, psi >= 10 ? 1 : 3, psi);
			fputs("</text>\n", f);
		}
	}
	fputs("</svg><p class=\"note\"><span class=\"key ok\"></span>ok &lt; 0.1 ≤ <span "
	      "class=\"key warn\"></span>warn &lt; 0.25 ≤ <span class=\"key drift\"></span>drift "
	      "<span class=\"key none\"></span>no PSI (thresholds as the drift plugin reported "
	      "them)</p></section>\n", f);
}

static void
write_rmse(FILE *f, const struct quarter_stats *q, size_t count, const struct report_meta *m)
{
	const int left = 40, top = 12, h = 180, bottom = 30, gw = 110;
	double max = isfinite(m->bundle_rmse) ? m->bundle_rmse : 1;
	size_t j;

	for (j = 0; j < count; j++) {
		if (isfinite(stats_rmse(&q[j], false)) && stats_rmse(&q[j], false) > max)
			max = stats_rmse(&q[j], false);
		if (isfinite(stats_rmse(&q[j], true)) && stats_rmse(&q[j], true) > max)
			max = stats_rmse(&q[j], true);
	}
	max *= 1.1;
#define Y(v) (top + (h - top - bottom) * (1 - (v) / max))
	fputs("<section id=\"rmse\"><h2>RMSE per quarter</h2>\n", f);
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %zu %d\" width=\"%zu\" role=\"img\" "
		   "aria-label=\"RMSE per quarter\">\n", (size_t)left + count * gw + 10, h,
		((size_t)left + count * gw + 10) * 3 / 2);
	fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%zu\" y2=\"%.1f\"/>\n", left,
		Y(0.0), (size_t)left + count * gw, Y(0.0));
	for (int t = 0; t <= 4; t++)
		fprintf(f, "<text x=\"2\" y=\"%.1f\">%.0f</text>\n", Y(max * t / 4) + 3, max * t / 4);
	for (j = 0; j < count; j++) {
		double v[2] = { stats_rmse(&q[j], true), stats_rmse(&q[j], false) };
		const char *cls[2] = { "capped", "raw" };

		for (int b = 0; b < 2; b++) {
			if (!isfinite(v[b]))
				continue;
			fprintf(f, "<rect class=\"bar %s\" x=\"%zu\" y=\"%.1f\" width=\"40\" "
				   "height=\"%.1f\" data-quarter=\"%u\" data-rmse=\"%.6f\"><title>Q%u "
				   "%s RMSE %.2f</title></rect>\n", cls[b], left + j * gw + 10 + b * 44,
				Y(v[b]), Y(0.0) - Y(v[b]), q[j].number, v[b], q[j].number, cls[b], v[b]);
		}
		fprintf(f, "<text x=\"%zu\" y=\"%d\" text-anchor=\"middle\">Q%u ", left + j * gw + 52,
			h - bottom + 14, q[j].number);
		html(f, q[j].subset);
		fputs("</text>\n", f);
	}
	if (isfinite(m->bundle_rmse))
		fprintf(f, "<line class=\"ref\" x1=\"%d\" y1=\"%.1f\" x2=\"%zu\" y2=\"%.1f\"/>"
			   "<text x=\"%zu\" y=\"%.1f\" text-anchor=\"end\">bundle's test RMSE %.2f"
			   "</text>\n", left, Y(m->bundle_rmse), (size_t)left + count * gw,
			Y(m->bundle_rmse), (size_t)left + count * gw, Y(m->bundle_rmse) - 3,
			m->bundle_rmse);
#undef Y
	fputs("</svg><p class=\"note\"><span class=\"key capped\"></span>truth capped as in "
	      "training <span class=\"key raw\"></span>uncapped truth</p></section>\n", f);
}

/* One small chart per quarter: the sampled predictions, truth across, prediction up. */
static void
write_scatter(FILE *f, const struct quarter_stats *q, size_t count, double cap)
{
	const int size = 280, pad = 28;
	double max = cap * 1.6;
	size_t j, i, n;

	fputs("<section id=\"scatter\"><h2>Predicted against true RUL</h2>\n", f);
	for (j = 0; j < count; j++) {
		n = q[j].scored < QUARTER_SAMPLE ? q[j].scored : QUARTER_SAMPLE;
		fprintf(f, "<svg class=\"scatter\" data-quarter=\"%u\" viewBox=\"0 0 %d %d\" "
			   "width=\"%d\" role=\"img\" aria-label=\"Q%u predicted against true "
			   "RUL\">\n", q[j].number, size, size, size, q[j].number);
#define SX(v) (pad + ((v) > max ? max : (v)) / max * (size - pad - 8))
#define SY(v) (size - pad - ((v) > max ? max : (v)) / max * (size - pad - 20))
		fprintf(f, "<text x=\"%d\" y=\"12\">Q%u ", pad, q[j].number);
		html(f, q[j].subset);
		fprintf(f, ": %zu of %zu predictions</text>\n", n, q[j].scored);
		fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
			pad, SY(0.0), SX(max), SY(0.0), pad, SY(0.0), pad, SY(max));
		/* the perfect prediction: the capped truth */
		fprintf(f, "<polyline class=\"diag\" fill=\"none\" points=\"%.1f,%.1f %.1f,%.1f "
			   "%.1f,%.1f\"/>\n", SX(0.0), SY(0.0), SX(cap), SY(cap), SX(max), SY(cap));
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>"
			   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", SX(cap),
			SY(0.0) + 11, cap, pad - 3, SY(cap) + 3, cap);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">true RUL</text>"
			   "<text x=\"2\" y=\"24\">predicted</text>\n", SX(max), size - 8);
		for (i = 0; i < n; i++)
			fprintf(f, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\"/>\n",
				SX(q[j].sample[i].truth < 0 ? 0 : q[j].sample[i].truth),
				SY(q[j].sample[i].predicted < 0 ? 0 : q[j].sample[i].predicted));
#undef SX
#undef SY
		fputs("</svg>\n", f);
	}
	fprintf(f, "<p class=\"note\">A uniform sample of at most %d predictions per quarter; "
		   "the dashed line is a perfect prediction of the truth capped at %g, as the model "
		   "was trained. Truth and prediction beyond %.0f cycles are drawn at the edge.</p>"
		   "</section>\n", QUARTER_SAMPLE, cap, max);
}

int
report_write(const char *path, const struct quarter_stats *q, size_t count,
	     const struct report_meta *m, char *err, size_t err_len)
{
	char tmp[4200], when[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		r = -errno;
		snprintf(err, err_len, "cannot write report '%s': %s", tmp, strerror(errno));
		return r;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	      "<link rel=\"icon\" href=\"data:,\"><title>rulsrv-replay report</title><style>", f);
	fputs(report_style, f);
	fputs("</style></head><body><header><h1>rulsrv-replay: ", f);
	html(f, m->model[0] ? m->model : "replay");
	fprintf(f, "</h1><p>%zu quarters against ", count);
	html(f, m->predict_url);
	fputs(" · data ", f);
	html(f, m->data_dir);
	fprintf(f, " · seed %llu · %s</p></header>\n", m->seed, when);
	write_table(f, q, count);
	write_heatmap(f, q, count);
	write_rmse(f, q, count, m);
	write_scatter(f, q, count, m->cap);
	fputs("</body></html>\n", f);
	if (ferror(f) | (fclose(f) != 0)) {
		r = -EIO;
		snprintf(err, err_len, "cannot write report '%s'", tmp);
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) != 0) {
		r = -errno;
		snprintf(err, err_len, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		return r;
	}
	return 0;
}
