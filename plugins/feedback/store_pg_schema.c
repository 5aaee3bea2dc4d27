/* SPDX-License-Identifier: MIT */
/* store_pg_schema.c - the PostgreSQL feedback store's tables: versions, creation, upgrades. */
#include <errno.h>
#include <stdio.h>

#include "clocks.h"
#include "segment.h"
#include "store_pg_internal.h"

/* Each entry moves the schema from version i to i + 1: its SQL, then its function when it
 * has one; the last one reaches PG_SCHEMA_VERSION. */
struct pg_migration {
	const char *sql;
	int (*copy)(struct fb_store *s, double deadline);
};

/*
 * 1 -> 2, after the SQL made the segments table: each row of feedback_predictions (version 1:
 * one row per prediction) becomes a segment of one item with the row's id, scored or not as it
 * was; so its prediction id is id * FB_SEGMENT_ID_SCALE, and the records that name it are
 * moved to that (the unique index of the failure records goes while they move: PostgreSQL
 * checks it row by row, and id * 1024 may still be another row's old value). New segments get
 * ids after the old rows'. Then the row table goes. In chunks, each one INSERT of arrays.
 */
#define PG_MIGRATE_CHUNK 8192
#define PG_MIGRATE_TIMEOUT_S 3600 /* at most, for a migration that copies rows */

static int
pg_migrate_rows(struct fb_store *s, double deadline)
{
	static const char *const finish =
		"CREATE INDEX feedback_segments_unit ON feedback_segments(unit, id);"
		"CREATE INDEX feedback_segments_open ON feedback_segments(unit, id)"
		" WHERE unscored > 0;"
		"CREATE INDEX feedback_segments_ts ON feedback_segments(max_ts);"
		"SELECT setval(pg_get_serial_sequence('feedback_segments', 'id'),"
		" coalesce(max(id), 0) + 1, false) FROM feedback_segments;"
		"DROP INDEX feedback_records_failure_once;"
		"UPDATE feedback_records SET prediction_id = prediction_id * " PG_ID_SCALE_TEXT
		" WHERE prediction_id IS NOT NULL;"
		"CREATE UNIQUE INDEX feedback_records_failure_once ON feedback_records(prediction_id)"
		" WHERE source IN ('failure', 'failure_late');"
		"DROP TABLE feedback_predictions;";
	struct pg_text *t = s->a;
	char after[24] = "0";
	unsigned char blob[FB_ITEM_BYTES];
	PGresult *res;
	int i, k, n, r;

	do {
		static const int formats[PG_SEGMENT_COLUMNS + 1] = { [8] = 1 };
		const char *v[PG_SEGMENT_COLUMNS + 1], *w[1] = { after };
		int lengths[PG_SEGMENT_COLUMNS + 1] = { 0 };

		r = pg_query(&s->sh, &s->apply, "SELECT id, unit, cycle, rul, ts, model, version,"
			     " scored FROM feedback_predictions WHERE id > $1 ORDER BY id LIMIT "
			     PG_STR(PG_MIGRATE_CHUNK), 1, w, deadline, &res);
		if (r < 0)
			return r;
		n = PQntuples(res);
		for (k = 0; k <= PG_SEGMENT_COLUMNS; k++)
			pg_text_reset(&t[k]);
		for (i = 0; i < n; i++) {
			struct fb_item it = {
				.cycle = pg_int(res, i, 2),
				.rul = pg_double(res, i, 3),
				.ts = pg_double(res, i, 4),
				.flags = PQgetvalue(res, i, 7)[0] == 't' ? FB_ITEM_SCORED : 0,
			};

			fb_item_encode(blob, &it);
			pg_text_int(&t[0], pg_int(res, i, 1));
			pg_text_string(&t[1], PQgetvalue(res, i, 5));
			pg_text_string(&t[2], PQgetvalue(res, i, 6));
			pg_text_int(&t[3], it.cycle);
			pg_text_int(&t[4], it.cycle);
			pg_text_double(&t[5], it.ts);
			pg_text_double(&t[6], it.ts);
			pg_text_int(&t[7], it.flags ? 0 : 1);
			pg_bytea_array_add(&t[8], blob, sizeof(blob));
			pg_text_int(&t[9], pg_int(res, i, 0));
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
		PQclear(res);
		if (n == 0)
			break;
		for (k = 0; k <= PG_SEGMENT_COLUMNS; k++) {
			v[k] = k == 8 ? pg_bytea_array_end(&t[k], &lengths[k]) : pg_text_end(&t[k]);
			if (v[k] == NULL)
				return -ENOMEM;
		}
		r = pg_query_params(&s->sh, &s->apply, "INSERT INTO feedback_segments(id, unit, model,"
			    " version, min_cycle, max_cycle, min_ts, max_ts, unscored, items)"
			    " SELECT id, unit, model, version, min_cycle, max_cycle, min_ts, max_ts,"
			    " unscored, items FROM unnest($1::bigint[], $2::text[],"
			    " $3::text[], $4::bigint[], $5::bigint[], $6::float8[], $7::float8[],"
			    " $8::int[], $9::bytea[], $10::bigint[]) AS t(unit, model, version,"
			    " min_cycle, max_cycle, min_ts, max_ts, unscored, items, id)",
			    PG_SEGMENT_COLUMNS + 1, v, lengths, formats, deadline, &res);
		PQclear(res);
	} while (r == 0 && n == PG_MIGRATE_CHUNK);
	return r < 0 ? r : pg_exec(&s->sh, &s->apply, finish, 0, NULL, deadline);
}

static const struct pg_migration pg_migrations[PG_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	{ .sql =
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
	" NOT NULL);" },
	/* 1 -> 2: the prediction log in segments (store_pg_log.c), copied by pg_migrate_rows */
	{ .sql =
	"CREATE TABLE feedback_segments("
	" id bigserial PRIMARY KEY, unit bigint NOT NULL, model text NOT NULL,"
	" version text NOT NULL, min_cycle bigint NOT NULL, max_cycle bigint NOT NULL,"
	" min_ts double precision NOT NULL, max_ts double precision NOT NULL,"
	" unscored integer NOT NULL, items bytea NOT NULL) WITH (toast_tuple_target = 8160);"
	/* doubles do not compress: never try; a segment of up to 8 KB stays in its row */
	"ALTER TABLE feedback_segments ALTER items SET STORAGE EXTERNAL;",
	  .copy = pg_migrate_rows }, /* and the indexes */
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
	for (; r == 0 && version < PG_SCHEMA_VERSION; version++) {
		r = pg_exec(&s->sh, &s->apply, pg_migrations[version].sql, 0, NULL, deadline);
		if (r == 0 && pg_migrations[version].copy != NULL) {
			/* a copy takes what the rows there are take, past store_timeout_ms: a start
			 * that gave up would roll it back and leave the next start the same work */
			deadline = clocks_monotonic() + PG_MIGRATE_TIMEOUT_S;
			r = pg_exec(&s->sh, &s->apply, "SET LOCAL statement_timeout = 0", 0, NULL,
				    deadline);
			if (r == 0)
				r = pg_migrations[version].copy(s, deadline);
		}
	}
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

