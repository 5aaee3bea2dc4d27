/* SPDX-License-Identifier: MIT */
/* bench_timing.h - the median every benchmark program reports. */
#ifndef RULSRV_BENCH_TIMING_H
#define RULSRV_BENCH_TIMING_H

#include <stddef.h>

/*
 * The clocks are lib/clocks.h: single-threaded figures read clocks_thread_cpu(), since on a
 * shared 2-core machine wall time mostly measures the neighbours; figures across threads
 * read clocks_monotonic(), which CPU time cannot give.
 */

/* The median of the n > 0 values of v, which it sorts ascending (so v[0] is the minimum and
 * v[n - 1] the maximum afterwards). */
double bench_median(double *v, size_t n);

#endif
