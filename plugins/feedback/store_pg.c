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
 * failure event. Marking a prediction scored is an UPDATE ... WHERE NOT scored, so of two
 * transactions that race for one prediction the second waits for the first's row lock and
 * then finds it scored. The late-scoring rule needs more: a failure event applied by daemon A
 * while daemon B logs a prediction of that unit would each miss the other's uncommitted row
 * (A's UPDATE does not see B's prediction, B's look-up does not see A's event). So both take
 * a transaction-scoped advisory lock on the unit's bucket (unit mod PG_BUCKETS) before they
 * read: whichever comes second waits for the first to commit and then, in READ COMMITTED,
 * sees what it committed. Buckets, not units, so that a drain of thousands of units holds a
 * bounded number of locks; every transaction takes its buckets in ascending order, so two of
 * them never wait for each other in a circle.
 *
 * Record ids are cursors (recent up to an id, late after one), so ids must become visible in
 * their order: a transaction that inserts scored records takes one more advisory lock
 * (PG_ORDER_LOCK, after its buckets) before its first insert and holds it to its commit, so
 * such transactions commit one after another, in the order of their ids. A deadlock or
 * serialization failure all the same (another program's locks) retries the transaction.
 *
 * Schema (store_pg_schema.c): versioned in table schema_version (component 'feedback'),
 * created and upgraded by the first daemon that opens the database, under a session advisory lock so that two
 * starting at once do not both do it; a daemon that finds a newer version refuses to start.
 * The prediction log is one row per prediction: the server's costs are not SQLite's, and a
 * row is what a failure event locks.
 *
 * Connections: one for apply (the committer thread), one for the prediction log, one for the
 * reads (store_pg_read.c; any thread, one at a time), each made when first used; every call has a deadline of
 * store_timeout_ms (store_pg_conn.c).
 */

#define PG_OPEN_TIMEOUT_MS 10000 /* at least, for open: connect and create the schema */
#define PG_ATTEMPTS 3            /* a transaction that meets a deadlock or serialization failure */

static int
pg_bucket(int64_t unit)
{
	return (int)(((unit % PG_BUCKETS) + PG_BUCKETS) % PG_BUCKETS);
}

/* Take the advisory locks of the buckets set in `used` (and the order lock), ascending. */
static int
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
static int
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

/*
 * The latest logged prediction of (unit, cycle), of model when not "", not yet scored when
 * unscored_only; marked scored when mark. *id 0 when there is none.
 */
static int
pg_find_latest(struct fb_store *s, const struct fb_record *rec, const char *model,
	       bool unscored_only, bool mark, int64_t *id, double *rul, char *found_model,
	       double deadline)
{
	static const char *const sql[2][2] = {
		{ "SELECT id, model, rul FROM feedback_predictions WHERE unit = $1 AND cycle = $2"
		  " AND ($3 = '' OR model = $3) ORDER BY id DESC LIMIT 1",
		  "SELECT id, model, rul FROM feedback_predictions WHERE unit = $1 AND cycle = $2"
		  " AND NOT scored AND ($3 = '' OR model = $3) ORDER BY id DESC LIMIT 1" },
		{ "UPDATE feedback_predictions SET scored = true WHERE id = (SELECT id FROM"
		  " feedback_predictions WHERE unit = $1 AND cycle = $2 AND ($3 = '' OR model = $3)"
		  " ORDER BY id DESC LIMIT 1) RETURNING id, model, rul",
		  "UPDATE feedback_predictions SET scored = true WHERE id = (SELECT id FROM"
		  " feedback_predictions WHERE unit = $1 AND cycle = $2 AND NOT scored"
		  " AND ($3 = '' OR model = $3) ORDER BY id DESC LIMIT 1) RETURNING id, model, rul" },
	};
	char ub[24], cb[24];
	const char *v[3] = { ub, cb, model };
	PGresult *res;
	int r;

	snprintf(ub, sizeof(ub), "%lld", (long long)rec->unit);
	snprintf(cb, sizeof(cb), "%lld", (long long)rec->cycle);
	*id = 0;
	r = pg_query(&s->sh, &s->apply, sql[mark][unscored_only], 3, v, deadline, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0) {
		*id = pg_int(res, 0, 0);
		snprintf(found_model, FB_MODEL_MAX, "%s", PQgetvalue(res, 0, 1));
		*rul = pg_double(res, 0, 2);
	}
	PQclear(res);
	return 0;
}

/* As store_sqlite.c: the posted prediction stands for the latest unscored logged one of
 * (unit, cycle[, model]), which is marked; the model: posted, else that one's, else the
 * latest logged one's of (unit, cycle), else "unknown". */
static int
pg_apply_scored(struct fb_store *s, const struct fb_record *rec, double ts,
		struct fb_scored_list *sc, double deadline)
{
	char model[FB_MODEL_MAX], found[FB_MODEL_MAX];
	int64_t id = 0, other;
	double rul;
	int r;

	snprintf(model, sizeof(model), "%s", rec->model[0] ? rec->model : "unknown");
	r = pg_find_latest(s, rec, rec->model, true, true, &id, &rul, found, deadline);
	if (r < 0)
		return r;
	if (id != 0) {
		snprintf(model, sizeof(model), "%s", found);
	} else if (rec->model[0] == 0) {
		r = pg_find_latest(s, rec, "", false, false, &other, &rul, found, deadline);
		if (r < 0)
			return r;
		if (other != 0)
			snprintf(model, sizeof(model), "%s", found);
	}
	return pg_score(s, sc, rec->unit, rec->cycle, rec->predicted, rec->actual, model,
			"posted", id, ts, deadline);
}

static int
pg_apply_match(struct fb_store *s, const struct fb_record *rec, double ts,
	       struct fb_scored_list *sc, double deadline)
{
	char found[FB_MODEL_MAX];
	int64_t id;
	double rul = 0;
	int r;

	r = pg_find_latest(s, rec, rec->model, false, true, &id, &rul, found, deadline);
	if (r < 0)
		return r;
	if (id == 0)
		return -ENOENT;
	return pg_score(s, sc, rec->unit, rec->cycle, rul, rec->actual, found, "matched", id, ts,
			deadline);
}

/* Every unscored prediction of the unit up to the failure cycle made before the event
 * arrived is scored and marked, in one statement; then the event is kept for the ones that
 * reach the log later. */
static int
pg_apply_failure(struct fb_store *s, const struct fb_record *rec, double ts,
		 struct fb_scored_list *sc, double deadline)
{
	char ub[24], fb[24], tb[40], nb[24];
	const char *v[4] = { ub, fb, tb, rec->model };
	PGresult *res;
	int i, n, r;

	snprintf(ub, sizeof(ub), "%lld", (long long)rec->unit);
	snprintf(fb, sizeof(fb), "%lld", (long long)rec->failed_at);
	snprintf(tb, sizeof(tb), "%.17g", ts);
	r = pg_query(&s->sh, &s->apply,
		     "WITH marked AS (UPDATE feedback_predictions SET scored = true"
		     " WHERE unit = $1 AND NOT scored AND cycle <= $2 AND ts <= $3"
		     " AND ($4 = '' OR model = $4) RETURNING id, cycle, rul, model)"
		     " INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
		     " prediction_id, ts) SELECT $1, cycle, rul, $2::bigint - cycle, model, 'failure',"
		     " id, $3 FROM marked ORDER BY id"
		     " RETURNING cycle, predicted, actual, model",
		     4, v, deadline, &res);
	if (r < 0)
		return r;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct fb_scored *out = fb_scored_push(sc);

		if (out == NULL) {
			PQclear(res);
			return -ENOMEM;
		}
		out->unit = rec->unit;
		out->cycle = pg_int(res, i, 0);
		out->predicted = pg_double(res, i, 1);
		out->actual = pg_double(res, i, 2);
		snprintf(out->model, sizeof(out->model), "%s", PQgetvalue(res, i, 3));
	}
	PQclear(res);
	snprintf(nb, sizeof(nb), "%d", n);
	{
		const char *w[5] = { ub, fb, nb, tb, rec->model };

		return pg_exec(&s->sh, &s->apply,
			       "INSERT INTO feedback_failures(unit, failed_at_cycle, scored, ts,"
			       " model) VALUES($1, $2, $3, $4, $5)", 5, w, deadline);
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
static int
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
	r = pg_lock_buckets(s, &s->apply, used, true, &s->c, deadline);
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

/* ---- the prediction log ------------------------------------------------------------------- */

/*
 * Insert the batch and, in the same statement, find for each of its predictions the failure
 * event already recorded that scores it (store.h: the first one of the unit, at or after the
 * time the prediction was made, not before its cycle, of its model or of every model).
 */
static const char pg_log_sql[] =
	"WITH ins AS (INSERT INTO feedback_predictions(unit, cycle, rul, ts, model, version)"
	" SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[],"
	" $5::text[], $6::text[]) RETURNING id, unit, cycle, rul, ts, model)"
	" SELECT ins.id, ins.unit, ins.cycle, ins.rul, ins.model, f.id, f.failed_at_cycle, f.ts"
	" FROM ins JOIN LATERAL (SELECT id, failed_at_cycle, ts FROM feedback_failures"
	" WHERE unit = ins.unit AND failed_at_cycle >= ins.cycle AND ts >= ins.ts"
	" AND (model = '' OR model = ins.model) ORDER BY id LIMIT 1) f ON true ORDER BY ins.id";

static const char pg_late_sql[] =
	"WITH late AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],"
	" $4::float8[], $5::float8[], $6::text[], $7::bigint[], $8::float8[])"
	" AS t(pid, unit, cycle, predicted, actual, model, fid, fts)),"
	" marked AS (UPDATE feedback_predictions p SET scored = true FROM late"
	" WHERE p.id = late.pid),"
	" counted AS (UPDATE feedback_failures f SET scored = f.scored + c.n FROM"
	" (SELECT fid, count(*) AS n FROM late GROUP BY fid) c WHERE f.id = c.fid)"
	" INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
	" prediction_id, ts) SELECT unit, cycle, predicted, actual, model, 'failure_late', pid,"
	" fts FROM late ORDER BY pid";

/*
 * The repeats of a batch (store.h) that the log has already: a prediction of their unit, cycle
 * and model with their RUL. Asked on its own, for the batches that carry repeats (rare), so
 * that the insert of every other batch stays a plain one; each repeat is one look-up by the
 * unit's index (a lateral LIMIT 1, which the planner cannot turn into a scan of the table).
 * The unit's bucket lock, taken before, makes another instance's insert of the original either
 * committed and seen here, or after this transaction.
 */
static const char pg_repeats_sql[] =
	"SELECT t.i FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[],"
	" $5::bigint[]) AS t(unit, cycle, model, rul, i) CROSS JOIN LATERAL (SELECT 1"
	" FROM feedback_predictions p WHERE p.unit = t.unit AND p.cycle = t.cycle"
	" AND p.model = t.model AND p.rul = t.rul LIMIT 1) hit";

/* Set drop[i] for each repeat p[i] that the log holds already. */
static int
pg_logged_repeats(struct fb_store *s, const struct fb_logged *p, size_t n, bool *drop,
		  double deadline)
{
	struct pg_text *t = s->b;
	const char *v[5];
	PGresult *res = NULL;
	size_t i;
	int k, r;

	for (k = 0; k < 5; k++)
		pg_text_reset(&t[k]);
	for (i = 0; i < n; i++) {
		if (!p[i].repeat)
			continue;
		pg_text_int(&t[0], p[i].unit);
		pg_text_int(&t[1], p[i].cycle);
		pg_text_string(&t[2], p[i].model != NULL ? p[i].model : "");
		pg_text_double(&t[3], p[i].rul);
		pg_text_int(&t[4], (int64_t)i);
	}
	for (k = 0; k < 5; k++)
		if ((v[k] = pg_text_end(&t[k])) == NULL)
			return -ENOMEM;
	r = pg_query(&s->sh, &s->log, pg_repeats_sql, 5, v, deadline, &res);
	for (k = 0; r == 0 && k < PQntuples(res); k++) {
		int64_t at = pg_int(res, k, 0);

		if (at >= 0 && (size_t)at < n)
			drop[at] = true;
	}
	PQclear(res);
	return r;
}

/* Score the predictions the insert found a failure event for (rows of res). */
static int
pg_log_late(struct fb_store *s, PGresult *res, double deadline)
{
	struct fb_scored_list sc = { 0 };
	struct pg_text *t = s->b;
	bool none[PG_BUCKETS] = { false };
	const char *v[8];
	int i, k, n = PQntuples(res), r;

	for (k = 0; k < 8; k++)
		pg_text_reset(&t[k]);
	for (i = 0; i < n; i++) {
		struct fb_scored *out = fb_scored_push(&sc);
		int64_t cycle = pg_int(res, i, 2), failed_at = pg_int(res, i, 6);

		if (out == NULL) {
			free(sc.items);
			return -ENOMEM;
		}
		out->unit = pg_int(res, i, 1);
		out->cycle = cycle;
		out->predicted = pg_double(res, i, 3);
		out->actual = (double)(failed_at - cycle);
		snprintf(out->model, sizeof(out->model), "%s", PQgetvalue(res, i, 4));
		pg_text_int(&t[0], pg_int(res, i, 0));
		pg_text_int(&t[1], out->unit);
		pg_text_int(&t[2], cycle);
		pg_text_double(&t[3], out->predicted);
		pg_text_double(&t[4], out->actual);
		pg_text_string(&t[5], out->model);
		pg_text_int(&t[6], pg_int(res, i, 5));
		pg_text_double(&t[7], pg_double(res, i, 7));
	}
	for (k = 0; k < 8; k++)
		if ((v[k] = pg_text_end(&t[k])) == NULL) {
			free(sc.items);
			return -ENOMEM;
		}
	/* the order lock before the first record: ids visible in their order (see above) */
	r = pg_lock_buckets(s, &s->log, none, true, &s->a[7], deadline);
	if (r == 0)
		r = pg_exec(&s->sh, &s->log, pg_late_sql, 8, v, deadline);
	if (r == 0)
		r = pg_add_totals(s, &s->log, &sc, deadline);
	free(sc.items);
	return r;
}

/* One attempt; *sent_commit tells whether a failure may have committed all the same. */
static int
pg_log_once(struct fb_store *s, const struct fb_logged *p, size_t n, double deadline,
	    bool *sent_commit)
{
	bool used[PG_BUCKETS] = { false };
	struct pg_text *t = s->a;
	const char *v[6];
	PGresult *res = NULL;
	bool *drop = NULL, repeats = false;
	size_t i, kept = 0;
	int k, r;

	for (i = 0; i < n; i++) {
		used[pg_bucket(p[i].unit)] = true;
		repeats |= p[i].repeat;
	}
	if (repeats && (drop = calloc(n, sizeof(*drop))) == NULL)
		return -ENOMEM;
	r = pg_begin(s, &s->log, deadline);
	if (r == 0)
		r = pg_lock_buckets(s, &s->log, used, false, &s->a[6], deadline);
	if (r == 0 && repeats)
		r = pg_logged_repeats(s, p, n, drop, deadline);
	for (k = 0; k < 6; k++)
		pg_text_reset(&t[k]);
	for (i = 0; r == 0 && i < n; i++) {
		if (drop != NULL && drop[i])
			continue;
		pg_text_int(&t[0], p[i].unit);
		pg_text_int(&t[1], p[i].cycle);
		pg_text_double(&t[2], p[i].rul);
		pg_text_double(&t[3], p[i].timestamp);
		pg_text_string(&t[4], p[i].model != NULL ? p[i].model : "");
		pg_text_string(&t[5], p[i].version != NULL ? p[i].version : "");
		kept++;
	}
	free(drop);
	for (k = 0; r == 0 && k < 6; k++)
		if ((v[k] = pg_text_end(&t[k])) == NULL)
			r = -ENOMEM;
	if (r == 0 && kept > 0)
		r = pg_query(&s->sh, &s->log, pg_log_sql, 6, v, deadline, &res);
	if (r == 0 && PQntuples(res) > 0)
		r = pg_log_late(s, res, deadline);
	PQclear(res);
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

static int
pg_log_predictions(struct fb_store *s, const struct fb_logged *p, size_t n)
{
	double deadline = pg_deadline(&s->sh);
	bool sent_commit = false;
	int attempt, r = -ETIMEDOUT;

	if (n == 0)
		return 0;
	if (pg_link_lock(&s->log, deadline) < 0)
		return -EAGAIN;
	for (attempt = 0; attempt < PG_ATTEMPTS && clocks_monotonic() < deadline; attempt++) {
		r = pg_log_once(s, p, n, deadline, &sent_commit);
		if (r != -EAGAIN)
			break;
	}
	pthread_mutex_unlock(&s->log.lock);
	/* nothing stored, the server out of reach or out of time: the log tries again later */
	if (!sent_commit && (r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT))
		r = -EAGAIN;
	return r;
}

static int
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
		     "DELETE FROM feedback_predictions WHERE id IN (SELECT id FROM"
		     " feedback_predictions WHERE ts < $1 LIMIT $2)", 2, v, deadline, &res);
	if (r == 0) {
		*deleted = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	pthread_mutex_unlock(&s->log.lock);
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
	for (i = 0; i < 8; i++) {
		pg_text_free(&s->a[i]);
		pg_text_free(&s->b[i]);
	}
	pg_text_free(&s->c);
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
	/* a transaction of the log holds the bucket locks of its units (above) until its COMMIT:
	 * 4096 rows keep it to tens of milliseconds, where a drain of 32,000 was seen to run past
	 * store_timeout_ms on a loaded machine, its outcome unknown, while every other daemon's
	 * log (and the answers waiting for it) stood behind its locks */
	.max_log_batch = 4096,
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
