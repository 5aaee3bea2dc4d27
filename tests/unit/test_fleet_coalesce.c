/* SPDX-License-Identifier: MIT */
/* test_fleet_coalesce.c - plugins/predict/fleet_coalesce.c: a coalesced set of writes leaves
 * the tables as the writes applied one by one, in order, do. */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "fleet_coalesce.h"
#include "splitmix64.h"

Suite *fleet_coalesce_suite(void);

#define UNITS 4
#define KEYS 6
#define OPS 200

/* The two tables of a few engines: 0 is an absent row, else the order + 1 of its write. */
struct tables {
	uint64_t cycle[UNITS][KEYS], slot[UNITS][KEYS];
};

static void
apply(struct tables *t, const struct fleet_op *op)
{
	switch (op->kind) {
	case FLEET_OP_FORGET:
		memset(t->cycle[op->unit], 0, sizeof(t->cycle[op->unit]));
		/* fall through */
	case FLEET_OP_RESET:
		memset(t->slot[op->unit], 0, sizeof(t->slot[op->unit]));
		break;
	case FLEET_OP_CYCLE:
		t->cycle[op->unit][op->key] = op->order + 1;
		break;
	default:
		t->slot[op->unit][op->key] = op->order + 1;
	}
}

static struct fleet_op
random_op(uint64_t *rng, uint64_t order)
{
	uint64_t r = splitmix64_next(rng);
	unsigned pick = (unsigned)(r % 100);
	struct fleet_op op = { .unit = (int64_t)((r >> 8) % UNITS), .order = order };

	op.kind = pick < 4 ? FLEET_OP_FORGET : pick < 8 ? FLEET_OP_RESET :
		  pick < 54 ? FLEET_OP_CYCLE : FLEET_OP_SLOT;
	if (op.kind >= FLEET_OP_CYCLE)
		op.key = (int64_t)((r >> 16) % KEYS);
	return op;
}

/* Random sequences over a random start: the coalesced writes (given shuffled) give the same
 * tables as the sequence in order, with at most one delete per engine, first. */
START_TEST(coalesced_writes_leave_the_tables_as_the_sequence_does)
{
	uint64_t rng = 0x5eed0000u + (uint64_t)_i;
	struct fleet_op seq[OPS], ops[OPS];
	struct tables start, want, got;
	size_t i, n;

	for (i = 0; i < UNITS * KEYS; i++) {
		start.cycle[i / KEYS][i % KEYS] = splitmix64_next(&rng) % 2 ? 1000 + i : 0;
		start.slot[i / KEYS][i % KEYS] = splitmix64_next(&rng) % 2 ? 2000 + i : 0;
	}
	for (i = 0; i < OPS; i++)
		seq[i] = random_op(&rng, i);
	want = start;
	for (i = 0; i < OPS; i++)
		apply(&want, &seq[i]);
	memcpy(ops, seq, sizeof(ops));
	for (i = OPS - 1; i > 0; i--) { /* the input's order must not matter */
		size_t j = splitmix64_next(&rng) % (i + 1);
		struct fleet_op x = ops[i];

		ops[i] = ops[j];
		ops[j] = x;
	}
	n = fleet_coalesce(ops, OPS);
	ck_assert_uint_lt(n, OPS); /* 200 writes to 48 rows: most are void */
	got = start;
	for (i = 0; i < n; i++) {
		if (i > 0 && ops[i].unit == ops[i - 1].unit)
			ck_assert_uint_ge(ops[i].kind, FLEET_OP_CYCLE); /* a delete only first */
		if (i > 0)
			ck_assert_int_le(ops[i - 1].unit, ops[i].unit);
		apply(&got, &ops[i]);
	}
	ck_assert_mem_eq(&got, &want, sizeof(got));
}
END_TEST

/* A slot rewritten by every record of a batch is written once, with the last value; a cycle
 * written before its engine was forgotten is not written at all. */
START_TEST(superseded_writes_are_dropped)
{
	struct fleet_op ops[12];
	size_t i, n;

	for (i = 0; i < 10; i++)
		ops[i] = (struct fleet_op){ .unit = 7, .key = 3, .kind = FLEET_OP_SLOT,
					    .order = i, .index = (uint32_t)i };
	ops[10] = (struct fleet_op){ .unit = 9, .key = 1, .kind = FLEET_OP_CYCLE, .order = 10 };
	ops[11] = (struct fleet_op){ .unit = 9, .kind = FLEET_OP_FORGET, .order = 11 };
	n = fleet_coalesce(ops, 12);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ops[0].unit, 7);
	ck_assert_uint_eq(ops[0].index, 9);
	ck_assert_int_eq(ops[1].unit, 9);
	ck_assert_uint_eq(ops[1].kind, FLEET_OP_FORGET);
}
END_TEST

Suite *
fleet_coalesce_suite(void)
{
	Suite *s = suite_create("fleet_coalesce");
	TCase *tc = tcase_create("coalesce");

	tcase_add_loop_test(tc, coalesced_writes_leave_the_tables_as_the_sequence_does, 0, 500);
	tcase_add_test(tc, superseded_writes_are_dropped);
	suite_add_tcase(s, tc);
	return s;
}
