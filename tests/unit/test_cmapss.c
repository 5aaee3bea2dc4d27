/* SPDX-License-Identifier: MIT */
/* test_cmapss.c - the C-MAPSS reader: plain and gzip files, bodies, precise row errors. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <zlib.h>

#include "cmapss.h"

static const char *row1 =
	"1 1 -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 "
	"9046.19 1.30 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n";
static const char *row2 =
	"1 2 0.0019 -0.0003 100.0 518.67 642.15 1591.82 1403.14 14.62 21.61 553.75 2388.04 "
	"9044.07 1.30 47.49 522.28 2388.07 8131.49 8.4318 0.03 392 2388 100.00 39.00 23.4236\n";

Suite *cmapss_suite(void);

static char tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rulsrv-cmapss-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
write_file(const char *name, const char *text, bool gz)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (gz) {
		gzFile f = gzopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(gzputs(f, text), (int)strlen(text));
		ck_assert_int_eq(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		fputs(text, f);
		ck_assert_int_eq(fclose(f), 0);
	}
}

/* Parse text as a body; return the error message (static) or NULL on success. */
static const char *
parse_err(const char *text)
{
	static char err[256];
	struct cmapss_table t;
	int r;

	err[0] = '\0';
	r = cmapss_parse(text, strlen(text), "body", &t, err, sizeof(err));
	cmapss_table_free(&t);
	if (r == 0)
		return NULL;
	ck_assert_int_eq(r, -EINVAL);
	return err;
}

START_TEST(parse_two_rows)
{
	char text[1024], err[256];
	struct cmapss_table t;

	snprintf(text, sizeof(text), "%s\n   \n%s", row1, row2);
	ck_assert_int_eq(cmapss_parse(text, strlen(text), "body", &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.rows, 2);
	ck_assert_int_eq(t.unit[1], 1);
	ck_assert_int_eq(t.cycle[1], 2);
	ck_assert_double_eq_tol(t.values[0], -0.0007, 1e-12);
	ck_assert_double_eq_tol(t.values[2], 100.0, 1e-12);
	ck_assert_double_eq_tol(t.values[CMAPSS_N_INPUTS + 23], 23.4236, 1e-12);
	cmapss_table_free(&t);
	cmapss_table_free(&t); /* idempotent */
}
END_TEST

/* Every value is the double strtod reads from its token: plain decimals (read by the fast
 * JSON-number parser) and forms outside JSON's grammar that only strtod takes. */
START_TEST(parse_values_are_strtods)
{
	static const char *const tokens[] = {
		"-0.0007", "518.67", "0.1", "642.15", "2388.02", "8138.62", "-0", "1e-3",
		"1.7976931348623157e308", "4.9e-324", "0.30000000000000004",
		"123456789012345678901", "9007199254740993", "2.2250738585072011e-308",
		"+1.5", ".5", "5.", "007", "0x1p-2", "1E+2",
	};
	size_t nt = sizeof(tokens) / sizeof(tokens[0]);
	char text[4096], err[256];
	struct cmapss_table t;
	size_t len = 0;

	for (size_t row = 0; row * CMAPSS_N_INPUTS < nt; row++) {
		len += (size_t)snprintf(text + len, sizeof(text) - len, "1 %zu", row + 1);
		for (size_t i = 0; i < CMAPSS_N_INPUTS; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s",
						tokens[(row * CMAPSS_N_INPUTS + i) % nt]);
		len += (size_t)snprintf(text + len, sizeof(text) - len, "\n");
	}
	ck_assert_int_eq(cmapss_parse(text, len, "body", &t, err, sizeof(err)), 0);
	for (size_t k = 0; k < t.rows * CMAPSS_N_INPUTS; k++) {
		double want = strtod(tokens[k % nt], NULL);

		ck_assert_msg(memcmp(&t.values[k], &want, sizeof(want)) == 0,
			      "'%s': got %.17g, strtod says %.17g", tokens[k % nt], t.values[k],
			      want);
	}
	cmapss_table_free(&t);
}
END_TEST

START_TEST(parse_errors_name_line_and_column)
{
	char text[1024];
	const char *e;

	/* 25 columns on line 3 (line 2 is blank): the 26th is missing. */
	snprintf(text, sizeof(text), "%s\n%.*s\n", row1, (int)(strrchr(row2, ' ') - row2), row2);
	e = parse_err(text);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "body:3: column 26: missing") != NULL, "got '%s'", e);

	snprintf(text, sizeof(text), "%.*s 7\n", (int)strlen(row2) - 1, row2);
	e = parse_err(text);
	ck_assert_msg(e && strstr(e, "body:1: column 27: too many columns"), "got '%s'", e);

	e = parse_err("1 1 0 0 100 abc 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n");
	ck_assert_msg(e && strstr(e, "body:1: column 6: 'abc' is not a number"), "got '%s'", e);

	e = parse_err("1 1 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 nan\n");
	ck_assert_msg(e && strstr(e, "column 26: 'nan' is not a finite number"), "got '%s'", e);

	e = parse_err("1 1 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 1e999 2\n");
	ck_assert_msg(e && strstr(e, "column 25") && strstr(e, "finite"), "got '%s'", e);

	e = parse_err("1.5 1 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n");
	ck_assert_msg(e && strstr(e, "column 1: unit '1.5'"), "got '%s'", e);

	e = parse_err("1 -2 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n");
	ck_assert_msg(e && strstr(e, "column 2: cycle '-2'"), "got '%s'", e);

	e = parse_err("1 2 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21x\n");
	ck_assert_msg(e && strstr(e, "column 26: '21x' is not a number"), "got '%s'", e);
}
END_TEST

START_TEST(read_plain_and_gzip_alike)
{
	char text[1024], path[256], err[256];
	struct cmapss_table a, b;

	snprintf(text, sizeof(text), "%s%s", row1, row2);
	write_file("train_FD001.txt.gz", text, true);
	write_file("plain.txt", text, false);
	snprintf(path, sizeof(path), "%s/plain.txt", tmpdir);
	ck_assert_int_eq(cmapss_read(path, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(cmapss_path(tmpdir, "train_FD001.txt", path, sizeof(path)), 0);
	ck_assert_msg(strstr(path, "train_FD001.txt.gz") != NULL, "got %s", path);
	ck_assert_int_eq(cmapss_read(path, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.rows, 2);
	ck_assert_uint_eq(b.rows, 2);
	ck_assert_mem_eq(a.values, b.values, 2 * CMAPSS_N_INPUTS * sizeof(double));
	cmapss_table_free(&a);
	cmapss_table_free(&b);

	/* The plain file wins when both exist. */
	write_file("train_FD001.txt", text, false);
	ck_assert_int_eq(cmapss_path(tmpdir, "train_FD001.txt", path, sizeof(path)), 0);
	ck_assert_msg(strstr(path, ".gz") == NULL, "got %s", path);
	ck_assert_int_eq(cmapss_path(tmpdir, "test_FD009.txt", path, sizeof(path)), -ENOENT);
}
END_TEST

START_TEST(read_errors_name_the_file)
{
	char text[1024], path[256], err[256];
	struct cmapss_table t;

	snprintf(text, sizeof(text), "%s%s1 3 0 0\n", row1, row2);
	write_file("bad.txt.gz", text, true);
	snprintf(path, sizeof(path), "%s/bad.txt.gz", tmpdir);
	ck_assert_int_eq(cmapss_read(path, &t, err, sizeof(err)), -EINVAL);
	cmapss_table_free(&t);
	ck_assert_msg(strstr(err, "bad.txt.gz:3: column 5: missing") != NULL, "got '%s'", err);

	snprintf(path, sizeof(path), "%s/absent.txt", tmpdir);
	ck_assert_int_eq(cmapss_read(path, &t, err, sizeof(err)), -ENOENT);
	cmapss_table_free(&t);
	ck_assert_msg(strstr(err, "absent.txt") != NULL, "got '%s'", err);
}
END_TEST

START_TEST(read_rul_values_and_errors)
{
	char path[256], err[256];
	double *rul;
	size_t n;

	write_file("RUL_FD001.txt", "112\n98 \n\n69\n", false);
	snprintf(path, sizeof(path), "%s/RUL_FD001.txt", tmpdir);
	ck_assert_int_eq(cmapss_read_rul(path, &rul, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_double_eq(rul[2], 69);
	free(rul);

	write_file("RUL_FD002.txt", "112\nx\n", false);
	snprintf(path, sizeof(path), "%s/RUL_FD002.txt", tmpdir);
	ck_assert_int_eq(cmapss_read_rul(path, &rul, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "RUL_FD002.txt:2: column 1") != NULL, "got '%s'", err);
	ck_assert_ptr_null(rul);
}
END_TEST

START_TEST(find_dir_honours_env)
{
	char out[4096];

	write_file("train_FD001.txt.gz", row1, true);
	setenv("CMAPSS_DIR", tmpdir, 1);
	ck_assert_int_eq(cmapss_find_dir(out, sizeof(out)), 0);
	ck_assert_str_eq(out, tmpdir);
	unsetenv("CMAPSS_DIR");
}
END_TEST

/* The inputs by the names bundles and drift labels use, in column order, and none past s21. */
START_TEST(input_names_in_column_order)
{
	char want[16];
	size_t i;

	ck_assert_str_eq(cmapss_input_name(0), "setting1");
	ck_assert_str_eq(cmapss_input_name(CMAPSS_N_SETTINGS - 1), "setting3");
	for (i = 0; i < CMAPSS_N_SENSORS; i++) {
		snprintf(want, sizeof(want), "s%zu", i + 1);
		ck_assert_str_eq(cmapss_input_name(CMAPSS_N_SETTINGS + i), want);
	}
	ck_assert_ptr_null(cmapss_input_name(CMAPSS_N_INPUTS));
	ck_assert_ptr_null(cmapss_input_name((size_t)-1));
}
END_TEST

Suite *
cmapss_suite(void)
{
	Suite *s = suite_create("cmapss");
	TCase *tc = tcase_create("reader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, parse_two_rows);
	tcase_add_test(tc, parse_values_are_strtods);
	tcase_add_test(tc, parse_errors_name_line_and_column);
	tcase_add_test(tc, read_plain_and_gzip_alike);
	tcase_add_test(tc, read_errors_name_the_file);
	tcase_add_test(tc, read_rul_values_and_errors);
	tcase_add_test(tc, find_dir_honours_env);
	tcase_add_test(tc, input_names_in_column_order);
	suite_add_tcase(s, tc);
	return s;
}
