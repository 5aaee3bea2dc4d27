/* SPDX-License-Identifier: MIT */
/* summary.c - accuracy of the replayed predictions and the end-of-run table. */
#include "summary.h"

#include <math.h>
#include <string.h>

#include "splitmix64.h"

double
nasa_term(double d)
{
	return d < 0 ? exp(-d / 13.0) - 1.0 : exp(d / 10.0) - 1.0;
}

/* Reservoir sampling (Algorithm R), with a splitmix64 stream of the quarter's own: the
 * sample is the same for the same run. Called before scored counts this prediction. */
static void
stats_sample(struct quarter_stats *s, double predicted, double true_rul)
{
	struct rul_pair p = { (float)predicted, (float)true_rul };
	uint64_t slot;

	if (s->scored < QUARTER_SAMPLE) {
		s->sample[s->scored] = p;
		return;
	}
	slot = splitmix64_next(&s->sample_rng) % (s->scored + 1);
	if (slot < QUARTER_SAMPLE)
		s->sample[slot] = p;
}

void
stats_score(struct quarter_stats *s, double predicted, double true_rul, double cap)
{
	double capped = true_rul > cap ? cap : true_rul;
	double dc = predicted - capped, dr = predicted - true_rul;

	stats_sample(s, predicted, true_rul);
	s->scored++;
	s->sq_capped += dc * dc;
	s->sq_raw += dr * dr;
	s->nasa += nasa_term(dc);
}

double
stats_rmse(const struct quarter_stats *s, bool capped)
{
	if (s->scored == 0)
		return NAN;
	return sqrt((capped ? s->sq_capped : s->sq_raw) / (double)s->scored);
}

double
stats_nasa_mean(const struct quarter_stats *s)
{
	return s->scored ? s->nasa / (double)s->scored : NAN;
}

/* A number, or "-" when there is none, right-aligned in width. */
static void
print_number(FILE *f, int width, int decimals, double v)
{
	if (isnan(v))
		fprintf(f, " %*s", width, "-");
	else
		fprintf(f, " %*.*f", width, decimals, v);
}

static void
print_row(FILE *f, const struct quarter_stats *s)
{
	char name[16];
	double rate = s->seconds > 0 ? (double)s->requests / s->seconds : NAN;

	snprintf(name, sizeof(name), "Q%u", s->number);
	fprintf(f, "%-7s %-6s %7zu %9zu %6zu", name, s->subset, s->engines_done, s->requests,
		s->errors);
	print_number(f, 7, 0, rate);
	print_number(f, 7, 2, stats_rmse(s, true));
	print_number(f, 8, 2, stats_rmse(s, false));
	print_number(f, 9, 2, stats_nasa_mean(s));
	print_number(f, 8, 3, s->drift_valid ? s->drift.max_psi : NAN);
	fprintf(f, " %-8s %s\n",
		s->drift_valid && s->drift.max_feature[0] ? s->drift.max_feature : "-",
		s->drift_valid && s->drift.status[0] ? s->drift.status : "-");
}

void
summary_print(FILE *f, const struct quarter_stats *q, size_t count, double cap)
{
	struct quarter_stats all;

	memset(&all, 0, sizeof(all));
	fprintf(f, "%-7s %-6s %7s %9s %6s %7s %7s %8s %9s %8s %-8s %s\n", "quarter", "subset",
		"engines", "requests", "errors", "req/s", "RMSE", "RMSE-raw", "NASA/pred",
		"max-PSI", "feature", "drift");
	for (size_t i = 0; i < count; i++) {
		print_row(f, &q[i]);
		all.engines_done += q[i].engines_done;
		all.requests += q[i].requests;
		all.errors += q[i].errors;
		all.scored += q[i].scored;
		all.sq_capped += q[i].sq_capped;
		all.sq_raw += q[i].sq_raw;
		all.nasa += q[i].nasa;
		all.seconds += q[i].seconds;
	}
	fprintf(f, "%-7s %-6s %7zu %9zu %6zu", "all", "", all.engines_done, all.requests,
		all.errors);
	print_number(f, 7, 0, all.seconds > 0 ? (double)all.requests / all.seconds : NAN);
	print_number(f, 7, 2, stats_rmse(&all, true));
	print_number(f, 8, 2, stats_rmse(&all, false));
	print_number(f, 9, 2, stats_nasa_mean(&all));
	fputc('\n', f);
	for (size_t i = 0; i < count; i++) {
		const struct drift_report *d = &q[i].drift;

		if (q[i].drift_valid && d->observations >= 0 && d->observations < q[i].requests)
			fprintf(f, "note: Q%u's drift readout covers only the last %.0f of its %zu "
				   "predictions:\n  the drift plugin's own windows tumbled within the "
				   "quarter (window = \"manual\" gives one per quarter)\n",
				q[i].number, d->observations, q[i].requests);
	}
	fprintf(f, "\nRMSE: every prediction against the true RUL (failure cycle - cycle) capped at "
		   "%g as in training;\n  RMSE-raw: the same, uncapped. NASA/pred: mean NASA score "
		   "term per prediction (capped truth).\nmax-PSI, feature, drift: GET /v1/drift at "
		   "the end of the quarter, before the window rolled.\n",
		cap);
}
