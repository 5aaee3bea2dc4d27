/* SPDX-License-Identifier: MIT */
/* drift_math.c - the population stability index of a window and the status it means. */
#include "drift.h"

#include <math.h>

/*
 * PSI = sum over bins (cur - exp) * ln(cur / exp). Both proportions are clipped at epsilon so
 * that an empty bin on either side costs a bounded amount instead of infinity; a bin empty on
 * both sides contributes exactly 0.
 */
double
drift_psi(const uint64_t *counts, const double *expected, size_t bins, double epsilon)
{
	uint64_t total = 0;
	double psi = 0;
	size_t i;

	for (i = 0; i < bins; i++)
		total += counts[i];
	if (total == 0)
		return NAN;
	for (i = 0; i < bins; i++) {
		double cur = (double)counts[i] / (double)total;
		double exp = expected[i];

		if (cur < epsilon)
			cur = epsilon;
		if (exp < epsilon)
			exp = epsilon;
		psi += (cur - exp) * log(cur / exp);
	}
	return psi;
}

enum drift_status
drift_status_of(const struct drift_params *p, uint64_t observations, double psi)
{
	if (observations < p->min_observations || isnan(psi))
		return DRIFT_INSUFFICIENT;
	if (psi >= p->drift)
		return DRIFT_DRIFT;
	if (psi >= p->warn)
		return DRIFT_WARN;
	return DRIFT_OK;
}

const char *
drift_status_name(enum drift_status s)
{
	switch (s) {
	case DRIFT_OK:
		return "ok";
	case DRIFT_WARN:
		return "warn";
	case DRIFT_DRIFT:
		return "drift";
	case DRIFT_INSUFFICIENT:
		break;
	}
	return "insufficient_data";
}

void
drift_evaluate(const struct drift_ref *ref, const struct drift_params *p, const uint64_t *counts,
	       uint64_t observations, struct drift_eval *out)
{
	size_t f;

	out->observations = observations;
	out->psi_max = NAN;
	out->max_feature = 0;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const struct drift_feature_ref *fr = &ref->bundle->drift[f];
		double psi = drift_psi(counts + ref->offset[f], fr->expected, fr->bin_count,
				       p->epsilon);

		out->psi[f] = psi;
		out->feature_status[f] = drift_status_of(p, observations, psi);
		if (!isnan(psi) && (isnan(out->psi_max) || psi > out->psi_max)) {
			out->psi_max = psi;
			out->max_feature = f;
		}
	}
	out->status = drift_status_of(p, observations, out->psi_max);
}
