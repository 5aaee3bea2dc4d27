/* SPDX-License-Identifier: MIT */
/* bundle.h - a model bundle directory: bundle.json, the XGBoost model, the drift reference. */
#ifndef RULSRV_BUNDLE_H
#define RULSRV_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include "cmapss.h"

#include "feature_pipeline.h"

#define BUNDLE_FILE "bundle.json"
#define BUNDLE_MODEL_FILE "model.json" /* XGBoost JSON model, read by both backends */

enum drift_bin_kind {
	DRIFT_BINS_QUANTILE, /* continuous: inner edges at training quantiles */
	DRIFT_BINS_DISCRETE, /* few distinct values: one bin per value (edges at midpoints) */
	DRIFT_BINS_CONSTANT, /* one value in training: below / equal / above */
};

/*
 * The drift reference of one input. A value x falls into bin i = the number of edges that
 * are strictly less than x (so bin_count = edge_count + 1). expected[] sums to 1.
 */
struct drift_feature_ref {
	char name[16]; /* "setting1".."setting3", "s1".."s21" */
	enum drift_bin_kind kind;
	size_t bin_count;
	double *edges; /* bin_count - 1 ascending inner edges */
	double *expected;
};

struct bundle {
	char *dir;        /* as given to bundle_load */
	char *name;       /* e.g. "rul-fd001" */
	char *version;    /* e.g. "2026.11.25-1" */
	char **subsets;   /* training subsets, e.g. {"FD001"} */
	size_t subset_count;
	char *model_path; /* dir/model.json */
	double rul_cap;   /* 125 */
	struct feature_spec *features;
	struct drift_feature_ref drift[CMAPSS_N_INPUTS];
	int64_t *holdout_units; /* training units held out of training (replay's unseen engines) */
	size_t holdout_count;
	char *holdout_subset;   /* the subset the held-out units belong to */
	cJSON *evaluation;      /* as rulsrv-train wrote it; may be NULL */
};

/* Load and validate DIR/bundle.json; err names the file and what is wrong. */
int bundle_load(const char *dir, struct bundle **out, char *err, size_t err_len);
/* Write b as DIR/bundle.json (the model file is written by the trainer). */
int bundle_save(const struct bundle *b, const char *dir, char *err, size_t err_len);
void bundle_free(struct bundle *b);

/* Index of x's bin in ref (binary search over edges). */
size_t drift_bin_index(const struct drift_feature_ref *ref, double x);

/*
 * The raw inputs of every row the bundle's model is fed, in row order: their number and
 * their names (static, count entries). What a prediction record carries (rulsrv/plugin.h).
 */
size_t bundle_input_count(const struct bundle *b);
const char *const *bundle_input_names(const struct bundle *b);

#endif
