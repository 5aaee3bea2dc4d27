/* SPDX-License-Identifier: MIT */
/* test_body_budget.c - max_inflight_body_bytes: 200 concurrent 15 MB uploads, memory in bounds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "harness/harness.h"
#include "harness/harness_check.h"
#include "need.h"

Suite *body_budget_suite(void);

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1 /* the daemon of this build tree is sanitized too: its memory is ASan's */
#else
#define UNDER_ASAN 0
#endif

#define N_UPLOADS 200
#define UPLOAD_BYTES 15000000u        /* 15 MB: 17 fit in the default budget, 18 do not */
#define BUDGET_BYTES (256.0 * 1024 * 1024) /* the default max_inflight_body_bytes */
#define RUN_LIMIT_S 50

static struct harness_server bb_srv;

/* A clean SIGTERM exit after it all: under the sanitizers, no leak or error at exit. */
static void
bb_teardown(void)
{
	int status = bb_srv.pid > 0 ? harness_stop(&bb_srv) : 0;

	harness_cleanup(&bb_srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d after the uploads", status);
}

/* A field of /proc/PID/status in bytes (VmRSS, VmHWM); -1 when absent. */
static double
proc_status_bytes(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtod(line + n + 1, NULL);
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

struct upload {
	int fd;
	size_t sent;      /* of head + body */
	char got[4096];   /* the answer so far */
	size_t got_len;
	long status;      /* 0 until the whole answer is in */
	int failure;      /* errno of a reset, EPIPE, or ECONNABORTED for an early end of stream */
};

/* The answer is whole when its headers and Content-Length bytes of body are in. */
static bool
answer_complete(struct upload *u)
{
	const char *end = strstr(u->got, "\r\n\r\n"), *cl;

	if (end == NULL)
		return false;
	cl = strcasestr(u->got, "\r\nContent-Length:");
	if (cl == NULL || cl > end)
		return true;
	return u->got_len >= (size_t)(end + 4 - u->got) + strtoul(cl + 17, NULL, 10);
}

static void
upload_read(struct upload *u)
{
	ssize_t n;

	while (u->got_len < sizeof(u->got) - 1) {
		n = recv(u->fd, u->got + u->got_len, sizeof(u->got) - 1 - u->got_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			u->failure = n == 0 ? ECONNABORTED : errno;
			return;
		}
		u->got_len += (size_t)n;
		u->got[u->got_len] = '\0';
		if (answer_complete(u)) {
			u->status = strtol(u->got + 9, NULL, 10);
			return;
		}
	}
}

static void
upload_write(struct upload *u, const char *head, size_t head_len, const char *body)
{
	size_t total = head_len + UPLOAD_BYTES;
	ssize_t n;

	while (u->sent < total) {
		if (u->sent < head_len)
			n = send(u->fd, head + u->sent, head_len - u->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = send(u->fd, body + (u->sent - head_len), total - u->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			upload_read(u); /* the answer may be in before the reset */
			if (u->status == 0)
				u->failure = errno;
			return;
		}
		u->sent += (size_t)n;
	}
}

/*
 * Run every upload to its answer or failure, each sending while reading (as a browser or
 * curl does); the highest VmRSS of the daemon seen meanwhile goes to *rss_peak.
 */
static void
run_uploads(struct upload *up, int port, double *rss_peak)
{
	static struct pollfd pfd[N_UPLOADS];
	static int which[N_UPLOADS];
	char head[256];
	char *body = malloc(UPLOAD_BYTES);
	size_t head_len;
	double t0 = harness_now(), rss;
	int i, n, left;

	ck_assert_ptr_nonnull(body);
	memset(body, 'x', UPLOAD_BYTES); /* not JSON: the handler refuses it at its first byte */
	head_len = (size_t)snprintf(head, sizeof(head),
				    "POST /v1/predict HTTP/1.1\r\nHost: x\r\n"
				    "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n",
				    UPLOAD_BYTES);
	for (i = 0; i < N_UPLOADS; i++) {
		memset(&up[i], 0, sizeof(up[i]));
		up[i].fd = ck_connect(port, SOCK_NONBLOCK);
	}
	*rss_peak = 0;
	for (;;) {
		for (i = 0, n = 0; i < N_UPLOADS; i++) {
			if (up[i].status != 0 || up[i].failure != 0)
				continue;
			pfd[n].fd = up[i].fd;
			pfd[n].events = POLLIN | (up[i].sent < head_len + UPLOAD_BYTES ? POLLOUT : 0);
			which[n++] = i;
		}
		left = n;
		rss = proc_status_bytes(bb_srv.pid, "VmRSS");
		if (rss > *rss_peak)
			*rss_peak = rss;
		if (left == 0 || harness_now() - t0 > RUN_LIMIT_S)
			break;
		if (poll(pfd, (nfds_t)n, 200) < 0)
			continue;
		for (i = 0; i < n; i++) {
			struct upload *u = &up[which[i]];

			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				upload_read(u);
			if (u->status == 0 && u->failure == 0 && (pfd[i].revents & POLLOUT))
				upload_write(u, head, head_len, body);
		}
	}
	fprintf(stderr, "test_body_budget: %d uploads done in %.1f s, %d unanswered\n", N_UPLOADS,
		harness_now() - t0, left);
	for (i = 0; i < N_UPLOADS; i++)
		close(up[i].fd);
	free(body);
}

/*
 * 200 clients upload 15 MB each to /v1/predict at once (max_body_bytes 16 MiB, the default
 * max_inflight_body_bytes of 256 MiB): without the budget the daemon would hold 3 GB. Each is
 * answered, none reset or left hanging: 400 malformed_json for the bodies that fit the budget
 * (their text is no JSON), 503 body_budget_exhausted with Retry-After for the others, and
 * nothing else. The daemon stays up, every byte of the budget is given back, and its
 * resident memory stays under the budget plus what it used before.
 */
START_TEST(test_concurrent_uploads_stay_in_budget)
{
	static struct upload up[N_UPLOADS];
	const char *conf =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = {\n"
		"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
		"  prometheus = { file = \"export_prometheus.so\"; };\n"
		"};\n"
		"services = {\n"
		"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
		"    plugins = [ \"model\", \"prometheus\" ]; };\n"
		"};\n";
	struct harness_response r;
	double baseline, hwm, rss_peak;
	int port, i, n400 = 0, n503 = 0;

	ck_assert_int_eq(harness_start_conf(&bb_srv, conf), 0);
	port = harness_port(&bb_srv, "prediction");
	/* one refused upload first: the paths below have run once, their pages are in */
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", "application/json", "x", 1,
				      NULL, &r), 0);
	ck_assert_int_eq(r.status, 400);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape(port, "http_inflight_body_bytes"), 0);
	baseline = proc_status_bytes(bb_srv.pid, "VmRSS");
	ck_assert_double_gt(baseline, 0);

	run_uploads(up, port, &rss_peak);
	hwm = proc_status_bytes(bb_srv.pid, "VmHWM");

	for (i = 0; i < N_UPLOADS; i++) {
		ck_assert_msg(up[i].status != 0, "upload %d was not answered: %s after %zu bytes "
			      "(got '%s')", i, up[i].failure != 0 ? strerror(up[i].failure) :
			      "still waiting", up[i].sent, up[i].got);
		if (up[i].status == 400) {
			ck_assert_msg(strstr(up[i].got, "\"code\":\"malformed_json\"") != NULL,
				      "upload %d: %s", i, up[i].got);
			n400++;
		} else if (up[i].status == 503) {
			ck_assert_msg(strstr(up[i].got, "\r\nRetry-After: 1\r\n") != NULL &&
				      strstr(up[i].got, "\"code\":\"body_budget_exhausted\"") != NULL &&
				      strstr(up[i].got, "max_inflight_body_bytes (268435456 bytes)") !=
					      NULL, "upload %d: %s", i, up[i].got);
			n503++;
		} else {
			ck_abort_msg("upload %d: status %ld: %s", i, up[i].status, up[i].got);
		}
	}
	fprintf(stderr, "test_body_budget: %d answered 400, %d answered 503; daemon VmRSS before "
		"%.1f MiB, highest seen %.1f MiB, VmHWM %.1f MiB (budget %.0f MiB)\n", n400, n503,
		baseline / 1048576, rss_peak / 1048576, hwm / 1048576, BUDGET_BYTES / 1048576);
	ck_assert_msg(n400 >= 1, "no upload fit the budget");
	ck_assert_msg(n503 >= 1, "no upload was refused: the budget was never reached");

	ck_assert_int_eq(kill(bb_srv.pid, 0), 0);
	ck_assert_int_eq(harness_get(port, "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape_until(port, "http_inflight_body_bytes", 0, 5000), 0);
	ck_assert_double_eq(harness_scrape_until(port, "http_requests_total{handler=\"/v1/predict\","
					       "code=\"503\"}", n503, 5000), n503);
	ck_assert_double_eq(harness_scrape_until(port, "http_requests_total{handler=\"/v1/predict\","
					       "code=\"400\"}", n400 + 1, 5000), n400 + 1);
	if (UNDER_ASAN) {
		/* ASan keeps freed memory in quarantine and shadows all of it: no bound to hold */
		test_skip("resident memory is ASan's in a sanitized build: not asserted");
		return;
	}
	ck_assert_msg(hwm - baseline < BUDGET_BYTES,
		      "peak resident memory %.1f MiB is over the %.0f MiB budget plus the %.1f MiB "
		      "used before", hwm / 1048576, BUDGET_BYTES / 1048576, baseline / 1048576);
}
END_TEST

/* A blocking connection that sent headers announcing announced bytes, and then some of them. */
static int
partial_upload(int port, size_t announced, size_t some)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char head[256], *body = malloc(some);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(body);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = snprintf(head, sizeof(head), "POST /v1/predict HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", announced);
	ck_assert_int_eq(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
	memset(body, ' ', some);
	ck_assert_int_eq(send(fd, body, some, MSG_NOSIGNAL), (ssize_t)some);
	free(body);
	return fd;
}

/*
 * Every way a request ends gives its share back, to the byte: three uploads announce 4 MiB
 * and send 1 MiB; the gauge shows their three reservations (4 MiB + 1 each); one client
 * resets its connection (the gauge drops by one share at once), one closes it, the third is
 * cut by request_timeout_seconds (2 s, with its 408): the gauge is then back to 0.
 */
START_TEST(test_budget_given_back_however_requests_end)
{
	const char *conf =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = {\n"
		"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
		"  prometheus = { file = \"export_prometheus.so\"; };\n"
		"};\n"
		"services = {\n"
		"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
		"    request_timeout_seconds = 2;\n"
		"    plugins = [ \"model\", \"prometheus\" ]; };\n"
		"};\n";
	const double share = 4.0 * 1024 * 1024 + 1;
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	char got[1024];
	ssize_t n;
	int port, fd[3], i;

	ck_assert_int_eq(harness_start_conf(&bb_srv, conf), 0);
	port = harness_port(&bb_srv, "prediction");
	for (i = 0; i < 3; i++)
		fd[i] = partial_upload(port, 4 * 1024 * 1024, 1024 * 1024);
	ck_assert_double_eq(harness_scrape_until(port, "http_inflight_body_bytes", 3 * share, 5000), 3 * share);
	setsockopt(fd[0], SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd[0]);
	ck_assert_double_eq(harness_scrape_until(port, "http_inflight_body_bytes", 2 * share, 5000), 2 * share);
	/* libmicrohttpd may see this end of stream only when the deadline cuts the connection */
	close(fd[1]);
	n = recv(fd[2], got, sizeof(got) - 1, 0); /* the 408, within the 2 s */
	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	ck_assert_msg(strncmp(got, "HTTP/1.1 408 ", 13) == 0, "got '%s'", got);
	close(fd[2]);
	ck_assert_double_eq(harness_scrape_until(port, "http_inflight_body_bytes", 0, 5000), 0);
}
END_TEST

/* Replace the first from in the daemon's configuration file with to. */
static void
conf_edit(const char *from, const char *to)
{
	char text[8192], *at;
	size_t n;
	FILE *f = fopen(bb_srv.conf, "r");

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	at = strstr(text, from);
	ck_assert_ptr_nonnull(at);
	*at = '\0';
	f = fopen(bb_srv.conf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fprintf(f, "%s%s%s", text, to, at + strlen(from)) > 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * max_inflight_body_bytes applies on reload: a 2 MiB body over a 1 MiB budget is 503 with
 * Retry-After; after the budget is raised to 4 MiB and POST /-/reload, the same body reaches
 * the handler (400: it is no JSON).
 */
START_TEST(test_budget_applies_on_reload)
{
	const char *conf =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = {\n"
		"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
		"  prometheus = { file = \"export_prometheus.so\"; };\n"
		"};\n"
		"services = {\n"
		"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
		"    max_inflight_body_bytes = 1048576;\n"
		"    plugins = [ \"model\", \"prometheus\" ]; };\n"
		"};\n";
	struct harness_response r;
	size_t len = 2 * 1024 * 1024;
	char *body = malloc(len);
	int port;

	ck_assert_ptr_nonnull(body);
	memset(body, 'x', len);
	ck_assert_int_eq(harness_start_conf(&bb_srv, conf), 0);
	port = harness_port(&bb_srv, "prediction");
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", "application/json", body, len,
				      NULL, &r), 0);
	ck_assert_msg(r.status == 503, "status %ld: %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.headers, "Retry-After: 1"));
	ck_assert_ptr_nonnull(strstr(r.body, "max_inflight_body_bytes (1048576 bytes)"));
	harness_response_free(&r);

	conf_edit("max_inflight_body_bytes = 1048576;", "max_inflight_body_bytes = 4194304;");
	ck_assert_int_eq(harness_http(port, "POST", "/-/reload", NULL, NULL, 0, NULL, &r), 0);
	ck_assert_msg(r.status == 200, "reload: status %ld: %s", r.status, r.body);
	harness_response_free(&r);
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", "application/json", body, len,
				      NULL, &r), 0);
	ck_assert_msg(r.status == 400, "after the reload: status %ld: %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"malformed_json\""));
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape_until(port, "http_inflight_body_bytes", 0, 5000), 0);
	free(body);
}
END_TEST

Suite *
body_budget_suite(void)
{
	Suite *s = suite_create("body_budget");
	TCase *tc = tcase_create("uploads");

	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, NULL, bb_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_concurrent_uploads_stay_in_budget);
	tcase_add_test(tc, test_budget_applies_on_reload);
	tcase_add_test(tc, test_budget_given_back_however_requests_end);
	suite_add_tcase(s, tc);
	return s;
}
