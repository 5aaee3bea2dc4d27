/* SPDX-License-Identifier: MIT */
/* test_predlog_crash.c - predictions acknowledged just before a SIGKILL are in the prediction
 * log after the restart and scored by a later failure event (log_before_answer). */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "clocks.h"

#include "harness/harness.h"
#include "harness/pg_server.h"
#include "need.h"

Suite *predlog_crash_suite(void);

/*
 * The default topology of one host: the model in fleet mode and the feedback plugin's
 * prediction log in the prediction service, the feedback service beside it, one store (%s:
 * the store settings, the same for the fleet and the feedback plugin). Clients stream cycles
 * to /v1/cycles (one engine each) and windows to /v1/predict while the daemon is SIGKILLed;
 * after the restart every prediction they saw answered 200 must be in the log: a failure
 * event of the engine scores each of them, once.
 */
static const char pc_conf_fmt[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true; %s }; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { %s %s }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\", \"feedback\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; };\n"
	"};\n";

#define PC_STREAMS 3      /* clients of /v1/cycles, units 101.. */
#define PC_WINDOWS 1      /* clients of /v1/predict, units 201.. */
#define PC_CLIENTS (PC_STREAMS + PC_WINDOWS)
#define PC_KILL_AT_MS 1500 /* the SIGKILL: three lingers of the log in (predlog.c) */
#define PC_AT_LEAST 100   /* predictions acknowledged by then */

static struct harness_server srv;
static struct pg_server pg;

struct pc_client {
	int port;
	long unit;
	bool window;        /* /v1/predict instead of /v1/cycles */
	atomic_long acked;  /* cycles 1..acked answered 200, in order */
	atomic_long flying; /* the cycle sent and not answered yet, 0: none */
	atomic_bool stop;
	long status;        /* the last non-200 answer, 0: none */
};

/* One cycle of unit u at c: C-MAPSS-like numbers that move a little from cycle to cycle. */
static int
pc_cycle(char *buf, size_t len, long c)
{
	return snprintf(buf, len,
			"\"cycle\": %ld, \"settings\": [-0.0007, -0.0004, 100.0], \"sensors\":"
			" [518.67, %.3f, %.2f, 1400.60, 14.62, 21.61, %.2f, 2388.06, 9046.19,"
			" 1.30, 47.47, 521.66, 2388.02, 8138.62, 8.4195, 0.03, 392, 2388,"
			" 100.00, 39.06, 23.4190]",
			c, 641.82 + 0.002 * (double)c, 1589.70 + 0.01 * (double)c,
			554.36 - 0.003 * (double)c);
}

/* POST cycle c of the client's engine; the status, or -1 on a transport error. */
static long
pc_send(const struct pc_client *cl, long c)
{
	struct harness_response r;
	char cyc[600], body[800];
	long status;

	pc_cycle(cyc, sizeof(cyc), c);
	if (cl->window)
		snprintf(body, sizeof(body), "{\"unit\": %ld, \"cycles\": [{%s}]}", cl->unit, cyc);
	else
		snprintf(body, sizeof(body), "{\"unit\": %ld, %s}", cl->unit, cyc);
	if (harness_post_json(cl->port, cl->window ? "/v1/predict" : "/v1/cycles", body, &r) < 0)
		return -1;
	status = r.status;
	harness_response_free(&r);
	return status;
}

static void *
pc_client_main(void *arg)
{
	struct pc_client *cl = arg;
	long c, status;

	for (c = 1; !atomic_load(&cl->stop); c++) {
		atomic_store(&cl->flying, c);
		status = pc_send(cl, c);
		if (status < 0)
			break; /* the daemon is gone: c stays in flight */
		atomic_store(&cl->flying, 0);
		if (status != 200) {
			cl->status = status;
			break;
		}
		atomic_store(&cl->acked, c);
	}
	return NULL;
}

/* POST a failure event of unit at failed_at; the number of predictions it scored. */
static long
pc_failure(int port, long unit, long failed_at)
{
	struct harness_response r;
	char body[96];
	const char *at;
	long scored = -1;

	snprintf(body, sizeof(body), "{\"unit\": %ld, \"failed_at_cycle\": %ld}", unit, failed_at);
	ck_assert_int_eq(harness_post_json(port, "/v1/feedback", body, &r), 0);
	ck_assert_msg(r.status == 200, "failure event of unit %ld: %ld %s", unit, r.status, r.body);
	at = strstr(r.body, "\"scored\":");
	if (at != NULL)
		scored = strtol(at + 9, NULL, 10);
	harness_response_free(&r);
	return scored;
}

/* The feedback plugin's log_before_answer setting for mode ("cycles", "all", "none"; NULL:
 * the default, not written). */
static const char *
pc_mode(const char *mode, char *buf, size_t len)
{
	if (mode == NULL)
		return "";
	snprintf(buf, len, "log_before_answer = \"%s\";", mode);
	return buf;
}

/*
 * Stream, SIGKILL the daemon PC_KILL_AT_MS in, restart it on the same store. mode:
 * log_before_answer (NULL: the default). store: the store settings of both plugins. c[] gets
 * what each client saw.
 */
static void
pc_crash(const char *store, const char *mode, struct pc_client *c)
{
	char conf[4096], set[64];
	pthread_t t[PC_CLIENTS];
	long sum = 0;
	int i, port;

	snprintf(conf, sizeof(conf), pc_conf_fmt, store, store, pc_mode(mode, set, sizeof(set)));
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	port = harness_port(&srv, "prediction");
	for (i = 0; i < PC_CLIENTS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].port = port;
		c[i].window = i >= PC_STREAMS;
		c[i].unit = c[i].window ? 201 + (i - PC_STREAMS) : 101 + i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, pc_client_main, &c[i]), 0);
	}
	usleep(PC_KILL_AT_MS * 1000);
	harness_signal(&srv, SIGKILL);
	for (i = 0; i < PC_CLIENTS; i++) {
		atomic_store(&c[i].stop, true);
		pthread_join(t[i], NULL);
		sum += atomic_load(&c[i].acked);
	}
	ck_assert_int_eq(harness_wait(&srv, 5000), 128 + SIGKILL);
	for (i = 0; i < PC_CLIENTS; i++) {
		fprintf(stderr, "predlog crash (%s, log_before_answer = %s): unit %ld acked %ld, "
			"in flight %ld\n", strstr(store, "postgresql") ? "postgresql" : "sqlite",
			mode ? mode : "(default)", c[i].unit, atomic_load(&c[i].acked),
			atomic_load(&c[i].flying));
		ck_assert_msg(c[i].status == 0, "unit %ld: answered %ld before the kill", c[i].unit,
			      c[i].status);
	}
	ck_assert_int_ge(sum, PC_AT_LEAST);
	unlink(srv.log);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	for (i = 0; i < PC_CLIENTS; i++)
		c[i].port = harness_port(&srv, "prediction");
}

/*
 * log_before_answer "all": every acknowledged prediction is in the log; by default ("cycles",
 * mode NULL) every acknowledged prediction of a cycle, while a window's may be lost but are
 * never scored twice. First each stream sends its
 * last cycle again, twice, as a client retrying after the kill would: the one in flight at
 * the kill (new, or an exact repeat of a cycle stored but not answered), else the last one
 * answered; the second time an exact repeat in any case, answered again and logged only
 * where the log lacks it. Then each engine's failure event scores exactly cycles 1 to that
 * last one: none lost, none twice.
 */
static void
pc_acknowledged_are_scored(const char *store, const char *mode)
{
	struct pc_client c[PC_CLIENTS];
	bool windows_held = mode != NULL && strcmp(mode, "all") == 0;
	int i, fb;

	pc_crash(store, mode, c);
	fb = harness_port(&srv, "feedback");
	for (i = 0; i < PC_CLIENTS; i++) {
		long acked = atomic_load(&c[i].acked), flying = atomic_load(&c[i].flying);
		long last = flying > 0 ? flying : acked;

		if (!c[i].window) {
			/* the first: new, or a repeat of a cycle stored before the kill; the
			 * second a repeat whatever happened */
			ck_assert_int_eq(pc_send(&c[i], last), 200);
			ck_assert_int_eq(pc_send(&c[i], last), 200);
			ck_assert_int_eq(pc_failure(fb, c[i].unit, 100000), last);
		} else {
			/* a window's retry is a prediction of its own: not sent again here */
			long scored = pc_failure(fb, c[i].unit, 100000);

			ck_assert_msg((scored >= acked || !windows_held) && scored <= acked + (flying > 0),
				      "unit %ld (/v1/predict): %ld scored, %ld acknowledged, %ld in "
				      "flight", c[i].unit, scored, acked, flying);
		}
	}
}

/* log_before_answer = "none", the log behind the answer: what the killed process answered in
 * its last moments (its queue, up to half a second of predictions and the write under way) is
 * not in the log. */
static void
pc_acknowledged_are_lost_without(const char *store)
{
	struct pc_client c[PC_CLIENTS];
	long acked = 0, scored = 0;
	int i, fb;

	pc_crash(store, "none", c);
	fb = harness_port(&srv, "feedback");
	for (i = 0; i < PC_CLIENTS; i++) {
		acked += atomic_load(&c[i].acked);
		scored += pc_failure(fb, c[i].unit, 100000);
	}
	fprintf(stderr, "predlog crash, log_before_answer = none: %ld acknowledged, %ld scored\n",
		acked, scored);
	ck_assert_msg(scored < acked, "%ld acknowledged and %ld scored: none lost without "
		      "log_before_answer?", acked, scored);
}

static void
pc_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&srv, 0, sizeof(srv));
}

static void
pc_teardown(void)
{
	int status = srv.pid > 0 ? harness_stop(&srv) : 0;

	if (status != 0)
		harness_print_log(&srv);
	harness_cleanup(&srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);
}

static const char pc_sqlite[] = "database = \"@DIR@/rulsrv.db\";";

START_TEST(predlog_sqlite_acknowledged_are_scored)
{
	pc_acknowledged_are_scored(pc_sqlite, "all");
}
END_TEST

START_TEST(predlog_sqlite_default_holds_the_cycles)
{
	pc_acknowledged_are_scored(pc_sqlite, NULL);
}
END_TEST

START_TEST(predlog_sqlite_lost_without_log_before_answer)
{
	pc_acknowledged_are_lost_without(pc_sqlite);
}
END_TEST

static char pc_pg[700];

static void
pc_pg_setup(void)
{
	char why[1024];

	pc_setup();
	memset(&pg, 0, sizeof(pg));
	ck_assert_msg(pg_server_start(&pg, "predlog", why, sizeof(why)) == 0, "%s", why);
	snprintf(pc_pg, sizeof(pc_pg), "store = \"postgresql\"; dsn = \"%s\";", pg.dsn);
}

static void
pc_pg_teardown(void)
{
	pc_teardown();
	pg_server_cleanup(&pg);
}

START_TEST(predlog_pg_acknowledged_are_scored)
{
	pc_acknowledged_are_scored(pc_pg, "all");
}
END_TEST

START_TEST(predlog_pg_lost_without_log_before_answer)
{
	pc_acknowledged_are_lost_without(pc_pg);
}
END_TEST

/*
 * The database down: an answer that waits for the log does not wait for the database's
 * return. /v1/predict answers 503 store_failed with Retry-After within the store's timeout
 * (store_timeout_ms, 2 s by default) and a retry; once the database is back, 200 again, and
 * the prediction of the 503 is logged all the same (it stayed queued).
 */
START_TEST(predlog_pg_database_down_is_503_in_time)
{
	struct pc_client cl = { .unit = 301, .window = true };
	struct harness_response r;
	char conf[4096], why[1024], cyc[600], body[800];
	double t0, took;
	long status = 0;
	int fb, i;

	snprintf(conf, sizeof(conf), pc_conf_fmt, pc_pg, pc_pg, "log_before_answer = \"all\";");
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	cl.port = harness_port(&srv, "prediction");
	fb = harness_port(&srv, "feedback");
	ck_assert_int_eq(pc_send(&cl, 1), 200);
	ck_assert_int_eq(pg_server_stop(&pg, true), 0);
	pc_cycle(cyc, sizeof(cyc), 2);
	snprintf(body, sizeof(body), "{\"unit\": 301, \"cycles\": [{%s}]}", cyc);
	t0 = clocks_monotonic();
	ck_assert_int_eq(harness_post_json(cl.port, "/v1/predict", body, &r), 0);
	took = clocks_monotonic() - t0;
	fprintf(stderr, "predlog, database down: %ld in %.2f s\n", r.status, took);
	ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "store_failed"));
	ck_assert_ptr_nonnull(strcasestr(r.headers, "Retry-After:"));
	ck_assert_double_le(took, 4.0);
	harness_response_free(&r);
	ck_assert_msg(pg_server_restart(&pg, why, sizeof(why)) == 0, "%s", why);
	for (i = 0; i < 100 && status != 200; i++) {
		status = pc_send(&cl, 3);
		if (status != 200)
			usleep(100000);
	}
	ck_assert_int_eq(status, 200);
	/* cycle 1, cycle 2 (answered 503, still queued) and every try of cycle 3 (each one a
	 * prediction of its own, the 503 ones kept queued as well) */
	ck_assert_int_eq(pc_failure(fb, 301, 100000), 2 + i);
}
END_TEST

Suite *
predlog_crash_suite(void)
{
	Suite *s = suite_create("predlog_crash");
	TCase *tc = tcase_create("sqlite");
	TCase *tp = tcase_create("postgresql");

	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, pc_setup, pc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, predlog_sqlite_acknowledged_are_scored);
	tcase_add_test(tc, predlog_sqlite_default_holds_the_cycles);
	tcase_add_test(tc, predlog_sqlite_lost_without_log_before_answer);
	suite_add_tcase(s, tc);
	tcase_needs(tp, "postgresql");
	tcase_add_checked_fixture(tp, pc_pg_setup, pc_pg_teardown);
	tcase_set_timeout(tp, 180);
	tcase_add_test(tp, predlog_pg_acknowledged_are_scored);
	tcase_add_test(tp, predlog_pg_lost_without_log_before_answer);
	tcase_add_test(tp, predlog_pg_database_down_is_503_in_time);
	suite_add_tcase(s, tp);
	return s;
}
