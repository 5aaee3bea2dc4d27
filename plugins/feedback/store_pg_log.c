/* SPDX-License-Identifier: MIT */
/* store_pg_log.c - the prediction log of the PostgreSQL feedback store, in segments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clocks.h"
#include "store_pg_internal.h"

/*
 * As in store_sqlite.c, the log is stored in segments (segment.h): one row of
 * feedback_segments holds the predictions of one unit, model and version from one call
 * (FB_SEGMENT_MAX at most), with the cycle and time ranges and how many are still unscored. A
 * batch is one INSERT of arrays, a row and three index entries per unit and model, not per
 * prediction: at 256 engines a request the row per prediction of schema 1 wrote about 260,000
 * predictions/s and dropped 43% of what was offered (docs/BENCHMARKS.md).
 *
 * A call's transaction takes the bucket locks of its units (store_pg.c) before it reads
 * anything, so that a failure event applied by another daemon at the same moment is either
 * committed and seen here (its predictions scored late, below) or waits for this commit and
 * then sees these segments.
 */

static const char *
pg_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The order of a batch: by unit, model and version, then position, so that each segment's
 * predictions are together and in the order they were logged. */
struct pg_order {
	const struct fb_logged *p;
	size_t i;
};

static int
pg_order_cmp(const void *x, const void *y)
{
	const struct pg_order *a = x, *b = y;
	int c;

	if (a->p->unit != b->p->unit)
		return a->p->unit < b->p->unit ? -1 : 1;
	c = strcmp(pg_or_empty(a->p->model), pg_or_empty(b->p->model));
	if (c == 0)
		c = strcmp(pg_or_empty(a->p->version), pg_or_empty(b->p->version));
	if (c != 0)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

static bool
pg_same_key(const struct fb_logged *a, const struct fb_logged *b)
{
	return a->unit == b->unit && strcmp(pg_or_empty(a->model), pg_or_empty(b->model)) == 0 &&
	       strcmp(pg_or_empty(a->version), pg_or_empty(b->version)) == 0;
}

/*
 * The repeats of a batch (store.h) that the log has already: a prediction of their unit, cycle
 * and model with their RUL. Asked on its own, for the batches that carry repeats (rare), so
 * that every other batch is a plain insert: the segments of each repeat's unit and model whose
 * range holds its cycle, by the unit's index, searched here. The unit's bucket lock, taken
 * before, makes another instance's insert of the original either committed and seen here, or
 * after this transaction.
 */
static int
pg_logged_repeats(struct fb_store *s, const struct pg_order *o, size_t n, bool *drop,
		  double deadline)
{
	struct pg_text *t = s->b;
	unsigned char blob[FB_SEGMENT_BYTES];
	const char *v[4];
	PGresult *res = NULL;
	size_t i;
	int k, r;

	for (k = 0; k < 4; k++)
		pg_text_reset(&t[k]);
	for (i = 0; i < n; i++) {
		if (!o[i].p->repeat)
			continue;
		pg_text_int(&t[0], o[i].p->unit);
		pg_text_int(&t[1], o[i].p->cycle);
		pg_text_string(&t[2], pg_or_empty(o[i].p->model));
		pg_text_int(&t[3], (int64_t)i);
	}
	for (k = 0; k < 4; k++)
		if ((v[k] = pg_text_end(&t[k])) == NULL)
			return -ENOMEM;
	r = pg_query(&s->sh, &s->log,
		     "SELECT t.i, encode(g.items, 'hex') FROM unnest($1::bigint[], $2::bigint[],"
		     " $3::text[], $4::bigint[]) AS t(unit, cycle, model, i) JOIN feedback_segments g"
		     " ON g.unit = t.unit AND g.model = t.model AND g.min_cycle <= t.cycle"
		     " AND g.max_cycle >= t.cycle", 4, v, deadline, &res);
	for (k = 0; r == 0 && k < PQntuples(res); k++) {
		int64_t at = pg_int(res, k, 0);
		long len = pg_hex_decode(blob, sizeof(blob), PQgetvalue(res, k, 1));
		size_t j;

		if (at < 0 || (size_t)at >= n || len < 0)
			continue;
		for (j = 0; j < (size_t)len / FB_ITEM_BYTES && !drop[at]; j++) {
			struct fb_item it = fb_item_decode(blob + j * FB_ITEM_BYTES);

			drop[at] = it.cycle == o[at].p->cycle && it.rul == o[at].p->rul;
		}
	}
	PQclear(res);
	return r;
}

/* A failure event recorded for a unit of the batch, which may score its predictions late. */
struct pg_failure {
	int64_t id, unit, failed_at;
	double ts;
	char model[FB_MODEL_MAX];
};

/* The failure events of the batch's units recorded at or after its first prediction was made
 * (the only ones that can score one of them), oldest first. */
static int
pg_failures_of(struct fb_store *s, const struct pg_order *o, size_t n,
	       struct pg_failure **out, size_t *count, double deadline)
{
	struct pg_text *t = &s->b[4];
	char tb[40];
	const char *v[2] = { NULL, tb };
	double min_ts = o[0].p->timestamp;
	PGresult *res;
	size_t i;
	int r, k;

	*out = NULL;
	*count = 0;
	pg_text_reset(t);
	for (i = 0; i < n; i++) {
		if (i == 0 || o[i].p->unit != o[i - 1].p->unit)
			pg_text_int(t, o[i].p->unit);
		min_ts = o[i].p->timestamp < min_ts ? o[i].p->timestamp : min_ts;
	}
	if ((v[0] = pg_text_end(t)) == NULL)
		return -ENOMEM;
	snprintf(tb, sizeof(tb), "%.17g", min_ts);
	r = pg_query(&s->sh, &s->log, "SELECT id, unit, failed_at_cycle, ts, model"
		     " FROM feedback_failures WHERE unit = ANY($1::bigint[]) AND ts >= $2"
		     " ORDER BY id", 2, v, deadline, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0 &&
	    (*out = calloc((size_t)PQntuples(res), sizeof(**out))) == NULL) {
		PQclear(res);
		return -ENOMEM;
	}
	for (k = 0; k < PQntuples(res); k++) {
		struct pg_failure *f = &(*out)[k];

		f->id = pg_int(res, k, 0);
		f->unit = pg_int(res, k, 1);
		f->failed_at = pg_int(res, k, 2);
		f->ts = pg_double(res, k, 3);
		snprintf(f->model, sizeof(f->model), "%s", PQgetvalue(res, k, 4));
	}
	*count = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

/* The event that scores p (store.h): the first one recorded for its unit at or after the
 * time p was made, not before its cycle, of its model or of every model. NULL when none. */
static const struct pg_failure *
pg_failure_of(const struct pg_failure *f, size_t n, const struct fb_logged *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].unit == p->unit && f[i].failed_at >= p->cycle && f[i].ts >= p->timestamp &&
		    (f[i].model[0] == '\0' || strcmp(f[i].model, pg_or_empty(p->model)) == 0))
			return &f[i];
	return NULL;
}

/* A prediction of the batch that a recorded failure event scores: in segment `segment` (its
 * place in the insert) at index. */
struct pg_late {
	const struct fb_logged *p;
	size_t segment, index;
	const struct pg_failure *f;
};

static const char pg_insert_sql[] =
	"INSERT INTO feedback_segments(unit, model, version, min_cycle, max_cycle, min_ts, max_ts,"
	" unscored, items) SELECT unit, model, version, min_cycle, max_cycle, min_ts, max_ts,"
	" unscored, items FROM unnest($1::bigint[], $2::text[], $3::text[],"
	" $4::bigint[], $5::bigint[], $6::float8[], $7::float8[], $8::int[], $9::bytea[])"
	" WITH ORDINALITY AS t(unit, model, version, min_cycle, max_cycle, min_ts, max_ts,"
	" unscored, items, k) ORDER BY k RETURNING id";

static const char pg_late_sql[] =
	"WITH late AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],"
	" $4::float8[], $5::float8[], $6::text[], $7::bigint[], $8::float8[])"
	" AS t(pid, unit, cycle, predicted, actual, model, fid, fts)),"
	" counted AS (UPDATE feedback_failures f SET scored = f.scored + c.n FROM"
	" (SELECT fid, count(*) AS n FROM late GROUP BY fid) c WHERE f.id = c.fid)"
	" INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
	" prediction_id, ts) SELECT unit, cycle, predicted, actual, model, 'failure_late', pid,"
	" fts FROM late ORDER BY pid";

static int
pg_int64_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

/* Score the late predictions of the batch, now that their segments have ids (ids[k], in
 * the order of the insert). */
static int
pg_log_late(struct fb_store *s, const struct pg_late *late, size_t n, const int64_t *ids,
	    double deadline)
{
	struct fb_scored_list sc = { 0 };
	struct pg_text *t = s->b;
	bool none[PG_BUCKETS] = { false };
	const char *v[8];
	size_t i;
	int k, r;

	for (k = 0; k < 8; k++)
		pg_text_reset(&t[k]);
	for (i = 0; i < n; i++) {
		struct fb_scored *out = fb_scored_push(&sc);
		const struct fb_logged *p = late[i].p;

		if (out == NULL) {
			free(sc.items);
			return -ENOMEM;
		}
		out->unit = p->unit;
		out->cycle = p->cycle;
		out->predicted = p->rul;
		out->actual = (double)(late[i].f->failed_at - p->cycle);
		snprintf(out->model, sizeof(out->model), "%s", pg_or_empty(p->model));
		pg_text_int(&t[0], fb_segment_prediction_id(ids[late[i].segment], late[i].index));
		pg_text_int(&t[1], out->unit);
		pg_text_int(&t[2], out->cycle);
		pg_text_double(&t[3], out->predicted);
		pg_text_double(&t[4], out->actual);
		pg_text_string(&t[5], out->model);
		pg_text_int(&t[6], late[i].f->id);
		pg_text_double(&t[7], late[i].f->ts);
	}
	for (k = 0; k < 8; k++)
		if ((v[k] = pg_text_end(&t[k])) == NULL) {
			free(sc.items);
			return -ENOMEM;
		}
	/* the order lock before the first record: ids visible in their order (store_pg.c) */
	r = pg_lock_buckets(s, &s->log, none, true, &s->b[9], deadline);
	if (r == 0)
		r = pg_exec(&s->sh, &s->log, pg_late_sql, 8, v, deadline);
	if (r == 0)
		r = pg_add_totals(s, &s->log, &sc, deadline);
	free(sc.items);
	return r;
}

/* The segments of o[0..n) (kept predictions, in segment order) as the insert's arrays (the
 * items a bytea[] in binary form); the late ones in *late. *segments: how many. */
static int
pg_segments(struct fb_store *s, const struct pg_order *o, size_t n, const struct pg_failure *f,
	    size_t nf, struct pg_late **late, size_t *nlate, size_t *segments)
{
	unsigned char blob[FB_SEGMENT_BYTES];
	struct pg_text *t = s->a;
	size_t i, j, k, cap = 0;
	int c;

	*late = NULL;
	*nlate = 0;
	*segments = 0;
	for (c = 0; c < PG_SEGMENT_COLUMNS; c++)
		pg_text_reset(&t[c]);
	for (i = 0; i < n; i = j) {
		const struct fb_logged *first = o[i].p;
		int64_t min_cycle = first->cycle, max_cycle = first->cycle;
		double min_ts = first->timestamp, max_ts = first->timestamp;
		size_t scored = 0;

		for (j = i; j < n && j - i < FB_SEGMENT_MAX && pg_same_key(first, o[j].p); j++) {
			const struct fb_logged *q = o[j].p;
			struct fb_item it = { .cycle = q->cycle, .rul = q->rul, .ts = q->timestamp };
			const struct pg_failure *by = nf > 0 ? pg_failure_of(f, nf, q) : NULL;

			if (by != NULL) {
				if (*nlate == cap) {
					struct pg_late *grown;

					cap = cap ? 2 * cap : 16;
					if ((grown = realloc(*late, cap * sizeof(**late))) == NULL)
						return -ENOMEM;
					*late = grown;
				}
				(*late)[(*nlate)++] = (struct pg_late){
					.p = q, .segment = *segments, .index = j - i, .f = by
				};
				it.flags = FB_ITEM_SCORED;
				scored++;
			}
			fb_item_encode(blob + (j - i) * FB_ITEM_BYTES, &it);
			min_cycle = q->cycle < min_cycle ? q->cycle : min_cycle;
			max_cycle = q->cycle > max_cycle ? q->cycle : max_cycle;
			min_ts = q->timestamp < min_ts ? q->timestamp : min_ts;
			max_ts = q->timestamp > max_ts ? q->timestamp : max_ts;
		}
		k = j - i;
		pg_text_int(&t[0], first->unit);
		pg_text_string(&t[1], pg_or_empty(first->model));
		pg_text_string(&t[2], pg_or_empty(first->version));
		pg_text_int(&t[3], min_cycle);
		pg_text_int(&t[4], max_cycle);
		pg_text_double(&t[5], min_ts);
		pg_text_double(&t[6], max_ts);
		pg_text_int(&t[7], (int64_t)(k - scored));
		pg_bytea_array_add(&t[8], blob, k * FB_ITEM_BYTES);
		(*segments)++;
	}
	return 0;
}

/* One attempt; *sent_commit tells whether a failure may have committed all the same. */
static int
pg_log_once(struct fb_store *s, struct pg_order *o, size_t n, double deadline,
	    bool *sent_commit)
{
	bool used[PG_BUCKETS] = { false };
	struct pg_failure *f = NULL;
	struct pg_late *late = NULL;
	static const int formats[PG_SEGMENT_COLUMNS] = { [PG_SEGMENT_COLUMNS - 1] = 1 };
	const char *v[PG_SEGMENT_COLUMNS];
	int lengths[PG_SEGMENT_COLUMNS] = { 0 };
	PGresult *res = NULL;
	int64_t *ids = NULL;
	bool *drop = NULL, repeats = false;
	size_t i, kept = n, nf = 0, nlate = 0, segments = 0;
	int k, r;

	for (i = 0; i < n; i++) {
		used[pg_bucket(o[i].p->unit)] = true;
		repeats |= o[i].p->repeat;
	}
	if (repeats && (drop = calloc(n, sizeof(*drop))) == NULL)
		return -ENOMEM;
	r = pg_begin(s, &s->log, deadline);
	if (r == 0)
		r = pg_lock_buckets(s, &s->log, used, false, &s->b[9], deadline);
	if (r == 0 && repeats) {
		r = pg_logged_repeats(s, o, n, drop, deadline);
		/* the kept ones to the front, in their order; an attempt again starts from o as
		 * it was, since a dropped one may be logged by then */
		for (i = kept = 0; r == 0 && i < n; i++)
			if (!drop[i])
				o[kept++] = o[i];
	}
	if (r == 0 && kept > 0)
		r = pg_failures_of(s, o, kept, &f, &nf, deadline);
	if (r == 0 && kept > 0)
		r = pg_segments(s, o, kept, f, nf, &late, &nlate, &segments);
	for (k = 0; r == 0 && kept > 0 && k < PG_SEGMENT_COLUMNS; k++) {
		v[k] = k == PG_SEGMENT_COLUMNS - 1 ? pg_bytea_array_end(&s->a[k], &lengths[k])
						   : pg_text_end(&s->a[k]);
		if (v[k] == NULL)
			r = -ENOMEM;
	}
	if (r == 0 && kept > 0)
		r = pg_query_params(&s->sh, &s->log, pg_insert_sql, PG_SEGMENT_COLUMNS, v, lengths,
				    formats, deadline, &res);
	if (r == 0 && nlate > 0) {
		/* the ids follow the insert's order (ORDER BY k; nextval is computed after the
		 * sort), whatever the order RETURNING gives them in */
		if ((size_t)PQntuples(res) != segments)
			r = -EIO; /* not the insert it was */
		else if ((ids = malloc(segments * sizeof(*ids))) == NULL)
			r = -ENOMEM;
		for (i = 0; r == 0 && i < segments; i++)
			ids[i] = pg_int(res, (int)i, 0);
		if (r == 0) {
			qsort(ids, segments, sizeof(*ids), pg_int64_cmp);
			r = pg_log_late(s, late, nlate, ids, deadline);
		}
	}
	PQclear(res);
	free(ids);
	free(late);
	free(f);
	free(drop);
	if (r == 0) {
		*sent_commit = true;
		r = pg_exec(&s->sh, &s->log, "COMMIT", 0, NULL, deadline);
		/* an answer to the COMMIT, even an error, says what happened; none does not */
		if (r < 0 && s->log.conn != NULL)
			*sent_commit = false;
	}
	if (r < 0 && s->log.conn != NULL)
		pg_exec(&s->sh, &s->log, "ROLLBACK", 0, NULL, deadline);
	return r;
}

int
pg_log_predictions(struct fb_store *s, const struct fb_logged *p, size_t n)
{
	double deadline = pg_deadline(&s->sh);
	struct pg_order *sorted, *o;
	bool sent_commit = false;
	int attempt, r = -ETIMEDOUT;
	size_t i;

	if (n == 0)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	o = malloc(n * sizeof(*o));
	if (sorted == NULL || o == NULL) {
		free(sorted);
		free(o);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		sorted[i] = (struct pg_order){ .p = &p[i], .i = i };
	qsort(sorted, n, sizeof(*sorted), pg_order_cmp);
	if (pg_link_lock(&s->log, deadline) < 0) {
		free(sorted);
		free(o);
		return -EAGAIN;
	}
	for (attempt = 0; attempt < PG_ATTEMPTS && clocks_monotonic() < deadline; attempt++) {
		memcpy(o, sorted, n * sizeof(*o));
		r = pg_log_once(s, o, n, deadline, &sent_commit);
		if (r != -EAGAIN)
			break;
	}
	pthread_mutex_unlock(&s->log.lock);
	free(sorted);
	free(o);
	/* nothing stored, the server out of reach or out of time: the log tries again later */
	if (!sent_commit && (r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT))
		r = -EAGAIN;
	return r;
}

/* Delete up to limit segments whose predictions were all made before `before`. */
int
pg_expire_predictions(struct fb_store *s, double before, size_t limit, size_t *deleted)
{
	double deadline = pg_deadline(&s->sh);
	char bb[40], lb[24];
	const char *v[2] = { bb, lb };
	PGresult *res;
	int r;

	*deleted = 0;
	snprintf(bb, sizeof(bb), "%.17g", before);
	snprintf(lb, sizeof(lb), "%zu", limit);
	if (pg_link_lock(&s->log, deadline) < 0)
		return -ETIMEDOUT;
	r = pg_query(&s->sh, &s->log,
		     "DELETE FROM feedback_segments WHERE id IN (SELECT id FROM"
		     " feedback_segments WHERE max_ts < $1 LIMIT $2)", 2, v, deadline, &res);
	if (r == 0) {
		*deleted = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	pthread_mutex_unlock(&s->log.lock);
	return r;
}
