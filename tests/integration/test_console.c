/* SPDX-License-Identifier: MIT */
/* test_console.c - the console plugin over HTTP: its page, its two endpoints, its settings. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "harness/harness.h"
#include "need.h"

/*
 * Two daemons: the feedback service alone, then the prediction service with the console,
 * whose feedback_url names the first one's port (known only once it runs). The prediction
 * service has an admin token: the console must not need it. What the page draws is checked
 * in a real browser by tests/scripts/test_console_browser.sh; here, what it is served.
 */
static const char feedback_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/feedback.db\";\n"
	"    bundle = \"@SRC@/models/fd001\"; }; };\n"
	"};\n"
	"services = { feedback = { listen = \"127.0.0.1:0\"; plugins = [\"feedback\"]; }; };\n";

static const char prediction_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@SRC@/models/fd001\"; }; };\n"
	"  drift = { file = \"drift_psi.so\"; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  console = { file = \"console.so\"; settings = { feedback_url = \"%s\"; }; };\n"
	"};\n"
	"services = { prediction = { listen = \"127.0.0.1:0\"; admin_token_file = \"@DIR@/admin.token\";\n"
	"  plugins = [\"model\", \"drift\", \"prometheus\", \"console\"]; }; };\n";

static struct harness_server co_fb, co_pred;
static int co_fport, co_pport;

static int
co_start_prediction(struct harness_server *s, const char *feedback_url)
{
	char conf[2048], token[320];
	FILE *f;

	snprintf(conf, sizeof(conf), prediction_conf, feedback_url);
	ck_assert_int_eq(harness_prepare(s, conf), 0);
	snprintf(token, sizeof(token), "%s/admin.token", s->dir);
	f = fopen(token, "w");
	ck_assert_ptr_nonnull(f);
	fputs("s3cret-console-test\n", f);
	fclose(f);
	chmod(token, 0600);
	return harness_start(s, NULL);
}

static void
co_setup(void)
{
	char url[64];

	memset(&co_fb, 0, sizeof(co_fb));
	memset(&co_pred, 0, sizeof(co_pred));
	ck_assert_int_eq(harness_start_conf(&co_fb, feedback_conf), 0);
	co_fport = harness_port(&co_fb, "feedback");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", co_fport); /* a trailing '/' is fine */
	ck_assert_int_eq(co_start_prediction(&co_pred, url), 0);
	co_pport = harness_port(&co_pred, "prediction");
}

static void
co_teardown(void)
{
	int a = co_pred.pid > 0 ? harness_stop(&co_pred) : 0;
	int b = co_fb.pid > 0 ? harness_stop(&co_fb) : 0;

	harness_cleanup(&co_pred);
	harness_cleanup(&co_fb);
	ck_assert_msg(a == 0 && b == 0, "rulsrv exited with %d and %d on SIGTERM", a, b);
}

static char *
co_header(const struct harness_response *r, const char *name)
{
	const char *p = r->headers;
	size_t n = strlen(name);

	for (; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return strndup(p + n + 2, strcspn(p + n + 2, "\r\n"));
	return NULL;
}

/* The page and its two files, under a policy that allows this origin only. */
START_TEST(test_page_is_served_whole)
{
	static const char *const paths[][2] = {
		{ "/", "text/html" },
		{ "/console/console.js", "text/javascript" },
		{ "/console/console.css", "text/css" },
	};
	struct harness_response r;
	char *h;

	for (size_t i = 0; i < 3; i++) {
		/* no Authorization header: the admin token is not needed */
		ck_assert_int_eq(harness_get(co_pport, paths[i][0], &r), 0);
		ck_assert_int_eq(r.status, 200);
		h = co_header(&r, "Content-Type");
		ck_assert_msg(h != NULL && strncmp(h, paths[i][1], strlen(paths[i][1])) == 0,
			      "%s: Content-Type %s", paths[i][0], h);
		free(h);
		h = co_header(&r, "Content-Security-Policy");
		ck_assert_msg(h != NULL && strstr(h, "default-src 'none'") &&
				      strstr(h, "connect-src 'self'") && strstr(h, "script-src 'self'"),
			      "%s: CSP %s", paths[i][0], h);
		free(h);
		/* nothing from anywhere else: the one URL in it is the SVG namespace */
		ck_assert_msg(strstr(r.body, "https://") == NULL, "%s links out", paths[i][0]);
		for (const char *p = strstr(r.body, "http://"); p; p = strstr(p + 1, "http://"))
			ck_assert_msg(strncmp(p, "http://www.w3.org/2000/svg", 26) == 0,
				      "%s: %.60s", paths[i][0], p);
		harness_response_free(&r);
	}
	ck_assert_int_eq(harness_get(co_pport, "/", &r), 0);
	ck_assert(strstr(r.body, "<script src=\"/console/console.js\"") != NULL);
	ck_assert(strstr(r.body, "id=\"psi-chart\"") != NULL);
	harness_response_free(&r);
}
END_TEST

static double
co_family_total(const cJSON *root, const char *name)
{
	const cJSON *f, *s;
	double sum = 0;

	cJSON_ArrayForEach(f, cJSON_GetObjectItem(root, "families")) {
		if (strcmp(cJSON_GetObjectItem(f, "name")->valuestring, name) != 0)
			continue;
		cJSON_ArrayForEach(s, cJSON_GetObjectItem(f, "samples"))
			sum += cJSON_GetObjectItem(s, "value")->valuedouble;
		return sum;
	}
	return -1;
}

/* The page's rates come from /console/metrics.json: the registry's own numbers. */
START_TEST(test_metrics_are_the_registry)
{
	char body[8192], *p = body;
	struct harness_response r;
	cJSON *root;

	for (int c = 1; c <= 30; c++)
		p += snprintf(p, sizeof(body) - (size_t)(p - body),
			      "7 %d 0.0 0.0 100.0 518.67 642.5 1589.7 1400.6 14.62 21.61 554.36 "
			      "2388.06 9046.19 1.3 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 "
			      "2388 100.0 39.06 23.419\n", c);
	ck_assert_int_eq(harness_http(co_pport, "POST", "/v1/predict", "text/plain", body,
				      strlen(body), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(co_pport, "/console/metrics.json", &r), 0);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(root, "feedback")));
	ck_assert(cJSON_GetObjectItem(root, "time")->valuedouble > 1.7e9);
	ck_assert_double_eq(co_family_total(root, "predictions_total"), 1);
	ck_assert_double_eq(co_family_total(root, "predictions_total"),
			    harness_scrape(co_pport, "predictions_total{model=\"rul-fd001\"}"));
	/* only the families the page draws: no drift bins */
	ck_assert_double_eq(co_family_total(root, "drift_bin_observations_total"), -1);
	cJSON_Delete(root);
	harness_response_free(&r);
}
END_TEST

/* The feedback service's stats, answered on the page's own origin as they came. */
START_TEST(test_feedback_stats_through_the_console)
{
	struct harness_response direct, proxied;

	ck_assert_int_eq(harness_post_json(co_fport, "/v1/feedback",
					   "{\"unit\": 3, \"cycle\": 50, \"actual_rul\": 80, "
					   "\"predicted_rul\": 86}", &direct), 0);
	ck_assert_int_eq(direct.status, 200);
	harness_response_free(&direct);
	ck_assert_int_eq(harness_get(co_fport, "/v1/feedback/stats", &direct), 0);
	ck_assert_int_eq(harness_get(co_pport, "/console/feedback/stats", &proxied), 0);
	ck_assert_int_eq(proxied.status, 200);
	ck_assert_str_eq(proxied.body, direct.body);
	ck_assert(strstr(proxied.body, "\"rmse\":6") != NULL);
	harness_response_free(&direct);
	harness_response_free(&proxied);

	/* the feedback service gone: a precise error, and the prediction service unharmed */
	ck_assert_int_eq(harness_stop(&co_fb), 0);
	ck_assert_int_eq(harness_get(co_pport, "/console/feedback/stats", &proxied), 0);
	ck_assert_int_eq(proxied.status, 502);
	ck_assert_msg(strstr(proxied.body, "feedback_unavailable") &&
			      strstr(proxied.body, "/v1/feedback/stats"), "%s", proxied.body);
	harness_response_free(&proxied);
	ck_assert_int_eq(harness_get(co_pport, "/readyz", &proxied), 0);
	ck_assert_int_eq(proxied.status, 200);
	harness_response_free(&proxied);
}
END_TEST

/* GET /v1/drift?feature=: the bins the page draws beside each other. */
START_TEST(test_drift_bins_of_one_feature)
{
	struct harness_response r;
	const cJSON *fb, *b;
	double sum = 0;
	int n = 0;
	cJSON *root;

	ck_assert_int_eq(harness_get(co_pport, "/v1/drift?feature=s9", &r), 0);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_Parse(r.body);
	fb = cJSON_GetObjectItem(root, "feature_bins");
	ck_assert_ptr_nonnull(fb);
	ck_assert_str_eq(cJSON_GetObjectItem(fb, "name")->valuestring, "s9");
	ck_assert_double_eq(cJSON_GetObjectItem(fb, "observations")->valuedouble, 0);
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(fb, "bins")) {
		sum += cJSON_GetObjectItem(b, "reference")->valuedouble;
		ck_assert(cJSON_IsNull(cJSON_GetObjectItem(b, "current"))); /* empty window */
		n++;
	}
	ck_assert_int_gt(n, 2);
	ck_assert_double_eq_tol(sum, 1, 1e-6);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(fb, "bins"),
								 n - 1), "le")->valuestring, "+Inf");
	cJSON_Delete(root);
	harness_response_free(&r);
	/* without ?feature= the answer is as before */
	ck_assert_int_eq(harness_get(co_pport, "/v1/drift", &r), 0);
	ck_assert(strstr(r.body, "feature_bins") == NULL);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(co_pport, "/v1/drift?feature=s99", &r), 0);
	ck_assert_int_eq(r.status, 422);
	ck_assert_msg(strstr(r.body, "invalid_request") && strstr(r.body, "s99"), "%s", r.body);
	harness_response_free(&r);
}
END_TEST

/* A feedback_url that is not one refuses the start, naming the setting. */
START_TEST(test_bad_feedback_url_refused)
{
	struct harness_server s;

	ck_assert_int_ne(co_start_prediction(&s, "localhost:3001"), 0);
	ck_assert(harness_log_contains(&s, "console.settings.feedback_url': expected"));
	ck_assert(harness_log_contains(&s, "http://"));
	harness_cleanup(&s);
}
END_TEST

/* feedback_url = "": no feedback service, and the page is told so instead of asking. */
START_TEST(test_no_feedback_service)
{
	struct harness_server s;
	struct harness_response r;
	int port;

	ck_assert_int_eq(co_start_prediction(&s, ""), 0);
	port = harness_port(&s, "prediction");
	ck_assert_int_eq(harness_get(port, "/console/metrics.json", &r), 0);
	ck_assert(strstr(r.body, "\"feedback\":false") != NULL);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(port, "/console/feedback/stats", &r), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert(strstr(r.body, "feedback_url") != NULL);
	harness_response_free(&r);
	ck_assert_int_eq(harness_stop(&s), 0);
	harness_cleanup(&s);
}
END_TEST

Suite *console_suite(void);

Suite *
console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("live");
	TCase *alone = tcase_create("settings");

	suite_needs(s, "fd001");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, co_setup, co_teardown);
	tcase_add_test(tc, test_page_is_served_whole);
	tcase_add_test(tc, test_metrics_are_the_registry);
	tcase_add_test(tc, test_feedback_stats_through_the_console);
	tcase_add_test(tc, test_drift_bins_of_one_feature);
	suite_add_tcase(s, tc);
	tcase_set_timeout(alone, 60);
	tcase_add_test(alone, test_bad_feedback_url_refused);
	tcase_add_test(alone, test_no_feedback_service);
	suite_add_tcase(s, alone);
	return s;
}
