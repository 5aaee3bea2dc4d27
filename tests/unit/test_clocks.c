/* SPDX-License-Identifier: MIT */
/* test_clocks.c - lib/clocks.c: the clocks in seconds agree with clock_gettime and move on. */
#include <math.h>
#include <time.h>

#include <check.h>

#include "clocks.h"

Suite *clocks_suite(void);

static double
seconds_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each clock reads what clock_gettime says of it, in seconds, not ms or ns. */
START_TEST(test_agree_with_clock_gettime)
{
	double m0 = seconds_of(CLOCK_MONOTONIC), m = clocks_monotonic();
	double r0 = seconds_of(CLOCK_REALTIME), r = clocks_realtime();

	ck_assert_msg(m >= m0 && m - m0 < 1.0, "monotonic %.9f, clock_gettime %.9f", m, m0);
	ck_assert_msg(fabs(r - r0) < 1.0, "realtime %.9f, clock_gettime %.9f", r, r0);
	/* After 2020 and before 2100: seconds since the Epoch. */
	ck_assert_msg(r > 1.5e9 && r < 4.2e9, "realtime %.3f", r);
	ck_assert(clocks_thread_cpu() >= 0.0);
}
END_TEST

/* A 20 ms sleep shows as about 20 ms on the monotonic clock and in clocks_since. */
START_TEST(test_since_measures_a_sleep)
{
	struct timespec t0, nap = { 0, 20 * 1000 * 1000 };
	double m0 = clocks_monotonic(), d, dm;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&nap, NULL);
	d = clocks_since(&t0);
	dm = clocks_monotonic() - m0;
	ck_assert_msg(d >= 0.019 && d < 2.0, "clocks_since says %.6f s", d);
	ck_assert_msg(dm >= d, "monotonic moved %.6f s, clocks_since %.6f s", dm, d);
}
END_TEST

/* Differences borrow across the second: 1.9 s to 3.1 s is 1.2 s, and back is -1.2 s. */
START_TEST(test_between_borrows_nanoseconds)
{
	struct timespec a = { 1, 900000000L }, b = { 3, 100000000L };

	ck_assert_double_eq_tol(clocks_between(&a, &b), 1.2, 1e-12);
	ck_assert_double_eq_tol(clocks_between(&b, &a), -1.2, 1e-12);
	ck_assert_double_eq(clocks_between(&a, &a), 0.0);
}
END_TEST

Suite *
clocks_suite(void)
{
	Suite *s = suite_create("clocks");
	TCase *tc = tcase_create("clocks");

	tcase_add_test(tc, test_agree_with_clock_gettime);
	tcase_add_test(tc, test_since_measures_a_sleep);
	tcase_add_test(tc, test_between_borrows_nanoseconds);
	suite_add_tcase(s, tc);
	return s;
}
