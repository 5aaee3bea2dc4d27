/* SPDX-License-Identifier: MIT */
/* test_bundle.c - bundle.json: save/load round trip, validation errors, the committed bundle. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "bundle.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "synth.h"
#include "train_data.h"

Suite *bundle_suite(void);

static char tmpdir[64];
static char bdir[128];

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* A bundle from synthetic FD001: fitted spec, drift reference, 3 held-out units. */
static void
setup(void)
{
	static char *subsets[] = { "FD001" };
	static int64_t holdout[] = { 2, 5, 9 };
	struct synth_options o;
	struct cmapss_table t;
	struct feature_options fo;
	struct bundle b;
	char err[256], path[256];
	double *labels;
	size_t i;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rulsrv-bundle-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	synth_options_default(&o);
	o.train_units = 6;
	o.test_units = 2;
	ck_assert_msg(synth_write(tmpdir, &o, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/train_FD001.txt", tmpdir);
	ck_assert_int_eq(cmapss_read(path, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(cmapss_labels(&t, 125, &labels), 0);
	feature_options_default(&fo);
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(feature_spec_fit(&t, NULL, labels, &fo, &b.features, err, sizeof(err)), 0);
	ck_assert_int_eq(drift_ref_build(&t, NULL, b.drift), 0);
	snprintf(bdir, sizeof(bdir), "%s/bundle", tmpdir);
	ck_assert_int_eq(mkdir(bdir, 0755), 0);
	snprintf(path, sizeof(path), "%s/model.json", bdir);
	write_text(path, "{}");
	b.name = "rul-test";
	b.version = "1.2.3";
	b.subsets = subsets;
	b.subset_count = 1;
	b.model_path = path;
	b.rul_cap = 125;
	b.holdout_units = holdout;
	b.holdout_count = 3;
	b.holdout_subset = "FD001";
	b.evaluation = cJSON_Parse("{\"test\": [{\"subset\": \"FD001\", \"rmse_capped\": 12.5}]}");
	ck_assert_msg(bundle_save(&b, bdir, err, sizeof(err)) == 0, "%s", err);
	cJSON_Delete(b.evaluation);
	feature_spec_free(b.features);
	for (i = 0; i < CMAPSS_N_INPUTS; i++) {
		free(b.drift[i].edges);
		free(b.drift[i].expected);
	}
	free(labels);
	cmapss_table_free(&t);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(round_trip)
{
	struct bundle *b;
	char err[256], path[256];

	ck_assert_msg(bundle_load(bdir, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(b->name, "rul-test");
	ck_assert_str_eq(b->version, "1.2.3");
	ck_assert_uint_eq(b->subset_count, 1);
	ck_assert_str_eq(b->subsets[0], "FD001");
	snprintf(path, sizeof(path), "%s/model.json", bdir);
	ck_assert_str_eq(b->model_path, path);
	ck_assert_double_eq(b->rul_cap, 125);
	ck_assert_uint_eq(b->holdout_count, 3);
	ck_assert_int_eq(b->holdout_units[2], 9);
	ck_assert_str_eq(b->holdout_subset, "FD001");
	ck_assert_str_eq(b->drift[0].name, "setting1");
	ck_assert_str_eq(b->drift[23].name, "s21");
	ck_assert_int_eq(b->drift[3].kind, DRIFT_BINS_CONSTANT);
	ck_assert_uint_eq(b->drift[6].bin_count, 10);
	ck_assert_ptr_nonnull(b->evaluation);
	ck_assert_uint_gt(feature_spec_count(b->features), 10);
	ck_assert_uint_eq(bundle_input_count(b), CMAPSS_N_INPUTS);
	ck_assert_str_eq(bundle_input_names(b)[0], "setting1");
	ck_assert_str_eq(bundle_input_names(b)[CMAPSS_N_SETTINGS + 20], "s21");
	/* Saved again and reloaded: the same file. */
	ck_assert_int_eq(bundle_save(b, bdir, err, sizeof(err)), 0);
	bundle_free(b);
	ck_assert_int_eq(bundle_load(bdir, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b->holdout_count, 3);
	bundle_free(b);
	bundle_free(NULL);
}
END_TEST

START_TEST(bin_index_counts_edges_below)
{
	double edges[] = { 1, 2, 3 }, expected[] = { 0.25, 0.25, 0.25, 0.25 };
	struct drift_feature_ref r = { "x", DRIFT_BINS_QUANTILE, 4, edges, expected };

	ck_assert_uint_eq(drift_bin_index(&r, 0.5), 0);
	ck_assert_uint_eq(drift_bin_index(&r, 1), 0); /* not strictly above the first edge */
	ck_assert_uint_eq(drift_bin_index(&r, 1.5), 1);
	ck_assert_uint_eq(drift_bin_index(&r, 3), 2);
	ck_assert_uint_eq(drift_bin_index(&r, 3.01), 3);
	ck_assert_uint_eq(drift_bin_index(&r, INFINITY), 3);
}
END_TEST

/* Edit bundle.json with fn, load, expect an error naming the file and containing want. */
static void
expect_error(void (*fn)(cJSON *), const char *want)
{
	char path[256], err[512] = "", *text;
	struct bundle *b;
	cJSON *root;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/bundle.json", bdir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), len);
	fclose(f);
	root = cJSON_Parse(text);
	free(text);
	fn(root);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	write_text(path, text);
	free(text);
	ck_assert_int_lt(bundle_load(bdir, &b, err, sizeof(err)), 0);
	ck_assert_ptr_null(b);
	ck_assert_msg(strstr(err, "bundle.json") != NULL && strstr(err, want) != NULL,
		      "want '%s', got '%s'", want, err);
}

static void
no_name(cJSON *j)
{
	cJSON_DeleteItemFromObject(j, "name");
}

static void
bad_subset(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "subsets", cJSON_Parse("[\"FD009\"]"));
}

static void
model_outside(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "model", cJSON_CreateString("../model.json"));
}

static void
model_missing(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "model", cJSON_CreateString("absent.json"));
}

static void
short_drift(cJSON *j)
{
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(j, "drift"), 23);
}

static void
drift_sum(cJSON *j)
{
	cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "drift"), 6);

	cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "expected"), 0), 0.5);
}

static void
drift_order(cJSON *j)
{
	cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "drift"), 6);
	cJSON *e = cJSON_GetObjectItem(d, "edges");

	cJSON_SetNumberValue(cJSON_GetArrayItem(e, 1), cJSON_GetArrayItem(e, 0)->valuedouble - 1);
}

static void
drift_name(cJSON *j)
{
	cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "drift"), 4);

	cJSON_ReplaceItemInObject(d, "name", cJSON_CreateString("s9"));
}

static void
drift_kind(cJSON *j)
{
	cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "drift"), 4);

	cJSON_ReplaceItemInObject(d, "kind", cJSON_CreateString("gaussian"));
}

static void
bad_window(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "features"), "window",
				  cJSON_CreateNumber(1000));
}

static void
bad_cap(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "rul_cap", cJSON_CreateNumber(-1));
}

static void
bad_holdout(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "holdout"), "units",
				  cJSON_Parse("[1, 2.5]"));
}

static void
bad_format(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "format", cJSON_CreateNumber(99));
}

#define ERROR_TEST(fn, want)                      \
	START_TEST(error_##fn)                    \
	{                                         \
		expect_error(fn, want);           \
	}                                         \
	END_TEST

ERROR_TEST(no_name, "name: expected a non-empty string")
ERROR_TEST(bad_subset, "subsets[0]: expected FD001..FD004")
ERROR_TEST(model_outside, "model: expected a file name inside the bundle directory")
ERROR_TEST(model_missing, "absent.json' is not a readable file")
ERROR_TEST(short_drift, "drift: expected an array of 24 inputs")
ERROR_TEST(drift_sum, "drift[6] (s4): expected proportions sum to")
ERROR_TEST(drift_order, "drift[6] (s4): edges must be strictly ascending")
ERROR_TEST(drift_name, "drift[4].name: expected \"s2\"")
ERROR_TEST(drift_kind, "drift[4].kind")
ERROR_TEST(bad_window, "features.window")
ERROR_TEST(bad_cap, "rul_cap")
ERROR_TEST(bad_holdout, "holdout.units[1]")
ERROR_TEST(bad_format, "format: expected 1")

START_TEST(invalid_json_and_absent)
{
	char path[256], err[256];
	struct bundle *b;

	snprintf(path, sizeof(path), "%s/bundle.json", bdir);
	write_text(path, "{\n\"name\": \"x\",\n oops\n}");
	ck_assert_int_eq(bundle_load(bdir, &b, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "bundle.json:3: invalid JSON") != NULL, "got '%s'", err);
	ck_assert_int_eq(bundle_load(tmpdir, &b, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "got '%s'", err);
}
END_TEST

/* The committed default bundle loads, with its 20 held-out FD001 engines. */
START_TEST(committed_fd001)
{
	struct bundle *b;
	char err[512];

	ck_assert_msg(bundle_load(RULSRV_SOURCE_DIR "/models/fd001", &b, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(b->name, "rul-fd001");
	ck_assert_str_eq(b->subsets[0], "FD001");
	ck_assert_uint_eq(b->holdout_count, 20);
	ck_assert_str_eq(b->holdout_subset, "FD001");
	ck_assert_double_eq(b->rul_cap, 125);
	ck_assert_uint_eq(feature_spec_window(b->features), 30);
	bundle_free(b);
}
END_TEST

Suite *
bundle_suite(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("bundle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, bin_index_counts_edges_below);
	tcase_add_test(tc, error_no_name);
	tcase_add_test(tc, error_bad_subset);
	tcase_add_test(tc, error_model_outside);
	tcase_add_test(tc, error_model_missing);
	tcase_add_test(tc, error_short_drift);
	tcase_add_test(tc, error_drift_sum);
	tcase_add_test(tc, error_drift_order);
	tcase_add_test(tc, error_drift_name);
	tcase_add_test(tc, error_drift_kind);
	tcase_add_test(tc, error_bad_window);
	tcase_add_test(tc, error_bad_cap);
	tcase_add_test(tc, error_bad_holdout);
	tcase_add_test(tc, error_bad_format);
	tcase_add_test(tc, invalid_json_and_absent);
	tcase_add_test(tc, committed_fd001);
	suite_add_tcase(s, tc);
	return s;
}
