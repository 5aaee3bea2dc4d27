/* SPDX-License-Identifier: MIT */
/* test_metrics_docs.c - both services live after real traffic: promtool finds nothing to say
 * about either /metrics, and docs/METRICS.md lists exactly what each one exposes. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "cmapss.h"
#include "harness/harness.h"
#include "need.h"

static const char full_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\"; settings = { bundle = \"@DIR@/bundle\";\n"
	"            fleet = true; database = \"@DIR@/feedback.db\"; }; };\n"
	"  drift = { file = \"drift_psi.so\"; settings = { reference = \"@DIR@/bundle\"; }; };\n"
	"  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/feedback.db\"; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"  statsd = { file = \"export_statsd.so\";\n"
	"             settings = { port = 9; interval_ms = 100; }; };\n" /* nobody listens */
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\";\n"
	"                 plugins = [\"model\", \"drift\", \"feedback\", \"prometheus\",\n"
	"                            \"statsd\"]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\";\n"
	"               plugins = [\"feedback\", \"prometheus\", \"statsd\"]; };\n"
	"};\n";

/* Sources loaded per service in full_conf (the "source" column of METRICS.md). */
static const char *const prediction_sources[] = {"core", "model", "drift_psi", "feedback",
						 "export_statsd", NULL};
static const char *const feedback_sources[] = {"core", "feedback", "export_statsd", NULL};

/* Train a small bundle on the real FD001 data into dir/bundle; false (test_skip) when the
 * trainer is not built. */
static bool
train_bundle(const char *dir)
{
	static const char *const args[] = { "--rounds", "10", NULL };
	char data[PATH_MAX], trainer[PATH_MAX], out[PATH_MAX], why[512];

	ck_assert_int_eq(cmapss_find_dir(data, sizeof(data)), 0); /* suite_needs "cmapss" */
	snprintf(trainer, sizeof(trainer), "%s/bin/rulsrv-train", harness_build_dir());
	if (access(trainer, X_OK) != 0) {
		test_skip("%s is not built", trainer);
		return false;
	}
	snprintf(out, sizeof(out), "%s/bundle", dir);
	ck_assert_msg(harness_train_bundle(data, out, args, why, sizeof(why)) == 0, "%s", why);
	return true;
}

/* One engine, n cycles of plausible FD001 readings. */
static char *
predict_body(int unit, int n)
{
	static const double base[24] = {0.0, 0.0, 100.0, 518.67, 642.5, 1590, 1408, 14.62, 21.61,
					 553.9, 2388.06, 9050, 1.3, 47.4, 521.7, 2388.05, 8135,
					 8.42, 0.03, 392, 2388, 100, 38.9, 23.3};
	size_t cap = 64 + (size_t)n * 400, len = 0;
	char *b = malloc(cap);
	int c, i;

	len += (size_t)snprintf(b + len, cap - len, "{\"unit\": %d, \"cycles\": [", unit);
	for (c = 1; c <= n; c++) {
		len += (size_t)snprintf(b + len, cap - len, "%s{\"cycle\": %d, \"settings\": [",
					c > 1 ? "," : "", c);
		for (i = 0; i < 24; i++)
			len += (size_t)snprintf(b + len, cap - len, "%s%.4f",
						i == 3 ? "], \"sensors\": [" : (i ? "," : ""),
						base[i] * (1 + 0.0005 * ((c * 7 + i) % 5)));
		len += (size_t)snprintf(b + len, cap - len, "]}");
	}
	snprintf(b + len, cap - len, "]}");
	return b;
}

static void
expect_status(int port, const char *method, const char *path, const char *body, long status)
{
	struct harness_response r;

	ck_assert_int_eq(harness_http(port, method, path, body ? "application/json" : NULL, body,
				      body ? strlen(body) : 0, NULL, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: got %ld, want %ld: %s", method, path, r.status,
		      status, r.body);
	harness_response_free(&r);
}

/* Real traffic through every instrumented path: good and bad predictions, feedback. */
static void
traffic(int pred, int fb)
{
	char *body;
	int u;

	for (u = 1; u <= 20; u++) {
		body = predict_body(u, 5 + u);
		expect_status(pred, "POST", "/v1/predict", body, 200);
		free(body);
	}
	expect_status(pred, "POST", "/v1/predict", "{\"unit\": 1", 400);
	expect_status(pred, "POST", "/v1/predict", "{\"unit\": 1}", 422);
	expect_status(pred, "GET", "/v1/models", NULL, 200);
	expect_status(pred, "GET", "/v1/drift", NULL, 200);
	expect_status(pred, "GET", "/no/such/path", NULL, 404);
	expect_status(fb, "POST", "/v1/feedback",
		      "{\"unit\": 7, \"cycle\": 12, \"actual_rul\": 80, \"predicted_rul\": 83.5}", 200);
	expect_status(fb, "POST", "/v1/feedback", "{\"unit\": 7", 400);
	expect_status(fb, "GET", "/v1/feedback/stats", NULL, 200);
}

static char *
scrape(int port)
{
	struct harness_response r;
	char *body;

	ck_assert_int_eq(harness_get(port, "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "text/plain; version=0.0.4; charset=utf-8"));
	body = r.body;
	r.body = NULL;
	harness_response_free(&r);
	return body;
}

static bool
start_full(struct harness_server *s)
{
	ck_assert_int_eq(harness_prepare(s, full_conf), 0);
	if (!train_bundle(s->dir)) {
		harness_cleanup(s);
		return false;
	}
	ck_assert_int_eq(harness_start(s, NULL), 0);
	return true;
}

START_TEST(test_promtool_live)
{
	const char *const services[] = {"prediction", "feedback"};
	struct harness_server s;
	char file[PATH_MAX], cmd[PATH_MAX + 64];
	char *out;
	int status;

	if (!start_full(&s))
		return;
	traffic(harness_port(&s, "prediction"), harness_port(&s, "feedback"));
	for (size_t i = 0; i < 2; i++) {
		const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		char *body = scrape(harness_port(&s, services[i]));
		FILE *f;

		snprintf(file, sizeof(file), "%s/%s.prom", s.dir, services[i]);
		f = fopen(file, "w");
		ck_assert_ptr_nonnull(f);
		fputs(body, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", file);
		ck_assert_int_eq(harness_run(argv, &out, &status), 0);
		ck_assert_msg(status == 0 && out[0] == '\0', "promtool on %s /metrics (status %d):\n%s",
			      services[i], status, out);
		free(out);
		free(body);
	}
	harness_cleanup(&s);
}
END_TEST

/* ---- docs/METRICS.md against a live exposition --------------------------------------------- */

struct doc_row {
	char name[128];
	char type[16];
	char labels[256]; /* "a,b" without spaces, "" for none */
	char service[32];
	char source[32];
};

static void
trim_cell(char *out, size_t size, const char *start, size_t len, bool drop_spaces)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		char c = start[i];

		if (c == '`' || (c == ' ' && (drop_spaces || n == 0)))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Rows of the table: lines starting with "| `". */
static size_t
doc_rows(struct doc_row *rows, size_t max)
{
	char path[PATH_MAX], line[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/METRICS.md", harness_source_dir());
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f) != NULL && n < max) {
		const char *cell[10];
		size_t cells = 0;

		if (strncmp(line, "| `", 3) != 0)
			continue;
		for (char *p = line; *p != '\0' && cells < 10; p++)
			if (*p == '|')
				cell[cells++] = p + 1;
		ck_assert_msg(cells >= 9, "METRICS.md row with %zu cells: %s", cells, line);
		trim_cell(rows[n].name, sizeof(rows[n].name), cell[0], (size_t)(cell[1] - cell[0] - 1), true);
		trim_cell(rows[n].type, sizeof(rows[n].type), cell[1], (size_t)(cell[2] - cell[1] - 1), true);
		trim_cell(rows[n].labels, sizeof(rows[n].labels), cell[2], (size_t)(cell[3] - cell[2] - 1), true);
		trim_cell(rows[n].service, sizeof(rows[n].service), cell[4], (size_t)(cell[5] - cell[4] - 1), true);
		trim_cell(rows[n].source, sizeof(rows[n].source), cell[5], (size_t)(cell[6] - cell[5] - 1), true);
		n++;
	}
	fclose(f);
	return n;
}

/* The TYPE of name in the exposition, or NULL. */
static bool
exposed_type(const char *expo, const char *name, char *type, size_t size)
{
	char needle[160];
	const char *p;

	snprintf(needle, sizeof(needle), "# TYPE %.140s ", name);
	p = strstr(expo, needle);
	while (p != NULL && p != expo && p[-1] != '\n')
		p = strstr(p + 1, needle);
	if (p == NULL)
		return false;
	p += strlen(needle);
	snprintf(type, size, "%.*s", (int)strcspn(p, "\n"), p);
	return true;
}

/*
 * Label names of the first sample of name ("a,b"), without le; false when the family has no
 * sample yet. Histograms are read from their _count line.
 */
static bool
exposed_labels(const char *expo, const char *name, bool histogram, char *out, size_t size)
{
	char prefix[160];
	const char *p = expo;
	size_t n = 0, plen;

	snprintf(prefix, sizeof(prefix), "%.140s%s", name, histogram ? "_count" : "");
	plen = strlen(prefix);
	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, plen) == 0 && (p[plen] == ' ' || p[plen] == '{'))
			break;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (p == NULL || *p == '\0')
		return false;
	out[0] = '\0';
	p += plen;
	if (*p != '{')
		return true;
	p++;
	while (*p != '}' && *p != '\0') {
		size_t k = strcspn(p, "=");

		n += (size_t)snprintf(out + n, size - n, "%s%.*s", n ? "," : "", (int)k, p);
		p += k + 2; /* =" */
		while (*p != '"' && *p != '\0')
			p += *p == '\\' ? 2 : 1;
		p++;
		if (*p == ',')
			p++;
	}
	return true;
}

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static void
compare(const char *service, const char *expo, const char *const *sources,
	const struct doc_row *rows, size_t n_rows)
{
	char type[32], labels[256], name[160];
	const char *p;
	size_t checked = 0;

	/* every documented metric of this service is there, with its type and labels */
	for (size_t i = 0; i < n_rows; i++) {
		const struct doc_row *r = &rows[i];

		if (strcmp(r->service, "every") != 0 && strcmp(r->service, service) != 0)
			continue;
		if (!in_list(sources, r->source)) {
			fprintf(stderr, "metrics_docs: %s: not checked: %s (source %s not loaded)\n",
				service, r->name, r->source);
			continue;
		}
		ck_assert_msg(exposed_type(expo, r->name, type, sizeof(type)),
			      "%s: documented %s is not exposed", service, r->name);
		ck_assert_msg(strcmp(type, r->type) == 0, "%s: %s is a %s, documented as %s", service,
			      r->name, type, r->type);
		if (exposed_labels(expo, r->name, strcmp(type, "histogram") == 0, labels,
				   sizeof(labels)))
			ck_assert_msg(strcmp(labels, r->labels) == 0,
				      "%s: %s has labels {%s}, documented {%s}", service, r->name,
				      labels, r->labels);
		else
			fprintf(stderr, "metrics_docs: %s: %s has no sample yet, labels not compared\n",
				service, r->name);
		checked++;
	}
	ck_assert_uint_gt(checked, 15);
	/* every exposed family is documented for this service */
	for (p = strstr(expo, "# TYPE "); p != NULL; p = strstr(p + 1, "\n# TYPE ")) {
		bool found = false;

		p += p[0] == '\n';
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + 7, " \n"), p + 7);
		for (size_t i = 0; i < n_rows && !found; i++)
			found = strcmp(rows[i].name, name) == 0 &&
				(strcmp(rows[i].service, "every") == 0 ||
				 strcmp(rows[i].service, service) == 0);
		ck_assert_msg(found, "%s exposes %s, which docs/METRICS.md does not list for it",
			      service, name);
	}
}

START_TEST(test_docs_match_live)
{
	static struct doc_row rows[256];
	struct harness_server s;
	size_t n;
	char *pm, *fm;

	n = doc_rows(rows, 256);
	ck_assert_uint_gt(n, 30);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strcmp(rows[i].type, "counter") == 0 || strcmp(rows[i].type, "gauge") == 0 ||
				      strcmp(rows[i].type, "histogram") == 0,
			      "METRICS.md: %s: bad type '%s'", rows[i].name, rows[i].type);
		ck_assert_msg(strcmp(rows[i].service, "every") == 0 ||
				      strcmp(rows[i].service, "prediction") == 0 ||
				      strcmp(rows[i].service, "feedback") == 0,
			      "METRICS.md: %s: bad service '%s'", rows[i].name, rows[i].service);
	}
	if (!start_full(&s))
		return;
	traffic(harness_port(&s, "prediction"), harness_port(&s, "feedback"));
	usleep(300000); /* a few statsd pushes, so its own counters have samples */
	pm = scrape(harness_port(&s, "prediction"));
	fm = scrape(harness_port(&s, "feedback"));
	compare("prediction", pm, prediction_sources, rows, n);
	compare("feedback", fm, feedback_sources, rows, n);
	free(pm);
	free(fm);
	harness_cleanup(&s);
}
END_TEST

Suite *metrics_docs_suite(void);

Suite *
metrics_docs_suite(void)
{
	Suite *s = suite_create("metrics_docs");
	TCase *tc = tcase_create("live");

	suite_needs(s, "cmapss");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_docs_match_live);
	suite_add_tcase(s, tc);
	tc = tcase_create("promtool");
	tcase_needs(tc, "promtool");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_promtool_live);
	suite_add_tcase(s, tc);
	return s;
}
