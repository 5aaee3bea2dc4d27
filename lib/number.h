/* SPDX-License-Identifier: MIT */
/* number.h - RFC 8259 numbers to doubles, exactly as strtod, fast for short decimals. */
#ifndef RULSRV_NUMBER_H
#define RULSRV_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * The number grammar of RFC 8259 at s (not past end): on success stores the value (exactly
 * strtod's) and returns the number of bytes consumed; 0 when s does not start with a valid
 * JSON number. Reads nothing past end; needs no NUL terminator.
 */
size_t number_parse(const char *s, const char *end, double *out);

/* True when the len bytes at s are one JSON number of a finite value, stored in *out. */
bool number_parse_finite(const char *s, size_t len, double *out);

/*
 * The same for the common short shape only, in line for the parsers' number loops: a number
 * -?(0|[1-9][0-9]*)(\.[0-9]+)? of at most 7 bytes, not followed by an exponent, with at least 8
 * bytes in the buffer. Returns its length and stores exactly the double number_parse stores;
 * returns 0 for anything else, which number_parse then decides (0 says nothing about
 * validity). number_parse takes this path first, so both give one value.
 */
static inline size_t number_parse_short(const char *s, const char *end, double *out);

/*
 * Is the token of exactly len bytes at s one JSON number of a finite value? When it is,
 * stores the value (as number_parse) and returns true; false for anything else, an overflow
 * (1e999) included. Reads nothing past end (end >= s + len). For a parser that knows where a
 * token ends (between separators it found), so that no number's end has to be found before
 * the next number can start.
 */
static inline bool number_parse_exact(const char *s, size_t len, const char *end, double *out);

/* ---- the short paths, here so that callers inline them --------------------------------- */

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * Eight bytes at a time (SWAR). Every number of the C-MAPSS files is at most 7 bytes
 * ("-0.0027", "1588.45"), so one 8-byte load holds the whole token. Its shape (sign, digits,
 * one point) comes from a few bit operations on that load, not from a loop per byte whose
 * exits follow each number's shape; the point is squeezed out of the digits, which then
 * convert by three multiply-shift steps; a mantissa below 10^8 over an exact 10^k (k <= 7) is
 * Clinger's exact fast path: one correctly rounded division, strtod's double. Each byte below
 * is XORed with '0', so a digit is a byte of 0 to 9 and no other byte is.
 */
#define NUMBER_BYTES(b) (UINT64_C(0x0101010101010101) * (uint8_t)(b))

/* The top bit of every byte of x that is not a digit (no carry crosses into another byte). */
static inline uint64_t
number_non_digits(uint64_t x)
{
	return (((x & NUMBER_BYTES(0x7f)) + NUMBER_BYTES(0x76)) | x) & NUMBER_BYTES(0x80);
}

/* The top bit of every byte of y that is zero (exact for every byte, not just the first). */
static inline uint64_t
number_zero_bytes(uint64_t y)
{
	return ~((((y & NUMBER_BYTES(0x7f)) + NUMBER_BYTES(0x7f)) | y)) & NUMBER_BYTES(0x80);
}

/* The low k bytes of a word (k = 0 to 8) as a mask: a table, not a shift by a variable. */
static const uint64_t number_low_bytes[9] = {
	0,
	UINT64_C(0xff),
	UINT64_C(0xffff),
	UINT64_C(0xffffff),
	UINT64_C(0xffffffff),
	UINT64_C(0xffffffffff),
	UINT64_C(0xffffffffffff),
	UINT64_C(0xffffffffffffff),
	~UINT64_C(0),
};

/* 10^k and -10^k: a quotient takes its sign from the divisor exactly (-0 for a zero). */
static const double number_scale[16] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	-1e0, -1e1, -1e2, -1e3, -1e4, -1e5, -1e6, -1e7,
};

/*
 * The value of the 8 digit bytes of x as one number, the first the most significant: digits
 * d[0..k) followed by zero bytes make d * 10^(8 - k), which the scale divides back exactly.
 */
static inline uint32_t
number_eight_digits(uint64_t x)
{
	x = x * 10 + (x >> 8); /* pairs: byte 2i holds 10 * d[2i] + d[2i + 1] */
	x = ((x & UINT64_C(0x000000ff000000ff)) * UINT64_C(0x000f424000000064) +
	     ((x >> 16) & UINT64_C(0x000000ff000000ff)) * UINT64_C(0x0000271000000001)) >> 32;
	return (uint32_t)x;
}

/*
 * The token of len (1 to 8) bytes at the start of x, whose bytes that are not digits are a
 * sign at byte 0 (neg) and the points marked in dots, as a mantissa and a scale (its value is
 * number_scaled_value(*m, *scale)); false when it is not -?(0|[1-9][0-9]*)(\.[0-9]+)? (no
 * digit, two points, no digit before or after the point, a leading zero).
 */
__attribute__((always_inline)) static inline bool
number_short_scaled(uint64_t x, unsigned len, unsigned neg, uint64_t dots, uint32_t *m,
		    unsigned *scale)
{
	unsigned n = len - neg, point, count;
	uint64_t below;

	x = neg ? x >> 8 : x;
	dots = neg ? dots >> 8 : dots;
	point = dots != 0 ? (unsigned)__builtin_ctzll(dots) >> 3 : n;
	count = n - (dots != 0);
	if ((n == 0) | ((dots & (dots - 1)) != 0) | (point == 0) | (point + 1 == n) |
	    (((x & 0xff) == 0) & (point > 1)))
		return false;
	/* the point squeezed out, the bytes past the digits zeroed: the digits times
	 * 10^(8 - count), and the value that over 10^(8 - point) (exact: below 10^8) */
	below = number_low_bytes[point];
	*m = number_eight_digits(((x & below) | ((x >> 8) & ~below)) & number_low_bytes[count]);
	*scale = 8 * neg + 8 - point;
	return true;
}

/* The double of a mantissa and scale from number_short_scaled: number_parse's, exactly. */
static inline double
number_scaled_value(uint32_t m, unsigned scale)
{
	return (double)m / number_scale[scale];
}

__attribute__((always_inline)) static inline size_t
number_parse_short(const char *s, const char *end, double *out)
{
	uint64_t x, dots, stop;
	unsigned neg, len, scale;
	uint32_t m;

	if (end - s < 8)
		return 0;
	memcpy(&x, s, sizeof(x));
	x ^= NUMBER_BYTES('0');
	neg = (x & 0xff) == ('-' ^ '0');
	dots = number_zero_bytes(x ^ NUMBER_BYTES('.' ^ '0'));
	stop = number_non_digits(x) & ~dots & ~(uint64_t)(neg << 7);
	if (stop == 0)
		return 0; /* 8 bytes or more */
	len = (unsigned)__builtin_ctzll(stop) >> 3;
	if (len == 0 || ((x >> (8 * len)) & 0xdf) == ('e' ^ '0') ||
	    !number_short_scaled(x, len, neg, dots & number_low_bytes[len], &m, &scale))
		return 0; /* no token, an exponent after it, or not the short shape */
	*out = number_scaled_value(m, scale);
	return len;
}

/* A token of known length (number_parse_exact) as mantissa and scale, from one 8-byte load:
 * tokens of at most 8 bytes with 8 bytes in the buffer; false for anything else. */
__attribute__((always_inline)) static inline bool
number_scaled_swar(const char *s, size_t len, const char *end, uint32_t *m, unsigned *scale)
{
	uint64_t x, token, dots, neg;

	if (len - 1 >= 8 || end - s < 8)
		return false;
	memcpy(&x, s, sizeof(x));
	x ^= NUMBER_BYTES('0');
	token = number_low_bytes[len];
	neg = (x & 0xff) == ('-' ^ '0');
	dots = number_zero_bytes(x ^ NUMBER_BYTES('.' ^ '0')) & token;
	return (number_non_digits(x) & token & ~dots & ~(neg << 7)) == 0 &&
	       number_short_scaled(x, (unsigned)len, (unsigned)neg, dots, m, scale);
}

#ifdef __SSE2__
/*
 * The same with 16 bytes in the buffer: the token's bytes are classified by SSE2 compares
 * (every x86-64 has SSE2), a bit per byte, with fewer instructions than the SWAR byte
 * classes. Tokens of up to 8 bytes, as for SWAR (C-MAPSS: "-0.0027").
 */
__attribute__((always_inline)) static inline bool
number_exact_scaled(const char *s, size_t len, const char *end, uint32_t *m, unsigned *scale)
{
	__m128i v;
	unsigned token, digits, dots, neg, n, point, count;
	uint64_t x, below;

	if (len - 1 >= 8 || end - s < 16)
		return number_scaled_swar(s, len, end, m, scale);
	v = _mm_loadu_si128((const __m128i *)(const void *)s);
	memcpy(&x, s, sizeof(x));
	token = (1u << len) - 1;
	digits = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(
		_mm_sub_epi8(v, _mm_set1_epi8((char)('0' + 128))), _mm_set1_epi8((char)(10 - 128)))) &
		 token;
	dots = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & token;
	neg = (x & 0xff) == '-';
	x ^= NUMBER_BYTES('0');
	x = neg ? x >> 8 : x; /* the digits and point after the sign */
	n = (unsigned)len - neg;
	/* every byte a digit, a point or the leading sign; a digit; at most one point, neither
	 * first after the sign nor last; no leading zero before a digit (neg + 1 is the bit of
	 * the first byte after the sign) */
	if ((digits | dots | neg) != token || digits == 0 || (dots & (dots - 1)) != 0 ||
	    (dots & ((neg + 1) | ((token + 1) >> 1))) != 0 ||
	    ((x & 0xff) == 0 && (digits & ((neg + 1) << 1)) != 0))
		return false;
	point = (unsigned)__builtin_ctz(dots | (token + 1)) - neg; /* n without a point */
	count = n - (dots != 0);
	below = number_low_bytes[point];
	*m = number_eight_digits(((x & below) | ((x >> 8) & ~below)) & number_low_bytes[count]);
	*scale = 8 * neg + 8 - point;
	return true;
}
#else
__attribute__((always_inline)) static inline bool
number_exact_scaled(const char *s, size_t len, const char *end, uint32_t *m, unsigned *scale)
{
	return number_scaled_swar(s, len, end, m, scale);
}
#endif

__attribute__((always_inline)) static inline bool
number_parse_exact(const char *s, size_t len, const char *end, double *out)
{
	unsigned scale;
	uint32_t m;

	if (!number_exact_scaled(s, len, end, &m, &scale))
		return number_parse_finite(s, len, out);
	*out = number_scaled_value(m, scale);
	return true;
}
#else
static inline size_t
number_parse_short(const char *s, const char *end, double *out)
{
	(void)s, (void)end, (void)out;
	return 0;
}

static inline bool
number_parse_exact(const char *s, size_t len, const char *end, double *out)
{
	(void)end;
	return number_parse_finite(s, len, out);
}
#endif

#endif
