/* SPDX-License-Identifier: MIT */
/* summary.h - per-quarter tallies and accuracy, and the table printed at the end of a replay. */
#ifndef REPLAY_SUMMARY_H
#define REPLAY_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control.h"

/* Predictions kept per quarter for the report's predicted-against-true chart: a uniform
 * sample of all of them (reservoir), so a long quarter is drawn as fairly as a short one. */
#define QUARTER_SAMPLE 600

struct rul_pair {
	float predicted;
	float truth; /* uncapped: failure cycle - cycle */
};

struct quarter_stats {
	unsigned number;
	char subset[8];
	bool holdout;          /* engines are the model's held-out units */
	size_t engines_total;
	size_t engines_done;   /* failure event answered (accepted or not) */
	size_t requests_total; /* prediction requests the quarter will make */
	size_t requests;       /* prediction requests answered, success or not */
	size_t feedback;       /* failure events accepted */
	size_t errors;         /* failed requests of any kind in the quarter */
	size_t scored;         /* predictions compared with the truth */
	double sq_capped;      /* sum of squared errors, truth capped at the model's cap */
	double sq_raw;         /* the same against the uncapped truth */
	double nasa;           /* sum of NASA score terms (truth capped) */
	double seconds;        /* wall time of the quarter */
	bool drift_valid;
	struct drift_report drift; /* GET /v1/drift at the end of the quarter */
	struct rul_pair sample[QUARTER_SAMPLE]; /* the first min(scored, QUARTER_SAMPLE) */
	uint64_t sample_rng;
};

/* NASA score term of one prediction, d = predicted - true: late predictions cost more. */
double nasa_term(double d);

/* Score one prediction against the true RUL (failure cycle - cycle), capped at cap. */
void stats_score(struct quarter_stats *s, double predicted, double true_rul, double cap);

double stats_rmse(const struct quarter_stats *s, bool capped); /* NAN when nothing scored */
double stats_nasa_mean(const struct quarter_stats *s);       /* NAN when nothing scored */

/* The table, one row per quarter, a total row and a legend. */
void summary_print(FILE *f, const struct quarter_stats *q, size_t count, double cap);

#endif
