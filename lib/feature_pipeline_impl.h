/* SPDX-License-Identifier: MIT */
/* feature_pipeline_impl.h - struct feature_spec laid out, for feature_pipeline.c and the fitter. */
#ifndef RULSRV_FEATURE_PIPELINE_IMPL_H
#define RULSRV_FEATURE_PIPELINE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "feature_pipeline.h"

/* Compile-time bounds: features_last works on the stack only, so specs are limited. */
#define FEATURES_MAX_WINDOW 64
#define FEATURES_MAX_FEATURES 256
#define FEATURES_MAX_REGIMES 16
#define FEATURES_MAX_SPANS 4
#define FEATURES_NAME_LEN 32

struct feature_spec {
	size_t window; /* cycles the features depend on */
	/* Operating regimes: nearest centre in settings space, distance weighted by scale. */
	size_t regime_count;
	double setting_scale[CMAPSS_N_SETTINGS];
	double centers[FEATURES_MAX_REGIMES][CMAPSS_N_SETTINGS];
	/* Informative sensors: input indices (3 = s1 ... 23 = s21) and their statistics. */
	size_t sensor_count;
	int sensors[CMAPSS_N_SENSORS];
	double mean[FEATURES_MAX_REGIMES][CMAPSS_N_SENSORS];
	double std[FEATURES_MAX_REGIMES][CMAPSS_N_SENSORS];
	/* Window features of each normalised sensor. */
	size_t mean_span_count, std_span_count, slope_span_count, ewma_count;
	size_t mean_spans[FEATURES_MAX_SPANS];
	size_t std_spans[FEATURES_MAX_SPANS];
	size_t slope_spans[FEATURES_MAX_SPANS];
	double ewma_alpha[FEATURES_MAX_SPANS];
	bool with_last; /* the current normalised value */
	bool with_cycle; /* the cycle number itself */
	/* Derived: the feature names, in output order. */
	size_t count;
	char (*names)[FEATURES_NAME_LEN];
};

/* Check the bounds and fill count and names; err says what is wrong. */
int feature_spec_finish(struct feature_spec *spec, char *err, size_t err_len);

/* The regime of one cycle's raw inputs (nearest centre). */
size_t feature_spec_regime(const struct feature_spec *spec, const double *inputs);

#endif
