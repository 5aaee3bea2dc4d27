/* SPDX-License-Identifier: MIT */
/* test_number.c - number_parse (lib/number.c): strtod's double, bit for bit, and its length. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "number.h"

Suite *number_suite(void);

/*
 * The JSON number grammar, byte by byte, as the reference for how much number_parse must
 * consume: the longest prefix of s[0..n) that is an RFC 8259 number, 0 when there is none
 * ("01" is the number "0" and a '1' after it; "1." and "1e" are no number at all).
 */
static size_t
reference_len(const char *s, size_t n)
{
	size_t i = 0;

#define DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (DIGIT(i) && s[i] != '0')
		while (DIGIT(i))
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		if (!DIGIT(i + 1))
			return 0;
		for (i++; DIGIT(i); i++)
			;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	return i;
}

/*
 * number_parse on token followed by after, in a heap block of exactly that size (AddressSanitizer
 * catches a read past the end), against the reference grammar and strtod on the prefix.
 */
static void
check_in_body(const char *token, const char *after)
{
	size_t lt = strlen(token), la = strlen(after), n = lt + la, want_len, got_len;
	char *buf = malloc(n ? n : 1), *prefix;
	double got = 0, want;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, token, lt);
	memcpy(buf + lt, after, la);
	want_len = reference_len(buf, n);
	got_len = number_parse(buf, buf + n, &got);
	ck_assert_msg(got_len == want_len, "'%s' + '%s': consumed %zu, want %zu", token, after,
		      got_len, want_len);
	if (want_len > 0) {
		prefix = strndup(buf, want_len);
		ck_assert_ptr_nonnull(prefix);
		want = strtod(prefix, NULL);
		ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0,
			      "'%s' + '%s': got %.17g want %.17g", token, after, got, want);
		free(prefix);
	}
	free(buf);
}

/* Every number converts to exactly strtod's double (bit for bit). */
static void
check_number(const char *txt)
{
	double got = 0, want = strtod(txt, NULL);
	size_t n = number_parse(txt, txt + strlen(txt), &got);

	ck_assert_msg(n == strlen(txt), "'%s': consumed %zu", txt, n);
	ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0, "'%s': got %.17g want %.17g", txt,
		      got, want);
	/* and inside a body, where the 8-byte path reads past the token */
	check_in_body(txt, ", 1]}");
}

START_TEST(test_numbers_exact)
{
	static const char *const fixed[] = {
		"0", "-0", "0.0", "1", "-1", "0.1", "0.2", "0.3", "1e22", "1e23", "1e-22",
		"1e-23", "9007199254740992", "9007199254740993", "9007199254740995",
		"123456789012345678901234567890", "0.000000000000000000000000000001",
		"4.9e-324", "5e-324", "2.2250738585072014e-308", "2.2250738585072011e-308",
		"1.7976931348623157e308", "1e-400", "518.67", "642.1", "1589.7", "1400.6",
		"14.62", "21.61", "554.36", "2388.06", "9046.19", "1.3", "47.47", "521.66",
		"8138.62", "8.4195", "0.03", "392", "100.0", "39.06", "23.419", "-0.0007",
		"-0.0004", "0.0023", "1.0000000000000000000000001", "3.14159265358979323846",
		"1E+2", "1e-0", "12345678901234567e-5", "0.1234567890123456789",
	};
	char txt[64];
	size_t i, nd, k;
	unsigned seed = 12345;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_number(fixed[i]);
	/* random decimals: 1..20 digits, a point anywhere, exponents -40..40 */
	for (i = 0; i < 200000; i++) {
		size_t used = 0, point;

		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) & 1)
			txt[used++] = '-';
		nd = 1 + (seed >> 8) % 20;
		point = (seed >> 20) % (nd + 1);
		for (k = 0; k < nd; k++) {
			seed = seed * 1103515245u + 12345u;
			if (k == point && k > 0)
				txt[used++] = '.';
			txt[used++] = (char)('0' + (k == 0 ? 1 + (seed >> 16) % 9 : (seed >> 16) % 10));
		}
		txt[used] = '\0';
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3 == 0)
			snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt), "e%d",
				 (int)((seed >> 4) % 81) - 40);
		check_number(txt);
	}
}
END_TEST

START_TEST(test_numbers_invalid)
{
	static const char *const bad[] = { "", "-", "+1", ".5", "1.", "1e", "1e+", "01x", "-a",
					   "NaN", "Infinity", "-Infinity", "0x10" };
	size_t i;
	double v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = number_parse(bad[i], bad[i] + strlen(bad[i]), &v);

		/* "01x" and "0x10" consume the "0" only: the caller sees the junk after it */
		if (strcmp(bad[i], "01x") == 0 || strcmp(bad[i], "0x10") == 0)
			ck_assert_uint_eq(n, 1);
		else
			ck_assert_msg(n == 0, "'%s' accepted", bad[i]);
	}
}
END_TEST


/* A small xorshift generator: the same cases on every run, so a failure can be replayed. */
static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* n random digits into out, the first from first..'9'. */
static size_t
random_digits(uint64_t *st, char *out, size_t n, char first)
{
	unsigned span = (unsigned)('9' - first + 1);
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (char)(i == 0 ? first + (char)(next_random(st) % span) :
				'0' + (char)(next_random(st) % 10));
	return n;
}

/*
 * What may follow a number in a body, or what may wrongly continue it: the separators of
 * the arrays, an exponent, a second point or sign, bytes of UTF-8, and nothing at all (the
 * number at the very end of the buffer). Short suffixes keep the token within 8 bytes of the
 * end, where number_parse cannot take its 8-byte path.
 */
static const char *const suffixes[] = {
	"", ",", ", ", "]", "]}", "]}]}", ", 1, 2, 3]", ",\n  2388.02]", " ]", "\t,", "e",
	"e5", "E-3", "e+", "e+0, 1]", ".", ".5, 1]", "..", "-", "-1, 2]", "+", "0", "12345678",
	"x", "\x80\xff", "\"a\"}", "/", ":", "}", "e-400, 1]", "E308]", "       ",
};

/* One random token: mostly the C-MAPSS shape, then everything number_parse must hand over. */
static void
random_token(uint64_t *st, char *t, size_t cap)
{
	size_t used = 0, nd;
	unsigned kind = (unsigned)(next_random(st) % 12);

	if (next_random(st) % 3 == 0)
		t[used++] = '-';
	switch (kind) {
	case 0: case 1: case 2: case 3: case 4: /* short: 1-4 digits, a point, 1-5 digits */
		used += random_digits(st, t + used, 1 + next_random(st) % 4, '1');
		if (kind != 4) {
			t[used++] = '.';
			used += random_digits(st, t + used, 1 + next_random(st) % 5, '0');
		}
		break;
	case 5: /* 0.xxxx, -0, 0 */
		t[used++] = '0';
		if (next_random(st) % 4 != 0) {
			t[used++] = '.';
			used += random_digits(st, t + used, 1 + next_random(st) % 7, '0');
		}
		break;
	case 6: /* leading zeros and other invalid starts, for the length */
		t[used++] = next_random(st) % 2 ? '0' : '.';
		used += random_digits(st, t + used, 1 + next_random(st) % 5, '0');
		break;
	case 7: /* 8 to 25 significant digits, a point anywhere */
		nd = 8 + next_random(st) % 18;
		used += random_digits(st, t + used, nd, '1');
		if (next_random(st) % 2) {
			size_t at = 1 + next_random(st) % (nd - 1);

			memmove(t + at + 1, t + at, used - at);
			t[at] = '.';
			used++;
		}
		break;
	case 8: /* 15 to 17 digits: around 2^53 = 9007199254740992 */
		used += (size_t)snprintf(t + used, cap - used, "%llu",
					 (unsigned long long)((UINT64_C(1) << 53) - 50 +
							      next_random(st) % 100) *
						 (next_random(st) % 2 ? 1 : 10));
		break;
	default: /* with an exponent: within and beyond Clinger's |e| <= 22, and overflow */
		used += random_digits(st, t + used, 1 + next_random(st) % 19, '1');
		if (next_random(st) % 2) {
			t[used++] = '.';
			used += random_digits(st, t + used, 1 + next_random(st) % 6, '0');
		}
		used += (size_t)snprintf(t + used, cap - used, "%c%s%d",
					 next_random(st) % 2 ? 'e' : 'E',
					 next_random(st) % 3 == 0 ? "+" : "",
					 (int)(next_random(st) % 700) - 350);
		break;
	}
	t[used] = '\0';
}

/*
 * A differential test against strtod over 400,000 generated tokens, each followed by every
 * kind of suffix in turn: what number_parse consumes and the double it returns must be the
 * reference's, bit for bit, on whichever of its paths the token lands.
 */
START_TEST(test_random_against_strtod)
{
	static const char *const fixed[] = {
		"-0", "-0.0", "0", "0.0", "-0.000000", "9007199254740992", "9007199254740993",
		"-9007199254740993", "1e22", "1e23", "9999999", "-999999", "0.999999", "1234567",
		"123456.7", "1.234567", "-1.23456", "12345678", "1.2345678", "999999999999999999",
		"9999999999999999999", "18446744073709551615", "18446744073709551616",
		"4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
		"1.7976931348623157e308", "1.7976931348623159e308", "2.2250738585072012e-308",
		"0.1", "0.30000000000000004", "8.3803", "-0.0027", "1588.45", "23.3916",
	};
	uint64_t st = UINT64_C(0x9e3779b97f4a7c15);
	char token[96];
	size_t i, k;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
			check_in_body(fixed[i], suffixes[k]);
	for (i = 0; i < 400000; i++) {
		random_token(&st, token, sizeof(token));
		check_in_body(token, suffixes[i % (sizeof(suffixes) / sizeof(suffixes[0]))]);
	}
}
END_TEST

/*
 * The in-line short path (number_parse_short, number_parse's first try): it must take every
 * C-MAPSS shape (else everything falls to the general path, slower, and nothing else would
 * notice), give strtod's double for what it takes, and decline what it cannot decide.
 */
static size_t
short_in_body(const char *token, const char *after, double *got)
{
	size_t lt = strlen(token), la = strlen(after), n, want_len;
	char *buf = malloc(lt + la + 1), *prefix;
	double want;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, token, lt);
	memcpy(buf + lt, after, la);
	n = number_parse_short(buf, buf + lt + la, got);
	if (n != 0) {
		/* whatever it takes is the grammar's length and strtod's double */
		want_len = reference_len(buf, lt + la);
		ck_assert_msg(n == want_len, "'%s' + '%s': took %zu bytes, want %zu", token, after,
			      n, want_len);
		prefix = strndup(buf, n);
		ck_assert_ptr_nonnull(prefix);
		want = strtod(prefix, NULL);
		ck_assert_msg(memcmp(got, &want, sizeof(want)) == 0,
			      "'%s' + '%s': got %.17g want %.17g", token, after, *got, want);
		free(prefix);
	}
	free(buf);
	return n;
}

START_TEST(test_short_path)
{
	static const char *const taken[] = {
		"0", "-0", "0.0", "-0.0", "7", "-0.0027", "0.0003", "100", "518.67", "1588.45",
		"1400.6", "2388.06", "9046.19", "8.4195", "23.3916", "0.03", "392", "9999999",
		"-999999", "99999.9", "-588.45", "1.23456", "-1.2345", "0.00001", "-0.0001",
	};
	static const char *const declined[] = {
		"12345678", "-12345678", "-9999999", "1.2345678", "999999.9", "0.000001", "1e5",
		"1.5E-3", "01", "-01.5", "00", "1.", ".5", "-", "--1", "+1", "-.5", "1.2.3", "x", "",
	};
	static const char *const after[] = { ", 1, 2, 3]", "]}, {\"cycle\"", ",\n      1]",
					      "         " };
	uint64_t st = UINT64_C(0x2545f4914f6cdd1d);
	char token[96];
	double got, want;
	size_t i, k, n;

	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		for (k = 0; k < sizeof(after) / sizeof(after[0]); k++) {
			got = 1;
			n = short_in_body(taken[i], after[k], &got);
			want = strtod(taken[i], NULL);
			ck_assert_msg(n == strlen(taken[i]), "'%s': short path took %zu bytes",
				      taken[i], n);
			ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0,
				      "'%s': got %.17g want %.17g", taken[i], got, want);
		}
	for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++)
		for (k = 0; k < sizeof(after) / sizeof(after[0]); k++)
			ck_assert_msg(short_in_body(declined[i], after[k], &got) == 0,
				      "'%s' + '%s': taken by the short path", declined[i], after[k]);
	/* with fewer than 8 bytes left in the buffer it never loads: declined */
	ck_assert_uint_eq(short_in_body("518.67", "]", &got), 0);
	ck_assert_uint_eq(short_in_body("-0.0027", "", &got), 0);
	/* generated tokens of every kind, followed by every kind of suffix */
	for (i = 0; i < 400000; i++) {
		random_token(&st, token, sizeof(token));
		short_in_body(token, suffixes[i % (sizeof(suffixes) / sizeof(suffixes[0]))], &got);
	}
}
END_TEST

/*
 * number_parse_exact, which the request parser's array loop calls on each token between separators: a token is taken when
 * it is exactly one JSON number of a finite value, with strtod's double; whatever the bytes
 * after it are, and whichever path (16 bytes left in the buffer, 8, fewer) reads it.
 */
static void
check_exact(const char *token, size_t len, const char *after)
{
	size_t la = strlen(after), ref;
	char *buf = malloc(len + la + 1), *copy;
	double got = 0, want = 0;
	bool ok, valid;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, token, len);
	memcpy(buf + len, after, la);
	copy = strndup(token, len);
	ck_assert_ptr_nonnull(copy);
	ref = reference_len(copy, len);
	if (ref == len && len > 0)
		want = strtod(copy, NULL);
	valid = ref == len && len > 0 && isfinite(want);
	ok = number_parse_exact(buf, len, buf + len + la, &got);
	ck_assert_msg(ok == valid, "'%s' + '%s': %s", copy, after, ok ? "taken" : "refused");
	if (valid)
		ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0,
			      "'%s' + '%s': got %.17g want %.17g", copy, after, got, want);
	free(copy);
	free(buf);
}

START_TEST(test_exact_tokens)
{
	/* what follows the token: 16 bytes and more, 8 to 15, under 8, nothing; digits and
	 * points right after it (the token still ends where the caller says) */
	static const char *const after[] = { ", 1, 2, 3, 4, 5, 6, 7]}", ", 2388]}", "]}", "",
					     "5, 1, 2, 3, 4, 5, 6]", ".5, 1, 2, 3, 4, 5]", "e5]}, {}" };
	static const char *const fixed[] = {
		"0", "-0", "0.0", "-0.0", "00", "01", "-01", "0.", ".0", "-", "--1", "+1", "1.2.3",
		"518.67", "-0.0027", "1588.45", "-1588.45", "12345678", "-12345678", "123456789",
		"1.2345678", "-1.234567", "99999999", "0.0000001", "1e5", "1E-3", "-2.5e+2", "1e999",
		"-1e999", "1e-999", " 1", "1 ", "1,", "x", "\x80", "9007199254740993", "8.4195",
	};
	uint64_t st = UINT64_C(0x5deece66d);
	char token[96];
	size_t i, k, n;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		for (k = 0; k < sizeof(after) / sizeof(after[0]); k++)
			check_exact(fixed[i], strlen(fixed[i]), after[k]);
	for (i = 0; i < 300000; i++) {
		random_token(&st, token, sizeof(token));
		n = strlen(token);
		/* also cut short or taken with a byte of its own suffix: not always a number */
		if (i % 5 == 1 && n > 1)
			n--;
		check_exact(token, n, after[i % (sizeof(after) / sizeof(after[0]))]);
	}
}
END_TEST

/* Runs of bytes that are not numbers, at every length up to 9: never a value, never a crash. */
START_TEST(test_not_numbers)
{
	static const char *const starts[] = { "-", "--1", "-.5", ".", "+1", "-e1", "e1", "1.",
					      "1.e5", "1..2", "1e", "1e+", "1e-x", "0x10", "00",
					      "-00.5", "01.5", "-", "\x80", "" };
	static const char *const after[] = { "", ",", ", 1]", "        " };
	size_t i, k;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		for (k = 0; k < sizeof(after) / sizeof(after[0]); k++)
			check_in_body(starts[i], after[k]);
}
END_TEST

Suite *
number_suite(void)
{
	Suite *s = suite_create("number");
	TCase *tc = tcase_create("number");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_numbers_exact);
	tcase_add_test(tc, test_numbers_invalid);
	tcase_add_test(tc, test_random_against_strtod);
	tcase_add_test(tc, test_not_numbers);
	tcase_add_test(tc, test_short_path);
	tcase_add_test(tc, test_exact_tokens);
	suite_add_tcase(s, tc);
	return s;
}
