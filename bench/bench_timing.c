/* SPDX-License-Identifier: MIT */
/* bench_timing.c - the clocks and the median every benchmark program measures with. */
#include "bench_timing.h"

#include <stdlib.h>
#include <time.h>

static double
clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
bench_cpu_now(void)
{
	return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

double
bench_wall_now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

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
