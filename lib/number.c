/* SPDX-License-Identifier: MIT */
/* number.c - RFC 8259 numbers to doubles, exactly as strtod, fast for short decimals. */
#include "number.h"

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

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * Eight bytes at a time (SWAR). Every number of the C-MAPSS files is at most 7 bytes
 * ("-0.0027", "1588.45"), so one 8-byte load holds the whole token and the byte after it. Where
 * the token ends comes from that one load and a few bit operations, not from a loop per byte
 * whose exits follow each number's shape; the value is computed beside it (docs/BENCHMARKS.md:
 * 0.90 of the parse time of a 256 x 30 batch against that loop). x holds the bytes, the
 * first in the low byte, each XORed with '0' so that a digit is a byte of 0 to 9 (and no
 * other byte is).
 */
#define SWAR_FAST 1

#define BYTES(b) (UINT64_C(0x0101010101010101) * (b))

static inline uint64_t
load8_minus_zero(const unsigned char *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w ^ BYTES('0');
}

/* The top bit of every byte of x that is not a digit (none crosses into another byte). */
static inline uint64_t
non_digits(uint64_t x)
{
	return (((x & BYTES(0x7f)) + BYTES(0x76)) | x) & BYTES(0x80);
}

/* The top bit of every byte of x equal to c ^ '0'. */
static inline uint64_t
bytes_equal(uint64_t x, unsigned char c)
{
	uint64_t y = x ^ BYTES(c ^ '0');

	return ~((((y & BYTES(0x7f)) + BYTES(0x7f)) | y) & BYTES(0x80)) & BYTES(0x80);
}

/* The value of the first k (1 to 8) digit bytes of x, the first the most significant. */
static inline uint64_t
digits_value(uint64_t x, unsigned k)
{
	x <<= 8 * (8 - k); /* drop the bytes after the run; the leading bytes become zeros */
	x = x * 10 + (x >> 8); /* pairs: byte 2i holds 10 * d[2i] + d[2i + 1] */
	x = ((x & UINT64_C(0x000000ff000000ff)) * UINT64_C(0x000f424000000064) +
	     ((x >> 16) & UINT64_C(0x000000ff000000ff)) * UINT64_C(0x0000271000000001)) >> 32;
	return (uint32_t)x;
}

static const uint64_t pow10_u64[8] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000 };

/*
 * A number of at most 7 bytes, -?(0|[1-9][0-9]*)(\.[0-9]+)? not followed by an exponent, from
 * the 8 bytes at s: its length, the value in *out; 0 for anything else (number_general decides
 * then). Its mantissa is below 10^7 and its exponent -5..0, so Clinger's fast path is exact.
 */
static inline size_t
number_short(const unsigned char *s, double *out)
{
	uint64_t x = load8_minus_zero(s), dots = bytes_equal(x, '.'), body, ip, frac;
	unsigned neg = (x & 0xff) == ('-' ^ '0'), len, point, kf, after;
	uint64_t stop = non_digits(x) & ~dots & ~(uint64_t)(neg << 7);
	double v;

	if (stop == 0)
		return 0; /* 8 bytes or more */
	len = (unsigned)__builtin_ctzll(stop) >> 3;
	after = (unsigned)(x >> (8 * len)) & 0xff;
	dots &= (UINT64_C(1) << (8 * len)) - 1; /* the points inside the token */
	body = x >> (8 * neg);
	if (len <= neg || after == ('e' ^ '0') || after == ('E' ^ '0') || (dots & (dots - 1)) != 0)
		return 0; /* no digits, an exponent, two points */
	if (dots == 0) {
		if ((body & 0xff) == 0 && len - neg > 1)
			return 0; /* a leading zero */
		ip = digits_value(body, len - neg);
		kf = 0;
		frac = 0;
	} else {
		point = (unsigned)__builtin_ctzll(dots) >> 3;
		if (point == neg || point + 1 == len || ((body & 0xff) == 0 && point != neg + 1))
			return 0; /* no digit before or after the point, a leading zero */
		ip = digits_value(body, point - neg);
		kf = len - point - 1;
		frac = digits_value(x >> (8 * (point + 1)), kf);
	}
	v = (double)(ip * pow10_u64[kf] + frac) / pow10_exact[kf];
	*out = neg ? -v : v;
	return len;
}
#endif

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

/*
 * The C-MAPSS shape (number_short) from one 8-byte load, when 8 bytes are there to load;
 * everything else, and what that shape refuses, by number_general.
 */
size_t
number_parse(const char *s, const char *end, double *out)
{
#ifdef SWAR_FAST
	size_t n;

	if (end - s >= 8 && (n = number_short((const unsigned char *)s, out)) != 0)
		return n;
#endif
	return number_general(s, end, out);
}
