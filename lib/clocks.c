/* SPDX-License-Identifier: MIT */
/* clocks.c - the system clocks as seconds in a double, the one shape every caller wants. */
#include "clocks.h"

static double
clocks_read(clockid_t id)
{
	struct timespec ts;

	/* Cannot fail for these clock ids with a valid pointer (clock_gettime(2)). */
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
clocks_monotonic(void)
{
	return clocks_read(CLOCK_MONOTONIC);
}

double
clocks_realtime(void)
{
	return clocks_read(CLOCK_REALTIME);
}

double
clocks_thread_cpu(void)
{
	return clocks_read(CLOCK_THREAD_CPUTIME_ID);
}

double
clocks_between(const struct timespec *a, const struct timespec *b)
{
	/* The differences first: a double holds them exactly, not the seconds since 1970 in ns. */
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

double
clocks_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return clocks_between(t0, &now);
}
