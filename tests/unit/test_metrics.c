/* SPDX-License-Identifier: MIT */
/* test_metrics.c - the metric registry: types, get-or-create, labels, concurrency, collection. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "metrics.h"

/* Debug builds assert on a wrong-type update (metrics.c); release builds return -EINVAL. */
#ifdef NDEBUG
#define WRONG_TYPE_SIGNAL 0
#else
#define WRONG_TYPE_SIGNAL SIGABRT
#endif

/* A walk rendered as "name{v1,v2} value" lines (histograms: "name{..} count sum b0 b1 ..."). */
struct dump {
	char buf[1 << 20];
	size_t len;
	int families;
	int stop_after; /* stop the walk with -ECANCELED after this many series; 0 = never */
	int seen;
};

static int
dump_fn(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct dump *d = ud;
	size_t i;

	if (s == NULL) {
		d->families++;
		d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "# %s\n", f->name);
		return 0;
	}
	if (d->stop_after > 0 && ++d->seen > d->stop_after)
		return -ECANCELED;
	d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%s{", f->name);
	for (i = 0; i < f->label_count; i++)
		d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%s%s",
					   i ? "," : "", s->label_values[i]);
	if (f->type == RULSRV_METRIC_HISTOGRAM) {
		d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "} %llu %g",
					   (unsigned long long)s->count, s->sum);
		for (i = 0; i <= f->bucket_count; i++)
			d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, " %llu",
						   (unsigned long long)s->buckets[i]);
		d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "\n");
	} else {
		d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "} %.17g\n",
					   s->value);
	}
	return 0;
}

static struct dump *
dump_of(struct metrics_registry *r)
{
	struct dump *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(metrics_collect(r, dump_fn, d), 0);
	return d;
}

START_TEST(test_unlabelled_types)
{
	struct metrics_registry *r = metrics_registry_new();
	struct rulsrv_metric *c, *g, *h;
	const double b[] = {1, 2, 5};
	struct dump *d;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a_total", "A.", NULL, NULL, 0, &c), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "b", "B.", NULL, NULL, 0, &g), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "c_seconds", "C.", NULL, b, 3, &h), 0);
	/* unlabelled: the one series exists already, and NULL values return it */
	ck_assert_ptr_nonnull(metrics_series(c, NULL));
	ck_assert_ptr_eq(metrics_series(c, NULL), metrics_series(c, NULL));
	ck_assert_int_eq(metrics_counter_add(metrics_series(c, NULL), 2.5), 0);
	/* refused: counters only go up */
	ck_assert_int_eq(metrics_counter_add(metrics_series(c, NULL), -1), -EINVAL);
	ck_assert_int_eq(metrics_counter_add(metrics_series(c, NULL), NAN), -EINVAL);
	ck_assert_int_eq(metrics_gauge_set(metrics_series(g, NULL), 7), 0);
	ck_assert_int_eq(metrics_gauge_add(metrics_series(g, NULL), -10), 0);
	d = dump_of(r);
	ck_assert_int_eq(d->families, 3);
	ck_assert_msg(strstr(d->buf, "# a_total\na_total{} 2.5\n# b\nb{} -3\n# c_seconds\n"
				     "c_seconds{} 0 0 0 0 0 0\n") != NULL, "%s", d->buf);
	free(d);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_get_or_create)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *const l1[] = {"model", "code", NULL};
	const char *const l2[] = {"model", NULL};
	const char *const l3[] = {"code", "model", NULL};
	const double b1[] = {0.1, 1}, b2[] = {0.1, 2}, b3[] = {0.1, 1, INFINITY};
	struct rulsrv_metric *a, *b, *x;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "req_total", "h", l1, NULL, 0, &a), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "req_total", "other help", l1, NULL, 0, &b), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "req_total", "h", l1, NULL, 0, &x), -EEXIST);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "req_total", "h", l2, NULL, 0, &x), -EEXIST);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "req_total", "h", l3, NULL, 0, &x), -EEXIST);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "req_total", "h", NULL, NULL, 0, &x), -EEXIST);

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b1, 2, &a), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b1, 2, &b), 0);
	ck_assert_ptr_eq(a, b);
	/* a trailing +Inf is implicit: the same definition */
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b3, 3, &b), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b2, 2, &x), -EEXIST);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b1, 1, &x), -EEXIST);

	/* values survive: asking again returns the family with its values */
	metrics_histogram_observe(metrics_series(a, NULL), 0.5);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "lat", "h", NULL, b1, 2, &b), 0);
	ck_assert_ptr_eq(metrics_series(a, NULL), metrics_series(b, NULL));
	metrics_registry_free(r);
}
END_TEST

/*
 * An update on the wrong type, or on the NULL series an out-of-memory lookup returns, is a
 * caller's bug: release builds refuse it with -EINVAL and change nothing, debug builds abort
 * (registered below with the signal each build type gives).
 */
START_TEST(test_wrong_type)
{
	struct metrics_registry *r = metrics_registry_new();
	struct rulsrv_metric *c, *g, *h;
	const double b[] = {1};
	struct dump *d;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a_total", "A.", NULL, NULL, 0, &c), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "b", "B.", NULL, NULL, 0, &g), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "c", "C.", NULL, b, 1, &h), 0);
	ck_assert_int_eq(metrics_gauge_set(metrics_series(c, NULL), 100), -EINVAL);
	ck_assert_int_eq(metrics_gauge_add(metrics_series(h, NULL), 1), -EINVAL);
	ck_assert_int_eq(metrics_histogram_observe(metrics_series(g, NULL), 1), -EINVAL);
	ck_assert_int_eq(metrics_counter_add(metrics_series(g, NULL), 1), -EINVAL);
	ck_assert_int_eq(metrics_counter_add(NULL, 1), -EINVAL);
	d = dump_of(r);
	ck_assert_msg(strstr(d->buf, "# a_total\na_total{} 0\n# b\nb{} 0\n# c\nc{} 0 0 0 0\n") != NULL,
		      "%s", d->buf);
	free(d);
	metrics_registry_free(r);
}
END_TEST

/* A table of families registers in one call: each out and unlabelled series filled in. */
START_TEST(test_register_table)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const model[] = {"model", NULL};
	static const double b[] = {0.1, 1};
	struct rulsrv_metric *req, *lat, *bad;
	struct rulsrv_series *lat0 = NULL;
	const struct rulsrv_metric_def defs[] = {
		{ "req_total", RULSRV_METRIC_COUNTER, "Requests.", model, NULL, 0, &req, NULL },
		{ "lat_seconds", RULSRV_METRIC_HISTOGRAM, "Latency.", NULL, b, 2, &lat, &lat0 },
	};
	const struct rulsrv_metric_def clash[] = {
		{ "req_total", RULSRV_METRIC_GAUGE, "Requests.", model, NULL, 0, &bad, NULL },
	};
	const struct rulsrv_metric_def labelled_series[] = {
		{ "x_total", RULSRV_METRIC_COUNTER, "X.", model, NULL, 0, &bad, &lat0 },
	};

	ck_assert_int_eq(metrics_register(r, defs, 2), 0);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_eq(lat0, metrics_series(lat, NULL));
	ck_assert_int_eq(metrics_histogram_observe(lat0, 0.5), 0);
	ck_assert_int_eq(metrics_register(r, clash, 1), -EEXIST);
	ck_assert_int_eq(metrics_register(r, labelled_series, 1), -EINVAL);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_invalid_definitions)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *const reserved[] = {"__x", NULL};
	const char *const bad[] = {"1a", NULL};
	const char *const dash[] = {"a-b", NULL};
	const char *const dup[] = {"a", "a", NULL};
	const char *const le[] = {"le", NULL};
	const double desc[] = {2, 1}, nan_b[] = {NAN}, ok[] = {1};
	struct rulsrv_metric *m;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "", "h", NULL, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, NULL, "h", NULL, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "9abc", "h", NULL, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a-b", "h", NULL, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a b", "h", NULL, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a", "h", reserved, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a", "h", bad, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a", "h", dash, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a", "h", dup, NULL, 0, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "a", "h", le, ok, 1, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "a", "h", NULL, desc, 2, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "a", "h", NULL, nan_b, 1, &m), -EINVAL);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "a", "h", NULL, ok, 1, &m), -EINVAL);
	/* "le" is fine on a counter; colons are fine in metric names */
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "ns:a_total", "h", le, NULL, 0, &m), 0);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_labelled_series)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"model", "code", NULL};
	const char *const v1[] = {"m1", "200", NULL};
	const char *const v1b[] = {"m1", "200", NULL};
	const char *const v2[] = {"m1", "400", NULL};
	const char *const v3[] = {"m12", "00", NULL};
	struct rulsrv_metric *m;
	struct rulsrv_series *s1;
	char model[16];
	struct dump *d;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "x_total", "h", labels, NULL, 0, &m), 0);
	s1 = metrics_series(m, v1);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_eq(metrics_series(m, v1b), s1);
	ck_assert_ptr_ne(metrics_series(m, v2), s1);
	ck_assert_ptr_ne(metrics_series(m, v3), s1);
	ck_assert_ptr_null(metrics_series(m, NULL));
	metrics_counter_add(s1, 1);
	metrics_counter_add(metrics_series(m, v1b), 1);
	metrics_counter_add(metrics_series(m, v2), 5);
	/* no series exists before it is asked for; then they walk in creation order */
	d = dump_of(r);
	ck_assert_msg(strcmp(d->buf, "# x_total\nx_total{m1,200} 2\nx_total{m1,400} 5\n"
				     "x_total{m12,00} 0\n") == 0, "%s", d->buf);
	free(d);

	/* thousands of children: the table grows, every child is found again */
	for (int i = 0; i < 5000; i++) {
		const char *const v[] = {model, "200", NULL};

		snprintf(model, sizeof(model), "m%d", i);
		metrics_counter_add(metrics_series(m, v), i);
	}
	for (int i = 0; i < 5000; i++) {
		const char *const v[] = {model, "200", NULL};

		snprintf(model, sizeof(model), "m%d", i);
		ck_assert_ptr_nonnull(metrics_series(m, v));
	}
	d = dump_of(r);
	ck_assert_ptr_nonnull(strstr(d->buf, "x_total{m1,200} 3\n"));
	ck_assert_ptr_nonnull(strstr(d->buf, "x_total{m4999,200} 4999\n"));
	ck_assert_ptr_null(strstr(d->buf, "x_total{m1,200} 2\n"));
	free(d);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_histogram_buckets)
{
	struct metrics_registry *r = metrics_registry_new();
	const double b[] = {0.1, 0.5, 1};
	struct rulsrv_metric *m;
	struct rulsrv_series *s;
	struct dump *d;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "h_seconds", "h", NULL, b, 3, &m), 0);
	s = metrics_series(m, NULL);
	/* upper bounds are inclusive (le) */
	metrics_histogram_observe(s, 0.05);
	metrics_histogram_observe(s, 0.1);
	metrics_histogram_observe(s, 0.3);
	metrics_histogram_observe(s, 1);
	metrics_histogram_observe(s, 7);
	metrics_histogram_observe(s, -2);
	d = dump_of(r);
	/* count 6, sum 6.45, cumulative: <=0.1: 3, <=0.5: 4, <=1: 5, +Inf: 6 */
	ck_assert_msg(strstr(d->buf, "h_seconds{} 6 6.45 3 4 5 6\n") != NULL, "%s", d->buf);
	free(d);
	metrics_registry_free(r);
}
END_TEST

struct hammer {
	struct rulsrv_metric *counter;
	struct rulsrv_metric *hist;
	struct rulsrv_metric *gauge;
	int iterations;
	int id;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	const char *const same[] = {"shared", NULL};
	char own[16];
	const char *const mine[] = {own, NULL};

	snprintf(own, sizeof(own), "t%d", h->id);
	for (int i = 0; i < h->iterations; i++) {
		/* look-up every time: the get-or-create path is what handlers run */
		metrics_counter_add(metrics_series(h->counter, same), 1);
		metrics_counter_add(metrics_series(h->counter, mine), 0.5);
		metrics_histogram_observe(metrics_series(h->hist, NULL), (i % 4) * 0.5);
		metrics_gauge_add(metrics_series(h->gauge, NULL), 1);
	}
	return NULL;
}

START_TEST(test_concurrent_exact)
{
	enum { THREADS = 8, ITER = 50000 };
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"who", NULL};
	const double b[] = {0, 0.5, 1};
	struct hammer h[THREADS];
	pthread_t t[THREADS];
	char want[128];
	struct dump *d;
	struct rulsrv_metric *c, *hi, *g;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "c_total", "h", labels, NULL, 0, &c), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_HISTOGRAM, "h", "h", NULL, b, 3, &hi), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "g", "h", NULL, NULL, 0, &g), 0);
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){c, hi, g, ITER, i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	d = dump_of(r);
	snprintf(want, sizeof(want), "c_total{shared} %d\n", THREADS * ITER);
	ck_assert_msg(strstr(d->buf, want) != NULL, "%s", d->buf);
	snprintf(want, sizeof(want), "c_total{t7} %d\n", ITER / 2);
	ck_assert_msg(strstr(d->buf, want) != NULL, "%s", d->buf);
	/* each thread: ITER/4 of each of 0, 0.5, 1, 1.5 -> sum ITER*0.75 */
	snprintf(want, sizeof(want), "h{} %d %g %d %d %d %d\n", THREADS * ITER, THREADS * ITER * 0.75,
		 THREADS * ITER / 4, THREADS * ITER / 2, THREADS * ITER * 3 / 4, THREADS * ITER);
	ck_assert_msg(strstr(d->buf, want) != NULL, "want %s in %s", want, d->buf);
	snprintf(want, sizeof(want), "g{} %d\n", THREADS * ITER);
	ck_assert_msg(strstr(d->buf, want) != NULL, "%s", d->buf);
	free(d);
	metrics_registry_free(r);
}
END_TEST

struct grower {
	struct rulsrv_metric *family;
	int id;
};

/* Every thread creates the same 3,000 children in a different order while the table grows. */
static void *
grower_run(void *arg)
{
	struct grower *g = arg;
	char a[16], b[16];
	const char *const v[] = {a, b, NULL};

	for (int i = 0; i < 3000; i++) {
		int k = (i * 7 + g->id * 1013) % 3000;

		snprintf(a, sizeof(a), "u%d", k);
		snprintf(b, sizeof(b), "%d", k % 7);
		metrics_counter_add(metrics_series(g->family, v), 1);
	}
	return NULL;
}

START_TEST(test_concurrent_creation)
{
	enum { THREADS = 4 };
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"unit", "k", NULL};
	struct grower g[THREADS];
	pthread_t t[THREADS];
	struct rulsrv_metric *m;
	struct dump *d;
	const char *p;
	int lines = 0;

	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "grown_total", "h", labels, NULL,
					0, &m), 0);
	for (int i = 0; i < THREADS; i++) {
		g[i] = (struct grower){m, i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, grower_run, &g[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	d = dump_of(r);
	/* each child exactly once, each with one increment per thread */
	for (p = strchr(d->buf, '\n') + 1; *p != '\0'; p = strchr(p, '\n') + 1) {
		ck_assert_msg(strncmp(strchr(p, ' '), " 4\n", 3) == 0, "%.40s", p);
		lines++;
	}
	ck_assert_int_eq(lines, 3000);
	free(d);
	metrics_registry_free(r);
}
END_TEST

static int collector_calls;

static void
collector_fn(void *ud)
{
	collector_calls++;
	metrics_gauge_set(metrics_series(ud, NULL), collector_calls * 10);
}

START_TEST(test_collectors_and_order)
{
	struct metrics_registry *r = metrics_registry_new();
	struct rulsrv_metric *a, *b, *z;
	struct dump *d;

	collector_calls = 0;
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "zeta", "h", NULL, NULL, 0, &z), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_GAUGE, "alpha", "h", NULL, NULL, 0, &a), 0);
	ck_assert_int_eq(metrics_family(r, RULSRV_METRIC_COUNTER, "beta_total", "h", NULL, NULL, 0, &b), 0);
	ck_assert_int_eq(metrics_add_collector(r, collector_fn, a), 0);
	d = dump_of(r);
	/* registration order, and the collector ran before the walk */
	ck_assert_msg(strcmp(d->buf, "# zeta\nzeta{} 0\n# alpha\nalpha{} 10\n# beta_total\nbeta_total{} 0\n") == 0,
		      "%s", d->buf);
	free(d);
	d = dump_of(r);
	ck_assert_ptr_nonnull(strstr(d->buf, "alpha{} 20\n"));
	free(d);
	/* a negative return stops the walk and is returned */
	d = calloc(1, sizeof(*d));
	d->stop_after = 1;
	ck_assert_int_eq(metrics_collect(r, dump_fn, d), -ECANCELED);
	ck_assert_ptr_null(strstr(d->buf, "alpha{"));
	ck_assert_ptr_null(strstr(d->buf, "beta_total"));
	free(d);
	metrics_registry_free(r);
}
END_TEST

static double
dump_value(const struct dump *d, const char *series)
{
	const char *p = strstr(d->buf, series);

	return p == NULL ? NAN : strtod(p + strlen(series), NULL);
}

START_TEST(test_process_metrics)
{
	struct metrics_registry *r = metrics_registry_new();
	volatile double x = 0;
	struct dump *d;

	ck_assert_int_eq(process_metrics_register(r), 0);
	/* burn a little CPU so the counter moves */
	for (long i = 0; i < 60000000L; i++)
		x += (double)i * 1e-9;
	d = dump_of(r);
	ck_assert_int_eq(d->families, 7);
	ck_assert_double_gt(dump_value(d, "process_cpu_seconds_total{}"), 0.01);
	ck_assert_double_gt(dump_value(d, "process_resident_memory_bytes{}"), 1 << 20);
	ck_assert_double_gt(dump_value(d, "process_virtual_memory_bytes{}"),
			    dump_value(d, "process_resident_memory_bytes{}"));
	ck_assert_double_le(fabs(dump_value(d, "process_start_time_seconds{}") - (double)time(NULL)), 600);
	ck_assert_double_ge(dump_value(d, "process_open_fds{}"), 3);
	ck_assert_double_ge(dump_value(d, "process_max_fds{}"), dump_value(d, "process_open_fds{}"));
	ck_assert_double_ge(dump_value(d, "process_threads{}"), 1);
	free(d);
	/* registering twice in one registry is a get-or-create of the same families */
	ck_assert_int_eq(process_metrics_register(r), 0);
	metrics_registry_free(r);
}
END_TEST

Suite *metrics_suite(void);

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("registry");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unlabelled_types);
	tcase_add_test(tc, test_get_or_create);
	tcase_add_test(tc, test_invalid_definitions);
	tcase_add_test_raise_signal(tc, test_wrong_type, WRONG_TYPE_SIGNAL);
	tcase_add_test(tc, test_register_table);
	tcase_add_test(tc, test_labelled_series);
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_concurrent_exact);
	tcase_add_test(tc, test_concurrent_creation);
	tcase_add_test(tc, test_collectors_and_order);
	tcase_add_test(tc, test_process_metrics);
	suite_add_tcase(s, tc);
	return s;
}
