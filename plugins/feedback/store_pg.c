/* SPDX-License-Identifier: MIT */
/* store_pg.c - the PostgreSQL backend of the feedback store, shared by several daemons. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accuracy.h"
#include "clocks.h"
#include "store_pg_conn.h"
#include "store_pg_internal.h"

/*
 * The same contract as store_sqlite.c (store.h), for a database that several rulsrv daemons,
 * on several hosts, share. What that changes:
 *
 * Durability: a transaction is durable when COMMIT returned with synchronous_commit = on (set
 * on each connection, whatever the server's default): the WAL record of the commit is
 * flushed. The group commit (commit.c) still puts every waiting request in one transaction.
 *
 * Each logged prediction is scored once, whichever daemon logged it and whichever got the
 * failure event. The log is in segments (store_pg_log.c, segment.h): marking a prediction
 * scored reads its segment, sets the item's flag and writes the segment back, so two
 * transactions that score items of one unit must not interleave; and the late-scoring rule
 * needs more: a failure event applied by daemon A while daemon B logs a prediction of that
 * unit would each miss the other's uncommitted rows (A does not see B's segment, B's look-up
 * does not see A's event). So every transaction that writes the log or scores takes a
 * transaction-scoped advisory lock on each of its units' buckets (unit mod PG_BUCKETS) before
 * it reads: whichever comes second waits for the first to commit and then, in READ COMMITTED
 * (each statement a new snapshot), sees what it committed. Buckets, not units, so that a
 * drain of thousands of units holds a bounded number of locks; every transaction takes its
 * buckets in ascending order, so two of them never wait for each other in a circle. Only
 * expiry writes segments without them, and it only deletes whole ones.

 * Record ids are cursors (recent up to an id, late after one), so ids must become visible in
 * their order: a transaction that inserts scored records takes one more advisory lock
 * (PG_ORDER_LOCK, after its buckets) before its first insert and holds it to its commit, so
 * such transactions commit one after another, in the order of their ids. A deadlock or
 * serialization failure all the same (another program's locks) retries the transaction.
 *
 * Schema (store_pg_schema.c): versioned in table schema_version (component 'feedback'),
 * created and upgraded by the first daemon that opens the database, under a session advisory lock so that two
 * starting at once do not both do it; a daemon that finds a newer version refuses to start.
 * Version 2 keeps the prediction log in segments, as SQLite's schema 3 does; version 1 had a
 * row per prediction, which could not keep up at 256 engines a request (docs/BENCHMARKS.md).
 *
 * Connections: one for apply (the committer thread), one for the prediction log, one for the
 * reads (store_pg_read.c; any thread, one at a time), each made when first used; every call has a deadline of
 * store_timeout_ms (store_pg_conn.c).
 */

#define PG_OPEN_TIMEOUT_MS 10000 /* at least, for open: connect and create the schema */

int
pg_bucket(int64_t unit)
{
	return (int)(((unit % PG_BUCKETS) + PG_BUCKETS) % PG_BUCKETS);
}

/* Take the advisory locks of the buckets set in `used` (and the order lock), ascending. */
int
pg_lock_buckets(struct fb_store *s, struct pg_link *l, const bool *used, bool order,
		struct pg_text *t, double deadline)
{
	char cls[16];
	const char *v[2];
	int i;

	pg_text_reset(t);
	for (i = 0; i < PG_BUCKETS; i++)
		if (used[i])
			pg_text_int(t, i);
	if (order)
		pg_text_int(t, PG_ORDER_LOCK);
	snprintf(cls, sizeof(cls), "%d", PG_LOCK_CLASS);
	v[0] = cls;
	v[1] = pg_text_end(t);
	if (v[1] == NULL)
		return -ENOMEM;
	/* unnest gives the elements in the array's order, and the locks are taken so */
	return pg_exec(&s->sh, l, "SELECT pg_advisory_xact_lock($1::int, b)"
			" FROM unnest($2::int[]) AS b", 2, v, deadline);
}

/* Add scored records to the totals: one upsert per model. */
int
pg_add_totals(struct fb_store *s, struct pg_link *l, const struct fb_scored_list *sc,
	      double deadline)
{
	bool *done;
	size_t i, j;
	int r = 0;

	if (sc->count == 0)
		return 0;
	done = calloc(sc->count, sizeof(*done));
	if (done == NULL)
		return -ENOMEM;
	for (i = 0; i < sc->count && r == 0; i++) {
		double sq = 0, ab = 0, nasa = 0;
		char nb[24], sqb[40], abb[40], nab[40];
		const char *v[5];
		int64_t n = 0;

		if (done[i])
			continue;
		for (j = i; j < sc->count; j++) {
			struct fb_terms t;

			if (done[j] || strcmp(sc->items[j].model, sc->items[i].model) != 0)
				continue;
			t = fb_terms_of(sc->items[j].predicted, sc->items[j].actual, s->rul_cap);
			sq += t.squared;
			ab += t.absolute;
			nasa += t.nasa;
			n++;
			done[j] = true;
		}
		snprintf(nb, sizeof(nb), "%lld", (long long)n);
		snprintf(sqb, sizeof(sqb), "%.17g", sq);
		snprintf(abb, sizeof(abb), "%.17g", ab);
		snprintf(nab, sizeof(nab), "%.17g", nasa);
		v[0] = sc->items[i].model;
		v[1] = nb;
		v[2] = sqb;
		v[3] = abb;
		v[4] = nab;
		r = pg_exec(&s->sh, l,
			    "INSERT INTO feedback_totals(model, count, squared_error_sum,"
			    " abs_error_sum, nasa_score) VALUES($1, $2, $3, $4, $5)"
			    " ON CONFLICT(model) DO UPDATE SET"
			    " count = feedback_totals.count + excluded.count,"
			    " squared_error_sum = feedback_totals.squared_error_sum"
			    " + excluded.squared_error_sum,"
			    " abs_error_sum = feedback_totals.abs_error_sum + excluded.abs_error_sum,"
			    " nasa_score = feedback_totals.nasa_score + excluded.nasa_score",
			    5, v, deadline);
	}
	free(done);
	return r;
}

/* Insert one scored record (apply's, one at a time) and remember it. */
static int
pg_score(struct fb_store *s, struct fb_scored_list *sc, int64_t unit, int64_t cycle,
	 double predicted, double actual, const char *model, const char *source,
	 int64_t prediction_id, double ts, double deadline)
{
	char ub[24], cb[24], pb[40], ab[40], ib[24], tb[40];
	const char *v[8] = { ub, cb, pb, ab, model, source, prediction_id > 0 ? ib : NULL, tb };
	struct fb_scored *out;
	int r;

	snprintf(ub, sizeof(ub), "%lld", (long long)unit);
	snprintf(cb, sizeof(cb), "%lld", (long long)cycle);
	snprintf(pb, sizeof(pb), "%.17g", predicted);
	snprintf(ab, sizeof(ab), "%.17g", actual);
	snprintf(ib, sizeof(ib), "%lld", (long long)prediction_id);
	snprintf(tb, sizeof(tb), "%.17g", ts);
	r = pg_exec(&s->sh, &s->apply,
		    "INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
		    " prediction_id, ts) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
		    8, v, deadline);
	if (r < 0)
		return r;
	out = fb_scored_push(sc);
	if (out == NULL)
		return -ENOMEM;
	out->unit = unit;
	out->cycle = cycle;
	out->predicted = predicted;
	out->actual = actual;
	snprintf(out->model, sizeof(out->model), "%s", model);
	return 0;
}

/* A logged prediction found for a record: where it is and what it said; its segment's items
 * are in s->blob. */
struct pg_found {
	int64_t segment; /* 0: none */
	size_t index;
	bool scored;
	double rul;
	size_t len;
	char model[FB_MODEL_MAX];
};

#define PG_FIND_PAGE 16 /* segments per look-up; the first one holds it, as a rule */

/*
 * The latest logged prediction of (unit, cycle), of model when not "", not yet scored when
 * unscored_only. f->segment 0 when there is none. The segments whose cycle range holds the
 * cycle, newest first, a page at a time, until one holds the prediction.
 */
static int
pg_find_latest(struct fb_store *s, int64_t unit, int64_t cycle, const char *model,
	       bool unscored_only, struct pg_found *f, double deadline)
{
	static const char *const sql[2] = {
		"SELECT id, model, encode(items, 'hex') FROM feedback_segments WHERE unit = $1"
		" AND min_cycle <= $2 AND max_cycle >= $2 AND ($3 = '' OR model = $3) AND id < $4"
		" ORDER BY id DESC LIMIT " PG_STR(PG_FIND_PAGE),
		"SELECT id, model, encode(items, 'hex') FROM feedback_segments WHERE unit = $1"
		" AND unscored > 0 AND min_cycle <= $2 AND max_cycle >= $2"
		" AND ($3 = '' OR model = $3) AND id < $4 ORDER BY id DESC LIMIT " PG_STR(PG_FIND_PAGE),
	};
	char ub[24], cb[24], before[24] = "9223372036854775807";
	const char *v[4] = { ub, cb, model, before };
	PGresult *res;
	int n, row, r;

	snprintf(ub, sizeof(ub), "%lld", (long long)unit);
	snprintf(cb, sizeof(cb), "%lld", (long long)cycle);
	f->segment = 0;
	do {
		r = pg_query(&s->sh, &s->apply, sql[unscored_only], 4, v, deadline, &res);
		if (r < 0)
			return r;
		n = PQntuples(res);
		for (row = 0; row < n && f->segment == 0; row++) {
			long len = pg_hex_decode(s->blob, sizeof(s->blob), PQgetvalue(res, row, 2));
			size_t i;

			if (len < 0)
				continue; /* not written by this store */
			for (i = (size_t)len / FB_ITEM_BYTES; i-- > 0;) {
				struct fb_item it = fb_item_decode(s->blob + i * FB_ITEM_BYTES);

				if (it.cycle != cycle ||
				    (unscored_only && (it.flags & FB_ITEM_SCORED)))
					continue;
				f->segment = pg_int(res, row, 0);
				f->index = i;
				f->scored = (it.flags & FB_ITEM_SCORED) != 0;
				f->rul = it.rul;
				f->len = (size_t)len;
				snprintf(f->model, sizeof(f->model), "%s", PQgetvalue(res, row, 1));
				break;
			}
		}
		if (n > 0)
			snprintf(before, sizeof(before), "%s", PQgetvalue(res, n - 1, 0));
		PQclear(res);
	} while (f->segment == 0 && n == PG_FIND_PAGE);
	return 0;
}

/* Mark the found prediction scored (again is harmless): its segment written back. */
static int
pg_mark_found(struct fb_store *s, const struct pg_found *f, double deadline)
{
	char ib[24], nb[8];
	const char *v[3] = { ib, s->hex, nb };

	fb_item_mark(s->blob, f->index);
	pg_hex_encode(s->hex, s->blob, f->len);
	snprintf(ib, sizeof(ib), "%lld", (long long)f->segment);
	snprintf(nb, sizeof(nb), "%d", f->scored ? 0 : 1);
	return pg_exec(&s->sh, &s->apply, "UPDATE feedback_segments SET items = decode($2, 'hex'),"
		       " unscored = unscored - $3 WHERE id = $1", 3, v, deadline);
}

/* As store_sqlite.c: the posted prediction stands for the latest unscored logged one of
 * (unit, cycle[, model]), which is marked; the model: posted, else that one's, else the
 * latest logged one's of (unit, cycle), else "unknown". */
static int
pg_apply_scored(struct fb_store *s, const struct fb_record *rec, double ts,
		struct fb_scored_list *sc, double deadline)
{
	char model[FB_MODEL_MAX];
	struct pg_found f;
	int64_t id = 0;
	int r;

	snprintf(model, sizeof(model), "%s", rec->model[0] ? rec->model : "unknown");
	r = pg_find_latest(s, rec->unit, rec->cycle, rec->model, true, &f, deadline);
	if (r < 0)
		return r;
	if (f.segment != 0) {
		id = fb_segment_prediction_id(f.segment, f.index);
		snprintf(model, sizeof(model), "%s", f.model);
		r = pg_mark_found(s, &f, deadline);
		if (r < 0)
			return r;
	} else if (rec->model[0] == 0) {
		r = pg_find_latest(s, rec->unit, rec->cycle, "", false, &f, deadline);
		if (r < 0)
			return r;
		if (f.segment != 0)
			snprintf(model, sizeof(model), "%s", f.model);
	}
	return pg_score(s, sc, rec->unit, rec->cycle, rec->predicted, rec->actual, model,
			"posted", id, ts, deadline);
}

static int
pg_apply_match(struct fb_store *s, const struct fb_record *rec, double ts,
	       struct fb_scored_list *sc, double deadline)
{
	struct pg_found f;
	int r;

	r = pg_find_latest(s, rec->unit, rec->cycle, rec->model, false, &f, deadline);
	if (r < 0)
		return r;
	if (f.segment == 0)
		return -ENOENT;
	r = pg_mark_found(s, &f, deadline);
	if (r < 0)
		return r;
	return pg_score(s, sc, rec->unit, rec->cycle, f.rul, rec->actual, f.model, "matched",
			fb_segment_prediction_id(f.segment, f.index), ts, deadline);
}

/*
 * Every unscored prediction of the unit up to the failure cycle made before the event
 * arrived (one made after is of a new life of the unit number) is scored and marked: the
 * unit's open segments that may hold one are read, their items marked, written back in one
 * statement and the records inserted in another; then the event is kept for the ones that
 * reach the log later.
 */
static int
pg_apply_failure(struct fb_store *s, const struct fb_record *rec, double ts,
		 struct fb_scored_list *sc, double deadline)
{
	struct pg_text *t = s->c;
	char ub[24], fb[24], tb[40], nb[24];
	const char *v[4] = { ub, fb, tb, rec->model }, *w[7];
	PGresult *res;
	size_t first = sc->count;
	int row, k, n, r, scored = 0;

	snprintf(ub, sizeof(ub), "%lld", (long long)rec->unit);
	snprintf(fb, sizeof(fb), "%lld", (long long)rec->failed_at);
	snprintf(tb, sizeof(tb), "%.17g", ts);
	r = pg_query(&s->sh, &s->apply,
		     "SELECT id, model, encode(items, 'hex') FROM feedback_segments WHERE unit = $1"
		     " AND unscored > 0 AND min_cycle <= $2 AND min_ts <= $3"
		     " AND ($4 = '' OR model = $4) ORDER BY id", 4, v, deadline, &res);
	if (r < 0)
		return r;
	for (k = 0; k < 7; k++)
		pg_text_reset(&t[k]);
	n = PQntuples(res);
	for (row = 0; row < n && r == 0; row++) {
		long len = pg_hex_decode(s->blob, sizeof(s->blob), PQgetvalue(res, row, 2));
		int64_t segment = pg_int(res, row, 0);
		size_t i, newly = 0;

		for (i = 0; len > 0 && i < (size_t)len / FB_ITEM_BYTES; i++) {
			struct fb_item it = fb_item_decode(s->blob + i * FB_ITEM_BYTES);
			struct fb_scored *out;

			if ((it.flags & FB_ITEM_SCORED) || it.cycle > rec->failed_at || it.ts > ts)
				continue;
			if ((out = fb_scored_push(sc)) == NULL) {
				r = -ENOMEM;
				break;
			}
			out->unit = rec->unit;
			out->cycle = it.cycle;
			out->predicted = it.rul;
			out->actual = (double)(rec->failed_at - it.cycle);
			snprintf(out->model, sizeof(out->model), "%s", PQgetvalue(res, row, 1));
			pg_text_int(&t[3], it.cycle);
			pg_text_double(&t[4], it.rul);
			pg_text_string(&t[5], out->model);
			pg_text_int(&t[6], fb_segment_prediction_id(segment, i));
			fb_item_mark(s->blob, i);
			newly++;
		}
		if (newly > 0) {
			pg_text_int(&t[0], segment);
			pg_text_hex(&t[1], s->blob, (size_t)len);
			pg_text_int(&t[2], (int64_t)newly);
			scored += (int)newly;
		}
	}
	PQclear(res);
	for (k = 0; r == 0 && k < 7; k++)
		if ((w[k] = pg_text_end(&t[k])) == NULL)
			r = -ENOMEM;
	if (r == 0 && scored > 0)
		r = pg_exec(&s->sh, &s->apply, "UPDATE feedback_segments g SET"
			    " items = decode(t.items, 'hex'), unscored = g.unscored - t.newly"
			    " FROM unnest($1::bigint[], $2::text[], $3::int[]) AS t(id, items, newly)"
			    " WHERE g.id = t.id", 3, w, deadline);
	if (r == 0 && scored > 0) {
		const char *x[7] = { ub, fb, tb, w[3], w[4], w[5], w[6] };

		r = pg_exec(&s->sh, &s->apply,
			    "INSERT INTO feedback_records(unit, cycle, predicted, actual, model,"
			    " source, prediction_id, ts) SELECT $1, cycle, rul, $2::bigint - cycle,"
			    " model, 'failure', pid, $3 FROM unnest($4::bigint[], $5::float8[],"
			    " $6::text[], $7::bigint[]) AS t(cycle, rul, model, pid) ORDER BY pid",
			    7, x, deadline);
	}
	if (r < 0) {
		sc->count = first;
		return r;
	}
	snprintf(nb, sizeof(nb), "%d", scored);
	{
		const char *y[5] = { ub, fb, nb, tb, rec->model };

		return pg_exec(&s->sh, &s->apply,
			       "INSERT INTO feedback_failures(unit, failed_at_cycle, scored, ts,"
			       " model) VALUES($1, $2, $3, $4, $5)", 5, y, deadline);
	}
}

/* A transaction-level failure: the connection, the deadline, a deadlock. */
static bool
pg_fatal(const struct pg_link *l, int r)
{
	return l->conn == NULL || r == -EAGAIN || r == -ETIMEDOUT || r == -ECONNRESET;
}

static int
pg_apply_group(struct fb_store *s, struct fb_group *g, double deadline)
{
	struct fb_scored_list sc = { 0 };
	size_t i;
	int r;

	r = pg_exec(&s->sh, &s->apply, "SAVEPOINT fb_group", 0, NULL, deadline);
	if (r < 0)
		return r;
	for (i = 0; i < g->count && r == 0; i++) {
		const struct fb_record *rec = &g->records[i];

		switch (rec->kind) {
		case FB_RECORD_SCORED:
			r = pg_apply_scored(s, rec, g->received_at, &sc, deadline);
			break;
		case FB_RECORD_MATCH:
			r = pg_apply_match(s, rec, g->received_at, &sc, deadline);
			break;
		case FB_RECORD_FAILURE:
			r = pg_apply_failure(s, rec, g->received_at, &sc, deadline);
			break;
		default:
			r = -EINVAL;
			break;
		}
		if (r < 0)
			g->err_index = i;
	}
	if (r == 0)
		r = pg_add_totals(s, &s->apply, &sc, deadline);
	if (r == 0)
		r = pg_exec(&s->sh, &s->apply, "RELEASE SAVEPOINT fb_group", 0, NULL, deadline);
	if (r < 0) {
		free(sc.items);
		/* a group's own failure; the transaction goes on unless the connection went */
		if (s->apply.conn != NULL) {
			int back = pg_exec(&s->sh, &s->apply, "ROLLBACK TO SAVEPOINT fb_group", 0,
					   NULL, deadline);

			if (back < 0 && !pg_fatal(&s->apply, r))
				return s->apply.conn != NULL ? -ECONNRESET : back;
		}
		return r;
	}
	g->scored = sc.items;
	g->scored_count = sc.count;
	return 0;
}

static void
pg_reset_groups(struct fb_group *groups, size_t n, int status)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(groups[i].scored);
		groups[i].scored = NULL;
		groups[i].scored_count = 0;
		groups[i].status = status;
	}
}

/* BEGIN; a connection the server closed while it was idle (a restart of the server) is made
 * again at once, once: nothing was sent on it yet. */
int
pg_begin(struct fb_store *s, struct pg_link *l, double deadline)
{
	int r = pg_exec(&s->sh, l, "BEGIN", 0, NULL, deadline);

	if (r == -ECONNRESET) {
		r = pg_link_connect(&s->sh, l, deadline, true);
		if (r == 0)
			r = pg_exec(&s->sh, l, "BEGIN", 0, NULL, deadline);
	}
	return r;
}

/* One attempt of apply: 0 committed, else the transaction's failure. */
static int
pg_apply_once(struct fb_store *s, struct fb_group *groups, size_t n, double deadline)
{
	bool used[PG_BUCKETS] = { false };
	size_t i, j;
	int r;

	for (i = 0; i < n; i++)
		for (j = 0; j < groups[i].count; j++)
			used[pg_bucket(groups[i].records[j].unit)] = true;
	r = pg_begin(s, &s->apply, deadline);
	if (r < 0)
		return r;
	r = pg_lock_buckets(s, &s->apply, used, true, &s->c[7], deadline);
	for (i = 0; i < n && r == 0; i++) {
		groups[i].status = pg_apply_group(s, &groups[i], deadline);
		if (groups[i].status < 0 && pg_fatal(&s->apply, groups[i].status))
			r = groups[i].status;
	}
	if (r == 0)
		r = pg_exec(&s->sh, &s->apply, "COMMIT", 0, NULL, deadline);
	if (r < 0 && s->apply.conn != NULL)
		pg_exec(&s->sh, &s->apply, "ROLLBACK", 0, NULL, deadline);
	return r;
}

/* The deadline of a commit: the earliest of its groups' (the time a request waited for the
 * writer counts too), else store_timeout_ms from now. */
static double
pg_apply_deadline(const struct fb_store *s, const struct fb_group *groups, size_t n)
{
	double deadline = pg_deadline(&s->sh);
	size_t i;

	for (i = 0; i < n; i++)
		if (groups[i].deadline > 0 && groups[i].deadline < deadline)
			deadline = groups[i].deadline;
	return deadline;
}

static int
pg_apply(struct fb_store *s, struct fb_group *groups, size_t n)
{
	double deadline = pg_apply_deadline(s, groups, n);
	int attempt, r = -ETIMEDOUT;

	pg_reset_groups(groups, n, 0);
	if (pg_link_lock(&s->apply, deadline) < 0) {
		pg_reset_groups(groups, n, -ETIMEDOUT);
		return -ETIMEDOUT;
	}
	for (attempt = 0; attempt < PG_ATTEMPTS && clocks_monotonic() < deadline; attempt++) {
		pg_reset_groups(groups, n, 0);
		r = pg_apply_once(s, groups, n, deadline);
		if (r != -EAGAIN)
			break;
	}
	pthread_mutex_unlock(&s->apply.lock);
	if (r < 0)
		pg_reset_groups(groups, n, r);
	return r;
}

/* ---- open and close --------------------------------------------------------------------- */

static void
pg_close(struct fb_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	pg_link_close(&s->apply);
	pg_link_close(&s->log);
	pg_link_close(&s->read);
	pg_shared_destroy(&s->sh);
	for (i = 0; i < 10; i++) {
		pg_text_free(&s->a[i]);
		pg_text_free(&s->b[i]);
	}
	for (i = 0; i < 8; i++)
		pg_text_free(&s->c[i]);
	free(s->dsn);
	free(s);
}

static int
pg_open(const char *dsn, const struct fb_store_config *cfg, struct fb_store **out, char *err,
	size_t err_len)
{
	struct fb_store *s;
	double deadline;
	int r;

	*out = NULL;
	r = pg_dsn_check(dsn, err, err_len);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dsn = strdup(dsn)) == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->rul_cap = cfg->rul_cap;
	pg_dsn_describe(dsn, s->where, sizeof(s->where));
	pg_shared_init(&s->sh, s->dsn, cfg->timeout_ms);
	pg_link_init(&s->apply);
	pg_link_init(&s->log);
	pg_link_init(&s->read);
	/* a start is no request waiting: the schema may take longer than store_timeout_ms */
	deadline = clocks_monotonic() + (cfg->timeout_ms > PG_OPEN_TIMEOUT_MS ? cfg->timeout_ms
					 : PG_OPEN_TIMEOUT_MS) / 1000.0;
	r = pg_link_connect(&s->sh, &s->apply, deadline, true);
	if (r < 0) {
		snprintf(err, err_len, "cannot connect to database %s: %s", s->where,
			 r == -ETIMEDOUT ? "no answer within store_timeout_ms" : s->sh.error);
		pg_close(s);
		return r;
	}
	r = pg_schema(s, deadline, err, err_len);
	if (r < 0) {
		pg_close(s);
		return r;
	}
	*out = s;
	return 0;
}

const struct fb_store_ops fb_store_pg = {
	.name = "postgresql",
	/* a transaction of the log holds the bucket locks of its units (above) until its COMMIT,
	 * and its cost follows its segments, one per unit and model: 16,384 predictions are 256
	 * segments of 64 at 256 engines a request (the cost of 4,096 in rows per prediction was
	 * tens of milliseconds), 16,384 at worst; a drain of 32,000 rows was seen to run past
	 * store_timeout_ms on a loaded machine, its outcome unknown, while every other daemon's
	 * log (and the answers waiting for it) stood behind its locks */
	.max_log_batch = 16384,
	.open = pg_open,
	.apply = pg_apply,
	.log_predictions = pg_log_predictions,
	.expire_predictions = pg_expire_predictions,
	.lookup = pg_lookup,
	.totals = pg_totals,
	.recent = pg_recent,
	.last_id = pg_last_id,
	.late = pg_late,
	.ping = pg_ping,
	.close = pg_close,
};
