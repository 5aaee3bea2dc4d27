/* SPDX-License-Identifier: MIT */
/* drift_metrics.c - the drift_* metric families (docs/METRICS.md) and their updates. */
#include "drift.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const drift_feature_label[] = { "feature", NULL };
static const char *const drift_bin_labels[] = { "feature", "bin", NULL };
static const char *const drift_info_label[] = { "label", NULL };

/* One series per (input, bin); the bin label is the bin's inclusive upper edge. */
static int
drift_bin_series(struct drift *d, struct rulsrv_metric *m, struct rulsrv_series ***out)
{
	struct rulsrv_series **s;
	size_t f, b;

	s = calloc(d->ref.total_bins, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	*out = s;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		for (b = 0; b < d->ref.bundle->drift[f].bin_count; b++) {
			size_t k = d->ref.offset[f] + b;
			const char *values[] = { cmapss_input_name(f), d->ref.bin_label[k] };

			s[k] = d->api->series(m, values);
			if (s[k] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Every drift_* family, registered as one table; the unlabelled gauges get their series. */
static int
drift_metrics_families(struct drift *d)
{
	struct rulsrv_metric *bins, *psi_max, *index, *observations, *start;
	const struct rulsrv_metric_def defs[] = {
		{ "drift_psi", RULSRV_METRIC_GAUGE,
		  "PSI of the current drift window against the reference, per input (NaN before "
		  "min_observations)",
		  drift_feature_label, NULL, 0, &d->m.psi_family, NULL },
		{ "drift_psi_max", RULSRV_METRIC_GAUGE, "Largest PSI of the current drift window",
		  NULL, NULL, 0, &psi_max, &d->m.psi_max },
		{ "drift_window_index", RULSRV_METRIC_GAUGE, "Index of the current drift window",
		  NULL, NULL, 0, &index, &d->m.index },
		{ "drift_window_observations", RULSRV_METRIC_GAUGE,
		  "Predictions observed in the current drift window", NULL, NULL, 0, &observations,
		  &d->m.observations },
		{ "drift_window_start_timestamp_seconds", RULSRV_METRIC_GAUGE,
		  "Start of the current drift window, seconds since the epoch", NULL, NULL, 0,
		  &start, &d->m.start },
		{ "drift_window_info", RULSRV_METRIC_GAUGE,
		  "Label of the current drift window (1), earlier labels (0)", drift_info_label, NULL,
		  0, &d->m.info_family, NULL },
		{ "drift_bin_observations_total", RULSRV_METRIC_COUNTER,
		  "Observed inputs per reference bin (bin: inclusive upper edge)", drift_bin_labels,
		  NULL, 0, &bins, NULL },
		{ "drift_reference_proportion", RULSRV_METRIC_GAUGE,
		  "Expected proportion of each reference bin (bin: inclusive upper edge)",
		  drift_bin_labels, NULL, 0, &d->m.reference_family, NULL },
	};
	size_t f;
	int r;

	r = d->api->metrics_register(d->host, defs, sizeof(defs) / sizeof(defs[0]));
	if (r < 0)
		return r;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const char *values[] = { cmapss_input_name(f) };

		d->m.psi[f] = d->api->series(d->m.psi_family, values);
		if (d->m.psi[f] == NULL)
			return -ENOMEM;
	}
	r = drift_bin_series(d, bins, &d->m.bins);
	if (r == 0)
		r = drift_bin_series(d, d->m.reference_family, &d->m.reference);
	return r;
}

int
drift_metrics_init(struct drift *d)
{
	size_t f, b;
	int r;

	r = drift_metrics_families(d);
	if (r < 0)
		return r;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const struct drift_feature_ref *fr = &d->ref.bundle->drift[f];

		for (b = 0; b < fr->bin_count; b++)
			d->api->gauge_set(d->m.reference[d->ref.offset[f] + b], fr->expected[b]);
	}
	return 0;
}

static int
drift_find_index(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	double *index = ud;

	if (s == NULL || strcmp(fam->name, "drift_window_index") != 0)
		return 0;
	*index = s->value;
	return -ECANCELED; /* found: the rest of the registry is of no interest */
}

/*
 * The window gauges of a service belong to the instance that published them last. Index 0
 * means none did (windows count from 1): a service's first instance then serves its gauges
 * from the start, while a reload's new instance, which the reload may still discard, leaves
 * its predecessor's alone until it serves.
 */
bool
drift_metrics_claimed(struct drift *d)
{
	double index = 0;

	d->api->metrics_collect(d->host, drift_find_index, &index);
	return index != 0;
}

/* The window gauges after a window opened; the previous label's info series drops to 0. */
void
drift_metrics_window(struct drift *d)
{
	const char *values[] = { d->label };
	const struct rulsrv_api *api = d->api;
	struct rulsrv_series *info;

	api->gauge_set(d->m.index, (double)d->index);
	api->gauge_set(d->m.start, d->start);
	info = api->series(d->m.info_family, values);
	if (info != d->m.info && d->m.info != NULL)
		api->gauge_set(d->m.info, 0);
	if (info != NULL)
		api->gauge_set(info, 1);
	d->m.info = info;
}

/* PSI gauges say NaN while the status is insufficient_data: no alert on a handful. */
void
drift_metrics_eval(struct drift *d, const struct drift_eval *e)
{
	const struct rulsrv_api *api = d->api;
	bool enough = e->observations >= d->params.min_observations;
	size_t f;

	api->gauge_set(d->m.observations, (double)e->observations);
	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		api->gauge_set(d->m.psi[f], enough ? e->psi[f] : NAN);
	api->gauge_set(d->m.psi_max, enough ? e->psi_max : NAN);
}

/*
 * Push what the observers counted since the last flush into the host's counters, given the
 * current window's counts as drift_windows_peek() read them just now. The
 * cumulative count of a bin is the closed windows' sum plus the current window's count,
 * which only grows, so the pushed deltas are never negative and the totals end exact.
 */
void
drift_metrics_flush_locked(struct drift *d, const uint64_t *current)
{
	size_t i;

	for (i = 0; i < d->ref.total_bins; i++) {
		uint64_t total = d->base[i] + current[i];

		if (total > d->pushed[i]) {
			d->api->counter_add(d->m.bins[i], (double)(total - d->pushed[i]));
			d->pushed[i] = total;
		}
	}
}

/* Series of drift_reference_proportion that are not bins of d's reference and are not 0. */
struct drift_stale {
	const struct drift *d;
	size_t count, cap;
	char **pairs; /* feature, bin, feature, bin, ... */
};

static bool
drift_has_bin(const struct drift *d, const char *feature, const char *bin)
{
	size_t f, b;

	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		if (strcmp(cmapss_input_name(f), feature) != 0)
			continue;
		for (b = 0; b < d->ref.bundle->drift[f].bin_count; b++)
			if (strcmp(d->ref.bin_label[d->ref.offset[f] + b], bin) == 0)
				return true;
	}
	return false;
}

static int
drift_find_stale(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct drift_stale *q = ud;

	if (s == NULL || strcmp(fam->name, "drift_reference_proportion") != 0 || s->value == 0 ||
	    drift_has_bin(q->d, s->label_values[0], s->label_values[1]))
		return 0;
	if (q->count + 2 > q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		char **p = realloc(q->pairs, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		q->pairs = p;
		q->cap = cap;
	}
	q->pairs[q->count] = strdup(s->label_values[0]);
	q->pairs[q->count + 1] = strdup(s->label_values[1]);
	q->count += 2;
	return 0;
}

/*
 * When a reload brings a reference with other bins, the bins that are gone keep their old
 * expected proportion in the service's registry, and a fleet-wide PSI rule would read them as
 * expected but never observed: set them to 0 (a 0 reference against 0 observations adds
 * nothing to a PSI). Done once the instance serves, so that a failed reload leaves its
 * predecessor's bins alone.
 */
void
drift_metrics_retire_bins(struct drift *d)
{
	struct drift_stale q = { d, 0, 0, NULL };
	size_t i;

	d->api->metrics_collect(d->host, drift_find_stale, &q);
	for (i = 0; i + 1 < q.count; i += 2) {
		const char *values[] = { q.pairs[i], q.pairs[i + 1] };
		struct rulsrv_series *s;

		if (values[0] == NULL || values[1] == NULL)
			continue;
		s = d->api->series(d->m.reference_family, values);
		if (s != NULL)
			d->api->gauge_set(s, 0);
	}
	for (i = 0; i < q.count; i++)
		free(q.pairs[i]);
	free(q.pairs);
}
