/* SPDX-License-Identifier: MIT */
/* number.c - RFC 8259 numbers to doubles, exactly as strtod, fast for short decimals. */
#include "number.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Most numbers in a C-MAPSS body are short decimals ("642.68"): Clinger's fast path converts
 * those exactly with one double operation (mantissa <= 2^53 and |exponent| <= 22), and
 * everything else falls back to strtod(). Parsing is most of a /v1/predict request's time
 * (docs/PREDICTION.md), so this path is what keeps the request near the HTTP floor.
 */

static const double pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The slow path: strtod on a NUL-terminated copy of the token. */
static bool
number_slow(const char *s, size_t n, double *out)
{
	char small[128];
	char *buf = small, *endp;
	bool ok;

	if (n >= sizeof(small)) {
		buf = malloc(n + 1);
		if (buf == NULL)
			return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, &endp);
	ok = (size_t)(endp - buf) == n;
	if (buf != small)
		free(buf);
	return ok;
}


/*
 * The general grammar: any length, exponents, 19 significant digits and the strtod fallback.
 * Not inlined, so that its stack frame (strtod's copy) is not set up for the short numbers.
 */
__attribute__((noinline)) static size_t
number_general(const char *s0, const char *end, double *out)
{
	const unsigned char *s = (const unsigned char *)s0, *e = (const unsigned char *)end;
	uint64_t m = 0;
	long exp10 = 0, x;
	int nd = 0;
	bool neg = false, trunc = false, eneg;
	double v;
	size_t n;

	if (s < e && *s == '-') {
		neg = true;
		s++;
	}
	if (s >= e)
		return 0;
	if (*s == '0') {
		s++;
	} else if (*s >= '1' && *s <= '9') {
		for (; s < e && is_digit(*s); s++) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*s - '0');
				nd++;
			} else {
				exp10++;
				trunc |= *s != '0';
			}
		}
	} else {
		return 0;
	}
	if (s < e && *s == '.') {
		s++;
		if (s >= e || !is_digit(*s))
			return 0;
		for (; s < e && is_digit(*s); s++) {
			if (nd < 19) {
				if (m != 0 || *s != '0') {
					m = m * 10 + (uint64_t)(*s - '0');
					nd++;
				}
				exp10--;
			} else {
				trunc |= *s != '0';
			}
		}
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		s++;
		eneg = false;
		if (s < e && (*s == '+' || *s == '-')) {
			eneg = *s == '-';
			s++;
		}
		if (s >= e || !is_digit(*s))
			return 0;
		for (x = 0; s < e && is_digit(*s); s++)
			if (x < 1000000)
				x = x * 10 + (*s - '0');
		exp10 += eneg ? -x : x;
	}
	n = (size_t)((const char *)s - s0);
	if (!trunc && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		v = (double)m;
		v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
		*out = neg ? -v : v;
		return n;
	}
	return number_slow(s0, n, out) ? n : 0;
}

/* The short shape in line (number.h), everything else and what it refuses by number_general. */
size_t
number_parse(const char *s, const char *end, double *out)
{
	size_t n = number_parse_short(s, end, out);

	return n != 0 ? n : number_general(s, end, out);
}

bool
number_parse_finite(const char *s, size_t len, double *out)
{
	return len != 0 && number_parse(s, s + len, out) == len && isfinite(*out);
}
