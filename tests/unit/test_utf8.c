/* SPDX-License-Identifier: MIT */
/* test_utf8.c - lib/utf8.c: which byte strings are UTF-8, at every boundary. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <check.h>

#include "utf8.h"

/* One byte string, whether it is UTF-8 (and text), and the length of its first sequence. */
struct utf8_case {
	const char *name;
	const char *bytes;
	size_t len;
	bool valid;  /* utf8_valid */
	bool text;   /* utf8_text_valid */
	size_t seq;  /* utf8_seq_len(bytes, len) */
};

#define OK(name, b, seq) { name, b, sizeof(b) - 1, true, true, seq }
#define BAD(name, b, seq) { name, b, sizeof(b) - 1, false, false, seq }
#define CTRL(name, b) { name, b, sizeof(b) - 1, true, false, 1 }

static const struct utf8_case utf8_cases[] = {
	/* well-formed, at the edges of each length */
	{ "empty", "", 0, true, true, 0 },
	OK("U+0041", "A", 1),
	OK("U+007E", "~", 1),
	CTRL("U+007F (DEL: UTF-8, not text)", "\x7f"),
	OK("U+0080", "\xc2\x80", 2),
	OK("U+00E9", "\xc3\xa9", 2),
	OK("U+07FF", "\xdf\xbf", 2),
	OK("U+0800", "\xe0\xa0\x80", 3),
	OK("U+20AC", "\xe2\x82\xac", 3),
	OK("U+D7FF (below the surrogates)", "\xed\x9f\xbf", 3),
	OK("U+E000 (above the surrogates)", "\xee\x80\x80", 3),
	OK("U+FFFD", "\xef\xbf\xbd", 3),
	OK("U+FFFF", "\xef\xbf\xbf", 3),
	OK("U+10000", "\xf0\x90\x80\x80", 4),
	OK("U+1D11E", "\xf0\x9d\x84\x9e", 4),
	OK("U+10FFFF", "\xf4\x8f\xbf\xbf", 4),
	OK("mixed text", "FD001 h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e", 1),
	/* beyond U+10FFFF */
	BAD("U+110000", "\xf4\x90\x80\x80", 0),
	BAD("U+13FFFF", "\xf4\xbf\xbf\xbf", 0),
	BAD("U+140000 (0xF5 lead)", "\xf5\x80\x80\x80", 0),
	BAD("U+1FFFFF (0xF7 lead)", "\xf7\xbf\xbf\xbf", 0),
	BAD("5-byte form", "\xf8\x88\x80\x80\x80", 0),
	BAD("6-byte form", "\xfc\x84\x80\x80\x80\x80", 0),
	/* surrogates */
	BAD("U+D800", "\xed\xa0\x80", 0),
	BAD("U+DBFF", "\xed\xaf\xbf", 0),
	BAD("U+DC00", "\xed\xb0\x80", 0),
	BAD("U+DFFF", "\xed\xbf\xbf", 0),
	BAD("surrogate pair (CESU-8)", "\xed\xa0\xbd\xed\xb2\xa9", 0),
	BAD("surrogate after text", "ab\xed\xa0\x80", 1),
	/* overlong forms */
	BAD("overlong 2-byte U+0000", "\xc0\x80", 0),
	BAD("overlong 2-byte '/'", "\xc0\xaf", 0),
	BAD("overlong 2-byte U+007F", "\xc1\xbf", 0),
	BAD("overlong 3-byte U+0000", "\xe0\x80\x80", 0),
	BAD("overlong 3-byte '/'", "\xe0\x80\xaf", 0),
	BAD("overlong 3-byte U+07FF", "\xe0\x9f\xbf", 0),
	BAD("overlong 4-byte U+0000", "\xf0\x80\x80\x80", 0),
	BAD("overlong 4-byte '/'", "\xf0\x80\x80\xaf", 0),
	BAD("overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", 0),
	/* cut short */
	BAD("2-byte lead alone", "\xc2", 0),
	BAD("2-byte lead before ASCII", "\xc3" "A", 0),
	BAD("3-byte, 1 of 2 continuations", "\xe2\x82", 0),
	BAD("3-byte, ASCII for the last", "\xe2\x82" "A", 0),
	BAD("3-byte lead alone", "\xe0", 0),
	BAD("4-byte, 2 of 3 continuations", "\xf0\x90\x80", 0),
	BAD("4-byte U+10FFFF cut short", "\xf4\x8f\xbf", 0),
	BAD("4-byte lead alone", "\xf0", 0),
	BAD("cut short at the end of text", "abc\xe2\x82", 1),
	BAD("lead followed by a lead", "\xe2\xe2\x82\xac", 0),
	/* stray continuation bytes */
	BAD("0x80 alone", "\x80", 0),
	BAD("0xBF alone", "\xbf", 0),
	BAD("continuation after ASCII", "A\x80", 1),
	BAD("one continuation too many", "\xc2\x80\x80", 2),
	BAD("continuation after a 4-byte sequence", "\xf0\x9d\x84\x9e\x9e", 4),
	/* lead bytes that never start a sequence */
	BAD("0xC0", "\xc0", 0),
	BAD("0xC1", "\xc1", 0),
	BAD("0xF5", "\xf5", 0),
	BAD("0xF6", "\xf6", 0),
	BAD("0xF7", "\xf7", 0),
	BAD("0xF8", "\xf8", 0),
	BAD("0xFB", "\xfb", 0),
	BAD("0xFC", "\xfc", 0),
	BAD("0xFE", "\xfe", 0),
	BAD("0xFF", "\xff", 0),
	BAD("0xFF 0xFE (a UTF-16 BOM)", "\xff\xfe", 0),
	/* text: no C0 control and no DEL, though they are UTF-8 */
	CTRL("U+0001", "\x01"),
	CTRL("U+001F", "\x1f"),
	CTRL("tab", "a\tb"),
	CTRL("newline", "model\n"),
	CTRL("DEL inside text", "a\x7f" "b"),
	{ "U+0000 inside the bytes", "a\0b", 3, true, false, 1 },
	OK("U+0020", " ", 1),
	OK("U+0085 (a C1 control is text: only C0 and DEL are refused)", "\xc2\x85", 2),
};

START_TEST(test_table)
{
	const struct utf8_case *c = &utf8_cases[_i];

	ck_assert_msg(utf8_valid(c->bytes, c->len) == c->valid, "%s: utf8_valid says %s", c->name,
		      c->valid ? "no" : "yes");
	ck_assert_msg(utf8_text_valid(c->bytes, c->len) == c->text, "%s: utf8_text_valid says %s",
		      c->name, c->text ? "no" : "yes");
	ck_assert_msg(utf8_seq_len((const unsigned char *)c->bytes, c->len) == c->seq,
		      "%s: first sequence %zu bytes, expected %zu", c->name,
		      utf8_seq_len((const unsigned char *)c->bytes, c->len), c->seq);
}
END_TEST

/* A sequence is read only within len: the bytes after it, even valid ones, do not count. */
START_TEST(test_len_bounds_the_sequence)
{
	const unsigned char euro[] = "\xe2\x82\xac", clef[] = "\xf0\x9d\x84\x9e";
	size_t k;

	for (k = 0; k < 3; k++)
		ck_assert_uint_eq(utf8_seq_len(euro, k), 0);
	ck_assert_uint_eq(utf8_seq_len(euro, 3), 3);
	ck_assert_uint_eq(utf8_seq_len(euro, 4), 3);
	for (k = 0; k < 4; k++)
		ck_assert_uint_eq(utf8_seq_len(clef, k), 0);
	ck_assert_uint_eq(utf8_seq_len(clef, 4), 4);
	ck_assert(!utf8_valid("\xe2\x82\xac", 2));
	ck_assert(utf8_valid("\xe2\x82\xac", 3));
	ck_assert(utf8_valid("\xe2\x82\xac\xff", 3));
	ck_assert(!utf8_valid("\xe2\x82\xac\xff", 4));
	ck_assert(utf8_text_valid("ab\x01", 2));
	ck_assert(!utf8_text_valid("ab\x01", 3));
}
END_TEST

/*
 * The same question answered from the code point: decode the bits, then refuse what is
 * longer than needed, a surrogate or beyond U+10FFFF. Independent of utf8.c's byte ranges.
 */
static size_t
ref_seq_len(const unsigned char *s, size_t len)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
agree(const unsigned char *b, size_t len)
{
	size_t got = utf8_seq_len(b, len), want = ref_seq_len(b, len);

	if (got != want)
		ck_abort_msg("%02x %02x %02x %02x (len %zu): utf8_seq_len %zu, the code point says %zu",
			     b[0], len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0, len,
			     got, want);
}

/* Every 1-, 2- and 3-byte string, and every 4-byte one on the edges of its last two bytes. */
START_TEST(test_agrees_with_the_code_point)
{
	static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					      0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xff };
	unsigned char b[4];
	uint32_t x;
	size_t i, j, k;

	for (x = 0; x < (1u << 24); x++) {
		b[0] = (unsigned char)(x >> 16);
		b[1] = (unsigned char)(x >> 8);
		b[2] = (unsigned char)x;
		for (k = 1; k <= 3; k++)
			agree(b, k);
	}
	for (x = 0; x < (1u << 16); x++)
		for (i = 0; i < sizeof(edge); i++)
			for (j = 0; j < sizeof(edge); j++) {
				b[0] = (unsigned char)(x >> 8);
				b[1] = (unsigned char)x;
				b[2] = edge[i];
				b[3] = edge[j];
				agree(b, 4);
			}
}
END_TEST

Suite *utf8_suite(void);

Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("utf8");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(utf8_cases) / sizeof(utf8_cases[0])));
	tcase_add_test(tc, test_len_bounds_the_sequence);
	tcase_add_test(tc, test_agrees_with_the_code_point);
	suite_add_tcase(s, tc);
	return s;
}
