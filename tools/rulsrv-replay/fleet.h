/* SPDX-License-Identifier: MIT */
/* fleet.h - which engine flies its next cycle: a bounded fleet in service, round robin. */
#ifndef REPLAY_FLEET_H
#define REPLAY_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "quarter.h"

/*
 * The engines of a quarter enter service in q->engines order, at most `size` at once, as in a
 * fleet: each engine in service reports its cycles one request at a time (never two of its
 * requests in flight), engines in service take turns, and when an engine has failed and its
 * failure event is answered, the next one enters service in its slot.
 */
struct fleet {
	struct quarter *q;
	size_t size;
	size_t admitted;     /* q->engines[0..admitted) have entered service */
	size_t retired;      /* engines whose failure event was answered */
	size_t *slots;       /* indices into q->engines of the engines in service */
	size_t slot_count;
	size_t cursor;       /* the slot whose turn is next */
};

int fleet_init(struct fleet *f, struct quarter *q, size_t size);
void fleet_free(struct fleet *f);

/* The next engine in service with a cycle to send and nothing in flight; NULL when none now. */
struct engine *fleet_next_cycle(struct fleet *f);
/* An engine whose every prediction was answered at least delay seconds before now, so its
 * failure event is due; or NULL. */
struct engine *fleet_next_failure(struct fleet *f, double now, double delay);
/* e's failure event was answered: it leaves service, the next engine enters. */
void fleet_retire(struct fleet *f, struct engine *e);
/* Every engine of the quarter retired. */
bool fleet_done(const struct fleet *f);

#endif
