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

/* One accepted cycle as stored. model and version are borrowed for the call. */
struct fleet_row {
	int64_t unit;
	int64_t cycle;
	int64_t dropped; /* the cycle that left the window (its inputs are cleared), or -1 */
	double inputs[CMAPSS_N_INPUTS];
	double rul;
	double ts;
	const char *model, *version;
};

/* A cycle read back: with inputs when it is in the window. */
struct fleet_stored {
	int64_t unit;
	int64_t cycle;
	bool has_inputs;
	double inputs[CMAPSS_N_INPUTS];
	double rul;
	double ts;
	const char *model, *version; /* valid during the callback */
};

typedef int (*fleet_stored_fn)(void *ud, const struct fleet_stored *c);
typedef void (*fleet_failure_fn)(void *ud, int64_t unit, int64_t failed_at);

struct fleet_store_ops {
	const char *name;
	/* Open or create the store at location (a path, a connection string). On failure,
	 * err holds the reason. */
	int (*open)(const char *location, struct fleet_store **out, char *err, size_t err_len);
	/* Accepts NULL. */
	void (*close)(struct fleet_store *s);
	/* In one durable transaction: forget every unit of forget[], then insert rows. 0 or
	 * -errno (nothing stored then). */
	int (*apply)(struct fleet_store *s, const int64_t *forget, size_t n_forget,
		     const struct fleet_row *rows, size_t n_rows);
	/* Every windowed cycle (inputs not cleared) ordered by unit and cycle. */
	int (*load)(struct fleet_store *s, fleet_stored_fn fn, void *ud);
	/* One unit's windowed cycles (window_only) or every cycle of its life, oldest first. */
	int (*unit)(struct fleet_store *s, int64_t unit, bool window_only, fleet_stored_fn fn,
		    void *ud);
	/* Failure events of the feedback plugin (its table "failures", when the store holds
	 * it) past the fleet's cursor: fn(ud, unit, failed_at) for each, then the cursor moves
	 * (durably). */
	int (*failures)(struct fleet_store *s, fleet_failure_fn fn, void *ud);
};

extern const struct fleet_store_ops fleet_store_sqlite;

static inline int
fleet_store_open(const struct fleet_store_ops *ops, const char *location,
		 struct fleet_store **out, char *err, size_t err_len)
{
	return ops->open(location, out, err, err_len);
}

static inline void
fleet_store_close(struct fleet_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

static inline int
fleet_store_apply(struct fleet_store *s, const int64_t *forget, size_t n_forget,
		  const struct fleet_row *rows, size_t n_rows)
{
	return s->ops->apply(s, forget, n_forget, rows, n_rows);
}

static inline int
fleet_store_load(struct fleet_store *s, fleet_stored_fn fn, void *ud)
{
	return s->ops->load(s, fn, ud);
}

static inline int
fleet_store_unit(struct fleet_store *s, int64_t unit, bool window_only, fleet_stored_fn fn,
		 void *ud)
{
	return s->ops->unit(s, unit, window_only, fn, ud);
}

static inline int
fleet_store_failures(struct fleet_store *s, fleet_failure_fn fn, void *ud)
{
	return s->ops->failures(s, fn, ud);
}

#endif
