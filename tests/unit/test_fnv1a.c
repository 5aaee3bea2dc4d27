/* SPDX-License-Identifier: MIT */
/* test_fnv1a.c - lib/fnv1a.h: the published 64-bit FNV-1a values, whole and in pieces. */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "fnv1a.h"

Suite *fnv1a_suite(void);

/* The test vectors of the FNV reference (draft-eastlake-fnv): FNV-1a, not FNV-1. */
START_TEST(test_reference_values)
{
	ck_assert(FNV1A64_INIT == 0xcbf29ce484222325ULL);
	ck_assert(fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	ck_assert(fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	ck_assert(fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}
END_TEST

/* A key hashed in pieces hashes as the whole: label values are fed one at a time. */
START_TEST(test_update_in_pieces)
{
	uint64_t h = FNV1A64_INIT;

	h = fnv1a64_update(h, "foo", 3);
	h = fnv1a64_update(h, "", 0);
	h = fnv1a64_update(h, "bar", 3);
	ck_assert(h == fnv1a64("foobar", 6));
}
END_TEST

/* Every byte counts, NUL and high bytes included: the length bounds the key, not a NUL. */
START_TEST(test_bytes_not_strings)
{
	ck_assert(fnv1a64("a\0b", 3) != fnv1a64("a", 1));
	ck_assert(fnv1a64("\xff", 1) != fnv1a64("\x7f", 1));
	ck_assert(fnv1a64("ab", 2) != fnv1a64("ba", 2));
}
END_TEST

Suite *
fnv1a_suite(void)
{
	Suite *s = suite_create("fnv1a");
	TCase *tc = tcase_create("fnv1a");

	tcase_add_test(tc, test_reference_values);
	tcase_add_test(tc, test_update_in_pieces);
	tcase_add_test(tc, test_bytes_not_strings);
	suite_add_tcase(s, tc);
	return s;
}
