/* SPDX-License-Identifier: MIT */
/* quarter.h - one quarter of the replay: a subset's engines, their rows, their unit ids. */
#ifndef REPLAY_QUARTER_H
#define REPLAY_QUARTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmapss.h"

struct bundle;

/* Unit ids sent to the services: QUARTER * REPLAY_UNIT_BASE + the unit number in the file,
 * so engines of different quarters never share an id in the feedback store. */
#define REPLAY_UNIT_BASE 1000

/* One engine: its consecutive rows in the quarter's table and its replay progress. */
struct engine {
	int64_t unit;        /* id sent to the services */
	int64_t file_unit;   /* unit number in the data file */
	size_t first_row;    /* index of its first row in the table */
	size_t rows;         /* cycles in its trajectory */
	int64_t last_cycle;  /* cycle number at failure */
	size_t start;        /* index of the first cycle streamed; the stream wraps around */
	size_t sent;         /* cycles whose prediction request went out */
	size_t answered;     /* responses received (success or not) */
	bool in_flight;      /* a request of this engine is outstanding */
	size_t reset;        /* streaming: 1 + the request index whose life start was reset */
	double answered_at;  /* when its last response came (clocks_monotonic) */
	bool failure_sent;   /* the failure event went out */
	bool finished;       /* the failure event was answered */
};

struct quarter {
	unsigned number;          /* 1-based */
	char subset[8];           /* "FD002" */
	char label[32];           /* "Q2 FD002", the drift window label */
	char source[4096];        /* path of the file read */
	bool holdout;             /* engines are the bundle's held-out units */
	struct cmapss_table table;
	/* JSON of each row, {"cycle":N,"settings":[...],"sensors":[...]}, formatted once. */
	char *row_text;
	size_t *row_offset;       /* rows + 1 offsets into row_text */
	struct engine *engines;   /* in the order they enter service (shuffled by seed) */
	size_t engine_count;
	size_t cycle_count;       /* sum of rows over engines: the quarter's prediction requests */
};

/*
 * Load quarter number (1-based) of subset from data_dir. For the bundle's holdout_subset, the
 * engines are the bundle's held-out training units; otherwise every training unit. units > 0
 * keeps a sample of that many engines (chosen by seed). random_start: each engine's stream
 * begins at a random cycle (by seed) and wraps around to its first cycles, so that the
 * fleet is at every life stage at once, as a fleet in service is; else at cycle 1.
 * err names the file on failure.
 * Free q with quarter_free, also after a failure.
 */
int quarter_load(struct quarter *q, unsigned number, const char *subset, const char *data_dir,
		 const struct bundle *b, size_t units, uint64_t seed, bool random_start, char *err,
		 size_t err_len);
void quarter_free(struct quarter *q);

/* Path of subset's training file in data_dir; -ENOENT with a message naming it in err. */
int quarter_source(const char *data_dir, const char *subset, char *path, size_t path_len,
		   char *err, size_t err_len);

/* Index within e's trajectory of its k-th request (k < e->rows). */
static inline size_t
engine_cycle_index(const struct engine *e, size_t k)
{
	return (e->start + k) % e->rows;
}

/* Index within e's trajectory of the first cycle of the life its k-th request is in: a life
 * begins where the stream starts and again where it wraps around to the first cycle. */
static inline size_t
engine_life_start(const struct engine *e, size_t k)
{
	return engine_cycle_index(e, k) >= e->start ? e->start : 0;
}

/* JSON of row i of the table (not NUL-terminated); *len set to its length. */
const char *quarter_row_json(const struct quarter *q, size_t row, size_t *len);

/* xorshift64*: the one random generator of the replay, so a seed reproduces a run. */
uint64_t replay_random(uint64_t *state);

#endif
