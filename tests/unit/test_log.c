/* SPDX-License-Identifier: MIT */
/* test_log.c - log levels, plain and journal line formats, plugin prefixes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "log.h"

static char path[64];
static int saved_stderr;

/* stderr goes to a temporary file for the test. */
static void
log_setup(void)
{
	int fd;

	strcpy(path, "/tmp/rulsrv-log-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	unsetenv("JOURNAL_STREAM");
	log_init();
	log_set_level(RULSRV_LOG_INFO);
}

static void
log_teardown(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	log_init();
}

static char *
logged(void)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
vlog(enum rulsrv_log_level level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
vlog(enum rulsrv_log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprefixed(level, prefix, fmt, ap);
	va_end(ap);
}

START_TEST(test_levels_filter)
{
	char *out;

	log_info("shown %d", 1);
	log_debug("hidden %d", 2);
	log_set_level(RULSRV_LOG_ERR);
	log_warning("hidden %d", 3);
	log_err("shown %d", 4);
	out = logged();
	ck_assert_ptr_nonnull(strstr(out, "[info] shown 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "[error] shown 4\n"));
	ck_assert_ptr_null(strstr(out, "hidden"));
}
END_TEST

START_TEST(test_plain_format)
{
	char *out;

	vlog(RULSRV_LOG_NOTICE, "model", "loaded '%s'", "fd001");
	out = logged();
	/* 2026-11-25T03:19:00.169 [notice] model: loaded 'fd001' */
	ck_assert_msg(strlen(out) > 24 && out[4] == '-' && out[10] == 'T' && out[19] == '.', "%s", out);
	ck_assert_ptr_nonnull(strstr(out, " [notice] model: loaded 'fd001'\n"));
}
END_TEST

START_TEST(test_journal_format)
{
	char stream[64];
	struct stat st;

	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	log_init();
	log_warning("disk %s", "slow");
	vlog(RULSRV_LOG_ERR, "feedback", "cannot open '%s'", "x.db");
	ck_assert_str_eq(logged(), "<4>disk slow\n<3>feedback: cannot open 'x.db'\n");
}
END_TEST

START_TEST(test_journal_of_another_stream)
{
	setenv("JOURNAL_STREAM", "1:2", 1); /* stderr is not that stream: plain format */
	log_init();
	log_info("plain");
	ck_assert_ptr_nonnull(strstr(logged(), "[info] plain\n"));
	ck_assert_int_ne(logged()[0], '<');
}
END_TEST

START_TEST(test_level_names)
{
	enum rulsrv_log_level l;

	ck_assert_int_eq(log_level_parse("err", &l), 0);
	ck_assert_int_eq(l, RULSRV_LOG_ERR);
	ck_assert_int_eq(log_level_parse("warning", &l), 0);
	ck_assert_int_eq(l, RULSRV_LOG_WARNING);
	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, RULSRV_LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("verbose", &l), -EINVAL);
}
END_TEST

START_TEST(test_first_error_is_captured)
{
	char buf[128];
	unsigned long before = log_error_count();

	log_capture_first_error(buf, sizeof(buf));
	vlog(RULSRV_LOG_ERR, "model", "first %d", 1);
	log_err("second");
	log_capture_first_error(NULL, 0);
	ck_assert_str_eq(buf, "model: first 1");
	ck_assert_uint_eq(log_error_count(), before + 2);
}
END_TEST

Suite *log_suite(void);

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, log_setup, log_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_levels_filter);
	tcase_add_test(tc, test_plain_format);
	tcase_add_test(tc, test_journal_format);
	tcase_add_test(tc, test_journal_of_another_stream);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_first_error_is_captured);
	suite_add_tcase(s, tc);
	return s;
}
