/* SPDX-License-Identifier: MIT */
/* test_feedback.c - the feedback service end to end: records, matching, back-fill, crashes. */
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
#include <sqlite3.h>

#include "clocks.h"
#include "harness/harness.h"
#include "need.h"

/*
 * Two services as in the default rulsrv.conf: the same feedback instance in both, one
 * database. The prediction service's "model" is the feedback_source fixture, which notifies
 * the observers of whatever is posted to /test/predictions. The feedback service has 2
 * worker threads, the core's default on a 2-core machine: answers come after the commit
 * without holding one.
 */
static const char fi_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  source = { file = \"@BUILD@/tests/fixtures/feedback_source.so\"; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { database = \"@DIR@/feedback.db\"; window = 5; max_batch = 50;\n"
	"                 max_models = 4; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\";\n"
	"    plugins = [\"source\", \"feedback\", \"prometheus\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; threads = 2;\n"
	"    plugins = [\"feedback\", \"prometheus\"]; };\n"
	"};\n";

static struct harness_server fi_srv;
static int fi_fb;   /* feedback port */
static int fi_pred; /* prediction port */

/* harness_start returns once the daemon said ready, after every service logged its port. */
static void
fi_ports(void)
{
	fi_fb = harness_port(&fi_srv, "feedback");
	fi_pred = harness_port(&fi_srv, "prediction");
}

static void
fi_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(harness_start_conf(&fi_srv, fi_conf), 0);
	fi_ports();
	ck_assert_int_gt(fi_fb, 0);
}

/* Every test ends with a clean SIGTERM exit (0): stores flushed, and under the sanitizers
 * no leak or error reported at exit. */
static void
fi_teardown(void)
{
	int status = fi_srv.pid > 0 ? harness_stop(&fi_srv) : 0;

	if (status != 0)
		harness_print_log(&fi_srv);
	harness_cleanup(&fi_srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);
}

/* For tests that start the daemon themselves: teardown still stops it if they fail. */
static void
fi_setup_empty(void)
{
	memset(&fi_srv, 0, sizeof(fi_srv));
}

/* Restart on the same directory (and database); the old log goes, so the ports are new. */
static void
fi_restart(bool kill_it)
{
	if (kill_it) {
		harness_signal(&fi_srv, SIGKILL);
		ck_assert_int_eq(harness_wait(&fi_srv, 5000), 128 + SIGKILL);
	} else {
		ck_assert_int_eq(harness_stop(&fi_srv), 0);
	}
	unlink(fi_srv.log);
	ck_assert_int_eq(harness_start(&fi_srv, NULL), 0);
	fi_ports();
}

static long
fi_post(const char *json, char *body, size_t body_len)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_post_json(fi_fb, "/v1/feedback", json, &r), 0);
	status = r.status;
	if (body != NULL)
		snprintf(body, body_len, "%s", r.body);
	harness_response_free(&r);
	return status;
}

static void
fi_post_ok(const char *json, const char *expected)
{
	char body[512];
	long status = fi_post(json, body, sizeof(body));

	ck_assert_msg(status == 200, "POST %s: %ld %s", json, status, body);
	ck_assert_msg(strcmp(body, expected) == 0, "POST %s: got %s, expected %s", json, body,
		      expected);
}

/* A number out of GET /v1/feedback/stats by a dotted path of object keys. */
static double
fi_stat(const char *path)
{
	struct harness_response r;
	char key[64], *p;
	const char *at;
	double v = NAN;

	ck_assert_int_eq(harness_get(fi_fb, "/v1/feedback/stats", &r), 0);
	ck_assert_int_eq(r.status, 200);
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

/* How many predictions of unit are in the log, as the feedback service reads the store. */
static size_t
fi_logged(int unit)
{
	struct harness_response r;
	char path[64];
	const char *p;
	size_t n = 0;

	snprintf(path, sizeof(path), "/v1/feedback/predictions?unit=%d", unit);
	if (harness_get(fi_fb, path, &r) < 0)
		return 0;
	for (p = r.body; r.status == 200 && (p = strstr(p, "\"cycle\":")) != NULL; p++)
		n++;
	harness_response_free(&r);
	return n;
}

/* lines: "unit cycle rul" of one unit, predicted through the fixture model at `made`
 * (seconds since the epoch; 0: now). */
static void
fi_log_predictions_at(const char *lines, int unit, size_t expect_logged, double made)
{
	struct harness_response r;
	size_t logged = 0;
	char path[96];
	int i;

	if (made > 0)
		snprintf(path, sizeof(path), "/test/predictions?timestamp=%.3f", made);
	else
		snprintf(path, sizeof(path), "/test/predictions");
	ck_assert_int_eq(harness_http(fi_pred, "POST", path, "text/plain", lines, strlen(lines),
				      NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	/* the log is written off the request path: wait for it */
	for (i = 0; i < 500; i++) {
		logged = fi_logged(unit);
		if (logged >= expect_logged)
			return;
		usleep(20000);
	}
	ck_abort_msg("prediction log holds %zu entries of unit %d, expected %zu", logged, unit,
		     expect_logged);
}

static void
fi_log_predictions(const char *lines, int unit, size_t expect_logged)
{
	fi_log_predictions_at(lines, unit, expect_logged, 0);
}

START_TEST(feedback_accepts_each_form_of_record)
{
	fi_post_ok("{\"unit\": 7, \"cycle\": 112, \"actual_rul\": 80, \"predicted_rul\": 83.2, "
		   "\"model\": \"m\"}",
		   "{\"accepted\":1,\"scored\":1}");
	fi_post_ok("{\"records\": [{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 10, "
		   "\"predicted_rul\": 12, \"model\": \"m\"},"
		   "{\"unit\": 2, \"cycle\": 1, \"actual_rul\": 300, \"predicted_rul\": 120, "
		   "\"model\": \"m\"}]}",
		   "{\"accepted\":2,\"scored\":2}");
	/* a failure event with nothing logged for the unit is accepted and scores nothing */
	fi_post_ok("{\"unit\": 55, \"failed_at_cycle\": 200}", "{\"accepted\":1,\"scored\":0}");
	ck_assert_double_eq(fi_stat("count"), 3);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_count_total{model=\"m\"}"), 3);
	/* errors 3.2, 2 and -5 (truth capped at 125) */
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "feedback_squared_error_sum_total{model=\"m\"}"),
				3.2 * 3.2 + 4 + 25, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "feedback_abs_error_sum_total{model=\"m\"}"),
				10.2, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_mae{model=\"m\"}"), 3.4, 1e-9);
	ck_assert_double_eq_tol(fi_stat("all_time.rmse"), sqrt((3.2 * 3.2 + 4 + 25) / 3), 1e-9);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_residual_cycles_count{model=\"m\"}"), 3);
}
END_TEST

START_TEST(feedback_routes_only_where_no_model_is)
{
	struct harness_response r;

	ck_assert_int_eq(harness_post_json(fi_pred, "/v1/feedback", "{}", &r), 0);
	ck_assert_int_eq(r.status, 404);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(fi_fb, "/v1/feedback/stats", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert(isnan(harness_scrape(fi_fb, "feedback_prediction_log_written_total")));
}
END_TEST

START_TEST(feedback_matches_the_logged_prediction)
{
	char body[512];
	long status;

	fi_log_predictions("7 1 100\n7 2 99\n7 3 98.5\n", 7, 3);
	ck_assert_double_eq(harness_scrape(fi_pred, "feedback_prediction_log_written_total"), 3);
	fi_post_ok("{\"unit\": 7, \"cycle\": 3, \"actual_rul\": 90}",
		   "{\"accepted\":1,\"scored\":1}");
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_rmse{model=\"fixture-model\"}"), 8.5,
				1e-9);
	status = fi_post("{\"records\": [{\"unit\": 7, \"cycle\": 2, \"actual_rul\": 90},"
			 "{\"unit\": 7, \"cycle\": 99, \"actual_rul\": 1}]}",
			 body, sizeof(body));
	ck_assert_int_eq(status, 422);
	ck_assert_msg(strstr(body, "records[1]: no logged prediction of unit 7 at cycle 99") != NULL,
		      "body: %s", body);
	ck_assert_msg(strstr(body, "\"code\":\"no_prediction\"") != NULL, "body: %s", body);
	/* all or nothing: the good first record was not stored either */
	ck_assert_double_eq(fi_stat("count"), 1);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_errors_total{reason=\"no_prediction\"}"),
			    1);
}
END_TEST

START_TEST(feedback_failure_backfills_the_unit)
{
	fi_log_predictions("3 1 60\n3 2 50\n3 3 40\n4 1 10\n", 4, 1);
	ck_assert_uint_eq(fi_logged(3), 3);
	fi_post_ok("{\"unit\": 3, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":3}");
	fi_post_ok("{\"unit\": 3, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	ck_assert_double_eq(fi_stat("models.fixture-model.count"), 3);
	/* residuals 60-39, 50-38, 40-37 */
	ck_assert_double_eq_tol(fi_stat("window.mae"), (21 + 12 + 3) / 3.0, 1e-9);
	ck_assert_double_eq_tol(fi_stat("window.nasa_score"),
				expm1(2.1) + expm1(1.2) + expm1(0.3), 1e-9);
}
END_TEST

/*
 * The prediction log is written after the answer, so a failure event sent right after the
 * last prediction can reach the store first. Here the predictions are made (timestamp)
 * before the event and logged after it: they are scored when logged, once, and counted in
 * the metrics and the stats like the ones an event scores; a restart keeps them.
 */
START_TEST(feedback_prediction_logged_after_its_failure_is_scored)
{
	const char *count = "feedback_count_total{model=\"fixture-model\"}";
	double made = clocks_realtime() - 5;
	int i;

	fi_post_ok("{\"unit\": 21, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	fi_log_predictions_at("21 1 60\n21 2 50\n21 3 40\n", 21, 3, made);
	/* the stats see the store's count and catch up on the window at once */
	ck_assert_double_eq(fi_stat("count"), 3);
	ck_assert_double_eq(fi_stat("window.count"), 3);
	/* residuals 60-39, 50-38, 40-37 */
	ck_assert_double_eq_tol(fi_stat("window.mae"), (21 + 12 + 3) / 3.0, 1e-9);
	ck_assert_double_eq_tol(fi_stat("models.fixture-model.all_time.mae"), 12, 1e-9);
	ck_assert_double_eq(harness_scrape(fi_fb, count), 3);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "feedback_abs_error_sum_total"
					       "{model=\"fixture-model\"}"), 36, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_mae{model=\"fixture-model\"}"), 12,
				1e-9);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_residual_cycles_count"
					   "{model=\"fixture-model\"}"), 3);
	/* scored: the event again scores nothing */
	fi_post_ok("{\"unit\": 21, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	/* a prediction made now, after the event (the unit number used again): not scored */
	fi_log_predictions("21 4 30\n", 21, 4);
	usleep(1200 * 1000); /* a look of the late thread */
	ck_assert_double_eq(harness_scrape(fi_fb, count), 3);
	ck_assert_double_eq(fi_stat("count"), 3);
	/* without a stats request in between, the metrics catch up within a second or so */
	fi_log_predictions_at("21 5 20\n", 21, 5, made);
	for (i = 0; i < 300 && harness_scrape(fi_fb, count) < 4; i++)
		usleep(10000);
	ck_assert_double_eq(harness_scrape(fi_fb, count), 4);
	ck_assert_double_eq(fi_stat("count"), 4);
	ck_assert_double_eq(fi_stat("window.count"), 4);
	/* a restart restores the window and counts nothing twice */
	fi_restart(false);
	ck_assert_double_eq(fi_stat("count"), 4);
	ck_assert_double_eq(fi_stat("window.count"), 4);
	ck_assert_double_eq_tol(fi_stat("window.mae"), (21 + 12 + 3 + 15) / 4.0, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_mae{model=\"fixture-model\"}"),
				(21 + 12 + 3 + 15) / 4.0, 1e-9);
	usleep(1200 * 1000);
	ck_assert_msg(!(harness_scrape(fi_fb, count) > 0), "counted again after the restart: %g",
		      harness_scrape(fi_fb, count));
}
END_TEST

/* After a reload (new instances beside the old, the same metric registry), predictions the
 * log scores are counted once, and the new instance's window has them. */
START_TEST(feedback_late_scoring_after_reload_counts_once)
{
	const char *count = "feedback_count_total{model=\"fixture-model\"}";
	const char *ts = "rulsrv_config_last_reload_success_timestamp_seconds";
	double made = clocks_realtime() - 5, before;
	int i;

	fi_post_ok("{\"unit\": 24, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":0}");
	fi_log_predictions_at("24 1 60\n", 24, 1, made);
	for (i = 0; i < 300 && harness_scrape(fi_fb, count) < 1; i++)
		usleep(10000);
	before = harness_scrape(fi_fb, ts);
	ck_assert_int_eq(harness_signal(&fi_srv, SIGHUP), 0);
	for (i = 0; i < 500 && !(harness_scrape(fi_fb, ts) > before); i++)
		usleep(10000);
	ck_assert_msg(harness_scrape(fi_fb, ts) > before, "no reload");
	fi_log_predictions_at("24 2 50\n24 3 40\n", 24, 3, made);
	ck_assert_double_eq(fi_stat("count"), 3);
	ck_assert_double_eq(fi_stat("window.count"), 3);
	ck_assert_double_eq_tol(fi_stat("window.mae"), (21 + 12 + 3) / 3.0, 1e-9);
	usleep(1200 * 1000); /* every late thread had a look */
	ck_assert_double_eq(harness_scrape(fi_fb, count), 3);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_residual_cycles_count"
					   "{model=\"fixture-model\"}"), 3);
}
END_TEST

/* A record posted with its own predicted_rul stands for the logged prediction of (unit,
 * cycle): a failure event afterwards scores the others only. */
START_TEST(feedback_posted_record_marks_the_logged_prediction)
{
	fi_log_predictions("22 1 60\n22 2 50\n22 3 40\n", 22, 3);
	fi_post_ok("{\"unit\": 22, \"cycle\": 2, \"actual_rul\": 38, \"predicted_rul\": 48}",
		   "{\"accepted\":1,\"scored\":1}");
	fi_post_ok("{\"unit\": 22, \"failed_at_cycle\": 40}", "{\"accepted\":1,\"scored\":2}");
	ck_assert_double_eq(fi_stat("count"), 3);
	ck_assert_double_eq(fi_stat("models.fixture-model.count"), 3);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_count_total{model=\"fixture-model\"}"),
			    3);
	/* residuals 21, 10 (posted), 3 */
	ck_assert_double_eq_tol(fi_stat("window.mae"), (21 + 10 + 3) / 3.0, 1e-9);
}
END_TEST

START_TEST(feedback_bad_input_changes_nothing)
{
	static const struct {
		const char *body;
		long status;
		const char *needle;
	} cases[] = {
		{ "{\"unit\": 7, ", 400, "\"code\":\"malformed_json\"" },
		{ "{\"unit\": 7, \"cycle\": 1}", 422, "actual_rul: required" },
		{ "{\"records\": [{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 1, \"predicted_rul\": 1},"
		  "{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 1, \"predicted_rul\": 1e400}]}",
		  422, "records[1].predicted_rul: expected a finite number" },
		{ "{\"unit\": -1, \"cycle\": 1, \"actual_rul\": 1, \"predicted_rul\": 1}", 422,
		  "unit: expected a non-negative integer" },
	};
	struct harness_response r;
	char body[512], big[8192];
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long status = fi_post(cases[i].body, body, sizeof(body));

		ck_assert_msg(status == cases[i].status, "%s: %ld %s", cases[i].body, status, body);
		ck_assert_msg(strstr(body, cases[i].needle) != NULL, "%s: %s", cases[i].body, body);
	}
	ck_assert_int_eq(harness_http(fi_fb, "POST", "/v1/feedback", "text/plain", "1 2 3", 5,
				      NULL, &r), 0);
	ck_assert_int_eq(r.status, 415);
	harness_response_free(&r);
	len = (size_t)snprintf(big, sizeof(big), "{\"records\": [");
	for (i = 0; i < 51; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
					"%s{\"unit\": 1, \"failed_at_cycle\": 3}", i ? "," : "");
	snprintf(big + len, sizeof(big) - len, "]}");
	ck_assert_int_eq(fi_post(big, body, sizeof(body)), 413);
	ck_assert_msg(strstr(body, "at most 50 records") != NULL, "%s", body);

	/* max_models = 4: a request naming a fifth model is refused as a whole */
	ck_assert_int_eq(fi_post("{\"records\": [{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"a\"},"
				 "{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"b\"},"
				 "{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"c\"},"
				 "{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"a\"},"
				 "{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"d\"},"
				 "{\"unit\": 1, \"failed_at_cycle\": 3, \"model\": \"e\"}]}",
				 body, sizeof(body)),
			 422);
	ck_assert_msg(strstr(body, "'e' would be one model more than the 4 tracked") != NULL, "%s",
		      body);

	ck_assert_double_eq(fi_stat("count"), 0);
	ck_assert(isnan(harness_scrape(fi_fb, "feedback_count_total{model=\"unknown\"}")));
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_errors_total{reason=\"invalid\"}"), 3);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_errors_total{reason=\"malformed_json\"}"), 1);
	ck_assert_double_eq(
		harness_scrape(fi_fb, "feedback_errors_total{reason=\"unsupported_media_type\"}"), 1);
	ck_assert_double_eq(
		harness_scrape(fi_fb, "feedback_errors_total{reason=\"too_many_models\"}"), 1);
}
END_TEST

START_TEST(feedback_restart_restores_the_window)
{
	char json[256];
	double rmse, mae, nasa;
	int i;

	/* window = 5: the first five (error 50) fall out, the last five have errors 1..5 */
	for (i = 0; i < 10; i++) {
		snprintf(json, sizeof(json),
			 "{\"unit\": %d, \"cycle\": 1, \"actual_rul\": 20, \"predicted_rul\": %d, "
			 "\"model\": \"m\"}",
			 i, i < 5 ? 70 : 20 + i - 4);
		fi_post_ok(json, "{\"accepted\":1,\"scored\":1}");
	}
	rmse = sqrt((1 + 4 + 9 + 16 + 25) / 5.0);
	mae = 3;
	nasa = expm1(0.1) + expm1(0.2) + expm1(0.3) + expm1(0.4) + expm1(0.5);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_rmse{model=\"m\"}"), rmse, 1e-9);
	fi_restart(false);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_rmse{model=\"m\"}"), rmse, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_mae{model=\"m\"}"), mae, 1e-9);
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_nasa_score{model=\"m\"}"), nasa, 1e-9);
	ck_assert_double_eq(fi_stat("count"), 10);
	ck_assert_double_eq(fi_stat("window.count"), 5);
	ck_assert_double_eq_tol(fi_stat("window.rmse"), rmse, 1e-9);
	/* the prediction log and the matching survive too */
	fi_log_predictions("9 1 30\n", 9, 1);
	fi_restart(false);
	fi_post_ok("{\"unit\": 9, \"cycle\": 1, \"actual_rul\": 29}", "{\"accepted\":1,\"scored\":1}");
}
END_TEST

/* A reload builds new instances beside the old ones: nothing is lost, counters go on. */
START_TEST(feedback_survives_reload)
{
	const char *ts = "rulsrv_config_last_reload_success_timestamp_seconds";
	double before;
	char json[256];
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(json, sizeof(json),
			 "{\"unit\": %d, \"cycle\": 1, \"actual_rul\": 20, \"predicted_rul\": %d, "
			 "\"model\": \"m\"}",
			 i, 20 + i);
		fi_post_ok(json, "{\"accepted\":1,\"scored\":1}");
		if (i == 2) {
			before = harness_scrape(fi_fb, ts);
			ck_assert_int_eq(harness_signal(&fi_srv, SIGHUP), 0);
			for (int k = 0; k < 500 && !(harness_scrape(fi_fb, ts) > before); k++)
				usleep(10000);
			ck_assert_msg(harness_scrape(fi_fb, ts) > before, "no reload");
		}
	}
	ck_assert_double_eq(fi_stat("count"), 6);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_count_total{model=\"m\"}"), 6);
	/* window 5: errors 1..5 */
	ck_assert_double_eq_tol(harness_scrape(fi_fb, "model_mae{model=\"m\"}"), 3, 1e-9);
}
END_TEST

/* Predictions logged just before a SIGTERM are in the store after it. (Whether the writer
 * still held them at the signal is timing; predlog_full_queue_drops_and_never_waits in the
 * unit suite tests that stopping the log writes what it holds.) */
START_TEST(feedback_sigterm_flushes_the_prediction_log)
{
	struct harness_response r;
	static char lines[4096 * 12];
	size_t len = 0;
	int i;

	for (i = 1; i <= 4000; i++)
		len += (size_t)snprintf(lines + len, sizeof(lines) - len, "11 %d 80\n", i);
	ck_assert_int_eq(harness_http(fi_pred, "POST", "/test/predictions", "text/plain", lines,
				      len, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	fi_restart(false);
	ck_assert_uint_eq(fi_logged(11), 4000);
}
END_TEST

/* ---- deferred answers ---------------------------------------------------------------------- */

#define FI_MANY 16
#define FI_RELOAD_CLIENTS 8

struct fi_poster {
	int port;
	int id;
	int requests;     /* 0: until stop */
	atomic_bool *stop;
	long acked;       /* records answered 200 */
	long answers;     /* requests answered at all */
	long failures;    /* transport errors and non-200 answers */
	long last_status;
};

/* Post single records and batches of 5 (every third request), each record unique. */
static void *
fi_poster_main(void *arg)
{
	struct fi_poster *p = arg;
	char json[2048];
	long i;

	for (i = 0; p->requests == 0 ? !atomic_load(p->stop) : i < p->requests; i++) {
		struct harness_response r;
		long n = i % 3 == 2 ? 5 : 1, k;
		size_t len = 0;

		if (n > 1)
			len += (size_t)snprintf(json, sizeof(json), "{\"records\": [");
		for (k = 0; k < n; k++)
			len += (size_t)snprintf(json + len, sizeof(json) - len,
						"%s{\"unit\": %d, \"cycle\": %ld, \"actual_rul\": 30,"
						" \"predicted_rul\": 33, \"model\": \"deferred\"}",
						k ? "," : "", 1000 + p->id, i * 10 + k);
		if (n > 1)
			snprintf(json + len, sizeof(json) - len, "]}");
		if (harness_post_json(p->port, "/v1/feedback", json, &r) < 0) {
			p->failures++;
			continue;
		}
		p->answers++;
		p->last_status = r.status;
		if (r.status == 200)
			p->acked += n;
		else
			p->failures++;
		harness_response_free(&r);
	}
	return NULL;
}

/* Start n posters on the feedback port; each stops after `requests` (0: at *stop). */
static void
fi_posters_start(struct fi_poster *p, pthread_t *t, int n, int requests, atomic_bool *stop)
{
	int i;

	for (i = 0; i < n; i++) {
		p[i] = (struct fi_poster){ .port = fi_fb, .id = i, .requests = requests,
					   .stop = stop };
		ck_assert_int_eq(pthread_create(&t[i], NULL, fi_poster_main, &p[i]), 0);
	}
}

/* Join them: the records they had answered 200; no failure allowed. */
static long
fi_posters_join(struct fi_poster *p, pthread_t *t, int n)
{
	long acked = 0;
	int i;

	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(p[i].failures == 0, "poster %d: %ld failures (last status %ld)", i,
			      p[i].failures, p[i].last_status);
		acked += p[i].acked;
	}
	return acked;
}

/*
 * 16 clients at once against 2 worker threads: every request is answered 200 after its
 * commit, and commits take more requests than there are threads, which only happens when
 * no worker thread waits for one (a handler blocked until its commit puts at most 2 in one).
 */
START_TEST(feedback_answers_more_requests_than_threads_per_commit)
{
	const char *commits = "feedback_commit_duration_seconds_count";
	struct fi_poster p[FI_MANY];
	pthread_t t[FI_MANY];
	double c0, c1, requests = FI_MANY * 30;
	long acked;

	c0 = harness_scrape(fi_fb, commits);
	fi_posters_start(p, t, FI_MANY, 30, NULL);
	acked = fi_posters_join(p, t, FI_MANY);
	c1 = harness_scrape(fi_fb, commits);
	ck_assert_int_eq(acked, FI_MANY * (20 + 10 * 5));
	ck_assert_double_eq(fi_stat("count"), (double)acked);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_count_total{model=\"deferred\"}"),
			    (double)acked);
	fprintf(stderr, "feedback: %.0f requests in %.0f commits\n", requests, c1 - c0);
	ck_assert_msg(requests / (c1 - c0) > 2, "%.0f requests in %.0f commits", requests,
		      c1 - c0);
}
END_TEST

/*
 * Reloads while requests wait for their commit: the old instance answers what it deferred
 * (fini only comes after), the new one takes the next; no request is lost or answered
 * twice, and every record answered 200 is stored and counted once.
 */
START_TEST(feedback_reload_while_deferred_loses_nothing)
{
	const char *ts = "rulsrv_config_last_reload_success_timestamp_seconds";
	struct fi_poster p[FI_RELOAD_CLIENTS];
	pthread_t t[FI_RELOAD_CLIENTS];
	atomic_bool stop = false;
	double before;
	long acked;
	int i, k;

	fi_posters_start(p, t, FI_RELOAD_CLIENTS, 0, &stop);
	for (i = 0; i < 4; i++) {
		usleep(300 * 1000);
		before = harness_scrape(fi_fb, ts);
		ck_assert_int_eq(harness_signal(&fi_srv, SIGHUP), 0);
		for (k = 0; k < 500 && !(harness_scrape(fi_fb, ts) > before); k++)
			usleep(10000);
		ck_assert_msg(harness_scrape(fi_fb, ts) > before, "no reload");
	}
	usleep(300 * 1000);
	atomic_store(&stop, true);
	acked = fi_posters_join(p, t, FI_RELOAD_CLIENTS);
	ck_assert_int_gt(acked, 0);
	ck_assert_double_eq(fi_stat("count"), (double)acked);
	ck_assert_double_eq(fi_stat("models.deferred.count"), (double)acked);
	ck_assert_double_eq(harness_scrape(fi_fb, "feedback_count_total{model=\"deferred\"}"),
			    (double)acked);
	fprintf(stderr, "feedback: %ld records acknowledged across 4 reloads\n", acked);
}
END_TEST

/* ---- crash safety -------------------------------------------------------------------------- */

#define FI_CLIENTS 4

struct fi_client {
	int port;
	int id;
	atomic_long acked;     /* records answered 2xx */
	atomic_long in_flight; /* records sent and not answered */
	atomic_bool failed;    /* a transport error: the server is gone */
	long refused;          /* non-2xx answers: none expected */
	long last_status;
	long acked_requests;   /* requests 0..acked_requests-1 were answered 2xx */
};

static void *
fi_client_main(void *arg)
{
	struct fi_client *c = arg;
	char json[4096];
	long i;

	for (i = 0; !atomic_load(&c->failed); i++) {
		struct harness_response r;
		long n = i % 3 == 0 ? 10 : 1;
		size_t len = 0;
		long k;

		len += (size_t)snprintf(json, sizeof(json), "{\"records\": [");
		for (k = 0; k < n; k++)
			len += (size_t)snprintf(json + len, sizeof(json) - len,
						"%s{\"unit\": %d, \"cycle\": %ld, \"actual_rul\": 50,"
						" \"predicted_rul\": 52, \"model\": \"crash\"}",
						k ? "," : "", c->id, i * 10 + k);
		snprintf(json + len, sizeof(json) - len, "]}");
		atomic_store(&c->in_flight, n);
		if (harness_post_json(c->port, "/v1/feedback", json, &r) < 0) {
			atomic_store(&c->failed, true);
			break;
		}
		c->last_status = r.status;
		if (r.status == 200) {
			atomic_fetch_add(&c->acked, n);
			c->acked_requests = i + 1;
		}
		else if (r.status != 503)
			c->refused++;
		atomic_store(&c->in_flight, 0);
		harness_response_free(&r);
		if (c->last_status != 200)
			break;
	}
	return NULL;
}

/* Records of client c's requests 0..acked_requests-1 (request i holds cycles i*10 ..
 * i*10+n-1), read from the database file itself: one by one, not only by count. */
static long
fi_stored_acked(sqlite3 *db, const struct fi_client *c, long *all)
{
	sqlite3_stmt *st;
	long n = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), (SELECT count(*) FROM feedback"
						" WHERE unit = ?1) FROM feedback WHERE unit = ?1"
						" AND cycle < ?2", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int(st, 1, c->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)c->acked_requests * 10);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		*all = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return n;
}

START_TEST(feedback_acknowledged_records_survive_sigkill)
{
	struct fi_client c[FI_CLIENTS];
	pthread_t t[FI_CLIENTS];
	long acked = 0, in_flight = 0, refused = 0;
	char path[400];
	sqlite3 *db;
	double count;
	int i, waited;

	for (i = 0; i < FI_CLIENTS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].port = fi_fb;
		c[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, fi_client_main, &c[i]), 0);
	}
	for (waited = 0; waited < 10000; waited += 5) {
		long sum = 0;

		for (i = 0; i < FI_CLIENTS; i++)
			sum += atomic_load(&c[i].acked);
		if (sum >= 2000)
			break;
		usleep(5000);
	}
	harness_signal(&fi_srv, SIGKILL);
	for (i = 0; i < FI_CLIENTS; i++) {
		pthread_join(t[i], NULL);
		acked += atomic_load(&c[i].acked);
		in_flight += atomic_load(&c[i].in_flight);
		refused += c[i].refused;
		fprintf(stderr, "client %d: acked %ld, last status %ld%s\n", i,
			atomic_load(&c[i].acked), c[i].last_status,
			atomic_load(&c[i].failed) ? ", connection failed" : "");
	}
	ck_assert_int_eq(harness_wait(&fi_srv, 5000), 128 + SIGKILL);
	ck_assert_int_eq(refused, 0);
	ck_assert_int_gt(acked, 0);
	/* the file as the killed process left it: every acknowledged record is there */
	snprintf(path, sizeof(path), "%s/feedback.db", fi_srv.dir);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	for (i = 0; i < FI_CLIENTS; i++) {
		long stored_all = 0;

		ck_assert_int_eq(fi_stored_acked(db, &c[i], &stored_all), atomic_load(&c[i].acked));
		ck_assert_int_le(stored_all, atomic_load(&c[i].acked) + atomic_load(&c[i].in_flight));
	}
	sqlite3_close(db);
	unlink(fi_srv.log);
	ck_assert_int_eq(harness_start(&fi_srv, NULL), 0);
	fi_ports();
	count = fi_stat("count");
	fprintf(stderr, "feedback crash test: acked %ld, in flight %ld, stored %.0f\n", acked,
		in_flight, count);
	ck_assert_msg(count >= (double)acked, "stored %.0f < acknowledged %ld", count, acked);
	ck_assert_msg(count <= (double)(acked + in_flight), "stored %.0f > acked %ld + in flight %ld",
		      count, acked, in_flight);
	ck_assert_double_eq(fi_stat("models.crash.count"), count);
}
END_TEST

/* ---- with a real model -------------------------------------------------------------------- */

static const char fi_model_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; }; };\n"
	"  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/feedback.db\"; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; plugins = [\"model\", \"feedback\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; };\n"
	"};\n";

static int
fi_run(const char *const *argv)
{
	char *out = NULL;
	int status = -1;

	if (harness_run(argv, &out, &status) != 0 || status != 0)
		fprintf(stderr, "test_feedback: %s failed (%d): %s\n", argv[0], status,
			out ? out : "");
	free(out);
	return status;
}

/* rulsrv -t -c conf_path: the exit status (-1 when it did not run), the output into *out
 * (caller frees; NULL when it did not run). */
static int
fi_config_test(const char *conf_path, char **out)
{
	char daemon[512];
	const char *argv[] = { daemon, "-t", "-c", conf_path, NULL };
	int status = -1;

	snprintf(daemon, sizeof(daemon), "%s/bin/rulsrv", harness_build_dir());
	*out = NULL;
	if (harness_run(argv, out, &status) != 0)
		return -1;
	return status;
}

/* A small bundle trained now on synthetic data into dir/bundle (when models/fd001 is not
 * committed). */
static bool
fi_train_bundle(const char *dir, const char *cap)
{
	char train[512], synth[512], data[300], bundle[300];
	const char *synth_argv[] = { synth, "--out", data, "--units", "20", "--test-units", "5",
				     NULL };
	const char *train_argv[] = { train, "--data", data, "--subset", "FD001", "--out", bundle,
				     "--no-tune", "--rounds", "20", "--max-depth", "4",
				     "--threads", "1", "--name", "rul-test", "--version", "v1",
				     "--cap", cap, "--quiet", NULL };

	snprintf(train, sizeof(train), "%s/bin/rulsrv-train", harness_build_dir());
	snprintf(synth, sizeof(synth), "%s/bin/cmapss-synth", harness_build_dir());
	snprintf(data, sizeof(data), "%s/synth", dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	if (access(train, X_OK) != 0 || access(synth, X_OK) != 0)
		return false;
	return fi_run(synth_argv) == 0 && fi_run(train_argv) == 0;
}

/* Does the daemon accept the freshly trained bundle? That is the training and bundle code's
 * business, tested elsewhere: here a refusal skips (test_skip) rather than fails. */
static bool
fi_bundle_loads(void)
{
	char *out;
	bool ok;

	ok = fi_config_test(fi_srv.conf, &out) == 0;
	if (!ok)
		test_skip("the trained bundle does not load: %s", out != NULL ? out : "");
	free(out);
	return ok;
}

/* A failure event scores what the real model predicted and the prediction service logged. */
START_TEST(feedback_scores_real_model_predictions)
{
	static const char cycle[] =
		"{\"cycle\": %d, \"settings\": [0.0, 0.0003, 100.0], \"sensors\": [518.67, "
		"642.1, 1589.5, 1400.2, 14.62, 21.61, 554.2, 2388.05, 9050.1, 1.3, 47.4, 522.1, "
		"2388.06, 8130.2, 8.41, 0.03, 392, 2388, 100, 38.9, 23.35]}";
	char plugin[512], bundle[512], conf[2048], body[8192], resp[512], model[128] = "";
	struct harness_response r;
	bool committed;
	size_t len;
	int i;

	snprintf(plugin, sizeof(plugin), "%s/plugins/predict_forest.so", harness_build_dir());
	if (access(plugin, R_OK) != 0) {
		test_skip("no %s", plugin);
		return;
	}
	snprintf(bundle, sizeof(bundle), "%s/models/fd001/bundle.json", harness_source_dir());
	committed = access(bundle, R_OK) == 0;
	snprintf(bundle, sizeof(bundle), "%s", committed ? "@SRC@/models/fd001" : "@DIR@/bundle");
	snprintf(conf, sizeof(conf), fi_model_conf, bundle);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(harness_prepare(&fi_srv, conf), 0);
	if (!committed && !fi_train_bundle(fi_srv.dir, "125")) {
		test_skip("no models/fd001, and no bundle could be trained");
		harness_cleanup(&fi_srv);
		return;
	}
	if (!committed && !fi_bundle_loads()) {
		harness_cleanup(&fi_srv);
		return;
	}
	ck_assert_int_eq(harness_start(&fi_srv, NULL), 0);
	fi_ports();
	for (i = 1; i <= 3; i++) {
		len = (size_t)snprintf(body, sizeof(body), "{\"unit\": 42, \"cycles\": [");
		for (int c = 1; c <= i; c++) {
			len += (size_t)snprintf(body + len, sizeof(body) - len, cycle, c);
			if (c < i)
				body[len++] = ',';
		}
		snprintf(body + len, sizeof(body) - len, "]}");
		ck_assert_int_eq(harness_post_json(fi_pred, "/v1/predict", body, &r), 0);
		ck_assert_msg(r.status == 200, "predict: %ld %s", r.status, r.body);
		ck_assert_int_eq(sscanf(r.body, "{\"model\":\"%127[^\"]\"", model), 1);
		harness_response_free(&r);
	}
	for (i = 0; i < 500 && fi_logged(42) < 3; i++)
		usleep(20000);
	ck_assert_uint_eq(fi_logged(42), 3);
	ck_assert_int_eq(fi_post("{\"unit\": 42, \"failed_at_cycle\": 150}", resp, sizeof(resp)),
			 200);
	ck_assert_str_eq(resp, "{\"accepted\":1,\"scored\":3}");
	ck_assert_double_eq(fi_stat("count"), 3);
	/* scored under the name of the model that predicted */
	snprintf(body, sizeof(body), "models.%s.count", model);
	ck_assert_double_eq(fi_stat(body), 3);
}
END_TEST

/* Truth is capped at the cap of the bundle named by `bundle` when rul_cap is not set. */
START_TEST(feedback_caps_truth_at_the_bundle_cap)
{
	static const char conf[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = { feedback = { file = \"feedback.so\"; settings = {\n"
		"  database = \"@DIR@/feedback.db\"; bundle = \"@DIR@/bundle\"; }; }; };\n"
		"services = { feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; }; };\n";

	ck_assert_int_eq(harness_prepare(&fi_srv, conf), 0);
	if (!fi_train_bundle(fi_srv.dir, "100")) {
		test_skip("no bundle could be trained");
		return;
	}
	if (!fi_bundle_loads())
		return;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(harness_start(&fi_srv, NULL), 0);
	fi_fb = harness_port(&fi_srv, "feedback");
	ck_assert_double_eq(fi_stat("rul_cap"), 100);
	fi_post_ok("{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 300, \"predicted_rul\": 104}",
		   "{\"accepted\":1,\"scored\":1}");
	ck_assert_double_eq_tol(fi_stat("all_time.mae"), 4, 1e-9);
}
END_TEST

/* A full prediction-log queue drops and counts; the prediction request does not wait. */
START_TEST(feedback_full_log_queue_drops_and_counts)
{
	static const char conf[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = {\n"
		"  source = { file = \"@BUILD@/tests/fixtures/feedback_source.so\"; };\n"
		"  feedback = { file = \"feedback.so\";\n"
		"    settings = { database = \"@DIR@/feedback.db\"; queue_size = 10; }; };\n"
		"  prometheus = { file = \"export_prometheus.so\"; };\n"
		"};\n"
		"services = { prediction = { listen = \"127.0.0.1:0\";\n"
		"  plugins = [\"source\", \"feedback\", \"prometheus\"]; }; };\n";
	struct harness_response r;
	char lines[4096];
	size_t len = 0;
	int i;

	for (i = 1; i <= 100; i++)
		len += (size_t)snprintf(lines + len, sizeof(lines) - len, "5 %d 80\n", i);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(harness_start_conf(&fi_srv, conf), 0);
	fi_pred = harness_port(&fi_srv, "prediction");
	ck_assert_int_eq(harness_http(fi_pred, "POST", "/test/predictions", "text/plain", lines,
				      len, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	/* one batch of 100 into an empty queue of 10: 90 dropped, 10 written */
	ck_assert_double_eq(harness_scrape(fi_pred, "feedback_prediction_log_dropped_total"), 90);
	for (i = 0; i < 500; i++) {
		if (harness_scrape(fi_pred, "feedback_prediction_log_written_total") == 10)
			break;
		usleep(10000);
	}
	ck_assert_double_eq(harness_scrape(fi_pred, "feedback_prediction_log_written_total"), 10);
}
END_TEST

/* ---- configuration ------------------------------------------------------------------------ */

/* The configuration test refuses conf with exit 78 (EX_CONFIG) and says every one of says. */
static void
fi_assert_refused(const char *conf, const char *const *says)
{
	struct harness_server srv;
	char *out;
	int status;
	size_t i;

	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	status = fi_config_test(srv.conf, &out);
	ck_assert_msg(status == 78, "exit %d: %s", status, out != NULL ? out : "");
	for (i = 0; says[i] != NULL; i++)
		ck_assert_msg(strstr(out, says[i]) != NULL, "no '%s' in the output: %s", says[i], out);
	free(out);
	harness_cleanup(&srv);
}

START_TEST(feedback_missing_database_directory_is_one_clear_error)
{
	static const char conf[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = { feedback = { file = \"feedback.so\";\n"
		"  settings = { database = \"@DIR@/no-such-dir/feedback.db\"; }; }; };\n"
		"services = { feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; }; };\n";
	static const char *const says[] = { "settings.database'", "does not exist", "no-such-dir",
					    NULL };

	fi_assert_refused(conf, says);
}
END_TEST

START_TEST(feedback_unknown_role_is_refused)
{
	static const char conf[] =
		"plugin_dir = \"@PLUGINS@\";\n"
		"plugins = { feedback = { file = \"feedback.so\";\n"
		"  settings = { database = \"@DIR@/feedback.db\"; role = \"sometimes\"; }; }; };\n"
		"services = { feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; }; };\n";
	static const char *const says[] = { "settings.role'", "sometimes", NULL };

	fi_assert_refused(conf, says);
}
END_TEST

Suite *feedback_suite(void);

Suite *
feedback_suite(void)
{
	Suite *s = suite_create("feedback");
	TCase *tc = tcase_create("service");

	tcase_add_checked_fixture(tc, fi_setup, fi_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, feedback_accepts_each_form_of_record);
	tcase_add_test(tc, feedback_routes_only_where_no_model_is);
	tcase_add_test(tc, feedback_matches_the_logged_prediction);
	tcase_add_test(tc, feedback_failure_backfills_the_unit);
	tcase_add_test(tc, feedback_prediction_logged_after_its_failure_is_scored);
	tcase_add_test(tc, feedback_posted_record_marks_the_logged_prediction);
	tcase_add_test(tc, feedback_late_scoring_after_reload_counts_once);
	tcase_add_test(tc, feedback_bad_input_changes_nothing);
	tcase_add_test(tc, feedback_restart_restores_the_window);
	tcase_add_test(tc, feedback_survives_reload);
	tcase_add_test(tc, feedback_sigterm_flushes_the_prediction_log);
	tcase_add_test(tc, feedback_acknowledged_records_survive_sigkill);
	tcase_add_test(tc, feedback_answers_more_requests_than_threads_per_commit);
	tcase_add_test(tc, feedback_reload_while_deferred_loses_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("standalone"); /* tests that start their own daemon */
	tcase_add_checked_fixture(tc, fi_setup_empty, fi_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, feedback_scores_real_model_predictions);
	tcase_add_test(tc, feedback_caps_truth_at_the_bundle_cap);
	tcase_add_test(tc, feedback_full_log_queue_drops_and_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, feedback_missing_database_directory_is_one_clear_error);
	tcase_add_test(tc, feedback_unknown_role_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
