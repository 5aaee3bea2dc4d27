/* SPDX-License-Identifier: MIT */
/* fleet_ring.c - one engine's slot rows gathered and put back in cycle order (fleet_ring.h). */
#include "fleet_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
fleet_ring_add(struct fleet_ring *g, const void *slot, uint32_t pos)
{
	if (g->len == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 64;
		double *in = realloc(g->in, (size_t)cap * FLEET_SLOT_BYTES);
		double *out = in ? realloc(g->out, (size_t)cap * FLEET_SLOT_BYTES) : NULL;
		uint32_t *p = out ? realloc(g->pos, cap * sizeof(*p)) : NULL;
		uint32_t *op = p ? realloc(g->opos, cap * sizeof(*op)) : NULL;
		uint32_t *idx = op ? realloc(g->idx, cap * sizeof(*idx)) : NULL;

		if (in)
			g->in = in;
		if (out)
			g->out = out;
		if (p)
			g->pos = p;
		if (op)
			g->opos = op;
		if (idx == NULL)
			return -ENOMEM;
		g->idx = idx;
		g->cap = cap;
	}
	/* a database's bytes need not be aligned for doubles */
	memcpy(g->in + (size_t)g->len * FLEET_SLOT, slot, FLEET_SLOT_BYTES);
	g->pos[g->len] = pos;
	return (int)g->len++;
}

int
fleet_ring_set_newest(struct fleet_ring *g, double rul, double ts, const char *model,
		      const char *version)
{
	size_t ml, vl;

	model = model ? model : "";
	version = version ? version : "";
	ml = strlen(model);
	vl = strlen(version);
	if (ml + vl + 2 > g->text_cap) {
		char *t = realloc(g->text, ml + vl + 2);

		if (t == NULL)
			return -ENOMEM;
		g->text = t;
		g->text_cap = ml + vl + 2;
	}
	memcpy(g->text, model, ml + 1);
	memcpy(g->text + ml + 1, version, vl + 1);
	g->rul = rul;
	g->ts = ts;
	return 0;
}

int
fleet_ring_emit(struct fleet_ring *g, fleet_window_fn fn, void *ud)
{
	struct fleet_window w = { .unit = g->unit, .expected = -1 };
	uint32_t i, j, k;

	if (g->len == 0)
		return 0;
	for (i = 0; i < g->len; i++) { /* insertion sort by cycle: a ring is one rotation */
		for (j = i; j > 0 && g->in[(size_t)g->idx[j - 1] * FLEET_SLOT] >
				     g->in[(size_t)i * FLEET_SLOT]; j--)
			g->idx[j] = g->idx[j - 1];
		g->idx[j] = i;
	}
	for (k = 0; k < g->len; k++) {
		memcpy(g->out + (size_t)k * FLEET_SLOT, g->in + (size_t)g->idx[k] * FLEET_SLOT,
		       FLEET_SLOT_BYTES);
		g->opos[k] = g->pos[g->idx[k]];
	}
	w.len = g->len;
	w.slots = g->out;
	w.pos = g->opos;
	w.rul = g->rul;
	w.ts = g->ts;
	w.model = g->text ? g->text : "";
	w.version = g->text ? g->text + strlen(g->text) + 1 : "";
	g->len = 0;
	return fn(ud, &w);
}

void
fleet_ring_free(struct fleet_ring *g)
{
	free(g->in);
	free(g->out);
	free(g->pos);
	free(g->opos);
	free(g->idx);
	free(g->text);
}
