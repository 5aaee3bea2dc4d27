/* SPDX-License-Identifier: MIT */
/* test_fleet_observers.c - streamed predictions in drift, the prediction log and the metrics. */
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
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

Suite *fleet_observers_suite(void);

/*
 * The shipped layout: the model in fleet mode, drift and the prediction log (the feedback
 * plugin) on the prediction service, the feedback service on the same database. Drift
 * windows are opened by the test (manual), so one window holds exactly what one form sent.
 */
static const char ob_conf_fmt[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  model = { file = \"%s\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 database = \"@DIR@/rulsrv.db\"; fleet_tick_seconds = 0.1; }; };\n"
	"  drift = { file = \"drift_psi.so\";\n"
	"    settings = { reference = \"@SRC@/models/fd001\"; window = \"manual\";\n"
	"                 min_observations = 50; }; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { database = \"@DIR@/rulsrv.db\"; bundle = \"@SRC@/models/fd001\"; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
	"    plugins = [\"model\", \"drift\", \"feedback\", \"prometheus\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\", \"prometheus\"]; };\n"
	"};\n";

static const char *const backends[] = { "predict_forest.so", "predict_xgboost.so" };

#define ENGINES 8  /* test_FD001 units 1..8 */
#define CYCLES 31  /* their first 31 cycles (the shortest test_FD001 engine): past the window */

static struct harness_server srv;
static struct cmapss_table fd001;
static size_t first[ENGINES], length[ENGINES];
static int pred_port, fb_port;

static void
ob_setup(void)
{
	char dir[512], path[600], err[256];
	size_t i, n = 0;

	memset(&srv, 0, sizeof(srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(cmapss_find_dir(dir, sizeof(dir)), 0);
	cmapss_path(dir, "test_FD001.txt", path, sizeof(path));
	ck_assert_msg(cmapss_read(path, &fd001, err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < fd001.rows && n <= ENGINES; i++) {
		if (i == 0 || fd001.unit[i] != fd001.unit[i - 1]) {
			if (n == ENGINES)
				break;
			first[n++] = i;
		}
		length[n - 1]++;
	}
	ck_assert_uint_eq(n, ENGINES);
	for (i = 0; i < ENGINES; i++) {
		ck_assert_uint_ge(length[i], CYCLES);
		length[i] = CYCLES;
	}
}

static void
ob_teardown(void)
{
	int status = srv.pid > 0 ? harness_stop(&srv) : 0;

	harness_cleanup(&srv);
	cmapss_table_free(&fd001);
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);
}

static void
ob_start(const char *backend)
{
	char conf[2048];

	snprintf(conf, sizeof(conf), ob_conf_fmt, backend);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	pred_port = harness_port(&srv, "prediction");
	fb_port = harness_port(&srv, "feedback");
	ck_assert_int_gt(pred_port, 0);
	ck_assert_int_gt(fb_port, 0);
}

/* ---- bodies --------------------------------------------------------------------------------- */

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
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap * 2 + (size_t)n + 1;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	b->len += (size_t)n;
}

/* Row `row` of test_FD001 as the /v1/cycles object of unit `unit`. */
static void
cycle_json(struct buf *b, long long unit, size_t row)
{
	const double *v = fd001.values + row * CMAPSS_N_INPUTS;
	size_t k;

	put(b, "{\"unit\":%lld,\"cycle\":%lld,\"settings\":[", unit, (long long)fd001.cycle[row]);
	for (k = 0; k < CMAPSS_N_INPUTS; k++)
		put(b, "%s%.17g%s", k == CMAPSS_N_SETTINGS ? "\"sensors\":[" : "", v[k],
		    k == CMAPSS_N_SETTINGS - 1 ? "]," : k == CMAPSS_N_INPUTS - 1 ? "]}" : ",");
}

/* Row `row` of test_FD001 as a C-MAPSS text row of unit `unit`. */
static void
cycle_text(struct buf *b, long long unit, size_t row)
{
	size_t k;

	put(b, "%lld %lld", unit, (long long)fd001.cycle[row]);
	for (k = 0; k < CMAPSS_N_INPUTS; k++)
		put(b, " %.17g", fd001.values[row * CMAPSS_N_INPUTS + k]);
	put(b, "\n");
}

static long
post(int port, const char *path, const char *type, const struct buf *b, cJSON **json)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_http(port, "POST", path, type, b->p, b->len, NULL, &r), 0);
	status = r.status;
	*json = cJSON_Parse(r.body);
	ck_assert_msg(*json != NULL, "POST %s: %ld %s", path, status, r.body);
	harness_response_free(&r);
	return status;
}

static cJSON *
get_json(int port, const char *path)
{
	struct harness_response r;
	cJSON *j;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	harness_response_free(&r);
	return j;
}

static double
num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", name);
	return v->valuedouble;
}

/* The RULs of an answer, which must hold n predictions. */
static void
answer_ruls(const cJSON *answer, double *out, size_t n)
{
	const cJSON *p, *list = cJSON_GetObjectItem(answer, "predictions");
	size_t i = 0;

	ck_assert_int_eq(cJSON_GetArraySize(list), (int)n);
	cJSON_ArrayForEach(p, list)
		out[i++] = num(p, "rul");
}

/*
 * Stream cycle k of every engine, k = 0..CYCLES-1, one /v1/cycles request per flight (a
 * batch of one cycle per engine) under unit + offset. rul[e][k] the answers.
 */
static void
stream_all(long long offset, double rul[ENGINES][CYCLES])
{
	struct buf b = { malloc(4096), 0, 4096 };
	double r[ENGINES];
	cJSON *answer;
	size_t e, k;

	for (k = 0; k < CYCLES; k++) {
		b.len = 0;
		put(&b, "{\"cycles\":[");
		for (e = 0; e < ENGINES; e++) {
			if (e > 0)
				put(&b, ",");
			cycle_json(&b, fd001.unit[first[e]] + offset, first[e] + k);
		}
		put(&b, "]}");
		ck_assert_int_eq(post(pred_port, "/v1/cycles", "application/json", &b, &answer), 200);
		answer_ruls(answer, r, ENGINES);
		for (e = 0; e < ENGINES; e++)
			rul[e][k] = r[e];
		cJSON_Delete(answer);
	}
	free(b.p);
}

/* The same predictions in the window form: /v1/predict on each engine's history up to cycle
 * k, every engine in one text/plain request per k. */
static void
window_form_all(long long offset, double rul[ENGINES][CYCLES])
{
	struct buf b = { malloc(1 << 16), 0, 1 << 16 };
	double r[ENGINES];
	cJSON *answer;
	size_t e, k, c;

	for (k = 0; k < CYCLES; k++) {
		b.len = 0;
		for (e = 0; e < ENGINES; e++)
			for (c = 0; c <= k; c++)
				cycle_text(&b, fd001.unit[first[e]] + offset, first[e] + c);
		ck_assert_int_eq(post(pred_port, "/v1/predict", "text/plain", &b, &answer), 200);
		answer_ruls(answer, r, ENGINES);
		for (e = 0; e < ENGINES; e++)
			rul[e][k] = r[e];
		cJSON_Delete(answer);
	}
	free(b.p);
}

static void
roll_window(const char *label)
{
	struct buf b = { malloc(128), 0, 128 };
	cJSON *answer;
	long status;

	put(&b, "{\"label\":\"%s\"}", label);
	status = post(pred_port, "/v1/drift/window", "application/json", &b, &answer);
	ck_assert_msg(status == 200 || status == 201, "POST /v1/drift/window: %ld", status);
	cJSON_Delete(answer);
	free(b.p);
}

/* Sum of every bin of drift_bin_observations_total{feature="<feature>"} in /metrics. */
static double
bin_observations(const char *feature)
{
	struct harness_response r;
	char prefix[96];
	const char *p;
	double sum = 0;

	snprintf(prefix, sizeof(prefix), "drift_bin_observations_total{feature=\"%s\",", feature);
	ck_assert_int_eq(harness_get(pred_port, "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	for (p = r.body; (p = strstr(p, prefix)) != NULL; p++) {
		if (p != r.body && p[-1] != '\n')
			continue;
		p = strchr(p, '}');
		ck_assert_ptr_nonnull(p);
		sum += strtod(p + 1, NULL);
	}
	harness_response_free(&r);
	return sum;
}

/* ---- drift ------------------------------------------------------------------------------------ */

/*
 * Every cycle streamed through /v1/cycles is one drift observation of its inputs, as each
 * engine of a /v1/predict request is one of its last cycle's: a window filled by streaming
 * and a window filled by the window form of the same histories hold the same observations
 * and the same PSI of every input. A retried (repeated) cycle and a refused one are not
 * observed again.
 */
START_TEST(fleet_streamed_predictions_are_drift_observations)
{
	static double streamed[ENGINES][CYCLES], window[ENGINES][CYCLES];
	const double n = ENGINES * CYCLES;
	struct buf b = { malloc(4096), 0, 4096 };
	const cJSON *f, *g, *cur, *last;
	cJSON *drift, *answer;
	size_t e, k, compared = 0;

	ob_start(backends[_i]);
	roll_window("streamed");
	stream_all(0, streamed);

	/* a client's retry of its last request, and a stale cycle: neither is observed */
	b.len = 0;
	cycle_json(&b, fd001.unit[first[0]], first[0] + CYCLES - 1);
	ck_assert_int_eq(post(pred_port, "/v1/cycles", "application/json", &b, &answer), 200);
	answer_ruls(answer, &streamed[0][CYCLES - 1], 1);
	cJSON_Delete(answer);
	b.len = 0;
	cycle_json(&b, fd001.unit[first[0]], first[0] + 3);
	ck_assert_int_eq(post(pred_port, "/v1/cycles", "application/json", &b, &answer), 409);
	cJSON_Delete(answer);

	drift = get_json(pred_port, "/v1/drift");
	ck_assert_double_eq(num(cJSON_GetObjectItem(drift, "window"), "observations"), n);
	cJSON_Delete(drift);
	ck_assert_double_eq(harness_scrape(pred_port, "drift_window_observations"), n);
	ck_assert_double_eq(bin_observations("s2"), n);
	ck_assert_double_eq(bin_observations("setting1"), n);
	/* and the model's own families count them with /v1/predict's */
	ck_assert_double_eq(harness_scrape(pred_port, "predictions_total{model=\"rul-fd001\"}"), n);
	ck_assert_double_eq(harness_scrape(pred_port,
					   "rul_prediction_value_count{model=\"rul-fd001\"}"), n);

	roll_window("window form");
	window_form_all(1000, window);
	for (e = 0; e < ENGINES; e++)
		for (k = 0; k < CYCLES; k++)
			ck_assert_msg(streamed[e][k] == window[e][k],
				      "unit %lld cycle %zu: streamed %.9g, window form %.9g",
				      (long long)fd001.unit[first[e]], k + 1, streamed[e][k],
				      window[e][k]);

	drift = get_json(pred_port, "/v1/drift");
	cur = cJSON_GetObjectItem(drift, "window");
	last = cJSON_GetObjectItem(drift, "last_window");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(cJSON_GetObjectItem(cur, "label")->valuestring, "window form");
	ck_assert_str_eq(cJSON_GetObjectItem(last, "label")->valuestring, "streamed");
	ck_assert_double_eq(num(cur, "observations"), n);
	ck_assert_double_eq(num(last, "observations"), n);
	g = cJSON_GetObjectItem(last, "features")->child;
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(drift, "features")) {
		const char *name = cJSON_GetObjectItem(f, "name")->valuestring;

		ck_assert_ptr_nonnull(g);
		ck_assert_str_eq(cJSON_GetObjectItem(g, "name")->valuestring, name);
		ck_assert_msg(cJSON_IsNumber(cJSON_GetObjectItem(f, "psi")), "%s: no PSI", name);
		ck_assert_msg(num(f, "psi") == num(g, "psi"),
			      "%s: PSI %.17g of the window form, %.17g streamed", name,
			      num(f, "psi"), num(g, "psi"));
		g = g->next;
		compared++;
	}
	ck_assert_uint_eq(compared, CMAPSS_N_INPUTS);
	ck_assert_double_eq(bin_observations("s2"), 2 * n);
	ck_assert_double_eq(harness_scrape(pred_port, "predictions_total{model=\"rul-fd001\"}"),
			    2 * n);
	cJSON_Delete(drift);
	free(b.p);
}
END_TEST

/* ---- the prediction log ----------------------------------------------------------------------- */

/* The logged predictions of unit, once there are want of them (the log is written off the
 * request path). */
static cJSON *
logged(long long unit, int want)
{
	char path[80];
	cJSON *j = NULL;
	int i, n = -1;

	snprintf(path, sizeof(path), "/v1/feedback/predictions?unit=%lld", unit);
	for (i = 0; i < 500; i++) {
		cJSON_Delete(j);
		j = get_json(fb_port, path);
		n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "predictions"));
		if (n >= want)
			break;
		usleep(20000);
	}
	ck_assert_msg(n == want, "unit %lld: %d predictions logged, want %d", unit, n, want);
	return j;
}

static void
failure_event(long long unit, int failed_at, int want_scored)
{
	struct buf b = { malloc(128), 0, 128 };
	cJSON *answer;
	long status;

	put(&b, "{\"unit\":%lld,\"failed_at_cycle\":%d}", unit, failed_at);
	status = post(fb_port, "/v1/feedback", "application/json", &b, &answer);
	ck_assert_msg(status == 200, "failure event: %ld", status);
	ck_assert_double_eq(num(answer, "accepted"), 1);
	ck_assert_double_eq(num(answer, "scored"), want_scored);
	cJSON_Delete(answer);
	free(b.p);
}

/*
 * Every streamed prediction goes to the prediction log with the cycle and RUL it was answered
 * with, under the model that made it, as /v1/predict's do; a failure event on the feedback
 * service then scores every one of them, and the stats are those of the answered RULs
 * against the truth. A retried cycle is logged once.
 */
START_TEST(fleet_streamed_predictions_are_logged_and_scored)
{
	static double streamed[ENGINES][CYCLES], window[ENGINES][CYCLES];
	/* truth = failed_at - cycle stays under the bundle's cap of 125: no capping */
	const int failed_at = 100;
	const long long offset = 1000; /* the window form's units */
	struct buf b = { malloc(4096), 0, 4096 };
	double se = 0, stat_rmse;
	cJSON *log_s, *log_w, *answer, *stats;
	const cJSON *p, *q, *models;
	size_t e, k;

	ob_start(backends[0]);
	stream_all(0, streamed);
	window_form_all(offset, window);
	/* retry the last flight of engine 0: answered again, not logged again */
	cycle_json(&b, fd001.unit[first[0]], first[0] + CYCLES - 1);
	ck_assert_int_eq(post(pred_port, "/v1/cycles", "application/json", &b, &answer), 200);
	cJSON_Delete(answer);

	for (e = 0; e < ENGINES; e++) {
		long long unit = fd001.unit[first[e]];

		log_s = logged(unit, CYCLES);
		log_w = logged(unit + offset, CYCLES);
		k = 0;
		q = cJSON_GetObjectItem(log_w, "predictions")->child;
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(log_s, "predictions")) {
			ck_assert_ptr_nonnull(q);
			ck_assert_double_eq(num(p, "cycle"), (double)fd001.cycle[first[e] + k]);
			ck_assert_double_eq(num(q, "cycle"), (double)fd001.cycle[first[e] + k]);
			/* logged as answered: the answer's %.7g of the same float */
			ck_assert_msg(fabs(num(p, "rul") - streamed[e][k]) <=
					      1e-6 * fmax(1, streamed[e][k]),
				      "unit %lld cycle %zu: logged %.9g, answered %.9g", unit, k + 1,
				      num(p, "rul"), streamed[e][k]);
			ck_assert_double_eq(num(p, "rul"), num(q, "rul"));
			ck_assert_str_eq(cJSON_GetObjectItem(p, "model")->valuestring,
					 cJSON_GetObjectItem(q, "model")->valuestring);
			ck_assert_str_eq(cJSON_GetObjectItem(p, "version")->valuestring,
					 cJSON_GetObjectItem(q, "version")->valuestring);
			se += pow(streamed[e][k] - (failed_at - (double)fd001.cycle[first[e] + k]), 2);
			q = q->next;
			k++;
		}
		cJSON_Delete(log_s);
		cJSON_Delete(log_w);
		failure_event(unit, failed_at, CYCLES);
	}

	stats = get_json(fb_port, "/v1/feedback/stats");
	ck_assert_double_eq(num(stats, "count"), ENGINES * CYCLES);
	stat_rmse = num(cJSON_GetObjectItem(stats, "all_time"), "rmse");
	ck_assert_msg(fabs(stat_rmse - sqrt(se / (ENGINES * CYCLES))) < 1e-3,
		      "all-time RMSE %.6f, the answers' %.6f", stat_rmse,
		      sqrt(se / (ENGINES * CYCLES)));
	models = cJSON_GetObjectItem(stats, "models");
	ck_assert_double_eq(num(cJSON_GetObjectItem(models, "rul-fd001"), "count"),
			    ENGINES * CYCLES);
	cJSON_Delete(stats);

	/* the window form's predictions score the same */
	for (e = 0; e < ENGINES; e++)
		failure_event(fd001.unit[first[e]] + offset, failed_at, CYCLES);
	stats = get_json(fb_port, "/v1/feedback/stats");
	ck_assert_double_eq(num(stats, "count"), 2 * ENGINES * CYCLES);
	ck_assert_msg(fabs(num(cJSON_GetObjectItem(stats, "all_time"), "rmse") - stat_rmse) < 1e-6,
		      "all-time RMSE moved from %.9f to %.9f with the window form's predictions",
		      stat_rmse, num(cJSON_GetObjectItem(stats, "all_time"), "rmse"));
	cJSON_Delete(stats);
	/* and the failure events ended the streamed engines' lives */
	for (k = 0; k < 100 && harness_scrape(pred_port, "fleet_engines") != 0; k++)
		usleep(50000);
	ck_assert_double_eq(harness_scrape(pred_port, "fleet_engines"), 0);
	free(b.p);
}
END_TEST

/* ---- only what was acknowledged ------------------------------------------------------------- */

/* One cycle (row k of engine 0) through /v1/cycles: the status. */
static long
stream_one(size_t k)
{
	struct buf b = { malloc(1024), 0, 1024 };
	cJSON *answer;
	long status;

	cycle_json(&b, fd001.unit[first[0]], first[0] + k);
	status = post(pred_port, "/v1/cycles", "application/json", &b, &answer);
	if (status != 200)
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "error"), "code")
					 ->valuestring,
				 "store_failed");
	cJSON_Delete(answer);
	free(b.p);
	return status;
}

static double
window_observations(void)
{
	cJSON *drift = get_json(pred_port, "/v1/drift");
	double n = num(cJSON_GetObjectItem(drift, "window"), "observations");

	cJSON_Delete(drift);
	return n;
}

/* The forest daemon, a new drift window, and engine 0's first five cycles streamed and
 * logged: the unit. */
static long long
start_with_five_cycles(const char *label)
{
	long long unit;
	size_t k;

	ob_start(backends[0]);
	unit = fd001.unit[first[0]];
	roll_window(label);
	for (k = 0; k < 5; k++)
		ck_assert_int_eq(stream_one(k), 200);
	cJSON_Delete(logged(unit, 5));
	return unit;
}

/*
 * chattr +i (on) or -i (off) on the fleet store's journal files (plugins/predict/
 * fleet_journal.c): while immutable, even root's appends to the open file fail, so the store
 * cannot make a cycle durable. false when chattr cannot (no such program, a file system
 * without the flag).
 */
static bool
journal_immutable(bool on)
{
	char cmd[800];

	snprintf(cmd, sizeof(cmd), "chattr %ci %s/rulsrv.db-fleet-journal-* 2>/dev/null",
		 on ? '+' : '-', srv.dir);
	return system(cmd) == 0;
}

/*
 * A cycle the store could not make durable is answered 503 store_failed and kept out of the
 * window, fleet_cycles_total and predictions_total. Its prediction went to the observers as
 * the cycle was queued (drift counts it, the log commits it beside the store), so the client's
 * retry, a new cycle to the store again, is flagged a repeat: drift does not count it twice,
 * and the log and the failure event's scoring hold it once. The store fails because its
 * journal file is made immutable under it.
 */
START_TEST(fleet_store_failed_cycle_is_observed_once)
{
	long long unit;
	cJSON *log;
	long status;

	unit = start_with_five_cycles("acknowledged only");

	if (!journal_immutable(true)) {
		test_skip("chattr +i is not possible on %s (the store's failure is made that way)",
			  srv.dir);
		return;
	}
	status = stream_one(5);
	ck_assert(journal_immutable(false));
	ck_assert_int_eq(status, 503);
	ck_assert_double_eq(window_observations(), 6);
	ck_assert_double_eq(harness_scrape(pred_port, "fleet_cycles_total{model=\"rul-fd001\"}"), 5);
	ck_assert_double_eq(harness_scrape(pred_port, "predictions_total{model=\"rul-fd001\"}"), 5);

	ck_assert_int_eq(stream_one(5), 200);
	ck_assert_double_eq(window_observations(), 6);
	ck_assert_double_eq(harness_scrape(pred_port, "fleet_cycles_total{model=\"rul-fd001\"}"), 6);
	log = logged(unit, 6);
	ck_assert_double_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(log, "predictions"), 5),
				"cycle"),
			    (double)fd001.cycle[first[0] + 5]);
	cJSON_Delete(log);
	/* a second later the log still holds one prediction per cycle */
	usleep(1000000);
	cJSON_Delete(logged(unit, 6));
	failure_event(unit, 100, 6);
}
END_TEST

/*
 * The store kept the cycle but the prediction log could not take its prediction (another
 * connection holds the database's write lock past the log's busy timeout; the store's commit
 * is its journal, which the lock does not stop): the answer is 503 store_failed, since the
 * answer waits for the log (log_before_answer = "cycles"). The client's retry is an exact
 * repeat, answered 200; the log ends with one prediction per cycle, drift with one
 * observation per cycle.
 */
START_TEST(fleet_log_failure_then_retry_logged_once)
{
	long long unit;
	char path[600];
	sqlite3 *db;
	cJSON *log;
	size_t k;

	unit = start_with_five_cycles("log failure");

	snprintf(path, sizeof(path), "%s/rulsrv.db", srv.dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(stream_one(5), 503);
	ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	ck_assert_int_eq(stream_one(5), 200);
	ck_assert_double_eq(window_observations(), 6);
	ck_assert_double_eq(harness_scrape(pred_port, "fleet_cycles_total{model=\"rul-fd001\"}"), 6);
	ck_assert_int_eq(stream_one(6), 200);
	log = logged(unit, 7);
	for (k = 0; k < 7; k++)
		ck_assert_double_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(log, "predictions"),
							   (int)k), "cycle"),
				    (double)fd001.cycle[first[0] + k]);
	cJSON_Delete(log);
	usleep(1000000);
	cJSON_Delete(logged(unit, 7));
	ck_assert_double_eq(window_observations(), 7);
	failure_event(unit, 100, 7);
}
END_TEST

Suite *
fleet_observers_suite(void)
{
	Suite *s = suite_create("fleet_observers");
	TCase *tc = tcase_create("observers");

	suite_needs(s, "cmapss");
	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, ob_setup, ob_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, fleet_streamed_predictions_are_drift_observations, 0, 2);
	tcase_add_test(tc, fleet_streamed_predictions_are_logged_and_scored);
	tcase_add_test(tc, fleet_store_failed_cycle_is_observed_once);
	tcase_add_test(tc, fleet_log_failure_then_retry_logged_once);
	suite_add_tcase(s, tc);
	return s;
}
