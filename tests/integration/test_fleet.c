/* SPDX-License-Identifier: MIT */
/* test_fleet.c - fleet mode end to end: streamed cycles against the window form, durability. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "cmapss.h"
#include "harness/harness.h"
#include "need.h"

Suite *fleet_suite(void);

/*
 * The model instance serves both forms: the daemon's own /v1/predict on the whole history
 * (text/plain rows, one prediction per unit at its last row) is the reference every streamed
 * prediction must equal exactly.
 */
static const char fl_conf_fmt[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  model = { file = \"%s\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 database = \"@DIR@/fleet.db\"; max_instances = 100000; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
	"    plugins = [\"model\", \"prometheus\"]; };\n"
	"};\n";

static const char *const backends[] = { "predict_forest.so", "predict_xgboost.so" };

static struct harness_server srv;
static struct cmapss_table fd001;
static int port;

static void
fl_setup(void)
{
	char dir[512], path[600], err[256];

	memset(&srv, 0, sizeof(srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(cmapss_find_dir(dir, sizeof(dir)), 0);
	cmapss_path(dir, "test_FD001.txt", path, sizeof(path));
	ck_assert_msg(cmapss_read(path, &fd001, err, sizeof(err)) == 0, "%s", err);
}

static void
fl_teardown(void)
{
	int status = srv.pid > 0 ? harness_stop(&srv) : 0;

	harness_cleanup(&srv);
	cmapss_table_free(&fd001);
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);
}

static void
fl_start(const char *backend)
{
	char conf[1024];

	snprintf(conf, sizeof(conf), fl_conf_fmt, backend);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	port = harness_port(&srv, "prediction");
	ck_assert_int_gt(port, 0);
}

/* ---- the data: rows of test_FD001, grouped by unit ---------------------------------------- */

/* Row index of cycle k (0-based) of the engine whose first row is first, or -1. */
static long
row_of(size_t first, size_t k)
{
	size_t i = first + k;

	if (i >= fd001.rows || fd001.unit[i] != fd001.unit[first])
		return -1;
	return (long)i;
}

/* First rows of every unit (at most max). */
static size_t
unit_starts(size_t *first, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < fd001.rows && n < max; i++)
		if (i == 0 || fd001.unit[i] != fd001.unit[i - 1])
			first[n++] = i;
	return n;
}

static void
append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if ((size_t)n < *cap - *len)
			break;
		*cap = *cap * 2 + (size_t)n;
		*buf = realloc(*buf, *cap);
		ck_assert_ptr_nonnull(*buf);
	}
	*len += (size_t)n;
}

/* The inputs of a row as a /v1/cycles object of unit and cycle. */
static void
cycle_json_as(char **buf, size_t *len, size_t *cap, size_t row, int64_t unit, int64_t cycle)
{
	const double *v = fd001.values + row * CMAPSS_N_INPUTS;
	size_t k;

	append(buf, len, cap, "{\"unit\":%lld,\"cycle\":%lld,\"settings\":[",
	       (long long)unit, (long long)cycle);
	for (k = 0; k < CMAPSS_N_INPUTS; k++)
		append(buf, len, cap, "%s%.17g%s", k == CMAPSS_N_SETTINGS ? "\"sensors\":[" : "",
		       v[k], k == CMAPSS_N_SETTINGS - 1 ? "]," :
		       k == CMAPSS_N_INPUTS - 1 ? "]}" : ",");
}

/* One row as a /v1/cycles object. */
static void
cycle_json(char **buf, size_t *len, size_t *cap, size_t row)
{
	cycle_json_as(buf, len, cap, row, fd001.unit[row], fd001.cycle[row]);
}

/* One row as C-MAPSS text. */
static void
cycle_text(char **buf, size_t *len, size_t *cap, size_t row)
{
	size_t k;

	append(buf, len, cap, "%lld %lld", (long long)fd001.unit[row], (long long)fd001.cycle[row]);
	for (k = 0; k < CMAPSS_N_INPUTS; k++)
		append(buf, len, cap, " %.17g", fd001.values[row * CMAPSS_N_INPUTS + k]);
	append(buf, len, cap, "\n");
}

/* POST; returns the status, *json the parsed body (the caller deletes it). */
static long
post(const char *path, const char *type, const char *body, size_t len, cJSON **json)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_http(port, "POST", path, type, body, len, NULL, &r), 0);
	status = r.status;
	if (json != NULL)
		*json = cJSON_Parse(r.body);
	harness_response_free(&r);
	return status;
}

/* The RUL of each prediction of a /v1/predict or /v1/cycles answer, in order. */
static size_t
ruls(const cJSON *answer, double *out, int64_t *units, size_t max)
{
	const cJSON *p, *list = cJSON_GetObjectItem(answer, "predictions");
	size_t n = 0;

	ck_assert_ptr_nonnull(list);
	cJSON_ArrayForEach(p, list) {
		ck_assert_uint_lt(n, max);
		out[n] = cJSON_GetObjectItem(p, "rul")->valuedouble;
		units[n] = (int64_t)cJSON_GetObjectItem(p, "unit")->valuedouble;
		n++;
	}
	return n;
}

/*
 * The window form: /v1/predict over the whole history of each engine up to (and with) cycle
 * upto[e] (0-based, -1: not asked), text/plain. out[e] its prediction.
 */
static void
window_form(const size_t *first, size_t n, const long *upto, double *out)
{
	char *buf = malloc(1 << 20);
	size_t len = 0, cap = 1 << 20, e, k, got, asked = 0;
	double *r = malloc(n * sizeof(*r));
	int64_t *units = malloc(n * sizeof(*units));
	cJSON *answer = NULL;
	long status;

	buf[0] = '\0';
	for (e = 0; e < n; e++) {
		if (upto[e] < 0)
			continue;
		asked++;
		for (k = 0; k <= (size_t)upto[e]; k++)
			cycle_text(&buf, &len, &cap, first[e] + k);
	}
	status = post("/v1/predict", "text/plain", buf, len, &answer);
	if (status != 200) {
		char *text = answer ? cJSON_PrintUnformatted(answer) : NULL;

		ck_abort_msg("window form: %ld %s", status, text ? text : "");
	}
	got = ruls(answer, r, units, n);
	ck_assert_uint_eq(got, asked);
	for (e = 0, k = 0; e < n; e++) {
		if (upto[e] < 0)
			continue;
		ck_assert_int_eq(units[k], fd001.unit[first[e]]);
		out[e] = r[k++];
	}
	cJSON_Delete(answer);
	free(buf);
	free(r);
	free(units);
}

/* ---- streamed equals the window form --------------------------------------------------------- */

#define MAX_UNITS 1024

/*
 * Every engine of test_FD001 streamed cycle by cycle: step k sends cycle k of every engine
 * that has one (one batch; every fifth step one request per engine, the single-cycle form;
 * every seventh as text rows), and each answer equals the window form of the same history.
 */
START_TEST(fleet_streamed_equals_window_form)
{
	static size_t first[MAX_UNITS];
	static long upto[MAX_UNITS];
	static double want[MAX_UNITS], got[MAX_UNITS];
	static int64_t units[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS), e, k, m, compared = 0;
	char *buf = malloc(4096);
	size_t len, cap = 4096;
	cJSON *answer;
	long row;

	fl_start(backends[_i]);
	for (k = 0;; k++) {
		size_t active = 0;

		for (e = 0; e < n; e++) {
			upto[e] = row_of(first[e], k) >= 0 ? (long)k : -1;
			active += upto[e] >= 0;
		}
		if (active == 0)
			break;
		if (k % 5 == 4) {
			/* one engine per request, the single-cycle form */
			for (e = 0; e < n; e++) {
				if (upto[e] < 0)
					continue;
				len = 0;
				cycle_json(&buf, &len, &cap, (size_t)row_of(first[e], k));
				ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len,
						      &answer), 200);
				ck_assert_uint_eq(ruls(answer, &got[e], &units[e], 1), 1);
				cJSON_Delete(answer);
			}
		} else {
			bool text = k % 7 == 6;

			len = 0;
			if (!text)
				append(&buf, &len, &cap, "{\"cycles\":[");
			for (e = 0, m = 0; e < n; e++) {
				if (upto[e] < 0)
					continue;
				row = row_of(first[e], k);
				if (text) {
					cycle_text(&buf, &len, &cap, (size_t)row);
				} else {
					if (m++ > 0)
						append(&buf, &len, &cap, ",");
					cycle_json(&buf, &len, &cap, (size_t)row);
				}
			}
			if (!text)
				append(&buf, &len, &cap, "]}");
			ck_assert_int_eq(post("/v1/cycles", text ? "text/plain" : "application/json",
					      buf, len, &answer), 200);
			{
				static double r[MAX_UNITS];
				static int64_t u[MAX_UNITS];
				size_t c = ruls(answer, r, u, MAX_UNITS);

				ck_assert_uint_eq(c, active);
				for (e = 0, m = 0; e < n; e++)
					if (upto[e] >= 0) {
						ck_assert_int_eq(u[m], fd001.unit[first[e]]);
						got[e] = r[m++];
					}
			}
			cJSON_Delete(answer);
		}
		window_form(first, n, upto, want);
		for (e = 0; e < n; e++) {
			if (upto[e] < 0)
				continue;
			ck_assert_msg(got[e] == want[e],
				      "%s: unit %lld cycle %zu: streamed %.9g, window form %.9g",
				      backends[_i], (long long)fd001.unit[first[e]], k + 1, got[e],
				      want[e]);
			compared++;
		}
	}
	ck_assert_uint_eq(compared, fd001.rows);
	free(buf);
}
END_TEST

/* ---- ordering ------------------------------------------------------------------------------ */

static long
post_row(size_t row, double *rul, char *msg, size_t msg_len)
{
	char *buf = malloc(1024);
	size_t len = 0, cap = 1024;
	cJSON *answer = NULL, *err;
	long status;
	int64_t u;

	cycle_json(&buf, &len, &cap, row);
	status = post("/v1/cycles", "application/json", buf, len, &answer);
	if (status == 200 && rul != NULL)
		ruls(answer, rul, &u, 1);
	if (status != 200 && msg != NULL) {
		err = cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "error"), "message");
		snprintf(msg, msg_len, "%s", err ? err->valuestring : "");
	}
	cJSON_Delete(answer);
	free(buf);
	return status;
}

START_TEST(fleet_stale_repeat_and_gap)
{
	char msg[300], *buf = malloc(1024);
	size_t len = 0, cap = 1024;
	double a, b;

	fl_start(backends[0]);
	ck_assert_int_eq(post_row(0, &a, NULL, 0), 200);
	ck_assert_int_eq(post_row(1, &a, NULL, 0), 200);
	/* an exact repeat answers the same prediction again */
	ck_assert_int_eq(post_row(1, &b, NULL, 0), 200);
	ck_assert(a == b);
	/* an older cycle: 409 naming the last one */
	ck_assert_int_eq(post_row(0, NULL, msg, sizeof(msg)), 409);
	ck_assert_msg(strstr(msg, "last cycle 2") != NULL, "%s", msg);
	/* the same cycle number with other numbers: 409 too */
	cycle_json(&buf, &len, &cap, 1);
	*strstr(buf, "\"settings\":[") = '\0';
	len = strlen(buf);
	append(&buf, &len, &cap, "\"settings\":[0,0,100],\"sensors\":[1,2,3,4,5,6,7,8,9,10,11,"
	       "12,13,14,15,16,17,18,19,20,21]}");
	ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, NULL), 409);
	/* a gap (missed flights) is accepted */
	ck_assert_int_eq(post_row(5, &a, NULL, 0), 200);
	free(buf);
}
END_TEST

/* A refused batch changes nothing: its valid cycles are not kept. */
START_TEST(fleet_refused_batch_changes_nothing)
{
	char *buf = malloc(4096);
	size_t len = 0, cap = 4096;
	double alone, after;
	static size_t first[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS);
	cJSON *answer;
	long upto[2];
	double want[2];

	ck_assert_uint_ge(n, 2);
	fl_start(backends[0]);
	ck_assert_int_eq(post_row(first[0] + 0, NULL, NULL, 0), 200);
	ck_assert_int_eq(post_row(first[0] + 1, NULL, NULL, 0), 200);
	/* cycle 3 of unit A (valid), cycle 1 of unit B (valid), cycle 1 of unit A (stale) */
	append(&buf, &len, &cap, "{\"cycles\":[");
	cycle_json(&buf, &len, &cap, first[0] + 2);
	append(&buf, &len, &cap, ",");
	cycle_json(&buf, &len, &cap, first[1]);
	append(&buf, &len, &cap, ",");
	cycle_json(&buf, &len, &cap, first[0]);
	append(&buf, &len, &cap, "]}");
	ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, &answer), 409);
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "error"),
							 "message")->valuestring, "cycles[2]: "));
	cJSON_Delete(answer);
	/* a malformed one: 422 with its place */
	len = 0;
	append(&buf, &len, &cap, "{\"cycles\":[");
	cycle_json(&buf, &len, &cap, first[0] + 2);
	append(&buf, &len, &cap, ",{\"unit\":1,\"cycle\":9,\"settings\":[1,2,3],\"sensors\":[1]}]}");
	ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, &answer), 422);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "error"),
					     "message")->valuestring,
			 "cycles[1].sensors: expected 21 numbers, got 1");
	cJSON_Delete(answer);
	/* unit A's cycle 3 is new, unit B's cycle 1 is new: neither batch kept anything */
	ck_assert_int_eq(post_row(first[0] + 2, &after, NULL, 0), 200);
	ck_assert_int_eq(post_row(first[1], &alone, NULL, 0), 200);
	upto[0] = 2;
	upto[1] = 0;
	window_form(first, 2, upto, want);
	ck_assert(after == want[0]);
	ck_assert(alone == want[1]);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 2);
	free(buf);
}
END_TEST

/* ---- durability ------------------------------------------------------------------------------ */

struct killer {
	struct harness_server *s;
	useconds_t after;
};

static void *
kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->after);
	harness_signal(k->s, SIGKILL);
	return NULL;
}

/*
 * After a restart: the next cycle of every engine e with next[e] >= 0 (its row number in the
 * stream), sent alone to /v1/cycles, must be answered with the window form over the engine's
 * history up to it: what the store kept is each engine's history, whole.
 */
static void
next_cycles_match_window_form(const size_t *first, size_t n, const long *next)
{
	static double want[MAX_UNITS], got[MAX_UNITS];
	size_t len, cap = 4096, e;
	char *buf = malloc(cap);
	cJSON *answer;
	int64_t u;

	ck_assert_ptr_nonnull(buf);
	for (e = 0; e < n; e++) {
		if (next[e] < 0)
			continue;
		len = 0;
		cycle_json(&buf, &len, &cap, (size_t)row_of(first[e], (size_t)next[e]));
		ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, &answer), 200);
		ruls(answer, &got[e], &u, 1);
		cJSON_Delete(answer);
	}
	window_form(first, n, next, want);
	for (e = 0; e < n; e++)
		if (next[e] >= 0)
			ck_assert_msg(got[e] == want[e], "unit %lld after restart: %.9g, want %.9g",
				      (long long)fd001.unit[first[e]], got[e], want[e]);
	free(buf);
}

/*
 * Batches k0 to 399 of every engine's rows (first[e]: its first row), one /v1/cycles body each,
 * with kl's SIGKILL started once batch 100 went out (so the kill lands a few ms after it,
 * whatever the daemon's speed); acked[e] becomes the last batch answered 200 that carried a
 * cycle of engine e. Returns the batch at which the stream ended (the daemon gone); the test
 * fails when that came before the kill.
 */
static size_t
stream_until_killed(const size_t *first, size_t n, size_t k0, long *acked, struct killer *kl)
{
	struct harness_response r;
	size_t len, cap = 4096, e, k, m;
	char *buf = malloc(cap);
	bool killing = false;
	pthread_t t;

	ck_assert_ptr_nonnull(buf);
	for (k = k0; k < 400; k++) {
		if (k == 100)
			killing = pthread_create(&t, NULL, kill_later, kl) == 0;
		len = 0;
		append(&buf, &len, &cap, "{\"cycles\":[");
		for (e = 0, m = 0; e < n; e++)
			if (row_of(first[e], k) >= 0) {
				if (m++ > 0)
					append(&buf, &len, &cap, ",");
				cycle_json(&buf, &len, &cap, (size_t)row_of(first[e], k));
			}
		append(&buf, &len, &cap, "]}");
		if (m == 0 || harness_http(port, "POST", "/v1/cycles", "application/json", buf, len,
					   NULL, &r) != 0)
			break;
		if (r.status == 200)
			for (e = 0; e < n; e++)
				if (row_of(first[e], k) >= 0)
					acked[e] = (long)k;
		harness_response_free(&r);
	}
	free(buf);
	ck_assert_msg(killing, "the stream ended after %zu batches, before the kill", k);
	pthread_join(t, NULL);
	return k;
}

/*
 * Stream batches until a SIGKILL cuts the daemon off; restart; the next cycle of every engine
 * (one past its last acknowledged one) must equal the window form over its whole history:
 * what was acknowledged survived, and an unacknowledged cycle that did commit is the exact
 * repeat it is sent as again.
 */
START_TEST(fleet_acknowledged_cycles_survive_sigkill)
{
	static size_t first[MAX_UNITS];
	static long acked[MAX_UNITS], next[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS), e, k;
	struct killer kl = { &srv, 3000 };

	fl_start(backends[_i]);
	for (e = 0; e < n; e++)
		acked[e] = -1;
	k = stream_until_killed(first, n, 0, acked, &kl);
	ck_assert_int_eq(harness_wait(&srv, 5000), 128 + SIGKILL);
	ck_assert_msg(k >= 100 && k < 300, "the kill came after %zu batches", k);
	unlink(srv.log);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	port = harness_port(&srv, "prediction");
	for (e = 0; e < n; e++)
		next[e] = row_of(first[e], (size_t)(acked[e] + 1)) >= 0 ? acked[e] + 1 : -1;
	next_cycles_match_window_form(first, n, next);
}
END_TEST

/* A reload keeps every window, and so does a swap to the other backend. */
START_TEST(fleet_reload_and_swap_keep_windows)
{
	static size_t all[MAX_UNITS], first[4];
	size_t total = unit_starts(all, MAX_UNITS), n = 0, e, k;
	double got, want[4];
	long upto[4];
	FILE *f;

	for (e = 0; e < total && n < 4; e++)
		if (row_of(all[e], 41) >= 0) /* engines of at least 42 cycles */
			first[n++] = all[e];
	ck_assert_uint_eq(n, 4);
	fl_start(backends[0]);
	for (k = 0; k < 40; k++)
		for (e = 0; e < n; e++)
			ck_assert_int_eq(post_row(first[e] + k, NULL, NULL, 0), 200);
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	usleep(500000);
	ck_assert_int_eq(post_row(first[0] + 40, &got, NULL, 0), 200);
	upto[0] = 40;
	for (e = 1; e < n; e++)
		upto[e] = -1;
	window_form(first, n, upto, want);
	ck_assert(got == want[0]);
	/* the other backend: the windows come from the store */
	{
		/* rewrite our configuration with the new backend, paths as the harness fills them */
		char *text = NULL;
		size_t tl = 0, tc = 0;
		char line[1024];

		f = fopen(srv.conf, "r");
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = strstr(line, backends[0]);

			if (p != NULL) {
				*p = '\0';
				append(&text, &tl, &tc, "%s%s%s", line, backends[1],
				       p + strlen(backends[0]));
			} else {
				append(&text, &tl, &tc, "%s", line);
			}
		}
		fclose(f);
		f = fopen(srv.conf, "w");
		fputs(text, f);
		fclose(f);
		free(text);
	}
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	usleep(1500000);
	ck_assert(harness_log_contains(&srv, "forest") && harness_log_contains(&srv, "xgboost"));
	ck_assert_int_eq(post_row(first[1] + 40, &got, NULL, 0), 200);
	upto[0] = -1;
	upto[1] = 40;
	window_form(first, n, upto, want);
	ck_assert(got == want[1]);
}
END_TEST

/* ---- ends of life and the fleet view --------------------------------------------------------- */

/* The feedback plugin on the same file, as the shipped configuration has it. */
static const char fl_feedback_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 database = \"@DIR@/rulsrv.db\"; fleet_tick_seconds = 0.1; }; };\n"
	"  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/rulsrv.db\"; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\", \"feedback\", \"prometheus\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; };\n"
	"};\n";

static cJSON *
get_json(const char *path, long *status)
{
	struct harness_response r;
	cJSON *j;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	*status = r.status;
	j = cJSON_Parse(r.body);
	harness_response_free(&r);
	ck_assert_ptr_nonnull(j);
	return j;
}

static double
num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", name);
	return v->valuedouble;
}

/* DELETE forgets the engine and a failure event ends its life: the next cycle 1 is a new
 * window, predicted as the window form of that one cycle. */
START_TEST(fleet_delete_and_failure_end_a_life)
{
	static size_t first[MAX_UNITS];
	size_t n = unit_starts(first, 3), k;
	struct harness_response r;
	double got, want[3];
	long upto[3] = { 0, 0, 0 }, status;
	char path[64];
	cJSON *j;

	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(harness_start_conf(&srv, fl_feedback_conf), 0);
	port = harness_port(&srv, "prediction");
	for (k = 0; k < 5; k++)
		for (size_t e = 0; e < 3; e++)
			ck_assert_int_eq(post_row(first[e] + k, NULL, NULL, 0), 200);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 3);

	/* the engine's life so far */
	snprintf(path, sizeof(path), "/v1/engines/%lld", (long long)fd001.unit[first[0]]);
	j = get_json(path, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_double_eq(num(j, "window"), 5);
	ck_assert_double_eq(num(j, "cycle"), (double)fd001.cycle[first[0] + 4]);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "predictions")), 5);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "rul-fd001");
	cJSON_Delete(j);
	j = get_json("/v1/engines/nope", &status);
	ck_assert_int_eq(status, 404);
	cJSON_Delete(j);

	/* DELETE (admin: loopback without a token file) */
	ck_assert_int_eq(harness_http(port, "DELETE", path, NULL, NULL, 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_int_eq(harness_http(port, "DELETE", path, NULL, NULL, 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 404);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape(port, "fleet_evictions_total{reason=\"deleted\"}"), 1);
	ck_assert_int_eq(post_row(first[0], &got, NULL, 0), 200);
	window_form(first, 1, upto, want);
	ck_assert(got == want[0]);

	/* a failure event on the feedback service: the next cycle 1 is not stale */
	{
		char body[128];
		int fb = harness_port(&srv, "feedback");

		snprintf(body, sizeof(body), "{\"unit\":%lld,\"failed_at_cycle\":5}",
			 (long long)fd001.unit[first[1]]);
		ck_assert_int_eq(harness_post_json(fb, "/v1/feedback", body, &r), 0);
		ck_assert_msg(r.status == 200 || r.status == 201, "feedback: %ld %s", r.status,
			      r.body);
		harness_response_free(&r);
	}
	{
		char msg[300] = "";
		long st = post_row(first[1], &got, msg, sizeof(msg));

		ck_assert_msg(st == 200, "%ld %s", st, msg);
	}
	upto[0] = -1;
	window_form(first, 2, upto, want);
	ck_assert(got == want[1]);
	ck_assert_double_eq(harness_scrape(port, "fleet_evictions_total{reason=\"failure\"}"), 1);
	/* and on the timer, without a cycle: unit C */
	{
		char body[128];
		int fb = harness_port(&srv, "feedback");

		snprintf(body, sizeof(body), "{\"unit\":%lld,\"failed_at_cycle\":5}",
			 (long long)fd001.unit[first[2]]);
		ck_assert_int_eq(harness_post_json(fb, "/v1/feedback", body, &r), 0);
		harness_response_free(&r);
	}
	for (k = 0; k < 50 && harness_scrape(port, "fleet_engines") != 2; k++)
		usleep(100000);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 2);
	ck_assert_double_eq(harness_scrape(port, "fleet_evictions_total{reason=\"failure\"}"), 2);
}
END_TEST

/* GET /v1/engines: sorted by RUL, below=, limit= and after= paging through all of them. */
START_TEST(fleet_view_sorted_and_paged)
{
	static size_t first[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS), e, seen = 0, pages = 0;
	double prev = -INFINITY, below_count = 0;
	char *buf = malloc(4096), path[128] = "/v1/engines?limit=7";
	size_t len = 0, cap = 4096;
	long status;
	cJSON *j, *it;

	fl_start(backends[0]);
	/* every engine up to its last cycle, as one text body */
	for (size_t i = 0; i < fd001.rows; i++)
		cycle_text(&buf, &len, &cap, i);
	ck_assert_int_eq(post("/v1/cycles", "text/plain", buf, len, NULL), 200);
	for (;;) {
		const cJSON *next;

		j = get_json(path, &status);
		ck_assert_int_eq(status, 200);
		ck_assert_double_eq(num(j, "tracked"), (double)n);
		pages++;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "engines")) {
			ck_assert(num(it, "rul") >= prev);
			prev = num(it, "rul");
			below_count += prev < 25;
			seen++;
		}
		next = cJSON_GetObjectItem(j, "next");
		if (!cJSON_IsString(next)) {
			cJSON_Delete(j);
			break;
		}
		snprintf(path, sizeof(path), "/v1/engines?limit=7&after=%s", next->valuestring);
		cJSON_Delete(j);
	}
	ck_assert_uint_eq(seen, n);
	ck_assert_uint_eq(pages, (n + 6) / 7);
	j = get_json("/v1/engines?below=25&limit=10000", &status);
	ck_assert_double_eq(num(j, "matching"), below_count);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "engines"))
		ck_assert(num(it, "rul") < 25);
	cJSON_Delete(j);
	j = get_json("/v1/engines?limit=0", &status);
	ck_assert_int_eq(status, 400);
	cJSON_Delete(j);
	/* the gauge of engines below 25, on the timer */
	for (e = 0; e < 30 && harness_scrape(port, "fleet_engines_below_rul{threshold=\"25\"}") !=
				  below_count; e++)
		usleep(100000);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines_below_rul{threshold=\"25\"}"),
			    below_count);
	ck_assert_double_eq(harness_scrape(port, "fleet_cycles_total{model=\"rul-fd001\"}"),
			    (double)fd001.rows);
	free(buf);
}
END_TEST

/* ---- bounds ------------------------------------------------------------------------------- */

static const char fl_bounds_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 database = \"@DIR@/fleet.db\"; max_engines = 3; idle_ttl_seconds = 1;\n"
	"                 fleet_tick_seconds = 0.1; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\", \"prometheus\"]; };\n"
	"};\n";

/* max_engines evicts the least recently seen; idle_ttl_seconds forgets the idle; counted. */
START_TEST(fleet_capacity_and_ttl_evict)
{
	static size_t first[MAX_UNITS];
	size_t n = unit_starts(first, 5), e, k;
	char msg[300];

	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(harness_start_conf(&srv, fl_bounds_conf), 0);
	port = harness_port(&srv, "prediction");
	for (e = 0; e < 4; e++)
		ck_assert_int_eq(post_row(first[e], NULL, NULL, 0), 200);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 3);
	ck_assert_double_eq(harness_scrape(port, "fleet_evictions_total{reason=\"capacity\"}"), 1);
	/* the most recent engine stays: its next cycle follows its first */
	ck_assert_int_eq(post_row(first[3] + 1, NULL, msg, sizeof(msg)), 200);
	for (k = 0; k < 40 && harness_scrape(port, "fleet_engines") != 0; k++)
		usleep(100000);
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 0);
	ck_assert_double_eq(harness_scrape(port, "fleet_evictions_total{reason=\"ttl\"}"), 3);
	/* forgotten in the store too: a restart brings none back */
	ck_assert_int_eq(harness_stop(&srv), 0);
	unlink(srv.log);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	port = harness_port(&srv, "prediction");
	ck_assert_double_eq(harness_scrape(port, "fleet_engines"), 0);
}
END_TEST

/*
 * Two requests for one new engine at once, cycle 1 and cycle 2, for many engines: whichever
 * is planned first, the store gets the windows in that order. Cycle 2 is always accepted;
 * cycle 1 is too when it was planned first, else it is stale (409). After a restart each
 * engine's window holds exactly the acknowledged cycles, the last one 2: a store that wrote
 * the second plan before the first would have lost cycle 2 (the first plan of a new engine
 * lays out its ring anew) or kept a cycle never acknowledged.
 */
#define RACE_ENGINES 300
#define RACE_UNIT0 500000

struct racer {
	pthread_barrier_t *go;
	int64_t cycle;
	long status[RACE_ENGINES];
};

static void *
race(void *arg)
{
	struct racer *rc = arg;
	size_t len, cap = 4096, e;
	char *buf = malloc(cap);
	struct harness_response r;

	for (e = 0; e < RACE_ENGINES; e++) {
		len = 0;
		cycle_json_as(&buf, &len, &cap, (size_t)rc->cycle, RACE_UNIT0 + (int64_t)e,
			      rc->cycle);
		pthread_barrier_wait(rc->go);
		rc->status[e] = harness_http(port, "POST", "/v1/cycles", "application/json", buf,
					     len, NULL, &r) == 0 ? r.status : -1;
		if (rc->status[e] >= 0)
			harness_response_free(&r);
	}
	free(buf);
	return NULL;
}

START_TEST(fleet_concurrent_requests_stored_in_order)
{
	static struct racer rc[2];
	pthread_barrier_t go;
	pthread_t t[2];
	size_t e, i, stale = 0, round;
	char path[64];

	fl_start(backends[0]);
	pthread_barrier_init(&go, NULL, 2);
	for (i = 0; i < 2; i++) {
		rc[i].go = &go;
		rc[i].cycle = (int64_t)i + 1;
		pthread_create(&t[i], NULL, race, &rc[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (e = 0; e < RACE_ENGINES; e++) {
		ck_assert_msg(rc[1].status[e] == 200, "unit %d cycle 2: %ld", RACE_UNIT0 + (int)e,
			      rc[1].status[e]);
		ck_assert_msg(rc[0].status[e] == 200 || rc[0].status[e] == 409,
			      "unit %d cycle 1: %ld", RACE_UNIT0 + (int)e, rc[0].status[e]);
		stale += rc[0].status[e] == 409;
	}
	for (round = 0; round < 2; round++) {
		if (round == 1) { /* what the store has */
			ck_assert_int_eq(harness_stop(&srv), 0);
			ck_assert_int_eq(harness_start(&srv, NULL), 0);
			port = harness_port(&srv, "prediction");
		}
		for (e = 0; e < RACE_ENGINES; e++) {
			long status;
			cJSON *j;

			snprintf(path, sizeof(path), "/v1/engines/%d", RACE_UNIT0 + (int)e);
			j = get_json(path, &status);
			ck_assert_int_eq(status, 200);
			ck_assert_msg(num(j, "cycle") == 2 &&
				      num(j, "window") == (rc[0].status[e] == 200 ? 2 : 1) &&
				      cJSON_GetArraySize(cJSON_GetObjectItem(j, "predictions")) ==
					      (rc[0].status[e] == 200 ? 2 : 1),
				      "unit %d (cycle 1 answered %ld), %s: cycle %g, window %g",
				      RACE_UNIT0 + (int)e, rc[0].status[e],
				      round ? "after a restart" : "in memory", num(j, "cycle"),
				      num(j, "window"));
			cJSON_Delete(j);
		}
	}
	fprintf(stderr, "fleet_concurrent_requests_stored_in_order: %zu of %d first cycles stale\n",
		stale, RACE_ENGINES);
}
END_TEST

/* ---- the store's layout before one row per engine ------------------------------------------ */

/* Schema version 1 as rulsrv wrote it: one row per cycle, the window's cycles with inputs. */
static const char fl_v1_schema[] =
	"CREATE TABLE fleet_cycles("
	" unit INTEGER NOT NULL, cycle INTEGER NOT NULL, inputs BLOB, rul REAL NOT NULL,"
	" model TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL,"
	" PRIMARY KEY(unit, cycle)) WITHOUT ROWID;"
	"CREATE INDEX fleet_window ON fleet_cycles(unit, cycle) WHERE inputs IS NOT NULL;"
	"CREATE TABLE fleet_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* Write rows 0..upto[e] of every engine in the version 1 layout (the last 30 with inputs). */
static void
write_v1(const char *path, const size_t *first, size_t n, const long *upto)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t e;
	long k;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, fl_v1_schema, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO fleet_cycles VALUES(?1, ?2, ?3, ?4,"
					    " 'fd001-forest', '1', 1.8e9)", -1, &st, NULL),
			 SQLITE_OK);
	for (e = 0; e < n; e++)
		for (k = 0; k <= upto[e]; k++) {
			size_t row = first[e] + (size_t)k;

			sqlite3_bind_int64(st, 1, fd001.unit[row]);
			sqlite3_bind_int64(st, 2, fd001.cycle[row]);
			if (k > upto[e] - 30)
				sqlite3_bind_blob(st, 3, fd001.values + row * CMAPSS_N_INPUTS,
						  CMAPSS_N_INPUTS * sizeof(double), SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 3);
			sqlite3_bind_double(st, 4, 1000.0 + (double)row); /* told apart below */
			ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
			sqlite3_reset(st);
		}
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The integer the query sql answers in the file at path (read only), -1 when none. */
static int64_t
sql_value(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t
schema_version_of(const char *path)
{
	return sql_value(path, "SELECT value FROM fleet_meta WHERE key = 'schema_version'");
}

/*
 * A store written in the version 1 layout (one row per cycle) starts: every engine's next
 * cycle is the window form over its whole history, an exact repeat of its last stored cycle
 * answers the stored prediction, the life's history is all there, and the file is version 3
 * afterwards (a second start reads it as such and answers the same).
 */
START_TEST(fleet_old_layout_migrates)
{
	static size_t first[MAX_UNITS];
	static long upto[MAX_UNITS], next[MAX_UNITS];
	static double want[MAX_UNITS], got[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS), e, round;
	char path[600], *buf = malloc(4096);
	size_t len, cap = 4096;
	cJSON *answer;
	int64_t u;

	{
		char conf[1024];

		snprintf(conf, sizeof(conf), fl_conf_fmt, backends[0]);
		ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	}
	snprintf(path, sizeof(path), "%s/fleet.db", srv.dir);
	for (e = 0; e < n; e++) {
		long rows = 0;

		while (row_of(first[e], (size_t)rows) >= 0)
			rows++;
		upto[e] = rows >= 2 ? (rows * 2) / 3 - 1 : -1; /* some below 30, most above */
		if (upto[e] < 0)
			upto[e] = -1;
		next[e] = upto[e] >= 0 && row_of(first[e], (size_t)upto[e] + 1) >= 0 ? upto[e] + 1
										      : -1;
	}
	write_v1(path, first, n, upto);
	ck_assert_int_eq(schema_version_of(path), -1);
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(harness_start(&srv, NULL), 0);
		port = harness_port(&srv, "prediction");
		ck_assert_int_eq(schema_version_of(path), 3);
		if (round == 0) {
			/* the repeat of the last stored cycle answers what was stored then */
			for (e = 0; e < n; e++) {
				if (upto[e] < 0)
					continue;
				len = 0;
				cycle_json(&buf, &len, &cap, first[e] + (size_t)upto[e]);
				ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len,
						      &answer), 200);
				ruls(answer, &got[e], &u, 1);
				cJSON_Delete(answer);
				ck_assert_msg(got[e] == 1000.0 + (double)(first[e] + (size_t)upto[e]),
					      "unit %lld: repeat answered %.9g", (long long)u,
					      got[e]);
			}
			for (e = 0; e < n; e++) {
				if (next[e] < 0)
					continue;
				len = 0;
				cycle_json(&buf, &len, &cap, first[e] + (size_t)next[e]);
				ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len,
						      &answer), 200);
				ruls(answer, &got[e], &u, 1);
				cJSON_Delete(answer);
			}
			window_form(first, n, next, want);
			for (e = 0; e < n; e++)
				if (next[e] >= 0)
					ck_assert_msg(got[e] == want[e], "unit %lld after migration: "
						      "%.9g, window form %.9g",
						      (long long)fd001.unit[first[e]], got[e], want[e]);
			/* the whole life is in the history */
			{
				struct harness_response r;
				char p[64];
				cJSON *j, *list;

				snprintf(p, sizeof(p), "/v1/engines/%lld",
					 (long long)fd001.unit[first[0]]);
				ck_assert_int_eq(harness_http(port, "GET", p, NULL, NULL, 0, NULL, &r),
						 0);
				ck_assert_int_eq(r.status, 200);
				j = cJSON_Parse(r.body);
				list = cJSON_GetObjectItem(j, "predictions");
				ck_assert_int_eq(cJSON_GetArraySize(list),
						 (int)(next[0] >= 0 ? next[0] + 1 : upto[0] + 1));
				cJSON_Delete(j);
				harness_response_free(&r);
			}
		} else {
			/* migrated once: the repeat of the cycle just sent answers it again */
			for (e = 0; e < n; e++) {
				if (next[e] < 0)
					continue;
				len = 0;
				cycle_json(&buf, &len, &cap, first[e] + (size_t)next[e]);
				ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len,
						      &answer), 200);
				ruls(answer, &want[e], &u, 1);
				cJSON_Delete(answer);
				ck_assert_msg(want[e] == got[e], "unit %lld second start: %.9g, "
					      "first %.9g", (long long)u, want[e], got[e]);
			}
		}
		ck_assert_int_eq(harness_stop(&srv), 0);
		srv.pid = 0;
	}
	free(buf);
}
END_TEST

/*
 * tests/fixtures/fleet_v2/fleet_v2.db: a store of schema version 2 (one row per engine holding
 * its whole window) as the rulsrv before version 3 wrote it (make.sh there), units 1 to 6 of
 * test_FD001 streamed up to the rows of FIXTURE_UPTO. Opened by this rulsrv, every window is
 * intact: the repeat of each engine's last cycle answers the prediction made then (the window
 * form up to it), its next cycle the window form over its whole history; the file is version
 * 3 and a second start (no migration) answers the next cycle the same again.
 */
static const long fixture_upto[] = { 9, 29, 30, 70, 90, 44 }; /* units 1..6, as make.sh */

START_TEST(fleet_v2_store_migrates)
{
	static size_t first[MAX_UNITS];
	size_t n = 6, e, round;
	long upto[6], next[6];
	double want_last[6], want_next[6], got, again[6];
	char path[600], cmd[1400], conf[1024], *buf = malloc(4096);
	size_t len, cap = 4096;
	cJSON *answer;
	int64_t u;

	ck_assert_uint_ge(unit_starts(first, MAX_UNITS), n);
	snprintf(conf, sizeof(conf), fl_conf_fmt, backends[0]);
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	snprintf(path, sizeof(path), "%s/fleet.db", srv.dir);
	snprintf(cmd, sizeof(cmd), "cp '%s/tests/fixtures/fleet_v2/fleet_v2.db' '%s'",
		 harness_source_dir(), path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(schema_version_of(path), 2);
	for (e = 0; e < n; e++) {
		upto[e] = fixture_upto[e];
		next[e] = upto[e] + 1;
		ck_assert_int_eq(fd001.unit[first[e]], (int64_t)e + 1);
		ck_assert_int_ge(row_of(first[e], (size_t)next[e]), 0);
	}
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(harness_start(&srv, NULL), 0);
		port = harness_port(&srv, "prediction");
		ck_assert_int_eq(schema_version_of(path), 3);
		ck_assert_double_eq(harness_scrape(port, "fleet_engines"), (double)n);
		if (round == 0) {
			window_form(first, n, upto, want_last);
			/* each engine's last cycle, window length, prediction and history */
			for (e = 0; e < n; e++) {
				struct harness_response r;
				char p[64];
				cJSON *j;

				snprintf(p, sizeof(p), "/v1/engines/%zu", e + 1);
				ck_assert_int_eq(harness_http(port, "GET", p, NULL, NULL, 0, NULL, &r),
						 0);
				ck_assert_int_eq(r.status, 200);
				j = cJSON_Parse(r.body);
				ck_assert_int_eq(cJSON_GetObjectItem(j, "cycle")->valueint,
						 fd001.cycle[first[e] + (size_t)upto[e]]);
				ck_assert_int_eq(cJSON_GetObjectItem(j, "window")->valueint,
						 upto[e] + 1 < 30 ? upto[e] + 1 : 30);
				ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j,
							"predictions")), upto[e] + 1);
				ck_assert_double_eq(cJSON_GetObjectItem(j, "rul")->valuedouble,
						    want_last[e]);
				cJSON_Delete(j);
				harness_response_free(&r);
			}
			window_form(first, n, next, want_next);
			for (e = 0; e < n; e++) {
				len = 0;
				cycle_json(&buf, &len, &cap, first[e] + (size_t)upto[e]);
				ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len,
						      &answer), 200);
				ruls(answer, &got, &u, 1);
				cJSON_Delete(answer);
				ck_assert_msg(got == want_last[e], "unit %lld: the repeat of cycle "
					      "%ld answered %.9g, stored %.9g", (long long)u,
					      upto[e] + 1, got, want_last[e]);
			}
		}
		for (e = 0; e < n; e++) {
			len = 0;
			cycle_json(&buf, &len, &cap, first[e] + (size_t)next[e]);
			ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, &answer),
					 200);
			ruls(answer, round == 0 ? &got : &again[e], &u, 1);
			cJSON_Delete(answer);
			if (round == 0)
				ck_assert_msg(got == want_next[e], "unit %lld after migration: "
					      "%.9g, window form %.9g", (long long)u, got,
					      want_next[e]);
			else
				ck_assert_msg(again[e] == want_next[e], "unit %lld second start: "
					      "%.9g, window form %.9g", (long long)u, again[e],
					      want_next[e]);
		}
		ck_assert_int_eq(harness_stop(&srv), 0);
		srv.pid = 0;
	}
	free(buf);
}
END_TEST

/* A store of a newer schema version than this rulsrv's is refused, and left as it was. */
START_TEST(fleet_newer_schema_is_refused)
{
	char path[600], conf[1024];
	sqlite3 *db = NULL;

	snprintf(conf, sizeof(conf), fl_conf_fmt, backends[0]);
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	snprintf(path, sizeof(path), "%s/fleet.db", srv.dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE fleet_meta(key TEXT PRIMARY KEY,"
				      " value INTEGER NOT NULL);"
				      "INSERT INTO fleet_meta VALUES('schema_version', 4);",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_ne(harness_start(&srv, NULL), 0);
	ck_assert(harness_log_contains(&srv, "holds fleet schema version 4, newer than this "
				       "rulsrv's 3"));
	ck_assert_int_eq(schema_version_of(path), 4);
	srv.pid = 0;
}
END_TEST

/* ---- durability = "bounded" ------------------------------------------------------------------ */

static const char fl_bounded_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 database = \"@DIR@/fleet.db\"; max_instances = 100000;\n"
	"                 durability = \"bounded\"; flush_interval_ms = 2000;\n"
	"                 max_unflushed_cycles = 300; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
	"    plugins = [\"model\"]; }; };\n";

/*
 * durability = "bounded": an answer goes out before its commit (the store has nothing of it
 * right after, and has it once flush_interval_ms passed); a SIGKILL mid-stream loses at most
 * max_unflushed_cycles acknowledged cycles, and what is left is every engine's history up
 * to some cycle, whole: the next cycle after it is the window form over that history.
 */
START_TEST(fleet_bounded_loss_within_bound)
{
	static size_t first[MAX_UNITS];
	static long acked[MAX_UNITS], stored[MAX_UNITS], next[MAX_UNITS];
	size_t n = unit_starts(first, MAX_UNITS), e, k, lost = 0;
	char *buf = malloc(4096), path[600], p[64];
	size_t len, cap = 4096;
	struct harness_response r;
	struct killer kl = { &srv, 3000 };
	cJSON *j;
	long status;

	ck_assert_int_eq(harness_start_conf(&srv, fl_bounded_conf), 0);
	port = harness_port(&srv, "prediction");
	snprintf(path, sizeof(path), "%s/fleet.db", srv.dir);
	/* answered before the commit: nothing stored yet, then stored within the interval */
	len = 0;
	cycle_json(&buf, &len, &cap, first[0]);
	ck_assert_int_eq(post("/v1/cycles", "application/json", buf, len, NULL), 200);
	ck_assert_int_eq(sql_value(path, "SELECT count(*) FROM fleet_slots"), 0);
	for (k = 0; k < 60 && sql_value(path, "SELECT count(*) FROM fleet_slots") == 0; k++)
		usleep(100000);
	ck_assert_int_eq(sql_value(path, "SELECT count(*) FROM fleet_slots"), 1);

	for (e = 0; e < n; e++)
		acked[e] = e == 0 ? 0 : -1;
	k = stream_until_killed(first, n, 1, acked, &kl);
	ck_assert_int_eq(harness_wait(&srv, 5000), 128 + SIGKILL);
	unlink(srv.log);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	port = harness_port(&srv, "prediction");
	for (e = 0; e < n; e++) {
		snprintf(p, sizeof(p), "/v1/engines/%lld", (long long)fd001.unit[first[e]]);
		ck_assert_int_eq(harness_http(port, "GET", p, NULL, NULL, 0, NULL, &r), 0);
		status = r.status;
		j = cJSON_Parse(r.body);
		harness_response_free(&r);
		stored[e] = status == 404 ? -1 : (long)num(j, "cycle") - 1; /* row = cycle - 1 */
		cJSON_Delete(j);
		ck_assert_msg(status == 200 || status == 404, "unit %lld: %ld",
			      (long long)fd001.unit[first[e]], status);
		/* an answer not received may have been committed: one batch past the acked */
		ck_assert_msg(stored[e] <= acked[e] + 1, "unit %lld: stored row %ld, acked %ld",
			      (long long)fd001.unit[first[e]], stored[e], acked[e]);
		lost += acked[e] > stored[e] ? (size_t)(acked[e] - stored[e]) : 0;
		next[e] = row_of(first[e], (size_t)(stored[e] + 1)) >= 0 ? stored[e] + 1 : -1;
	}
	fprintf(stderr, "fleet_bounded_loss_within_bound: %zu acknowledged cycles lost to the "
		"SIGKILL after %zu batches (bound 300)\n", lost, k);
	ck_assert_msg(lost <= 300, "%zu acknowledged cycles lost, more than the bound 300", lost);
	next_cycles_match_window_form(first, n, next);
	free(buf);
}
END_TEST

/* durability = "bounded" is refused with the PostgreSQL store, naming the setting. */
START_TEST(fleet_bounded_refused_with_postgresql)
{
	static const char conf[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = { model = { file = \"predict_forest.so\";\n"
		"  settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
		"               store = \"postgresql\"; dsn = \"host=127.0.0.1 port=1\";\n"
		"               durability = \"bounded\"; }; }; };\n"
		"services = { prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\"]; }; };\n";
	char where[1024];

	ck_assert_int_ne(harness_start_conf(&srv, conf), 0);
	snprintf(where, sizeof(where), "%s:5: setting 'plugins.model.settings.durability': "
		 "\"bounded\" is not available with store = \"postgresql\"", srv.conf);
	ck_assert_msg(harness_log_contains(&srv, where), "no error naming durability");
	srv.pid = 0;
}
END_TEST

/*
 * store = "postgresql" needs a dsn, and one without a password (it would sit in the
 * configuration): refused at start, naming the file, line and setting; nothing connects.
 */
START_TEST(fleet_postgresql_dsn_checked)
{
	static const char fmt[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = { model = { file = \"predict_forest.so\";\n"
		"  settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
		"               store = \"postgresql\";\n"
		"               %s }; }; };\n"
		"services = { prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\"]; }; };\n";
	static const char *const dsns[] = {
		"",
		"dsn = \"host=127.0.0.1 port=1 dbname=fleet password=secret\";",
		"dsn = \"postgresql://fleet:secret@127.0.0.1:1/fleet\";",
	};
	char conf[1024], where[400];

	for (size_t i = 0; i < sizeof(dsns) / sizeof(dsns[0]); i++) {
		snprintf(conf, sizeof(conf), fmt, dsns[i]);
		ck_assert_int_ne(harness_start_conf(&srv, conf), 0);
		snprintf(where, sizeof(where), "%s:%d: setting 'plugins.model.settings.dsn'",
			 srv.conf, i == 0 ? 3 : 5);
		ck_assert_msg(harness_log_contains(&srv, i == 0 ? "setting 'plugins.model."
						   "settings.dsn': is required" : where),
			      "case %zu: no error naming the dsn", i);
		if (i > 0) {
			ck_assert(harness_log_contains(&srv, "holds a password"));
			ck_assert(!harness_log_contains(&srv, "secret"));
		}
		harness_cleanup(&srv);
		memset(&srv, 0, sizeof(srv));
	}
	srv.pid = 0;
}
END_TEST

Suite *
fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("stream");

	suite_needs(s, "cmapss");
	tcase_add_checked_fixture(tc, fl_setup, fl_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, fleet_streamed_equals_window_form, 0, 2);
	tcase_add_test(tc, fleet_stale_repeat_and_gap);
	tcase_add_test(tc, fleet_refused_batch_changes_nothing);
	tcase_add_loop_test(tc, fleet_acknowledged_cycles_survive_sigkill, 0, 2);
	tcase_add_test(tc, fleet_reload_and_swap_keep_windows);
	tcase_add_test(tc, fleet_concurrent_requests_stored_in_order);
	tcase_add_test(tc, fleet_delete_and_failure_end_a_life);
	tcase_add_test(tc, fleet_view_sorted_and_paged);
	tcase_add_test(tc, fleet_capacity_and_ttl_evict);
	tcase_add_test(tc, fleet_postgresql_dsn_checked);
	tcase_add_test(tc, fleet_bounded_loss_within_bound);
	tcase_add_test(tc, fleet_bounded_refused_with_postgresql);
	tcase_add_test(tc, fleet_old_layout_migrates);
	tcase_add_test(tc, fleet_v2_store_migrates);
	tcase_add_test(tc, fleet_newer_schema_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
