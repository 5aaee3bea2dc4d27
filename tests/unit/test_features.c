/* SPDX-License-Identifier: MIT */
/* test_features.c - the feature pipeline: regimes, normalisation, train/serve equality, drift bins. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bundle.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "feature_pipeline_impl.h"
#include "synth_dir.h"
#include "train_data.h"

Suite *features_suite(void);

static char tmpdir[SYNTH_DIR_LEN];

static void
setup(void)
{
	synth_dir_new(tmpdir, "features", 11, 12);
}

static void
teardown(void)
{
	synth_dir_remove(tmpdir);
}

static void
load(const char *file, struct cmapss_table *t)
{
	char path[256], err[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
	ck_assert_msg(cmapss_read(path, t, err, sizeof(err)) == 0, "%s", err);
}

static struct feature_spec *
fit(const struct cmapss_table *t, size_t window)
{
	struct feature_options o;
	struct feature_spec *spec;
	double *labels;
	char err[256];

	feature_options_default(&o);
	o.window = window;
	ck_assert_int_eq(cmapss_labels(t, 125, &labels), 0);
	ck_assert_msg(feature_spec_fit(t, NULL, labels, &o, &spec, err, sizeof(err)) == 0, "%s",
		      err);
	free(labels);
	return spec;
}

static bool
has_sensor(const struct feature_spec *spec, const char *name)
{
	char prefix[16];
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s_", name);
	for (i = 0; i < feature_spec_count(spec); i++)
		if (strncmp(feature_spec_name(spec, i), prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

START_TEST(regimes_and_informative_sensors)
{
	static const char *constant[] = { "s1", "s5", "s10", "s16", "s18", "s19" };
	struct cmapss_table t1, t2;
	struct feature_spec *s1, *s2;
	size_t i;

	load("train_FD001.txt", &t1);
	load("train_FD002.txt", &t2);
	s1 = fit(&t1, 30);
	s2 = fit(&t2, 30);
	ck_assert_uint_eq(feature_spec_regime_count(s1), 1);
	ck_assert_uint_eq(feature_spec_regime_count(s2), 6);
	for (i = 0; i < sizeof(constant) / sizeof(constant[0]); i++) {
		ck_assert_msg(!has_sensor(s1, constant[i]), "%s kept in FD001", constant[i]);
		ck_assert_msg(!has_sensor(s2, constant[i]), "%s kept in FD002", constant[i]);
	}
	ck_assert(has_sensor(s1, "s4") && has_sensor(s2, "s4"));
	ck_assert(has_sensor(s2, "s11"));
	ck_assert_str_eq(feature_spec_name(s1, 0), "cycle");
	ck_assert_uint_eq(feature_spec_window(s1), 30);
	feature_spec_free(s1);
	feature_spec_free(s2);
	cmapss_table_free(&t1);
	cmapss_table_free(&t2);
}
END_TEST

/* Per-regime normalisation removes the regime: s4_last spreads like noise, not like regimes. */
START_TEST(normalisation_removes_regimes)
{
	struct cmapss_table t;
	struct feature_spec *spec;
	size_t i, col = 0, F, *starts;
	double sum = 0, ss = 0, raw_min = INFINITY, raw_max = -INFINITY;
	float *x;
	long ne;

	load("train_FD002.txt", &t);
	spec = fit(&t, 30);
	F = feature_spec_count(spec);
	for (i = 0; i < F; i++)
		if (strcmp(feature_spec_name(spec, i), "s4_last") == 0)
			col = i;
	ck_assert_uint_ne(col, 0);
	x = malloc(t.rows * F * sizeof(*x));
	ne = cmapss_engines(&t, &starts);
	ck_assert_int_eq(ne, 12);
	for (i = 0; i < (size_t)ne; i++)
		features_all(spec, t.values + starts[i] * CMAPSS_N_INPUTS, t.cycle + starts[i],
			     starts[i + 1] - starts[i], x + starts[i] * F);
	for (i = 0; i < t.rows; i++) {
		double v = x[i * F + col], raw = t.values[i * CMAPSS_N_INPUTS + 6];

		sum += v;
		ss += v * v;
		raw_min = fmin(raw_min, raw);
		raw_max = fmax(raw_max, raw);
	}
	ck_assert_double_lt(fabs(sum / (double)t.rows), 0.05);
	ck_assert_double_lt(fabs(sqrt(ss / (double)t.rows) - 1), 0.05);
	ck_assert_double_gt(raw_max - raw_min, 50); /* the raw sensor does move with regimes */
	free(x);
	free(starts);
	feature_spec_free(spec);
	cmapss_table_free(&t);
}
END_TEST

/*
 * Serving gets a request with some cycles; training computed every row of an engine at
 * once. Row i of features_all must equal features_last on the cycles up to i, on the last
 * `window` of them alone, and on any longer history: bit for bit.
 */
static void
check_equality(const char *file, size_t window)
{
	struct cmapss_table t;
	struct feature_spec *spec;
	size_t e, i, F, *starts;
	float *all, one[256], cut[256];
	long ne;

	load(file, &t);
	spec = fit(&t, window);
	F = feature_spec_count(spec);
	ne = cmapss_engines(&t, &starts);
	ck_assert_int_gt(ne, 0);
	all = malloc(t.rows * F * sizeof(*all));
	for (e = 0; e < (size_t)ne; e++) {
		const double *in = t.values + starts[e] * CMAPSS_N_INPUTS;
		const int64_t *cy = t.cycle + starts[e];
		size_t n = starts[e + 1] - starts[e];

		ck_assert_int_eq(features_all(spec, in, cy, n, all), 0);
		for (i = 0; i < n; i++) {
			size_t from = i + 1 > window ? i + 1 - window : 0;

			ck_assert_int_eq(features_last(spec, in, cy, i + 1, one), 0);
			ck_assert_msg(memcmp(one, all + i * F, F * sizeof(float)) == 0,
				      "%s engine %zu cycle %zu: features_last != features_all", file,
				      e, i);
			features_last(spec, in + from * CMAPSS_N_INPUTS, cy + from, i + 1 - from,
				      cut);
			ck_assert_msg(memcmp(cut, one, F * sizeof(float)) == 0,
				      "%s engine %zu cycle %zu: depends on cycles before the window",
				      file, e, i);
		}
	}
	free(all);
	free(starts);
	feature_spec_free(spec);
	cmapss_table_free(&t);
}

START_TEST(train_serve_equality)
{
	check_equality("train_FD001.txt", 30);
	check_equality("train_FD004.txt", 30);
	check_equality("test_FD002.txt", 17);
	check_equality("test_FD003.txt", 64);
}
END_TEST

/*
 * The features by their definition, one sensor and one statistic at a time, as plainly as they
 * can be written: features_last computes all sensors side by side (and vectorized), and must
 * give these very floats. A reordered sum or a fused multiply-add would change a last bit.
 */
static double
ref_mean(const double *z, size_t m, size_t span)
{
	size_t k = span < m ? span : m, t;
	double sum = 0;

	for (t = m - k; t < m; t++)
		sum += z[t];
	return sum / (double)k;
}

static void
reference_features(const struct feature_spec *spec, const double *inputs,
		   const int64_t *cycles, size_t n, float *out)
{
	double z[FEATURES_MAX_WINDOW];
	size_t m = n < spec->window ? n : spec->window, i, t, k, j, f = 0;

	if (spec->with_cycle)
		out[f++] = (float)cycles[n - 1];
	for (i = 0; i < spec->sensor_count; i++) {
		for (t = 0; t < m; t++) {
			const double *row = inputs + (n - m + t) * CMAPSS_N_INPUTS;
			size_t reg = feature_spec_regime(spec, row);

			z[t] = (row[spec->sensors[i]] - spec->mean[reg][i]) / spec->std[reg][i];
		}
		if (spec->with_last)
			out[f++] = (float)z[m - 1];
		for (k = 0; k < spec->mean_span_count; k++)
			out[f++] = (float)ref_mean(z, m, spec->mean_spans[k]);
		for (k = 0; k < spec->std_span_count; k++) {
			size_t span = spec->std_spans[k], w = span < m ? span : m;
			double mu = ref_mean(z, m, span), ss = 0;

			for (t = m - w; t < m; t++)
				ss += (z[t] - mu) * (z[t] - mu);
			out[f++] = w < 2 ? 0.0f : (float)sqrt(ss / (double)w);
		}
		for (k = 0; k < spec->slope_span_count; k++) {
			size_t span = spec->slope_spans[k], w = span < m ? span : m;
			double xm = ((double)w - 1) / 2, ym = ref_mean(z, m, span), sxy = 0, sxx = 0;

			for (j = 0; j < w; j++) {
				sxy += ((double)j - xm) * (z[m - w + j] - ym);
				sxx += ((double)j - xm) * ((double)j - xm);
			}
			out[f++] = w < 2 ? 0.0f : (float)(sxy / sxx);
		}
		for (k = 0; k < spec->ewma_count; k++) {
			double a = spec->ewma_alpha[k], e = z[0];

			for (t = 1; t < m; t++)
				e = a * z[t] + (1 - a) * e;
			out[f++] = (float)e;
		}
	}
	ck_assert_uint_eq(f, feature_spec_count(spec));
}

/* Every cycle of every engine (windows filling up, then full), with one regime and with six. */
START_TEST(features_match_definition)
{
	static const struct {
		const char *file;
		size_t window;
	} sets[] = { { "train_FD001.txt", 30 }, { "train_FD004.txt", 30 }, { "test_FD002.txt", 7 } };
	float got[256], want[256];
	size_t s, e, i, F, *starts;
	long ne;

	for (s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		struct cmapss_table t;
		struct feature_spec *spec;

		load(sets[s].file, &t);
		spec = fit(&t, sets[s].window);
		F = feature_spec_count(spec);
		ne = cmapss_engines(&t, &starts);
		ck_assert_int_gt(ne, 0);
		for (e = 0; e < (size_t)ne; e++)
			for (i = 1; i <= starts[e + 1] - starts[e]; i++) {
				const double *in = t.values + starts[e] * CMAPSS_N_INPUTS;

				ck_assert_int_eq(features_last(spec, in, t.cycle + starts[e], i, got), 0);
				reference_features(spec, in, t.cycle + starts[e], i, want);
				ck_assert_msg(memcmp(got, want, F * sizeof(float)) == 0,
					      "%s engine %zu cycle %zu: not the definition's floats",
					      sets[s].file, e, i);
			}
		free(starts);
		feature_spec_free(spec);
		cmapss_table_free(&t);
	}
}
END_TEST

START_TEST(short_history_and_empty)
{
	struct cmapss_table t;
	struct feature_spec *spec;
	size_t F;
	float a[256], b[256];

	load("test_FD001.txt", &t);
	spec = fit(&t, 30);
	F = feature_spec_count(spec);
	/* One cycle: slopes and deviations are 0, means equal the value, cycle is the cycle. */
	ck_assert_int_eq(features_last(spec, t.values, t.cycle, 1, a), 0);
	ck_assert_float_eq(a[0], (float)t.cycle[0]);
	for (size_t i = 1; i < F; i++) {
		const char *n = feature_spec_name(spec, i);

		if (strstr(n, "_std") || strstr(n, "_slope"))
			ck_assert_float_eq(a[i], 0);
	}
	/* The same five cycles give the same features whoever computes them. */
	ck_assert_int_eq(features_last(spec, t.values, t.cycle, 5, a), 0);
	ck_assert_int_eq(features_last(spec, t.values, t.cycle, 5, b), 0);
	ck_assert_mem_eq(a, b, F * sizeof(float));
	ck_assert_int_eq(features_last(spec, t.values, t.cycle, 0, a), -EINVAL);
	ck_assert_int_eq(features_all(spec, t.values, t.cycle, 0, a), -EINVAL);
	feature_spec_free(spec);
	cmapss_table_free(&t);
}
END_TEST

START_TEST(json_round_trip)
{
	struct cmapss_table t;
	struct feature_spec *spec, *back;
	cJSON *j;
	char err[256];
	float a[256], b[256];
	size_t i;

	load("train_FD004.txt", &t);
	spec = fit(&t, 30);
	j = feature_spec_to_json(spec);
	ck_assert_ptr_nonnull(j);
	ck_assert_msg(feature_spec_from_json(j, &back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(feature_spec_count(back), feature_spec_count(spec));
	for (i = 0; i < feature_spec_count(spec); i++)
		ck_assert_str_eq(feature_spec_name(back, i), feature_spec_name(spec, i));
	for (i = 1; i <= 200; i += 37) {
		features_last(spec, t.values, t.cycle, i, a);
		features_last(back, t.values, t.cycle, i, b);
		ck_assert_mem_eq(a, b, feature_spec_count(spec) * sizeof(float));
	}
	feature_spec_free(back);
	cJSON_Delete(j);
	feature_spec_free(spec);
	cmapss_table_free(&t);
}
END_TEST

/* Change one member of a valid spec's JSON and expect the named error. */
static void
expect_spec_error(const cJSON *good, const char *key, cJSON *value, const char *want)
{
	cJSON *j = cJSON_Duplicate(good, 1);
	struct feature_spec *spec;
	char err[256] = "";

	cJSON_ReplaceItemInObjectCaseSensitive(j, key, value);
	ck_assert_int_eq(feature_spec_from_json(j, &spec, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(spec);
	ck_assert_msg(strstr(err, want) != NULL, "%s: want '%s', got '%s'", key, want, err);
	cJSON_Delete(j);
}

START_TEST(json_errors)
{
	struct cmapss_table t;
	struct feature_spec *spec;
	cJSON *good, *norm;
	const char *many[] = { "s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14",
			       "s15", "s17", "s20", "s21", "s6", "s1", "s5", "s10", "s16" };
	double spans[4] = { 5, 10, 20, 64 };

	load("train_FD001.txt", &t);
	spec = fit(&t, 30);
	good = feature_spec_to_json(spec);
	expect_spec_error(good, "window", cJSON_CreateNumber(0), "features.window");
	expect_spec_error(good, "window", cJSON_CreateNumber(65), "features.window");
	expect_spec_error(good, "mean_spans", cJSON_CreateDoubleArray(spans, 4),
			  "features.mean_spans[3]: 64 is outside 1..window (30)");
	expect_spec_error(good, "ewma_alpha", cJSON_CreateNumber(1), "features.ewma_alpha");
	expect_spec_error(good, "sensors", cJSON_CreateStringArray(many, 3),
			  "features.normalisation.mean[0]: expected 3 numbers");
	expect_spec_error(good, "last", cJSON_CreateNumber(1), "features.last");
	/* Too many features for the stack buffers of features_last. */
	{
		cJSON *j = cJSON_Duplicate(good, 1), *n = cJSON_CreateObject();
		cJSON *mean = cJSON_AddArrayToObject(n, "mean"), *std = cJSON_AddArrayToObject(n, "std");
		double big[4] = { 2, 3, 4, 5 }, alpha[4] = { 0.1, 0.2, 0.3, 0.4 }, ones[19];
		struct feature_spec *s;
		char err[256] = "";

		for (size_t i = 0; i < 19; i++)
			ones[i] = 1;
		cJSON_AddItemToArray(mean, cJSON_CreateDoubleArray(ones, 19));
		cJSON_AddItemToArray(std, cJSON_CreateDoubleArray(ones, 19));
		cJSON_ReplaceItemInObjectCaseSensitive(j, "sensors", cJSON_CreateStringArray(many, 19));
		cJSON_ReplaceItemInObjectCaseSensitive(j, "normalisation", n);
		cJSON_ReplaceItemInObjectCaseSensitive(j, "mean_spans", cJSON_CreateDoubleArray(big, 4));
		cJSON_ReplaceItemInObjectCaseSensitive(j, "std_spans", cJSON_CreateDoubleArray(big, 4));
		cJSON_ReplaceItemInObjectCaseSensitive(j, "slope_spans",
						       cJSON_CreateDoubleArray(big, 4));
		cJSON_ReplaceItemInObjectCaseSensitive(j, "ewma_alpha",
						       cJSON_CreateDoubleArray(alpha, 4));
		ck_assert_int_eq(feature_spec_from_json(j, &s, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "324 features, expected 1..256") != NULL, "got '%s'", err);
		cJSON_Delete(j);
	}
	/* A zero deviation would divide by zero when serving. */
	norm = cJSON_Duplicate(cJSON_GetObjectItem(good, "normalisation"), 1);
	cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(norm, "std"),
								     0), 2), 0);
	expect_spec_error(good, "normalisation", norm, "std finite and > 0");
	cJSON_Delete(good);
	feature_spec_free(spec);
	cmapss_table_free(&t);
}
END_TEST

START_TEST(drift_reference_bins)
{
	struct drift_feature_ref ref[CMAPSS_N_INPUTS];
	struct cmapss_table t;
	double sum;
	size_t i, k;

	load("train_FD001.txt", &t);
	ck_assert_int_eq(drift_ref_build(&t, NULL, ref), 0);
	/* s1 is constant: below / equal / above, everything equal. */
	ck_assert_str_eq(ref[3].name, "s1");
	ck_assert_int_eq(ref[3].kind, DRIFT_BINS_CONSTANT);
	ck_assert_uint_eq(ref[3].bin_count, 3);
	ck_assert_double_eq(ref[3].expected[1], 1);
	ck_assert_uint_eq(drift_bin_index(&ref[3], 518.67), 1);
	ck_assert_uint_eq(drift_bin_index(&ref[3], 518.0), 0);
	ck_assert_uint_eq(drift_bin_index(&ref[3], 600.0), 2);
	/* setting3 is constant too; s17 is an integer sensor: discrete. */
	ck_assert_int_eq(ref[2].kind, DRIFT_BINS_CONSTANT);
	ck_assert_int_eq(ref[19].kind, DRIFT_BINS_DISCRETE);
	ck_assert_uint_ge(ref[19].bin_count, 4);
	/* s4 is continuous: ten bins of about a tenth each. */
	ck_assert_int_eq(ref[6].kind, DRIFT_BINS_QUANTILE);
	ck_assert_uint_eq(ref[6].bin_count, 10);
	for (i = 0; i < CMAPSS_N_INPUTS; i++) {
		for (k = 1, sum = ref[i].expected[0]; k < ref[i].bin_count; k++) {
			if (k >= 2)
				ck_assert_double_lt(ref[i].edges[k - 2], ref[i].edges[k - 1]);
			sum += ref[i].expected[k];
			if (i == 5 || i == 6) /* s3, s4: fine-grained, few ties */
				ck_assert_double_lt(fabs(ref[i].expected[k] - 0.1), 0.03);
		}
		ck_assert_double_lt(fabs(sum - 1), 1e-9);
		free(ref[i].edges);
		free(ref[i].expected);
	}
	cmapss_table_free(&t);
}
END_TEST

Suite *
features_suite(void)
{
	Suite *s = suite_create("features");
	TCase *tc = tcase_create("pipeline");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, regimes_and_informative_sensors);
	tcase_add_test(tc, normalisation_removes_regimes);
	tcase_add_test(tc, train_serve_equality);
	tcase_add_test(tc, features_match_definition);
	tcase_add_test(tc, short_history_and_empty);
	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, json_errors);
	tcase_add_test(tc, drift_reference_bins);
	suite_add_tcase(s, tc);
	return s;
}
