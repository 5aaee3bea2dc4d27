/* SPDX-License-Identifier: MIT */
/* fleet_table.c - the tracked engines: a hash table of units to windows, each a ring. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_internal.h"

/*
 * Why one allocation per engine and an open-addressing table of pointers: the per-engine
 * cost is the ring (cap x 25 doubles, 6000 bytes at the default window of 30) plus a 40-byte
 * header and two table pointers at a load factor of at most 1/2; no list node, no second
 * allocation. bench/fleet.sh measures it.
 */

static size_t
unit_hash(int64_t u, size_t mask)
{
	return (size_t)(((uint64_t)u * UINT64_C(0x9e3779b97f4a7c15)) >> 17) & mask;
}

int
fleet_table_init(struct fleet_table *t, size_t expected)
{
	size_t cap = 64;

	while (cap < expected * 2)
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	if (t->slot == NULL)
		return -ENOMEM;
	t->mask = cap - 1;
	t->count = 0;
	t->oldest = t->newest = NULL;
	return 0;
}

static void
seen_unlink(struct fleet_table *t, struct fleet_engine *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NULL;
}

/* Link e after `after` (NULL: as the oldest). */
static void
seen_insert_after(struct fleet_table *t, struct fleet_engine *e, struct fleet_engine *after)
{
	e->older = after;
	e->newer = after != NULL ? after->newer : t->oldest;
	if (e->newer != NULL)
		e->newer->older = e;
	else
		t->newest = e;
	if (after != NULL)
		after->newer = e;
	else
		t->oldest = e;
}

void
fleet_table_touch(struct fleet_table *t, struct fleet_engine *e)
{
	if (t->newest == e)
		return;
	seen_unlink(t, e);
	seen_insert_after(t, e, t->newest);
}

void
fleet_table_place(struct fleet_table *t, struct fleet_engine *e)
{
	struct fleet_engine *after;

	seen_unlink(t, e);
	for (after = t->newest; after != NULL && after->last_seen > e->last_seen;
	     after = after->older)
		;
	seen_insert_after(t, e, after);
}

static int
by_seen(const void *a, const void *b)
{
	const struct fleet_engine *x = *(struct fleet_engine *const *)a;
	const struct fleet_engine *y = *(struct fleet_engine *const *)b;

	return x->last_seen < y->last_seen ? -1 : x->last_seen > y->last_seen;
}

int
fleet_table_sort_seen(struct fleet_table *t)
{
	struct fleet_engine **all = malloc((t->count ? t->count : 1) * sizeof(*all));
	size_t i, n = 0;

	if (all == NULL)
		return -ENOMEM;
	for (i = 0; i <= t->mask; i++)
		if (t->slot[i] != NULL)
			all[n++] = t->slot[i];
	qsort(all, n, sizeof(*all), by_seen);
	t->oldest = t->newest = NULL;
	for (i = 0; i < n; i++)
		seen_insert_after(t, all[i], t->newest);
	free(all);
	return 0;
}

void
fleet_table_free(struct fleet_table *t)
{
	size_t i;

	if (t->slot == NULL)
		return;
	for (i = 0; i <= t->mask; i++)
		free(t->slot[i]);
	free(t->slot);
	t->slot = NULL;
	t->count = 0;
}

static size_t
find_slot(const struct fleet_table *t, int64_t unit)
{
	size_t h = unit_hash(unit, t->mask);

	while (t->slot[h] != NULL && t->slot[h]->unit != unit)
		h = (h + 1) & t->mask;
	return h;
}

struct fleet_engine *
fleet_table_find(const struct fleet_table *t, int64_t unit)
{
	return t->slot[find_slot(t, unit)];
}

static int
grow(struct fleet_table *t)
{
	struct fleet_table n;
	size_t i;

	n.slot = calloc((t->mask + 1) * 2, sizeof(*n.slot));
	if (n.slot == NULL)
		return -ENOMEM;
	n.mask = (t->mask + 1) * 2 - 1;
	n.count = t->count;
	n.oldest = t->oldest;
	n.newest = t->newest;
	for (i = 0; i <= t->mask; i++)
		if (t->slot[i] != NULL)
			n.slot[find_slot(&n, t->slot[i]->unit)] = t->slot[i];
	free(t->slot);
	*t = n;
	return 0;
}

int
fleet_table_reserve(struct fleet_table *t, size_t count)
{
	while (count * 2 > t->mask + 1)
		if (grow(t) < 0)
			return -ENOMEM;
	return 0;
}

int
fleet_table_put(struct fleet_table *t, struct fleet_engine *e, struct fleet_engine **old)
{
	size_t h = find_slot(t, e->unit);

	*old = t->slot[h];
	if (*old != NULL) {
		t->slot[h] = e;
		e->older = e->newer = NULL;
		seen_insert_after(t, e, *old);
		seen_unlink(t, *old);
		return 0;
	}
	if ((t->count + 1) * 2 > t->mask + 1) {
		if (grow(t) < 0)
			return -ENOMEM;
		h = find_slot(t, e->unit);
	}
	t->slot[h] = e;
	t->count++;
	e->older = e->newer = NULL;
	seen_insert_after(t, e, t->newest);
	return 0;
}

struct fleet_engine *
fleet_table_remove(struct fleet_table *t, int64_t unit)
{
	size_t h = find_slot(t, unit), j, home;
	struct fleet_engine *e = t->slot[h];

	if (e == NULL)
		return NULL;
	t->slot[h] = NULL;
	t->count--;
	seen_unlink(t, e);
	/* backward shift: move up every follower whose home is not between the hole and it */
	for (j = (h + 1) & t->mask; t->slot[j] != NULL; j = (j + 1) & t->mask) {
		home = unit_hash(t->slot[j]->unit, t->mask);
		if (((j - home) & t->mask) >= ((j - h) & t->mask)) {
			t->slot[h] = t->slot[j];
			t->slot[j] = NULL;
			h = j;
		}
	}
	return e;
}

size_t
fleet_engine_bytes(uint32_t cap)
{
	return sizeof(struct fleet_engine) + (size_t)cap * FLEET_SLOT * sizeof(double);
}

/* Stamps of every engine of the process (several databases: atomic), never given twice. */
static atomic_uint_fast64_t stamps;

static uint64_t
next_stamp(void)
{
	return atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
}

struct fleet_engine *
fleet_engine_new(int64_t unit, uint32_t cap)
{
	struct fleet_engine *e = malloc(fleet_engine_bytes(cap));

	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e)); /* older, newer NULL: in no list */
	e->unit = unit;
	e->cap = cap;
	e->maybe_logged = -1;
	e->stamp = next_stamp();
	return e;
}

struct fleet_engine *
fleet_engine_resize(struct fleet_engine *e, uint32_t cap)
{
	struct fleet_engine *n = fleet_engine_new(e->unit, cap);
	uint32_t keep = e->len < cap ? e->len : cap, i;

	if (n == NULL)
		return NULL;
	n->last_seen = e->last_seen;
	n->rul = e->rul;
	n->by = e->by;
	n->flags = e->flags;
	n->maybe_logged = e->maybe_logged;
	for (i = 0; i < keep; i++)
		memcpy(n->slots + (size_t)i * FLEET_SLOT, fleet_engine_slot(e, e->len - keep + i),
		       FLEET_SLOT * sizeof(double));
	n->len = keep;
	free(e);
	return n;
}

void
fleet_engine_append(struct fleet_engine *e, int64_t cycle, const double *inputs,
		    int64_t *dropped)
{
	double *s;

	*dropped = -1;
	if (e->len == e->cap) {
		*dropped = (int64_t)fleet_engine_slot(e, 0)[0];
		e->head = (e->head + 1) % e->cap;
		e->len--;
	}
	s = fleet_engine_slot(e, e->len);
	s[0] = (double)cycle;
	memcpy(s + 1, inputs, CMAPSS_N_INPUTS * sizeof(double));
	e->len++;
	e->stamp = next_stamp();
}
