/* SPDX-License-Identifier: MIT */
/* test_drift_live.c - drift_psi in the real daemon: observations, windows, metrics, admin. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "bundle.h"
#include "harness/harness.h"
#include "need.h"

Suite *drift_live_suite(void);

/*
 * The model bundle for the whole suite: models/fd001 when committed, else trained now with
 * rulsrv-train (small and fast) on C-MAPSS FD001 or on cmapss-synth data.
 */
static char work[256];
static char base_dir[512];
static bool have_bundle;
static char skip_reason[512];
static struct harness_server srv;

static bool
make_base(void)
{
	const char *args[] = { "--rounds", "20", "--max-depth", "4", "--name",
			       "rul-drift-test", "--version", "v1", NULL };

	return harness_model_bundle(work, args, base_dir, sizeof(base_dir), skip_reason,
				    sizeof(skip_reason)) == 0;
}

static void
suite_setup(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	snprintf(work, sizeof(work), "/tmp/rulsrv-test-drift-%d", (int)getpid());
	mkdir(work, 0700);
	have_bundle = make_base();
}

static void
suite_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_drift_live: cannot remove %s\n", work);
}

static void
test_teardown(void)
{
	harness_cleanup(&srv);
}

/* model + drift + prometheus on one prediction service; extra: more service settings. */
static void
conf_text_prom(char *buf, size_t len, const char *drift_settings, const char *service_extra,
	       const char *prom_settings)
{
	snprintf(buf, len,
		 "plugin_dir = \"%s/plugins\";\n"
		 "log_level = \"info\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; }; };\n"
		 "  drift = { file = \"drift_psi.so\"; settings = { %s }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; settings = { %s }; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\"; %s\n"
		 "    plugins = [ \"model\", \"drift\", \"prometheus\" ]; };\n"
		 "};\n",
		 harness_build_dir(), base_dir, drift_settings, prom_settings, service_extra);
}

static void
conf_text(char *buf, size_t len, const char *drift_settings, const char *service_extra)
{
	conf_text_prom(buf, len, drift_settings, service_extra, "");
}

static int
start(const char *drift_settings, const char *service_extra)
{
	char conf[4096];

	if (!have_bundle) {
		test_skip("no model bundle: %s", skip_reason);
		return -1;
	}
	conf_text(conf, sizeof(conf), drift_settings, service_extra);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	return harness_port(&srv, "prediction");
}

/* C-MAPSS rows of units first..first+n-1, 3 cycles each: one prediction per unit. */
static void
predict_units(int port, int first, int n)
{
	char *body = malloc((size_t)n * 3 * 400 + 1);
	struct harness_response r;
	size_t used = 0;
	int u, c, k;

	for (u = first; u < first + n; u++) {
		for (c = 1; c <= 3; c++) {
			used += (size_t)sprintf(body + used, "%d %d", u, c);
			for (k = 0; k < CMAPSS_N_INPUTS; k++)
				used += (size_t)sprintf(body + used, " %.4f",
							100.0 + k + 0.01 * (double)((u * 3 + c + k) % 7));
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
get_drift(int port)
{
	struct harness_response r;
	cJSON *j;

	ck_assert_int_eq(harness_get(port, "/v1/drift", &r), 0);
	ck_assert_msg(r.status == 200, "GET /v1/drift: %ld %s", r.status, r.body);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	harness_response_free(&r);
	return j;
}

static double
num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *
str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* The gauges are refreshed by the plugin's timer: poll until series reads want. */
static void
wait_metric(int port, const char *series, double want)
{
	double v = NAN;
	int i;

	for (i = 0; i < 100; i++) {
		v = harness_scrape(port, series);
		if (v == want)
			return;
		usleep(50 * 1000);
	}
	ck_abort_msg("%s: %g, want %g", series, v, want);
}

static long
post_window(int port, const char *body, const char *const *headers, cJSON **json)
{
	struct harness_response r;
	long status;

	ck_assert_int_eq(harness_http(port, "POST", "/v1/drift/window", "application/json", body,
				      body ? strlen(body) : 0, headers, &r),
			 0);
	status = r.status;
	if (json != NULL)
		*json = status == 200 ? cJSON_Parse(r.body) : NULL;
	harness_response_free(&r);
	return status;
}

/* Predictions move the window; count and manual windows roll; a reload keeps the label. */
START_TEST(test_windows_on_live_predictions)
{
	int port = start("window_size = 25; min_observations = 5; update_interval = 0.1; "
			 "label = \"Q1 FD001\";",
			 "");
	struct harness_response r;
	cJSON *j;

	if (port < 0)
		return;
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 1);
	ck_assert_double_eq(num(j, "window", "observations"), 0);
	ck_assert_str_eq(str(j, "status", NULL), "insufficient_data");
	/* The model's bundle is the default reference. */
	ck_assert_str_eq(str(j, "reference", "bundle"), base_dir);
	cJSON_Delete(j);
	wait_metric(port, "drift_window_info{label=\"Q1 FD001\"}", 1);

	predict_units(port, 1, 10);
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "observations"), 10);
	ck_assert_str_ne(str(j, "status", NULL), "insufficient_data");
	cJSON_Delete(j);
	wait_metric(port, "drift_window_observations", 10);

	/* A batch is counted in one window: the one that fills it closes it. */
	predict_units(port, 11, 20);
	predict_units(port, 31, 5);
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 2);
	ck_assert_double_eq(num(j, "window", "observations"), 5);
	ck_assert_double_eq(num(j, "last_window", "observations"), 30);
	ck_assert_str_eq(str(j, "window", "label"), "Q1 FD001");
	cJSON_Delete(j);

	/* A quarter transition. */
	ck_assert_int_eq(post_window(port, "{\"label\": \"Q2 FD002\"}", NULL, &j), 200);
	ck_assert_double_eq(num(j, "closed", "index"), 2);
	ck_assert_double_eq(num(j, "closed", "observations"), 5);
	ck_assert_double_eq(num(j, "window", "index"), 3);
	ck_assert_str_eq(str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	ck_assert_double_eq(harness_scrape(port, "drift_window_index"), 3);
	ck_assert_double_eq(harness_scrape(port, "drift_window_observations"), 0);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q2 FD002\"}"), 1);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q1 FD001\"}"), 0);

	/* Malformed bodies: docs/API.md errors, nothing rolled. */
	ck_assert_int_eq(post_window(port, "{\"label\": ", NULL, NULL), 400);
	ck_assert_int_eq(post_window(port, "{\"label\": 7}", NULL, NULL), 422);
	ck_assert_int_eq(harness_http(port, "POST", "/v1/drift/window", "application/json",
				      "{\"label\": 7}", 12, NULL, &r),
			 0);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code"));
	cJSON_Delete(j);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(port, "/v1/drift/window", &r), 0);
	ck_assert_int_eq(r.status, 405);
	harness_response_free(&r);

	/* A reload opens the next window and keeps the label. */
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	{
		int i;

		for (i = 0; i < 100 && !harness_log_contains(&srv, "configuration reloaded"); i++)
			usleep(50 * 1000);
	}
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 4);
	ck_assert_str_eq(str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	wait_metric(port, "drift_window_index", 4);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q2 FD002\"}"), 1);
}
END_TEST

/* Counters are cumulative over windows: every prediction counted once per input. */
START_TEST(test_bin_counters_total)
{
	static const char prefix[] = "drift_bin_observations_total{feature=\"s9\",";
	int port = start("window_size = 7; update_interval = 0.1;", "");
	struct harness_response r;
	double total = 0;
	char *line;
	int i;

	if (port < 0)
		return;
	for (i = 1; i <= 40; i++)
		predict_units(port, i, 1);
	cJSON_Delete(get_drift(port)); /* pushes the counters now */
	ck_assert_int_eq(harness_get(port, "/metrics", &r), 0);
	for (line = strtok(r.body, "\n"); line != NULL; line = strtok(NULL, "\n"))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			total += strtod(strrchr(line, ' ') + 1, NULL);
	harness_response_free(&r);
	ck_assert_double_eq(total, 40);
	ck_assert_double_eq(harness_scrape(port, "drift_window_index"), 1 + 40 / 7);
}
END_TEST

/* With a token file, the window route wants the token (any address); GET stays open. */
START_TEST(test_admin_token)
{
	const char *bearer[] = { "Authorization: Bearer s3cret-drift", NULL };
	const char *wrong[] = { "Authorization: Bearer nope", NULL };
	char conf[4096], path[600];
	struct harness_response r;
	FILE *f;
	int port;

	if (!have_bundle) {
		test_skip("no model bundle: %s", skip_reason);
		return;
	}
	conf_text(conf, sizeof(conf), "", "admin_token_file = \"@DIR@/token\";");
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	snprintf(path, sizeof(path), "%s/token", srv.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("s3cret-drift\n", f);
	fclose(f);
	chmod(path, 0600);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	port = harness_port(&srv, "prediction");

	ck_assert_int_eq(post_window(port, "{\"label\": \"x\"}", NULL, NULL), 401);
	ck_assert_int_eq(post_window(port, "{\"label\": \"x\"}", wrong, NULL), 401);
	ck_assert_int_eq(post_window(port, "{\"label\": \"Q3 FD003\"}", bearer, NULL), 200);
	ck_assert_int_eq(harness_get(port, "/v1/drift", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "Q3 FD003"));
	harness_response_free(&r);
}
END_TEST

/* Rewrite the daemon's configuration file, SIGHUP, and wait for the log to say how it went. */
static void
reload_with(const char *drift_settings, const char *prom_settings, const char *outcome)
{
	char conf[4096];
	FILE *f;
	int i;

	conf_text_prom(conf, sizeof(conf), drift_settings, "", prom_settings);
	f = fopen(srv.conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf, f);
	fclose(f);
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	for (i = 0; i < 100 && !harness_log_contains(&srv, outcome); i++)
		usleep(50 * 1000);
	ck_assert_msg(harness_log_contains(&srv, outcome), "no '%s' in the log", outcome);
}

/*
 * A reload that fails after drift's new instance was initialised (a plugin after it refuses
 * its settings): that instance never serves, so neither the gauges nor the numbering move;
 * the next reload that succeeds opens the window after the running one's, under its label.
 */
START_TEST(test_failed_reload_after_drift_init)
{
	const char *drift = "window = \"manual\"; label = \"Q1 FD001\";";
	int port = start(drift, "");
	cJSON *j;

	if (port < 0)
		return;
	predict_units(port, 1, 4);
	ck_assert_int_eq(post_window(port, "{\"label\": \"Q2 FD002\"}", NULL, NULL), 200);
	wait_metric(port, "drift_window_index", 2);

	reload_with(drift, "path = \"metrics\";", "reload failed");
	ck_assert(harness_log_contains(&srv, "must start with '/'"));
	ck_assert_double_eq(harness_scrape(port, "drift_window_index"), 2);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q1 FD001\"}"), 0);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q2 FD002\"}"), 1);
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 2);
	cJSON_Delete(j);

	reload_with(drift, "", "configuration reloaded");
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 3);
	ck_assert_str_eq(str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	wait_metric(port, "drift_window_index", 3);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q2 FD002\"}"), 1);
	ck_assert_double_eq(harness_scrape(port, "drift_window_info{label=\"Q1 FD001\"}"), 0);
}
END_TEST

/* A reload to a reference that cannot be used fails and keeps the running drift state. */
START_TEST(test_bad_reload_keeps_state)
{
	char conf[4096], settings[700];
	FILE *f;
	cJSON *j;
	int port = start("window = \"manual\"; label = \"Q1 FD001\";", ""), i;

	if (port < 0)
		return;
	predict_units(port, 1, 12);
	ck_assert_int_eq(post_window(port, "{\"label\": \"Q2 FD002\"}", NULL, NULL), 200);
	predict_units(port, 20, 3);

	snprintf(settings, sizeof(settings), "reference = \"%s/no-such-bundle\";", work);
	conf_text(conf, sizeof(conf), settings, "");
	f = fopen(srv.conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf, f);
	fclose(f);
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	for (i = 0; i < 100 && !harness_log_contains(&srv, "reload failed"); i++)
		usleep(50 * 1000);
	ck_assert(harness_log_contains(&srv, "cannot load drift reference"));

	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "index"), 2);
	ck_assert_str_eq(str(j, "window", "label"), "Q2 FD002");
	ck_assert_double_eq(num(j, "window", "observations"), 3);
	cJSON_Delete(j);
	predict_units(port, 30, 2);
	j = get_drift(port);
	ck_assert_double_eq(num(j, "window", "observations"), 5);
	cJSON_Delete(j);
}
END_TEST

/* A reference the daemon cannot use stops the start with a message naming it. */
START_TEST(test_bad_reference_refused)
{
	char conf[4096], settings[700];

	if (!have_bundle) {
		test_skip("no model bundle: %s", skip_reason);
		return;
	}
	snprintf(settings, sizeof(settings), "reference = \"%s/no-such-bundle\";", work);
	conf_text(conf, sizeof(conf), settings, "");
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	ck_assert_int_ne(harness_start(&srv, NULL), 0);
	ck_assert(harness_log_contains(&srv, "cannot load drift reference"));
}
END_TEST

Suite *
drift_live_suite(void)
{
	Suite *s = suite_create("drift_live");
	TCase *tc = tcase_create("daemon");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, NULL, test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_windows_on_live_predictions);
	tcase_add_test(tc, test_bin_counters_total);
	tcase_add_test(tc, test_admin_token);
	tcase_add_test(tc, test_bad_reference_refused);
	tcase_add_test(tc, test_bad_reload_keeps_state);
	tcase_add_test(tc, test_failed_reload_after_drift_init);
	suite_add_tcase(s, tc);
	return s;
}
