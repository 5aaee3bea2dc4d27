/* SPDX-License-Identifier: MIT */
/* test_export_prometheus.c - the built export_prometheus.so, loaded with dlopen against a fake
 * host over the real registry: escaping, histogram lines, number formatting, settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "fake_host.h"
#include "metrics.h"
#include "need.h"

struct prom_fixture {
	void *dl;
	const struct rulsrv_plugin_descriptor *d;
	struct rulsrv_host host;
	struct rulsrv_settings settings;
	void *state;
};

static int
prom_start(struct prom_fixture *f, const char *path_setting)
{
	memset(f, 0, sizeof(*f));
	f->d = fake_load("export_prometheus.so", &f->dl);
	ck_assert_ptr_nonnull(f->d);
	ck_assert_uint_eq(f->d->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_str_eq(f->d->kind, "exporter");
	f->host.registry = metrics_registry_new();
	if (path_setting != NULL) {
		f->settings.names[0] = "path";
		f->settings.values[0] = path_setting;
	}
	return f->d->init(&f->host, &fake_api, &f->settings, &f->state);
}

static void
prom_stop(struct prom_fixture *f)
{
	if (f->d->fini != NULL && f->state != NULL)
		f->d->fini(f->state);
	metrics_registry_free(f->host.registry);
	dlclose(f->dl);
}

/* GET the exporter's route; the body is returned NUL-terminated (caller frees). */
static char *
prom_scrape(struct prom_fixture *f, struct rulsrv_response *resp)
{
	const struct fake_route *route = &f->host.routes[0];
	struct rulsrv_request req = {.method = "GET", .path = route->path, .body = ""};
	char *body;

	memset(resp, 0, sizeof(*resp));
	ck_assert_uint_eq(f->host.route_count, 1);
	route->fn(route->ud, &req, resp);
	ck_assert_uint_eq(resp->status, 200);
	body = malloc(resp->len + 1);
	memcpy(body, resp->body, resp->len);
	body[resp->len] = '\0';
	free(resp->body);
	resp->body = NULL;
	return body;
}

START_TEST(test_route_and_content_type)
{
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	char *body;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_uint_eq(f.host.route_count, 1);
	ck_assert_str_eq(f.host.routes[0].method, "GET");
	ck_assert_str_eq(f.host.routes[0].path, "/metrics");
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_COUNTER, "a_total", "A thing.",
					     NULL, NULL, 0, &m), 0);
	fake_api.counter_add(fake_api.series(m, NULL), 3);
	body = prom_scrape(&f, &resp);
	ck_assert_str_eq(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_str_eq(body, "# HELP a_total A thing.\n# TYPE a_total counter\na_total 3\n");
	free(body);
	prom_stop(&f);
}
END_TEST

START_TEST(test_path_setting)
{
	struct prom_fixture f;

	ck_assert_int_eq(prom_start(&f, "/prom/metrics"), 0);
	ck_assert_uint_eq(f.host.route_count, 1);
	ck_assert_str_eq(f.host.routes[0].path, "/prom/metrics");
	ck_assert(fake_settings_all_read(&f.settings));
	prom_stop(&f);
	ck_assert_int_lt(prom_start(&f, "metrics"), 0);
	ck_assert_int_eq(f.settings.errors, 1);
	prom_stop(&f);
}
END_TEST

START_TEST(test_escaping)
{
	const char *const labels[] = {"path", "q", NULL};
	const char *const values[] = {"C:\\dir\\x", "say \"hi\"\nbye", NULL};
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	char *body;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_GAUGE, "esc",
					     "Back\\slash, \"quotes\" stay,\nnewline.", labels, NULL,
					     0, &m), 0);
	fake_api.gauge_set(fake_api.series(m, values), 1);
	body = prom_scrape(&f, &resp);
	ck_assert_str_eq(body, "# HELP esc Back\\\\slash, \"quotes\" stay,\\nnewline.\n"
			       "# TYPE esc gauge\n"
			       "esc{path=\"C:\\\\dir\\\\x\",q=\"say \\\"hi\\\"\\nbye\"} 1\n");
	free(body);
	prom_stop(&f);
}
END_TEST

START_TEST(test_histogram_lines)
{
	const char *const labels[] = {"model", NULL};
	const char *const values[] = {"fd001", NULL};
	const double b[] = {0.0001, 0.005, 0.25, 1};
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	struct rulsrv_series *s;
	char *body;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_HISTOGRAM, "lat_seconds",
					     "Latency.", labels, b, 4, &m), 0);
	s = fake_api.series(m, values);
	fake_api.histogram_observe(s, 0.00006103515625); /* 2^-14: sums exactly */
	fake_api.histogram_observe(s, 0.00390625);
	fake_api.histogram_observe(s, 0.125);
	fake_api.histogram_observe(s, 3);
	body = prom_scrape(&f, &resp);
	ck_assert_str_eq(body, "# HELP lat_seconds Latency.\n"
			       "# TYPE lat_seconds histogram\n"
			       "lat_seconds_bucket{model=\"fd001\",le=\"0.0001\"} 1\n"
			       "lat_seconds_bucket{model=\"fd001\",le=\"0.005\"} 2\n"
			       "lat_seconds_bucket{model=\"fd001\",le=\"0.25\"} 3\n"
			       "lat_seconds_bucket{model=\"fd001\",le=\"1\"} 3\n"
			       "lat_seconds_bucket{model=\"fd001\",le=\"+Inf\"} 4\n"
			       "lat_seconds_sum{model=\"fd001\"} 3.12896728515625\n"
			       "lat_seconds_count{model=\"fd001\"} 4\n");
	free(body);
	prom_stop(&f);
}
END_TEST

/* Prometheus refuses a whole scrape over one bad UTF-8 byte: those become U+FFFD. */
START_TEST(test_invalid_utf8)
{
	const char *const labels[] = {"label", NULL};
	const char *const good[] = {"\xc2\xb5s \xe2\x82\xac \xf0\x9f\x9a\x80", NULL};
	const char *const bad[] = {"a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82", NULL};
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	char *body;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_GAUGE, "u", "Caf\xe9.", labels,
					     NULL, 0, &m), 0);
	fake_api.gauge_set(fake_api.series(m, good), 1);
	fake_api.gauge_set(fake_api.series(m, bad), 2);
	body = prom_scrape(&f, &resp);
	ck_assert_str_eq(body, "# HELP u Caf\xef\xbf\xbd.\n# TYPE u gauge\n"
			       "u{label=\"\xc2\xb5s \xe2\x82\xac \xf0\x9f\x9a\x80\"} 1\n"
			       "u{label=\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
			       "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			       "d\xef\xbf\xbd\xef\xbf\xbd\"} 2\n");
	free(body);
	prom_stop(&f);
}
END_TEST

START_TEST(test_number_formatting)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{0, "0"},
		{-0.0, "0"},
		{1e6, "1000000"},
		{123456789012.0, "123456789012"},
		{-42, "-42"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{1e-7, "1e-07"},
		{2.5e-3, "0.0025"},
		{1152921504606846976.0, "1.152921504606847e+18"},
		{INFINITY, "+Inf"},
		{-INFINITY, "-Inf"},
		{NAN, "NaN"},
	};
	const char *const labels[] = {"i", NULL};
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	char *body, want[128], idx[8];
	size_t i;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_GAUGE, "num", "N.", labels, NULL,
					     0, &m), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const v[] = {idx, NULL};

		snprintf(idx, sizeof(idx), "%zu", i);
		fake_api.gauge_set(fake_api.series(m, v), cases[i].v);
	}
	body = prom_scrape(&f, &resp);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "num{i=\"%zu\"} %s\n", i, cases[i].text);
		ck_assert_msg(strstr(body, want) != NULL, "missing '%s' in:\n%s", want, body);
		/* and it reads back to the same double */
		if (!isnan(cases[i].v))
			ck_assert(strtod(strstr(body, want) + strlen(want) - strlen(cases[i].text) - 1,
					 NULL) == cases[i].v);
	}
	free(body);
	prom_stop(&f);
}
END_TEST

/* promtool must have nothing to say about a scrape with every kind in it. */
START_TEST(test_promtool_clean)
{
	const char *const labels[] = {"model", "code", NULL};
	const char *const values[] = {"fd\"001\\", "200", NULL};
	const char *const hl[] = {"model", NULL};
	const char *const bad_utf8[] = {"Q2 \xff\xfe", NULL};
	const double b[] = {0.001, 0.01, 0.1, 1};
	char file[] = "/tmp/rulsrv-prom-XXXXXX", cmd[256], out[4096];
	struct prom_fixture f;
	struct rulsrv_response resp;
	struct rulsrv_metric *m;
	size_t n;
	FILE *p;
	char *body;
	int fd, status;

	ck_assert_int_eq(prom_start(&f, NULL), 0);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_COUNTER, "http_requests_total",
					     "Requests.", labels, NULL, 0, &m), 0);
	fake_api.counter_add(fake_api.series(m, values), 12);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_HISTOGRAM,
					     "http_request_duration_seconds", "Durations.", hl, b, 4,
					     &m), 0);
	fake_api.histogram_observe(fake_api.series(m, values), 0.02);
	ck_assert_int_eq(fake_api.metric_new(&f.host, RULSRV_METRIC_GAUGE, "model_rmse",
					     "RMSE with a \\ and a\nnewline.", hl, NULL, 0, &m), 0);
	fake_api.gauge_set(fake_api.series(m, values), NAN);
	fake_api.gauge_set(fake_api.series(m, bad_utf8), 1);
	ck_assert_int_eq(process_metrics_register(f.host.registry), 0);
	body = prom_scrape(&f, &resp);
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", file);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(file);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0,
		      "promtool said (status %d):\n%s\non:\n%s", status, out, body);
	free(body);
	prom_stop(&f);
}
END_TEST

Suite *export_prometheus_suite(void);

Suite *
export_prometheus_suite(void)
{
	Suite *s = suite_create("export_prometheus");
	TCase *tc = tcase_create("render");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_route_and_content_type);
	tcase_add_test(tc, test_path_setting);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_histogram_lines);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_number_formatting);
	suite_add_tcase(s, tc);
	tc = tcase_create("promtool");
	tcase_needs(tc, "promtool");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_promtool_clean);
	suite_add_tcase(s, tc);
	return s;
}
