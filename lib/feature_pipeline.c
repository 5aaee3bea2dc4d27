/* SPDX-License-Identifier: MIT */
/* feature_pipeline.c - the feature pipeline: regimes, per-regime normalisation, causal window features. */
#include "feature_pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature_pipeline_impl.h"

size_t
feature_spec_regime(const struct feature_spec *spec, const double *inputs)
{
	size_t r, best = 0;
	double best_d = INFINITY;

	if (spec->regime_count <= 1)
		return 0;
	for (r = 0; r < spec->regime_count; r++) {
		double d = 0;
		int j;

		for (j = 0; j < CMAPSS_N_SETTINGS; j++) {
			double t = (inputs[j] - spec->centers[r][j]) * spec->setting_scale[j];
			d += t * t;
		}
		if (d < best_d) {
			best_d = d;
			best = r;
		}
	}
	return best;
}

static int
check_spans(const size_t *spans, size_t n, size_t window, const char *what, char *err,
	    size_t err_len)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (spans[i] < 1 || spans[i] > window) {
			snprintf(err, err_len, "features.%s[%zu]: %zu is outside 1..window (%zu)", what,
				 i, spans[i], window);
			return -EINVAL;
		}
	}
	return 0;
}

int
feature_spec_finish(struct feature_spec *spec, char *err, size_t err_len)
{
	size_t per, i, k, f = 0;
	int r;

	if (spec->window < 1 || spec->window > FEATURES_MAX_WINDOW) {
		snprintf(err, err_len, "features.window: %zu is outside 1..%d", spec->window,
			 FEATURES_MAX_WINDOW);
		return -EINVAL;
	}
	if (spec->regime_count < 1 || spec->regime_count > FEATURES_MAX_REGIMES) {
		snprintf(err, err_len, "features.regimes: %zu regimes, expected 1..%d",
			 spec->regime_count, FEATURES_MAX_REGIMES);
		return -EINVAL;
	}
	if (spec->sensor_count > CMAPSS_N_SENSORS) {
		snprintf(err, err_len, "features.sensors: more than %d sensors", CMAPSS_N_SENSORS);
		return -EINVAL;
	}
	for (i = 0; i < spec->sensor_count; i++) {
		if (spec->sensors[i] < CMAPSS_N_SETTINGS || spec->sensors[i] >= CMAPSS_N_INPUTS) {
			snprintf(err, err_len, "features.sensors[%zu]: not a sensor", i);
			return -EINVAL;
		}
		for (k = 0; k < spec->regime_count; k++) {
			if (!isfinite(spec->mean[k][i]) || !isfinite(spec->std[k][i]) ||
			    spec->std[k][i] <= 0) {
				snprintf(err, err_len,
					 "features.normalisation: regime %zu sensor '%s': mean must be "
					 "finite and std finite and > 0",
					 k, cmapss_input_name((size_t)spec->sensors[i]));
				return -EINVAL;
			}
		}
	}
	r = check_spans(spec->mean_spans, spec->mean_span_count, spec->window, "mean_spans", err,
			err_len);
	if (r == 0)
		r = check_spans(spec->std_spans, spec->std_span_count, spec->window, "std_spans", err,
				err_len);
	if (r == 0)
		r = check_spans(spec->slope_spans, spec->slope_span_count, spec->window,
				"slope_spans", err, err_len);
	if (r < 0)
		return r;
	for (i = 0; i < spec->ewma_count; i++) {
		if (!(spec->ewma_alpha[i] > 0 && spec->ewma_alpha[i] <= 1)) {
			snprintf(err, err_len, "features.ewma_alpha[%zu]: must be in (0, 1]", i);
			return -EINVAL;
		}
	}
	per = (spec->with_last ? 1 : 0) + spec->mean_span_count + spec->std_span_count +
	      spec->slope_span_count + spec->ewma_count;
	spec->count = (spec->with_cycle ? 1 : 0) + per * spec->sensor_count;
	if (spec->count == 0 || spec->count > FEATURES_MAX_FEATURES) {
		snprintf(err, err_len, "features: %zu features, expected 1..%d", spec->count,
			 FEATURES_MAX_FEATURES);
		return -EINVAL;
	}
	free(spec->names);
	spec->names = calloc(spec->count, sizeof(*spec->names));
	if (spec->names == NULL) {
		snprintf(err, err_len, "features: out of memory");
		return -ENOMEM;
	}
	if (spec->with_cycle)
		snprintf(spec->names[f++], FEATURES_NAME_LEN, "cycle");
	for (i = 0; i < spec->sensor_count; i++) {
		const char *s = cmapss_input_name((size_t)spec->sensors[i]);

		if (spec->with_last)
			snprintf(spec->names[f++], FEATURES_NAME_LEN, "%s_last", s);
		for (k = 0; k < spec->mean_span_count; k++)
			snprintf(spec->names[f++], FEATURES_NAME_LEN, "%s_mean%zu", s,
				 spec->mean_spans[k]);
		for (k = 0; k < spec->std_span_count; k++)
			snprintf(spec->names[f++], FEATURES_NAME_LEN, "%s_std%zu", s,
				 spec->std_spans[k]);
		for (k = 0; k < spec->slope_span_count; k++)
			snprintf(spec->names[f++], FEATURES_NAME_LEN, "%s_slope%zu", s,
				 spec->slope_spans[k]);
		for (k = 0; k < spec->ewma_count; k++)
			snprintf(spec->names[f++], FEATURES_NAME_LEN, "%s_ewma%g", s,
				 spec->ewma_alpha[k]);
	}
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static int
json_number(const cJSON *obj, const char *key, double *out, char *err, size_t err_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		snprintf(err, err_len, "features.%s: expected a number", key);
		return -EINVAL;
	}
	*out = v->valuedouble;
	return 0;
}

static int
json_doubles(const cJSON *arr, const char *what, double *out, size_t max, size_t *n, char *err,
	     size_t err_len)
{
	const cJSON *v;
	size_t i = 0;

	if (!cJSON_IsArray(arr)) {
		snprintf(err, err_len, "%s: expected an array", what);
		return -EINVAL;
	}
	cJSON_ArrayForEach(v, arr) {
		if (i >= max) {
			snprintf(err, err_len, "%s: more than %zu elements", what, max);
			return -EINVAL;
		}
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
			snprintf(err, err_len, "%s[%zu]: expected a finite number", what, i);
			return -EINVAL;
		}
		out[i++] = v->valuedouble;
	}
	*n = i;
	return 0;
}

static int
json_spans(const cJSON *obj, const char *key, size_t *out, size_t *n, char *err, size_t err_len)
{
	double v[FEATURES_MAX_SPANS];
	char what[64];
	size_t i;
	int r;

	snprintf(what, sizeof(what), "features.%s", key);
	r = json_doubles(cJSON_GetObjectItemCaseSensitive(obj, key), what, v, FEATURES_MAX_SPANS, n,
			 err, err_len);
	if (r < 0)
		return r;
	for (i = 0; i < *n; i++) {
		if (v[i] != floor(v[i]) || v[i] < 1 || v[i] > FEATURES_MAX_WINDOW) {
			snprintf(err, err_len, "%s[%zu]: expected an integer in 1..%d", what, i,
				 FEATURES_MAX_WINDOW);
			return -EINVAL;
		}
		out[i] = (size_t)v[i];
	}
	return 0;
}

static int
json_bool(const cJSON *obj, const char *key, bool *out, char *err, size_t err_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsBool(v)) {
		snprintf(err, err_len, "features.%s: expected true or false", key);
		return -EINVAL;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

static int
input_index(const char *name)
{
	size_t i;

	for (i = 0; i < CMAPSS_N_INPUTS; i++)
		if (strcmp(cmapss_input_name(i), name) == 0)
			return (int)i;
	return -1;
}

static int
parse_regimes(const cJSON *json, struct feature_spec *s, char *err, size_t err_len)
{
	const cJSON *reg = cJSON_GetObjectItemCaseSensitive(json, "regimes");
	const cJSON *c;
	size_t n;
	int r;

	if (!cJSON_IsObject(reg)) {
		snprintf(err, err_len, "features.regimes: expected an object");
		return -EINVAL;
	}
	r = json_doubles(cJSON_GetObjectItemCaseSensitive(reg, "scale"), "features.regimes.scale",
			 s->setting_scale, CMAPSS_N_SETTINGS, &n, err, err_len);
	if (r < 0)
		return r;
	if (n != CMAPSS_N_SETTINGS) {
		snprintf(err, err_len, "features.regimes.scale: expected %d numbers",
			 CMAPSS_N_SETTINGS);
		return -EINVAL;
	}
	c = cJSON_GetObjectItemCaseSensitive(reg, "centers");
	if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) < 1 ||
	    cJSON_GetArraySize(c) > FEATURES_MAX_REGIMES) {
		snprintf(err, err_len, "features.regimes.centers: expected 1..%d centres",
			 FEATURES_MAX_REGIMES);
		return -EINVAL;
	}
	s->regime_count = 0;
	for (const cJSON *row = c->child; row != NULL; row = row->next) {
		char what[64];

		snprintf(what, sizeof(what), "features.regimes.centers[%zu]", s->regime_count);
		r = json_doubles(row, what, s->centers[s->regime_count], CMAPSS_N_SETTINGS, &n, err,
				 err_len);
		if (r < 0)
			return r;
		if (n != CMAPSS_N_SETTINGS) {
			snprintf(err, err_len, "%s: expected %d numbers", what, CMAPSS_N_SETTINGS);
			return -EINVAL;
		}
		s->regime_count++;
	}
	return 0;
}

static int
parse_stats(const cJSON *norm, const char *key, double (*dst)[CMAPSS_N_SENSORS],
	    const struct feature_spec *s, char *err, size_t err_len)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(norm, key);
	size_t k = 0, n;
	int r;

	if (!cJSON_IsArray(m) || (size_t)cJSON_GetArraySize(m) != s->regime_count) {
		snprintf(err, err_len, "features.normalisation.%s: expected %zu rows (one per regime)",
			 key, s->regime_count);
		return -EINVAL;
	}
	for (const cJSON *row = m->child; row != NULL; row = row->next, k++) {
		char what[80];

		snprintf(what, sizeof(what), "features.normalisation.%s[%zu]", key, k);
		r = json_doubles(row, what, dst[k], CMAPSS_N_SENSORS, &n, err, err_len);
		if (r < 0)
			return r;
		if (n != s->sensor_count) {
			snprintf(err, err_len, "%s: expected %zu numbers (one per sensor)", what,
				 s->sensor_count);
			return -EINVAL;
		}
	}
	return 0;
}

static int
parse_sensors(const cJSON *json, struct feature_spec *s, char *err, size_t err_len)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "sensors"), *v;
	const cJSON *norm;
	int r;

	if (!cJSON_IsArray(arr)) {
		snprintf(err, err_len, "features.sensors: expected an array of sensor names");
		return -EINVAL;
	}
	s->sensor_count = 0;
	cJSON_ArrayForEach(v, arr) {
		int idx = cJSON_IsString(v) ? input_index(v->valuestring) : -1;
		size_t i;

		if (idx < CMAPSS_N_SETTINGS || s->sensor_count >= CMAPSS_N_SENSORS) {
			snprintf(err, err_len, "features.sensors[%zu]: expected a sensor name s1..s21",
				 s->sensor_count);
			return -EINVAL;
		}
		for (i = 0; i < s->sensor_count; i++) {
			if (s->sensors[i] == idx) {
				snprintf(err, err_len, "features.sensors[%zu]: '%s' listed twice",
					 s->sensor_count, v->valuestring);
				return -EINVAL;
			}
		}
		s->sensors[s->sensor_count++] = idx;
	}
	norm = cJSON_GetObjectItemCaseSensitive(json, "normalisation");
	if (!cJSON_IsObject(norm)) {
		snprintf(err, err_len, "features.normalisation: expected an object");
		return -EINVAL;
	}
	r = parse_stats(norm, "mean", s->mean, s, err, err_len);
	if (r == 0)
		r = parse_stats(norm, "std", s->std, s, err, err_len);
	return r;
}

int
feature_spec_from_json(const cJSON *json, struct feature_spec **out, char *err, size_t err_len)
{
	struct feature_spec *s;
	double window;
	size_t n;
	int r;

	*out = NULL;
	if (!cJSON_IsObject(json)) {
		snprintf(err, err_len, "features: expected an object");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, err_len, "features: out of memory");
		return -ENOMEM;
	}
	r = json_number(json, "window", &window, err, err_len);
	if (r == 0 && (window != floor(window) || window < 1 || window > FEATURES_MAX_WINDOW)) {
		snprintf(err, err_len, "features.window: expected an integer in 1..%d",
			 FEATURES_MAX_WINDOW);
		r = -EINVAL;
	}
	if (r < 0)
		goto fail;
	s->window = (size_t)window;
	r = parse_regimes(json, s, err, err_len);
	if (r == 0)
		r = parse_sensors(json, s, err, err_len);
	if (r == 0)
		r = json_spans(json, "mean_spans", s->mean_spans, &s->mean_span_count, err, err_len);
	if (r == 0)
		r = json_spans(json, "std_spans", s->std_spans, &s->std_span_count, err, err_len);
	if (r == 0)
		r = json_spans(json, "slope_spans", s->slope_spans, &s->slope_span_count, err,
			       err_len);
	if (r == 0)
		r = json_doubles(cJSON_GetObjectItemCaseSensitive(json, "ewma_alpha"),
				 "features.ewma_alpha", s->ewma_alpha, FEATURES_MAX_SPANS, &n, err,
				 err_len);
	if (r < 0)
		goto fail;
	s->ewma_count = n;
	r = json_bool(json, "last", &s->with_last, err, err_len);
	if (r == 0)
		r = json_bool(json, "cycle", &s->with_cycle, err, err_len);
	if (r == 0)
		r = feature_spec_finish(s, err, err_len);
	if (r < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	feature_spec_free(s);
	return r;
}

static cJSON *
doubles_json(const double *v, size_t n)
{
	return cJSON_CreateDoubleArray(v, (int)n);
}

static cJSON *
spans_json(const size_t *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	return a;
}

cJSON *
feature_spec_to_json(const struct feature_spec *s)
{
	cJSON *j = cJSON_CreateObject(), *reg, *centers, *sensors, *norm, *mean, *std, *names;
	size_t i;

	if (j == NULL)
		return NULL;
	cJSON_AddNumberToObject(j, "window", (double)s->window);
	reg = cJSON_AddObjectToObject(j, "regimes");
	cJSON_AddItemToObject(reg, "scale", doubles_json(s->setting_scale, CMAPSS_N_SETTINGS));
	centers = cJSON_AddArrayToObject(reg, "centers");
	for (i = 0; i < s->regime_count; i++)
		cJSON_AddItemToArray(centers, doubles_json(s->centers[i], CMAPSS_N_SETTINGS));
	sensors = cJSON_AddArrayToObject(j, "sensors");
	for (i = 0; i < s->sensor_count; i++)
		cJSON_AddItemToArray(sensors, cJSON_CreateString(
						      cmapss_input_name((size_t)s->sensors[i])));
	norm = cJSON_AddObjectToObject(j, "normalisation");
	mean = cJSON_AddArrayToObject(norm, "mean");
	std = cJSON_AddArrayToObject(norm, "std");
	for (i = 0; i < s->regime_count; i++) {
		cJSON_AddItemToArray(mean, doubles_json(s->mean[i], s->sensor_count));
		cJSON_AddItemToArray(std, doubles_json(s->std[i], s->sensor_count));
	}
	cJSON_AddItemToObject(j, "mean_spans", spans_json(s->mean_spans, s->mean_span_count));
	cJSON_AddItemToObject(j, "std_spans", spans_json(s->std_spans, s->std_span_count));
	cJSON_AddItemToObject(j, "slope_spans", spans_json(s->slope_spans, s->slope_span_count));
	cJSON_AddItemToObject(j, "ewma_alpha", doubles_json(s->ewma_alpha, s->ewma_count));
	cJSON_AddBoolToObject(j, "last", s->with_last);
	cJSON_AddBoolToObject(j, "cycle", s->with_cycle);
	/* Informational (regenerated on load): the order of the model's input columns. */
	names = cJSON_AddArrayToObject(j, "names");
	for (i = 0; i < s->count; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(s->names[i]));
	if (reg == NULL || centers == NULL || sensors == NULL || norm == NULL || mean == NULL ||
	    std == NULL || names == NULL) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

void
feature_spec_free(struct feature_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->names);
	free(spec);
}

size_t
feature_spec_count(const struct feature_spec *spec)
{
	return spec->count;
}

const char *
feature_spec_name(const struct feature_spec *spec, size_t i)
{
	return i < spec->count ? spec->names[i] : NULL;
}

size_t
feature_spec_window(const struct feature_spec *spec)
{
	return spec->window;
}

/* ---- computation ----------------------------------------------------------------------- */

/*
 * The window statistics of every sensor at once. One sensor's sum over a span is a chain of
 * dependent additions (and its EWMA of dependent multiply-adds), a few cycles a step; the 15
 * sensors' chains side by side run in about the time of one. Each sensor's value still goes
 * through exactly the operations, in the order, of the one-sensor formula given with each
 * function, so it is the same double. z holds m cycles of CMAPSS_N_SENSORS values (the sensor
 * i of cycle t at z[t * CMAPSS_N_SENSORS + i]); out[i] receives sensor i's statistic.
 */

/* The mean of the last span values (fewer when m < span): sum in cycle order / count. */
static void
span_mean_all(const double *z, size_t m, size_t sensors, size_t span, double *out)
{
	size_t k = span < m ? span : m, t, i;

	for (i = 0; i < sensors; i++)
		out[i] = 0;
	for (t = m - k; t < m; t++)
		for (i = 0; i < sensors; i++)
			out[i] += z[t * CMAPSS_N_SENSORS + i];
	for (i = 0; i < sensors; i++)
		out[i] /= (double)k;
}

/*
 * The means of the spans of a spec, each computed once: std and slope of a span need its mean,
 * and the default spec asks for the mean of 10 and 30 cycles three times each. A span of m
 * cycles or more is the mean of all m, so they share one (same double: same operations).
 */
struct span_means {
	size_t count;
	size_t k[3 * FEATURES_MAX_SPANS];
	double mean[3 * FEATURES_MAX_SPANS][CMAPSS_N_SENSORS];
};

static const double *
span_mean_once(struct span_means *c, const double *z, size_t m, size_t sensors, size_t span)
{
	size_t k = span < m ? span : m, i;

	for (i = 0; i < c->count; i++)
		if (c->k[i] == k)
			return c->mean[i];
	c->k[c->count] = k;
	span_mean_all(z, m, sensors, span, c->mean[c->count]);
	return c->mean[c->count++];
}

/* The population standard deviation of the last span values (0 for a single value); mu is
 * their mean. */
static void
span_std_all(const double *z, size_t m, size_t sensors, size_t span, const double *mu,
	     double *out)
{
	size_t k = span < m ? span : m, t, i;

	for (i = 0; i < sensors; i++)
		out[i] = 0;
	if (k < 2)
		return;
	for (t = m - k; t < m; t++)
		for (i = 0; i < sensors; i++) {
			double d = z[t * CMAPSS_N_SENSORS + i] - mu[i];

			out[i] += d * d;
		}
	for (i = 0; i < sensors; i++)
		out[i] = sqrt(out[i] / (double)k);
}

/* Least-squares slope per cycle over the last span values (0 for a single value); ym is
 * their mean. */
static void
span_slope_all(const double *z, size_t m, size_t sensors, size_t span, const double *ym,
	       double *out)
{
	size_t k = span < m ? span : m, t, i;
	double xm = ((double)k - 1) / 2, sxx = 0;

	for (i = 0; i < sensors; i++)
		out[i] = 0;
	if (k < 2)
		return;
	for (t = 0; t < k; t++) {
		double dx = (double)t - xm;

		for (i = 0; i < sensors; i++)
			out[i] += dx * (z[(m - k + t) * CMAPSS_N_SENSORS + i] - ym[i]);
		sxx += dx * dx;
	}
	for (i = 0; i < sensors; i++)
		out[i] /= sxx;
}

/*
 * The EWMA, e = alpha * z + (1 - alpha) * e from e = z[0]: the smoothing starts at the first
 * cycle of the window, so it is causal and window-bound.
 */
static void
ewma_all(const double *z, size_t m, size_t sensors, double alpha, double *out)
{
	size_t t, i;

	for (i = 0; i < sensors; i++)
		out[i] = z[i];
	for (t = 1; t < m; t++)
		for (i = 0; i < sensors; i++)
			out[i] = alpha * z[t * CMAPSS_N_SENSORS + i] + (1 - alpha) * out[i];
}

int
features_last(const struct feature_spec *spec, const double *inputs, const int64_t *cycles,
	      size_t n, float *out)
{
	double z[FEATURES_MAX_WINDOW * CMAPSS_N_SENSORS];
	double mean[FEATURES_MAX_SPANS][CMAPSS_N_SENSORS], sd[FEATURES_MAX_SPANS][CMAPSS_N_SENSORS];
	double slope[FEATURES_MAX_SPANS][CMAPSS_N_SENSORS], ew[FEATURES_MAX_SPANS][CMAPSS_N_SENSORS];
	struct span_means means;
	size_t m, start, t, i, k, f = 0, ns = spec->sensor_count;

	if (n == 0)
		return -EINVAL;
	m = n < spec->window ? n : spec->window;
	start = n - m;
	for (t = 0; t < m; t++) {
		const double *row = inputs + (start + t) * CMAPSS_N_INPUTS;
		size_t reg = feature_spec_regime(spec, row);

		for (i = 0; i < ns; i++)
			z[t * CMAPSS_N_SENSORS + i] =
				(row[spec->sensors[i]] - spec->mean[reg][i]) / spec->std[reg][i];
	}
	means.count = 0;
	for (k = 0; k < spec->mean_span_count; k++)
		memcpy(mean[k], span_mean_once(&means, z, m, ns, spec->mean_spans[k]),
		       ns * sizeof(double));
	for (k = 0; k < spec->std_span_count; k++)
		span_std_all(z, m, ns, spec->std_spans[k],
			     span_mean_once(&means, z, m, ns, spec->std_spans[k]), sd[k]);
	for (k = 0; k < spec->slope_span_count; k++)
		span_slope_all(z, m, ns, spec->slope_spans[k],
			       span_mean_once(&means, z, m, ns, spec->slope_spans[k]), slope[k]);
	for (k = 0; k < spec->ewma_count; k++)
		ewma_all(z, m, ns, spec->ewma_alpha[k], ew[k]);
	if (spec->with_cycle)
		out[f++] = (float)cycles[n - 1];
	for (i = 0; i < ns; i++) {
		if (spec->with_last)
			out[f++] = (float)z[(m - 1) * CMAPSS_N_SENSORS + i];
		for (k = 0; k < spec->mean_span_count; k++)
			out[f++] = (float)mean[k][i];
		for (k = 0; k < spec->std_span_count; k++)
			out[f++] = (float)sd[k][i];
		for (k = 0; k < spec->slope_span_count; k++)
			out[f++] = (float)slope[k][i];
		for (k = 0; k < spec->ewma_count; k++)
			out[f++] = (float)ew[k][i];
	}
	return 0;
}

int
features_all(const struct feature_spec *spec, const double *inputs, const int64_t *cycles,
	     size_t n, float *out)
{
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++)
		features_last(spec, inputs, cycles, i + 1, out + i * spec->count);
	return 0;
}
