/* SPDX-License-Identifier: MIT */
/* timers.c - one thread that runs a set of periodic callbacks, swapped as a whole. */
#include "timers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clocks.h"

struct timer_slot {
	const struct timer_def *def;
	double next; /* CLOCK_MONOTONIC seconds */
};

struct timers {
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* the thread: a new set, or stop */
	pthread_cond_t idle;  /* timers_set: the running callback returned */
	struct timer_slot *slots;
	size_t count;
	bool running; /* a callback runs (without the lock) */
	bool stop;
	bool started;
	pthread_t thread;
};

static struct timespec
timespec_of(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* The slot due first; NULL when there is none. Called with the lock held. */
static struct timer_slot *
earliest(struct timers *t)
{
	struct timer_slot *first = NULL;
	size_t i;

	for (i = 0; i < t->count; i++)
		if (first == NULL || t->slots[i].next < first->next)
			first = &t->slots[i];
	return first;
}

static void *
timers_run(void *arg)
{
	struct timers *t = arg;
	const struct timer_def *def;
	struct timer_slot *due;
	struct timespec until;
	double now;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		due = earliest(t);
		if (due == NULL) {
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		now = clocks_monotonic();
		if (due->next > now) {
			until = timespec_of(due->next);
			pthread_cond_timedwait(&t->wake, &t->lock, &until);
			continue;
		}
		/* advance before the call: the set may be swapped (and the slot freed) meanwhile */
		due->next += due->def->interval_s;
		if (due->next <= now)
			due->next = now + due->def->interval_s;
		def = due->def;
		t->running = true;
		pthread_mutex_unlock(&t->lock);
		def->fn(def->ud);
		pthread_mutex_lock(&t->lock);
		t->running = false;
		pthread_cond_broadcast(&t->idle);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct timers *
timers_new(void)
{
	struct timers *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&t->idle, NULL);
	return t;
}

int
timers_set(struct timers *t, const struct timer_def *defs, size_t n)
{
	struct timer_slot *slots = NULL, *old;
	double now = clocks_monotonic();
	size_t i;
	int r = 0;

	if (n > 0) {
		slots = calloc(n, sizeof(*slots));
		if (slots == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			slots[i] = (struct timer_slot){ .def = &defs[i], .next = now + defs[i].interval_s };
	}
	pthread_mutex_lock(&t->lock);
	old = t->slots;
	t->slots = slots;
	t->count = n;
	/* a callback of the old set may be running: the caller frees its state once we return */
	while (t->running)
		pthread_cond_wait(&t->idle, &t->lock);
	if (n > 0 && !t->started) {
		r = -pthread_create(&t->thread, NULL, timers_run, t);
		t->started = r == 0;
		if (r < 0) {
			t->slots = NULL;
			t->count = 0;
		}
	}
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	free(old);
	if (r < 0)
		free(slots);
	return r;
}

void
timers_free(struct timers *t)
{
	if (t == NULL)
		return;
	timers_set(t, NULL, 0);
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->started)
		pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->idle);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
