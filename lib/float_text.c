/* SPDX-License-Identifier: MIT */
/* float_text.c - a float as the text of printf's "%.7g", without printf. */
#include "float_text.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Every prediction of a /v1/predict answer is a float printed with "%.7g", and printf's
 * exact decimal conversion (big-number arithmetic for any double) was the largest cost of
 * writing the answer of a batch. A float is M * 2^E with M below 2^24; in the range of the
 * fixed notation its 7 significant digits are M * 10^s / 2^-E for s = 6 - X (X the decimal
 * exponent), an integer division of 64-bit numbers whose remainder says exactly how to round.
 */

static const uint64_t pow10_u64[11] = {
	1,	  10,	     100,	 1000,	      10000,	  100000,
	1000000, 10000000, 100000000, 1000000000, 10000000000,
};

/* printf's own answer, for everything outside the fast path. */
static size_t
float_text_printf(float v, char *out)
{
	int n = snprintf(out, FLOAT_TEXT_MAX, "%.7g", (double)v);

	return n > 0 ? (size_t)n : 0;
}

/*
 * The 7 significant digits of M * 2^-k with decimal exponent *x (a guess, corrected here),
 * rounded to nearest with ties to even: false when they leave the fixed notation's range.
 */
static bool
float_text_digits(uint64_t mant, unsigned k, int *x, uint32_t *digits)
{
	uint64_t n, d, rem, half;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (*x < -4 || *x > 6)
			return false;
		n = mant * pow10_u64[6 - *x]; /* < 2^24 * 10^10 < 2^58 */
		d = k < 64 ? n >> k : 0;
		if (d < 1000000) {
			(*x)--;
			continue;
		}
		if (d >= 10000000) {
			(*x)++;
			continue;
		}
		if (k > 0) {
			rem = n & ((UINT64_C(1) << k) - 1);
			half = UINT64_C(1) << (k - 1);
			d += rem > half || (rem == half && (d & 1) != 0);
		}
		if (d == 10000000) { /* rounded up to the next power of ten */
			d = 1000000;
			(*x)++;
			if (*x > 6)
				return false;
		}
		*digits = (uint32_t)d;
		return true;
	}
	return false;
}

size_t
float_text_g7(float v, char *out)
{
	static const float decades[11] = { 1e-4f, 1e-3f, 1e-2f, 1e-1f, 1e0f, 1e1f,
					   1e2f,  1e3f,	 1e4f,	1e5f,  1e6f };
	char d[7], *p = out;
	uint32_t bits, exp, digits;
	int x, i, last;
	float a = fabsf(v);

	memcpy(&bits, &v, sizeof(bits));
	exp = (bits >> 23) & 0xff;
	if ((bits & 0x7fffffff) == 0) {
		memcpy(out, bits != 0 ? "-0" : "0", bits != 0 ? 3 : 2);
		return bits != 0 ? 2 : 1;
	}
	if (!(a >= 1e-4f && a < 1e7f) || exp == 0 || exp == 0xff)
		return float_text_printf(v, out);
	for (x = -4; x < 6 && a >= decades[x + 5]; x++)
		;
	/* a = M * 2^(exp - 150), and exp - 150 is -37..0 in this range */
	if (!float_text_digits((bits & 0x7fffff) | 0x800000, 150 - exp, &x, &digits))
		return float_text_printf(v, out);
	for (i = 6; i >= 0; i--, digits /= 10)
		d[i] = (char)('0' + digits % 10);
	for (last = 6; last > 0 && d[last] == '0'; last--)
		; /* %g drops the fraction's trailing zeros */
	if (bits >> 31)
		*p++ = '-';
	if (x >= 0) {
		memcpy(p, d, (size_t)x + 1);
		p += x + 1;
		if (last > x) {
			*p++ = '.';
			memcpy(p, d + x + 1, (size_t)(last - x));
			p += last - x;
		}
	} else {
		*p++ = '0';
		*p++ = '.';
		for (i = x; i < -1; i++)
			*p++ = '0';
		memcpy(p, d, (size_t)last + 1);
		p += last + 1;
	}
	*p = '\0';
	return (size_t)(p - out);
}
