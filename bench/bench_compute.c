/* SPDX-License-Identifier: MIT */
/* bench_compute.c - in-process compute figures for bench/run.sh, and its request bodies. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_timing.h"
#include "bundle.h"
#include "clocks.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "forest.h"
#include "forest_backend.h"
#include "predict_request.h"
#include "synth.h"
#include "xgb_backend.h"

/*
 * Usage:
 *   bench_compute all BUNDLE_DIR [REPEATS]     model, features, parser and pipeline figures
 *   bench_compute model BUNDLE_DIR [REPEATS]   XGBoost vs forest only (the tree-count axis)
 *   bench_compute bodies BUNDLE_DIR OUT_DIR    write the /v1/predict bodies bench/run.sh posts
 *
 * Inputs are real engine windows of test_FD001 (C-MAPSS found by cmapss_find_dir), or of
 * synthetic C-MAPSS data when the real set is absent. Each figure is measured REPEATS times
 * (default 7) in this thread's CPU time, so that neighbours on a shared machine count less;
 * a line "R key unit median min max" is printed per figure. XGBoost and forest are timed
 * one after the other inside every repeat, and their ratio is taken per repeat.
 */

struct unit_span {
	int64_t unit;
	size_t first, n;
};

struct data {
	struct cmapss_table t;
	struct unit_span *units;
	size_t n_units;
	const char *source;
};

/* Print "R key unit median min max" for the n values of v (reordered). */
static void
report(const char *key, const char *unit, double *v, size_t n)
{
	double mid = bench_median(v, n);

	printf("R %s %s %.4g %.4g %.4g\n", key, unit, mid, v[0], v[n - 1]);
}

/* test_FD001 of the real data set, else of synthetic data written to a temporary folder. */
static int
data_load(struct data *d)
{
	char dir[4096], path[4200], err[512], tmp[] = "/tmp/bench_compute.XXXXXX";
	struct synth_options o;
	size_t i;
	int r;

	memset(d, 0, sizeof(*d));
	d->source = "C-MAPSS test_FD001";
	if (cmapss_find_dir(dir, sizeof(dir)) != 0) {
		d->source = "synthetic test_FD001 (C-MAPSS data absent)";
		synth_options_default(&o);
		if (mkdtemp(tmp) == NULL || synth_write(tmp, &o, err, sizeof(err)) != 0)
			return -EIO;
		snprintf(dir, sizeof(dir), "%s", tmp);
	}
	cmapss_path(dir, "test_FD001.txt", path, sizeof(path));
	r = cmapss_read(path, &d->t, err, sizeof(err));
	if (d->source[0] == 's') {
		static const char *const f[] = {"train", "test", "RUL"};
		for (int k = 0; k < 3; k++)
			for (int s = 1; s <= 4; s++) {
				snprintf(path, sizeof(path), "%s/%s_FD00%d.txt", tmp, f[k], s);
				unlink(path);
			}
		rmdir(tmp);
	}
	if (r != 0) {
		fprintf(stderr, "bench_compute: %s\n", err);
		return r;
	}
	d->units = calloc(d->t.rows, sizeof(*d->units));
	if (d->units == NULL)
		return -ENOMEM;
	for (i = 0; i < d->t.rows; i++) {
		if (i == 0 || d->t.unit[i] != d->t.unit[i - 1])
			d->units[d->n_units++] = (struct unit_span){ d->t.unit[i], i, 0 };
		d->units[d->n_units - 1].n++;
	}
	return 0;
}

/* The window of engine number i: w cycles (fewer if no unit is that long), varied by i. */
static void
engine_window(const struct data *d, size_t i, size_t w, size_t *first, size_t *n)
{
	const struct unit_span *u = &d->units[i % d->n_units];
	size_t k, longest = 0, shift;

	for (k = 0; k < d->n_units && u->n < w; k++) {
		u = &d->units[(i + k) % d->n_units];
		if (u->n > d->units[longest].n)
			longest = (i + k) % d->n_units;
	}
	if (u->n < w)
		u = &d->units[longest];
	*n = u->n < w ? u->n : w;
	shift = (i / d->n_units * 7) % (u->n - *n + 1);
	*first = u->first + u->n - *n - shift;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap * 2 + (size_t)n + 64;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	b->len += (size_t)n;
}

static void
put_engine(struct buf *b, const struct data *d, size_t i, size_t w)
{
	size_t first, n, r, k;
	const double *v;

	engine_window(d, i, w, &first, &n);
	put(b, "{\"unit\": %zu, \"cycles\": [", i + 1);
	for (r = first; r < first + n; r++) {
		v = d->t.values + r * CMAPSS_N_INPUTS;
		put(b, "%s{\"cycle\": %lld, \"settings\": [%.8g, %.8g, %.8g], \"sensors\": [",
		    r > first ? ", " : "", (long long)d->t.cycle[r], v[0], v[1], v[2]);
		for (k = 3; k < CMAPSS_N_INPUTS; k++)
			put(b, "%s%.8g", k > 3 ? ", " : "", v[k]);
		put(b, "]}");
	}
	put(b, "]}");
}

/* engines == 0: the one-engine form; else {"instances": [...]} of that many engines. */
static char *
make_body(const struct data *d, size_t engines, size_t w, size_t *len)
{
	struct buf b = { malloc(1 << 16), 0, 1 << 16 };
	size_t i;

	if (engines == 0) {
		put_engine(&b, d, 0, w);
	} else {
		put(&b, "{\"instances\": [");
		for (i = 0; i < engines; i++) {
			if (i > 0)
				put(&b, ", ");
			put_engine(&b, d, i, w);
		}
		put(&b, "]}");
	}
	*len = b.len;
	return b.p;
}

static int
write_bodies(const struct data *d, const char *out)
{
	static const struct {
		size_t engines, window;
	} set[] = { { 0, 1 }, { 0, 10 }, { 0, 30 }, { 0, 100 }, { 8, 1 }, { 64, 1 }, { 256, 1 },
		    { 1024, 1 }, { 8, 30 }, { 64, 30 }, { 256, 30 } };
	char path[4200];
	size_t i, len;
	FILE *f;

	mkdir(out, 0755);
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		char *body = make_body(d, set[i].engines, set[i].window, &len);

		if (set[i].engines == 0)
			snprintf(path, sizeof(path), "%s/one-w%zu.json", out, set[i].window);
		else
			snprintf(path, sizeof(path), "%s/batch%zu-w%zu.json", out, set[i].engines,
				 set[i].window);
		f = fopen(path, "w");
		if (f == NULL || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "bench_compute: cannot write '%s'\n", path);
			return 1;
		}
		printf("%s %zu bytes\n", path, len);
		free(body);
	}
	return 0;
}

/* Feature rows of every cycle of every unit (real windows, as serving computes them). */
static float *
feature_rows(const struct data *d, const struct bundle *b, size_t *nrows)
{
	size_t nf = feature_spec_count(b->features), u;
	float *x = malloc(d->t.rows * nf * sizeof(float));

	for (u = 0; u < d->n_units; u++) {
		const struct unit_span *s = &d->units[u];

		features_all(b->features, d->t.values + s->first * CMAPSS_N_INPUTS,
			     d->t.cycle + s->first, s->n, x + s->first * nf);
	}
	*nrows = d->t.rows;
	return x;
}

/* CPU seconds per engine of ops->predict over `total` rows in calls of `batch` rows. */
static double
time_predict(const struct predict_backend_ops *ops, void *m, const float *x, size_t nrows,
	     size_t nf, size_t batch, size_t total, float *out)
{
	double t0 = clocks_thread_cpu();
	size_t done, at;

	for (done = 0; done < total; done += batch) {
		at = (done * 7) % (nrows - batch + 1);
		ops->predict(m, x + at * nf, batch, out);
	}
	return (clocks_thread_cpu() - t0) / (double)done;
}

static int
bench_models(const struct data *d, const struct bundle *b, int repeats, bool quick)
{
	static const size_t batches[] = { 1, 8, 64, 256, 1024 };
	size_t nf = feature_spec_count(b->features), nrows, i, total;
	double xv[5][64], fv[5][64], rv[5][64];
	void *xm = NULL, *fm = NULL;
	float *x, *out = malloc(1024 * sizeof(float));
	char err[512], key[64];
	int r;

	if (xgb_backend.load(b->model_path, nf, &xm, err, sizeof(err)) != 0 ||
	    forest_backend.load(b->model_path, nf, &fm, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_compute: %s\n", err);
		return 1;
	}
	x = feature_rows(d, b, &nrows);
	printf("I model trees=%zu nodes=%zu features=%zu rows=%zu\n",
	       forest_tree_count(fm), forest_node_count(fm), nf, nrows);
	for (r = 0; r < repeats; r++)
		for (i = 0; i < 5; i++) {
			if (quick && batches[i] != 1 && batches[i] != 256)
				continue;
			total = batches[i] < 64 ? 4096 : 8192;
			xv[i][r] = time_predict(&xgb_backend, xm, x, nrows, nf, batches[i], total, out) * 1e6;
			fv[i][r] = time_predict(&forest_backend, fm, x, nrows, nf, batches[i], total, out) * 1e6;
			rv[i][r] = xv[i][r] / fv[i][r];
		}
	for (i = 0; i < 5; i++) {
		if (quick && batches[i] != 1 && batches[i] != 256)
			continue;
		snprintf(key, sizeof(key), "model.xgboost.b%zu", batches[i]);
		report(key, "us/engine", xv[i], (size_t)repeats);
		snprintf(key, sizeof(key), "model.forest.b%zu", batches[i]);
		report(key, "us/engine", fv[i], (size_t)repeats);
		snprintf(key, sizeof(key), "model.ratio.b%zu", batches[i]);
		report(key, "x", rv[i], (size_t)repeats);
	}
	xgb_backend.free_model(xm);
	forest_backend.free_model(fm);
	free(x);
	free(out);
	return 0;
}

/* features_last of one engine against the window length given. */
static void
bench_features(const struct data *d, const struct bundle *b, int repeats)
{
	static const size_t windows[] = { 1, 10, 30, 100 };
	size_t nf = feature_spec_count(b->features), i, k, n, first, iters;
	float *out = malloc(nf * sizeof(float));
	double v[64], t0;
	char key[64];
	int r;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		engine_window(d, 0, windows[i], &first, &n);
		iters = 20000;
		for (r = 0; r < repeats; r++) {
			t0 = clocks_thread_cpu();
			for (k = 0; k < iters; k++)
				features_last(b->features, d->t.values + first * CMAPSS_N_INPUTS,
					      d->t.cycle + first, n, out);
			v[r] = (clocks_thread_cpu() - t0) / (double)iters * 1e6;
		}
		snprintf(key, sizeof(key), "features.w%zu", windows[i]);
		report(key, "us/engine", v, (size_t)repeats);
	}
	free(out);
}

/*
 * The /v1/predict parser on bodies of growing size, per engine, and the whole in-process path
 * of one request (parse, features of each engine, one forest call for the batch): the
 * ceiling one core could reach without HTTP.
 */
static void
bench_parse(const struct data *d, const struct bundle *b, int repeats)
{
	static const struct {
		size_t engines, window;
	} set[] = { { 0, 1 }, { 0, 30 }, { 0, 100 }, { 256, 1 }, { 256, 30 } };
	struct predict_limits lim = { 1024, 1024 };
	size_t nf = feature_spec_count(b->features), i, k, e, len, iters, engines;
	double v[64], pv[64], cj[64], t0;
	struct predict_request req;
	struct predict_error perr;
	float *x = malloc(1024 * nf * sizeof(float)), out[1024];
	void *fm = NULL;
	char key[64], err[512];
	int r;

	if (forest_backend.load(b->model_path, nf, &fm, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_compute: %s\n", err);
		exit(1);
	}
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		char *body = make_body(d, set[i].engines, set[i].window, &len);

		engines = set[i].engines ? set[i].engines : 1;
		iters = 300000 / (len / 64 + 1) + 3;
		for (r = 0; r < repeats; r++) {
			t0 = clocks_thread_cpu();
			for (k = 0; k < iters; k++) {
				predict_request_init(&req);
				if (predict_request_parse_json(body, len, &lim, &req, &perr) != 0) {
					fprintf(stderr, "bench_compute: %s\n", perr.message);
					exit(1);
				}
				predict_request_free(&req);
			}
			v[r] = (clocks_thread_cpu() - t0) / (double)(iters * engines) * 1e6;
			t0 = clocks_thread_cpu();
			for (k = 0; k < iters; k++) {
				predict_request_init(&req);
				predict_request_parse_json(body, len, &lim, &req, &perr);
				for (e = 0; e < req.count; e++)
					features_last(b->features, req.engines[e].inputs,
						      req.engines[e].cycles, req.engines[e].n, x + e * nf);
				forest_backend.predict(fm, x, req.count, out);
				predict_request_free(&req);
			}
			pv[r] = (clocks_thread_cpu() - t0) / (double)(iters * engines) * 1e6;
			if (set[i].engines == 0 && set[i].window == 30) {
				t0 = clocks_thread_cpu();
				for (k = 0; k < iters / 4; k++)
					cJSON_Delete(cJSON_ParseWithLength(body, len));
				cj[r] = (clocks_thread_cpu() - t0) / (double)(iters / 4) * 1e6;
			}
		}
		snprintf(key, sizeof(key), "parse.%s%zu.w%zu", set[i].engines ? "batch" : "one",
			 engines, set[i].window);
		printf("I %s bytes=%zu\n", key, len);
		report(key, "us/engine", v, (size_t)repeats);
		snprintf(key, sizeof(key), "pipeline.%s%zu.w%zu", set[i].engines ? "batch" : "one",
			 engines, set[i].window);
		report(key, "us/engine", pv, (size_t)repeats);
		if (set[i].engines == 0 && set[i].window == 30)
			report("cjson.one1.w30", "us/engine", cj, (size_t)repeats);
		free(body);
	}
	forest_backend.free_model(fm);
	free(x);
}

int
main(int argc, char **argv)
{
	struct bundle *b = NULL;
	struct data d;
	char err[512];
	int repeats = 7, rc = 0;

	if (argc < 3 || (strcmp(argv[1], "all") != 0 && strcmp(argv[1], "model") != 0 &&
			 strcmp(argv[1], "bodies") != 0) ||
	    (strcmp(argv[1], "bodies") == 0 && argc < 4)) {
		fprintf(stderr, "usage: bench_compute all|model BUNDLE_DIR [REPEATS]\n"
				"       bench_compute bodies BUNDLE_DIR OUT_DIR\n");
		return 2;
	}
	if (strcmp(argv[1], "bodies") != 0 && argc > 3)
		repeats = atoi(argv[3]);
	if (repeats < 1 || repeats > 64)
		repeats = 7;
	if (bundle_load(argv[2], &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_compute: %s\n", err);
		return 1;
	}
	if (data_load(&d) != 0)
		return 1;
	printf("I data source=\"%s\" engines=%zu rows=%zu\n", d.source, d.n_units, d.t.rows);
	if (strcmp(argv[1], "bodies") == 0) {
		rc = write_bodies(&d, argv[3]);
	} else {
		rc = bench_models(&d, b, repeats, strcmp(argv[1], "model") == 0);
		if (rc == 0 && strcmp(argv[1], "all") == 0) {
			bench_features(&d, b, repeats);
			bench_parse(&d, b, repeats);
		}
	}
	cmapss_table_free(&d.t);
	free(d.units);
	bundle_free(b);
	return rc;
}
