/* SPDX-License-Identifier: MIT */
/* bench_drift.c - cost of the drift_psi observer per prediction, against the predict cost. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rulsrv/plugin.h>

#include "bench_timing.h"
#include "bundle.h"
#include "clocks.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "forest.h"
#include "metrics.h"
#include "predict_request.h"
#include "synth.h"
#include "train_data.h"

/*
 * Usage: bench_drift [BUNDLE_DIR]
 * Loads build/plugins/drift_psi.so through a minimal host (the real metric registry) with
 * BUNDLE_DIR (default models/fd001) as the reference, or, without one, a reference built from
 * synthetic C-MAPSS data. Reports ns per observed prediction, single-threaded and on two
 * threads, and, when the bundle has a model, the in-process predict cost of one engine with
 * a 30-cycle window (features + forest walk, and with the JSON body parsed first) for
 * comparison. Medians of REPEATS runs. bench/run.sh reads the figures of this output: keep
 * the lines' shape.
 */
#define REPEATS 7
#define ROWS 256

struct rulsrv_settings {
	const char *reference;
};

struct rulsrv_host {
	struct metrics_registry *registry;
	rulsrv_observer_fn observer;
	void *observer_ud;
	rulsrv_timer_fn timer; /* called between rounds, outside the timed part */
	void *timer_ud;
};

/* The largest window closed, from the plugin's log line (how far count windows overshoot). */
static unsigned long long largest_window;

static void
h_log(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
{
	unsigned long long obs;
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sscanf(line, "closed drift window %*u '%*[^']': %llu observations", &obs) == 1) {
		if (obs > largest_window)
			largest_window = obs;
	} else if (level <= RULSRV_LOG_WARNING) {
		fprintf(stderr, "drift_psi: %s\n", line);
	}
}

static void
h_setting_error(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
{
	fprintf(stderr, "setting '%s' refused\n", name);
}

static const char *
h_name(const struct rulsrv_host *host)
{
	return "bench";
}

static int
h_string(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	const char *v = strcmp(name, "reference") == 0 ? s->reference : def;

	*out = v != NULL ? strdup(v) : NULL;
	return 0;
}

static int
h_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min, int64_t max,
      int64_t *out)
{
	*out = def;
	return 0;
}

static int
h_double(const struct rulsrv_settings *s, const char *name, double def, double min, double max,
	 double *out)
{
	*out = def;
	return 0;
}

static int
h_metric_new(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
	     const char *help, const char *const *labels, const double *buckets, size_t n,
	     struct rulsrv_metric **out)
{
	return metrics_family(host->registry, type, name, help, labels, buckets, n, out);
}

static int
h_metrics_register(struct rulsrv_host *host, const struct rulsrv_metric_def *defs, size_t n)
{
	return metrics_register(host->registry, defs, n);
}

static int
h_timer_add(struct rulsrv_host *host, double interval_s, rulsrv_timer_fn fn, void *ud)
{
	host->timer = fn;
	host->timer_ud = ud;
	return 0;
}

static int
h_metrics_collect(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud)
{
	return metrics_collect(host->registry, fn, ud);
}

static int
h_route_add(struct rulsrv_host *host, const char *method, const char *path, unsigned flags,
	    rulsrv_handler_fn fn, void *ud)
{
	return 0;
}

static int
h_observer_add(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud)
{
	host->observer = fn;
	host->observer_ud = ud;
	return 0;
}

static const char *
h_attribute_get(struct rulsrv_host *host, const char *key)
{
	return NULL;
}

static const struct rulsrv_api api = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.log = h_log,
	.setting_error = h_setting_error,
	.instance_name = h_name,
	.service_name = h_name,
	.setting_string = h_string,
	.setting_path = h_string,
	.setting_int = h_int,
	.setting_double = h_double,
	.metrics_register = h_metrics_register,
	.metric_new = h_metric_new,
	.series = metrics_series,
	.counter_add = metrics_counter_add,
	.gauge_set = metrics_gauge_set,
	.gauge_add = metrics_gauge_add,
	.metrics_collect = h_metrics_collect,
	.route_add = h_route_add,
	.observer_add = h_observer_add,
	.attribute_get = h_attribute_get,
	.timer_add = h_timer_add,
};

/* A reference bundle from synthetic FD001 in dir (bundle_load needs a feature spec). */
static int
synthetic_reference(const char *dir, struct cmapss_table *rows)
{
	struct drift_feature_ref refs[CMAPSS_N_INPUTS];
	static const char *subsets[] = { "FD001" };
	struct feature_options fo;
	struct synth_options so;
	struct bundle b = { 0 };
	char path[600], err[512];
	size_t f;
	FILE *fp;

	synth_options_default(&so);
	if (synth_write(dir, &so, err, sizeof(err)) < 0 ||
	    cmapss_path(dir, "train_FD001.txt", path, sizeof(path)) < 0 ||
	    cmapss_read(path, rows, err, sizeof(err)) < 0)
		goto fail;
	feature_options_default(&fo);
	if (feature_spec_fit(rows, NULL, NULL, &fo, &b.features, err, sizeof(err)) < 0 ||
	    drift_ref_build(rows, NULL, refs) < 0)
		goto fail;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		b.drift[f] = refs[f];
		for (size_t k = 0; k < refs[f].bin_count; k++)
			refs[f].expected[k] = fmin(refs[f].expected[k], 1);
	}
	snprintf(path, sizeof(path), "%s/model.json", dir);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -errno;
	fputs("{}\n", fp);
	fclose(fp);
	b.name = "bench";
	b.version = "1";
	b.subsets = (char **)subsets;
	b.subset_count = 1;
	b.model_path = path;
	b.rul_cap = 125;
	if (bundle_save(&b, dir, err, sizeof(err)) < 0)
		goto fail;
	feature_spec_free(b.features);
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		free(refs[f].edges);
		free(refs[f].expected);
	}
	return 0;
fail:
	fprintf(stderr, "bench_drift: synthetic reference: %s\n", err);
	return -EINVAL;
}

struct job {
	struct rulsrv_host *host;
	const double *rows;
	size_t nrows, calls, batch;
	double seconds;
};

/* calls observer calls of batch predictions each, cycling through the rows. */
static void *
observe_job(void *arg)
{
	struct job *j = arg;
	struct rulsrv_prediction items[64];
	struct rulsrv_prediction_batch b = { .model = "m", .version = "1", .input_count = CMAPSS_N_INPUTS,
					     .count = j->batch, .item_size = sizeof(items[0]),
					     .items = items };
	size_t c, k, r = 0;
	double t0 = clocks_monotonic();

	for (c = 0; c < j->calls; c++) {
		for (k = 0; k < j->batch; k++, r = (r + 1) % j->nrows)
			items[k] = (struct rulsrv_prediction){ 1, (int64_t)r, 50,
							       j->rows + r * CMAPSS_N_INPUTS, 0 };
		j->host->observer(j->host->observer_ud, &b);
	}
	j->seconds = clocks_monotonic() - t0;
	return NULL;
}

/* ns per observed prediction with threads observers at once. */
static double
bench_observe(struct rulsrv_host *host, const double *rows, size_t nrows, size_t batch,
	      int threads, int reps)
{
	double runs[REPEATS];
	int rep, t;

	for (rep = 0; rep < reps; rep++) {
		struct job jobs[4];
		pthread_t th[4];
		double worst = 0;

		for (t = 0; t < threads; t++) {
			jobs[t] = (struct job){ host, rows, nrows, 400000 / batch, batch, 0 };
			pthread_create(&th[t], NULL, observe_job, &jobs[t]);
		}
		for (t = 0; t < threads; t++) {
			pthread_join(th[t], NULL);
			worst = fmax(worst, jobs[t].seconds);
		}
		runs[rep] = worst * 1e9 / (double)(jobs[0].calls * batch);
	}
	return bench_median(runs, (size_t)reps);
}

/* One engine's 30 cycles (from row start of t) as a /v1/predict JSON body. */
static size_t
engine_body(const struct cmapss_table *t, size_t start, char *buf, size_t len)
{
	size_t used = 0, c, k;

	used += (size_t)snprintf(buf, len, "{\"unit\": 1, \"cycles\": [");
	for (c = 0; c < 30; c++) {
		const double *x = t->values + (start + c) * CMAPSS_N_INPUTS;

		used += (size_t)snprintf(buf + used, len - used, "%s{\"cycle\": %zu, \"settings\": [",
					 c ? ", " : "", c + 1);
		for (k = 0; k < CMAPSS_N_INPUTS; k++)
			used += (size_t)snprintf(buf + used, len - used, "%s%.4f",
						 k == 3 ? "], \"sensors\": [" : k ? ", " : "", x[k]);
		used += (size_t)snprintf(buf + used, len - used, "]}");
	}
	used += (size_t)snprintf(buf + used, len - used, "]}");
	return used;
}

/*
 * ns to predict one engine in process: with parse, from its 30-cycle JSON body (the request
 * path but HTTP), else from parsed rows (features_last + the forest walk). NAN without a model.
 */
static double
bench_predict_one(const char *bundle_dir, const struct cmapss_table *t, bool parse, int reps)
{
	static char body[16384];
	struct predict_limits lim = { 1024, 1024 };
	struct bundle *b = NULL;
	struct forest *forest = NULL;
	double runs[REPEATS], sink = 0;
	size_t len = engine_body(t, 0, body, sizeof(body)), calls = 2000, c;
	char err[512];
	float feat[1024], out;
	int rep;

	if (bundle_load(bundle_dir, &b, err, sizeof(err)) < 0 ||
	    forest_load(b->model_path, feature_spec_count(b->features), &forest, err,
			sizeof(err)) < 0 ||
	    feature_spec_count(b->features) > 1024 || t->rows < 31) {
		fprintf(stderr, "bench_drift: no model to compare with: %s\n", err);
		bundle_free(b);
		return NAN;
	}
	for (rep = 0; rep < reps; rep++) {
		double t0 = clocks_monotonic();

		for (c = 0; c < calls; c++) {
			struct predict_request req;
			struct predict_error perr;
			size_t start = c % (t->rows - 30);

			if (parse) {
				predict_request_init(&req);
				if (predict_request_parse_json(body, len, &lim, &req, &perr) == 0)
					features_last(b->features, req.engines[0].inputs,
						      req.engines[0].cycles, req.engines[0].n, feat);
				predict_request_free(&req);
			} else {
				features_last(b->features, t->values + start * CMAPSS_N_INPUTS,
					      t->cycle + start, 30, feat);
			}
			forest_predict(forest, feat, 1, &out);
			sink += out;
		}
		runs[rep] = (clocks_monotonic() - t0) * 1e9 / (double)calls;
	}
	forest_free(forest);
	bundle_free(b);
	if (sink == 12345.678)
		fprintf(stderr, "%g\n", sink);
	return bench_median(runs, (size_t)reps);
}

static void
remove_synthetic(const char *dir)
{
	static const char *const names[] = { "train", "test", "RUL" };
	char path[600];
	int i, k;

	for (i = 1; i <= 4; i++)
		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%s_FD00%d.txt", dir, names[k], i);
			unlink(path);
		}
	snprintf(path, sizeof(path), "%s/bundle.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/model.json", dir);
	unlink(path);
	rmdir(dir);
}

/* The rows to observe: FD001 training rows, real when the data is there. */
static int
load_rows(const char *synth_dir, struct cmapss_table *t)
{
	char data[1024], path[1100], err[512];

	if (cmapss_find_dir(data, sizeof(data)) == 0 &&
	    cmapss_path(data, "train_FD001.txt", path, sizeof(path)) == 0 &&
	    cmapss_read(path, t, err, sizeof(err)) == 0)
		return 0;
	cmapss_table_free(t);
	if (cmapss_path(synth_dir, "train_FD001.txt", path, sizeof(path)) == 0 &&
	    cmapss_read(path, t, err, sizeof(err)) == 0)
		return 0;
	return -ENOENT;
}

int
main(int argc, char **argv)
{
	const struct rulsrv_plugin_descriptor *desc;
	struct rulsrv_host host = { 0 };
	struct rulsrv_settings settings = { 0 };
	struct cmapss_table synth = { 0 }, rows = { 0 };
	char tmp[] = "/tmp/bench-drift-XXXXXX", so[1024], bundle[1024], err[512];
	struct bundle *b = NULL;
	double obs_r[REPEATS], pred_r[REPEATS], json_r[REPEATS], share_r[REPEATS];
	double share_json_r[REPEATS];
	double single, batched, two, predict, served;
	size_t nrows;
	int rep;
	void *handle, *state = NULL;

	if (mkdtemp(tmp) == NULL)
		return 1;
	if (argc > 1)
		snprintf(bundle, sizeof(bundle), "%s", argv[1]);
	else
		snprintf(bundle, sizeof(bundle), "%s/models/fd001", RULSRV_SOURCE_DIR);
	if (bundle_load(bundle, &b, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_drift: %s; using a synthetic reference\n", err);
		if (synthetic_reference(tmp, &synth) < 0)
			return 1;
		snprintf(bundle, sizeof(bundle), "%s", tmp);
	}
	bundle_free(b);
	if (synth.rows == 0 && synth_write(tmp, &(struct synth_options){ 1, 40, 40, 1 }, err,
					   sizeof(err)) < 0)
		return 1;
	if (load_rows(tmp, &rows) < 0)
		return 1;

	snprintf(so, sizeof(so), "%s/plugins/drift_psi.so", RULSRV_BUILD_DIR);
	handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	desc = handle != NULL ? dlsym(handle, RULSRV_PLUGIN_SYMBOL) : NULL;
	if (desc == NULL) {
		fprintf(stderr, "bench_drift: cannot load '%s': %s\n", so, dlerror());
		return 1;
	}
	host.registry = metrics_registry_new();
	settings.reference = bundle;
	if (desc->init(&host, &api, &settings, &state) < 0)
		return 1;

	/* The inputs of a prediction were just parsed: observe a cache-warm set of rows. */
	nrows = rows.rows < ROWS ? rows.rows : ROWS;
	/*
	 * The observer and the predict path in turns, round by round, so that the ratios compare
	 * figures taken under the same load (the machine is shared): medians of REPEATS rounds.
	 */
	for (rep = 0; rep < REPEATS; rep++) {
		obs_r[rep] = bench_observe(&host, rows.values, nrows, 1, 1, 1);
		pred_r[rep] = bench_predict_one(bundle, &rows, false, 1);
		json_r[rep] = bench_predict_one(bundle, &rows, true, 1);
		share_r[rep] = 100 * obs_r[rep] / pred_r[rep];
		share_json_r[rep] = 100 * obs_r[rep] / json_r[rep];
		if (host.timer != NULL)
			host.timer(host.timer_ud); /* the gauges and counters, as the core would */
		if (isnan(pred_r[rep]))
			break;
	}
	single = rep < REPEATS ? bench_observe(&host, rows.values, nrows, 1, 1, REPEATS)
			       : bench_median(obs_r, REPEATS);
	predict = rep < REPEATS ? NAN : bench_median(pred_r, REPEATS);
	served = rep < REPEATS ? NAN : bench_median(json_r, REPEATS);
	batched = bench_observe(&host, rows.values, nrows, 64, 1, REPEATS);
	largest_window = 0;
	two = bench_observe(&host, rows.values, nrows, 1, 2, REPEATS);

	printf("drift_psi observer, reference %s (%zu rows observed, cycling)\n", bundle, nrows);
	printf("  1 prediction per call, 1 thread      %8.1f ns per prediction\n", single);
	printf("  64 predictions per call, 1 thread    %8.1f ns per prediction\n", batched);
	printf("  1 prediction per call, 2 threads     %8.1f ns per prediction (each thread)\n", two);
	printf("  largest count window on 2 threads    %8llu observations (window_size 5000)\n",
	       largest_window);
	if (!isnan(predict)) {
		printf("one engine, 30 cycles, predict_forest, in process:\n");
		printf("  features + forest                    %8.1f ns   drift adds %.2f %%\n",
		       predict, bench_median(share_r, REPEATS));
		printf("  JSON body parse + features + forest  %8.1f ns   drift adds %.2f %%\n",
		       served, bench_median(share_json_r, REPEATS));
	}
	desc->fini(state);
	metrics_registry_free(host.registry);
	cmapss_table_free(&rows);
	cmapss_table_free(&synth);
	remove_synthetic(tmp);
	return 0;
}
