/* SPDX-License-Identifier: MIT */
/* test_faults.c - broken bundles and databases at start; a broken bundle on SIGHUP under load. */
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

#include "harness/harness.h"
#include "need.h"

Suite *faults_suite(void);

/*
 * Already covered elsewhere, not repeated here: a port in use (test_daemon), a missing database
 * directory (test_feedback, with -t), a model file that is not a model (test_predict), a broken
 * configuration on reload (test_daemon), SIGHUP with a new bundle under load (test_predict),
 * SIGKILL of the feedback service under load (test_feedback).
 */

static struct harness_server f_srv;
static char f_bundle[600];

#define BODY "{\"unit\":7,\"cycles\":[{\"cycle\":1,\"settings\":[0.0005,0.0002,100],\"sensors\":" \
	     "[518.67,642.5,1590,1405,14.62,21.61,553.5,2388.05,9050,1.3,47.5,521.5,2388.05,8140," \
	     "8.43,0.03,393,2388,100,38.9,23.3]}]}"

static bool
have_bundle(void)
{
	char path[700];
	struct stat st;

	snprintf(f_bundle, sizeof(f_bundle), "%s/models/fd001", harness_source_dir());
	snprintf(path, sizeof(path), "%s/bundle.json", f_bundle);
	if (stat(path, &st) == 0)
		return true;
	test_skip("models/fd001 is not in the source tree");
	return false;
}

static int
copy_file(const char *from, const char *to, long truncate_at)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	long total = 0;
	size_t n;
	int rc = in != NULL && out != NULL ? 0 : -1;

	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (truncate_at >= 0 && total + (long)n > truncate_at)
			n = (size_t)(truncate_at - total);
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
		total += (long)n;
		if (truncate_at >= 0 && total >= truncate_at)
			break;
	}
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc;
}

/* dir/name: a copy of models/fd001 with bundle.json cut at json_bytes (-1: whole) and model.json
 * left out when !with_model. */
static void
make_bundle(const char *dir, const char *name, long json_bytes, bool with_model)
{
	char to[800], from[800];

	snprintf(to, sizeof(to), "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(to, 0700), 0);
	snprintf(from, sizeof(from), "%s/bundle.json", f_bundle);
	snprintf(to, sizeof(to), "%s/%s/bundle.json", dir, name);
	ck_assert_int_eq(copy_file(from, to, json_bytes), 0);
	if (!with_model)
		return;
	snprintf(from, sizeof(from), "%s/model.json", f_bundle);
	snprintf(to, sizeof(to), "%s/%s/model.json", dir, name);
	ck_assert_int_eq(copy_file(from, to, -1), 0);
}

static void
write_conf(const char *bundle, const char *database)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@PLUGINS@\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; }; };\n"
		 "  feedback = { file = \"feedback.so\"; settings = { database = \"%s\"; }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\";\n"
		 "    plugins = [ \"model\", \"feedback\", \"prometheus\" ]; };\n"
		 "};\n",
		 bundle, database);
	ck_assert_int_eq(harness_prepare(&f_srv, conf), 0);
}

static int
count(const char *out, const char *needle)
{
	const char *p;
	int n = 0;

	for (p = out; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Run the daemon in the foreground on f_srv's configuration: it must exit by itself. */
static int
run_daemon(char **out)
{
	char bin[512];
	const char *argv[] = { bin, "-c", f_srv.conf, NULL };
	int status = -1;

	snprintf(bin, sizeof(bin), "%s/bin/rulsrv", harness_build_dir());
	ck_assert_int_eq(harness_run(argv, out, &status), 0);
	return status;
}

static void
f_teardown(void)
{
	harness_cleanup(&f_srv);
}

/* Each broken start: a non-zero exit and exactly one error line that names the culprit. */
static void
expect_one_error(const char *culprit, const char *what)
{
	char *out = NULL;
	int status = run_daemon(&out);

	ck_assert_msg(status != 0, "%s: exit 0: %s", what, out);
	ck_assert_msg(count(out, "[error]") == 1, "%s: %d error lines: %s", what,
		      count(out, "[error]"), out);
	ck_assert_msg(strstr(out, culprit) != NULL, "%s: the error does not name '%s': %s", what,
		      culprit, out);
	ck_assert_msg(strstr(out, "ready") == NULL || strstr(out, "not ready") != NULL,
		      "%s: it said ready: %s", what, out);
	fprintf(stderr, "test_faults: %s: exit %d: %s", what, status, strstr(out, "[error]"));
	free(out);
}

START_TEST(test_missing_bundle)
{
	char bundle[600], db[600];

	if (!have_bundle())
		return;
	write_conf("@DIR@/no-such-bundle", "@DIR@/feedback.db");
	snprintf(bundle, sizeof(bundle), "%s/no-such-bundle", f_srv.dir);
	(void)db;
	expect_one_error(bundle, "missing bundle");
}
END_TEST

START_TEST(test_truncated_bundle_json)
{
	char culprit[600];

	if (!have_bundle())
		return;
	write_conf("@DIR@/cut", "@DIR@/feedback.db");
	make_bundle(f_srv.dir, "cut", 300, true);
	snprintf(culprit, sizeof(culprit), "%s/cut", f_srv.dir);
	expect_one_error(culprit, "truncated bundle.json");
}
END_TEST

START_TEST(test_bundle_without_model)
{
	char culprit[600];

	if (!have_bundle())
		return;
	write_conf("@DIR@/nomodel", "@DIR@/feedback.db");
	make_bundle(f_srv.dir, "nomodel", -1, false);
	snprintf(culprit, sizeof(culprit), "%s/nomodel", f_srv.dir);
	expect_one_error(culprit, "bundle without its model file");
}
END_TEST

/* Unwritable even for root: the database's directory is a regular file. */
START_TEST(test_unwritable_database)
{
	char path[600];
	FILE *f;

	if (!have_bundle())
		return;
	write_conf(f_bundle, "@DIR@/plainfile/feedback.db");
	snprintf(path, sizeof(path), "%s/plainfile", f_srv.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	expect_one_error("plainfile/feedback.db", "database under a regular file");
}
END_TEST

/* A database file that is not SQLite. */
START_TEST(test_corrupt_database)
{
	char path[600];
	FILE *f;

	if (!have_bundle())
		return;
	write_conf(f_bundle, "@DIR@/garbage.db");
	snprintf(path, sizeof(path), "%s/garbage.db", f_srv.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database, not even its header\n", f);
	fclose(f);
	expect_one_error("garbage.db", "database that is not SQLite");
}
END_TEST

struct client {
	pthread_t th;
	int port;
	atomic_bool *stop;
	long ok, failed;
	char last[256];
};

static void *
client_run(void *arg)
{
	struct client *c = arg;
	struct harness_response r;

	while (!atomic_load(c->stop)) {
		if (harness_http(c->port, "POST", "/v1/predict", "application/json", BODY,
				 strlen(BODY), NULL, &r) == 0 && r.status == 200) {
			c->ok++;
		} else {
			c->failed++;
			snprintf(c->last, sizeof(c->last), "%ld %s", r.status, r.body ? r.body : "");
		}
		harness_response_free(&r);
	}
	return NULL;
}

static int
wait_log(const char *needle, int ms)
{
	for (; ms > 0; ms -= 20) {
		if (harness_log_contains(&f_srv, needle))
			return 0;
		usleep(20000);
	}
	return -1;
}

/*
 * SIGHUP while 3 clients predict, with the bundle's bundle.json truncated on disk: every request
 * succeeds, the old model keeps serving, the reload is counted as failed; once the file is
 * whole again the next SIGHUP succeeds.
 */
START_TEST(test_sighup_broken_bundle_under_load)
{
	struct client cl[3];
	atomic_bool stop = false;
	char from[800], to[800], info[512];
	long ok = 0;
	int port, i;

	if (!have_bundle())
		return;
	write_conf("@DIR@/live", "@DIR@/feedback.db");
	make_bundle(f_srv.dir, "live", -1, true);
	ck_assert_int_eq(harness_start(&f_srv, NULL), 0);
	port = harness_port(&f_srv, "prediction");
	for (i = 0; i < 3; i++) {
		cl[i] = (struct client){ .port = port, .stop = &stop };
		ck_assert_int_eq(pthread_create(&cl[i].th, NULL, client_run, &cl[i]), 0);
	}
	usleep(200000);
	snprintf(from, sizeof(from), "%s/bundle.json", f_bundle);
	snprintf(to, sizeof(to), "%s/live/bundle.json", f_srv.dir);
	ck_assert_int_eq(copy_file(from, to, 500), 0);
	ck_assert_int_eq(harness_signal(&f_srv, SIGHUP), 0);
	ck_assert_msg(wait_log("reload failed", 5000) == 0 || wait_log("keeping", 100) == 0,
		      "no failed reload logged");
	usleep(300000);
	ck_assert_double_eq(harness_scrape(port, "rulsrv_config_last_reload_successful"), 0);
	ck_assert_int_eq(copy_file(from, to, -1), 0);
	ck_assert_int_eq(harness_signal(&f_srv, SIGHUP), 0);
	for (i = 0; i < 250; i++) {
		if (harness_scrape(port, "rulsrv_config_last_reload_successful") == 1)
			break;
		usleep(20000);
	}
	ck_assert_double_eq(harness_scrape(port, "rulsrv_config_last_reload_successful"), 1);
	usleep(200000);
	atomic_store(&stop, true);
	for (i = 0; i < 3; i++) {
		pthread_join(cl[i].th, NULL);
		ok += cl[i].ok;
		ck_assert_msg(cl[i].failed == 0, "client %d: %ld failed, last: %s", i, cl[i].failed,
			      cl[i].last);
	}
	fprintf(stderr, "test_faults: SIGHUP with a broken, then a mended bundle: %ld requests, "
		"none failed\n", ok);
	ck_assert_int_gt(ok, 50);
	{
		struct harness_response r;
		cJSON *root, *m;

		ck_assert_int_eq(harness_get(port, "/v1/models", &r), 0);
		root = cJSON_Parse(r.body);
		m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0);
		ck_assert_ptr_nonnull(m);
		snprintf(info, sizeof(info), "model_info{model=\"%s\",version=\"%s\",backend=\"forest\"}",
			 cJSON_GetObjectItem(m, "name")->valuestring,
			 cJSON_GetObjectItem(m, "version")->valuestring);
		cJSON_Delete(root);
		harness_response_free(&r);
		ck_assert_double_eq(harness_scrape(port, info), 1);
	}
	ck_assert_int_eq(harness_stop(&f_srv), 0);
}
END_TEST

Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("start");
	TCase *live = tcase_create("reload");

	suite_needs(s, "fd001");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_checked_fixture(tc, NULL, f_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_missing_bundle);
	tcase_add_test(tc, test_truncated_bundle_json);
	tcase_add_test(tc, test_bundle_without_model);
	tcase_add_test(tc, test_unwritable_database);
	tcase_add_test(tc, test_corrupt_database);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(live, NULL, f_teardown);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, test_sighup_broken_bundle_under_load);
	suite_add_tcase(s, live);
	return s;
}
