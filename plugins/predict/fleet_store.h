/* SPDX-License-Identifier: MIT */
/* fleet_store.h - where the engines' windows outlive the process, behind a small vtable. */
#ifndef RULSRV_FLEET_STORE_H
#define RULSRV_FLEET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet_service.h"

/*
 * A backend is a const struct fleet_store_ops (as the feedback plugin's store,
 * plugins/feedback/store.h): fleet_store_sqlite (fleet_store_sqlite.c) today. Its own store
 * structure begins with struct fleet_store, so the rest of fleet mode holds a struct
 * fleet_store * and calls through the inline wrappers below.
 *
 * Threads: apply and failures are called from one thread at a time (the committer, the
 * timer under the fleet's lock); load and unit from any thread, concurrently with them.
 * Callbacks run while the store holds its connection: they must not call back into it.
 */

struct fleet_store_ops;

struct fleet_store {
	const struct fleet_store_ops *ops;
};

/* One accepted cycle as stored in the engine's history (GET /v1/engines/{unit}). model and
 * version are borrowed for the call; inputs go to the observers, not to the history. */
struct fleet_row {
	int64_t unit;
	int64_t cycle;
	double inputs[CMAPSS_N_INPUTS];
	double rul;
	double ts;
	const char *model, *version;
};

/*
 * An engine's window: its cycles oldest first, FLEET_SLOT doubles each (the cycle number, then
 * the raw inputs), with the prediction at the last one. The store keeps the engine's ring as
 * memory has it (fleet_table.c), one row per ring slot, so an accepted cycle writes the one
 * slot it fills and a restart puts each cycle back in the slot it was in.
 */
struct fleet_window {
	int64_t unit;
	/* apply: the last cycle the store must hold for this engine before the write, -1 when
	 * it must hold none (a new engine). A store that other processes write (PostgreSQL)
	 * compares and sets on it; SQLite, one process's file, does not need to. */
	int64_t expected;
	uint32_t len; /* cycles in the window */
	/* apply: slots holds cycles first .. len - 1 of the window (those the request added),
	 * cycle i (0 the oldest) going to ring slot (head + i) % cap; reset: the store's slots
	 * of the engine are dropped first (a new ring: first is then 0). */
	uint32_t first, head, cap;
	bool reset;
	double *slots; /* apply: the caller's, len - first cycles; load and window: the store's */
	const uint32_t *pos; /* load and window: the ring slot of each cycle */
	double rul;
	double ts; /* last seen */
	const char *model, *version;
};

static inline int64_t
fleet_window_last_cycle(const struct fleet_window *w)
{
	return (int64_t)w->slots[(size_t)(w->len - w->first - 1) * FLEET_SLOT];
}

/* A cycle of the history read back. */
struct fleet_stored {
	int64_t unit;
	int64_t cycle;
	double rul;
	double ts;
	const char *model, *version; /* valid during the callback */
};

typedef int (*fleet_stored_fn)(void *ud, const struct fleet_stored *c);
typedef int (*fleet_window_fn)(void *ud, const struct fleet_window *w);
typedef void (*fleet_failure_fn)(void *ud, int64_t unit, int64_t failed_at);

struct fleet_store_ops {
	const char *name;
	/* Other processes may write the store (several instances of a fleet): an engine missing
	 * from memory may be in the store, and a window written is a compare-and-set. */
	bool shared;
	/* Optional: refuse a location at configuration time (why says what is wrong). */
	int (*check)(const char *location, char *why, size_t why_len);
	/* Open or create the store at location (a path, a connection string), migrating an
	 * older layout; timeout_ms bounds each call to a server. On failure, err holds the
	 * reason. */
	int (*open)(const char *location, int timeout_ms, struct fleet_store **out, char *err,
		    size_t err_len);
	/* Accepts NULL. */
	void (*close)(struct fleet_store *s);
	/*
	 * In one durable transaction: forget every unit of forget[] (window and history), add
	 * the history rows, write the windows' new slots (in order: an engine may come twice,
	 * the second expecting the first's last cycle). 0, -EAGAIN when a window's expected cycle
	 * is not the store's (another process moved the engine on), or another -errno; nothing
	 * is stored unless 0.
	 */
	int (*apply)(struct fleet_store *s, const int64_t *forget, size_t n_forget,
		     const struct fleet_row *rows, size_t n_rows, const struct fleet_window *wins,
		     size_t n_wins);
	/* Every engine's window, in no particular order. */
	int (*load)(struct fleet_store *s, fleet_window_fn fn, void *ud);
	/* One engine's window: fn once, or not at all when the store has none. */
	int (*window)(struct fleet_store *s, int64_t unit, fleet_window_fn fn, void *ud);
	/* Every cycle of one engine's life, oldest first. */
	int (*history)(struct fleet_store *s, int64_t unit, fleet_stored_fn fn, void *ud);
	/* Failure events of the feedback plugin (its table "failures", when the store holds
	 * it) past the fleet's cursor: fn(ud, unit, failed_at) for each, then the cursor moves
	 * (durably). */
	int (*failures)(struct fleet_store *s, fleet_failure_fn fn, void *ud);
	/* Seconds a client should wait before retrying after this store failed (Retry-After). */
	unsigned (*retry_after)(struct fleet_store *s);
};

extern const struct fleet_store_ops fleet_store_sqlite;
extern const struct fleet_store_ops fleet_store_pg; /* fleet_store_pg.c */

static inline int
fleet_store_open(const struct fleet_store_ops *ops, const char *location, int timeout_ms,
		 struct fleet_store **out, char *err, size_t err_len)
{
	return ops->open(location, timeout_ms, out, err, err_len);
}

static inline void
fleet_store_close(struct fleet_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

static inline int
fleet_store_apply(struct fleet_store *s, const int64_t *forget, size_t n_forget,
		  const struct fleet_row *rows, size_t n_rows, const struct fleet_window *wins,
		  size_t n_wins)
{
	return s->ops->apply(s, forget, n_forget, rows, n_rows, wins, n_wins);
}

static inline int
fleet_store_load(struct fleet_store *s, fleet_window_fn fn, void *ud)
{
	return s->ops->load(s, fn, ud);
}

static inline int
fleet_store_window(struct fleet_store *s, int64_t unit, fleet_window_fn fn, void *ud)
{
	return s->ops->window(s, unit, fn, ud);
}

static inline int
fleet_store_history(struct fleet_store *s, int64_t unit, fleet_stored_fn fn, void *ud)
{
	return s->ops->history(s, unit, fn, ud);
}

static inline int
fleet_store_failures(struct fleet_store *s, fleet_failure_fn fn, void *ud)
{
	return s->ops->failures(s, fn, ud);
}

static inline unsigned
fleet_store_retry_after(struct fleet_store *s)
{
	return s->ops->retry_after(s);
}

#endif
