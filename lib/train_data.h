/* SPDX-License-Identifier: MIT */
/* train_data.h - training-side helpers: fit the feature pipeline and the drift reference. */
#ifndef RULSRV_TRAIN_DATA_H
#define RULSRV_TRAIN_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "bundle.h"
#include "cmapss.h"
#include "feature_pipeline.h"

/* The shape of the pipeline to fit; statistics come from the data. */
struct feature_options {
	size_t window;
	size_t mean_spans[4], mean_span_count;
	size_t std_spans[4], std_span_count;
	size_t slope_spans[4], slope_span_count;
	double ewma_alpha[4];
	size_t ewma_count;
	bool with_last, with_cycle;
	double regime_radius; /* leader clustering radius in scaled settings space */
	double min_corr;      /* keep a sensor when |corr(normalised, label)| >= this */
};

/* Defaults: window 30, means over 5/10/30, std 10/30, slopes 10/30, EWMA 0.1/0.3. */
void feature_options_default(struct feature_options *o);

/*
 * Fit regimes, per-regime statistics and the informative sensors on the rows of t where
 * use_row[i] (NULL: all). labels (capped RUL per row, may be NULL) select sensors by their
 * correlation with the label. The caller frees *out with feature_spec_free.
 */
int feature_spec_fit(const struct cmapss_table *t, const bool *use_row, const double *labels,
		     const struct feature_options *o, struct feature_spec **out, char *err,
		     size_t err_len);

/* Number of operating regimes found (for reports). */
size_t feature_spec_regime_count(const struct feature_spec *spec);

/*
 * The drift reference of every input from the rows where use_row[i] (NULL: all): 10 quantile
 * bins; discrete inputs (few distinct values) a bin per value group plus below/above bins;
 * constant inputs below/equal/above. Frees nothing of ref beforehand; free with free().
 */
int drift_ref_build(const struct cmapss_table *t, const bool *use_row,
		    struct drift_feature_ref ref[CMAPSS_N_INPUTS]);

/*
 * Engines of a table: runs of consecutive rows with the same unit. *starts gets count + 1
 * offsets (malloc'd; starts[count] == rows). Returns the count or -errno.
 */
long cmapss_engines(const struct cmapss_table *t, size_t **starts);

/* Capped RUL label of every row: min(cap, last cycle of its engine - cycle). */
int cmapss_labels(const struct cmapss_table *t, double cap, double **labels);

#endif
