/* SPDX-License-Identifier: MIT */
/* fleet_coalesce.c - journal records' writes sorted by engine, superseded ones dropped. */
#include "fleet_coalesce.h"

#include <stdbool.h>
#include <stdlib.h>

/* By engine, then kind (deletes first), then key, then sequence. */
static int
op_cmp(const void *a, const void *b)
{
	const struct fleet_op *x = a, *y = b;

	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

size_t
fleet_coalesce(struct fleet_op *ops, size_t n)
{
	size_t i = 0, j, out = 0;

	qsort(ops, n, sizeof(*ops), op_cmp);
	while (i < n) {
		const int64_t unit = ops[i].unit;
		/* the last forget of the engine voids every write before it; the last forget or
		 * reset voids the slot writes before it */
		bool forgot = false, reset = false;
		uint64_t forget_at = 0, reset_at = 0;
		struct fleet_op del = { 0 };

		for (; i < n && ops[i].unit == unit && ops[i].kind <= FLEET_OP_RESET; i++) {
			if (ops[i].kind == FLEET_OP_FORGET && (!forgot || ops[i].order > forget_at)) {
				forgot = true;
				forget_at = ops[i].order;
				del = ops[i];
			}
			if (!reset || ops[i].order > reset_at) {
				reset = true;
				reset_at = ops[i].order;
				if (!forgot)
					del = ops[i];
			}
		}
		if (reset)
			ops[out++] = del;
		for (; i < n && ops[i].unit == unit; i = j) {
			const struct fleet_op *last;

			/* a run of the same row: the last write wins */
			for (j = i + 1; j < n && ops[j].unit == unit && ops[j].kind == ops[i].kind &&
					ops[j].key == ops[i].key;
			     j++)
				;
			last = &ops[j - 1];
			if (last->kind == FLEET_OP_CYCLE && forgot && last->order < forget_at)
				continue;
			if (last->kind == FLEET_OP_SLOT && reset && last->order < reset_at)
				continue;
			ops[out++] = *last;
		}
	}
	return out;
}
