/* SPDX-License-Identifier: MIT */
/* bench_timing.h - the clocks and the median every benchmark program measures with. */
#ifndef RULSRV_BENCH_TIMING_H
#define RULSRV_BENCH_TIMING_H

#include <stddef.h>

/*
 * CPU time of the calling thread, in seconds: on a shared 2-core machine wall time mostly
 * measures the neighbours, so single-threaded figures use this.
 */
double bench_cpu_now(void);

/* Monotonic wall time, in seconds: for figures across threads, which CPU time cannot give. */
double bench_wall_now(void);

/* The median of the n > 0 values of v, which it sorts ascending (so v[0] is the minimum and
 * v[n - 1] the maximum afterwards). */
double bench_median(double *v, size_t n);

#endif
