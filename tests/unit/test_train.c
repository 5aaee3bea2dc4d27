/* SPDX-License-Identifier: MIT */
/* test_train.c - rulsrv-train end to end on synthetic data (and on the real data when present). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bundle.h"
#include "cmapss.h"
#include "need.h"
#include "synth_dir.h"

#define TRAIN_BIN RULSRV_BUILD_DIR "/bin/rulsrv-train"
#define SYNTH_BIN RULSRV_BUILD_DIR "/bin/cmapss-synth"

Suite *train_suite(void);

static char tmpdir[SYNTH_DIR_LEN];

static void
setup(void)
{
	ck_assert_msg(access(TRAIN_BIN, X_OK) == 0, "build rulsrv-train first: %s", TRAIN_BIN);
	synth_dir_new(tmpdir, "train", 7, 30);
}

static void
teardown(void)
{
	synth_dir_remove(tmpdir);
}

/* Run rulsrv-train with args (data and output under tmpdir); return its exit status. */
static int
train(const char *data, const char *out, const char *args)
{
	char cmd[12288];
	int st;

	snprintf(cmd, sizeof(cmd), "%s --data '%s' --out '%s/%s' --quiet %s >'%s/%s.log' 2>&1",
		 TRAIN_BIN, data, tmpdir, out, args, tmpdir, out);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The contents of tmpdir/name. */
static char *
slurp(const char *name)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	return buf;
}

static double
eval_number(const struct bundle *b, const char *subset, const char *key)
{
	const cJSON *row;

	cJSON_ArrayForEach(row, cJSON_GetObjectItem(b->evaluation, "test")) {
		if (strcmp(cJSON_GetObjectItem(row, "subset")->valuestring, subset) == 0)
			return cJSON_GetObjectItem(row, key)->valuedouble;
	}
	ck_abort_msg("no evaluation of %s", subset);
	return NAN;
}

/* RMSE of the best constant prediction in hindsight (the capped truth's deviation). */
static double
constant_rmse(const char *dir, const char *subset)
{
	char path[512], err[256];
	double *rul, sum = 0, ss = 0;
	size_t n, i;

	snprintf(path, sizeof(path), "%s/RUL_%s.txt", dir, subset);
	ck_assert_int_eq(cmapss_read_rul(path, &rul, &n, err, sizeof(err)), 0);
	for (i = 0; i < n; i++) {
		double v = fmin(125, rul[i]);

		sum += v;
		ss += v * v;
	}
	free(rul);
	return sqrt(ss / (double)n - (sum / (double)n) * (sum / (double)n));
}

START_TEST(deterministic_and_better_than_constant)
{
	char *m1, *m2, *log, path[256], err[512];
	struct bundle *b;
	double rmse, base;

	ck_assert_int_eq(train(tmpdir, "a", "--subset FD002 --no-tune --rounds 80 --eta 0.1 --seed 5 "
					    "--holdout 4 --threads 2"), 0);
	ck_assert_int_eq(train(tmpdir, "b", "--subset FD002 --no-tune --rounds 80 --eta 0.1 --seed 5 "
					    "--holdout 4 --threads 2"), 0);
	m1 = slurp("a/model.json");
	m2 = slurp("b/model.json");
	ck_assert_msg(strcmp(m1, m2) == 0, "same seed, different models");
	free(m1);
	free(m2);
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	ck_assert_msg(bundle_load(path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(b->subsets[0], "FD002");
	ck_assert_uint_eq(b->holdout_count, 4);
	ck_assert_str_eq(b->holdout_subset, "FD002");
	rmse = eval_number(b, "FD002", "rmse_capped");
	base = constant_rmse(tmpdir, "FD002");
	ck_assert_msg(rmse < 0.75 * base, "rmse %.2f vs constant %.2f", rmse, base);
	ck_assert_double_eq(eval_number(b, "FD002", "units"), 30);
	bundle_free(b);
	/* The table on stdout names the subset and its figures. */
	log = slurp("a.log");
	{
		const char *line = strstr(log, "\nFD002 ");
		unsigned units = 0;
		double capped = 0;

		ck_assert_msg(strstr(log, "rmse(capped)") && line, "%s", log);
		ck_assert_int_eq(sscanf(line, " FD002 %u %lf", &units, &capped), 2);
		ck_assert_uint_eq(units, 30);
		ck_assert_double_lt(fabs(capped - rmse), 0.01);
	}
	free(log);
}
END_TEST

START_TEST(seed_chooses_holdout)
{
	char path[256], err[512];
	struct bundle *a, *b;

	ck_assert_int_eq(train(tmpdir, "a", "--subset FD001 --no-tune --rounds 5 --seed 1 "
					    "--holdout 6"), 0);
	ck_assert_int_eq(train(tmpdir, "b", "--subset FD001 --no-tune --rounds 5 --seed 2 "
					    "--holdout 6"), 0);
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	ck_assert_int_eq(bundle_load(path, &a, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/b", tmpdir);
	ck_assert_int_eq(bundle_load(path, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(a->holdout_count, 6);
	ck_assert_msg(memcmp(a->holdout_units, b->holdout_units, 6 * sizeof(int64_t)) != 0,
		      "seeds 1 and 2 held out the same units");
	/* Held-out engines are out of training entirely: its rows are every other engine's. */
	{
		struct cmapss_table t;
		size_t i, k, kept = 0;

		snprintf(path, sizeof(path), "%s/train_FD001.txt", tmpdir);
		ck_assert_int_eq(cmapss_read(path, &t, err, sizeof(err)), 0);
		for (i = 0; i < t.rows; i++) {
			bool held = false;

			for (k = 0; k < a->holdout_count; k++)
				held |= t.unit[i] == a->holdout_units[k];
			kept += !held;
		}
		ck_assert_uint_lt(kept, t.rows);
		ck_assert_double_eq(
			cJSON_GetObjectItem(cJSON_GetObjectItem(a->evaluation, "training"), "rows")
				->valuedouble,
			(double)kept);
		cmapss_table_free(&t);
	}
	bundle_free(a);
	bundle_free(b);
}
END_TEST

/* The tuned path (grouped folds, grid, early stopping) on two subsets at once. */
START_TEST(tuned_multi_subset)
{
	char path[256], err[512];
	struct bundle *b;
	const cJSON *tr;

	ck_assert_int_eq(train(tmpdir, "t", "--subset FD001,FD003 --rounds 40 --folds 2 --seed 3"),
			 0);
	snprintf(path, sizeof(path), "%s/t", tmpdir);
	ck_assert_msg(bundle_load(path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(b->subset_count, 2);
	ck_assert_str_eq(b->name, "rul-fd001-fd003");
	tr = cJSON_GetObjectItem(b->evaluation, "training");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(tr, "tuned")));
	ck_assert_double_gt(cJSON_GetObjectItem(tr, "cv_rmse")->valuedouble, 0);
	ck_assert_double_lt(eval_number(b, "FD003", "rmse_capped"),
			    0.7 * constant_rmse(tmpdir, "FD003"));
	bundle_free(b);
}
END_TEST

/* Not a TTY: progress comes as plain lines, without carriage returns or escapes. */
START_TEST(plain_progress_when_not_a_tty)
{
	char cmd[1024], *log;

	snprintf(cmd, sizeof(cmd),
		 "%s --data '%s' --subset FD001 --rounds 10 --folds 2 --out '%s/p' 2>'%s/p.err' "
		 ">/dev/null",
		 TRAIN_BIN, tmpdir, tmpdir, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	log = slurp("p.err");
	ck_assert_msg(strstr(log, "tuning: config 1/4") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "tuning: config 4/4: cv rmse") != NULL, "%s", log);
	ck_assert_msg(strchr(log, '\r') == NULL && strchr(log, '\033') == NULL, "%s", log);
	free(log);
}
END_TEST

START_TEST(usage_errors)
{
	char *log;

	ck_assert_int_eq(train(tmpdir, "x", "--subset FD009"), 2);
	log = slurp("x.log");
	ck_assert_msg(strstr(log, "--subset: expected FD001..FD004") != NULL, "%s", log);
	free(log);
	ck_assert_int_eq(train(tmpdir, "y", "--subset FD001 --holdout 30"), 1);
	log = slurp("y.log");
	ck_assert_msg(strstr(log, "--holdout 30: FD001 has only 30 training units") != NULL, "%s",
		      log);
	free(log);
	ck_assert_int_eq(train("/nonexistent", "z", "--subset FD001"), 1);
	log = slurp("z.log");
	ck_assert_msg(strstr(log, "no train_FD001.txt") != NULL, "%s", log);
	free(log);
}
END_TEST

START_TEST(synth_tool_writes_the_twelve_files)
{
	char cmd[512], path[256];
	struct cmapss_table t;
	char err[256];
	struct stat st;
	int s;

	ck_assert_msg(access(SYNTH_BIN, X_OK) == 0, "build cmapss-synth first");
	snprintf(cmd, sizeof(cmd), "%s --out '%s/syn' --seed 9 --units 3", SYNTH_BIN, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	for (s = 1; s <= 4; s++) {
		snprintf(path, sizeof(path), "%s/syn/RUL_FD00%d.txt", tmpdir, s);
		ck_assert_int_eq(stat(path, &st), 0);
		snprintf(path, sizeof(path), "%s/syn/test_FD00%d.txt", tmpdir, s);
		ck_assert_int_eq(cmapss_read(path, &t, err, sizeof(err)), 0);
		ck_assert_int_eq(t.unit[t.rows - 1], 3);
		cmapss_table_free(&t);
	}
}
END_TEST

/* The real FD001, quickly: a sane model. */
START_TEST(real_fd001)
{
	char dir[4096], path[256], err[512];
	struct bundle *b;
	double rmse, nasa;

	ck_assert_int_eq(cmapss_find_dir(dir, sizeof(dir)), 0); /* tcase_needs "cmapss" */
	ck_assert_int_eq(train(dir, "real", "--subset FD001 --no-tune --rounds 150 --eta 0.1 "
					    "--seed 1"), 0);
	snprintf(path, sizeof(path), "%s/real", tmpdir);
	ck_assert_msg(bundle_load(path, &b, err, sizeof(err)) == 0, "%s", err);
	rmse = eval_number(b, "FD001", "rmse_capped");
	nasa = eval_number(b, "FD001", "nasa_score");
	ck_assert_double_eq(eval_number(b, "FD001", "units"), 100);
	ck_assert_msg(rmse > 8 && rmse < 15, "FD001 rmse %.2f", rmse);
	ck_assert_msg(nasa < 500, "FD001 NASA score %.1f", nasa);
	bundle_free(b);
}
END_TEST

Suite *
train_suite(void)
{
	Suite *s = suite_create("train");
	TCase *tc = tcase_create("rulsrv-train");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, deterministic_and_better_than_constant);
	tcase_add_test(tc, seed_chooses_holdout);
	tcase_add_test(tc, tuned_multi_subset);
	tcase_add_test(tc, plain_progress_when_not_a_tty);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, synth_tool_writes_the_twelve_files);
	suite_add_tcase(s, tc);
	tc = tcase_create("real_data");
	tcase_needs(tc, "cmapss");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, real_fd001);
	suite_add_tcase(s, tc);
	return s;
}
