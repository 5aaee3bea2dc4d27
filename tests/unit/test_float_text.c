/* SPDX-License-Identifier: MIT */
/* test_float_text.c - float_text_g7 (lib/float_text.c): snprintf's "%.7g", byte for byte. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "float_text.h"

Suite *float_text_suite(void);

/* The text of v must be snprintf's, and come back to the same float through strtof. */
static void
check_float(float v)
{
	char got[FLOAT_TEXT_MAX + 8], want[64];
	size_t n;
	int w;

	memset(got, 'X', sizeof(got));
	n = float_text_g7(v, got);
	w = snprintf(want, sizeof(want), "%.7g", (double)v);
	ck_assert_msg(n == (size_t)w && strcmp(got, want) == 0 && n < FLOAT_TEXT_MAX,
		      "%a: got '%s' (%zu), want '%s'", (double)v, got, n, want);
}

static float
from_bits(uint32_t b)
{
	float v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

/* Values the service answers (RUL), the edges of the fixed notation and printf's rounding. */
START_TEST(test_fixed_values)
{
	static const float values[] = {
		0.0f, -0.0f, 1.0f, -1.0f, 112.4f, 118.9f, 119.3f, 0.5f, 125.0f, 200.0f, 1e-4f,
		-1e-4f, 9.9999997e-5f, 1.0000001e-4f, 0.001f, 0.1f, 0.3f, 9999999.0f, 1e7f,
		-9999999.0f, 1234567.5f, 1234568.5f, 1234566.5f, 999999.94f, 999999.44f,
		9999999.5f, 1e-5f, 1e10f, 3.4028235e38f, 1.17549435e-38f, 1e-45f, 123.45678f,
		99.999995f, 99.99999f, 0.099999994f, 0.00099999993f,
	};
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_float(values[i]);
	check_float(INFINITY);
	check_float(-INFINITY);
	check_float(NAN);
}
END_TEST

/*
 * Every float from 0 to 512 (RUL's range and beyond: 1,140,850,688 floats) at a stride that
 * visits every exponent and every low-bit pattern; every float around the ties of 7 digits
 * (from 2^20, floats have 8 significant digits and end in .5 or .25); and a spread over all
 * bit patterns, negatives included.
 */
START_TEST(test_many_values)
{
	uint32_t b, top = 0x44000000; /* 512.0f */
	uint64_t st = UINT64_C(0x853c49e6748fea9b);
	int i;

	for (b = 0; b < top; b += 1021)
		check_float(from_bits(b));
	for (b = 0x49800000; b < 0x49800000 + 600000; b++) /* from 2^20 = 1048576 */
		check_float(from_bits(b));
	for (b = 0x4b000000 - 300000; b < 0x4b000000 + 300000; b++) /* around 2^23 */
		check_float(from_bits(b));
	for (i = 0; i < 2000000; i++) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		check_float(from_bits((uint32_t)st));
	}
}
END_TEST

Suite *
float_text_suite(void)
{
	Suite *s = suite_create("float_text");
	TCase *tc = tcase_create("float_text");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fixed_values);
	tcase_add_test(tc, test_many_values);
	suite_add_tcase(s, tc);
	return s;
}
