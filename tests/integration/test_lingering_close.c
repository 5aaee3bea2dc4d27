/* SPDX-License-Identifier: MIT */
/* test_lingering_close.c - a refusal sent while the body arrives reaches a client that writes first. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "harness/harness.h"
#include "harness/harness_check.h"
#include "need.h"

Suite *lingering_close_suite(void);

#define MIB (1024 * 1024)

static struct harness_server lc_srv;

static int
start(const char *service_extra)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@PLUGINS@\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216; %s\n"
		 "    plugins = [ \"model\", \"prometheus\" ]; };\n"
		 "};\n",
		 service_extra);
	ck_assert_int_eq(harness_start_conf(&lc_srv, conf), 0);
	return harness_port(&lc_srv, "prediction");
}

/* A clean SIGTERM exit after it all: under the sanitizers, no leak or error at exit. */
static void
lc_teardown(void)
{
	int status = lc_srv.pid > 0 ? harness_stop(&lc_srv) : 0;

	harness_cleanup(&lc_srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d after the refusals", status);
}

/* A blocking connection whose sends and receives give up after timeout_s (no hang). */
static int
tcp_connect(int port, int timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = ck_connect(port, 0);

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
send_head(int fd, size_t content_length)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n", content_length);

	ck_assert_int_eq(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
}

/*
 * Send up to n body bytes (SIZE_MAX: until the peer stops us). The bytes sent go to *sent;
 * 0 when all went, else the errno that stopped the sending.
 */
static int
send_body(int fd, size_t n, size_t *sent)
{
	static char chunk[64 * 1024];
	ssize_t k;

	memset(chunk, 'x', sizeof(chunk));
	*sent = 0;
	while (*sent < n) {
		size_t want = n - *sent < sizeof(chunk) ? n - *sent : sizeof(chunk);

		k = send(fd, chunk, want, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EPIPE;
		*sent += (size_t)k;
	}
	return 0;
}

/* Everything the server sends until it closes (or 10 s pass): malloc'd, NUL-terminated. */
static char *
read_all(int fd, int *err)
{
	size_t cap = 64 * 1024, used = 0;
	char *out = malloc(cap + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	*err = 0;
	while (used < cap) {
		n = recv(fd, out + used, cap - used, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			*err = errno;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	out[used] = '\0';
	return out;
}

/*
 * The client of the issue: headers with a Content-Length of 20 MiB over max_body_bytes (16
 * MiB), then the whole 20 MiB without reading, then it reads. The 413 is sent at the headers;
 * the service keeps reading and discarding the body, so every byte is accepted (no reset, no
 * broken pipe) and the client then reads the whole answer and the end of the stream. Without
 * the lingering close the sending fails after a few MiB with EPIPE or ECONNRESET.
 */
START_TEST(test_whole_body_then_read_gets_413)
{
	static const char want_body[] =
		"{\"error\":{\"code\":\"payload_too_large\",\"message\":\"request body of 20971520 "
		"bytes is over the limit of 16777216 bytes\"}}";
	size_t sent;
	char *got;
	int fd, port, e, err, round;

	port = start("");
	for (round = 0; round < 3; round++) {
		fd = tcp_connect(port, 10);
		send_head(fd, 20 * MIB);
		e = send_body(fd, 20 * MIB, &sent);
		ck_assert_msg(e == 0, "round %d: sending the body failed after %zu bytes: %s", round,
			      sent, strerror(e));
		got = read_all(fd, &err);
		ck_assert_msg(err == 0, "round %d: reading the answer failed: %s (got '%s')", round,
			      strerror(err), got);
		ck_assert_msg(strncmp(got, "HTTP/1.1 413 ", 13) == 0, "round %d: got '%s'", round, got);
		ck_assert_msg(strstr(got, "\r\nConnection: close\r\n") != NULL, "got '%s'", got);
		ck_assert_msg(strstr(got, want_body) != NULL, "round %d: got '%s'", round, got);
		free(got);
		close(fd);
	}
	ck_assert_double_eq(harness_scrape(port, "http_requests_total{handler=\"/v1/predict\","
					       "code=\"413\"}"), 3);
	ck_assert_double_eq(harness_scrape(port, "prediction_errors_total{model=\"rul-fd001\","
					       "reason=\"payload_too_large\"}"), 3);
}
END_TEST

/*
 * The same for the 503 of max_inflight_body_bytes (1 MiB here): a 2 MiB body is over the
 * budget when it is announced, is answered 503 with Retry-After and the error JSON naming the
 * budget, and the client that writes it all first still reads that answer.
 */
START_TEST(test_whole_body_then_read_gets_503)
{
	static const char want_body[] =
		"{\"error\":{\"code\":\"body_budget_exhausted\",\"message\":\"request body of 2097152 "
		"bytes would take the request bodies held at once past max_inflight_body_bytes "
		"(1048576 bytes); retry later\"}}";
	size_t sent;
	char *got;
	int fd, port, e, err;

	port = start("max_inflight_body_bytes = 1048576;");
	fd = tcp_connect(port, 10);
	send_head(fd, 2 * MIB);
	e = send_body(fd, 2 * MIB, &sent);
	ck_assert_msg(e == 0, "sending the body failed after %zu bytes: %s", sent, strerror(e));
	got = read_all(fd, &err);
	ck_assert_msg(err == 0, "reading the answer failed: %s (got '%s')", strerror(err), got);
	ck_assert_msg(strncmp(got, "HTTP/1.1 503 ", 13) == 0, "got '%s'", got);
	ck_assert_msg(strstr(got, "\r\nRetry-After: 1\r\n") != NULL, "got '%s'", got);
	ck_assert_msg(strstr(got, want_body) != NULL, "got '%s'", got);
	free(got);
	close(fd);
	ck_assert_double_eq(harness_scrape(port, "http_requests_total{handler=\"/v1/predict\","
					       "code=\"503\"}"), 1);
	ck_assert_double_eq(harness_scrape(port, "http_inflight_body_bytes"), 0);
}
END_TEST

/*
 * A client that announces 20 MiB and then sends for ever (far more than it announced is
 * never read as a body: the service reads and discards, within HTTP_LINGER_MAX_BYTES, 64
 * MiB) is cut off: its sending fails with a reset or a broken pipe before 256 MiB and within
 * 30 s, and the service still answers.
 */
START_TEST(test_endless_body_is_cut_off)
{
	struct harness_response r;
	size_t sent;
	double t0, took;
	int fd, port, e;

	port = start("");
	fd = tcp_connect(port, 35);
	send_head(fd, 20 * MIB);
	t0 = harness_now();
	e = send_body(fd, (size_t)4 << 30, &sent);
	took = harness_now() - t0;
	fprintf(stderr, "test_lingering_close: endless body cut off after %zu bytes, %.2f s: %s\n",
		sent, took, strerror(e));
	ck_assert_msg(e == ECONNRESET || e == EPIPE, "sending stopped with '%s' after %zu bytes",
		      e == 0 ? "nothing" : strerror(e), sent);
	ck_assert_msg(sent < (size_t)256 * MIB, "the service read %zu bytes of a refused body", sent);
	ck_assert_msg(took < 30, "cut off only after %.1f s", took);
	close(fd);
	ck_assert_int_eq(harness_get(port, "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
}
END_TEST

/* Is the peer still reading? Two sends 100 ms apart: a closed peer resets the first. */
static bool
still_read(int fd)
{
	static char some[16 * 1024];
	size_t sent;

	if (send_body(fd, sizeof(some), &sent) != 0)
		return false;
	usleep(100 * 1000);
	return send_body(fd, sizeof(some), &sent) == 0;
}

/*
 * The idle bound (HTTP_LINGER_TIMEOUT_S, 5 s): a client refused with 413 that stops sending
 * but keeps its socket open reads the answer and the end of the stream at once; the service
 * still reads what it sends 2 s later, and has closed the socket once it has been silent
 * for over 5 s.
 */
START_TEST(test_idle_linger_is_bounded)
{
	size_t sent;
	char *got;
	int fd, port, err;

	port = start("");
	fd = tcp_connect(port, 10);
	send_head(fd, 20 * MIB);
	ck_assert_int_eq(send_body(fd, MIB, &sent), 0);
	got = read_all(fd, &err);
	ck_assert_msg(err == 0 && strncmp(got, "HTTP/1.1 413 ", 13) == 0, "got '%s' (%s)", got,
		      strerror(err));
	free(got);
	sleep(2);
	ck_assert_msg(still_read(fd), "the service stopped reading within 2 s");
	sleep(6);
	ck_assert_msg(!still_read(fd), "the service still reads after 6 s of silence");
	close(fd);
}
END_TEST

/*
 * A chunked body (no Content-Length: the size is unknown at the headers) that outgrows
 * max_inflight_body_bytes is dropped and its share given back at once; the rest is read and
 * discarded and the 503 follows the body, on a connection that stays usable.
 */
START_TEST(test_chunked_body_over_budget)
{
	static const char head[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\n"
				   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char chunk_head[32], got[4096] = "";
	static char data[256 * 1024];
	size_t used = 0;
	ssize_t n;
	int fd, port, i, k;

	port = start("max_inflight_body_bytes = 1048576;");
	memset(data, ' ', sizeof(data));
	fd = tcp_connect(port, 10);
	ck_assert_int_eq(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(head) - 1));
	k = snprintf(chunk_head, sizeof(chunk_head), "%zx\r\n", sizeof(data));
	for (i = 0; i < 8; i++) { /* 2 MiB */
		ck_assert_int_eq(send(fd, chunk_head, (size_t)k, MSG_NOSIGNAL), k);
		ck_assert_int_eq(send(fd, data, sizeof(data), MSG_NOSIGNAL), (ssize_t)sizeof(data));
		ck_assert_int_eq(send(fd, "\r\n", 2, MSG_NOSIGNAL), 2);
	}
	ck_assert_int_eq(send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL), 5);
	ck_assert_int_eq(send(fd, get, sizeof(get) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(get) - 1));
	while (used < sizeof(got) - 1 && strstr(got, "{\"status\":\"ok\"}") == NULL) {
		n = recv(fd, got + used, sizeof(got) - 1 - used, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
		got[used] = '\0';
	}
	got[used] = '\0';
	ck_assert_msg(strncmp(got, "HTTP/1.1 503 ", 13) == 0, "got '%s'", got);
	ck_assert_msg(strstr(got, "\"code\":\"body_budget_exhausted\",\"message\":\"request body "
			     "outgrew what the service may hold at once, max_inflight_body_bytes "
			     "(1048576 bytes); retry later\"") != NULL, "got '%s'", got);
	ck_assert_msg(strstr(got, "\r\nRetry-After: 1\r\n") != NULL, "got '%s'", got);
	ck_assert_msg(strstr(got, "{\"status\":\"ok\"}") != NULL,
		      "the connection did not serve the next request: '%s'", got);
	close(fd);
	ck_assert_double_eq(harness_scrape(port, "http_inflight_body_bytes"), 0);
}
END_TEST

Suite *
lingering_close_suite(void)
{
	Suite *s = suite_create("lingering_close");
	TCase *tc = tcase_create("refusals");

	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, NULL, lc_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_whole_body_then_read_gets_413);
	tcase_add_test(tc, test_whole_body_then_read_gets_503);
	tcase_add_test(tc, test_endless_body_is_cut_off);
	tcase_add_test(tc, test_idle_linger_is_bounded);
	tcase_add_test(tc, test_chunked_body_over_budget);
	suite_add_tcase(s, tc);
	return s;
}
