/* SPDX-License-Identifier: MIT */
/* bench_timing.c - the median every benchmark program reports. */
#include "bench_timing.h"

#include <stdlib.h>

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}
