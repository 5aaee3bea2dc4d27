/* SPDX-License-Identifier: MIT */
/* utf8.c - strict UTF-8 (RFC 3629): the one decoder of the plugins, tools and fuzz harnesses. */
#include "utf8.h"

/*
 * The well-formed byte sequences of Unicode's table 3-7: the lead byte fixes the length and
 * the range of the second byte (narrower after 0xE0, 0xED, 0xF0 and 0xF4, which is what
 * shuts out overlong forms, surrogates and code points beyond U+10FFFF); every further byte
 * is 0x80..0xBF.
 */
size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < 2 || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (i >= len || (s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

bool
utf8_text_valid(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return utf8_valid(s, len);
}
