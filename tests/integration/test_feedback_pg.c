/* SPDX-License-Identifier: MIT */
/* test_feedback_pg.c - the feedback service on PostgreSQL: records, outages, two daemons. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "clocks.h"
#include "harness/harness.h"
#include "harness/pg_server.h"
#include "need.h"

/* SQL: a segment of the log holds length(items) / 32 predictions (plugins/feedback/segment.h) */
#define FP_ITEM "32"

/*
 * The two services of the default rulsrv.conf, the feedback instance with store =
 * "postgresql" on a throwaway server of its own (tests/harness/pg_server.h) for each test.
 * The prediction service's "model" is the feedback_source fixture, which notifies the
 * observers of whatever is posted to /test/predictions.
 */
static const char fp_conf_fmt[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  source = { file = \"@BUILD@/tests/fixtures/feedback_source.so\"; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { store = \"postgresql\"; dsn = \"%s\"; store_timeout_ms = %d;\n"
	"                 window = 5; max_batch = 50; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\";\n"
	"    plugins = [\"source\", \"feedback\", \"prometheus\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; threads = 2;\n"
	"    plugins = [\"feedback\", \"prometheus\"]; };\n"
	"};\n";

/* store_timeout_ms of the outage test, whose bound it checks; the other tests give a loaded
 * test machine more room, so that no request of theirs is a 503 */
#define FP_TIMEOUT_MS 1000
#define FP_ROOMY_TIMEOUT_MS 15000

static struct pg_server fp_pg;
static struct harness_server fp_srv[2];

static void
fp_start_daemon(struct harness_server *srv, int timeout_ms)
{
	char conf[2048];

	snprintf(conf, sizeof(conf), fp_conf_fmt, fp_pg.dsn, timeout_ms);
	ck_assert_int_eq(harness_start_conf(srv, conf), 0);
}

static void
fp_setup(void)
{
	char why[1024];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(fp_srv, 0, sizeof(fp_srv));
	ck_assert_msg(pg_server_start(&fp_pg, "rulsrv_feedback", why, sizeof(why)) == 0, "%s",
		      why);
}

static void
fp_setup_roomy(void)
{
	fp_setup();
	fp_start_daemon(&fp_srv[0], FP_ROOMY_TIMEOUT_MS);
}

static void
fp_setup_outage(void)
{
	fp_setup();
	fp_start_daemon(&fp_srv[0], FP_TIMEOUT_MS);
}

/* Every test ends with a clean SIGTERM exit (0) of every daemon it started. */
static void
fp_teardown(void)
{
	int i, status, bad = 0;

	for (i = 0; i < 2; i++) {
		status = fp_srv[i].pid > 0 ? harness_stop(&fp_srv[i]) : 0;
		if (status != 0) {
			harness_print_log(&fp_srv[i]);
			bad = status;
		}
		harness_cleanup(&fp_srv[i]);
	}
	pg_server_cleanup(&fp_pg);
	ck_assert_msg(bad == 0, "rulsrv exited with %d on SIGTERM", bad);
}

static int
fp_fb(int d)
{
	return harness_port(&fp_srv[d], "feedback");
}

static int
fp_pred(int d)
{
	return harness_port(&fp_srv[d], "prediction");
}

static long
fp_post(int d, const char *json, char *body, size_t body_len)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_post_json(fp_fb(d), "/v1/feedback", json, &r), 0);
	status = r.status;
	if (body != NULL)
		snprintf(body, body_len, "%s", r.body);
	harness_response_free(&r);
	return status;
}

static long
fp_post_port(int port, const char *json)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_post_json(port, "/v1/feedback", json, &r), 0);
	status = r.status;
	harness_response_free(&r);
	return status;
}

static void
fp_post_ok(int d, const char *json, const char *expected)
{
	char body[512];
	long status = fp_post(d, json, body, sizeof(body));

	ck_assert_msg(status == 200, "POST %s: %ld %s", json, status, body);
	ck_assert_msg(strcmp(body, expected) == 0, "POST %s: got %s, expected %s", json, body,
		      expected);
}

/* A number out of GET /v1/feedback/stats of daemon d by a dotted path of object keys. */
static double
fp_stat(int d, const char *path)
{
	struct harness_response r;
	char key[64], *p;
	const char *at;
	double v = NAN;

	ck_assert_int_eq(harness_get(fp_fb(d), "/v1/feedback/stats", &r), 0);
	ck_assert_msg(r.status == 200, "stats: %ld %s", r.status, r.body);
	at = r.body;
	snprintf(key, sizeof(key), "%s", path);
	for (p = strtok(key, "."); p != NULL && at != NULL; p = strtok(NULL, ".")) {
		char quoted[80];

		snprintf(quoted, sizeof(quoted), "\"%s\":", p);
		at = strstr(at, quoted);
		if (at != NULL)
			at += strlen(quoted);
	}
	if (at != NULL && strncmp(at, "null", 4) != 0)
		v = strtod(at, NULL);
	harness_response_free(&r);
	return v;
}

static double
fp_sql(const char *sql)
{
	return pg_server_value(&fp_pg, sql);
}

/* lines "unit cycle rul" predicted on daemon d at `made` (0: now); wait until the database
 * holds `expect` predictions in all. */
static void
fp_log_predictions(int d, const char *lines, double made, double expect)
{
	struct harness_response r;
	char path[96];
	int i;

	if (made > 0)
		snprintf(path, sizeof(path), "/test/predictions?timestamp=%.3f", made);
	else
		snprintf(path, sizeof(path), "/test/predictions");
	ck_assert_int_eq(harness_http(fp_pred(d), "POST", path, "text/plain", lines,
				      strlen(lines), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	for (i = 0; i < 500 && expect > 0; i++) {
		if (fp_sql("SELECT sum(length(items) / " FP_ITEM ") FROM feedback_segments") >= expect)
			return;
		usleep(20000);
	}
	if (expect > 0)
		ck_abort_msg("the prediction log never held %g predictions", expect);
}

/* What the SQLite suite checks of each kind of record, on PostgreSQL. */
START_TEST(pg_feedback_scores_each_kind_of_record)
{
	char body[512];

	fp_post_ok(0, "{\"unit\": 70, \"cycle\": 112, \"actual_rul\": 80, \"predicted_rul\": 83.2,"
		   " \"model\": \"m\"}", "{\"accepted\":1,\"scored\":1}");
	fp_post_ok(0, "{\"unit\": 55, \"failed_at_cycle\": 200}", "{\"accepted\":1,\"scored\":0}");
	ck_assert_double_eq_tol(harness_scrape(fp_fb(0), "feedback_abs_error_sum_total"
					       "{model=\"m\"}"), 3.2, 1e-9);
	/* matched against the log; all or nothing */
	fp_log_predictions(0, "7 1 100\n7 2 99\n7 3 98.5\n", 0, 3);
	fp_post_ok(0, "{\"unit\": 7, \"cycle\": 3, \"actual_rul\": 90}",
		   "{\"accepted\":1,\"scored\":1}");
	ck_assert_int_eq(fp_post(0, "{\"records\": [{\"unit\": 7, \"cycle\": 2, \"actual_rul\": 90},"
				 "{\"unit\": 7, \"cycle\": 99, \"actual_rul\": 1}]}", body,
				 sizeof(body)), 422);
	ck_assert_msg(strstr(body, "records[1]: no logged prediction of unit 7 at cycle 99") != NULL,
		      "%s", body);
	ck_assert_double_eq(fp_stat(0, "count"), 2);
	/* the failure event scores the unit's other two, once */
	fp_post_ok(0, "{\"unit\": 7, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":2}");
	fp_post_ok(0, "{\"unit\": 7, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	ck_assert_double_eq(fp_stat(0, "models.fixture-model.count"), 3);
	/* predictions made before their unit's event and logged after it: scored when logged */
	fp_post_ok(0, "{\"unit\": 21, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	fp_log_predictions(0, "21 1 60\n21 2 50\n21 3 40\n", clocks_realtime() - 5, 6);
	ck_assert_double_eq(fp_stat(0, "count"), 7);
	ck_assert_double_eq(fp_sql("SELECT count(*) FROM feedback_records"
				   " WHERE source = 'failure_late'"), 3);
	ck_assert_double_eq(harness_scrape(fp_fb(0), "feedback_count_total"
					   "{model=\"fixture-model\"}"), 6);
	ck_assert_double_eq(harness_scrape(fp_fb(0), "feedback_store_up"), 1);
	ck_assert_double_eq(harness_scrape(fp_pred(0), "feedback_store_up"), 1);
}
END_TEST

/* A restart of the daemon restores the windowed figures from the database. */
START_TEST(pg_feedback_restart_restores_the_window)
{
	char json[256];
	double rmse = sqrt((1 + 4 + 9 + 16 + 25) / 5.0);
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(json, sizeof(json),
			 "{\"unit\": %d, \"cycle\": 1, \"actual_rul\": 20, \"predicted_rul\": %d, "
			 "\"model\": \"m\"}", i, i < 5 ? 70 : 20 + i - 4);
		fp_post_ok(0, json, "{\"accepted\":1,\"scored\":1}");
	}
	ck_assert_double_eq_tol(harness_scrape(fp_fb(0), "model_rmse{model=\"m\"}"), rmse, 1e-9);
	ck_assert_int_eq(harness_stop(&fp_srv[0]), 0);
	unlink(fp_srv[0].log);
	ck_assert_int_eq(harness_start(&fp_srv[0], NULL), 0);
	ck_assert_double_eq_tol(harness_scrape(fp_fb(0), "model_rmse{model=\"m\"}"), rmse, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fp_fb(0), "model_mae{model=\"m\"}"), 3, 1e-9);
	ck_assert_double_eq(fp_stat(0, "count"), 10);
	ck_assert_double_eq(fp_stat(0, "window.count"), 5);
	ck_assert_double_eq_tol(fp_stat(0, "window.rmse"), rmse, 1e-9);
}
END_TEST

/* ---- outage ----------------------------------------------------------------------------- */

#define FP_TRAFFIC_MAX 100000

struct fp_traffic {
	int port;
	atomic_bool stop;
	atomic_int sent;
	unsigned char acked[FP_TRAFFIC_MAX]; /* 1: answered 200 */
	atomic_int ok, unavailable, other, no_retry_after, late;
	double slowest; /* seconds, of a 503 */
};

/* One client posting records one after another, each of its own unit (10000 + i). */
static void *
fp_traffic_main(void *arg)
{
	struct fp_traffic *t = arg;
	char json[160];
	int i;

	for (i = 0; i < FP_TRAFFIC_MAX && !atomic_load(&t->stop); i++) {
		struct harness_response r;
		double t0 = clocks_monotonic(), took;

		snprintf(json, sizeof(json), "{\"unit\": %d, \"cycle\": 1, \"actual_rul\": 20,"
			 " \"predicted_rul\": 22, \"model\": \"m\"}", 10000 + i);
		atomic_store(&t->sent, i + 1);
		if (harness_post_json(t->port, "/v1/feedback", json, &r) < 0) {
			atomic_fetch_add(&t->other, 1);
			continue;
		}
		took = clocks_monotonic() - t0;
		if (r.status == 200) {
			t->acked[i] = 1;
			atomic_fetch_add(&t->ok, 1);
		} else if (r.status == 503) {
			atomic_fetch_add(&t->unavailable, 1);
			if (r.headers == NULL || strcasestr(r.headers, "\nRetry-After: ") == NULL)
				atomic_fetch_add(&t->no_retry_after, 1);
			if (strstr(r.body, "\"error\"") == NULL)
				atomic_fetch_add(&t->other, 1);
			if (took > t->slowest)
				t->slowest = took;
			usleep(20000);
		} else {
			atomic_fetch_add(&t->other, 1);
		}
		harness_response_free(&r);
	}
	return NULL;
}

/* Wait up to seconds for the gauge of daemon d's service to read want. */
static bool
fp_wait_up(int port, double want, double seconds)
{
	double end = clocks_monotonic() + seconds;

	while (clocks_monotonic() < end) {
		if (harness_scrape(port, "feedback_store_up") == want)
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * PostgreSQL stopped (immediately, as a crash) and started again under traffic: every
 * acknowledged record is in the database afterwards; requests meanwhile get 503 with
 * Retry-After within store_timeout_ms (plus slack for the machine); /metrics, /healthz and
 * predictions go on, and the predictions made meanwhile reach the database once it is back;
 * the daemon comes back by itself and feedback_store_up says so.
 */
START_TEST(pg_feedback_outage_loses_nothing_acknowledged)
{
	struct fp_traffic *t = calloc(1, sizeof(*t));
	struct harness_response r;
	pthread_t th;
	char why[1024], *rows = NULL, *line;
	int i, acked = 0, found = 0;

	t->port = fp_fb(0);
	pthread_create(&th, NULL, fp_traffic_main, t);
	while (atomic_load(&t->ok) < 50)
		usleep(10000);
	ck_assert_int_eq(pg_server_stop(&fp_pg, true), 0);
	ck_assert_msg(fp_wait_up(fp_fb(0), 0, 15), "feedback_store_up never went to 0");
	ck_assert_int_eq(harness_get(fp_fb(0), "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	/* predictions go on, and their log waits for the database */
	fp_log_predictions(0, "778 1 50\n778 2 49\n778 3 48\n778 4 47\n778 5 46\n", 0, 0);
	{
		int before = atomic_load(&t->unavailable);

		while (atomic_load(&t->unavailable) < before + 20)
			usleep(10000);
	}
	ck_assert_msg(pg_server_restart(&fp_pg, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(fp_wait_up(fp_fb(0), 1, 30), "feedback_store_up never came back to 1");
	ck_assert_msg(fp_wait_up(fp_pred(0), 1, 30), "the log's feedback_store_up never came back");
	for (i = 0; i < 300 && fp_sql("SELECT sum(length(items) / " FP_ITEM ")"
				     " FROM feedback_segments WHERE unit = 778") != 5; i++)
		usleep(100000);
	ck_assert_double_eq(fp_sql("SELECT sum(length(items) / " FP_ITEM ")"
				   " FROM feedback_segments WHERE unit = 778"), 5);
	ck_assert_double_eq(harness_scrape(fp_pred(0), "feedback_prediction_log_failed_total"), 0);
	{
		int before = atomic_load(&t->ok);
		double end = clocks_monotonic() + 30;

		while (atomic_load(&t->ok) < before + 50 && clocks_monotonic() < end)
			usleep(10000);
		ck_assert_msg(atomic_load(&t->ok) >= before + 50, "the service did not recover");
	}
	atomic_store(&t->stop, true);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&t->other), 0);
	ck_assert_int_gt(atomic_load(&t->unavailable), 0);
	ck_assert_int_eq(atomic_load(&t->no_retry_after), 0);
	/* slack: a loaded 2-core machine; the bound is what matters, not the figure */
	ck_assert_msg(t->slowest < FP_TIMEOUT_MS / 1000.0 + 1.5, "a 503 took %.3f s",
		      t->slowest);
	ck_assert_int_eq(pg_server_sql(&fp_pg, "SELECT unit FROM feedback_records"
				       " WHERE unit >= 10000 ORDER BY unit", &rows), 0);
	for (line = strtok(rows, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		int u = atoi(line) - 10000;

		if (u >= 0 && u < FP_TRAFFIC_MAX && t->acked[u] == 1) {
			t->acked[u] = 2;
			found++;
		}
	}
	free(rows);
	for (i = 0; i < FP_TRAFFIC_MAX; i++)
		acked += t->acked[i] != 0;
	ck_assert_msg(found == acked, "%d acknowledged records, %d of them in the database", acked,
		      found);
	ck_assert_double_eq(fp_stat(0, "count"),
			    fp_sql("SELECT count(*) FROM feedback_records"));
	/* the log says so, naming the store without secrets */
	ck_assert(harness_log_contains(&fp_srv[0], "feedback store postgresql host=127.0.0.1"));
	ck_assert(harness_log_contains(&fp_srv[0], "does not answer"));
	ck_assert(harness_log_contains(&fp_srv[0], "answers again"));
	free(t);
}
END_TEST

static char *fp_hold_out; /* what psql said, for a failure's message */
static atomic_int fp_hold_done;

static void *
fp_hold_lock(void *arg)
{
	(void)arg;
	/* another program holds the table for 5 s: the database is up, but slow for us */
	pg_server_sql(&fp_pg, "BEGIN; LOCK TABLE feedback_records IN ACCESS EXCLUSIVE MODE;"
		      " SELECT pg_sleep(5); COMMIT;", &fp_hold_out);
	atomic_store(&fp_hold_done, 1);
	return NULL;
}

/* A database that is up but does not answer in time (a table locked by another program):
 * the request gets its 503 with Retry-After within store_timeout_ms, and once the lock goes
 * the service stores again by itself. */
START_TEST(pg_feedback_slow_database_is_a_503_in_time)
{
	static const char rec[] = "{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 20,"
				  " \"predicted_rul\": 22, \"model\": \"m\"}";
	struct harness_response r;
	pthread_t th;
	double t0, took;
	int i;

	fp_post_ok(0, rec, "{\"accepted\":1,\"scored\":1}");
	pthread_create(&th, NULL, fp_hold_lock, NULL);
	for (i = 0; i < 500 && fp_sql("SELECT count(*) FROM pg_locks WHERE granted AND mode ="
				     " 'AccessExclusiveLock' AND relation ="
				     " 'feedback_records'::regclass") < 1; i++)
		usleep(20000);
	if (i == 500) {
		char *act = NULL;

		pg_server_sql(&fp_pg, "SELECT pid, state, wait_event_type, left(query, 60) FROM"
			      " pg_stat_activity WHERE datname = current_database()", &act);
		ck_abort_msg("the other session never held the table (psql %s: %s): %s",
			     atomic_load(&fp_hold_done) ? "ended" : "runs",
			     fp_hold_out != NULL ? fp_hold_out : "", act);
	}
	t0 = clocks_monotonic();
	ck_assert_int_eq(harness_post_json(fp_fb(0), "/v1/feedback", rec, &r), 0);
	took = clocks_monotonic() - t0;
	ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"store_unavailable\""));
	ck_assert_ptr_nonnull(strcasestr(r.headers, "\nRetry-After: 1"));
	harness_response_free(&r);
	/* slack: a loaded 2-core machine; the bound is what matters, not the figure */
	ck_assert_msg(took < FP_TIMEOUT_MS / 1000.0 + 1.5, "the 503 took %.3f s", took);
	pthread_join(th, NULL);
	for (i = 0; i < 100; i++) {
		long status = fp_post(0, rec, NULL, 0);

		if (status == 200)
			break;
		ck_assert_int_eq(status, 503);
		usleep(100000);
	}
	ck_assert_double_eq(fp_sql("SELECT count(*) FROM feedback_records"), 2);
}
END_TEST

/* ---- two daemons ------------------------------------------------------------------------- */

/*
 * Two daemons on one database: predictions logged by the first, failure events posted to the
 * second right after, racing the first's log (written up to half a second after the
 * answer). Each prediction is scored exactly once (the rows are counted), and both daemons
 * report the same all-time figures.
 */
START_TEST(pg_feedback_two_daemons_score_each_prediction_once)
{
	char lines[8192], json[128];
	double made = clocks_realtime() - 2;
	size_t at = 0;
	int u, c, units = 40, cycles = 10;

	fp_start_daemon(&fp_srv[1], FP_ROOMY_TIMEOUT_MS);
	for (u = 0; u < units; u++)
		for (c = 1; c <= cycles; c++)
			at += (size_t)snprintf(lines + at, sizeof(lines) - at, "%d %d %d\n", 500 + u,
					       c, 100 - c);
	fp_log_predictions(0, lines, made, 0); /* no wait: the events race the log */
	for (u = 0; u < units; u++) {
		snprintf(json, sizeof(json), "{\"unit\": %d, \"failed_at_cycle\": %d}", 500 + u,
			 cycles + 5);
		ck_assert_int_eq(fp_post(1, json, NULL, 0), 200);
	}
	for (u = 0; u < 500; u++) {
		if (fp_sql("SELECT sum(length(items) / " FP_ITEM " - unscored)"
			   " FROM feedback_segments") ==
		    units * cycles)
			break;
		usleep(20000);
	}
	ck_assert_double_eq(fp_sql("SELECT count(*) FROM feedback_records"), units * cycles);
	ck_assert_double_eq(fp_sql("SELECT count(DISTINCT prediction_id) FROM feedback_records"),
			    units * cycles);
	ck_assert_double_eq(fp_sql("SELECT sum(unscored) FROM feedback_segments"),
			    0);
	ck_assert_double_eq(fp_sql("SELECT sum(scored) FROM feedback_failures"), units * cycles);
	ck_assert_double_eq(fp_stat(0, "count"), units * cycles);
	ck_assert_double_eq(fp_stat(1, "count"), units * cycles);
	ck_assert_double_eq_tol(fp_stat(0, "all_time.rmse"), fp_stat(1, "all_time.rmse"), 1e-9);
	ck_assert_double_eq_tol(fp_stat(0, "all_time.nasa_score"),
				fp_stat(1, "all_time.nasa_score"), 1e-9);
	/* the second daemon counted every one: its events' and, through the store, those the
	 * first daemon's log scored */
	ck_assert_double_eq(harness_scrape(fp_fb(1), "feedback_count_total"
					   "{model=\"fixture-model\"}"), units * cycles);
}
END_TEST

/* ---- configuration ------------------------------------------------------------------------ */

/* Replace every `from` in *text by `to`. */
static void
fp_replace(char **text, const char *from, const char *to)
{
	char *at;

	while ((at = strstr(*text, from)) != NULL) {
		size_t head = (size_t)(at - *text), len = strlen(*text) - strlen(from) + strlen(to);
		char *out = malloc(len + 1);

		ck_assert_ptr_nonnull(out);
		snprintf(out, len + 1, "%.*s%s%s", (int)head, *text, to, at + strlen(from));
		free(*text);
		*text = out;
	}
}

/* conf/rulsrv-postgresql.conf as shipped, but for its dsn (the test's server), its paths
 * (the test's) and its ports (free ones), starts, stores feedback in the database and stops
 * cleanly. */
START_TEST(pg_feedback_shipped_example_serves)
{
	struct harness_server *srv = &fp_srv[1];
	char path[600], dsn[600], *text = NULL;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/conf/rulsrv-postgresql.conf", harness_source_dir());
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), len);
	fclose(f);
	snprintf(dsn, sizeof(dsn), "dsn = \"%s\";", fp_pg.dsn);
	fp_replace(&text, "dsn = \"host=127.0.0.1 port=5432 dbname=rulsrv user=rulsrv\";", dsn);
	fp_replace(&text, "\"../build/plugins\"", "\"@PLUGINS@\"");
	fp_replace(&text, "\"../var/", "\"@DIR@/");
	fp_replace(&text, "\"../", "\"@SRC@/");
	fp_replace(&text, "127.0.0.1:3000", "127.0.0.1:0");
	fp_replace(&text, "127.0.0.1:3001", "127.0.0.1:0");
	ck_assert_int_eq(harness_start_conf(srv, text), 0);
	free(text);
	ck_assert_int_eq(fp_post_port(harness_port(srv, "feedback"),
				      "{\"unit\": 3, \"cycle\": 1, \"actual_rul\": 9,"
				      " \"predicted_rul\": 10}"), 200);
	ck_assert_double_eq(fp_sql("SELECT count(*) FROM feedback_records WHERE unit = 3"), 1);
}
END_TEST

/* rulsrv -t refuses conf with 78 and says each of says, and never the secret. */
static void
fp_assert_refused(const char *store_settings, const char *const *says)
{
	struct harness_server srv;
	char conf[1024], daemon[512], *out = NULL;
	const char *argv[] = { daemon, "-t", "-c", srv.conf, NULL };
	int status = -1;
	size_t i;

	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@PLUGINS@\";\n"
		 "plugins = { feedback = { file = \"feedback.so\";\n"
		 "  settings = { %s }; }; };\n"
		 "services = { feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"];"
		 " }; };\n", store_settings);
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	snprintf(daemon, sizeof(daemon), "%s/bin/rulsrv", harness_build_dir());
	argv[3] = srv.conf;
	ck_assert_int_eq(harness_run(argv, &out, &status), 0);
	ck_assert_msg(status == 78, "exit %d: %s", status, out);
	for (i = 0; says[i] != NULL; i++)
		ck_assert_msg(strstr(out, says[i]) != NULL, "no '%s' in: %s", says[i], out);
	ck_assert_msg(strstr(out, "s3cr3t") == NULL, "the secret is in the output: %s", out);
	free(out);
	harness_cleanup(&srv);
}

START_TEST(pg_feedback_refuses_a_password_in_the_dsn)
{
	static const char *const says[] = { "rulsrv.conf:4", "settings.dsn'", "password", NULL };

	fp_assert_refused("store = \"postgresql\";\n"
			  "  dsn = \"host=127.0.0.1 dbname=x user=u password=s3cr3t\";", says);
	fp_assert_refused("store = \"postgresql\";\n"
			  "  dsn = \"postgresql://u:s3cr3t@127.0.0.1/x\";", says);
}
END_TEST

START_TEST(pg_feedback_store_settings_are_checked)
{
	static const char *const no_dsn[] = { "settings.dsn'", "needs a dsn", NULL };
	static const char *const kind[] = { "settings.store'", "mysql", NULL };
	static const char *const other[] = { "database", NULL };

	fp_assert_refused("store = \"postgresql\";", no_dsn);
	fp_assert_refused("store = \"mysql\";", kind);
	/* a setting of the other store is an unknown setting */
	fp_assert_refused("store = \"postgresql\"; dsn = \"host=127.0.0.1\";\n"
			  "  database = \"/tmp/x.db\";", other);
}
END_TEST

/* A database written by a newer rulsrv: this one refuses to start, naming both versions, and
 * changes nothing. */
START_TEST(pg_feedback_refuses_a_newer_schema)
{
	char conf[2048], daemon[512], *out = NULL;
	const char *argv[] = { daemon, "-t", "-c", fp_srv[1].conf, NULL };
	int status = -1;

	ck_assert_int_eq(harness_stop(&fp_srv[0]), 0);
	ck_assert_int_eq(pg_server_sql(&fp_pg, "UPDATE schema_version SET version = 9"
				       " WHERE component = 'feedback'", NULL), 0);
	snprintf(conf, sizeof(conf), fp_conf_fmt, fp_pg.dsn, FP_ROOMY_TIMEOUT_MS);
	ck_assert_int_eq(harness_prepare(&fp_srv[1], conf), 0);
	snprintf(daemon, sizeof(daemon), "%s/bin/rulsrv", harness_build_dir());
	argv[3] = fp_srv[1].conf;
	ck_assert_int_eq(harness_run(argv, &out, &status), 0);
	ck_assert_msg(status == 78, "exit %d: %s", status, out);
	ck_assert_msg(strstr(out, "feedback schema version 9, this rulsrv knows versions up to 2")
		      != NULL, "%s", out);
	free(out);
	ck_assert_double_eq(fp_sql("SELECT version FROM schema_version"
				   " WHERE component = 'feedback'"), 9);
}
END_TEST

Suite *feedback_pg_suite(void);

Suite *
feedback_pg_suite(void)
{
	Suite *s = suite_create("feedback_pg");
	TCase *tc = tcase_create("service");

	suite_needs(s, "postgresql");
	tcase_add_checked_fixture(tc, fp_setup_roomy, fp_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, pg_feedback_scores_each_kind_of_record);
	tcase_add_test(tc, pg_feedback_restart_restores_the_window);
	tcase_add_test(tc, pg_feedback_two_daemons_score_each_prediction_once);
	tcase_add_test(tc, pg_feedback_refuses_a_newer_schema);
	suite_add_tcase(s, tc);
	tc = tcase_create("example");
	tcase_needs(tc, "fd001"); /* the shipped configuration serves models/fd001 */
	tcase_add_checked_fixture(tc, fp_setup, fp_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pg_feedback_shipped_example_serves);
	suite_add_tcase(s, tc);
	tc = tcase_create("outage");
	tcase_add_checked_fixture(tc, fp_setup_outage, fp_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, pg_feedback_outage_loses_nothing_acknowledged);
	tcase_add_test(tc, pg_feedback_slow_database_is_a_503_in_time);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pg_feedback_refuses_a_password_in_the_dsn);
	tcase_add_test(tc, pg_feedback_store_settings_are_checked);
	suite_add_tcase(s, tc);
	return s;
}
