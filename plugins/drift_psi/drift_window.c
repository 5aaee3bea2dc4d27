/* SPDX-License-Identifier: MIT */
/* drift_window.c - per-window bin counters that observers write without a shared lock. */
#include "drift.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A ring of DRIFT_SLOTS slots of counters; the current window lives in
 * slot[seq % DRIFT_SLOTS]. Each slot holds shards of counters (twice as many as processors),
 * and a shard has one writer at a time: an observer claims a free shard (busy 0 -> 1, one
 * exchange per batch), re-reads seq, counts with plain load+store increments while it owns
 * the shard, and releases it. The search for a free shard starts at one of the processor the
 * thread runs on (sched_getcpu(): glibc reads it from the rseq area, no system call), so
 * shards are uncontended; nobody waits for a particular shard.
 *
 * Closing a window is one compare-and-swap of seq, by anyone, without a lock, provided the
 * next slot is ready (drained and cleared; the ring leaves DRIFT_SLOTS - 1 windows of slack
 * for that), so a full window stops taking observations at once even when the thread that
 * filled it, or the one draining an older window, is descheduled. Draining happens later,
 * under the instance lock: wait until every shard of the closed slot is free, sum, clear, mark
 * the slot ready. Claim-then-recheck on the observer's side and CAS-then-check on the
 * drainer's are sequentially consistent, so either the observer sees the new seq (releases,
 * retries in the new window) or the drainer sees the shard busy (waits for it). Observers
 * that claim a shard of a closed slot later see a stale seq and back out without counting.
 */


static size_t
drift_stride(size_t total_bins)
{
	return (total_bins + 7) / 8 * 8; /* a shard's counters start on a cache line */
}

static unsigned
drift_shard_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 2)
		return 4;
	return cpus >= DRIFT_SHARDS_MAX / 2 ? DRIFT_SHARDS_MAX : 2 * (unsigned)cpus;
}

int
drift_windows_init(struct drift_windows *w, size_t total_bins)
{
	size_t stride = drift_stride(total_bins), s, k, i;

	atomic_init(&w->seq, 0);
	w->total_bins = total_bins;
	w->stride = stride;
	w->shards = drift_shard_count();
	for (s = 0; s < DRIFT_SLOTS; s++) {
		w->slot[s].counts = NULL;
		w->slot[s].shard = NULL;
	}
	for (s = 0; s < DRIFT_SLOTS; s++) {
		struct drift_slot *slot = &w->slot[s];

		atomic_init(&slot->observations, 0);
		atomic_init(&slot->ready, s != 0); /* slot 0 holds the first window */
		slot->counts = aligned_alloc(64, w->shards * stride * sizeof(*slot->counts));
		slot->shard = aligned_alloc(64, w->shards * sizeof(*slot->shard));
		if (slot->counts == NULL || slot->shard == NULL) {
			drift_windows_destroy(w);
			return -ENOMEM;
		}
		for (k = 0; k < w->shards; k++) {
			atomic_init(&slot->shard[k].busy, 0);
			slot->shard[k].counts = slot->counts + k * stride;
		}
		for (i = 0; i < w->shards * stride; i++)
			atomic_init(&slot->counts[i], 0);
	}
	return 0;
}

void
drift_windows_destroy(struct drift_windows *w)
{
	size_t s;

	for (s = 0; s < DRIFT_SLOTS; s++) {
		free(w->slot[s].counts);
		free(w->slot[s].shard);
		w->slot[s].counts = NULL;
		w->slot[s].shard = NULL;
	}
}

struct drift_shard *
drift_windows_enter(struct drift_windows *w, uint64_t *seq, struct drift_slot **slotp)
{
	for (;;) {
		uint64_t s = atomic_load(&w->seq);
		struct drift_slot *slot = &w->slot[s % DRIFT_SLOTS];
		unsigned i;

		int cpu = sched_getcpu();
		unsigned first = cpu > 0 ? 2 * (unsigned)cpu : 0;

		for (i = 0; i < w->shards; i++) {
			unsigned k = (first + i) % w->shards;
			struct drift_shard *sh = &slot->shard[k];

			if (atomic_load_explicit(&sh->busy, memory_order_relaxed) != 0 ||
			    atomic_exchange(&sh->busy, 1) != 0)
				continue;
			if (atomic_load(&w->seq) == s) {
				*seq = s;
				*slotp = slot;
				return sh;
			}
			atomic_store_explicit(&sh->busy, 0, memory_order_release);
			break;
		}
		if (i == w->shards)
			sched_yield(); /* more observers than shards right now */
	}
}

void
drift_windows_leave(struct drift_shard *sh)
{
	atomic_store_explicit(&sh->busy, 0, memory_order_release);
}

uint64_t
drift_windows_seq(struct drift_windows *w)
{
	return atomic_load(&w->seq);
}

/* Sum of a slot's shards into counts (total_bins). */
static void
drift_slot_sum(const struct drift_windows *w, struct drift_slot *slot, uint64_t *counts)
{
	size_t i, k;

	memset(counts, 0, w->total_bins * sizeof(*counts));
	for (k = 0; k < w->shards; k++)
		for (i = 0; i < w->total_bins; i++)
			counts[i] += atomic_load_explicit(&slot->shard[k].counts[i],
							  memory_order_relaxed);
}

bool
drift_windows_close(struct drift_windows *w, uint64_t seq)
{
	struct drift_slot *next = &w->slot[(seq + 1) % DRIFT_SLOTS];

	if (!atomic_load(&next->ready))
		return false;
	if (!atomic_compare_exchange_strong(&w->seq, &seq, seq + 1))
		return false;
	atomic_store(&next->ready, false);
	return true;
}

uint64_t
drift_windows_drain(struct drift_windows *w, uint64_t seq, uint64_t *counts)
{
	struct drift_slot *old = &w->slot[seq % DRIFT_SLOTS];
	uint64_t observations;
	size_t i, k;

	for (k = 0; k < w->shards; k++)
		while (atomic_load(&old->shard[k].busy) != 0)
			sched_yield();
	drift_slot_sum(w, old, counts);
	observations = atomic_load_explicit(&old->observations, memory_order_relaxed);
	for (i = 0; i < w->shards * w->stride; i++)
		atomic_store_explicit(&old->counts[i], 0, memory_order_relaxed);
	atomic_store_explicit(&old->observations, 0, memory_order_relaxed);
	atomic_store(&old->ready, true);
	return observations;
}

uint64_t
drift_windows_peek(struct drift_windows *w, uint64_t *counts)
{
	struct drift_slot *cur = &w->slot[atomic_load(&w->seq) % DRIFT_SLOTS];

	drift_slot_sum(w, cur, counts);
	return atomic_load_explicit(&cur->observations, memory_order_relaxed);
}
