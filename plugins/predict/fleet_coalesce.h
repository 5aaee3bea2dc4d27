/* SPDX-License-Identifier: MIT */
/* fleet_coalesce.h - many journal records' writes as one sorted set: each row written once, in
 * key order, so that applying a second of a fleet touches each B-tree page once. */
#ifndef RULSRV_FLEET_COALESCE_H
#define RULSRV_FLEET_COALESCE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The SQLite store's applier writes what its journal holds into two tables keyed by engine:
 * a cycle of a live fleet lands on pages no other cycle of the same moment touches, so rows
 * written one record after another cost a random page each. Gathered over many records and
 * sorted by engine, an engine's new cycles and slots sit side by side, and a row that a later
 * record rewrites (the same ring slot twice) or deletes (the engine forgotten) is not written
 * at all. The result is the same tables as the records applied one by one, in order.
 */
enum fleet_op_kind {
	FLEET_OP_FORGET, /* delete the engine's history rows and slots */
	FLEET_OP_RESET,  /* delete the engine's slots (a new ring) */
	FLEET_OP_CYCLE,  /* insert or replace the history row (unit, key = cycle) */
	FLEET_OP_SLOT,   /* insert or replace the slot row (unit, key = ring position) */
};

struct fleet_op {
	int64_t unit;
	int64_t key;    /* CYCLE: the cycle; SLOT: the ring position; otherwise 0 */
	uint64_t order; /* the op's place in the sequence as written, unique */
	uint32_t kind;  /* enum fleet_op_kind */
	uint32_t index; /* the caller's: which of its rows this op writes */
};

/*
 * Sort ops (any order in, each with its sequence number) into the order they are applied,
 * engine after engine, and drop every op a later one makes void; returns how many are left,
 * at the start of ops. For each engine the result is at most one delete (FORGET when the
 * sequence forgot it, else RESET when it reset its ring), then its history rows by cycle, then
 * its slots by position: applying them in that order leaves the tables as the whole sequence
 * applied in order does, whatever they held before.
 */
size_t fleet_coalesce(struct fleet_op *ops, size_t n);

#endif
