/* SPDX-License-Identifier: MIT */
/* test_predict.c - /v1/predict and /v1/models on the real daemon: forms, errors, metrics, swap. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
#include "read_file.h"

/* More than any bundle.json the trainer writes (drift references of 24 inputs). */
#define BUNDLE_JSON_MAX (64u << 20)

Suite *predict_suite(void);

/*
 * Bundles for the whole suite, made once in the parent: the base (models/fd001 when
 * committed, else trained now with rulsrv-train on C-MAPSS or on cmapss-synth data), "v2"
 * (the same model under another version) and "bad" (a model file that is not a model).
 */
static char work[256];
static char base_dir[512], v2_dir[512], bad_dir[512];
static char model_name[128], base_version[128];
static bool have_bundle;
static char skip_reason[512];

static struct harness_server srv;

static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;
	int rc = in && out ? 0 : -1;

	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A copy of src's bundle.json into dir with the version replaced. */
static int
copy_bundle_json(const char *src, const char *dir, const char *version)
{
	char path[700], *text = NULL, *out;
	cJSON *root;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/bundle.json", src);
	if (read_file(path, BUNDLE_JSON_MAX, &text, NULL) < 0)
		return -1;
	root = cJSON_Parse(text);
	if (root != NULL) {
		cJSON_ReplaceItemInObject(root, "version", cJSON_CreateString(version));
		out = cJSON_Print(root);
		snprintf(path, sizeof(path), "%s/bundle.json", dir);
		rc = write_file(path, out);
		free(out);
		cJSON_Delete(root);
	}
	free(text);
	return rc;
}

static bool
make_base(void)
{
	const char *args[] = { "--rounds", "40", "--max-depth", "5", "--name",
			       "rul-test", "--version", "v1", NULL };

	return harness_model_bundle(work, args, base_dir, sizeof(base_dir), skip_reason,
				    sizeof(skip_reason)) == 0;
}

static void
suite_setup(void)
{
	struct bundle *b = NULL;
	char err[512], from[700], to[700];

	curl_global_init(CURL_GLOBAL_ALL);
	snprintf(work, sizeof(work), "/tmp/rulsrv-test-predict-%d", (int)getpid());
	mkdir(work, 0700);
	if (!make_base())
		return;
	if (bundle_load(base_dir, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_predict: %s\n", err);
		snprintf(skip_reason, sizeof(skip_reason), "the base bundle does not load");
		return;
	}
	snprintf(model_name, sizeof(model_name), "%s", b->name);
	snprintf(base_version, sizeof(base_version), "%s", b->version);
	bundle_free(b);
	snprintf(v2_dir, sizeof(v2_dir), "%s/v2", work);
	snprintf(bad_dir, sizeof(bad_dir), "%s/bad", work);
	mkdir(v2_dir, 0700);
	mkdir(bad_dir, 0700);
	snprintf(from, sizeof(from), "%s/model.json", base_dir);
	snprintf(to, sizeof(to), "%s/model.json", v2_dir);
	if (copy_file(from, to) != 0 || copy_bundle_json(base_dir, v2_dir, "v2-test") != 0 ||
	    copy_bundle_json(base_dir, bad_dir, "bad-test") != 0)
		return;
	snprintf(to, sizeof(to), "%s/model.json", bad_dir);
	write_file(to, "{\"learner\": not a model");
	have_bundle = true;
}

static void
suite_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_predict: cannot remove %s\n", work);
}

static void
test_teardown(void)
{
	harness_cleanup(&srv);
}

/* The configuration: one prediction service with the given backend and bundle. */
static void
conf_text(char *buf, size_t len, const char *backend, const char *bundle)
{
	snprintf(buf, len,
		 "plugin_dir = \"%s/plugins\";\n"
		 "log_level = \"info\";\n"
		 "plugins = {\n"
		 "  model = { file = \"%s.so\"; settings = { bundle = \"%s\"; max_instances = 50; "
		 "max_cycles = 400; }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\"; plugins = [ \"model\", \"prometheus\" ]; "
		 "};\n"
		 "};\n",
		 harness_build_dir(), backend, bundle);
}

static int
start(const char *backend, const char *bundle)
{
	char conf[2048];

	if (!have_bundle) {
		test_skip("no model bundle: %s", skip_reason);
		return -1;
	}
	conf_text(conf, sizeof(conf), backend, bundle);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	return harness_port(&srv, "prediction");
}

/* One engine in JSON and the same rows as C-MAPSS text; values are a function of (u, c). */
static double
value(long unit, long cycle, int k)
{
	static const double base[CMAPSS_N_INPUTS] = {
		0.0005, 0.0002, 100, 518.67, 642.5, 1590, 1405, 14.62, 21.61, 553.5, 2388.05,
		9050, 1.3, 47.5, 521.5, 2388.05, 8140, 8.43, 0.03, 393, 2388, 100, 38.9, 23.3,
	};

	return base[k] * (1 + 0.0004 * (double)cycle / 10 + 0.0001 * (double)((unit * 7 + k) % 5));
}

static size_t
engine_json(char *buf, size_t len, long unit, long first, long n)
{
	size_t used = 0;
	long c;
	int k;

	used += (size_t)snprintf(buf + used, len - used, "{\"unit\": %ld, \"cycles\": [", unit);
	for (c = first; c < first + n; c++) {
		used += (size_t)snprintf(buf + used, len - used, "%s{\"cycle\": %ld, \"settings\": [",
					 c > first ? ", " : "", c);
		for (k = 0; k < CMAPSS_N_INPUTS; k++)
			used += (size_t)snprintf(buf + used, len - used, "%s%.6g",
						 k == 3 ? "], \"sensors\": [" : k ? ", " : "",
						 value(unit, c, k));
		used += (size_t)snprintf(buf + used, len - used, "]}");
	}
	used += (size_t)snprintf(buf + used, len - used, "]}");
	return used;
}

static size_t
engine_rows(char *buf, size_t len, long unit, long first, long n)
{
	size_t used = 0;
	long c;
	int k;

	for (c = first; c < first + n; c++) {
		used += (size_t)snprintf(buf + used, len - used, "%ld %ld", unit, c);
		for (k = 0; k < CMAPSS_N_INPUTS; k++)
			used += (size_t)snprintf(buf + used, len - used, " %.6g", value(unit, c, k));
		used += (size_t)snprintf(buf + used, len - used, "\n");
	}
	return used;
}

static void
post(int port, const char *type, const char *body, size_t len, struct harness_response *r)
{
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", type, body, len, NULL, r), 0);
}

/* The predictions array of a 200 answer, checked against model name and version. */
static cJSON *
predictions(const struct harness_response *r, cJSON **root, const char *version)
{
	cJSON *p;

	ck_assert_msg(r->status == 200, "status %ld: %s", r->status, r->body);
	*root = cJSON_Parse(r->body);
	ck_assert_ptr_nonnull(*root);
	ck_assert_str_eq(cJSON_GetObjectItem(*root, "model")->valuestring, model_name);
	ck_assert_str_eq(cJSON_GetObjectItem(*root, "version")->valuestring, version);
	p = cJSON_GetObjectItem(*root, "predictions");
	ck_assert(cJSON_IsArray(p));
	return p;
}

static double
item_number(const cJSON *arr, int i, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, i), key);

	ck_assert_msg(cJSON_IsNumber(v), "predictions[%d].%s missing", i, key);
	return v->valuedouble;
}

/* One engine, a batch and C-MAPSS text give the same numbers for the same rows. */
START_TEST(test_three_forms)
{
	char *body = malloc(1 << 20);
	struct harness_response r;
	cJSON *root, *p;
	double rul_one, rul_batch[3];
	size_t used;
	int port = start("predict_forest", base_dir), i;

	if (port < 0)
		goto out;
	used = engine_json(body, 1 << 20, 7, 1, 35);
	post(port, "application/json", body, used, &r);
	p = predictions(&r, &root, base_version);
	ck_assert_int_eq(cJSON_GetArraySize(p), 1);
	ck_assert_double_eq(item_number(p, 0, "unit"), 7);
	ck_assert_double_eq(item_number(p, 0, "cycle"), 35);
	rul_one = item_number(p, 0, "rul");
	ck_assert(isfinite(rul_one));
	cJSON_Delete(root);
	harness_response_free(&r);

	used = (size_t)sprintf(body, "{\"instances\": [");
	used += engine_json(body + used, (1 << 20) - used, 3, 10, 20);
	body[used++] = ',';
	used += engine_json(body + used, (1 << 20) - used, 7, 1, 35);
	body[used++] = ',';
	used += engine_json(body + used, (1 << 20) - used, 12, 1, 1);
	used += (size_t)sprintf(body + used, "]}");
	post(port, "application/json", body, used, &r);
	p = predictions(&r, &root, base_version);
	ck_assert_int_eq(cJSON_GetArraySize(p), 3);
	for (i = 0; i < 3; i++)
		rul_batch[i] = item_number(p, i, "rul");
	ck_assert_double_eq(item_number(p, 0, "unit"), 3);
	ck_assert_double_eq(item_number(p, 0, "cycle"), 29);
	ck_assert_double_eq(rul_batch[1], rul_one);
	ck_assert_double_eq(item_number(p, 2, "cycle"), 1);
	cJSON_Delete(root);
	harness_response_free(&r);

	/* text/plain: units in order of first appearance, each at its last row */
	used = engine_rows(body, 1 << 20, 3, 10, 20);
	used += engine_rows(body + used, (1 << 20) - used, 7, 1, 35);
	used += engine_rows(body + used, (1 << 20) - used, 12, 1, 1);
	post(port, "text/plain", body, used, &r);
	p = predictions(&r, &root, base_version);
	ck_assert_int_eq(cJSON_GetArraySize(p), 3);
	for (i = 0; i < 3; i++)
		ck_assert_double_eq(item_number(p, i, "rul"), rul_batch[i]);
	ck_assert_double_eq(item_number(p, 1, "unit"), 7);
	cJSON_Delete(root);
	harness_response_free(&r);

	{
		char series[512];

		snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", model_name);
		ck_assert_double_eq(harness_scrape(port, series), 7);
	}
out:
	free(body);
}
END_TEST

struct error_case {
	const char *type;
	const char *body;
	long status;
	const char *answer;
};

static const struct error_case error_cases[] = {
	{ "application/json", "{\"unit\": 1, \"cycles\": [", 400,
	  "{\"error\":{\"code\":\"malformed_json\",\"message\":\"malformed JSON at byte 23: "
	  "unexpected end of input\"}}" },
	{ "application/json", "{\"unit\": 1, \"cycles\": []}", 422,
	  "{\"error\":{\"code\":\"invalid_shape\",\"message\":\"cycles: expected at least 1 cycle\"}}" },
	{ "application/json", "{\"unit\": 1, \"cycles\": [{\"cycle\": 1, \"settings\": [1e400, 0, 0]}]}",
	  422, "{\"error\":{\"code\":\"non_finite_number\",\"message\":\"cycles[0].settings[0]: "
	  "number out of range: 1e400\"}}" },
	{ "application/json", "{\"instances\": [{\"unit\": 1, \"cycles\": [{\"cycle\": 1, "
	  "\"settings\": [0, 0, 0], \"sensors\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,"
	  "20]}]}]}",
	  422, "{\"error\":{\"code\":\"invalid_shape\",\"message\":\"instances[0].cycles[0].sensors: "
	  "expected 21 numbers, got 20\"}}" },
	{ "text/plain", "1 2 3\n", 400, NULL },
	/* a negative unit or cycle: refused by both body forms */
	{ "application/json", "{\"instances\": [{\"unit\": -4, \"cycles\": [{\"cycle\": 1, "
	  "\"settings\": [0, 0, 0], \"sensors\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,"
	  "20,21]}]}]}",
	  422, "{\"error\":{\"code\":\"invalid_shape\",\"message\":\"instances[0].unit: "
	  "expected a non-negative integer, got -4\"}}" },
	{ "text/plain", "1 -1 0 0 100\n", 400,
	  "{\"error\":{\"code\":\"malformed_rows\",\"message\":\"body:1: column 2: cycle '-1' "
	  "is not a non-negative integer\"}}" },
	{ "application/xml", "<x/>", 415,
	  "{\"error\":{\"code\":\"unsupported_media_type\",\"message\":\"Content-Type must be "
	  "application/json or text/plain, got 'application/xml'\"}}" },
};

/* Refusals: exact answers, metrics by code and reason, and the server keeps serving. */
START_TEST(test_errors_and_metrics)
{
	char series[512], *body = malloc(1 << 20);
	struct harness_response r;
	cJSON *root, *m;
	size_t i, used;
	int port = start("predict_forest", base_dir);

	if (port < 0)
		goto out;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];

		post(port, c->type, c->body, strlen(c->body), &r);
		ck_assert_msg(r.status == c->status, "case %zu: status %ld: %s", i, r.status, r.body);
		if (c->answer != NULL)
			ck_assert_str_eq(r.body, c->answer);
		else
			ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"malformed_rows\""));
		harness_response_free(&r);
	}
	/* over max_instances (50 in this configuration): 413 */
	used = (size_t)sprintf(body, "{\"instances\": [");
	for (i = 0; i < 51; i++) {
		if (i)
			body[used++] = ',';
		used += engine_json(body + used, (1 << 20) - used, (long)i, 1, 1);
	}
	used += (size_t)sprintf(body + used, "]}");
	post(port, "application/json", body, used, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "too_many_instances"));
	harness_response_free(&r);
	/* still healthy, and a good request still works */
	used = engine_json(body, 1 << 20, 1, 1, 3);
	post(port, "application/json", body, used, &r);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);

	snprintf(series, sizeof(series), "prediction_requests_total{model=\"%s\",code=\"400\"}",
		 model_name);
	ck_assert_double_eq(harness_scrape(port, series), 3);
	snprintf(series, sizeof(series), "prediction_requests_total{model=\"%s\",code=\"422\"}",
		 model_name);
	ck_assert_double_eq(harness_scrape(port, series), 4);
	snprintf(series, sizeof(series), "prediction_requests_total{model=\"%s\",code=\"200\"}",
		 model_name);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	snprintf(series, sizeof(series),
		 "prediction_errors_total{model=\"%s\",reason=\"too_many_instances\"}", model_name);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	snprintf(series, sizeof(series),
		 "prediction_errors_total{model=\"%s\",reason=\"unsupported_media_type\"}",
		 model_name);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", model_name);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	snprintf(series, sizeof(series), "prediction_latency_seconds_count{model=\"%s\"}",
		 model_name);
	ck_assert_double_eq(harness_scrape(port, series), 10);
	snprintf(series, sizeof(series), "rul_prediction_value_count{model=\"%s\"}", model_name);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	snprintf(series, sizeof(series), "model_info{model=\"%s\",version=\"%s\",backend=\"forest\"}",
		 model_name, base_version);
	ck_assert_double_eq(harness_scrape(port, series), 1);

	ck_assert_int_eq(harness_get(port, "/v1/models", &r), 0);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_Parse(r.body);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "name")->valuestring, model_name);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "version")->valuestring, base_version);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "backend")->valuestring, "forest");
	ck_assert(cJSON_GetArraySize(cJSON_GetObjectItem(m, "features")) > 0);
	ck_assert(cJSON_GetArraySize(cJSON_GetObjectItem(m, "trained_on")) > 0);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(m, "loaded_at")));
	cJSON_Delete(root);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(port, "/readyz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
out:
	free(body);
}
END_TEST

/* The backend is one line of the configuration; both answer the same numbers. */
START_TEST(test_backend_switch)
{
	static const char *const backends[] = { "predict_forest", "predict_xgboost" };
	char *body = malloc(1 << 20), *answers[2] = { NULL, NULL }, series[512];
	struct harness_response r;
	size_t used, i;
	int port;

	for (i = 0; i < 2; i++) {
		port = start(backends[i], base_dir);
		if (port < 0)
			goto out;
		used = (size_t)sprintf(body, "{\"instances\": [");
		used += engine_json(body + used, (1 << 20) - used, 3, 10, 20);
		body[used++] = ',';
		used += engine_json(body + used, (1 << 20) - used, 9, 1, 60);
		used += (size_t)sprintf(body + used, "]}");
		post(port, "application/json", body, used, &r);
		ck_assert_int_eq(r.status, 200);
		answers[i] = r.body;
		r.body = NULL;
		harness_response_free(&r);
		snprintf(series, sizeof(series), "model_info{model=\"%s\",version=\"%s\",backend=\"%s\"}",
			 model_name, base_version, i == 0 ? "forest" : "xgboost");
		ck_assert_double_eq(harness_scrape(port, series), 1);
		harness_cleanup(&srv);
	}
	ck_assert_str_eq(answers[0], answers[1]);
out:
	free(answers[0]);
	free(answers[1]);
	free(body);
}
END_TEST

/* ---- hot swap under load ------------------------------------------------------------------ */

struct client {
	pthread_t th;
	int port;
	atomic_bool *stop;
	long ok, failed;
	char last_failure[256];
	long saw_v2;
};

static void *
client_run(void *arg)
{
	struct client *c = arg;
	char body[16384];
	size_t used = engine_json(body, sizeof(body), 5, 1, 30);
	struct harness_response r;

	while (!atomic_load(c->stop)) {
		if (harness_http(c->port, "POST", "/v1/predict", "application/json", body, used, NULL,
				 &r) != 0) {
			c->failed++;
			snprintf(c->last_failure, sizeof(c->last_failure), "transport error");
			continue;
		}
		if (r.status == 200 && strstr(r.body, "\"predictions\":[{\"unit\":5,") != NULL) {
			c->ok++;
			if (strstr(r.body, "\"version\":\"v2-test\"") != NULL)
				c->saw_v2++;
		} else {
			c->failed++;
			snprintf(c->last_failure, sizeof(c->last_failure), "%ld %.200s", r.status,
				 r.body);
		}
		harness_response_free(&r);
	}
	return NULL;
}

static int
count_in_log(const char *needle)
{
	char line[2048];
	FILE *f = fopen(srv.log, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void
wait_count(const char *needle, int count)
{
	int waited;

	for (waited = 0; waited < 10000 && count_in_log(needle) < count; waited += 20)
		usleep(20000);
	ck_assert_msg(count_in_log(needle) >= count, "no '%s' in the log", needle);
}

static void
rewrite_conf(const char *bundle)
{
	char conf[2048];

	conf_text(conf, sizeof(conf), "predict_forest", bundle);
	ck_assert_int_eq(write_file(srv.conf, conf), 0);
}

static double
info(int port, const char *version)
{
	char series[512];

	snprintf(series, sizeof(series), "model_info{model=\"%s\",version=\"%s\",backend=\"forest\"}",
		 model_name, version);
	return harness_scrape(port, series);
}

/* The old instance goes when its last request ends, a moment after the swap. */
static void
wait_info(int port, const char *version, double want)
{
	int waited;

	for (waited = 0; waited < 3000 && info(port, version) != want; waited += 20)
		usleep(20000);
	ck_assert_double_eq(info(port, version), want);
}

START_TEST(test_hot_swap_under_load)
{
	enum { CLIENTS = 3 };
	struct client clients[CLIENTS];
	atomic_bool stop = false;
	struct harness_response r;
	long ok = 0, failed = 0, v2 = 0;
	int port = start("predict_forest", base_dir), i;

	if (port < 0)
		return;
	for (i = 0; i < CLIENTS; i++) {
		clients[i] = (struct client){ .port = port, .stop = &stop };
		ck_assert_int_eq(pthread_create(&clients[i].th, NULL, client_run, &clients[i]), 0);
	}
	usleep(300000);
	/* SIGHUP with a new bundle */
	rewrite_conf(v2_dir);
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	wait_count("configuration reloaded", 1);
	wait_info(port, base_version, 0);
	ck_assert_double_eq(info(port, "v2-test"), 1);
	/* a bad bundle: refused, v2 keeps serving */
	rewrite_conf(bad_dir);
	ck_assert_int_eq(harness_http(port, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_ne(r.status, 200);
	harness_response_free(&r);
	ck_assert(harness_log_contains(&srv, bad_dir));
	ck_assert_double_eq(info(port, "v2-test"), 1);
	usleep(200000);
	/* back to the base through POST /-/reload */
	rewrite_conf(base_dir);
	ck_assert_int_eq(harness_http(port, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	usleep(300000);
	atomic_store(&stop, true);
	for (i = 0; i < CLIENTS; i++) {
		pthread_join(clients[i].th, NULL);
		ok += clients[i].ok;
		failed += clients[i].failed;
		v2 += clients[i].saw_v2;
		ck_assert_msg(clients[i].failed == 0, "client %d: %ld failed, last: %s", i,
			      clients[i].failed, clients[i].last_failure);
	}
	fprintf(stderr, "test_predict: hot swap: %ld requests ok (%ld on v2), %ld failed\n", ok,
		v2, failed);
	ck_assert_int_gt(ok, 100);
	ck_assert_int_gt(v2, 0);
	wait_info(port, "v2-test", 0);
	ck_assert_double_eq(info(port, base_version), 1);
}
END_TEST

/* A reload can switch the backend: same answers, model_info's backend label moves. */
START_TEST(test_backend_switch_on_reload)
{
	char conf[2048], body[16384], series[512], *before;
	struct harness_response r;
	size_t used = engine_json(body, sizeof(body), 8, 1, 40);
	int port = start("predict_forest", base_dir), waited;

	if (port < 0)
		return;
	post(port, "application/json", body, used, &r);
	ck_assert_int_eq(r.status, 200);
	before = r.body;
	r.body = NULL;
	harness_response_free(&r);
	conf_text(conf, sizeof(conf), "predict_xgboost", base_dir);
	ck_assert_int_eq(write_file(srv.conf, conf), 0);
	ck_assert_int_eq(harness_http(port, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	post(port, "application/json", body, used, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, before);
	harness_response_free(&r);
	free(before);
	snprintf(series, sizeof(series), "model_info{model=\"%s\",version=\"%s\",backend=\"xgboost\"}",
		 model_name, base_version);
	ck_assert_double_eq(harness_scrape(port, series), 1);
	/* the old instance is released once the last request on it (the reload's own) ends */
	snprintf(series, sizeof(series), "model_info{model=\"%s\",version=\"%s\",backend=\"forest\"}",
		 model_name, base_version);
	for (waited = 0; waited < 3000 && harness_scrape(port, series) != 0; waited += 20)
		usleep(20000);
	ck_assert_double_eq(harness_scrape(port, series), 0);
	ck_assert_int_eq(harness_get(port, "/v1/models", &r), 0);
	ck_assert_ptr_nonnull(strstr(r.body, "\"backend\":\"xgboost\""));
	harness_response_free(&r);
}
END_TEST

/* A bad bundle at start: the daemon refuses to start and names the bundle. */
START_TEST(test_bad_bundle_at_start)
{
	char conf[2048];

	if (!have_bundle) {
		test_skip("no model bundle: %s", skip_reason);
		return;
	}
	conf_text(conf, sizeof(conf), "predict_forest", bad_dir);
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	ck_assert_int_ne(harness_start(&srv, NULL), 0);
	ck_assert(harness_log_contains(&srv, "cannot load model bundle"));
	ck_assert(harness_log_contains(&srv, bad_dir));
}
END_TEST

Suite *
predict_suite(void)
{
	Suite *s = suite_create("predict");
	TCase *tc = tcase_create("service");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, NULL, test_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_three_forms);
	tcase_add_test(tc, test_errors_and_metrics);
	tcase_add_test(tc, test_backend_switch);
	tcase_add_test(tc, test_hot_swap_under_load);
	tcase_add_test(tc, test_backend_switch_on_reload);
	tcase_add_test(tc, test_bad_bundle_at_start);
	suite_add_tcase(s, tc);
	return s;
}
