/* SPDX-License-Identifier: MIT */
/* drift_window.c - per-window bin counters that observers write without a lock. */
#include "drift.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

/*
 * Two slots of counters; the current window lives in slot[seq & 1]. An observer announces
 * itself in a slot (readers + 1), then re-reads seq: if the window is still the one it
 * chose, it may count into it until it leaves (readers - 1); otherwise it backs out without
 * writing and retries. The roller stores the new seq, then waits until the old slot has no
 * reader. Both sides use sequentially consistent operations for the announce/check pair, so
 * either the observer sees the new seq or the roller sees the observer (Dekker). After the
 * wait the old window is final; the slot is reused (cleared) at the next roll, when observers
 * that might still touch its reader count back out without writing a counter.
 */

static int
drift_slot_init(struct drift_slot *s, size_t total_bins)
{
	size_t i;

	atomic_init(&s->readers, 0);
	atomic_init(&s->observations, 0);
	s->counts = calloc(total_bins, sizeof(*s->counts));
	if (s->counts == NULL)
		return -ENOMEM;
	for (i = 0; i < total_bins; i++)
		atomic_init(&s->counts[i], 0);
	return 0;
}

int
drift_windows_init(struct drift_windows *w, size_t total_bins)
{
	int r;

	atomic_init(&w->seq, 0);
	w->total_bins = total_bins;
	w->slot[0].counts = NULL;
	w->slot[1].counts = NULL;
	r = drift_slot_init(&w->slot[0], total_bins);
	if (r == 0)
		r = drift_slot_init(&w->slot[1], total_bins);
	if (r < 0)
		drift_windows_destroy(w);
	return r;
}

void
drift_windows_destroy(struct drift_windows *w)
{
	free(w->slot[0].counts);
	free(w->slot[1].counts);
	w->slot[0].counts = NULL;
	w->slot[1].counts = NULL;
}

struct drift_slot *
drift_windows_enter(struct drift_windows *w, uint64_t *seq)
{
	for (;;) {
		uint64_t s = atomic_load(&w->seq);
		struct drift_slot *slot = &w->slot[s & 1];

		atomic_fetch_add(&slot->readers, 1);
		if (atomic_load(&w->seq) == s) {
			*seq = s;
			return slot;
		}
		atomic_fetch_sub_explicit(&slot->readers, 1, memory_order_release);
	}
}

void
drift_windows_leave(struct drift_slot *s)
{
	atomic_fetch_sub_explicit(&s->readers, 1, memory_order_release);
}

uint64_t
drift_windows_seq(struct drift_windows *w)
{
	return atomic_load(&w->seq);
}

uint64_t
drift_windows_switch(struct drift_windows *w, uint64_t *counts)
{
	uint64_t seq = atomic_load_explicit(&w->seq, memory_order_relaxed);
	struct drift_slot *old = &w->slot[seq & 1];
	struct drift_slot *next = &w->slot[(seq + 1) & 1];
	size_t i;

	/* Nobody writes next: its window was drained at the previous switch. */
	for (i = 0; i < w->total_bins; i++)
		atomic_store_explicit(&next->counts[i], 0, memory_order_relaxed);
	atomic_store_explicit(&next->observations, 0, memory_order_relaxed);
	atomic_store(&w->seq, seq + 1);
	while (atomic_load(&old->readers) != 0)
		sched_yield();
	atomic_thread_fence(memory_order_acquire);
	for (i = 0; i < w->total_bins; i++)
		counts[i] = atomic_load_explicit(&old->counts[i], memory_order_relaxed);
	return atomic_load_explicit(&old->observations, memory_order_relaxed);
}

uint64_t
drift_windows_peek(struct drift_windows *w, uint64_t *counts)
{
	struct drift_slot *cur = &w->slot[atomic_load(&w->seq) & 1];
	size_t i;

	for (i = 0; i < w->total_bins; i++)
		counts[i] = atomic_load_explicit(&cur->counts[i], memory_order_relaxed);
	return atomic_load_explicit(&cur->observations, memory_order_relaxed);
}
