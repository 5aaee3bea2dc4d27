/* SPDX-License-Identifier: MIT */
/* clocks.h - the system clocks as seconds in a double, the one shape every caller wants. */
#ifndef RULSRV_CLOCKS_H
#define RULSRV_CLOCKS_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds: for durations and deadlines, immune to clock steps. */
double clocks_monotonic(void);

/* CLOCK_REALTIME in seconds since the Epoch: for timestamps that leave the process. */
double clocks_realtime(void);

/* CPU time of the calling thread in seconds (CLOCK_THREAD_CPUTIME_ID): for benchmarks. */
double clocks_thread_cpu(void);

/* Seconds from a to b (b - a, negative when b is earlier); both borrowed. */
double clocks_between(const struct timespec *a, const struct timespec *b);

/* Seconds of CLOCK_MONOTONIC since t0 (borrowed), which the caller took from that clock. */
double clocks_since(const struct timespec *t0);

#endif
