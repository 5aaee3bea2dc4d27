/* SPDX-License-Identifier: MIT */
/* test_exporters.c - the exporters in the real daemon: switched on and off by configuration
 * alone, a dead statsd endpoint costs requests nothing, and statsd receives every count once
 * across reloads and the shutdown. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "clocks.h"
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
	double t0 = clocks_monotonic();
	ssize_t n;

	for (;;) {
		int left = ms - (int)((clocks_monotonic() - t0) * 1000);

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

/* Every datagram that arrives while the test runs, read on a thread of its own so that a
 * long run never overflows the socket buffer; stopped after a quiet 300 ms. */
struct rx_thread {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	char *buf;
	size_t len, cap;
};

static void *
rx_run(void *arg)
{
	struct rx_thread *t = arg;
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	static __thread char dgram[70000];
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, 300) != 1) {
			if (atomic_load(&t->stop))
				return NULL;
			continue;
		}
		n = recv(t->fd, dgram, sizeof(dgram), 0);
		if (n <= 0)
			return NULL;
		if (t->len + (size_t)n + 2 > t->cap) {
			char *b = realloc(t->buf, t->cap * 2 + (size_t)n);

			if (b == NULL)
				return NULL;
			t->buf = b;
			t->cap = t->cap * 2 + (size_t)n;
		}
		memcpy(t->buf + t->len, dgram, (size_t)n);
		t->len += (size_t)n;
		t->buf[t->len++] = '\n';
		t->buf[t->len] = '\0';
	}
}

static void
rx_start(struct rx_thread *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->cap = 1 << 16;
	t->buf = calloc(1, t->cap);
	ck_assert_ptr_nonnull(t->buf);
	atomic_init(&t->stop, false);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, rx_run, t), 0);
}

/* Everything received; the caller frees it. */
static char *
rx_finish(struct rx_thread *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->thread, NULL);
	return t->buf;
}

/* The daemon's count of /healthz answered 200 (0 before the first). */
static double
healthz_count(int port)
{
	double v = harness_scrape(port, "http_requests_total{handler=\"/healthz\",code=\"200\"}");

	return isnan(v) ? 0 : v;
}

/*
 * The daemon counts a request when libmicrohttpd reports it completed, which can be just
 * after the client has its answer: wait until the count reaches want (want < 0: until it
 * holds still for 100 ms), at most 3 s, and return it.
 */
static double
healthz_settled(int port, double want)
{
	double v = healthz_count(port), prev = -1;

	for (int i = 0; i < 300 && (want >= 0 ? v < want : v != prev); i++) {
		prev = v;
		poll(NULL, 0, want >= 0 ? 10 : 100);
		v = healthz_count(port);
	}
	return v;
}

static void
reload(int port)
{
	struct harness_response r;

	ck_assert_int_eq(harness_post_json(port, "/-/reload", "{}", &r), 0);
	ck_assert_msg(r.status == 200, "reload: %ld %s", r.status, r.body);
	harness_response_free(&r);
}

/*
 * Stop the daemon (SIGTERM: the last instance sends what is left) and compare what statsd
 * received with the daemon's own count, read just before. Every count once: none lost in a
 * handoff between the old and the new instance, none sent by both.
 */
static void
statsd_compare(struct harness_server *s, struct rx_thread *rx, double want, int reloads)
{
	const char *key = "t.prediction.http_requests_total._healthz.200";
	int port = harness_port(s, "prediction");
	double total, sent;
	char *buf;

	total = healthz_settled(port, want);
	ck_assert_double_eq(harness_scrape(port, "rulsrv_config_reloads_total{result=\"success\"}"),
			    reloads);
	ck_assert_int_eq(harness_stop(s), 0);
	buf = rx_finish(rx);
	sent = counter_sum(buf, key);
	free(buf);
	ck_assert_msg(total == want && sent == total,
		      "statsd got %g /healthz, the daemon counted %g, the test sent %g", sent, total,
		      want);
}

/*
 * Requests right after each reload answer, when the new instance has barely started: with
 * pushes every 20 ms (old and new instances both push around the handoff) and every 60 s
 * (nothing goes out before the shutdown: the counts pass from instance to instance unsent).
 */
START_TEST(test_statsd_across_reload)
{
	static const int interval[] = {20, 60000};
	struct harness_server s;
	struct rx_thread rx;
	int fd, udp, port, n;
	char *conf;

	fd = udp_listen(&udp);
	rx_start(&rx, fd);
	conf = conf_text(true, true, udp, interval[_i]);
	ck_assert_int_eq(harness_start_conf(&s, conf), 0);
	free(conf);
	port = harness_port(&s, "prediction");
	n = (int)healthz_settled(port, -1);
	for (int i = 0; i < 10; i++, n++)
		ck_assert_int_eq(get_status(port, "/healthz"), 200);
	for (int r = 0; r < 8; r++) {
		reload(port);
		for (int i = 0; i < 5; i++, n++)
			ck_assert_int_eq(get_status(port, "/healthz"), 200);
	}
	statsd_compare(&s, &rx, n, 8);
	harness_cleanup(&s);
	close(fd);
}
END_TEST

struct hammer {
	int port;
	atomic_bool stop;
	atomic_long ok, other;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->stop)) {
		struct harness_response r;

		if (harness_get(h->port, "/healthz", &r) == 0 && r.status == 200)
			h->ok++;
		else
			h->other++;
		harness_response_free(&r);
	}
	return NULL;
}

/*
 * The daemon with statsd (every 20 ms) and the model, a statsd receiver on a thread, and
 * requests in a tight loop on another: what the reload tests run under. Returns the
 * receiver's socket; *before is the request count the daemon started from.
 */
static int
traffic_start(struct harness_server *s, struct hammer *h, struct rx_thread *rx, int *udp,
	      pthread_t *t, double *before)
{
	int fd = udp_listen(udp);
	char *conf;

	rx_start(rx, fd);
	conf = conf_text(true, true, *udp, 20);
	ck_assert_int_eq(harness_start_conf(s, conf), 0);
	free(conf);
	h->port = harness_port(s, "prediction");
	*before = healthz_settled(h->port, -1);
	atomic_init(&h->stop, false);
	atomic_init(&h->ok, 0);
	atomic_init(&h->other, 0);
	ck_assert_int_eq(pthread_create(t, NULL, hammer_run, h), 0);
	return fd;
}

/* Requests in a tight loop on another thread while the main thread reloads again and again. */
START_TEST(test_statsd_reload_under_traffic)
{
	struct harness_server s;
	struct hammer h;
	struct rx_thread rx;
	int fd, udp, reloads = 0;
	double before;
	pthread_t t;

	fd = traffic_start(&s, &h, &rx, &udp, &t, &before);
	while (reloads < 12 || h.ok < 500) {
		reload(h.port);
		reloads++;
		ck_assert_int_lt(reloads, 5000);
	}
	atomic_store(&h.stop, true);
	pthread_join(t, NULL);
	fprintf(stderr, "exporters: %d reloads under %ld requests\n", reloads, (long)h.ok);
	ck_assert_msg(h.other == 0, "%ld answered 200, %ld otherwise", (long)h.ok, (long)h.other);
	statsd_compare(&s, &rx, before + (double)h.ok, reloads);
	harness_cleanup(&s);
	close(fd);
}
END_TEST

/*
 * statsd first; when bad, a model (a bundle to load: time in which requests are counted)
 * and a prometheus whose path is refused follow, so that the reload fails after statsd's
 * init, with the new statsd instance alive for the model's load.
 */
static void
write_conf_statsd_first(struct harness_server *s, int statsd_port, bool bad)
{
	FILE *f = fopen(s->conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"plugin_dir = \"%s/plugins\";\n"
		"plugins = {\n"
		"  statsd = { file = \"export_statsd.so\";\n"
		"    settings = { port = %d; interval_ms = 20; prefix = \"t\"; }; };\n"
		"  model = { file = \"predict_forest.so\";\n"
		"    settings = { bundle = \"%s/models/fd001\"; }; };\n"
		"  prometheus = { file = \"export_prometheus.so\";\n"
		"    settings = { path = \"%s\"; }; };\n"
		"};\n"
		"services = { prediction = { listen = \"127.0.0.1:0\";\n"
		"  plugins = [\"statsd\", %s\"prometheus\"]; }; };\n",
		harness_build_dir(), statsd_port, harness_source_dir(),
		bad ? "metrics" : "/metrics", bad ? "\"model\", " : "");
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * Reloads that fail after the statsd instance of the new configuration was initialised,
 * between ones that succeed, under traffic: the discarded instance sends nothing (the
 * running one goes on sending those counts), so statsd still has every count exactly once.
 */
START_TEST(test_statsd_failed_reloads_under_traffic)
{
	struct harness_server s;
	struct hammer h;
	struct rx_thread rx;
	int fd, udp, good = 0;
	double before;
	pthread_t t;

	fd = traffic_start(&s, &h, &rx, &udp, &t, &before);
	for (int i = 0; i < 12 || h.ok < 500; i++) {
		struct harness_response r;

		ck_assert_int_lt(i, 5000);
		write_conf_statsd_first(&s, udp, i % 2 == 0);
		ck_assert_int_eq(harness_post_json(h.port, "/-/reload", "{}", &r), 0);
		ck_assert_msg(r.status == (i % 2 == 0 ? 500 : 200), "reload %d: %ld %s", i,
			      r.status, r.body);
		harness_response_free(&r);
		good += i % 2;
	}
	atomic_store(&h.stop, true);
	pthread_join(t, NULL);
	ck_assert_msg(h.other == 0, "%ld answered 200, %ld otherwise", (long)h.ok, (long)h.other);
	statsd_compare(&s, &rx, before + (double)h.ok, good);
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
		double t0 = harness_now() * 1e3;

		ck_assert_int_eq(get_status(pa, "/healthz"), 200);
		without[i] = harness_now() * 1e3 - t0;
		t0 = harness_now() * 1e3;
		ck_assert_int_eq(get_status(pb, "/healthz"), 200);
		with[i] = harness_now() * 1e3 - t0;
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
	tcase_add_loop_test(tc, test_statsd_across_reload, 0, 2);
	tcase_add_test(tc, test_statsd_reload_under_traffic);
	tcase_add_test(tc, test_statsd_failed_reloads_under_traffic);
	suite_add_tcase(s, tc);
	return s;
}
