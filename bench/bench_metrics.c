/* SPDX-License-Identifier: MIT */
/* bench_metrics.c - cost of instrumentation (ns per update, 1 and 2 threads) and of rendering a
 * Prometheus scrape of 100/1,000/5,000 series. Not a test: prints numbers.
 * Usage: bench_metrics [million-ops-per-thread, default 20] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timing.h"
#include "clocks.h"
#include "metrics.h"
#include "prom_render.h"

/* The prediction_latency_seconds buckets of docs/METRICS.md, 100 µs .. 1 s. */
static const double latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					  0.01,   0.025,   0.05,   0.1,   0.25,   1};
#define N_LATENCY (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

enum op { OP_COUNTER, OP_HISTOGRAM, OP_LOOKUP_COUNTER, OP_REQUEST };

struct job {
	enum op op;
	long iterations;
	struct rulsrv_series *counter;
	struct rulsrv_series *hist;
	struct rulsrv_metric *labelled;
	struct rulsrv_metric *code_family;
	struct rulsrv_metric *lat_family;
	struct rulsrv_series *in_flight;
	double seconds;
};

/*
 * OP_REQUEST is what one /v1/predict costs in metric updates when every call looks its
 * series up by labels (the slowest way a handler can do it): in-flight +1/-1, http requests
 * {handler,code}, http duration {handler}, prediction requests {model,code}, predictions
 * {model}, latency {model}, RUL value {model}: 8 updates, 5 of them with a look-up.
 */
static void *
job_run(void *arg)
{
	struct job *j = arg;
	const char *const lv[] = {"/v1/predict", "200", NULL};
	const char *const hv[] = {"fd001", NULL};
	double t0 = clocks_monotonic();
	long i;

	for (i = 0; i < j->iterations; i++) {
		switch (j->op) {
		case OP_COUNTER:
			metrics_counter_add(j->counter, 1);
			break;
		case OP_HISTOGRAM:
			metrics_histogram_observe(j->hist, (double)(i & 1023) * 1e-4);
			break;
		case OP_LOOKUP_COUNTER:
			metrics_counter_add(metrics_series(j->labelled, lv), 1);
			break;
		case OP_REQUEST:
			metrics_gauge_add(j->in_flight, 1);
			metrics_counter_add(metrics_series(j->labelled, lv), 1);
			metrics_histogram_observe(metrics_series(j->lat_family, hv), 0.0007);
			metrics_counter_add(metrics_series(j->code_family, lv), 1);
			metrics_counter_add(metrics_series(j->code_family, lv), 1);
			metrics_histogram_observe(metrics_series(j->lat_family, hv), 0.0006);
			metrics_histogram_observe(j->hist, 112);
			metrics_gauge_add(j->in_flight, -1);
			break;
		}
	}
	j->seconds = clocks_monotonic() - t0;
	return NULL;
}

static double
run_threads(struct job *proto, int threads)
{
	pthread_t t[2];
	struct job j[2];
	double worst = 0;
	int i;

	for (i = 0; i < threads; i++) {
		j[i] = *proto;
		pthread_create(&t[i], NULL, job_run, &j[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (j[i].seconds > worst)
			worst = j[i].seconds;
	}
	/* ns per operation as each thread sees it */
	return worst * 1e9 / (double)proto->iterations;
}

static void
bench_updates(long iterations)
{
	static const char *const names[] = {"counter_add", "histogram_observe (12 buckets)",
					    "series lookup (2 labels) + counter_add",
					    "one predict request (8 updates, 5 lookups)"};
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"handler", "code", NULL};
	const char *const model[] = {"model", NULL};
	struct rulsrv_metric *c, *h, *l, *code, *lat, *g;
	struct job proto = {0};
	int op;

	metrics_family(r, RULSRV_METRIC_COUNTER, "c_total", "h", NULL, NULL, 0, &c);
	metrics_family(r, RULSRV_METRIC_HISTOGRAM, "h_seconds", "h", NULL, latency_buckets,
		       N_LATENCY, &h);
	metrics_family(r, RULSRV_METRIC_COUNTER, "l_total", "h", labels, NULL, 0, &l);
	metrics_family(r, RULSRV_METRIC_COUNTER, "p_total", "h", labels, NULL, 0, &code);
	metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat_seconds", "h", model, latency_buckets,
		       N_LATENCY, &lat);
	metrics_family(r, RULSRV_METRIC_GAUGE, "in_flight", "h", NULL, NULL, 0, &g);
	proto.counter = metrics_series(c, NULL);
	proto.hist = metrics_series(h, NULL);
	proto.labelled = l;
	proto.code_family = code;
	proto.lat_family = lat;
	proto.in_flight = metrics_series(g, NULL);
	printf("%-44s %12s %12s\n", "update (same series from every thread)", "1 thread", "2 threads");
	for (op = OP_COUNTER; op <= OP_REQUEST; op++) {
		double one, two;

		proto.op = (enum op)op;
		proto.iterations = op == OP_REQUEST ? iterations / 8 : iterations;
		one = run_threads(&proto, 1);
		two = run_threads(&proto, 2);
		printf("%-44s %9.1f ns %9.1f ns\n", names[op], one, two);
	}
	metrics_registry_free(r);
}

/*
 * A registry like a busy service's, scaled to `series` series: 80% counters and gauges with
 * two labels, 20% histograms with the 12 latency buckets (each rendering 15 lines).
 */
static void
bench_scrape(int series, bool histograms)
{
	enum { RUNS = 51 };
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"model", "code", NULL};
	struct rulsrv_metric *c, *g, *h;
	char a[32], b[32];
	const char *const v[] = {a, b, NULL};
	struct prom_render pr = {0};
	double t[RUNS], cpu[RUNS], wall_median, cpu_median;
	size_t len = 0, lines = 0;
	char *body;
	int i, n_hist = histograms ? series / 5 : 0;

	metrics_family(r, RULSRV_METRIC_COUNTER, "bench_requests_total", "Requests.", labels, NULL,
		       0, &c);
	metrics_family(r, RULSRV_METRIC_GAUGE, "bench_value", "A gauge.", labels, NULL, 0, &g);
	metrics_family(r, RULSRV_METRIC_HISTOGRAM, "bench_latency_seconds", "Latency.", labels,
		       latency_buckets, N_LATENCY, &h);
	for (i = 0; i < series; i++) {
		snprintf(a, sizeof(a), "model-%d", i / 10);
		snprintf(b, sizeof(b), "%d", 200 + i % 10);
		if (i < n_hist) {
			for (int k = 0; k < 20; k++)
				metrics_histogram_observe(metrics_series(h, v), (double)(i + k) * 3.7e-4);
		} else if (i % 2 == 0) {
			metrics_counter_add(metrics_series(c, v), (double)i * 17);
		} else {
			metrics_gauge_set(metrics_series(g, v), (double)i / 7.0);
		}
	}
	for (i = 0; i < RUNS; i++) {
		double t0 = clocks_monotonic(), c0 = clocks_thread_cpu();

		prom_render_begin(&pr, len);
		metrics_collect(r, prom_render_sample, &pr);
		body = prom_render_take(&pr, &len);
		t[i] = (clocks_monotonic() - t0) * 1e3;
		cpu[i] = (clocks_thread_cpu() - c0) * 1e3;
		if (i == RUNS - 1)
			for (size_t k = 0; k < len; k++)
				lines += body[k] == '\n';
		free(body);
	}
	prom_render_free(&pr);
	wall_median = bench_median(t, RUNS); /* sorts t: t[RUNS - 1] is the maximum */
	cpu_median = bench_median(cpu, RUNS);
	printf("%6d series %-22s %8zu bytes %6zu lines  wall median %.3f ms max %.3f ms, "
	       "cpu median %.3f ms\n",
	       series, histograms ? "(20% histograms)" : "(counters, gauges)", len, lines,
	       wall_median, t[RUNS - 1], cpu_median);
	metrics_registry_free(r);
}

int
main(int argc, char **argv)
{
	long millions = argc > 1 ? atol(argv[1]) : 20;
	static const int sizes[] = {100, 1000, 5000};

	bench_updates(millions * 1000000L);
	printf("\nPrometheus scrape render (metrics_collect + text 0.0.4), %d runs:\n", 51);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		bench_scrape(sizes[i], false);
		bench_scrape(sizes[i], true);
	}
	return 0;
}
