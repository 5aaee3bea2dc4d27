/* SPDX-License-Identifier: MIT */
/* fleet.c - round-robin scheduling of the engines in service, one request per engine at a time. */
#include "fleet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
fleet_init(struct fleet *f, struct quarter *q, size_t size)
{
	memset(f, 0, sizeof(*f));
	f->q = q;
	f->size = size < q->engine_count ? size : q->engine_count;
	f->slots = calloc(f->size ? f->size : 1, sizeof(*f->slots));
	if (f->slots == NULL)
		return -ENOMEM;
	while (f->slot_count < f->size)
		f->slots[f->slot_count++] = f->admitted++;
	return 0;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	free(f->slots);
	memset(f, 0, sizeof(*f));
}

struct engine *
fleet_next_cycle(struct fleet *f)
{
	for (size_t n = 0; n < f->slot_count; n++) {
		size_t slot = (f->cursor + n) % f->slot_count;
		struct engine *e = &f->q->engines[f->slots[slot]];

		if (!e->in_flight && e->sent < e->rows) {
			f->cursor = (slot + 1) % f->slot_count;
			return e;
		}
	}
	return NULL;
}

struct engine *
fleet_next_failure(struct fleet *f, double now, double delay)
{
	for (size_t i = 0; i < f->slot_count; i++) {
		struct engine *e = &f->q->engines[f->slots[i]];

		if (e->answered == e->rows && !e->failure_sent && now - e->answered_at >= delay)
			return e;
	}
	return NULL;
}

void
fleet_retire(struct fleet *f, struct engine *e)
{
	size_t index = (size_t)(e - f->q->engines), i = 0;

	while (i < f->slot_count && f->slots[i] != index)
		i++;
	if (i == f->slot_count || e->finished)
		return;
	e->finished = true;
	f->retired++;
	if (f->admitted < f->q->engine_count) {
		f->slots[i] = f->admitted++;
		return;
	}
	memmove(&f->slots[i], &f->slots[i + 1], (f->slot_count - i - 1) * sizeof(*f->slots));
	f->slot_count--;
	if (f->cursor > i)
		f->cursor--;
	if (f->cursor >= f->slot_count)
		f->cursor = 0;
}

bool
fleet_done(const struct fleet *f)
{
	return f->retired == f->q->engine_count;
}
