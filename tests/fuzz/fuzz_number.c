/* SPDX-License-Identifier: MIT */
/* fuzz_number.c - libFuzzer: the fast JSON number path against glibc strtod, bit for bit. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"
#include "predict_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * number_parse promises strtod's exact value for every RFC 8259 number it accepts;
 * the fast path (Clinger) is where a rounding bug would hide. number_parse_exact, on the
 * token number_parse took and on the whole input, must agree with it: a token is taken when
 * it is exactly one number of a finite value, with the same double.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	double fast, slow;
	size_t n;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = number_parse(s, s + size, &fast);
	if (n > size)
		abort();
	if (n > 0) {
		char *copy = strndup(s, n), *end;

		if (copy == NULL)
			abort();
		slow = strtod(copy, &end);
		/* strtod may read less (it stops where JSON would too) but never a different value */
		if (*end != '\0' || memcmp(&fast, &slow, sizeof(fast)) != 0)
			abort();
		free(copy);
	}
	if (number_parse_exact(s, n, s + size, &slow) != (n > 0 && isfinite(fast)) ||
	    (n > 0 && isfinite(fast) && memcmp(&fast, &slow, sizeof(fast)) != 0))
		abort();
	if (number_parse_exact(s, size, s + size, &slow) != (n == size && n > 0 && isfinite(fast)) ||
	    (n == size && n > 0 && isfinite(fast) && memcmp(&fast, &slow, sizeof(fast)) != 0))
		abort();
	free(s);
	return 0;
}
