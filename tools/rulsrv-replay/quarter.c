/* SPDX-License-Identifier: MIT */
/* quarter.c - load one quarter: the subset's trajectories, grouped into engines, in fleet order. */
#include "quarter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"

/* Longest JSON of one row: 24 numbers of at most 24 characters, the keys and the cycle. */
#define ROW_JSON_MAX (64 + CMAPSS_N_INPUTS * 26)

uint64_t
replay_random(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static bool
is_holdout(const struct bundle *b, int64_t unit)
{
	for (size_t i = 0; i < b->holdout_count; i++)
		if (b->holdout_units[i] == unit)
			return true;
	return false;
}

/* Split the table into engines: each unit's rows must be consecutive with rising cycles. */
static int
group_engines(struct quarter *q, const struct bundle *b, char *err, size_t err_len)
{
	const struct cmapss_table *t = &q->table;
	size_t start = 0, n = 0;

	q->engines = calloc(t->rows ? t->rows : 1, sizeof(*q->engines));
	if (q->engines == NULL)
		return -ENOMEM;
	while (start < t->rows) {
		size_t end = start + 1;

		while (end < t->rows && t->unit[end] == t->unit[start]) {
			if (t->cycle[end] <= t->cycle[end - 1]) {
				snprintf(err, err_len, "%s: unit %" PRId64 ": cycle %" PRId64
					 " follows cycle %" PRId64, q->source, t->unit[end],
					 t->cycle[end], t->cycle[end - 1]);
				return -EINVAL;
			}
			end++;
		}
		for (size_t i = 0; i < n; i++) {
			if (q->engines[i].file_unit == t->unit[start]) {
				snprintf(err, err_len, "%s: rows of unit %" PRId64
					 " are not consecutive", q->source, t->unit[start]);
				return -EINVAL;
			}
		}
		if (!q->holdout || is_holdout(b, t->unit[start])) {
			struct engine *e = &q->engines[n++];

			e->file_unit = t->unit[start];
			e->unit = (int64_t)q->number * REPLAY_UNIT_BASE + e->file_unit;
			e->first_row = start;
			e->rows = end - start;
			e->last_cycle = t->cycle[end - 1];
		}
		start = end;
	}
	q->engine_count = n;
	return 0;
}

/* Every held-out unit the bundle names must be in the file: a mismatch means wrong data. */
static int
check_holdout(const struct quarter *q, const struct bundle *b, char *err, size_t err_len)
{
	for (size_t i = 0; i < b->holdout_count; i++) {
		size_t j = 0;

		while (j < q->engine_count && q->engines[j].file_unit != b->holdout_units[i])
			j++;
		if (j == q->engine_count) {
			snprintf(err, err_len, "%s: held-out unit %" PRId64 " of bundle '%s' is missing",
				 q->source, b->holdout_units[i], b->dir);
			return -EINVAL;
		}
	}
	if (q->engine_count == 0) {
		snprintf(err, err_len, "bundle '%s' lists no held-out units of %s", b->dir,
			 q->subset);
		return -EINVAL;
	}
	return 0;
}

static void
shuffle(struct quarter *q, uint64_t seed, bool random_start)
{
	uint64_t state = seed * 0x9e3779b97f4a7c15ULL + q->number;

	for (size_t i = q->engine_count; i > 1; i--) {
		size_t j = (size_t)(replay_random(&state) % i);
		struct engine tmp = q->engines[i - 1];

		q->engines[i - 1] = q->engines[j];
		q->engines[j] = tmp;
	}
	for (size_t i = 0; random_start && i < q->engine_count; i++)
		q->engines[i].start = (size_t)(replay_random(&state) % q->engines[i].rows);
}

static size_t
format_row(const struct cmapss_table *t, size_t row, char *out)
{
	const double *v = t->values + row * CMAPSS_N_INPUTS;
	size_t len;

	len = (size_t)sprintf(out, "{\"cycle\":%" PRId64 ",\"settings\":[", t->cycle[row]);
	for (size_t i = 0; i < CMAPSS_N_INPUTS; i++) {
		if (i == CMAPSS_N_SETTINGS)
			len += (size_t)sprintf(out + len, "],\"sensors\":[");
		else if (i > 0)
			out[len++] = ',';
		len += (size_t)sprintf(out + len, "%.15g", v[i]);
	}
	len += (size_t)sprintf(out + len, "]}");
	return len;
}

/*
 * Format only the rows of the engines kept, so a sample of a big file stays small. Rows go
 * in table order, so that row r's text ends where row r + 1's begins (rows of engines not
 * kept have empty text).
 */
static int
format_rows(struct quarter *q)
{
	const struct cmapss_table *t = &q->table;
	size_t used = 0, cap = 0;
	bool *keep;

	q->row_offset = calloc(t->rows + 1, sizeof(*q->row_offset));
	keep = calloc(t->rows ? t->rows : 1, sizeof(*keep));
	if (q->row_offset == NULL || keep == NULL) {
		free(keep);
		return -ENOMEM;
	}
	for (size_t i = 0; i < q->engine_count; i++) {
		const struct engine *e = &q->engines[i];

		memset(keep + e->first_row, 1, e->rows * sizeof(*keep));
		cap += e->rows * ROW_JSON_MAX;
		q->cycle_count += e->rows;
	}
	q->row_text = malloc(cap ? cap : 1);
	if (q->row_text == NULL) {
		free(keep);
		return -ENOMEM;
	}
	for (size_t r = 0; r < t->rows; r++) {
		q->row_offset[r] = used;
		if (keep[r])
			used += format_row(t, r, q->row_text + used);
	}
	q->row_offset[t->rows] = used;
	free(keep);
	return 0;
}

int
quarter_source(const char *data_dir, const char *subset, char *path, size_t path_len, char *err,
	       size_t err_len)
{
	char file[32];
	int r;

	snprintf(file, sizeof(file), "train_%s.txt", subset);
	r = cmapss_path(data_dir, file, path, path_len);
	if (r < 0)
		snprintf(err, err_len, "missing data file '%s/%s' (or %s.gz)", data_dir, file,
			 file);
	return r;
}

int
quarter_load(struct quarter *q, unsigned number, const char *subset, const char *data_dir,
	     const struct bundle *b, size_t units, uint64_t seed, bool random_start, char *err,
	     size_t err_len)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->number = number;
	snprintf(q->subset, sizeof(q->subset), "%s", subset);
	snprintf(q->label, sizeof(q->label), "Q%u %s", number, subset);
	q->holdout = b != NULL && b->holdout_subset != NULL &&
		     strcasecmp(b->holdout_subset, subset) == 0;
	r = quarter_source(data_dir, subset, q->source, sizeof(q->source), err, err_len);
	if (r < 0)
		return r;
	r = cmapss_read(q->source, &q->table, err, err_len);
	if (r < 0)
		return r;
	r = group_engines(q, b, err, err_len);
	if (r == 0 && q->holdout)
		r = check_holdout(q, b, err, err_len);
	if (r < 0)
		return r;
	shuffle(q, seed, random_start);
	if (units > 0 && units < q->engine_count)
		q->engine_count = units;
	return format_rows(q);
}

void
quarter_free(struct quarter *q)
{
	if (q == NULL)
		return;
	cmapss_table_free(&q->table);
	free(q->row_text);
	free(q->row_offset);
	free(q->engines);
	memset(q, 0, sizeof(*q));
}

const char *
quarter_row_json(const struct quarter *q, size_t row, size_t *len)
{
	*len = q->row_offset[row + 1] - q->row_offset[row];
	return q->row_text + q->row_offset[row];
}
