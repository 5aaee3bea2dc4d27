/* SPDX-License-Identifier: MIT */
/* test_export_statsd.c - the built export_statsd.so against a fake host and a UDP socket of the
 * test's own: line format, deltas, tags, packing into datagrams, dead endpoints. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "clocks.h"
#include "fake_host.h"
#include "metrics.h"

struct sd_fixture {
	void *dl;
	const struct rulsrv_plugin_descriptor *d;
	struct rulsrv_host host;
	struct rulsrv_settings settings;
	void *state;
	int sock;
	char port[16];
	/* everything received, datagrams separated by "\n--\n" */
	char *rx;
	size_t rx_len;
	size_t datagrams;
	size_t max_datagram;
};

static void
sd_open(struct sd_fixture *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int size = 4 << 20;

	memset(f, 0, sizeof(*f));
	f->sock = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(f->sock, 0);
	setsockopt(f->sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	ck_assert_int_eq(bind(f->sock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(f->sock, (struct sockaddr *)&a, &len), 0);
	snprintf(f->port, sizeof(f->port), "%d", ntohs(a.sin_port));
	f->rx = calloc(1, 1 << 22);
	f->d = fake_load("export_statsd.so", &f->dl);
	ck_assert_ptr_nonnull(f->d);
	ck_assert_str_eq(f->d->kind, "exporter");
	f->host.registry = metrics_registry_new();
}

/* settings: NULL-terminated name, value pairs (port is the test's socket unless given). */
static int
sd_start(struct sd_fixture *f, const char *const *kv)
{
	int i, n = 0;
	bool port = false;

	for (i = 0; kv != NULL && kv[i] != NULL; i += 2, n++) {
		f->settings.names[n] = kv[i];
		f->settings.values[n] = kv[i + 1];
		port |= strcmp(kv[i], "port") == 0;
	}
	if (!port) {
		f->settings.names[n] = "port";
		f->settings.values[n] = f->port;
	}
	return f->d->init(&f->host, &fake_api, &f->settings, &f->state);
}

/* Read datagrams until none arrived for quiet_ms. */
static void
sd_drain(struct sd_fixture *f, int quiet_ms)
{
	struct pollfd p = {.fd = f->sock, .events = POLLIN};
	char buf[70000];
	ssize_t n;

	while (poll(&p, 1, quiet_ms) == 1) {
		n = recv(f->sock, buf, sizeof(buf), 0);
		ck_assert_int_gt(n, 0);
		f->datagrams++;
		if ((size_t)n > f->max_datagram)
			f->max_datagram = (size_t)n;
		ck_assert_uint_lt(f->rx_len + (size_t)n + 4, 1 << 22);
		memcpy(f->rx + f->rx_len, buf, (size_t)n);
		f->rx_len += (size_t)n;
		memcpy(f->rx + f->rx_len, "\n--\n", 5);
		f->rx_len += 4;
	}
}

static void
sd_stop(struct sd_fixture *f)
{
	if (f->state != NULL)
		f->d->fini(f->state);
	f->state = NULL;
	sd_drain(f, 100);
}

static void
sd_close(struct sd_fixture *f)
{
	metrics_registry_free(f->host.registry);
	dlclose(f->dl);
	close(f->sock);
	free(f->rx);
}

/* Sum of the values of every line "key:value|type..." received for exactly this key+type. */
static double
sd_sum(const struct sd_fixture *f, const char *key, const char *type_and_tags)
{
	char line[512], want[256];
	const char *p = f->rx;
	double sum = 0;

	snprintf(want, sizeof(want), "|%s", type_and_tags);
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char *colon;

		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		p += n + (p[n] == '\n');
		colon = strchr(line, ':');
		if (colon == NULL || (size_t)(colon - line) != strlen(key) ||
		    strncmp(line, key, strlen(key)) != 0)
			continue;
		if (strcmp(strchr(colon, '|'), want) == 0)
			sum += strtod(colon + 1, NULL);
	}
	return sum;
}

struct find {
	const char *name;
	const char *label; /* first label value, or NULL */
	double value;
};

static int
find_fn(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct find *q = ud;

	if (s != NULL && strcmp(f->name, q->name) == 0 &&
	    (q->label == NULL || strcmp(s->label_values[0], q->label) == 0))
		q->value = s->value;
	return 0;
}

/* A counter or gauge of the registry; NAN when absent. */
static double
registry_value(struct metrics_registry *r, const char *name, const char *label)
{
	struct find q = {name, label, NAN};

	metrics_collect(r, find_fn, &q);
	return q.value;
}

/* One call of the timer of instance state, as the core's timer thread makes them. */
static void
sd_tick(struct sd_fixture *f, void *state)
{
	size_t i, n = 0;

	for (i = 0; i < f->host.timer_count; i++) {
		if (f->host.timer_ud[i] == state) {
			f->host.timers[i](state);
			n++;
		}
	}
	ck_assert_uint_eq(n, 1);
}

START_TEST(test_plain_lines_and_deltas)
{
	const char *const labels[] = {"model", "code", NULL};
	const char *const v200[] = {"fd001", "200", NULL};
	const char *const vbad[] = {"a b/c:d|e", "", NULL};
	const double b[] = {0.001, 0.01};
	const char *const kv[] = {"prefix", "t.", "interval_ms", "50", NULL};
	const double signed_b[] = {-10, 0, 10};
	struct rulsrv_metric *c, *g, *h, *u, *res;
	struct sd_fixture f;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_HISTOGRAM, "resid_cycles",
					"h", NULL, signed_b, 3, &res), 0);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "req_total", "h",
					labels, NULL, 0, &c), 0);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_GAUGE, "temp", "h", NULL,
					NULL, 0, &g), 0);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_HISTOGRAM, "lat_seconds",
					"h", NULL, b, 2, &h), 0);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_HISTOGRAM, "rul_value",
					"h", NULL, b, 2, &u), 0);
	/* counted before the exporter started: not this instance's to send */
	metrics_counter_add(metrics_series(c, v200), 1000);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	ck_assert(fake_settings_all_read(&f.settings));
	ck_assert_uint_eq(f.host.timer_count, 1);
	ck_assert_double_eq(f.host.timer_interval[0], 0.05);
	sd_tick(&f, f.state);
	metrics_counter_add(metrics_series(c, v200), 3);
	metrics_counter_add(metrics_series(c, vbad), 1.5);
	metrics_gauge_set(metrics_series(g, NULL), -7.25);
	metrics_histogram_observe(metrics_series(h, NULL), 0.002);
	metrics_histogram_observe(metrics_series(h, NULL), 0.004);
	metrics_histogram_observe(metrics_series(h, NULL), 0.006);
	metrics_histogram_observe(metrics_series(u, NULL), 42);
	metrics_histogram_observe(metrics_series(res, NULL), -4);
	metrics_histogram_observe(metrics_series(res, NULL), -2);
	sd_tick(&f, f.state);
	metrics_counter_add(metrics_series(c, v200), 2);
	sd_tick(&f, f.state); /* the last +2 went with a push: fini's last push has nothing to add */
	sd_stop(&f);

	ck_assert_double_eq(sd_sum(&f, "t.test.req_total.fd001.200", "c"), 5);
	ck_assert_double_eq(sd_sum(&f, "t.test.req_total.a_b_c_d_e._", "c"), 1.5);
	/* a negative gauge is set from zero: statsd would read "-7.25" as a decrement */
	ck_assert_msg(strstr(f.rx, "t.test.temp:0|g\nt.test.temp:-7.25|g") != NULL, "%s", f.rx);
	/* _seconds histograms become _ms timers: the mean, counted 3 times */
	ck_assert_msg(strstr(f.rx, "t.test.lat_ms:4|ms|@0.3333333333333333\n") != NULL, "%s", f.rx);
	/* others keep their unit and name; a single observation is sent as is */
	ck_assert_msg(strstr(f.rx, "t.test.rul_value:42|ms") != NULL, "%s", f.rx);
	ck_assert_ptr_null(strstr(f.rx, "1000|c"));
	/* statsd refuses negative timings: a signed histogram is a count and a mean gauge */
	ck_assert_double_eq(sd_sum(&f, "t.test.resid_cycles_count", "c"), 2);
	ck_assert_msg(strstr(f.rx, "t.test.resid_cycles_mean:0|g\nt.test.resid_cycles_mean:-3|g") != NULL,
		      "%s", f.rx);
	ck_assert_uint_le(f.max_datagram, 1432);
	sd_close(&f);
}
END_TEST

/*
 * statsd reads the rate with /^@([\d.]+)/: no exponent, even for 1/200000. One push only (at
 * fini, no timer call), so that no walk splits the observations.
 */
START_TEST(test_small_rate)
{
	const char *const kv[] = {"prefix", "t.", "interval_ms", "3600000", NULL};
	const double b[] = {0.001, 0.01};
	struct rulsrv_metric *big;
	struct sd_fixture f;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_HISTOGRAM, "big_seconds",
					"h", NULL, b, 2, &big), 0);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	for (int i = 0; i < 200000; i++)
		metrics_histogram_observe(metrics_series(big, NULL), 0.0009765625); /* 2^-10 */
	sd_stop(&f);
	ck_assert_msg(strstr(f.rx, "t.test.big_ms:0.9765625|ms|@0.000005\n") != NULL, "%s", f.rx);
	sd_close(&f);
}
END_TEST

START_TEST(test_dogstatsd_tags)
{
	const char *const labels[] = {"model", "code", NULL};
	const char *const v[] = {"fd,001", "500", NULL};
	const char *const kv[] = {"prefix", "", "interval_ms", "50", "dogstatsd_tags", "true", NULL};
	struct rulsrv_metric *c;
	struct sd_fixture f;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "req_total", "h",
					labels, NULL, 0, &c), 0);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	sd_tick(&f, f.state);
	metrics_counter_add(metrics_series(c, v), 4);
	sd_tick(&f, f.state);
	sd_stop(&f);
	ck_assert_double_eq(sd_sum(&f, "req_total", "c|#service:test,model:fd_001,code:500"), 4);
	sd_close(&f);
}
END_TEST

START_TEST(test_packing)
{
	const char *const labels[] = {"long_label_name", NULL};
	const char *const kv[] = {"interval_ms", "100", "max_packet", "200", "include_service",
				  "false", NULL};
	struct rulsrv_metric *c;
	struct sd_fixture f;
	char value[64], key[128];
	int i, lines = 0;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "packed_total", "h",
					labels, NULL, 0, &c), 0);
	for (i = 0; i < 300; i++) {
		const char *const v[] = {value, NULL};

		snprintf(value, sizeof(value), "value-number-%d", i);
		metrics_series(c, v);
	}
	ck_assert_int_eq(sd_start(&f, kv), 0);
	sd_tick(&f, f.state);
	for (i = 0; i < 300; i++) {
		const char *const v[] = {value, NULL};

		snprintf(value, sizeof(value), "value-number-%d", i);
		metrics_counter_add(metrics_series(c, v), i + 1);
	}
	sd_tick(&f, f.state);
	sd_stop(&f);
	ck_assert_uint_le(f.max_datagram, 200);
	ck_assert_uint_gt(f.max_datagram, 150); /* packed, not one line per datagram */
	ck_assert_uint_ge(f.datagrams, 300 * 40 / 200);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "rulsrv.packed_total.value-number-%d", i);
		ck_assert_double_eq(sd_sum(&f, key, "c"), i + 1);
		lines++;
	}
	ck_assert_int_eq(lines, 300);
	/* no line is cut across datagrams: every datagram ends at a line end */
	ck_assert_ptr_null(strstr(f.rx, "\n--\n|"));
	/* the exporter counts what it sent, in the service's registry */
	ck_assert_double_eq(registry_value(f.host.registry, "rulsrv_statsd_datagrams_total", "sent"),
			    (double)f.datagrams);
	ck_assert_double_eq(registry_value(f.host.registry, "rulsrv_statsd_datagrams_total", "failed"), 0);
	sd_close(&f);
}
END_TEST

/* Nothing listens: pushes go nowhere, and neither updates, pushes nor fini wait for anything. */
START_TEST(test_dead_endpoint)
{
	const char *const kv[] = {"interval_ms", "10", "port", "9", NULL};
	struct rulsrv_metric *c;
	struct sd_fixture f;
	double t0, ms;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "x_total", "h",
					NULL, NULL, 0, &c), 0);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	t0 = clocks_monotonic();
	for (int i = 0; i < 200; i++) {
		metrics_counter_add(metrics_series(c, NULL), 1);
		sd_tick(&f, f.state);
	}
	f.d->fini(f.state);
	f.state = NULL;
	ms = (clocks_monotonic() - t0) * 1e3;
	ck_assert_msg(ms < 2000, "200 updates, pushes and fini took %.0f ms", ms);
	sd_close(&f);
}
END_TEST

/* A line that cannot fit in one datagram is dropped, counted, and the rest still goes. */
START_TEST(test_line_too_long)
{
	const char *const labels[] = {"l", NULL};
	const char *const longv[] = {"a-label-value-long-enough-to-overflow-a-small-datagram", NULL};
	const char *const kv[] = {"interval_ms", "50", "max_packet", "64", "include_service",
				  "false", NULL};
	struct rulsrv_metric *c, *g;
	struct sd_fixture f;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "x_total", "h",
					labels, NULL, 0, &c), 0);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_GAUGE, "g", "h", NULL, NULL,
					0, &g), 0);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	sd_tick(&f, f.state);
	metrics_counter_add(metrics_series(c, longv), 1);
	metrics_gauge_set(metrics_series(g, NULL), 5);
	sd_tick(&f, f.state);
	sd_stop(&f);
	ck_assert_ptr_null(strstr(f.rx, "overflow"));
	ck_assert_ptr_nonnull(strstr(f.rx, "rulsrv.g:5|g"));
	ck_assert_uint_le(f.max_datagram, 64);
	ck_assert_double_ge(registry_value(f.host.registry, "rulsrv_statsd_lines_dropped_total", NULL), 1);
	sd_close(&f);
}
END_TEST

/*
 * A reload's handoff: the new instance is created before the old one is finished and they
 * overlap; counts made at any moment (before the handoff, between the last pushes, after the
 * old one is gone) reach statsd exactly once, and the last instance sends the rest at fini.
 * Long intervals: nothing goes out but what fini does.
 */
START_TEST(test_handoff_between_instances)
{
	const char *const kv[] = {"interval_ms", "3600000", "prefix", "t", NULL};
	const char *const fast[] = {"interval_ms", "10", "prefix", "u", NULL};
	struct rulsrv_metric *c;
	struct rulsrv_series *x;
	struct sd_fixture f;
	void *old;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "x_total", "h",
					NULL, NULL, 0, &c), 0);
	x = metrics_series(c, NULL);
	metrics_counter_add(x, 100); /* before the first instance: its baseline */
	ck_assert_int_eq(sd_start(&f, kv), 0);
	metrics_counter_add(x, 1);
	old = f.state;
	ck_assert_int_eq(sd_start(&f, kv), 0); /* the reload's new instance */
	metrics_counter_add(x, 2);
	ck_assert_ptr_nonnull(f.d->handoff);
	f.d->handoff(f.state, old);
	metrics_counter_add(x, 4);
	f.d->fini(old);
	metrics_counter_add(x, 8);
	sd_drain(&f, 100);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 0); /* nothing pushed yet */
	sd_stop(&f);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 15);

	/* Both push while the counter moves (harsher than the core, which stops the old
	 * instance's timer before the new one's starts); the rendered name may change. */
	ck_assert_int_eq(sd_start(&f, fast), 0);
	old = f.state;
	for (int i = 0; i < 300; i++) {
		if (i == 100) {
			ck_assert_int_eq(sd_start(&f, kv), 0);
			f.d->handoff(f.state, old);
		}
		if (i == 200)
			f.d->fini(old);
		metrics_counter_add(x, 1);
		if (i < 200 && i % 7 == 0)
			sd_tick(&f, old);
		if (i > 100 && i % 5 == 0)
			sd_tick(&f, f.state);
	}
	sd_stop(&f);
	ck_assert_double_eq(sd_sum(&f, "u.test.x_total", "c") + sd_sum(&f, "t.test.x_total", "c"),
			    15 + 300);
	sd_close(&f);
}
END_TEST

/*
 * A reload that fails after this plugin's init: the new instance never serves and gets no
 * handoff, and its fini must send nothing, since the running instance goes on sending those
 * counts. A first instance of its service sends what is left at fini even before its first
 * timer call (test_small_rate); one that follows another only once it served.
 */
START_TEST(test_failed_reload_sends_nothing)
{
	const char *const kv[] = {"interval_ms", "3600000", "prefix", "t", NULL};
	struct rulsrv_metric *c;
	struct rulsrv_series *x;
	struct sd_fixture f;
	void *running;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "x_total", "h",
					NULL, NULL, 0, &c), 0);
	x = metrics_series(c, NULL);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	running = f.state;
	metrics_counter_add(x, 1);
	ck_assert_int_eq(sd_start(&f, kv), 0); /* the reload's new instance */
	metrics_counter_add(x, 2);
	f.d->fini(f.state);                    /* the reload failed */
	f.state = running;
	metrics_counter_add(x, 4);
	sd_drain(&f, 100);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 0);
	sd_tick(&f, running);
	sd_drain(&f, 100);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 7);
	metrics_counter_add(x, 8);
	sd_stop(&f);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 15);
	sd_close(&f);
}
END_TEST

/*
 * A replaced export_statsd.so loads as another object, whose instances may be laid out
 * otherwise: its handoff from an instance of the old object keeps its own baseline, and the
 * old instance, last of its memory, sends what is left at its fini.
 */
START_TEST(test_handoff_from_another_file)
{
	const char *const kv[] = {"interval_ms", "3600000", "prefix", "t", NULL};
	const struct rulsrv_plugin_descriptor *other;
	char src[1024], cmd[2200];
	char copy[] = "/tmp/export-statsd-copy-XXXXXX";
	struct rulsrv_metric *c;
	struct rulsrv_series *x;
	struct sd_fixture f;
	void *handle, *old;
	int fd;

	sd_open(&f);
	ck_assert_int_eq(metrics_family(f.host.registry, RULSRV_METRIC_COUNTER, "x_total", "h",
					NULL, NULL, 0, &c), 0);
	x = metrics_series(c, NULL);
	ck_assert_int_eq(sd_start(&f, kv), 0);
	old = f.state;
	metrics_counter_add(x, 1);
	fd = mkstemp(copy);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(src, sizeof(src), "%s/plugins/export_statsd.so", RULSRV_BUILD_DIR);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, copy);
	ck_assert_int_eq(system(cmd), 0);
	handle = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(handle != NULL, "%s", dlerror());
	unlink(copy);
	other = dlsym(handle, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(other);
	ck_assert_ptr_ne(other, f.d);
	ck_assert_int_eq(other->init(&f.host, &fake_api, &f.settings, &f.state), 0);
	other->handoff(f.state, old);
	ck_assert_ptr_nonnull(strstr(f.host.last_log, "another export_statsd.so"));
	f.d->fini(old);
	metrics_counter_add(x, 2);
	other->fini(f.state);
	f.state = NULL;
	sd_drain(&f, 100);
	ck_assert_double_eq(sd_sum(&f, "t.test.x_total", "c"), 3);
	dlclose(handle);
	sd_close(&f);
}
END_TEST

START_TEST(test_bad_settings)
{
	const char *const bad_port[] = {"port", "70000", NULL};
	const char *const bad_prefix[] = {"prefix", "a:b", NULL};
	const char *const bad_packet[] = {"max_packet", "10", NULL};
	struct sd_fixture f;

	sd_open(&f);
	ck_assert_int_eq(sd_start(&f, bad_port), -EINVAL);
	sd_close(&f);
	sd_open(&f);
	ck_assert_int_eq(sd_start(&f, bad_prefix), -EINVAL);
	ck_assert_int_eq(f.settings.errors, 1);
	sd_close(&f);
	sd_open(&f);
	ck_assert_int_eq(sd_start(&f, bad_packet), -EINVAL);
	sd_close(&f);
}
END_TEST

Suite *export_statsd_suite(void);

Suite *
export_statsd_suite(void)
{
	Suite *s = suite_create("export_statsd");
	TCase *tc = tcase_create("push");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_plain_lines_and_deltas);
	tcase_add_test(tc, test_small_rate);
	tcase_add_test(tc, test_dogstatsd_tags);
	tcase_add_test(tc, test_packing);
	tcase_add_test(tc, test_dead_endpoint);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_handoff_between_instances);
	tcase_add_test(tc, test_failed_reload_sends_nothing);
	tcase_add_test(tc, test_handoff_from_another_file);
	tcase_add_test(tc, test_bad_settings);
	suite_add_tcase(s, tc);
	return s;
}
