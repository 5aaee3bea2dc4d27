/* SPDX-License-Identifier: MIT */
/* test_predict_backends.c - predict_forest equals XGBoost; XGBoost is safe across threads. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <xgboost/c_api.h>

#include "bundle.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "forest.h"
#include "forest_backend.h"
#include "harness/harness.h"
#include "need.h"
#include "xgb_backend.h"

Suite *predict_backends_suite(void);

#define XGB_OK(call) ck_assert_msg((call) == 0, "%s: %s", #call, XGBGetLastError())

static uint64_t rng_state = 42;

static double
rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* n x f random features, a fraction of them missing (NaN), and a label that uses both. */
static void
synthetic(size_t n, size_t f, double missing, float *x, float *y)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < f; j++)
			x[i * f + j] = rnd() < missing ? NAN : (float)(rnd() * 100 - 50);
		y[i] = (float)((isnan(x[i * f]) ? 7 : x[i * f]) * 0.8 +
			       (isnan(x[i * f + 1]) ? -20 : sin(x[i * f + 1] / 8) * 30) +
			       (f > 2 && !isnan(x[i * f + 2]) && x[i * f + 2] > 10 ? 40 : 0) +
			       rnd() * 5);
	}
}

/* Train with XGBoost's C API and save the JSON model to path. params: NULL-terminated pairs. */
static void
train(const float *x, const float *y, size_t n, size_t f, const char *const *params, int rounds,
      const char *path)
{
	DMatrixHandle d;
	BoosterHandle b;
	int i;

	XGB_OK(XGDMatrixCreateFromMat(x, (bst_ulong)n, (bst_ulong)f, NAN, &d));
	XGB_OK(XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)n));
	XGB_OK(XGBoosterCreate(&d, 1, &b));
	XGB_OK(XGBoosterSetParam(b, "nthread", "1"));
	XGB_OK(XGBoosterSetParam(b, "seed", "3"));
	for (; params != NULL && *params != NULL; params += 2)
		XGB_OK(XGBoosterSetParam(b, params[0], params[1]));
	for (i = 0; i < rounds; i++)
		XGB_OK(XGBoosterUpdateOneIter(b, i, d));
	XGB_OK(XGBoosterSaveModel(b, path));
	XGBoosterFree(b);
	XGDMatrixFree(d);
}

static void
temp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/rulsrv-backends-%d-%s", (int)getpid(), name);
}

/* Both backends over the same rows; returns the largest difference. */
static double
compare_backends(const char *model, const float *x, size_t n, size_t f, size_t batch)
{
	void *fm = NULL, *xm = NULL;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	char err[512];
	double worst = 0;
	size_t i, k;

	ck_assert_msg(forest_backend.load(model, f, &fm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(xgb_backend.load(model, f, &xm, err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < n; i += batch) {
		k = n - i < batch ? n - i : batch;
		ck_assert_int_eq(forest_backend.predict(fm, x + i * f, k, a + i), 0);
		ck_assert_int_eq(xgb_backend.predict(xm, x + i * f, k, b + i), 0);
	}
	for (i = 0; i < n; i++) {
		ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f, "row %zu: forest %.9g, xgboost %.9g", i,
			      (double)a[i], (double)b[i]);
		if (fabs((double)a[i] - (double)b[i]) > worst)
			worst = fabs((double)a[i] - (double)b[i]);
	}
	forest_backend.free_model(fm);
	xgb_backend.free_model(xm);
	free(a);
	free(b);
	return worst;
}

/* Random data with missing values, several shapes of model, several batch sizes. */
START_TEST(test_forest_equals_xgboost_synthetic)
{
	static const char *const deep[] = { "max_depth", "8", "eta", "0.3", "base_score", "12.5",
					    NULL };
	static const char *const shallow[] = { "max_depth", "2", "eta", "0.5", NULL };
	static const char *const huber[] = { "objective", "reg:pseudohubererror", "max_depth", "4",
					     NULL };
	static const char *const lossguide[] = { "grow_policy", "lossguide", "max_leaves", "40",
						 "max_depth", "0", "tree_method", "hist", NULL };
	static const char *const very_deep[] = { "max_depth", "14", "min_child_weight", "0",
						 "lambda", "0", "eta", "0.5", NULL };
	const char *const *params[] = { deep, shallow, huber, lossguide, very_deep };
	const size_t n = 3000, f = 12, test_n = 2000;
	float *x = malloc(n * f * sizeof(float)), *y = malloc(n * sizeof(float));
	float *tx = malloc(test_n * f * sizeof(float)), *ty = malloc(test_n * sizeof(float));
	char path[128];
	size_t p;
	double worst;

	synthetic(n, f, 0.15, x, y);
	synthetic(test_n, f, 0.25, tx, ty);
	/* exact thresholds and extreme values too */
	tx[0] = x[0];
	tx[f + 3] = 1e30f;
	tx[2 * f + 3] = -1e30f;
	temp_path(path, sizeof(path), "synthetic.json");
	for (p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
		train(x, y, n, f, params[p], p == 0 ? 60 : 25, path);
		{
			struct forest *fo = NULL;
			char err[256];

			ck_assert_msg(forest_load(path, f, &fo, err, sizeof(err)) == 0, "%s", err);
			/* both walks are exercised: complete trees, and node by node when deep */
			if (p != 3)
				ck_assert(forest_complete_layout(fo) == (p != 4));
			forest_free(fo);
		}
		worst = compare_backends(path, tx, test_n, f, 1);
		worst = fmax(worst, compare_backends(path, tx, test_n, f, 7));
		worst = fmax(worst, compare_backends(path, tx, test_n, f, 256));
		fprintf(stderr, "predict_backends: synthetic model %zu: largest |forest - xgboost| "
			"= %g\n", p, worst);
	}
	unlink(path);
	free(x);
	free(y);
	free(tx);
	free(ty);
}
END_TEST

/* Models the forest must refuse with a reason rather than predict wrongly. */
START_TEST(test_forest_refuses)
{
	static const char *const logistic[] = { "objective", "binary:logistic", NULL };
	const size_t n = 200, f = 3;
	float x[200 * 3], y[200];
	struct forest *fo = NULL;
	char path[128], err[256];
	size_t i;

	synthetic(n, f, 0, x, y);
	for (i = 0; i < n; i++)
		y[i] = y[i] > 0;
	temp_path(path, sizeof(path), "logistic.json");
	train(x, y, n, f, logistic, 3, path);
	ck_assert_int_eq(forest_load(path, f, &fo, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "objective 'binary:logistic' is not supported") != NULL, "%s",
		      err);
	unlink(path);
	ck_assert_int_lt(forest_load(path, f, &fo, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
	ck_assert_int_eq(forest_load_text("{\"learner\": 1", 13, f, &fo, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(forest_load_text("{}", 2, f, &fo, err, sizeof(err)), -EINVAL);

	train(x, y, n, f, NULL, 3, path);
	ck_assert_int_eq(forest_load(path, f + 1, &fo, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "model has 3 features, the bundle's pipeline 4") != NULL, "%s",
		      err);
	ck_assert_int_eq(forest_load(path, f, &fo, err, sizeof(err)), 0);
	ck_assert_uint_eq(forest_tree_count(fo), 3);
	forest_free(fo);
	unlink(path);
}
END_TEST

/* ---- the real data -------------------------------------------------------------------------- */

/* models/fd001 when committed, else a bundle trained now with rulsrv-train; NULL: neither. */
static const char *
real_bundle(char *buf, size_t len)
{
	char train_bin[512], *out = NULL;
	int status = -1;

	snprintf(buf, len, "%s/models/fd001/bundle.json", RULSRV_SOURCE_DIR);
	if (access(buf, R_OK) == 0) {
		snprintf(buf, len, "%s/models/fd001", RULSRV_SOURCE_DIR);
		return buf;
	}
	snprintf(train_bin, sizeof(train_bin), "%s/bin/rulsrv-train", RULSRV_BUILD_DIR);
	if (access(train_bin, X_OK) != 0)
		return NULL;
	temp_path(buf, len, "bundle");
	{
		const char *argv[] = { train_bin, "--subset", "FD001", "--out", buf, "--no-tune",
				       "--rounds", "60", "--max-depth", "6", "--eta", "0.15",
				       "--threads", "1", "--quiet", NULL };

		if (harness_run(argv, &out, &status) != 0 || status != 0) {
			fprintf(stderr, "rulsrv-train failed: %s\n", out ? out : "");
			free(out);
			return NULL;
		}
	}
	free(out);
	return buf;
}

/* Features of every row of every unit of a test file, as serving computes them. */
static float *
file_features(const struct bundle *b, const char *path, size_t *rows_out)
{
	struct cmapss_table t = { 0 };
	size_t nf = feature_spec_count(b->features), i, start;
	float *x;
	char err[256];

	ck_assert_msg(cmapss_read(path, &t, err, sizeof(err)) == 0, "%s", err);
	x = malloc(t.rows * nf * sizeof(float));
	for (start = 0, i = 1; i <= t.rows; i++) {
		if (i < t.rows && t.unit[i] == t.unit[start])
			continue;
		ck_assert_int_eq(features_all(b->features, t.values + start * CMAPSS_N_INPUTS,
					      t.cycle + start, i - start, x + start * nf), 0);
		start = i;
	}
	*rows_out = t.rows;
	cmapss_table_free(&t);
	return x;
}

START_TEST(test_forest_equals_xgboost_cmapss)
{
	static const char *const subsets[] = { "FD001", "FD002", "FD003", "FD004" };
	char dir[512], bdir[512], path[600], file[64], err[512];
	struct bundle *b = NULL;
	size_t s, rows, nf;
	float *x;
	double worst;

	ck_assert_int_eq(cmapss_find_dir(dir, sizeof(dir)), 0); /* tcase_needs "cmapss" */
	if (real_bundle(bdir, sizeof(bdir)) == NULL) {
		test_skip("no models/fd001, and no bundle could be trained");
		return;
	}
	ck_assert_msg(bundle_load(bdir, &b, err, sizeof(err)) == 0, "%s", err);
	nf = feature_spec_count(b->features);
	for (s = 0; s < 4; s++) {
		snprintf(file, sizeof(file), "test_%s.txt", subsets[s]);
		ck_assert_int_eq(cmapss_path(dir, file, path, sizeof(path)), 0);
		x = file_features(b, path, &rows);
		worst = compare_backends(b->model_path, x, rows, nf, 64);
		fprintf(stderr, "predict_backends: %s: %zu rows, largest |forest - xgboost| = %g\n",
			subsets[s], rows, worst);
		free(x);
	}
	bundle_free(b);
	if (strncmp(bdir, "/tmp/rulsrv-backends-", 21) == 0) {
		/* the bundle trained for this run */
		snprintf(path, sizeof(path), "%s/%s", bdir, BUNDLE_FILE);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", bdir, BUNDLE_MODEL_FILE);
		unlink(path);
		rmdir(bdir);
	}
}
END_TEST

/* ---- concurrency ------------------------------------------------------------------------- */

struct worker {
	const struct predict_backend_ops *ops;
	void *model;
	const float *x;
	size_t n, f;
	const float *want;
	int mismatches;
	int errors;
};

/* Predict every row again and again in batches of changing size; count any difference. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	float *got = malloc(w->n * sizeof(float));
	size_t round, i, k, batch;

	for (round = 0; round < 12; round++) {
		batch = 1 + round * 13 % 97;
		for (i = 0; i < w->n; i += batch) {
			k = w->n - i < batch ? w->n - i : batch;
			if (w->ops->predict(w->model, w->x + i * w->f, k, got + i) != 0)
				w->errors++;
		}
		for (i = 0; i < w->n; i++)
			if (memcmp(&got[i], &w->want[i], sizeof(float)) != 0)
				w->mismatches++;
	}
	free(got);
	return NULL;
}

static void
check_threads(const struct predict_backend_ops *ops, const char *model, const float *x, size_t n,
	      size_t f)
{
	enum { THREADS = 8 };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	float *want = malloc(n * sizeof(float));
	void *m = NULL;
	char err[256];
	size_t i;

	ck_assert_msg(ops->load(model, f, &m, err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ops->predict(m, x + i * f, 1, want + i), 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .ops = ops, .model = m, .x = x, .n = n, .f = f,
					.want = want };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(w[i].errors == 0, "%s: thread %zu: %d failed calls", ops->name, i,
			      w[i].errors);
		ck_assert_msg(w[i].mismatches == 0, "%s: thread %zu: %d predictions differ from "
			      "one thread's", ops->name, i, w[i].mismatches);
	}
	ops->free_model(m);
	free(want);
}

START_TEST(test_threads_agree)
{
	static const char *const params[] = { "max_depth", "6", NULL };
	const size_t n = 1500, f = 10;
	float *x = malloc(n * f * sizeof(float)), *y = malloc(n * sizeof(float));
	char path[128];

	synthetic(n, f, 0.1, x, y);
	temp_path(path, sizeof(path), "threads.json");
	train(x, y, n, f, params, 40, path);
	check_threads(&xgb_backend, path, x, n, f);
	check_threads(&forest_backend, path, x, n, f);
	unlink(path);
	free(x);
	free(y);
}
END_TEST

Suite *
predict_backends_suite(void)
{
	Suite *s = suite_create("predict_backends");
	TCase *tc = tcase_create("equality");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_forest_equals_xgboost_synthetic);
	tcase_add_test(tc, test_forest_refuses);
	suite_add_tcase(s, tc);
	tc = tcase_create("real_data");
	tcase_needs(tc, "cmapss");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_forest_equals_xgboost_cmapss);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_agree);
	suite_add_tcase(s, tc);
	return s;
}
