/* SPDX-License-Identifier: MIT */
/* bench_predict.c - the prediction path piece by piece: parser, features, XGBoost vs forest. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include "bench_timing.h"
#include "bundle.h"
#include "clocks.h"
#include "feature_pipeline.h"
#include "forest.h"
#include "forest_backend.h"
#include "predict_request.h"
#include "xgb_backend.h"

/*
 * Usage: bench_predict [BUNDLE_DIR]
 * Without a bundle (or models/fd001), the model part uses a synthetic model of a production
 * model's size (300 trees of depth 6 on 40 features) and the feature part is skipped.
 * Every figure is the median of REPEATS runs, single-threaded, in thread CPU time.
 */
#define REPEATS 7

static uint64_t rng = 7;

static double
rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* A synthetic 300-tree depth-6 model on 40 features, saved at path. */
static int
synthetic_model(const char *path, size_t nf)
{
	const size_t n = 4000;
	float *x = malloc(n * nf * sizeof(float)), *y = malloc(n * sizeof(float));
	DMatrixHandle d;
	BoosterHandle b;
	size_t i, j;
	int it, rc = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nf; j++)
			x[i * nf + j] = (float)rnd();
		y[i] = (float)(x[i * nf] * 100 + sin(x[i * nf + 1] * 9) * 20 + rnd() * 10);
	}
	if (XGDMatrixCreateFromMat(x, n, nf, NAN, &d) != 0 ||
	    XGDMatrixSetFloatInfo(d, "label", y, n) != 0 || XGBoosterCreate(&d, 1, &b) != 0)
		return -1;
	XGBoosterSetParam(b, "max_depth", "6");
	XGBoosterSetParam(b, "nthread", "2");
	XGBoosterSetParam(b, "eta", "0.05");
	for (it = 0; it < 300 && rc == 0; it++)
		rc = XGBoosterUpdateOneIter(b, it, d);
	if (rc == 0)
		rc = XGBoosterSaveModel(b, path);
	XGBoosterFree(b);
	XGDMatrixFree(d);
	free(x);
	free(y);
	return rc;
}

/* Microseconds per engine of ops->predict over `total` rows in calls of `batch` rows. */
static double
per_engine(const struct predict_backend_ops *ops, void *m, const float *x, size_t nrows,
	   size_t nf, size_t batch, size_t total)
{
	float *out = malloc(batch * sizeof(float));
	double runs[REPEATS], t0;
	size_t r, done, at;

	for (r = 0; r < REPEATS; r++) {
		t0 = clocks_thread_cpu();
		for (done = 0; done < total; done += batch) {
			at = (done / batch * batch * 7) % (nrows - batch + 1);
			ops->predict(m, x + at * nf, batch, out);
		}
		runs[r] = (clocks_thread_cpu() - t0) / (double)done * 1e6;
	}
	free(out);
	return bench_median(runs, REPEATS);
}

static void
bench_models(const char *model, const float *x, size_t nrows, size_t nf)
{
	static const size_t batches[] = { 1, 8, 64, 256, 1024 };
	void *xm = NULL, *fm = NULL;
	char err[512];
	double a, b;
	size_t i, total;

	if (xgb_backend.load(model, nf, &xm, err, sizeof(err)) != 0 ||
	    forest_backend.load(model, nf, &fm, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_predict: %s\n", err);
		exit(1);
	}
	printf("model: %zu trees, %zu nodes, %zu features\n", forest_tree_count(fm),
	       forest_node_count(fm), nf);
	printf("%-12s %14s %14s %8s\n", "rows/call", "xgboost us/eng", "forest us/eng", "speedup");
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		total = batches[i] < 64 ? 4096 : 16384;
		if (total < batches[i] * 4)
			total = batches[i] * 4;
		a = per_engine(&xgb_backend, xm, x, nrows, nf, batches[i], total);
		b = per_engine(&forest_backend, fm, x, nrows, nf, batches[i], total);
		printf("%-12zu %14.2f %14.2f %7.1fx\n", batches[i], a, b, a / b);
	}
	xgb_backend.free_model(xm);
	forest_backend.free_model(fm);
}

/* A 30-cycle one-engine body like a client sends (about 6.8 KB, ~800 numbers). */
static char *
body_30(size_t *len)
{
	char *b = malloc(1 << 16);
	size_t u = 0;
	int c, k;

	u += (size_t)sprintf(b + u, "{\"unit\": 7, \"cycles\": [");
	for (c = 0; c < 30; c++) {
		u += (size_t)sprintf(b + u, "%s{\"cycle\": %d, \"settings\": [%.4f, %.4f, %.1f], "
				     "\"sensors\": [", c ? ", " : "", 83 + c, rnd() * 0.002 - 0.001,
				     rnd() * 0.0006 - 0.0003, 100.0);
		for (k = 0; k < 21; k++)
			u += (size_t)sprintf(b + u, "%s%.2f", k ? ", " : "", 500 + rnd() * 9000);
		u += (size_t)sprintf(b + u, "]}");
	}
	u += (size_t)sprintf(b + u, "]}");
	*len = u;
	return b;
}

static void
bench_parser(void)
{
	struct predict_limits lim = { 1024, 1024 };
	struct predict_request r;
	struct predict_error err;
	double runs[REPEATS], cj[REPEATS], t0;
	size_t len, i, rep, n = 3000;
	char *body = body_30(&len);

	for (rep = 0; rep < REPEATS; rep++) {
		t0 = clocks_thread_cpu();
		for (i = 0; i < n; i++) {
			predict_request_init(&r);
			if (predict_request_parse_json(body, len, &lim, &r, &err) != 0) {
				fprintf(stderr, "bench_predict: %s\n", err.message);
				exit(1);
			}
			predict_request_free(&r);
		}
		runs[rep] = (clocks_thread_cpu() - t0) / (double)n * 1e6;
		t0 = clocks_thread_cpu();
		for (i = 0; i < n / 4; i++)
			cJSON_Delete(cJSON_ParseWithLength(body, len));
		cj[rep] = (clocks_thread_cpu() - t0) / (double)(n / 4) * 1e6;
	}
	printf("parser, 30-cycle body (%zu bytes): predict_request %.1f us, cJSON %.1f us\n", len,
	       bench_median(runs, REPEATS), bench_median(cj, REPEATS));
	free(body);
}

static void
bench_features(const struct bundle *b)
{
	size_t nf = feature_spec_count(b->features), i, rep, n = 20000;
	double inputs[30 * CMAPSS_N_INPUTS], runs[REPEATS], t0;
	int64_t cycles[30];
	float *out = malloc(nf * sizeof(float));

	for (i = 0; i < 30; i++)
		cycles[i] = (int64_t)i + 100;
	for (i = 0; i < 30 * CMAPSS_N_INPUTS; i++)
		inputs[i] = 500 + rnd() * 100;
	for (rep = 0; rep < REPEATS; rep++) {
		t0 = clocks_thread_cpu();
		for (i = 0; i < n; i++)
			features_last(b->features, inputs, cycles, 30, out);
		runs[rep] = (clocks_thread_cpu() - t0) / (double)n * 1e6;
	}
	printf("features_last, 30-cycle window, %zu features: %.2f us per engine\n", nf,
	       bench_median(runs, REPEATS));
	free(out);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "models/fd001";
	struct bundle *b = NULL;
	char err[512], model[256];
	size_t nf = 40, nrows = 4096, i;
	float *x;

	bench_parser();
	if (bundle_load(dir, &b, err, sizeof(err)) == 0) {
		bench_features(b);
		nf = feature_spec_count(b->features);
		snprintf(model, sizeof(model), "%s", b->model_path);
	} else {
		printf("no bundle (%s): synthetic model, feature pipeline skipped\n", err);
		snprintf(model, sizeof(model), "/tmp/bench_predict-%d.json", (int)getpid());
		if (synthetic_model(model, nf) != 0) {
			fprintf(stderr, "bench_predict: cannot train: %s\n", XGBGetLastError());
			return 1;
		}
	}
	x = malloc(nrows * nf * sizeof(float));
	for (i = 0; i < nrows * nf; i++)
		x[i] = (float)rnd();
	if (b != NULL) {
		/* realistic rows: features of random 30-cycle windows around training values */
		double inputs[30 * CMAPSS_N_INPUTS];
		int64_t cycles[30];
		size_t r, k;

		for (r = 0; r < nrows; r++) {
			for (k = 0; k < 30; k++)
				cycles[k] = (int64_t)(r % 200 + k + 1);
			for (k = 0; k < 30 * CMAPSS_N_INPUTS; k++)
				inputs[k] = b->drift[k % CMAPSS_N_INPUTS].bin_count > 1 ?
					b->drift[k % CMAPSS_N_INPUTS].edges[(r + k) %
						(b->drift[k % CMAPSS_N_INPUTS].bin_count - 1)] :
					0;
			features_last(b->features, inputs, cycles, 30, x + r * nf);
		}
	}
	bench_models(model, x, nrows, nf);
	if (b == NULL)
		unlink(model);
	bundle_free(b);
	free(x);
	return 0;
}
