/* SPDX-License-Identifier: MIT */
/* feature_pipeline.h - the feature pipeline shared by rulsrv-train and the prediction plugins. */
#ifndef RULSRV_FEATURE_PIPELINE_H
#define RULSRV_FEATURE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include "cmapss.h"

/*
 * The pipeline: operating-regime identification from the three settings, per-regime
 * normalisation of the informative sensors, then causal window features per engine
 * (rolling means and deviations, slopes, exponential smoothing, ...). Its specification and
 * statistics are data, a JSON object that whoever stores a model keeps beside it (a bundle
 * does, as bundle.json "features"), so serving computes exactly what training did. The
 * pipeline knows the C-MAPSS inputs and nothing of bundles.
 *
 * Train/serve equality is by construction: the features of cycle i are a function of the
 * last feature_spec_window() cycles up to i only. Training computes every row as serving
 * would for a request carrying that window; a request with a shorter history is treated as
 * training treated the early cycles of an engine.
 */
struct feature_spec;

/* Parse a spec's JSON object (as feature_spec_to_json writes it); err says what is wrong. */
int feature_spec_from_json(const cJSON *json, struct feature_spec **out, char *err,
			   size_t err_len);
/* Serialise, for the model's owner to store (training writes it into bundle.json). Caller
 * owns the result. */
cJSON *feature_spec_to_json(const struct feature_spec *spec);
void feature_spec_free(struct feature_spec *spec);

size_t feature_spec_count(const struct feature_spec *spec);
const char *feature_spec_name(const struct feature_spec *spec, size_t i);
/* The number of most recent cycles the features depend on. */
size_t feature_spec_window(const struct feature_spec *spec);

/*
 * One engine: inputs holds n cycles (oldest first) of CMAPSS_N_INPUTS raw values, cycles
 * their cycle numbers. Writes the feature_spec_count() features of the last cycle to out.
 * Uses only the last feature_spec_window() cycles. Thread-safe; allocates nothing.
 * Returns 0, or -EINVAL when n == 0.
 */
int features_last(const struct feature_spec *spec, const double *inputs, const int64_t *cycles,
		  size_t n, float *out);

/* Every cycle of one engine (training): out is n x feature_spec_count(), row i equal to
 * features_last() on the window that ends at cycle i. */
int features_all(const struct feature_spec *spec, const double *inputs, const int64_t *cycles,
		 size_t n, float *out);

#endif
