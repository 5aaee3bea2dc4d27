/* SPDX-License-Identifier: MIT */
/* store_pg_read.c - the reads of the PostgreSQL feedback store: log, totals, records, ping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_pg_internal.h"

/* One read on the read connection; a connection the server closed while idle is made again
 * once (a read is safe to repeat). */
static int
pg_read(struct fb_store *s, const char *sql, int n, const char *const *v, PGresult **res)
{
	double deadline = pg_deadline(&s->sh);
	int r;

	if (pg_link_lock(&s->read, deadline) < 0)
		return -ETIMEDOUT;
	r = pg_query(&s->sh, &s->read, sql, n, v, deadline, res);
	if (r == -ECONNRESET && pg_link_connect(&s->sh, &s->read, deadline, true) == 0)
		r = pg_query(&s->sh, &s->read, sql, n, v, deadline, res);
	pthread_mutex_unlock(&s->read.lock);
	return r;
}

int
pg_lookup(struct fb_store *s, int64_t unit, int64_t cycle, fb_logged_fn fn, void *ud)
{
	unsigned char blob[FB_SEGMENT_BYTES];
	char ub[24], cb[24];
	const char *v[2] = { ub, cb };
	struct fb_logged p;
	PGresult *res;
	int i, r;

	snprintf(ub, sizeof(ub), "%lld", (long long)unit);
	snprintf(cb, sizeof(cb), "%lld", (long long)cycle);
	r = pg_read(s, "SELECT model, version, encode(items, 'hex') FROM feedback_segments"
		    " WHERE unit = $1 AND ($2::bigint < 0 OR (min_cycle <= $2 AND max_cycle >= $2))"
		    " ORDER BY id", 2, v, &res);
	if (r < 0)
		return r;
	for (i = 0; i < PQntuples(res) && r == 0; i++) {
		long len = pg_hex_decode(blob, sizeof(blob), PQgetvalue(res, i, 2));

		p.unit = unit;
		p.model = PQgetvalue(res, i, 0);
		p.version = PQgetvalue(res, i, 1);
		p.repeat = false;
		if (len > 0)
			r = fb_segment_each_logged(blob, (size_t)len, cycle, &p, fn, ud);
	}
	PQclear(res);
	return r;
}

int
pg_totals(struct fb_store *s, fb_totals_fn fn, void *ud)
{
	struct fb_totals t;
	PGresult *res;
	int i, r;

	r = pg_read(s, "SELECT model, count, squared_error_sum, abs_error_sum, nasa_score"
		    " FROM feedback_totals ORDER BY model", 0, NULL, &res);
	if (r < 0)
		return r;
	for (i = 0; i < PQntuples(res) && r == 0; i++) {
		snprintf(t.model, sizeof(t.model), "%s", PQgetvalue(res, i, 0));
		t.count = (uint64_t)pg_int(res, i, 1);
		t.squared_error_sum = pg_double(res, i, 2);
		t.abs_error_sum = pg_double(res, i, 3);
		t.nasa_score = pg_double(res, i, 4);
		r = fn(ud, &t);
	}
	PQclear(res);
	return r;
}

/* Rows (id, unit, cycle, predicted, actual, model) to fn; *after to the last id. */
static int
pg_scored_rows(PGresult *res, int64_t *after, fb_scored_fn fn, void *ud)
{
	struct fb_scored sc;
	int i, r = 0;

	for (i = 0; i < PQntuples(res) && r == 0; i++) {
		*after = pg_int(res, i, 0);
		sc.unit = pg_int(res, i, 1);
		sc.cycle = pg_int(res, i, 2);
		sc.predicted = pg_double(res, i, 3);
		sc.actual = pg_double(res, i, 4);
		snprintf(sc.model, sizeof(sc.model), "%s", PQgetvalue(res, i, 5));
		r = fn(ud, &sc);
	}
	PQclear(res);
	return r;
}

int
pg_recent(struct fb_store *s, const char *model, int64_t upto, size_t limit, fb_scored_fn fn,
	  void *ud)
{
	char lb[24], ub[24];
	const char *v[3] = { lb, ub, model };
	PGresult *res;
	int64_t id;
	int r;

	snprintf(lb, sizeof(lb), "%zu", limit);
	snprintf(ub, sizeof(ub), "%lld", (long long)upto);
	r = pg_read(s, model != NULL
			       ? "SELECT * FROM (SELECT id, unit, cycle, predicted, actual, model"
				 " FROM feedback_records WHERE model = $3 AND id <= $2"
				 " ORDER BY id DESC LIMIT $1) t ORDER BY id"
			       : "SELECT * FROM (SELECT id, unit, cycle, predicted, actual, model"
				 " FROM feedback_records WHERE id <= $2 ORDER BY id DESC LIMIT $1) t"
				 " ORDER BY id",
		    model != NULL ? 3 : 2, v, &res);
	return r < 0 ? r : pg_scored_rows(res, &id, fn, ud);
}

int
pg_last_id(struct fb_store *s, int64_t *out)
{
	PGresult *res;
	int r;

	*out = 0;
	r = pg_read(s, "SELECT coalesce(max(id), 0) FROM feedback_records", 0, NULL, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0)
		*out = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_late(struct fb_store *s, int64_t *after, size_t limit, fb_scored_fn fn, void *ud)
{
	char ab[24], lb[24];
	const char *v[2] = { ab, lb };
	PGresult *res;
	int r;

	snprintf(ab, sizeof(ab), "%lld", (long long)*after);
	snprintf(lb, sizeof(lb), "%zu", limit);
	r = pg_read(s, "SELECT id, unit, cycle, predicted, actual, model FROM feedback_records"
		    " WHERE source = 'failure_late' AND id > $1 ORDER BY id LIMIT $2", 2, v, &res);
	return r < 0 ? r : pg_scored_rows(res, after, fn, ud);
}

int
pg_ping(struct fb_store *s)
{
	PGresult *res;
	int r = pg_read(s, "SELECT 1", 0, NULL, &res);

	if (r == 0)
		PQclear(res);
	return r;
}

