/* SPDX-License-Identifier: MIT */
/* test_replay_tool.c - rulsrv-replay's parts without a server: options, quarters, fleet, bodies. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "client.h"
#include "control.h"
#include "fleet.h"
#include "harness/harness.h"
#include "options.h"
#include "payload.h"
#include "quarter.h"
#include "report.h"
#include "summary.h"

Suite *replay_tool_suite(void);

static char tmpdir[64];

static void
tmp_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/replay-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A C-MAPSS file: unit u has cycles[u - 1] rows; values encode unit, cycle and column. */
static void
write_train(const char *subset, const int *cycles, int units)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/train_%s.txt", tmpdir, subset);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int u = 1; u <= units; u++) {
		for (int c = 1; c <= cycles[u - 1]; c++) {
			fprintf(f, "%d %d", u, c);
			for (int i = 0; i < CMAPSS_N_INPUTS; i++)
				fprintf(f, " %.4f", u * 100 + c + i / 100.0 - 0.0007);
			fputc('\n', f);
		}
	}
	fclose(f);
}

static int
run_options(struct replay_options *o, char *err, size_t len, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *out = fopen("/dev/null", "w");
	int r;

	argv[argc++] = "rulsrv-replay";
	va_start(ap, len);
	for (char *a = va_arg(ap, char *); a != NULL && argc < 31; a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	r = options_parse(argc, argv, o, out, err, len);
	fclose(out);
	return r;
}

START_TEST(test_options_defaults_and_normalising)
{
	struct replay_options o;
	char err[256], cwd[4096];

	/* In the source tree, where `make run` runs, its models/fd001 comes before the bundle of
	 * an installed package (which test_deb may be installing at this moment). */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(harness_source_dir()), 0);
	ck_assert_int_eq(run_options(&o, err, sizeof(err), NULL), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_uint_eq(o.quarter_count, 4);
	ck_assert_str_eq(o.subsets[3], "FD004");
	ck_assert_str_eq(o.predict_url, "http://127.0.0.1:3000");
	ck_assert_str_eq(o.feedback_url, "http://127.0.0.1:3001");
	ck_assert_str_eq(o.bundle_dir, "models/fd001");
	ck_assert_uint_eq(o.units, 0);
	ck_assert(o.rate == 0);
	options_free(&o);

	ck_assert_int_eq(run_options(&o, err, sizeof(err), "--predict", "http://h:9/", "--quarters",
				     "fd003,FD001", "--rate", "12.5", "--units", "7", NULL),
			 0);
	ck_assert_str_eq(o.predict_url, "http://h:9");
	ck_assert_uint_eq(o.quarter_count, 2);
	ck_assert_str_eq(o.subsets[0], "FD003");
	ck_assert(o.rate == 12.5);
	ck_assert_uint_eq(o.units, 7);
	options_free(&o);
}
END_TEST

START_TEST(test_options_errors_name_the_option)
{
	static const char *const cases[][3] = {
		{ "--quarters", "FD001,FD005", "invalid --quarters 'FD001,FD005'" },
		{ "--units", "-3", "invalid --units '-3'" },
		{ "--rate", "fast", "invalid --rate 'fast'" },
		{ "--predict", "localhost:3000", "invalid --predict 'localhost:3000'" },
		{ "--concurrency", "0", "invalid --concurrency '0'" },
		{ "--token", "/nonexistent/token", "cannot read token file '/nonexistent/token'" },
	};
	struct replay_options o;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_lt(run_options(&o, err, sizeof(err), cases[i][0], cases[i][1], NULL),
				 0);
		ck_assert_msg(strstr(err, cases[i][2]) != NULL, "%s %s: '%s'", cases[i][0],
			      cases[i][1], err);
		options_free(&o);
	}
}
END_TEST

START_TEST(test_options_token_trimmed)
{
	struct replay_options o;
	char err[256], path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	f = fopen(path, "w");
	fputs("  s3cret \n", f);
	fclose(f);
	ck_assert_int_eq(run_options(&o, err, sizeof(err), "--token", path, NULL), 0);
	ck_assert_str_eq(o.token, "s3cret");
	options_free(&o);
}
END_TEST

/* A token file of more than 4096 bytes, of two lines or of blanks only is refused by name. */
START_TEST(test_options_token_refused)
{
	static const struct {
		size_t fill;
		const char *text, *says;
	} cases[] = {
		{ 4097, "", "is larger than 4096 bytes" },
		{ 0, "one\ntwo\n", "must hold one non-empty line" },
		{ 0, " \n\t\n", "must hold one non-empty line" },
	};
	struct replay_options o;
	char err[256], path[128];
	size_t i, k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		for (k = 0; k < cases[i].fill; k++)
			fputc('t', f);
		fputs(cases[i].text, f);
		fclose(f);
		ck_assert_int_lt(run_options(&o, err, sizeof(err), "--token", path, NULL), 0);
		ck_assert_msg(strstr(err, cases[i].says) != NULL && strstr(err, path) != NULL,
			      "case %zu: '%s'", i, err);
		options_free(&o);
	}
	/* Exactly 4096 bytes is a token. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (k = 0; k < 4096; k++)
		fputc('t', f);
	fclose(f);
	ck_assert_int_eq(run_options(&o, err, sizeof(err), "--token", path, NULL), 0);
	ck_assert_uint_eq(strlen(o.token), 4096);
	options_free(&o);
}
END_TEST

/* The model's own subset replays only its held-out engines; ids are quarter*1000 + unit. */
START_TEST(test_quarter_holdout_and_ids)
{
	static const int cycles[] = { 5, 7, 3 };
	int64_t held[] = { 2 };
	struct bundle b = { .dir = "b", .holdout_units = held, .holdout_count = 1,
			    .holdout_subset = "FD001" };
	struct quarter q;
	char err[256];

	write_train("FD001", cycles, 3);
	write_train("FD002", cycles, 3);
	ck_assert_int_eq(quarter_load(&q, 1, "FD001", tmpdir, &b, 0, 1, false, err, sizeof(err)), 0);
	ck_assert(q.holdout);
	ck_assert_uint_eq(q.engine_count, 1);
	ck_assert_int_eq(q.engines[0].unit, 1002);
	ck_assert_int_eq(q.engines[0].last_cycle, 7);
	ck_assert_uint_eq(q.cycle_count, 7);
	ck_assert_str_eq(q.label, "Q1 FD001");
	quarter_free(&q);

	ck_assert_int_eq(quarter_load(&q, 3, "FD002", tmpdir, &b, 0, 1, false, err, sizeof(err)), 0);
	ck_assert(!q.holdout);
	ck_assert_uint_eq(q.engine_count, 3);
	ck_assert_uint_eq(q.cycle_count, 15);
	for (size_t i = 0; i < q.engine_count; i++)
		ck_assert_int_eq(q.engines[i].unit, 3000 + q.engines[i].file_unit);
	quarter_free(&q);
}
END_TEST

/* --units samples by seed, reproducibly; a missing held-out unit or file is named. */
START_TEST(test_quarter_sample_and_errors)
{
	static const int cycles[] = { 4, 4, 4, 4, 4, 4, 4, 4 };
	int64_t held[] = { 9 };
	struct bundle b = { .dir = "bdir", .holdout_units = held, .holdout_count = 1,
			    .holdout_subset = "FD003" };
	struct quarter q1, q2;
	char err[256];

	write_train("FD003", cycles, 8);
	ck_assert_int_eq(quarter_load(&q1, 2, "FD003", tmpdir, NULL, 3, 42, true, err, sizeof(err)), 0);
	ck_assert_int_eq(quarter_load(&q2, 2, "FD003", tmpdir, NULL, 3, 42, true, err, sizeof(err)), 0);
	ck_assert_uint_eq(q1.engine_count, 3);
	ck_assert_uint_eq(q1.cycle_count, 12);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(q1.engines[i].unit, q2.engines[i].unit);
		ck_assert_uint_eq(q1.engines[i].start, q2.engines[i].start);
		ck_assert_uint_lt(q1.engines[i].start, q1.engines[i].rows);
	}
	quarter_free(&q1);
	quarter_free(&q2);

	ck_assert_int_lt(quarter_load(&q1, 1, "FD003", tmpdir, &b, 0, 1, false, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "held-out unit 9 of bundle 'bdir' is missing") != NULL, "%s",
		      err);
	quarter_free(&q1);
	ck_assert_int_lt(quarter_load(&q1, 1, "FD004", tmpdir, NULL, 0, 1, false, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "missing data file") && strstr(err, "train_FD004.txt"), "%s",
		      err);
	quarter_free(&q1);
}
END_TEST

/* A stream that starts mid-life wraps around to the first cycles, each exactly once. */
START_TEST(test_engine_stream_wraps)
{
	struct engine e = { .rows = 5, .start = 3 };
	static const size_t expect[] = { 3, 4, 0, 1, 2 };

	/* lives begin where the stream starts and where it wraps */
	static const size_t life[] = { 3, 3, 0, 0, 0 };

	for (size_t k = 0; k < 5; k++) {
		ck_assert_uint_eq(engine_cycle_index(&e, k), expect[k]);
		ck_assert_uint_eq(engine_life_start(&e, k), life[k]);
	}
	e.start = 0;
	ck_assert_uint_eq(engine_cycle_index(&e, 4), 4);
	ck_assert_uint_eq(engine_life_start(&e, 4), 0);
}
END_TEST

/* The body: the last `window` cycles up to the one predicted, numbers as in the file. */
START_TEST(test_payload_window)
{
	static const int cycles[] = { 6, 2 };
	struct quarter q;
	struct buf body = { 0 };
	char err[256];
	cJSON *root, *c;
	const struct engine *e = NULL;

	write_train("FD002", cycles, 2);
	ck_assert_int_eq(quarter_load(&q, 2, "FD002", tmpdir, NULL, 0, 1, false, err, sizeof(err)), 0);
	for (size_t i = 0; i < q.engine_count; i++)
		if (q.engines[i].file_unit == 1)
			e = &q.engines[i];
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(payload_predict(&body, &q, e, 4, 3), 0);
	root = cJSON_Parse(body.data);
	ck_assert_ptr_nonnull(root);
	ck_assert_int_eq(cJSON_GetObjectItem(root, "unit")->valueint, 2001);
	c = cJSON_GetObjectItem(root, "cycles");
	ck_assert_int_eq(cJSON_GetArraySize(c), 3);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "cycle")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2), "cycle")->valueint, 5);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2),
								 "settings")), 3);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2),
								 "sensors")), 21);
	/* setting1 of unit 1, cycle 5: 100 + 5 + 0 - 0.0007, exactly as written */
	ck_assert(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2), "settings"), 0)
			  ->valuedouble == 104.9993);
	cJSON_Delete(root);

	ck_assert_int_eq(payload_predict(&body, &q, e, 1, 30), 0); /* shorter than the window */
	root = cJSON_Parse(body.data);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "cycles")), 2);
	cJSON_Delete(root);

	/* the streaming body: that one cycle, with the unit, for POST /v1/cycles */
	ck_assert_int_eq(payload_cycle(&body, &q, e, 4), 0);
	root = cJSON_Parse(body.data);
	ck_assert_ptr_nonnull(root);
	ck_assert_int_eq(cJSON_GetObjectItem(root, "unit")->valueint, 2001);
	ck_assert_int_eq(cJSON_GetObjectItem(root, "cycle")->valueint, 5);
	ck_assert(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "settings"), 0)->valuedouble ==
		  104.9993);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "sensors")), 21);
	cJSON_Delete(root);

	ck_assert_int_eq(payload_failure(&body, e), 0);
	ck_assert_str_eq(body.data, "{\"unit\":2001,\"failed_at_cycle\":6}");
	buf_free(&body);
	quarter_free(&q);
}
END_TEST

START_TEST(test_payload_answers)
{
	static const char err_body[] =
		"{\"error\":{\"code\":\"invalid\",\"message\":\"cycles[0].sensors: expected 21 "
		"numbers, got 20\"}}";
	char msg[128];
	double rul = 0;

	ck_assert_int_eq(payload_parse_rul("{\"model\":\"m\",\"predictions\":[{\"unit\":7,"
					   "\"cycle\":3,\"rul\":83.5}]}", 61, &rul), 0);
	ck_assert(rul == 83.5);
	ck_assert_int_lt(payload_parse_rul("{\"predictions\":[]}", 18, &rul), 0);
	payload_error_message(err_body, strlen(err_body), msg, sizeof(msg));
	ck_assert_str_eq(msg, "invalid: cycles[0].sensors: expected 21 numbers, got 20");
	payload_error_message("<html>\nbad gateway", 18, msg, sizeof(msg));
	ck_assert_str_eq(msg, "<html>");
	payload_error_message("", 0, msg, sizeof(msg));
	ck_assert_str_eq(msg, "(empty body)");
}
END_TEST

/* At most `size` engines in service, taking turns, one request each; failures after the
 * delay; the next engine enters when one retires. */
START_TEST(test_fleet_turns)
{
	struct engine engines[3] = { { .unit = 1, .rows = 2 }, { .unit = 2, .rows = 1 },
				     { .unit = 3, .rows = 1 } };
	struct quarter q = { .engines = engines, .engine_count = 3 };
	struct fleet f;
	struct engine *a, *b;

	ck_assert_int_eq(fleet_init(&f, &q, 2), 0);
	a = fleet_next_cycle(&f);
	a->in_flight = true;
	a->sent++;
	b = fleet_next_cycle(&f);
	ck_assert_ptr_ne(a, b);
	b->in_flight = true;
	b->sent++;
	ck_assert_ptr_null(fleet_next_cycle(&f)); /* both have a request in flight */
	ck_assert_int_eq(a->unit, 1);
	ck_assert_int_eq(b->unit, 2);

	b->in_flight = false;
	b->answered = 1;
	b->answered_at = 10.0;
	ck_assert_ptr_null(fleet_next_failure(&f, 10.2, 0.5)); /* still within the delay */
	ck_assert_ptr_eq(fleet_next_failure(&f, 10.6, 0.5), b);
	b->failure_sent = true;
	ck_assert_ptr_null(fleet_next_cycle(&f)); /* a is in flight, b is done */
	fleet_retire(&f, b);
	ck_assert(b->finished);
	ck_assert_int_eq(fleet_next_cycle(&f)->unit, 3); /* entered in b's slot */
	ck_assert(!fleet_done(&f));
	a->finished = false;
	fleet_retire(&f, a);
	fleet_retire(&f, &engines[2]);
	ck_assert(fleet_done(&f));
	fleet_free(&f);
}
END_TEST

START_TEST(test_summary_scores)
{
	struct quarter_stats s = { .number = 2, .subset = "FD002", .requests = 2, .errors = 0,
				   .engines_done = 1, .seconds = 1 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_double_eq_tol(nasa_term(-13), exp(1) - 1, 1e-12);
	ck_assert_double_eq_tol(nasa_term(10), exp(1) - 1, 1e-12);
	stats_score(&s, 125, 200, 125); /* capped truth 125: no error; raw: 75 */
	stats_score(&s, 20, 10, 125);
	ck_assert_double_eq_tol(stats_rmse(&s, true), sqrt(100.0 / 2), 1e-12);
	ck_assert_double_eq_tol(stats_rmse(&s, false), sqrt((75.0 * 75 + 100) / 2), 1e-12);
	ck_assert_double_eq_tol(stats_nasa_mean(&s), (exp(1) - 1) / 2, 1e-12);

	f = open_memstream(&text, &len);
	summary_print(f, &s, 1, 125);
	fclose(f);
	ck_assert_msg(strstr(text, "Q2      FD002        1         2      0") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "   7.07 ") != NULL, "%s", text);
	free(text);
}
END_TEST

/* GET /v1/drift as the drift_psi plugin answers it; /v1/models. */
START_TEST(test_control_parsing)
{
	static const char drift[] =
		"{\"window\":{\"index\":3,\"label\":\"Q2 FD002\",\"observations\":900},"
		"\"status\":\"drift\",\"psi_max\":9.3,\"max_feature\":\"s17\",\"features\":["
		"{\"name\":\"setting1\",\"psi\":null},{\"name\":\"s9\",\"psi\":0.4},"
		"{\"name\":\"s17\",\"psi\":9.3}],\"last_window\":{\"features\":[{\"name\":\"s1\","
		"\"psi\":99}]}}";
	struct drift_report d;
	struct model_info m;

	ck_assert_int_eq(drift_report_parse(drift, strlen(drift), &d), 0);
	ck_assert_int_eq(d.window_index, 3);
	ck_assert_str_eq(d.label, "Q2 FD002");
	ck_assert(d.observations == 900);
	ck_assert_str_eq(d.status, "drift");
	ck_assert(d.max_psi == 9.3);
	ck_assert_str_eq(d.max_feature, "s17");
	/* every feature, in order, for the report's heatmap; no thresholds given: NAN */
	ck_assert_uint_eq(d.feature_count, 3);
	ck_assert_str_eq(d.feature[0], "setting1");
	ck_assert(isnan(d.psi[0]));
	ck_assert_str_eq(d.feature[2], "s17");
	ck_assert(d.psi[2] == 9.3);
	ck_assert(isnan(d.warn) && isnan(d.drift));
	ck_assert_int_lt(drift_report_parse("[1]", 3, &d), 0);

	ck_assert_int_eq(model_info_parse("{\"models\":[{\"name\":\"rul-fd001\",\"version\":\"v\","
					  "\"backend\":\"forest\"}]}", 68, &m), 0);
	ck_assert_str_eq(m.name, "rul-fd001");
	ck_assert_str_eq(m.backend, "forest");
}
END_TEST

/* A uniform sample of the predictions, for the report's chart: all of the first ones, then a
 * reservoir of the fixed size that keeps only values that were scored. */
START_TEST(test_summary_samples_predictions)
{
	static struct quarter_stats s;
	size_t i, late = 0;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < 10; i++)
		stats_score(&s, (double)i, (double)i + 1, 125);
	ck_assert_uint_eq(s.scored, 10);
	ck_assert(s.sample[9].predicted == 9 && s.sample[9].truth == 10);
	for (i = 10; i < 10 * QUARTER_SAMPLE; i++)
		stats_score(&s, (double)i, (double)i + 1, 125);
	for (i = 0; i < QUARTER_SAMPLE; i++) {
		ck_assert(s.sample[i].truth == s.sample[i].predicted + 1);
		if (s.sample[i].predicted >= 5 * QUARTER_SAMPLE)
			late++;
	}
	/* uniform: about half of the sample from the second half of the quarter */
	ck_assert_msg(late > QUARTER_SAMPLE * 4 / 10 && late < QUARTER_SAMPLE * 6 / 10,
		      "%zu of %d from the second half", late, QUARTER_SAMPLE);
}
END_TEST

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(test_report_page)
{
	static struct quarter_stats q[2];
	struct report_meta m = { "rul-fd001 v1 (forest)", "http://127.0.0.1:3000", "<data>", 1,
				 125, 12.5 };
	char path[128], err[512], *text;

	memset(q, 0, sizeof(q));
	for (size_t j = 0; j < 2; j++) {
		q[j].number = (unsigned)j + 1;
		snprintf(q[j].subset, sizeof(q[j].subset), "FD00%zu", j + 1);
		q[j].drift_valid = true;
		q[j].drift.warn = 0.1;
		q[j].drift.drift = 0.25;
		q[j].drift.feature_count = 3;
		snprintf(q[j].drift.feature[0], 16, "s2");
		snprintf(q[j].drift.feature[1], 16, "s3");
		snprintf(q[j].drift.feature[2], 16, "s4");
		q[j].drift.psi[0] = 0.05;
		q[j].drift.psi[1] = j ? 0.3 : 0.15;
		q[j].drift.psi[2] = NAN;
		snprintf(q[j].drift.status, sizeof(q[j].drift.status), j ? "drift" : "warn");
		q[j].drift.max_psi = q[j].drift.psi[1];
		snprintf(q[j].drift.max_feature, 16, "s3");
	}
	stats_score(&q[0], 100, 110, 125);
	stats_score(&q[0], 50, 40, 125); /* RMSE 10 */
	stats_score(&q[1], 30, 60, 125); /* RMSE 30 */
	snprintf(path, sizeof(path), "%s/report.html", tmpdir);
	ck_assert_int_eq(report_write(path, q, 2, &m, err, sizeof(err)), 0);
	text = slurp(path);
	ck_assert_msg(strstr(text, "<td class=\"rmse\">10.00</td>") != NULL, "%s", text);
	ck_assert(strstr(text, "<td class=\"rmse\">30.00</td>") != NULL);
	ck_assert(strstr(text, "&lt;data&gt;") != NULL); /* escaped, never markup */
	ck_assert(strstr(text, "<data>") == NULL);
	ck_assert_uint_eq(count(text, "<rect class=\"cell "), 6); /* 3 features x 2 quarters */
	ck_assert_uint_eq(count(text, "<rect class=\"cell ok\""), 2);
	ck_assert_uint_eq(count(text, "<rect class=\"cell warn\""), 1);
	ck_assert_uint_eq(count(text, "<rect class=\"cell drift\""), 1);
	ck_assert_uint_eq(count(text, "<rect class=\"cell none\""), 2);
	ck_assert_uint_eq(count(text, "<rect class=\"bar capped\""), 2);
	ck_assert_uint_eq(count(text, "<circle class=\"point\""), 3);
	ck_assert(strstr(text, "bundle's test RMSE 12.50") != NULL);
	ck_assert(strstr(text, "http") == strstr(text, "http://127.0.0.1:3000")); /* no link out */
	free(text);

	/* a directory that is not there: the error names the file, nothing is left behind */
	ck_assert_int_lt(report_write("/nonexistent/dir/r.html", q, 2, &m, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "/nonexistent/dir/r.html") != NULL, "%s", err);
}
END_TEST

START_TEST(test_options_report)
{
	struct replay_options o;
	char err[256];

	ck_assert_int_eq(run_options(&o, err, sizeof(err), "--report", "out.html", NULL), 0);
	ck_assert_str_eq(o.report_path, "out.html");
	options_free(&o);
	ck_assert_int_lt(run_options(&o, err, sizeof(err), "--report", "", NULL), 0);
	ck_assert_msg(strstr(err, "--report") != NULL, "%s", err);
	options_free(&o);
}
END_TEST

Suite *
replay_tool_suite(void)
{
	Suite *s = suite_create("replay_tool");
	TCase *tc = tcase_create("replay_tool");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_options_defaults_and_normalising);
	tcase_add_test(tc, test_options_errors_name_the_option);
	tcase_add_test(tc, test_options_token_trimmed);
	tcase_add_test(tc, test_options_token_refused);
	tcase_add_test(tc, test_quarter_holdout_and_ids);
	tcase_add_test(tc, test_quarter_sample_and_errors);
	tcase_add_test(tc, test_engine_stream_wraps);
	tcase_add_test(tc, test_payload_window);
	tcase_add_test(tc, test_payload_answers);
	tcase_add_test(tc, test_fleet_turns);
	tcase_add_test(tc, test_summary_scores);
	tcase_add_test(tc, test_control_parsing);
	tcase_add_test(tc, test_summary_samples_predictions);
	tcase_add_test(tc, test_report_page);
	tcase_add_test(tc, test_options_report);
	suite_add_tcase(s, tc);
	return s;
}
