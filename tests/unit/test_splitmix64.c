/* SPDX-License-Identifier: MIT */
/* test_splitmix64.c - lib/splitmix64.h: the published sequence, which seeded runs reproduce. */
#include <stdint.h>

#include <check.h>

#include "splitmix64.h"

Suite *splitmix64_suite(void);

/* The reference outputs for seed 0 (Vigna's splitmix64.c) and 1234567 (Java's test vector). */
START_TEST(test_reference_sequences)
{
	static const uint64_t from0[] = { 0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f4ULL,
					  0x06c45d188009454fULL };
	static const uint64_t from1234567[] = { 0x599ed017fb08fc85ULL, 0x2c73f08458540fa5ULL };
	uint64_t st = 0;
	size_t i;

	for (i = 0; i < sizeof(from0) / sizeof(from0[0]); i++)
		ck_assert_msg(splitmix64_next(&st) == from0[i], "seed 0, output %zu", i);
	st = 1234567;
	for (i = 0; i < sizeof(from1234567) / sizeof(from1234567[0]); i++)
		ck_assert_msg(splitmix64_next(&st) == from1234567[i], "seed 1234567, output %zu", i);
}
END_TEST

/* The state is the seed plus n golden-ratio steps: callers that keep it resume the sequence. */
START_TEST(test_state_advances_by_the_golden_ratio)
{
	uint64_t st = 42, copy;

	splitmix64_next(&st);
	splitmix64_next(&st);
	ck_assert(st == 42 + 2 * 0x9e3779b97f4a7c15ULL);
	copy = st;
	ck_assert(splitmix64_next(&st) == splitmix64_next(&copy));
}
END_TEST

Suite *
splitmix64_suite(void)
{
	Suite *s = suite_create("splitmix64");
	TCase *tc = tcase_create("splitmix64");

	tcase_add_test(tc, test_reference_sequences);
	tcase_add_test(tc, test_state_advances_by_the_golden_ratio);
	suite_add_tcase(s, tc);
	return s;
}
