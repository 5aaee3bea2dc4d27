/* SPDX-License-Identifier: MIT */
/*
 * test_reload_state.c - plugin ABI 2.0 seen from outside the daemon: deferred answers drained
 * at SIGTERM, state handed over across SIGHUP (descriptor.handoff), timers after a reload.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "bundle.h"
#include "clocks.h"
#include "harness/harness.h"
#include "need.h"

Suite *reload_state_suite(void);

static struct harness_server rs_srv;

static void
rs_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&rs_srv, 0, sizeof(rs_srv));
}

static void
rs_teardown(void)
{
	harness_cleanup(&rs_srv);
}

/* SIGTERM and the exit status, with the daemon's log when it is not 0. */
static int
rs_stop(void)
{
	int status = harness_stop(&rs_srv);

	if (status != 0)
		harness_print_log(&rs_srv);
	return status;
}

/* A reload by SIGHUP, waited for on the success counter (prometheus on the service). */
static void
rs_sighup(int port)
{
	const char *ok = "rulsrv_config_reloads_total{result=\"success\"}";
	double before = harness_scrape(port, ok);
	int i;

	if (isnan(before))
		before = 0;
	ck_assert_int_eq(harness_signal(&rs_srv, SIGHUP), 0);
	for (i = 0; i < 500 && !(harness_scrape(port, ok) > before); i++)
		usleep(10 * 1000);
	ck_assert_msg(harness_scrape(port, ok) == before + 1, "SIGHUP: no successful reload");
}

/* ---- a. deferred answers in flight at SIGTERM ---------------------------------------------- */

static const char rs_feedback_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { database = \"@DIR@/feedback.db\"; window = 5; max_batch = 50; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  feedback = { listen = \"127.0.0.1:0\"; threads = 2;\n"
	"    plugins = [\"feedback\", \"prometheus\"]; };\n"
	"};\n";

#define RS_CLIENTS 16
#define RS_MAX_REQUESTS 100000

struct rs_client {
	int port;
	int id;
	double *sigterm_at;      /* CLOCK_MONOTONIC of the SIGTERM, 0 before */
	atomic_bool gone;        /* a transport error: the daemon closed its listener */
	long acked;              /* requests answered 2xx */
	long acked_after_signal; /* ... of which after the SIGTERM was sent */
	long refused;            /* answers other than 2xx and 503 */
	long last_status;
	unsigned char *ok;       /* ok[i]: request i (unit id, cycle i) was answered 2xx */
};

/* One record per request, unit = client id, cycle = request number: each one identifiable. */
static void *
rs_client_main(void *arg)
{
	struct rs_client *c = arg;
	char json[256];
	long i;

	for (i = 0; i < RS_MAX_REQUESTS && !atomic_load(&c->gone); i++) {
		struct harness_response r;

		snprintf(json, sizeof(json),
			 "{\"unit\": %d, \"cycle\": %ld, \"actual_rul\": 40, \"predicted_rul\": 43,"
			 " \"model\": \"drain\"}",
			 c->id, i);
		if (harness_post_json(c->port, "/v1/feedback", json, &r) < 0) {
			atomic_store(&c->gone, true);
			break;
		}
		c->last_status = r.status;
		if (r.status >= 200 && r.status < 300) {
			c->ok[i] = 1;
			c->acked++;
			if (*(volatile double *)c->sigterm_at > 0)
				c->acked_after_signal++;
		} else if (r.status != 503) {
			c->refused++;
		}
		harness_response_free(&r);
	}
	return NULL;
}

/* Requests acknowledged and missing from the database file, and all rows of the test. */
static long
rs_missing(sqlite3 *db, const struct rs_client *c, long *rows)
{
	sqlite3_stmt *st;
	long missing = 0, i;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT cycle FROM feedback WHERE unit = ?1 AND "
						"model = 'drain'", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int(st, 1, c->id);
	{
		unsigned char *stored = calloc(RS_MAX_REQUESTS, 1);

		while (sqlite3_step(st) == SQLITE_ROW) {
			long cycle = (long)sqlite3_column_int64(st, 0);

			(*rows)++;
			if (cycle >= 0 && cycle < RS_MAX_REQUESTS)
				stored[cycle] = 1;
		}
		for (i = 0; i < RS_MAX_REQUESTS; i++)
			if (c->ok[i] && !stored[i])
				missing++;
		free(stored);
	}
	sqlite3_finalize(st);
	return missing;
}

/* GET /v1/feedback/stats "count". */
static double
rs_feedback_count(int port)
{
	struct harness_response r;
	cJSON *j;
	double v = NAN;

	ck_assert_int_eq(harness_get(port, "/v1/feedback/stats", &r), 0);
	ck_assert_msg(r.status == 200, "stats: %ld %s", r.status, r.body);
	j = cJSON_Parse(r.body);
	if (cJSON_IsNumber(cJSON_GetObjectItem(j, "count")))
		v = cJSON_GetObjectItem(j, "count")->valuedouble;
	cJSON_Delete(j);
	harness_response_free(&r);
	return v;
}

/*
 * 16 clients post records as fast as they are answered (each answer waits for its group
 * commit, on the committer thread) while SIGTERM comes. The drain answers every request that
 * was in flight; every request answered 2xx is in the database, one row each, and no row is
 * there that was not acknowledged; the daemon exits 0.
 */
START_TEST(test_sigterm_drains_deferred_answers)
{
	struct rs_client c[RS_CLIENTS];
	pthread_t t[RS_CLIENTS];
	double sigterm_at = 0;
	long acked = 0, after = 0, rows = 0, missing = 0;
	char db_path[400];
	sqlite3 *db;
	int port, status, i;

	ck_assert_int_eq(harness_start_conf(&rs_srv, rs_feedback_conf), 0);
	port = harness_port(&rs_srv, "feedback");
	for (i = 0; i < RS_CLIENTS; i++) {
		c[i] = (struct rs_client){ .port = port, .id = 500 + i, .sigterm_at = &sigterm_at };
		c[i].ok = calloc(RS_MAX_REQUESTS, 1);
		ck_assert_int_eq(pthread_create(&t[i], NULL, rs_client_main, &c[i]), 0);
	}
	/* Requests acknowledged before the signal: the clients are under way. */
	for (i = 0; i < 500 && !(harness_scrape(port, "feedback_count_total{model=\"drain\"}") >
				 100);
	     i++)
		usleep(10 * 1000);
	*(volatile double *)&sigterm_at = clocks_monotonic();
	ck_assert_int_eq(harness_signal(&rs_srv, SIGTERM), 0);
	status = harness_wait(&rs_srv, 30000);
	for (i = 0; i < RS_CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(c[i].refused == 0, "client %d: %ld refusals (last %ld)", i,
			      c[i].refused, c[i].last_status);
		acked += c[i].acked;
		after += c[i].acked_after_signal;
	}
	if (status != 0)
		harness_print_log(&rs_srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);

	snprintf(db_path, sizeof(db_path), "%s/feedback.db", rs_srv.dir);
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (i = 0; i < RS_CLIENTS; i++)
		missing += rs_missing(db, &c[i], &rows);
	sqlite3_close(db);
	fprintf(stderr, "reload_state: %ld records acknowledged, %ld of them after SIGTERM; "
			"%ld rows stored\n",
		acked, after, rows);
	ck_assert_msg(missing == 0, "%ld acknowledged records are not in the store", missing);
	ck_assert_msg(rows == acked, "%ld rows stored, %ld acknowledged", rows, acked);
	/* Requests were deferred and in flight at the signal: the drain answered them. */
	ck_assert_msg(after > 0, "no request answered after SIGTERM (%ld before)", acked);

	/* The daemon on the same database counts them too. */
	unlink(rs_srv.log);
	ck_assert_int_eq(harness_start(&rs_srv, NULL), 0);
	ck_assert_double_eq(rs_feedback_count(harness_port(&rs_srv, "feedback")), (double)acked);
	ck_assert_int_eq(rs_stop(), 0);
	for (i = 0; i < RS_CLIENTS; i++)
		free(c[i].ok);
}
END_TEST

/* ---- b. state handed over across SIGHUP ---------------------------------------------------- */

static char rs_work[256];
static char rs_bundle[512];
static bool rs_have_bundle;
static char rs_skip_reason[512];

static void
rs_suite_setup(void)
{
	const char *args[] = { "--rounds", "20", "--max-depth", "4", "--name", "rul-reload-test",
			       "--version", "v1", NULL };

	snprintf(rs_work, sizeof(rs_work), "/tmp/rulsrv-test-reload-%d", (int)getpid());
	mkdir(rs_work, 0700);
	rs_have_bundle = harness_model_bundle(rs_work, args, rs_bundle, sizeof(rs_bundle),
					      rs_skip_reason, sizeof(rs_skip_reason)) == 0;
}

static void
rs_suite_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rs_work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_reload_state: cannot remove %s\n", rs_work);
}

/* The model, drift and feedback on the prediction service; feedback alone on its own. */
static int
rs_start_state(void)
{
	char conf[4096];

	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@PLUGINS@\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; }; };\n"
		 "  drift = { file = \"drift_psi.so\";\n"
		 "    settings = { window_size = 1000; min_observations = 5;"
		 " update_interval = 0.1; }; };\n"
		 "  feedback = { file = \"feedback.so\";\n"
		 "    settings = { database = \"@DIR@/feedback.db\"; window = 4; }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\";\n"
		 "    plugins = [\"model\", \"drift\", \"feedback\", \"prometheus\"]; };\n"
		 "  feedback = { listen = \"127.0.0.1:0\";\n"
		 "    plugins = [\"feedback\", \"prometheus\"]; };\n"
		 "};\n",
		 rs_bundle);
	ck_assert_int_eq(harness_start_conf(&rs_srv, conf), 0);
	return harness_port(&rs_srv, "prediction");
}

/* C-MAPSS-shaped rows of units first..first+n-1, 3 cycles each: one prediction per unit. */
static void
rs_predict_units(int port, int first, int n)
{
	char *body = malloc((size_t)n * 3 * 400 + 1);
	struct harness_response r;
	size_t used = 0;
	int u, cy, k;

	for (u = first; u < first + n; u++) {
		for (cy = 1; cy <= 3; cy++) {
			used += (size_t)sprintf(body + used, "%d %d", u, cy);
			for (k = 0; k < CMAPSS_N_INPUTS; k++)
				used += (size_t)sprintf(body + used, " %.4f",
							100.0 + k +
								0.01 * (double)((u * 3 + cy + k) % 7));
			used += (size_t)sprintf(body + used, "\n");
		}
	}
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", "text/plain", body, used, NULL,
				      &r),
			 0);
	ck_assert_msg(r.status == 200, "predict: %ld %s", r.status, r.body);
	harness_response_free(&r);
	free(body);
}

static cJSON *
rs_get_json(int port, const char *path)
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
rs_num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *
rs_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void
rs_post_ok(int port, const char *path, const char *json)
{
	struct harness_response r;

	ck_assert_int_eq(harness_post_json(port, path, json, &r), 0);
	ck_assert_msg(r.status == 200, "POST %s %s: %ld %s", path, json, r.status, r.body);
	harness_response_free(&r);
}

/* Drift before the reload: a labelled window (12 observations closed), the next one under
 * the label with 7 observations. Returns the current window's index. */
static double
rs_drift_before(int pred)
{
	cJSON *d;
	double index;

	rs_predict_units(pred, 1, 12);
	rs_post_ok(pred, "/v1/drift/window", "{\"label\": \"Q3 FD001\"}");
	rs_predict_units(pred, 20, 7);
	d = rs_get_json(pred, "/v1/drift");
	index = rs_num(d, "window", "index");
	ck_assert_double_eq(index, 2);
	ck_assert_str_eq(rs_str(d, "window", "label"), "Q3 FD001");
	ck_assert_double_eq(rs_num(d, "window", "observations"), 7);
	ck_assert_double_eq(rs_num(d, "last_window", "observations"), 12);
	cJSON_Delete(d);
	return index;
}

/* Drift after it: the window after the old one, under its label, observing from now on. */
static void
rs_drift_after(int pred, double index0)
{
	cJSON *d = rs_get_json(pred, "/v1/drift");

	ck_assert_msg(rs_num(d, "window", "index") == index0 + 1,
		      "drift window %g after the reload, %g before: the numbering started again",
		      rs_num(d, "window", "index"), index0);
	ck_assert_msg(strcmp(rs_str(d, "window", "label"), "Q3 FD001") == 0,
		      "drift label '%s' after the reload, 'Q3 FD001' before",
		      rs_str(d, "window", "label"));
	ck_assert_double_eq(rs_num(d, "window", "observations"), 0);
	cJSON_Delete(d);
	ck_assert_double_eq(harness_scrape(pred, "drift_window_info{label=\"Q3 FD001\"}"), 1);
	rs_predict_units(pred, 40, 3);
	d = rs_get_json(pred, "/v1/drift");
	ck_assert_double_eq(rs_num(d, "window", "observations"), 3);
	ck_assert_double_eq(rs_num(d, "window", "index"), index0 + 1);
	cJSON_Delete(d);
}

/* What the feedback service shows: stats count, all-time RMSE, window MAE, the counter. */
struct rs_accuracy {
	double count, rmse, mae, counted;
};

static struct rs_accuracy
rs_accuracy(int fb)
{
	cJSON *s = rs_get_json(fb, "/v1/feedback/stats");
	struct rs_accuracy a = {
		.count = rs_num(s, "count", NULL),
		.rmse = rs_num(s, "all_time", "rmse"),
		.mae = rs_num(s, "window", "mae"),
		.counted = harness_scrape(fb, "feedback_count_total{model=\"m\"}"),
	};

	cJSON_Delete(s);
	return a;
}

/*
 * What a reload must not lose, seen from outside: the drift window goes on from where it was
 * (the next index, the label set by POST /v1/drift/window), and the feedback accuracy (count,
 * RMSE, the window's MAE, the counter) reads the same after SIGHUP and moves on from there
 * with the next record, counted once.
 */
START_TEST(test_sighup_keeps_handed_over_state)
{
	struct rs_accuracy a0, a1;
	double index0;
	int pred, fb;

	if (!rs_have_bundle) {
		test_skip("no model bundle: %s", rs_skip_reason);
		return;
	}
	pred = rs_start_state();
	fb = harness_port(&rs_srv, "feedback");
	index0 = rs_drift_before(pred);
	/* errors 3, -2, 5, 1, 10; the window holds the last 4 */
	rs_post_ok(fb, "/v1/feedback",
		   "{\"records\": ["
		   "{\"unit\": 1, \"cycle\": 10, \"actual_rul\": 80, \"predicted_rul\": 83, "
		   "\"model\": \"m\"},"
		   "{\"unit\": 2, \"cycle\": 10, \"actual_rul\": 60, \"predicted_rul\": 58, "
		   "\"model\": \"m\"},"
		   "{\"unit\": 3, \"cycle\": 10, \"actual_rul\": 40, \"predicted_rul\": 45, "
		   "\"model\": \"m\"},"
		   "{\"unit\": 4, \"cycle\": 10, \"actual_rul\": 20, \"predicted_rul\": 21, "
		   "\"model\": \"m\"},"
		   "{\"unit\": 5, \"cycle\": 10, \"actual_rul\": 10, \"predicted_rul\": 20, "
		   "\"model\": \"m\"}]}");
	a0 = rs_accuracy(fb);
	ck_assert_double_eq(a0.count, 5);
	ck_assert_double_eq_tol(a0.rmse, sqrt((9 + 4 + 25 + 1 + 100) / 5.0), 1e-9);
	ck_assert_double_eq_tol(a0.mae, (2 + 5 + 1 + 10) / 4.0, 1e-9);
	ck_assert_double_eq(a0.counted, 5);

	rs_sighup(pred);

	rs_drift_after(pred, index0);
	a1 = rs_accuracy(fb);
	ck_assert_double_eq(a1.count, a0.count);
	ck_assert_double_eq_tol(a1.rmse, a0.rmse, 1e-12);
	ck_assert_double_eq_tol(a1.mae, a0.mae, 1e-12);
	ck_assert_double_eq(a1.counted, a0.counted);
	rs_post_ok(fb, "/v1/feedback",
		   "{\"unit\": 6, \"cycle\": 10, \"actual_rul\": 30, \"predicted_rul\": 30, "
		   "\"model\": \"m\"}");
	a1 = rs_accuracy(fb);
	ck_assert_double_eq(a1.count, a0.count + 1);
	ck_assert_double_eq_tol(a1.rmse, sqrt((9 + 4 + 25 + 1 + 100) / 6.0), 1e-9);
	ck_assert_double_eq_tol(a1.mae, (5 + 1 + 10 + 0) / 4.0, 1e-9);
	ck_assert_double_eq(a1.counted, a0.counted + 1);
	ck_assert_int_eq(rs_stop(), 0);
}
END_TEST

/* ---- c. timers after a reload -------------------------------------------------------------- */

#define RS_INTERVAL_MS 50
#define RS_LISTEN_MS 1500

static int
rs_udp_listen(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Drop what is queued on the socket. */
static void
rs_udp_drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/*
 * Pushes received within ms, or until `enough` of them came (0: no limit): datagrams holding
 * the line of `key`, a gauge every push sends once, however the push is split in datagrams.
 */
static int
rs_udp_pushes(int fd, int ms, const char *key, int enough)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double t0 = clocks_monotonic();
	static char buf[65537];
	int pushes = 0;

	while (enough == 0 || pushes < enough) {
		int left = ms - (int)((clocks_monotonic() - t0) * 1000);
		ssize_t n;
		const char *at;

		if (left <= 0 || poll(&p, 1, left) != 1)
			break;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (at = buf; (at = strstr(at, key)) != NULL; at++)
			if (at == buf || at[-1] == '\n')
				pushes++;
	}
	return pushes;
}

/*
 * The most pushes one timer can make in ms: the timer thread keeps a fixed rate and skips
 * what it missed (core/timers.c), so a busy machine makes fewer, never more; a second timer
 * of the instance would make about twice as many.
 */
static int
rs_pushes_max(int ms)
{
	return ms * 3 / (2 * RS_INTERVAL_MS) + 2;
}

/*
 * export_statsd pushes on a timer every 50 ms. After each SIGHUP the new instance's timer
 * pushes (the old one's stopped): pushes keep arriving, and no more of them than one timer
 * sends, as before the reload.
 */
START_TEST(test_timer_fires_once_after_reload)
{
	const char *key = "t.prediction.process_max_fds:"; /* a gauge: in every push */
	struct harness_response r;
	char conf[2048];
	int fd, udp, port, before, after, later, i;

	fd = rs_udp_listen(&udp);
	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@PLUGINS@\";\n"
		 "plugins = {\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "  statsd = { file = \"export_statsd.so\";\n"
		 "    settings = { port = %d; interval_ms = %d; prefix = \"t\"; }; };\n"
		 "};\n"
		 "services = { prediction = { listen = \"127.0.0.1:0\";\n"
		 "  plugins = [\"prometheus\", \"statsd\"]; }; };\n",
		 udp, RS_INTERVAL_MS);
	ck_assert_int_eq(harness_start_conf(&rs_srv, conf), 0);
	port = harness_port(&rs_srv, "prediction");
	ck_assert_int_eq(harness_get(port, "/healthz", &r), 0);
	harness_response_free(&r);

	rs_udp_drain(fd);
	before = rs_udp_pushes(fd, RS_LISTEN_MS, key, 0);
	ck_assert_msg(before >= 1 && before <= rs_pushes_max(RS_LISTEN_MS),
		      "%d pushes in %d ms at one per %d ms before any reload", before,
		      RS_LISTEN_MS, RS_INTERVAL_MS);
	for (i = 0; i < 3; i++) {
		rs_sighup(port);
		rs_udp_drain(fd);
		after = rs_udp_pushes(fd, RS_LISTEN_MS, key, 0);
		fprintf(stderr, "reload_state: %d statsd pushes in %d ms before the reload, %d "
				"after reload %d\n",
			before, RS_LISTEN_MS, after, i + 1);
		ck_assert_msg(after <= rs_pushes_max(RS_LISTEN_MS),
			      "reload %d: %d pushes in %d ms at one per %d ms (%d before): more "
			      "than one timer",
			      i + 1, after, RS_LISTEN_MS, RS_INTERVAL_MS, before);
		/* Still firing: 3 more pushes come (however slowly the machine runs). */
		later = rs_udp_pushes(fd, 20000, key, 3);
		ck_assert_msg(later == 3, "reload %d: %d pushes in 20 s: the timer stopped", i + 1,
			      after + later);
	}
	ck_assert_int_eq(rs_stop(), 0);
	close(fd);
}
END_TEST

Suite *
reload_state_suite(void)
{
	Suite *s = suite_create("reload_state");
	TCase *tc = tcase_create("daemon");

	tcase_add_unchecked_fixture(tc, rs_suite_setup, rs_suite_teardown);
	tcase_add_checked_fixture(tc, rs_setup, rs_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_sigterm_drains_deferred_answers);
	tcase_add_test(tc, test_sighup_keeps_handed_over_state);
	tcase_add_test(tc, test_timer_fires_once_after_reload);
	suite_add_tcase(s, tc);
	return s;
}
