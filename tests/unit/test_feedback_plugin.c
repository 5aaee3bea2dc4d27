/* SPDX-License-Identifier: MIT */
/* test_feedback_plugin.c - feedback.so over the fake host: deferred answers, timers, hand-over. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "clocks.h"
#include "fake_host.h"

/*
 * The instances of a test share one database and, like the instances of one service across a
 * reload, one metric registry; the log instance (role "log") stands for the prediction
 * service, with a registry of its own.
 */
struct fp_inst {
	struct rulsrv_host host;
	struct rulsrv_settings settings;
	const struct rulsrv_plugin_descriptor *d;
	void *state;
};

static char fp_dir[256];
static char fp_db[300];
static void *fp_dl;
static const struct rulsrv_plugin_descriptor *fp_d;
static struct metrics_registry *fp_registry, *fp_log_registry;

/* Who answered: respond and respond_error of the fake, wrapped to note the thread. */
static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t fp_answered_by;
static struct rulsrv_api fp_api;

static void
fp_note_thread(void)
{
	pthread_mutex_lock(&fp_lock);
	fp_answered_by = pthread_self();
	pthread_mutex_unlock(&fp_lock);
}

static void
fp_respond(struct rulsrv_response *resp, unsigned status, const char *content_type, char *body,
	   size_t len)
{
	fp_note_thread();
	fake_respond(resp, status, content_type, body, len);
}

static void
fp_respond_error(struct rulsrv_response *resp, unsigned status, const char *code,
		 const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fp_note_thread();
	fake_respond_error(resp, status, code, "%s", message);
}

static void
fp_setup(void)
{
	snprintf(fp_dir, sizeof(fp_dir), "/tmp/rulsrv-fbplugin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fp_dir));
	snprintf(fp_db, sizeof(fp_db), "%s/feedback.db", fp_dir);
	fp_d = fake_load("feedback.so", &fp_dl);
	ck_assert_ptr_nonnull(fp_d);
	fp_registry = metrics_registry_new();
	fp_log_registry = metrics_registry_new();
	ck_assert_ptr_nonnull(fp_registry);
	ck_assert_ptr_nonnull(fp_log_registry);
	fp_api = fake_api;
	fp_api.respond = fp_respond;
	fp_api.respond_error = fp_respond_error;
}

static void
fp_teardown(void)
{
	char cmd[300];

	metrics_registry_free(fp_registry);
	metrics_registry_free(fp_log_registry);
	if (fp_dl != NULL)
		dlclose(fp_dl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fp_dir);
}

/* Start an instance of d (NULL: the loaded feedback.so) in role, with kv more settings. */
static void
fp_start(struct fp_inst *in, const struct rulsrv_plugin_descriptor *d, const char *role,
	 const char *const *kv)
{
	size_t n = 0;

	memset(in, 0, sizeof(*in));
	in->d = d != NULL ? d : fp_d;
	in->host.registry = strcmp(role, "log") == 0 ? fp_log_registry : fp_registry;
	in->settings.names[n] = "database";
	in->settings.values[n++] = fp_db;
	in->settings.names[n] = "role";
	in->settings.values[n++] = role;
	for (; kv != NULL && kv[0] != NULL; kv += 2, n++) {
		in->settings.names[n] = kv[0];
		in->settings.values[n] = kv[1];
	}
	ck_assert_int_eq(in->d->init(&in->host, &fp_api, &in->settings, &in->state), 0);
	ck_assert(fake_settings_all_read(&in->settings));
}

static void
fp_stop(struct fp_inst *in)
{
	in->d->fini(in->state);
}

/* Hand body to the instance's POST /v1/feedback; resp is answered, or deferred and waited
 * for. Returns whether the handler deferred it. */
static bool
fp_post(struct fp_inst *in, const char *body, struct rulsrv_response *resp)
{
	struct fake_route *route = fake_route_find(&in->host, "POST", "/v1/feedback");
	struct rulsrv_request req = { .method = "POST", .path = "/v1/feedback",
				      .content_type = "application/json", .body = body,
				      .body_len = strlen(body), .received_at = clocks_realtime() };

	ck_assert_ptr_nonnull(route);
	fake_response_init(resp);
	route->fn(route->ud, &req, resp);
	ck_assert_msg(fake_response_wait(resp), "POST %s: never answered", body);
	return resp->deferred;
}

struct fp_find {
	const char *name, *value;
	double found;
};

static int
fp_find_sample(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct fp_find *q = ud;

	if (s == NULL || strcmp(f->name, q->name) != 0)
		return 0;
	if (q->value != NULL && (f->label_count == 0 || strcmp(s->label_values[0], q->value) != 0))
		return 0;
	q->found = f->type == RULSRV_METRIC_HISTOGRAM ? (double)s->count : s->value;
	return 0;
}

/* name{label=value} (value NULL: unlabelled; a histogram's count) in registry; NAN if absent. */
static double
fp_metric(struct metrics_registry *registry, const char *name, const char *value)
{
	struct fp_find q = { name, value, NAN };

	metrics_collect(registry, fp_find_sample, &q);
	return q.found;
}

static void
fp_response_free(struct rulsrv_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

START_TEST(post_is_answered_by_the_committer_after_the_commit)
{
	struct rulsrv_response resp;
	struct fp_inst in;

	fp_start(&in, NULL, "feedback", NULL);
	ck_assert(fp_post(&in, "{\"unit\": 7, \"cycle\": 112, \"actual_rul\": 80, "
			  "\"predicted_rul\": 83, \"model\": \"m\"}", &resp));
	ck_assert_uint_eq(resp.status, 200);
	ck_assert_str_eq(resp.content_type, "application/json");
	ck_assert_str_eq(resp.body, "{\"accepted\":1,\"scored\":1}");
	ck_assert_msg(!pthread_equal(fp_answered_by, pthread_self()),
		      "answered on the request thread");
	fp_response_free(&resp);
	/* the client that has its answer sees the commit in the metrics */
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "m"), 1);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_commit_duration_seconds", NULL), 1);
	ck_assert_double_eq_tol(fp_metric(fp_registry, "model_mae", "m"), 3, 1e-9);

	ck_assert(fp_post(&in, "{\"records\": [{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 10, "
			  "\"predicted_rul\": 11, \"model\": \"m\"}, {\"unit\": 1, \"cycle\": 2, "
			  "\"actual_rul\": 9, \"predicted_rul\": 9, \"model\": \"m\"}]}", &resp));
	ck_assert_uint_eq(resp.status, 200);
	ck_assert_str_eq(resp.body, "{\"accepted\":2,\"scored\":2}");
	fp_response_free(&resp);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "m"), 3);
	fp_stop(&in);
}
END_TEST

/* Refusals the store makes come from the committer too, with the same codes as ever. */
START_TEST(post_unmatched_record_is_refused_by_the_committer)
{
	struct rulsrv_response resp;
	struct fp_inst in;

	fp_start(&in, NULL, "feedback", NULL);
	ck_assert(fp_post(&in, "{\"records\": [{\"unit\": 5, \"cycle\": 3, \"actual_rul\": 10}]}",
			  &resp));
	ck_assert_uint_eq(resp.status, 422);
	ck_assert_str_eq(resp.code, "no_prediction");
	ck_assert_str_eq(resp.message, "records[0]: no logged prediction of unit 5 at cycle 3: "
				       "send predicted_rul with the record");
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_errors_total", "no_prediction"), 1);
	ck_assert(isnan(fp_metric(fp_registry, "feedback_count_total", NULL)));
	fp_stop(&in);
}
END_TEST

/* A refusal found before the commit is answered at once, on the request thread. */
START_TEST(post_bad_body_is_answered_at_once)
{
	struct rulsrv_response resp;
	struct fp_inst in;

	fp_start(&in, NULL, "feedback", NULL);
	ck_assert(!fp_post(&in, "{\"unit\": 7", &resp));
	ck_assert_uint_eq(resp.status, 400);
	ck_assert_str_eq(resp.code, "malformed_json");
	ck_assert(pthread_equal(fp_answered_by, pthread_self()));
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_errors_total", "malformed_json"), 1);
	fp_stop(&in);
}
END_TEST

/* A commit that fails (here: another connection holds the write lock, and busy_timeout_ms is
 * 0) is a 503 from the committer, counted as reason "store"; nothing is stored. */
START_TEST(post_store_failure_is_a_503)
{
	static const char *const kv[] = { "busy_timeout_ms", "0", NULL };
	struct rulsrv_response resp;
	struct fp_inst in;
	sqlite3 *db;

	fp_start(&in, NULL, "feedback", kv);
	ck_assert_int_eq(sqlite3_open(fp_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ck_assert(fp_post(&in, "{\"unit\": 7, \"cycle\": 1, \"actual_rul\": 80, "
			  "\"predicted_rul\": 83}", &resp));
	ck_assert_uint_eq(resp.status, 503);
	ck_assert_str_eq(resp.code, "store_unavailable");
	ck_assert_msg(strncmp(resp.message, "cannot store feedback: ", 23) == 0, "%s",
		      resp.message);
	ck_assert_msg(strstr(resp.headers, "Retry-After: 1\n") != NULL, "%s", resp.headers);
	ck_assert(!pthread_equal(fp_answered_by, pthread_self()));
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_errors_total", "store"), 1);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	ck_assert(fp_post(&in, "{\"unit\": 7, \"cycle\": 1, \"actual_rul\": 80, "
			  "\"predicted_rul\": 83}", &resp));
	ck_assert_uint_eq(resp.status, 200);
	fp_response_free(&resp);
	fp_stop(&in);
}
END_TEST

/* log_before_answer takes "cycles", "all" or "none": anything else is refused at init,
 * naming the setting, and no instance starts. */
START_TEST(log_before_answer_refuses_an_unknown_value)
{
	struct fp_inst in;

	memset(&in, 0, sizeof(in));
	in.d = fp_d;
	in.host.registry = fp_log_registry;
	in.settings.names[0] = "database";
	in.settings.values[0] = fp_db;
	in.settings.names[1] = "role";
	in.settings.values[1] = "log";
	in.settings.names[2] = "log_before_answer";
	in.settings.values[2] = "yes";
	ck_assert_int_eq(in.d->init(&in.host, &fp_api, &in.settings, &in.state), -EINVAL);
	ck_assert_int_ge(in.settings.errors, 1);
}
END_TEST

/* Every refusal reason is exported at 0 from the start, so rate() sees its first one. */
START_TEST(errors_are_exported_at_zero_from_the_start)
{
	static const char *const reasons[] = {
		"malformed_json", "request_timeout", "too_large", "invalid",
		"unsupported_media_type", "too_many_models", "no_prediction", "store", NULL,
	};
	struct fp_inst in;
	size_t i;

	fp_start(&in, NULL, "feedback", NULL);
	for (i = 0; reasons[i] != NULL; i++)
		ck_assert_msg(fp_metric(fp_registry, "feedback_errors_total", reasons[i]) == 0,
			      "reason %s", reasons[i]);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_commit_duration_seconds", NULL), 0);
	/* the log's families are the prediction service's */
	ck_assert(isnan(fp_metric(fp_registry, "feedback_prediction_log_written_total", NULL)));
	fp_stop(&in);
}
END_TEST

#define FP_CLIENTS 6
#define FP_PER_CLIENT 40

struct fp_client {
	struct fp_inst *in;
	int id;
	int ok;
};

static void *
fp_client_main(void *arg)
{
	struct fp_client *c = arg;
	struct rulsrv_response resp;
	char body[160];
	int i;

	for (i = 0; i < FP_PER_CLIENT; i++) {
		snprintf(body, sizeof(body), "{\"unit\": %d, \"cycle\": %d, \"actual_rul\": 50, "
			 "\"predicted_rul\": 52, \"model\": \"c\"}", c->id, i);
		if (fp_post(c->in, body, &resp) && resp.status == 200)
			c->ok++;
		fp_response_free(&resp);
	}
	return NULL;
}

/* Many requests in flight: each is answered once, and every 200 is in the store. */
START_TEST(concurrent_posts_are_each_answered_and_stored)
{
	struct fp_client c[FP_CLIENTS];
	pthread_t t[FP_CLIENTS];
	struct fp_inst in;
	sqlite3 *db;
	sqlite3_stmt *st;
	int i, ok = 0;

	fp_start(&in, NULL, "feedback", NULL);
	for (i = 0; i < FP_CLIENTS; i++) {
		c[i] = (struct fp_client){ .in = &in, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, fp_client_main, &c[i]), 0);
	}
	for (i = 0; i < FP_CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ok += c[i].ok;
	}
	ck_assert_int_eq(ok, FP_CLIENTS * FP_PER_CLIENT);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "c"), ok);
	fp_stop(&in);
	ck_assert_int_eq(sqlite3_open(fp_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM feedback", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), ok);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

/* Log a prediction of unit 3 made 5 s ago through the log instance, and wait until it is
 * written (the store scores it by the failure event posted before). */
static void
fp_log_late(struct fp_inst *logger, int64_t cycle, double rul)
{
	double inputs[CMAPSS_N_INPUTS] = { 0 };
	struct rulsrv_prediction p = { .unit = 3, .cycle = cycle, .rul = rul, .inputs = inputs };
	struct rulsrv_prediction_batch b = { .model = "late", .version = "1",
					     .timestamp = clocks_realtime() - 5,
					     .input_count = CMAPSS_N_INPUTS, .count = 1,
					     .item_size = sizeof(p), .items = &p };
	double before = fp_metric(fp_log_registry, "feedback_prediction_log_written_total", NULL);
	int i;

	fake_observers_notify(&logger->host, &b);
	for (i = 0; i < 1000; i++) {
		if (fp_metric(fp_log_registry, "feedback_prediction_log_written_total", NULL) >
		    before)
			return;
		usleep(10000);
	}
	ck_abort_msg("the prediction was never logged");
}

static void
fp_failure_event(struct fp_inst *in)
{
	struct rulsrv_response resp;

	ck_assert(fp_post(in, "{\"unit\": 3, \"failed_at_cycle\": 40}", &resp));
	ck_assert_uint_eq(resp.status, 200);
	fp_response_free(&resp);
}

/*
 * A reload: the new instance starts beside the old, both run for a moment on one registry.
 * With the hand-over they share the cursor of late-scored records, so one the log scored
 * then is counted once whichever instance's timer sees it first; and the timer of the new
 * one (at 1 s, as before) accounts what comes after.
 */
START_TEST(handoff_shares_the_late_cursor)
{
	struct fp_inst old, new, logger;

	fp_start(&old, NULL, "feedback", NULL);
	fp_start(&logger, NULL, "log", NULL);
	ck_assert_uint_eq(old.host.timer_count, 1);
	ck_assert_double_eq(old.host.timer_interval[0], 1.0);
	ck_assert_uint_eq(logger.host.timer_count, 0); /* no retention, no timer */
	fp_failure_event(&old);
	fp_start(&new, NULL, "feedback", NULL);
	ck_assert_ptr_nonnull(fp_d->handoff);
	fp_d->handoff(new.state, old.state);
	fp_log_late(&logger, 10, 50);
	fake_timers_fire(&old.host);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "late"), 1);
	fake_timers_fire(&new.host);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "late"), 1);
	fp_stop(&old); /* the new one goes on with the shared cursor alone */
	fp_log_late(&logger, 11, 40);
	fake_timers_fire(&new.host);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "late"), 2);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_residual_cycles", "late"), 2);
	fp_stop(&new);
	fp_stop(&logger);
}
END_TEST

/*
 * A plugin file replaced on disk loads as a new object, whose predecessor's state may be laid
 * out otherwise: the hand-over leaves it alone, and the new instance keeps its own cursor
 * from its restore mark, like a first start (so a record scored while both run is counted by
 * each, as the comment at struct fb_cursor says).
 */
START_TEST(handoff_ignores_another_loaded_object)
{
	const struct rulsrv_plugin_descriptor *other;
	struct fp_inst old, new, logger;
	char src[512], copy[400], cmd[1024];
	void *dl;

	snprintf(src, sizeof(src), "%s/plugins/feedback.so", RULSRV_BUILD_DIR);
	snprintf(copy, sizeof(copy), "%s/feedback-copy.so", fp_dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, copy);
	ck_assert_int_eq(system(cmd), 0);
	dl = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "dlopen: %s", dlerror());
	other = dlsym(dl, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(other);
	ck_assert_ptr_ne(other, fp_d);

	fp_start(&old, NULL, "feedback", NULL);
	fp_start(&logger, NULL, "log", NULL);
	fp_failure_event(&old);
	fp_start(&new, other, "feedback", NULL);
	other->handoff(new.state, old.state);
	fp_log_late(&logger, 10, 50);
	fake_timers_fire(&old.host);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "late"), 1);
	fake_timers_fire(&new.host);
	ck_assert_double_eq(fp_metric(fp_registry, "feedback_count_total", "late"), 2);
	fp_stop(&old);
	fp_stop(&new);
	fp_stop(&logger);
	dlclose(dl);
}
END_TEST

/* log_retention_days: a 60 s core timer paces the retention pass the log's thread runs. */
START_TEST(retention_pass_comes_with_the_timer)
{
	static const char *const kv[] = { "log_retention_days", "1", NULL };
	struct fp_inst logger;
	sqlite3 *db;
	sqlite3_stmt *st;
	int i, left = -1;

	fp_start(&logger, NULL, "log", kv);
	ck_assert_uint_eq(logger.host.timer_count, 1);
	ck_assert_double_eq(logger.host.timer_interval[0], 60.0);
	fp_log_late(&logger, 1, 50); /* written after the first pass, which found nothing */
	ck_assert_int_eq(sqlite3_open(fp_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE prediction_segments SET min_ts = 1700000000, max_ts = 1700000000", NULL, NULL,
				      NULL), SQLITE_OK);
	fake_timers_fire(&logger.host);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM prediction_segments", -1, &st, NULL),
			 SQLITE_OK);
	for (i = 0; i < 1000 && left != 0; i++) {
		sqlite3_reset(st);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		left = sqlite3_column_int(st, 0);
		if (left != 0)
			usleep(10000);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	ck_assert_int_eq(left, 0);
	fp_stop(&logger);
}
END_TEST

Suite *feedback_plugin_suite(void);

Suite *
feedback_plugin_suite(void)
{
	Suite *s = suite_create("feedback_plugin");
	TCase *tc = tcase_create("plugin");

	tcase_add_checked_fixture(tc, fp_setup, fp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, post_is_answered_by_the_committer_after_the_commit);
	tcase_add_test(tc, post_unmatched_record_is_refused_by_the_committer);
	tcase_add_test(tc, post_bad_body_is_answered_at_once);
	tcase_add_test(tc, log_before_answer_refuses_an_unknown_value);
	tcase_add_test(tc, post_store_failure_is_a_503);
	tcase_add_test(tc, errors_are_exported_at_zero_from_the_start);
	tcase_add_test(tc, concurrent_posts_are_each_answered_and_stored);
	tcase_add_test(tc, handoff_shares_the_late_cursor);
	tcase_add_test(tc, handoff_ignores_another_loaded_object);
	tcase_add_test(tc, retention_pass_comes_with_the_timer);
	suite_add_tcase(s, tc);
	return s;
}
