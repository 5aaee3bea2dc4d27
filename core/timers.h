/* SPDX-License-Identifier: MIT */
/* timers.h - one thread that runs a set of periodic callbacks, swapped as a whole. */
#ifndef RULSRV_TIMERS_H
#define RULSRV_TIMERS_H

#include <stddef.h>

struct timers;

/* One periodic callback: fn(ud) every interval_s seconds. */
struct timer_def {
	double interval_s;
	void (*fn)(void *ud);
	void *ud;
};

/* An idle set; its thread starts with the first timers_set that has timers. NULL: no memory. */
struct timers *timers_new(void);
/* Stop (as timers_set with none), join the thread and free. t may be NULL. */
void timers_free(struct timers *t);

/*
 * Run defs[0..n) from now on, instead of the timers set before: each first fires one interval
 * from now, then every interval (a late call is not caught up: the next one is an interval
 * after it). Returns once no callback of the previous set runs or will run again, so the
 * caller may then free what those callbacks use. defs is borrowed until the next timers_set
 * or timers_free. n == 0 stops everything. Never call it from a timer callback. 0 or -errno
 * (-ENOMEM, or the thread could not start: the new timers do not run then).
 */
int timers_set(struct timers *t, const struct timer_def *defs, size_t n);

#endif
