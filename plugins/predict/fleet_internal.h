/* SPDX-License-Identifier: MIT */
/* fleet_internal.h - the pieces of fleet mode: engine table, store, committer, shared state. */
#ifndef RULSRV_FLEET_INTERNAL_H
#define RULSRV_FLEET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet_service.h"

/* ---- the engine table (fleet_table.c) ------------------------------------------------------ */

/* Open addressing on the unit, linear probing, deletion by backward shift: no tombstones. */
struct fleet_table {
	struct fleet_engine **slot;
	size_t mask; /* slots - 1, a power of two */
	size_t count;
	/* every engine, least recently seen first: put appends a new engine at the newest end
	 * (a replacement takes the place of the engine it replaces), remove unlinks */
	struct fleet_engine *oldest, *newest;
};

int fleet_table_init(struct fleet_table *t, size_t expected);
/* Frees every engine too. */
void fleet_table_free(struct fleet_table *t);
struct fleet_engine *fleet_table_find(const struct fleet_table *t, int64_t unit);
/* Insert e (its unit not present) or replace the engine of the same unit (returned, else
 * NULL). -ENOMEM leaves the table as it was. */
int fleet_table_put(struct fleet_table *t, struct fleet_engine *e, struct fleet_engine **old);
/* Room for count engines, so that as many puts of new units cannot fail. */
int fleet_table_reserve(struct fleet_table *t, size_t count);
/* Remove the engine of unit and return it (NULL when absent); the caller frees it. */
struct fleet_engine *fleet_table_remove(struct fleet_table *t, int64_t unit);
/* e was just seen: to the newest end of the list. */
void fleet_table_touch(struct fleet_table *t, struct fleet_engine *e);
/* e's last_seen changed to any time: to its place in the list (searched from the newest). */
void fleet_table_place(struct fleet_table *t, struct fleet_engine *e);
/* Order the whole list by last_seen (after loading every engine from the store). */
int fleet_table_sort_seen(struct fleet_table *t);

/* A new engine with room for cap cycles. */
struct fleet_engine *fleet_engine_new(int64_t unit, uint32_t cap);
/* The same engine with room for cap cycles (keeps the newest when cap is smaller). */
struct fleet_engine *fleet_engine_resize(struct fleet_engine *e, uint32_t cap);
/* Slot i, 0 the oldest. */
static inline double *
fleet_engine_slot(struct fleet_engine *e, uint32_t i)
{
	return e->slots + (size_t)((e->head + i) % e->cap) * FLEET_SLOT;
}
/*
 * e->flags: the store's ring of the engine is not laid out as memory's (the ring was resized,
 * or loaded from slots it could not keep in place): the next write rewrites every slot.
 */
#define FLEET_ENGINE_RESET 1u
/* Append a cycle; when the ring was full, *dropped is the cycle that fell out (else -1). */
void fleet_engine_append(struct fleet_engine *e, int64_t cycle, const double *inputs,
			 int64_t *dropped);
static inline int64_t
fleet_engine_last_cycle(struct fleet_engine *e)
{
	return (int64_t)fleet_engine_slot(e, e->len - 1)[0];
}
/* Bytes of an engine of cap cycles (the allocation). */
size_t fleet_engine_bytes(uint32_t cap);

/* ---- the store: fleet_store.h ---------------------------------------------------------- */

#include "fleet_store.h"

/* ---- the committer (fleet_commit.c) -------------------------------------------------------- */

/* One request's writes and its deferred answer. */
struct fleet_item {
	struct fleet_item *next;
	int64_t *forget;
	size_t n_forget;
	struct fleet_row *rows;
	size_t n_rows;
	struct fleet_window *wins; /* each engine's window after the request (slots malloc'd) */
	size_t n_wins;
	/* the request's exact repeats of an engine's stored cycle, for the observers (not
	 * stored again): their first answer may never have gone out */
	struct fleet_row *reps;
	size_t n_reps;
	/* per row: the prediction log may have it already (fleet_engine.maybe_logged), so the
	 * observers get it flagged RULSRV_PREDICTION_REPEAT; NULL: no row is */
	uint8_t *repeat;
	/* the observers had the predictions when the item was queued (fleet_http.c): the
	 * answer waits for this commit and the log's; the hook gives it the commit's result */
	struct fleet_answer *answer;
	/* the answer once durable: body (malloc'd) with status, or the error when the store
	 * failed; resp NULL for writes nobody waits for (evictions on a timer) */
	struct rulsrv_response *resp;
	unsigned status;
	char *body;
	size_t body_len;
	int result; /* set by the committer */
	/* bounded durability: the cycles of an item answered before its commit (its part of
	 * the committer's unflushed count; resp is then NULL) */
	size_t early;
	/* the instance whose request this is, told of the rows once they are durable and before
	 * resp is answered (the instance lasts until then: fini waits for deferred answers) */
	struct fleet_service *fs;
	double received_at;
	/* what it takes to plan the request again when another instance moved one of its
	 * engines on (-EAGAIN): a shared store only (fleet_http.c) */
	struct fleet_retry *retry;
};

struct fleet_retry;
void fleet_retry_free(struct fleet_retry *rt);
struct fleet_answer;

struct fleet_shared;
struct fleet_committer;

/* hook(ud, item) on the committer thread, once per item, after its transaction. */
int fleet_committer_new(struct fleet_store *store, void (*hook)(void *ud, struct fleet_item *it),
			void *ud, struct fleet_committer **out);
/*
 * Bounded durability (docs/FLEET.md): a transaction gathers what comes in for up to
 * flush_ms after the first item queued (at once when an answer waits for it), and at most
 * max_unflushed cycles are answered before they are committed. flush_ms 0: durable.
 */
void fleet_committer_bound(struct fleet_committer *c, unsigned flush_ms, size_t max_unflushed);
/* Bounded durability: may n more cycles be answered before their commit? true counts them
 * as unflushed until the item that carries them (its early = n) is committed. */
bool fleet_committer_reserve(struct fleet_committer *c, size_t n);
/* Wait until everything queued so far is committed and handed to the hook. */
void fleet_committer_flush(struct fleet_committer *c);
/* Queue; -ESHUTDOWN when stopping (the item stays the caller's). */
int fleet_committer_submit(struct fleet_committer *c, struct fleet_item *it);
/* Commit what is queued, stop, free. */
void fleet_committer_free(struct fleet_committer *c);
void fleet_item_free(struct fleet_item *it);

#endif
