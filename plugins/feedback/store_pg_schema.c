/* SPDX-License-Identifier: MIT */
/* store_pg_schema.c - the PostgreSQL feedback store's tables: versions, creation, upgrades. */
#include <errno.h>
#include <stdio.h>

#include "store_pg_internal.h"

/* Each entry moves the schema from version i to i + 1; the last one reaches PG_SCHEMA_VERSION. */
static const char *const pg_migrations[PG_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE feedback_predictions("
	" id bigserial PRIMARY KEY, unit bigint NOT NULL, cycle bigint NOT NULL,"
	" rul double precision NOT NULL, ts double precision NOT NULL, model text NOT NULL,"
	" version text NOT NULL, scored boolean NOT NULL DEFAULT false);"
	"CREATE INDEX feedback_predictions_unit ON feedback_predictions(unit, cycle, id);"
	"CREATE INDEX feedback_predictions_open ON feedback_predictions(unit, id)"
	" WHERE NOT scored;"
	"CREATE INDEX feedback_predictions_ts ON feedback_predictions(ts);"
	"CREATE TABLE feedback_records("
	" id bigserial PRIMARY KEY, unit bigint NOT NULL, cycle bigint NOT NULL,"
	" predicted double precision NOT NULL, actual double precision NOT NULL,"
	" model text NOT NULL, source text NOT NULL, prediction_id bigint,"
	" ts double precision NOT NULL);"
	"CREATE INDEX feedback_records_model ON feedback_records(model, id);"
	"CREATE INDEX feedback_records_late ON feedback_records(id)"
	" WHERE source = 'failure_late';"
	/* the database's own guarantee that a failure event scores a prediction once */
	"CREATE UNIQUE INDEX feedback_records_failure_once ON feedback_records(prediction_id)"
	" WHERE source IN ('failure', 'failure_late');"
	"CREATE TABLE feedback_failures("
	" id bigserial PRIMARY KEY, unit bigint NOT NULL, failed_at_cycle bigint NOT NULL,"
	" scored bigint NOT NULL, ts double precision NOT NULL, model text NOT NULL DEFAULT '');"
	"CREATE INDEX feedback_failures_unit ON feedback_failures(unit, id);"
	"CREATE TABLE feedback_totals("
	" model text PRIMARY KEY, count bigint NOT NULL, squared_error_sum double precision"
	" NOT NULL, abs_error_sum double precision NOT NULL, nasa_score double precision"
	" NOT NULL);",
};

/* Create or upgrade the schema, in one transaction under the schema lock. */
int
pg_schema(struct fb_store *s, double deadline, char *err, size_t err_len)
{
	char cls[16], lk[16], vb[16];
	const char *v[2] = { cls, lk };
	PGresult *res = NULL;
	int version = 0, r;

	snprintf(cls, sizeof(cls), "%d", PG_LOCK_CLASS);
	snprintf(lk, sizeof(lk), "%d", PG_SCHEMA_LOCK);
	r = pg_exec(&s->sh, &s->apply, "SELECT pg_advisory_lock($1::int, $2::int)", 2, v,
		    deadline);
	if (r == 0)
		r = pg_exec(&s->sh, &s->apply,
			    "BEGIN; CREATE TABLE IF NOT EXISTS schema_version(component text PRIMARY"
			    " KEY, version integer NOT NULL)", 0, NULL, deadline);
	if (r == 0)
		r = pg_query(&s->sh, &s->apply, "SELECT version FROM schema_version"
			     " WHERE component = 'feedback'", 0, NULL, deadline, &res);
	if (r == 0 && PQntuples(res) > 0)
		version = (int)pg_int(res, 0, 0);
	PQclear(res);
	if (r == 0 && version > PG_SCHEMA_VERSION) {
		snprintf(err, err_len, "database %s has feedback schema version %d, this rulsrv "
			 "knows versions up to %d: upgrade rulsrv, or give it another database",
			 s->where, version, PG_SCHEMA_VERSION);
		r = -EPROTO;
	}
	for (; r == 0 && version < PG_SCHEMA_VERSION; version++)
		r = pg_exec(&s->sh, &s->apply, pg_migrations[version], 0, NULL, deadline);
	if (r == 0) {
		const char *w[1] = { vb };

		snprintf(vb, sizeof(vb), "%d", PG_SCHEMA_VERSION);
		r = pg_exec(&s->sh, &s->apply, "INSERT INTO schema_version(component, version)"
			    " VALUES('feedback', $1) ON CONFLICT(component) DO UPDATE"
			    " SET version = excluded.version", 1, w, deadline);
	}
	if (r == 0)
		r = pg_exec(&s->sh, &s->apply, "COMMIT", 0, NULL, deadline);
	if (r < 0 && r != -EPROTO)
		snprintf(err, err_len, "cannot set up the feedback schema in database %s: %s",
			 s->where, s->sh.error);
	if (s->apply.conn != NULL) {
		if (r < 0)
			pg_exec(&s->sh, &s->apply, "ROLLBACK", 0, NULL, deadline);
		pg_exec(&s->sh, &s->apply, "SELECT pg_advisory_unlock($1::int, $2::int)", 2, v,
			deadline);
	}
	return r;
}

