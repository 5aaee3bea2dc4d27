/* SPDX-License-Identifier: MIT */
/* need.h - what a test needs that a machine may lack; what cannot run is skipped, never passed. */
#ifndef RULSRV_TEST_NEED_H
#define RULSRV_TEST_NEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <check.h>

/*
 * ctest runs every suite of tests/<kind>/test_<suite>.c as its own entry, <kind>.<suite>
 * (`<kind>_tests <suite>`). A test that cannot run makes its entry exit 77, which ctest reports
 * as Skipped (SKIP_RETURN_CODE), with a line "SKIP: <entry>: <reason>" in its output.
 *
 * Needs, by name:
 *   "cmapss"   the C-MAPSS data set, found by cmapss_find_dir() ($CMAPSS_DIR, data/cmapss,
 *              ../shared/data/cmapss)
 *   "fd001"    the committed model bundle models/fd001
 *   "openssl", "promtool"   that program on PATH
 *   "postgresql"   the PostgreSQL server binaries, for tests/harness/pg_server.h
 *
 * Declared in a suite's constructor, checked by the runner before anything runs:
 *   suite_needs(s, need)   every test of s needs it: without it <kind>.<suite> is skipped.
 *   tcase_needs(tc, need)  only the tests of tc: tc runs in an entry of its own,
 *                          <kind>.<suite>.<need>, skipped without it, while the rest of the
 *                          suite still runs in <kind>.<suite>. A test case has one such need.
 * A test that finds out only while it runs that it cannot go on (a resource limit too low to
 * test at, a part of the build that is absent) calls test_skip(...) and returns: its entry is
 * then reported Skipped with that reason, unless a test of the entry failed.
 */
void suite_needs(Suite *s, const char *need);
void tcase_needs(TCase *tc, const char *need);
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- for runner.c ------------------------------------------------------------------------ */

#define NEED_MAX 8

/* The needs a suite's constructor declared: needs of the whole suite, and of its test cases
 * (each name once). need_declared_reset() before the constructor runs. */
struct need_set {
	const char *suite[NEED_MAX];
	size_t suite_count;
	const char *cases[NEED_MAX];
	size_t cases_count;
};

void need_declared_reset(void);
const struct need_set *need_declared(void);
/* Is the need met on this machine? false with the reason in why. */
bool need_met(const char *need, char *why, size_t why_len);

/* Where test_skip keeps its reasons: memory shared with the process Check forks for each test.
 * need_skips_report prints "SKIP: <entry>: <test>: <reason>" for each; returns how many. */
int need_skips_open(void);
size_t need_skips_report(FILE *f, const char *entry);
void need_skips_close(void);

#endif
