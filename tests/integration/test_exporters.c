/* SPDX-License-Identifier: MIT */
/* test_exporters.c - the exporters in the real daemon: switched on and off by configuration
 * alone, and a dead statsd endpoint costs requests nothing. */
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

#include "harness/harness.h"

/* A UDP socket on 127.0.0.1 for the daemon's statsd pushes; *port gets its number. */
static int
udp_listen(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Everything that arrives within ms, as one NUL-terminated string (caller frees). */
static char *
udp_collect(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t cap = 1 << 20, len = 0;
	char *buf = calloc(1, cap);
	struct timespec t0, t;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, left) != 1)
			break;
		n = recv(fd, buf + len, cap - len - 2, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len++] = '\n';
		if (cap - len < 70000)
			break;
	}
	buf[len] = '\0';
	return buf;
}

static char *
conf_text(bool prometheus, bool statsd, int statsd_port, int interval_ms)
{
	char *text;

	ck_assert_int_gt(asprintf(&text,
				  "plugin_dir = \"@PLUGINS@\";\n"
				  "plugins = {\n"
				  "  prometheus = { file = \"export_prometheus.so\"; };\n"
				  "  statsd = { file = \"export_statsd.so\";\n"
				  "    settings = { port = %d; interval_ms = %d; prefix = \"t\"; }; };\n"
				  "};\n"
				  "services = { prediction = { listen = \"127.0.0.1:0\";\n"
				  "  plugins = [%s%s%s]; }; };\n",
				  statsd_port, interval_ms, prometheus ? "\"prometheus\"" : "",
				  prometheus && statsd ? ", " : "", statsd ? "\"statsd\"" : ""),
			 0);
	return text;
}

static long
get_status(int port, const char *path)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	status = r.status;
	harness_response_free(&r);
	return status;
}

/* Same binary, same plugin directory: only the service's plugin list differs. */
START_TEST(test_prometheus_by_config)
{
	struct harness_server s;
	char *conf;
	int port;

	conf = conf_text(true, false, 9, 1000);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	port = harness_port(&s, "prediction");
	ck_assert_int_eq(get_status(port, "/metrics"), 200);
	ck_assert(harness_scrape(port, "http_requests_total{handler=\"/healthz\",code=\"200\"}") >= 1);
	harness_cleanup(&s);

	conf = conf_text(false, false, 9, 1000);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	port = harness_port(&s, "prediction");
	ck_assert_int_eq(get_status(port, "/healthz"), 200);
	ck_assert_int_eq(get_status(port, "/metrics"), 404);
	harness_cleanup(&s);
}
END_TEST

START_TEST(test_statsd_by_config)
{
	struct harness_server s;
	char *conf, *rx;
	int fd, udp, port;

	fd = udp_listen(&udp);
	conf = conf_text(false, true, udp, 100);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	port = harness_port(&s, "prediction");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(get_status(port, "/healthz"), 200);
	ck_assert_int_eq(get_status(port, "/metrics"), 404); /* statsd only */
	rx = udp_collect(fd, 700);
	ck_assert_msg(strstr(rx, "t.prediction.http_requests_total._healthz.200:") != NULL,
		      "nothing from statsd exporter: %s", rx);
	ck_assert_msg(strstr(rx, "t.prediction.process_threads:") != NULL, "%s", rx);
	free(rx);
	harness_cleanup(&s);
	rx = udp_collect(fd, 100); /* the final push of the stopped instance */
	free(rx);

	conf = conf_text(true, false, udp, 100);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(get_status(harness_port(&s, "prediction"), "/healthz"), 200);
	rx = udp_collect(fd, 700);
	ck_assert_msg(rx[0] == '\0', "statsd lines without the statsd plugin: %s", rx);
	free(rx);
	harness_cleanup(&s);
	close(fd);
}
END_TEST

/* Sum of the values of every "key:value|c" line in rx. */
static double
counter_sum(const char *rx, const char *key)
{
	size_t klen = strlen(key);
	const char *p = rx;
	double sum = 0;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == rx || p[-1] == '\n') && p[klen] == ':') {
			char *end;
			double v = strtod(p + klen + 1, &end);

			if (strncmp(end, "|c", 2) == 0 && (end[2] == '\n' || end[2] == '\0'))
				sum += v;
		}
		p += klen;
	}
	return sum;
}

/*
 * The registry outlives a reload, the statsd instance does not: the new one must send only
 * what happens after it started, so statsd's total equals the daemon's own count (nothing
 * counted twice).
 */
START_TEST(test_statsd_across_reload)
{
	const char *key = "t.prediction.http_requests_total._healthz.200";
	struct harness_server s;
	struct harness_response r;
	char *conf, *rx1, *rx2;
	double total, sent;
	int fd, udp, port;

	fd = udp_listen(&udp);
	conf = conf_text(true, true, udp, 100);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	port = harness_port(&s, "prediction");
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(get_status(port, "/healthz"), 200);
	rx1 = udp_collect(fd, 400);
	ck_assert_int_eq(harness_post_json(port, "/-/reload", "{}", &r), 0);
	ck_assert_msg(r.status == 200, "reload: %ld %s", r.status, r.body);
	harness_response_free(&r);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(get_status(port, "/healthz"), 200);
	rx2 = udp_collect(fd, 400);
	total = harness_scrape(port, "http_requests_total{handler=\"/healthz\",code=\"200\"}");
	sent = counter_sum(rx1, key) + counter_sum(rx2, key);
	ck_assert_msg(total >= 18 && sent == total, "statsd got %g /healthz, the daemon counted %g",
		      sent, total);
	ck_assert_double_eq(harness_scrape(port, "rulsrv_config_reloads_total{result=\"success\"}"), 1);
	free(rx1);
	free(rx2);
	harness_cleanup(&s);
	close(fd);
}
END_TEST

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/*
 * Two daemons side by side, requests alternating between them so that machine noise hits
 * both alike: one without statsd, one pushing every 10 ms to a port nobody listens on.
 */
START_TEST(test_dead_statsd_costs_nothing)
{
	enum { N = 300 };
	static double with[N], without[N];
	struct harness_server a, b;
	char *conf;
	int fd, dead, pa, pb;

	fd = udp_listen(&dead);
	close(fd); /* nothing listens there any more */
	conf = conf_text(true, false, dead, 10);
	ck_assert_int_eq(harness_start_conf(&a, conf), 0);
	free(conf);
	conf = conf_text(true, true, dead, 10);
	ck_assert_int_eq(harness_start_conf(&b, conf), 0);
	free(conf);
	pa = harness_port(&a, "prediction");
	pb = harness_port(&b, "prediction");
	for (int i = 0; i < N; i++) {
		double t0 = now_ms();

		ck_assert_int_eq(get_status(pa, "/healthz"), 200);
		without[i] = now_ms() - t0;
		t0 = now_ms();
		ck_assert_int_eq(get_status(pb, "/healthz"), 200);
		with[i] = now_ms() - t0;
	}
	qsort(with, N, sizeof(double), cmp_double);
	qsort(without, N, sizeof(double), cmp_double);
	fprintf(stderr, "exporters: /healthz p50 %.3f ms without statsd, %.3f ms with a dead one; "
			"p90 %.3f / %.3f ms\n",
		without[N / 2], with[N / 2], without[N * 9 / 10], with[N * 9 / 10]);
	ck_assert_msg(with[N / 2] <= without[N / 2] * 2 + 0.5, "p50 %.3f ms vs %.3f ms",
		      with[N / 2], without[N / 2]);
	ck_assert_msg(with[N * 9 / 10] <= without[N * 9 / 10] * 3 + 2, "p90 %.3f ms vs %.3f ms",
		      with[N * 9 / 10], without[N * 9 / 10]);
	/* and a daemon pushing into the void still stops at once and cleanly */
	ck_assert_int_eq(harness_stop(&b), 0);
	ck_assert_int_eq(harness_stop(&a), 0);
	harness_cleanup(&a);
	harness_cleanup(&b);
}
END_TEST

Suite *exporters_suite(void);

Suite *
exporters_suite(void)
{
	Suite *s = suite_create("exporters");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prometheus_by_config);
	tcase_add_test(tc, test_statsd_by_config);
	tcase_add_test(tc, test_dead_statsd_costs_nothing);
	tcase_add_test(tc, test_statsd_across_reload);
	suite_add_tcase(s, tc);
	return s;
}
