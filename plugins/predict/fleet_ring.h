/* SPDX-License-Identifier: MIT */
/* fleet_ring.h - one engine's window as a store reads it back: its slot rows, put in cycle
 * order for a fleet_window_fn. Shared by the SQLite and PostgreSQL stores. */
#ifndef RULSRV_FLEET_RING_H
#define RULSRV_FLEET_RING_H

#include <stddef.h>
#include <stdint.h>

#include "fleet_store.h"

/*
 * The slot rows of one engine come in ring order (by slot position), which is one rotation of
 * cycle order: the ring gathers them, then fleet_ring_emit sorts them by cycle and hands the
 * window to the callback with each cycle's ring slot (so a restart puts it back there).
 */
struct fleet_ring {
	int64_t unit;
	uint32_t len, cap;
	double *in, *out; /* cap slots each (FLEET_SLOT doubles): as read, in cycle order */
	uint32_t *pos, *opos, *idx;
	uint32_t newest; /* index in `in` of the newest cycle so far */
	double rul, ts;  /* the window's prediction and last seen */
	char *text;      /* its model, then its version */
	size_t text_cap;
};

#define FLEET_RING_INIT { .unit = -1 }
#define FLEET_SLOT_BYTES ((int)(FLEET_SLOT * sizeof(double)))

/* Append one slot row: slot (FLEET_SLOT doubles, any alignment) read from ring slot pos.
 * Returns its index, or -ENOMEM. */
int fleet_ring_add(struct fleet_ring *g, const void *slot, uint32_t pos);
/* The window's prediction, last seen, model and version (copied); 0 or -ENOMEM. */
int fleet_ring_set_newest(struct fleet_ring *g, double rul, double ts, const char *model,
			  const char *version);
/* The ring gathered so far to fn, its cycles oldest first, then empty (fn's result; 0 when
 * there was nothing). */
int fleet_ring_emit(struct fleet_ring *g, fleet_window_fn fn, void *ud);
void fleet_ring_free(struct fleet_ring *g);

#endif
