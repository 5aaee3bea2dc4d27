/* SPDX-License-Identifier: MIT */
/* drift_metrics.c - the drift_* metric families of SPEC section 6 and their updates. */
#include "drift.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static const char *const drift_feature_label[] = { "feature", NULL };
static const char *const drift_bin_labels[] = { "feature", "bin", NULL };
static const char *const drift_info_label[] = { "label", NULL };

static int
drift_gauge(struct drift *d, const char *name, const char *help, struct rulsrv_series **out)
{
	struct rulsrv_metric *m;
	int r;

	r = d->api->metric_new(d->host, RULSRV_METRIC_GAUGE, name, help, NULL, NULL, 0, &m);
	if (r < 0)
		return r;
	*out = d->api->series(m, NULL);
	return *out == NULL ? -ENOMEM : 0;
}

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
	for (f = 0; f < RULSRV_N_INPUTS; f++) {
		for (b = 0; b < d->ref.bundle->drift[f].bin_count; b++) {
			size_t k = d->ref.offset[f] + b;
			const char *values[] = { bundle_input_name(f), d->ref.bin_label[k] };

			s[k] = d->api->series(m, values);
			if (s[k] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

static int
drift_metrics_families(struct drift *d)
{
	const struct rulsrv_api *api = d->api;
	struct rulsrv_metric *bins, *ref;
	size_t f;
	int r;

	r = api->metric_new(d->host, RULSRV_METRIC_GAUGE, "drift_psi",
			    "PSI of the current drift window against the reference, per input "
			    "(NaN before min_observations)",
			    drift_feature_label, NULL, 0, &d->m.psi_family);
	if (r < 0)
		return r;
	for (f = 0; f < RULSRV_N_INPUTS; f++) {
		const char *values[] = { bundle_input_name(f) };

		d->m.psi[f] = api->series(d->m.psi_family, values);
		if (d->m.psi[f] == NULL)
			return -ENOMEM;
	}
	r = drift_gauge(d, "drift_psi_max", "Largest PSI of the current drift window",
			&d->m.psi_max);
	if (r == 0)
		r = drift_gauge(d, "drift_window_index", "Index of the current drift window",
				&d->m.index);
	if (r == 0)
		r = drift_gauge(d, "drift_window_observations",
				"Predictions observed in the current drift window",
				&d->m.observations);
	if (r == 0)
		r = drift_gauge(d, "drift_window_start_timestamp_seconds",
				"Start of the current drift window, seconds since the epoch",
				&d->m.start);
	if (r == 0)
		r = api->metric_new(d->host, RULSRV_METRIC_GAUGE, "drift_window_info",
				    "Label of the current drift window (1), earlier labels (0)",
				    drift_info_label, NULL, 0, &d->m.info_family);
	if (r == 0)
		r = api->metric_new(d->host, RULSRV_METRIC_COUNTER, "drift_bin_observations_total",
				    "Observed inputs per reference bin (bin: inclusive upper edge)",
				    drift_bin_labels, NULL, 0, &bins);
	if (r == 0)
		r = api->metric_new(d->host, RULSRV_METRIC_GAUGE, "drift_reference_proportion",
				    "Expected proportion of each reference bin (bin: inclusive upper "
				    "edge)",
				    drift_bin_labels, NULL, 0, &ref);
	if (r == 0)
		r = drift_bin_series(d, bins, &d->m.bins);
	if (r == 0)
		r = drift_bin_series(d, ref, &d->m.reference);
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
	for (f = 0; f < RULSRV_N_INPUTS; f++) {
		const struct drift_feature_ref *fr = &d->ref.bundle->drift[f];

		for (b = 0; b < fr->bin_count; b++)
			d->api->gauge_set(d->m.reference[d->ref.offset[f] + b], fr->expected[b]);
	}
	return 0;
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
	for (f = 0; f < RULSRV_N_INPUTS; f++)
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
