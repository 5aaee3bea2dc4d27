/* SPDX-License-Identifier: MIT */
/* fleet_store_sqlite.c - the engines' cycles in SQLite (WAL, synchronous=FULL). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fleet_store.h"

/*
 * Durability as the feedback store (plugins/feedback/store_sqlite.c): WAL with
 * synchronous=FULL, so a COMMIT that returned is on stable storage; one fsync per
 * transaction, spread by the group commit (fleet_commit.c) over every request waiting.
 *
 * One row per accepted cycle of the engine's current life, with its prediction: the life's
 * predictions for GET /v1/engines/{unit}. Only the cycles in the window keep their inputs
 * (a cycle that leaves the window has them cleared in the same transaction), so a restart
 * reads back exactly the windows, through the partial index fleet_window. Ending a life
 * deletes the unit's rows. The failure events are the feedback plugin's table "failures"
 * when both plugins use the same file; the fleet keeps its cursor in fleet_meta.
 *
 * Two connections: w (the committer thread only) and r (readers, under rlock).
 */

static const char fleet_schema[] =
	"CREATE TABLE IF NOT EXISTS fleet_cycles("
	" unit INTEGER NOT NULL, cycle INTEGER NOT NULL, inputs BLOB, rul REAL NOT NULL,"
	" model TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL,"
	" PRIMARY KEY(unit, cycle)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS fleet_window ON fleet_cycles(unit, cycle)"
	" WHERE inputs IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS fleet_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_CLEAR,
	ST_FORGET,
	ST_SET_CURSOR,
	ST_COUNT,
};

static const char *const st_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = "INSERT OR REPLACE INTO fleet_cycles(unit, cycle, inputs, rul, model, version,"
		      " ts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_CLEAR] = "UPDATE fleet_cycles SET inputs = NULL WHERE unit = ?1 AND cycle = ?2",
	[ST_FORGET] = "DELETE FROM fleet_cycles WHERE unit = ?1",
	[ST_SET_CURSOR] = "INSERT OR REPLACE INTO fleet_meta(key, value)"
			  " VALUES('failure_cursor', ?1)",
};

struct sqlite_store {
	struct fleet_store base; /* first: the vtable */
	sqlite3 *w, *r;
	pthread_mutex_t wlock, rlock;
	sqlite3_stmt *st[ST_COUNT];
	char *path;
};

static int
store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

static int
store_exec(sqlite3 *db, const char *path, const char *sql, char *err, size_t err_len)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return store_errno(rc);
	}
	return 0;
}

static int
store_conn(const char *path, sqlite3 **out, char *err, size_t err_len)
{
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					    SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database '%s': %s", path,
			 *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		return store_errno(rc);
	}
	sqlite3_busy_timeout(*out, 5000);
	return 0;
}

static void
sq_close(struct fleet_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->w);
	sqlite3_close(s->r);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->rlock);
	free(s->path);
	free(s);
}

static int
sq_open(const char *path, struct fleet_store **out, char *err, size_t err_len)
{
	struct sqlite_store *s = calloc(1, sizeof(*s));
	size_t i;
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &fleet_store_sqlite;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	s->path = strdup(path);
	r = s->path == NULL ? -ENOMEM : store_conn(path, &s->w, err, err_len);
	if (r == 0)
		r = store_exec(s->w, path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err,
			       err_len);
	if (r == 0)
		r = store_exec(s->w, path, fleet_schema, err, err_len);
	for (i = 0; r == 0 && i < ST_COUNT; i++)
		if (sqlite3_prepare_v2(s->w, st_sql[i], -1, &s->st[i], NULL) != SQLITE_OK) {
			snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->w));
			r = -EIO;
		}
	if (r == 0)
		r = store_conn(path, &s->r, err, err_len);
	if (r == 0)
		r = store_exec(s->r, path, "PRAGMA query_only=1", err, err_len);
	if (r < 0) {
		sq_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_errno(rc);
}

static int
apply_rows(struct sqlite_store *s, const int64_t *forget, size_t n_forget,
	   const struct fleet_row *rows, size_t n_rows)
{
	sqlite3_stmt *st;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < n_forget; i++) {
		st = s->st[ST_FORGET];
		sqlite3_bind_int64(st, 1, forget[i]);
		r = step_done(st);
	}
	for (i = 0; r == 0 && i < n_rows; i++) {
		const struct fleet_row *w = &rows[i];

		st = s->st[ST_INSERT];
		sqlite3_bind_int64(st, 1, w->unit);
		sqlite3_bind_int64(st, 2, w->cycle);
		sqlite3_bind_blob(st, 3, w->inputs, sizeof(w->inputs), SQLITE_STATIC);
		sqlite3_bind_double(st, 4, w->rul);
		sqlite3_bind_text(st, 5, w->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, w->version, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 7, w->ts);
		r = step_done(st);
		if (r == 0 && w->dropped >= 0) {
			st = s->st[ST_CLEAR];
			sqlite3_bind_int64(st, 1, w->unit);
			sqlite3_bind_int64(st, 2, w->dropped);
			r = step_done(st);
		}
	}
	return r;
}

static int
sq_apply(struct fleet_store *base, const int64_t *forget, size_t n_forget,
	 const struct fleet_row *rows, size_t n_rows)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int r;

	pthread_mutex_lock(&s->wlock);
	r = step_done(s->st[ST_BEGIN]);
	if (r == 0)
		r = apply_rows(s, forget, n_forget, rows, n_rows);
	if (r == 0)
		r = step_done(s->st[ST_COMMIT]);
	if (r < 0 && !sqlite3_get_autocommit(s->w))
		step_done(s->st[ST_ROLLBACK]);
	pthread_mutex_unlock(&s->wlock);
	return r;
}

/* Rows of a SELECT unit, cycle, inputs, rul, model, version, ts to fn. */
static int
read_rows(sqlite3_stmt *st, fleet_stored_fn fn, void *ud)
{
	struct fleet_stored c;
	int rc, r = 0;

	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 2);

		c.unit = sqlite3_column_int64(st, 0);
		c.cycle = sqlite3_column_int64(st, 1);
		c.has_inputs = blob != NULL && sqlite3_column_bytes(st, 2) == sizeof(c.inputs);
		if (c.has_inputs)
			memcpy(c.inputs, blob, sizeof(c.inputs));
		c.rul = sqlite3_column_double(st, 3);
		c.model = (const char *)sqlite3_column_text(st, 4);
		c.version = (const char *)sqlite3_column_text(st, 5);
		c.ts = sqlite3_column_double(st, 6);
		if (c.model == NULL)
			c.model = "";
		if (c.version == NULL)
			c.version = "";
		r = fn(ud, &c);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	return r;
}

static int
query(struct sqlite_store *s, const char *sql, const int64_t *unit, fleet_stored_fn fn, void *ud)
{
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->rlock);
	if (sqlite3_prepare_v2(s->r, sql, -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
	} else {
		if (unit != NULL)
			sqlite3_bind_int64(st, 1, *unit);
		r = read_rows(st, fn, ud);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

static int
sq_load(struct fleet_store *base, fleet_stored_fn fn, void *ud)
{
	return query((struct sqlite_store *)base, "SELECT unit, cycle, inputs, rul, model, version, ts FROM fleet_cycles"
		     " WHERE inputs IS NOT NULL ORDER BY unit, cycle",
		     NULL, fn, ud);
}

static int
sq_unit(struct fleet_store *base, int64_t unit, bool window_only, fleet_stored_fn fn, void *ud)
{
	return query((struct sqlite_store *)base, window_only ?
		     "SELECT unit, cycle, inputs, rul, model, version, ts FROM fleet_cycles"
		     " WHERE unit = ?1 AND inputs IS NOT NULL ORDER BY cycle" :
		     "SELECT unit, cycle, NULL, rul, model, version, ts FROM fleet_cycles"
		     " WHERE unit = ?1 ORDER BY cycle", &unit, fn, ud);
}

/* The cursor: the id of the last failure event applied, 0 before the first. */
static int
failure_cursor(struct sqlite_store *s, int64_t *cursor)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*cursor = 0;
	if (sqlite3_prepare_v2(s->r, "SELECT value FROM fleet_meta WHERE key = 'failure_cursor'",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*cursor = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

static int
set_cursor(struct sqlite_store *s, int64_t cursor)
{
	int r;

	pthread_mutex_lock(&s->wlock);
	sqlite3_bind_int64(s->st[ST_SET_CURSOR], 1, cursor);
	r = step_done(s->st[ST_SET_CURSOR]);
	pthread_mutex_unlock(&s->wlock);
	return r;
}

/*
 * Events before the fleet's first start are applied too: there is no engine yet for them to
 * end. The feedback plugin may create its table after this connection read the schema; the
 * cursor's query above refreshes it, so a table created since is seen at the next poll.
 */
static int
sq_failures(struct fleet_store *base, fleet_failure_fn fn, void *ud)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int64_t cursor, last;
	int r, rc;

	pthread_mutex_lock(&s->rlock);
	r = failure_cursor(s, &cursor);
	if (r == 0 && sqlite3_prepare_v2(s->r, "SELECT id, unit, failed_at_cycle FROM failures"
					 " WHERE id > ?1 ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		/* no table "failures" (yet): the feedback plugin does not share this file */
		sqlite3_finalize(st);
		pthread_mutex_unlock(&s->rlock);
		return 0;
	}
	last = cursor;
	if (r == 0) {
		sqlite3_bind_int64(st, 1, cursor);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			last = sqlite3_column_int64(st, 0);
			fn(ud, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
		}
		if (rc != SQLITE_DONE)
			r = store_errno(rc);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rlock);
	if (r == 0 && last != cursor)
		r = set_cursor(s, last);
	return r;
}

const struct fleet_store_ops fleet_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.apply = sq_apply,
	.load = sq_load,
	.unit = sq_unit,
	.failures = sq_failures,
};
