/* SPDX-License-Identifier: MIT */
/* test_first_scrape.c - series whose labels are known at start are on the first scrape, at 0. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "harness/harness.h"
#include "need.h"

/*
 * A counter that appears only at its first increment hides that increment from rate() and
 * increase() (a series born at 1 has no increase), so the first event after a start would be
 * lost to every recording rule. What the services know at start — the served model, the
 * model whose feedback the feedback service expects (its `bundle`), every error reason — must
 * be on the very first scrape, at 0. The configuration is the default one's shape.
 */
static const char fs_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
	"  drift = { file = \"drift_psi.so\"; settings = { reference = \"@SRC@/models/fd001\"; }; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { database = \"@DIR@/feedback.db\"; bundle = \"@SRC@/models/fd001\"; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\";\n"
	"    plugins = [\"model\", \"drift\", \"feedback\", \"prometheus\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\", \"prometheus\"]; };\n"
	"};\n";

static struct harness_server fs_srv;
static char fs_model[128];
static char *fs_metrics[2]; /* the first scrape of each service */

enum { P, F };

static char *
fs_get(int port, const char *path)
{
	struct harness_response r;
	char *body;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	ck_assert_int_eq(r.status, 200);
	body = r.body;
	r.body = NULL;
	harness_response_free(&r);
	return body;
}

static void
fs_setup(void)
{
	int port[2];
	char *models;
	cJSON *root, *m;

	ck_assert_int_eq(harness_start_conf(&fs_srv, fs_conf), 0);
	port[P] = harness_port(&fs_srv, "prediction");
	port[F] = harness_port(&fs_srv, "feedback");
	/* the very first request to either service is the scrape */
	fs_metrics[P] = fs_get(port[P], "/metrics");
	fs_metrics[F] = fs_get(port[F], "/metrics");
	models = fs_get(port[P], "/v1/models");
	root = cJSON_Parse(models);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0);
	ck_assert_ptr_nonnull(m);
	snprintf(fs_model, sizeof(fs_model), "%s", cJSON_GetObjectItem(m, "name")->valuestring);
	cJSON_Delete(root);
	free(models);
}

static void
fs_teardown(void)
{
	int status = fs_srv.pid > 0 ? harness_stop(&fs_srv) : 0;

	harness_cleanup(&fs_srv);
	free(fs_metrics[P]);
	free(fs_metrics[F]);
	fs_metrics[P] = fs_metrics[F] = NULL;
	ck_assert_msg(status == 0, "rulsrv exited with %d on SIGTERM", status);
}

/* name{model="<the model>"extra} on the first scrape of service */
static double
fs_value(int service, const char *name, const char *extra, char *series, size_t len)
{
	snprintf(series, len, "%s{model=\"%s\"%s}", name, fs_model, extra);
	return harness_metric(fs_metrics[service], series);
}

START_TEST(test_served_model_at_zero)
{
	static const char *const counters[][2] = {
		{ "predictions_total", "" },
		{ "prediction_latency_seconds_count", "" },
		{ "prediction_requests_total", ",code=\"200\"" },
		{ "prediction_requests_total", ",code=\"422\"" },
	};
	char series[512];
	double v;
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		v = fs_value(P, counters[i][0], counters[i][1], series, sizeof(series));
		ck_assert_msg(v == 0, "%s: %g on the first scrape", series, v);
	}
}
END_TEST

START_TEST(test_prediction_error_reasons_at_zero)
{
	static const char *const reasons[] = {
		"malformed_json", "malformed_rows", "invalid_shape", "non_finite_number",
		"cycles_not_increasing", "too_many_instances", "too_many_cycles", "out_of_memory",
		"unsupported_media_type",
		"payload_too_large", "request_timeout", "prediction_failed",
	};
	char series[512];
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(series, sizeof(series), "prediction_errors_total{model=\"%s\",reason=\"%s\"}",
			 fs_model, reasons[i]);
		ck_assert_msg(harness_metric(fs_metrics[P], series) == 0, "%s: %g on the first scrape",
			      series, harness_metric(fs_metrics[P], series));
	}
}
END_TEST

START_TEST(test_feedback_model_at_zero)
{
	static const char *const counters[] = {
		"feedback_count_total", "feedback_squared_error_sum_total",
		"feedback_abs_error_sum_total", "feedback_residual_cycles_count",
	};
	static const char *const gauges[] = { "model_rmse", "model_mae", "model_nasa_score" };
	char series[512];
	double v;
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		v = fs_value(F, counters[i], "", series, sizeof(series));
		ck_assert_msg(v == 0, "%s: %g on the first scrape", series, v);
	}
	/* no record yet: no RMSE, which is not an RMSE of 0 (harness_metric is NAN also when the
	 * series is absent, so look for the line itself) */
	for (i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		snprintf(series, sizeof(series), "%s{model=\"%s\"} NaN", gauges[i], fs_model);
		ck_assert_msg(strstr(fs_metrics[F], series) != NULL, "no '%s' on the first scrape",
			      series);
	}
}
END_TEST

START_TEST(test_feedback_error_reasons_at_zero)
{
	static const char *const reasons[] = {
		"malformed_json", "invalid", "too_large", "unsupported_media_type",
		"no_prediction", "too_many_models", "store",
	};
	char series[512];
	double v;
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(series, sizeof(series), "feedback_errors_total{reason=\"%s\"}", reasons[i]);
		v = harness_metric(fs_metrics[F], series);
		ck_assert_msg(v == 0, "%s: %g on the first scrape", series, v);
	}
}
END_TEST

/*
 * After a restart the counters begin again at 0 (Prometheus sees the reset) and are there
 * before the first new record, for the bundle's model and for a model known only from the
 * store; the windowed RMSE comes back from the store.
 */
START_TEST(test_restart_exports_at_zero_again)
{
	struct harness_response r;
	char series[256], *metrics;
	int port;

	port = harness_port(&fs_srv, "feedback");
	ck_assert_int_eq(harness_post_json(port, "/v1/feedback",
					   "{\"records\": [{\"unit\": 1, \"cycle\": 9, \"actual_rul\": 50, "
					   "\"predicted_rul\": 53, \"model\": \"other-model\"}]}", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape(port, "feedback_count_total{model=\"other-model\"}"), 1);
	ck_assert_int_eq(harness_stop(&fs_srv), 0);
	unlink(fs_srv.log);
	ck_assert_int_eq(harness_start(&fs_srv, NULL), 0);
	port = harness_port(&fs_srv, "feedback");
	metrics = fs_get(port, "/metrics");
	ck_assert_double_eq(harness_metric(metrics, "feedback_count_total{model=\"other-model\"}"), 0);
	ck_assert_double_eq(harness_metric(metrics, "model_rmse{model=\"other-model\"}"), 3);
	snprintf(series, sizeof(series), "feedback_count_total{model=\"%s\"}", fs_model);
	ck_assert_double_eq(harness_metric(metrics, series), 0);
	free(metrics);
}
END_TEST

Suite *first_scrape_suite(void);

Suite *
first_scrape_suite(void)
{
	Suite *s = suite_create("first_scrape");
	TCase *tc = tcase_create("fresh");

	suite_needs(s, "fd001");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
	tcase_add_test(tc, test_served_model_at_zero);
	tcase_add_test(tc, test_prediction_error_reasons_at_zero);
	tcase_add_test(tc, test_feedback_model_at_zero);
	tcase_add_test(tc, test_feedback_error_reasons_at_zero);
	tcase_add_test(tc, test_restart_exports_at_zero_again);
	suite_add_tcase(s, tc);
	return s;
}
