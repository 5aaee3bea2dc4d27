/* SPDX-License-Identifier: MIT */
/* store_sqlite.c - the SQLite backend of the feedback store (WAL, synchronous=FULL). */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "accuracy.h"
#include "clocks.h"
#include "segment.h"
#include "store_sqlite_internal.h"

/*
 * Durability: journal_mode=WAL with synchronous=FULL. In WAL mode, FULL syncs the WAL file at
 * every commit, so a transaction that COMMIT reported is on stable storage and survives a
 * SIGKILL of the process and a power loss (NORMAL would survive the SIGKILL but could lose
 * the last commits on power loss). The cost is one fsync per transaction, which the group
 * commit in commit.c spreads over every record waiting at that moment.
 *
 * The prediction log's transactions are the exception: NORMAL, a WAL append without fsync,
 * which survives a SIGKILL (what log_before_answer promises) but not a power loss of the last
 * ones. An answer that waits for the log (fleet mode's cycles, by default) already waited for
 * the fleet store's own fsync of the same file, and a second fsync in a row cost it more
 * than half its cycles a second (docs/BENCHMARKS.md); the next FULL commit of this file,
 * ground truth or fleet window, syncs the log's frames with its own.
 *
 * Two connections: `w` for writes (the group committer and the prediction log writer,
 * serialised by wlock) and `r` for reads (WAL readers never block the writer). Other
 * processes or services may open the same file: busy_timeout waits for their write lock.
 *
 * Checkpoints (copying the WAL back into the database file, with fsyncs of their own) run on
 * a third connection in a thread of their own, woken by the WAL hook once the WAL holds
 * FB_CHECKPOINT_PAGES pages: SQLite's automatic checkpoint would run them inside the commit
 * that crossed the threshold, on the path of the requests waiting for it.
 *
 * The prediction log is stored in segments (schema 3): one row holds the predictions of one
 * unit, model and version from one drain of the log, as a blob of fixed-size items with a
 * scored flag each, and the row keeps the cycle and time ranges and how many are still
 * unscored. A drain of thousands of predictions of a few hundred units is a few hundred rows
 * and index entries, not thousands of each: under load the log costs a small part of what
 * answering did (docs/BENCHMARKS.md). Scoring finds a unit's segments by index and the
 * prediction in the blob; a segment holds FB_SEGMENT_MAX items at most, so that marking one
 * scored rewrites 16 KiB at most.
 */

#define FB_SCHEMA_VERSION 3
#define FB_CHECKPOINT_PAGES 1000
#define FB_WAL_RESTART_PAGES (16 * FB_CHECKPOINT_PAGES) /* 64 MB of 4 KiB pages */

static const char fb_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS prediction_segments("
	" id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, model TEXT NOT NULL,"
	" version TEXT NOT NULL, min_cycle INTEGER NOT NULL, max_cycle INTEGER NOT NULL,"
	" min_ts REAL NOT NULL, max_ts REAL NOT NULL, unscored INTEGER NOT NULL,"
	" items BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS prediction_segments_unit ON prediction_segments(unit);"
	"CREATE INDEX IF NOT EXISTS prediction_segments_open ON prediction_segments(unit)"
	" WHERE unscored > 0;"
	"CREATE INDEX IF NOT EXISTS prediction_segments_ts ON prediction_segments(max_ts);"
	"CREATE TABLE IF NOT EXISTS feedback("
	" id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, cycle INTEGER NOT NULL,"
	" predicted REAL NOT NULL, actual REAL NOT NULL, model TEXT NOT NULL,"
	" source TEXT NOT NULL, prediction_id INTEGER, ts REAL NOT NULL);"
	"CREATE INDEX IF NOT EXISTS feedback_model ON feedback(model, id);"
	"CREATE INDEX IF NOT EXISTS feedback_late ON feedback(id) WHERE source = 'failure_late';"
	"CREATE TABLE IF NOT EXISTS failures("
	" id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, failed_at_cycle INTEGER NOT NULL,"
	" scored INTEGER NOT NULL, ts REAL NOT NULL, model TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS failures_unit ON failures(unit, id);"
	"CREATE TABLE IF NOT EXISTS totals("
	" model TEXT PRIMARY KEY, count INTEGER NOT NULL, squared_error_sum REAL NOT NULL,"
	" abs_error_sum REAL NOT NULL, nasa_score REAL NOT NULL);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '3');";

/* Version 1 to 2: failure events keep their model, so that a prediction logged after its
 * unit's failure event can be scored against it (store_sqlite_log_predictions). */
static const char fb_migrate_1[] =
	"ALTER TABLE failures ADD COLUMN model TEXT NOT NULL DEFAULT '';"
	"UPDATE meta SET value = '2' WHERE key = 'schema_version';";

/* Version 2 to 3, after the rows are copied into segments (sqlite_migrate_2); 1024 is
 * FB_SEGMENT_ID_SCALE. */
_Static_assert(FB_SEGMENT_ID_SCALE == 1024, "fb_migrate_2_rows multiplies by 1024");
static const char fb_migrate_2_rows[] =
	"UPDATE feedback SET prediction_id = prediction_id * 1024 WHERE prediction_id IS NOT NULL;"
	"DROP TABLE predictions;";

enum fb_stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_INSERT_FEEDBACK,
	ST_UPSERT_TOTALS,
	ST_SEG_OF_CYCLE,
	ST_SEG_UNSCORED_OF_CYCLE,
	ST_SEG_REWRITE,
	ST_SEG_FAILURE,
	ST_ANY_FAILURE,
	ST_INSERT_FAILURE,
	ST_FAILURE_OF,
	ST_COUNT_FAILURE,
	ST_INSERT_SEGMENT,
	ST_EXPIRE,
	ST_COUNT,
};

static const char *const fb_stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT fb_group",
	[ST_RELEASE] = "RELEASE fb_group",
	[ST_ROLLBACK_TO] = "ROLLBACK TO fb_group",
	[ST_INSERT_FEEDBACK] = "INSERT INTO feedback(unit, cycle, predicted, actual, model, source,"
			       " prediction_id, ts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_UPSERT_TOTALS] = "INSERT INTO totals(model, count, squared_error_sum, abs_error_sum,"
			     " nasa_score) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(model) DO UPDATE"
			     " SET count = count + excluded.count,"
			     " squared_error_sum = squared_error_sum + excluded.squared_error_sum,"
			     " abs_error_sum = abs_error_sum + excluded.abs_error_sum,"
			     " nasa_score = nasa_score + excluded.nasa_score",
	/* ?3: a model, or "" for every model */
	[ST_SEG_OF_CYCLE] = "SELECT id, model, items FROM prediction_segments WHERE unit = ?1"
			    " AND min_cycle <= ?2 AND max_cycle >= ?2 AND (?3 = '' OR model = ?3)"
			    " ORDER BY id DESC",
	[ST_SEG_UNSCORED_OF_CYCLE] = "SELECT id, model, items FROM prediction_segments"
				     " WHERE unit = ?1 AND unscored > 0 AND min_cycle <= ?2"
				     " AND max_cycle >= ?2 AND (?3 = '' OR model = ?3)"
				     " ORDER BY id DESC",
	[ST_SEG_REWRITE] = "UPDATE prediction_segments SET items = ?2, unscored = unscored - ?3"
			   " WHERE id = ?1",
	[ST_SEG_FAILURE] = "SELECT id, model, items FROM prediction_segments WHERE unit = ?1"
			   " AND unscored > 0 AND min_cycle <= ?2 AND min_ts <= ?3"
			   " AND (?4 = '' OR model = ?4) ORDER BY id",
	[ST_ANY_FAILURE] = "SELECT 1 FROM failures WHERE unit = ?1 AND failed_at_cycle >= ?2"
			   " AND ts >= ?3 AND (model = '' OR model = ?4) LIMIT 1",
	[ST_INSERT_FAILURE] = "INSERT INTO failures(unit, failed_at_cycle, scored, ts, model)"
			      " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_FAILURE_OF] = "SELECT id, failed_at_cycle, ts FROM failures WHERE unit = ?1"
			  " AND failed_at_cycle >= ?2 AND ts >= ?3 AND (model = '' OR model = ?4)"
			  " ORDER BY id LIMIT 1",
	[ST_COUNT_FAILURE] = "UPDATE failures SET scored = scored + 1 WHERE id = ?1",
	[ST_INSERT_SEGMENT] = "INSERT INTO prediction_segments(unit, model, version, min_cycle,"
			      " max_cycle, min_ts, max_ts, unscored, items)"
			      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_EXPIRE] = "DELETE FROM prediction_segments WHERE id IN"
		      " (SELECT id FROM prediction_segments WHERE max_ts < ?1 LIMIT ?2)",
};

enum fb_read_id {
	RD_LOOKUP,
	RD_TOTALS,
	RD_RECENT,
	RD_RECENT_MODEL,
	RD_LATE,
	RD_LAST_ID,
	RD_COUNT,
};

static const char *const fb_read_sql[RD_COUNT] = {
	/* ?2: a cycle, or -1 for every cycle */
	[RD_LOOKUP] = "SELECT model, version, items FROM prediction_segments WHERE unit = ?1"
		      " AND (?2 < 0 OR (min_cycle <= ?2 AND max_cycle >= ?2)) ORDER BY id",
	[RD_TOTALS] = "SELECT model, count, squared_error_sum, abs_error_sum, nasa_score"
		      " FROM totals ORDER BY model",
	[RD_RECENT] = "SELECT id, unit, cycle, predicted, actual, model FROM"
		      " (SELECT id, unit, cycle, predicted, actual, model FROM feedback"
		      " WHERE id <= ?3 ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[RD_RECENT_MODEL] = "SELECT id, unit, cycle, predicted, actual, model FROM"
			    " (SELECT id, unit, cycle, predicted, actual, model FROM feedback"
			    " WHERE model = ?2 AND id <= ?3 ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[RD_LATE] = "SELECT id, unit, cycle, predicted, actual, model FROM feedback"
		    " WHERE source = 'failure_late' AND id > ?1 ORDER BY id LIMIT ?2",
	[RD_LAST_ID] = "SELECT coalesce(max(id), 0) FROM feedback",
};

struct fb_store {
	sqlite3 *w;
	sqlite3 *r;
	sqlite3 *c;
	pthread_mutex_t wlock;
	pthread_mutex_t rlock;
	pthread_mutex_t clock; /* checkpointer */
	pthread_cond_t cwake;
	pthread_t cthread;
	bool cstarted;
	bool cpending;
	bool cstop;
	sqlite3_stmt *st[ST_COUNT];
	sqlite3_stmt *rd[RD_COUNT];
	struct fb_found *found; /* scratch of the writer (wlock) */
	double rul_cap;
};

/* ---- prediction segments ----------------------------------------------------------------- */

/* A logged prediction found for a record: where it is and what it said. */
struct fb_found {
	sqlite3_int64 segment; /* 0: none */
	size_t index;
	bool scored;
	double rul;
	char model[FB_MODEL_MAX];
	unsigned char blob[FB_SEGMENT_MAX * FB_ITEM_BYTES]; /* the segment's items, to rewrite */
	size_t blob_len;
};

static void
sqlite_copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

static int
sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* PRAGMA synchronous on the writer, outside a transaction. Not a prepared statement: SQLite
 * applies this pragma when it compiles it, and stepping it again changes nothing. */
static int
sqlite_synchronous(struct fb_store *s, const char *level)
{
	char sql[40];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", level);
	rc = sqlite3_exec(s->w, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sqlite_errno(rc);
}

/* Run a statement that returns no rows, then reset it. */
static int
sqlite_exec_stmt(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlite_errno(rc);
}

static int
sqlite_run(struct fb_store *s, enum fb_stmt_id id)
{
	return sqlite_exec_stmt(s->st[id]);
}

static void *
sqlite_checkpointer(void *arg)
{
	struct fb_store *s = arg;

	pthread_mutex_lock(&s->clock);
	for (;;) {
		while (!s->cpending && !s->cstop)
			pthread_cond_wait(&s->cwake, &s->clock);
		if (s->cstop)
			break;
		s->cpending = false;
		pthread_mutex_unlock(&s->clock);
		/* PASSIVE: never waits for, nor blocks, writers and readers; BUSY is fine */
		sqlite3_wal_checkpoint_v2(s->c, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&s->clock);
	}
	pthread_mutex_unlock(&s->clock);
	return NULL;
}

/* The WAL hook of the writer connection, after each commit (with wlock held). */
static int
sqlite_wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	struct fb_store *s = ud;

	if (pages < FB_CHECKPOINT_PAGES)
		return SQLITE_OK;
	/*
	 * Under a steady stream of commits, PASSIVE checkpoints copy the WAL but never find it
	 * idle, so it never starts over and grows without bound (gigabytes a minute at full
	 * load). Past FB_WAL_RESTART_PAGES this commit, which holds wlock, runs a RESTART: it
	 * copies what the thread has not (little), waits for readers (busy_timeout) and makes
	 * the next commit start the WAL from its beginning. One commit in 64 MB of log waits.
	 */
	if (pages >= FB_WAL_RESTART_PAGES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&s->clock);
	s->cpending = true;
	pthread_cond_signal(&s->cwake);
	pthread_mutex_unlock(&s->clock);
	return SQLITE_OK;
}

static void
sqlite_close(struct fb_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->cstarted) {
		pthread_mutex_lock(&s->clock);
		s->cstop = true;
		pthread_cond_signal(&s->cwake);
		pthread_mutex_unlock(&s->clock);
		pthread_join(s->cthread, NULL);
	}
	sqlite3_close_v2(s->c);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (i = 0; i < RD_COUNT; i++)
		sqlite3_finalize(s->rd[i]);
	sqlite3_close_v2(s->r);
	sqlite3_close_v2(s->w);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->rlock);
	pthread_mutex_destroy(&s->clock);
	pthread_cond_destroy(&s->cwake);
	free(s->found);
	free(s);
}

/* The directory must exist and be writable: WAL mode creates -wal and -shm files beside. */
static int
sqlite_check_dir(const char *path, char *err, size_t err_len)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int e;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) == 0)
		return 0;
	e = errno;
	snprintf(err, err_len, "directory '%s' of database '%s' %s", dir, path,
		 e == ENOENT ? "does not exist" : "is not writable");
	return -e;
}

/*
 * Waiting for another connection's write lock: a try every SQLITE_BUSY_POLL_US until busy_ms
 * passed. SQLite's own handler sleeps 1, 2, 5, 10 ms and longer between tries, so a writer
 * that commits often (the fleet store's applier, sharing the file, in transactions of a few
 * milliseconds) takes the lock again before the sleeper looks, and a prediction log commit
 * that an answer waits for lost up to hundreds of milliseconds that way.
 */
#define SQLITE_BUSY_POLL_US 100

static int
sqlite_busy_poll(void *ud, int tries)
{
	static _Thread_local double since;
	double now = clocks_monotonic();

	if (tries == 0)
		since = now;
	if ((now - since) * 1000.0 >= (double)(intptr_t)ud)
		return 0;
	usleep(SQLITE_BUSY_POLL_US);
	return 1;
}

static int
sqlite_open_conn(const char *path, int busy_ms, sqlite3 **out, char *err, size_t err_len)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int rc;

	rc = sqlite3_open_v2(path, out, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database '%s': %s", path,
			 *out != NULL ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		return sqlite_errno(rc);
	}
	sqlite3_busy_handler(*out, sqlite_busy_poll, (void *)(intptr_t)busy_ms);
	sqlite3_extended_result_codes(*out, 1);
	return 0;
}

static int
sqlite_exec(sqlite3 *db, const char *path, const char *sql, char *err, size_t err_len)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	snprintf(err, err_len, "cannot set up database '%s': %s", path,
		 msg != NULL ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return sqlite_errno(rc);
}

/* WAL mode is a property of the file: check that the switch took. */
static int
sqlite_set_wal(sqlite3 *db, const char *path, char *err, size_t err_len)
{
	sqlite3_stmt *st = NULL;
	int rc;
	bool wal = false;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		wal = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (wal)
		return 0;
	snprintf(err, err_len, "cannot switch database '%s' to WAL mode: %s", path,
		 sqlite3_errmsg(db));
	return -EIO;
}

static int
sqlite_prepare_all(struct fb_store *s, const char *path, char *err, size_t err_len)
{
	size_t i;
	int rc;

	for (i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->w, fb_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->st[i], NULL);
		if (rc != SQLITE_OK)
			goto fail_w;
	}
	for (i = 0; i < RD_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->r, fb_read_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->rd[i], NULL);
		if (rc != SQLITE_OK)
			goto fail_r;
	}
	return 0;
fail_w:
	snprintf(err, err_len, "cannot prepare statements on '%s': %s", path,
		 sqlite3_errmsg(s->w));
	return sqlite_errno(rc);
fail_r:
	snprintf(err, err_len, "cannot prepare statements on '%s': %s", path,
		 sqlite3_errmsg(s->r));
	return sqlite_errno(rc);
}

static int
sqlite_schema_version(struct fb_store *s)
{
	sqlite3_stmt *st = NULL;
	int version = 0;

	if (sqlite3_prepare_v2(s->w, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
			       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* Table `predictions` (schema 2: one row per prediction) exists in the file. */
static bool
sqlite_has_row_table(struct fb_store *s)
{
	sqlite3_stmt *st = NULL;
	bool has = false;

	if (sqlite3_prepare_v2(s->w, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			       " AND name = 'predictions'", -1, &st, NULL) == SQLITE_OK)
		has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return has;
}

/*
 * Version 2 to 3, in the open transaction: each row of `predictions` becomes a segment of one
 * item with the row's id (so its prediction id is id * FB_SEGMENT_ID_SCALE, and the feedback
 * rows that name it follow), scored or not as it was; then the row table goes.
 */
static int
sqlite_migrate_2(struct fb_store *s, const char *path, char *err, size_t err_len)
{
	sqlite3_stmt *rd = NULL, *wr = NULL;
	unsigned char blob[FB_ITEM_BYTES];
	int rc = SQLITE_OK, r;

	if (sqlite_has_row_table(s)) {
		rc = sqlite3_prepare_v2(s->w, "SELECT id, unit, cycle, rul, model, version, ts,"
					" scored FROM predictions ORDER BY id", -1, &rd, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_prepare_v2(s->w, "INSERT INTO prediction_segments(id, unit,"
						" model, version, min_cycle, max_cycle, min_ts, max_ts,"
						" unscored, items) VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6,"
						" ?7, ?8)", -1, &wr, NULL);
		while (rc == SQLITE_OK && (rc = sqlite3_step(rd)) == SQLITE_ROW) {
			struct fb_item it = {
				.cycle = sqlite3_column_int64(rd, 2),
				.rul = sqlite3_column_double(rd, 3),
				.ts = sqlite3_column_double(rd, 6),
				.flags = sqlite3_column_int(rd, 7) ? FB_ITEM_SCORED : 0,
			};

			fb_item_encode(blob, &it);
			sqlite3_bind_int64(wr, 1, sqlite3_column_int64(rd, 0));
			sqlite3_bind_int64(wr, 2, sqlite3_column_int64(rd, 1));
			sqlite3_bind_value(wr, 3, sqlite3_column_value(rd, 4));
			sqlite3_bind_value(wr, 4, sqlite3_column_value(rd, 5));
			sqlite3_bind_int64(wr, 5, it.cycle);
			sqlite3_bind_double(wr, 6, it.ts);
			sqlite3_bind_int(wr, 7, it.flags ? 0 : 1);
			sqlite3_bind_blob(wr, 8, blob, sizeof(blob), SQLITE_STATIC);
			rc = sqlite3_step(wr);
			sqlite3_reset(wr);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		sqlite3_finalize(rd);
		sqlite3_finalize(wr);
		if (rc != SQLITE_DONE) {
			snprintf(err, err_len, "cannot convert the prediction log of '%s': %s", path,
				 sqlite3_errmsg(s->w));
			return sqlite_errno(rc);
		}
		r = sqlite_exec(s->w, path, fb_migrate_2_rows, err, err_len);
		if (r < 0)
			return r;
	}
	return sqlite_exec(s->w, path, "UPDATE meta SET value = '3' WHERE key = 'schema_version';",
			   err, err_len);
}

/* Create what is missing and bring an older file to version 3, in the open transaction. */
static int
sqlite_create_schema(struct fb_store *s, const char *path, char *err, size_t err_len)
{
	int r;

	r = sqlite_exec(s->w, path, fb_schema, err, err_len);
	if (r == 0 && sqlite_schema_version(s) == 1)
		r = sqlite_exec(s->w, path, fb_migrate_1, err, err_len);
	if (r == 0 && sqlite_schema_version(s) == 2)
		r = sqlite_migrate_2(s, path, err, err_len);
	return r;
}

/* Refuse a file written by a newer schema rather than misread it. */
static int
sqlite_check_schema(struct fb_store *s, const char *path, char *err, size_t err_len)
{
	int version = sqlite_schema_version(s);

	if (version == FB_SCHEMA_VERSION)
		return 0;
	snprintf(err, err_len, "database '%s' has schema version %d, this plugin knows %d", path,
		 version, FB_SCHEMA_VERSION);
	return -EPROTO;
}

static int
sqlite_start_checkpointer(struct fb_store *s, const char *path, int busy_ms, char *err,
			  size_t err_len)
{
	int r;

	r = sqlite_open_conn(path, busy_ms, &s->c, err, err_len);
	if (r < 0)
		return r;
	/* A connection opens the WAL on its first read; until then a checkpoint on it is a no-op
	 * and the WAL grows without bound under load (gigabytes a minute). */
	r = sqlite_exec(s->c, path, "SELECT count(*) FROM sqlite_master", err, err_len);
	if (r < 0)
		return r;
	r = pthread_create(&s->cthread, NULL, sqlite_checkpointer, s);
	if (r != 0) {
		snprintf(err, err_len, "cannot start the checkpoint thread of '%s'", path);
		return -r;
	}
	s->cstarted = true;
	sqlite3_wal_hook(s->w, sqlite_wal_hook, s); /* replaces the automatic checkpoint */
	return 0;
}

static int
sqlite_open(const char *path, const struct fb_store_config *cfg, struct fb_store **out,
	    char *err, size_t err_len)
{
	struct fb_store *s;
	int r;

	*out = NULL;
	r = sqlite_check_dir(path, err, err_len);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_mutex_init(&s->clock, NULL);
	pthread_cond_init(&s->cwake, NULL);
	s->rul_cap = cfg->rul_cap;
	s->found = malloc(sizeof(*s->found));
	if (s->found == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	r = sqlite_open_conn(path, cfg->busy_timeout_ms, &s->w, err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_set_wal(s->w, path, err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_exec(s->w, path, "PRAGMA synchronous=FULL;", err, err_len);
	if (r < 0)
		goto fail;
	/* The write lock only when there is something to create or migrate: on a reload the
	 * old instance's log writer holds it most of the time, and waiting for it would stall
	 * the reload for seconds under load. */
	if (sqlite_schema_version(s) != FB_SCHEMA_VERSION) {
		r = sqlite_exec(s->w, path, "BEGIN IMMEDIATE;", err, err_len);
		if (r < 0)
			goto fail;
		r = sqlite_create_schema(s, path, err, err_len);
		if (r == 0)
			r = sqlite_exec(s->w, path, "COMMIT", err, err_len);
		if (r < 0) {
			sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
	r = sqlite_check_schema(s, path, err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_open_conn(path, cfg->busy_timeout_ms, &s->r, err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_exec(s->r, path, "PRAGMA query_only=1", err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_prepare_all(s, path, err, err_len);
	if (r < 0)
		goto fail;
	r = sqlite_start_checkpointer(s, path, cfg->busy_timeout_ms, err, err_len);
	if (r < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sqlite_close(s);
	return r;
}

/* ---- writes ---------------------------------------------------------------------------- */

/* Insert one feedback row and remember it for the caller (and for the totals). */
static int
sqlite_score(struct fb_store *s, struct fb_scored_list *l, int64_t unit, int64_t cycle,
	     double predicted, double actual, const char *model, const char *source,
	     sqlite3_int64 prediction_id, double ts)
{
	sqlite3_stmt *st = s->st[ST_INSERT_FEEDBACK];
	struct fb_scored *out;
	int r;

	sqlite3_bind_int64(st, 1, unit);
	sqlite3_bind_int64(st, 2, cycle);
	sqlite3_bind_double(st, 3, predicted);
	sqlite3_bind_double(st, 4, actual);
	sqlite3_bind_text(st, 5, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, source, -1, SQLITE_STATIC);
	if (prediction_id > 0)
		sqlite3_bind_int64(st, 7, prediction_id);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_double(st, 8, ts);
	r = sqlite_exec_stmt(st);
	if (r < 0)
		return r;
	out = fb_scored_push(l);
	if (out == NULL)
		return -ENOMEM;
	out->unit = unit;
	out->cycle = cycle;
	out->predicted = predicted;
	out->actual = actual;
	snprintf(out->model, sizeof(out->model), "%s", model);
	return 0;
}

/* Add a group's scored records to the totals: one upsert per model, not per record. */
static int
sqlite_add_totals(struct fb_store *s, const struct fb_scored_list *l)
{
	sqlite3_stmt *st = s->st[ST_UPSERT_TOTALS];
	bool *done;
	size_t i, j;
	int r = 0;

	if (l->count == 0)
		return 0;
	done = calloc(l->count, sizeof(*done));
	if (done == NULL)
		return -ENOMEM;
	for (i = 0; i < l->count && r == 0; i++) {
		double sq = 0, ab = 0, nasa = 0;
		int64_t n = 0;

		if (done[i])
			continue;
		for (j = i; j < l->count; j++) {
			struct fb_terms t;

			if (done[j] || strcmp(l->items[j].model, l->items[i].model) != 0)
				continue;
			t = fb_terms_of(l->items[j].predicted, l->items[j].actual, s->rul_cap);
			sq += t.squared;
			ab += t.absolute;
			nasa += t.nasa;
			n++;
			done[j] = true;
		}
		sqlite3_bind_text(st, 1, l->items[i].model, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, n);
		sqlite3_bind_double(st, 3, sq);
		sqlite3_bind_double(st, 4, ab);
		sqlite3_bind_double(st, 5, nasa);
		r = sqlite_exec_stmt(st);
	}
	free(done);
	return r;
}

static sqlite3_int64
found_id(const struct fb_found *f)
{
	return fb_segment_prediction_id(f->segment, f->index);
}

/* The latest logged prediction of (unit, cycle), of model when not "", not yet scored when
 * unscored_only. f->segment is 0 when there is none. */
static int
sqlite_find_latest(struct fb_store *s, int64_t unit, int64_t cycle, const char *model,
		   bool unscored_only, struct fb_found *f)
{
	sqlite3_stmt *st = s->st[unscored_only ? ST_SEG_UNSCORED_OF_CYCLE : ST_SEG_OF_CYCLE];
	int rc;

	f->segment = 0;
	sqlite3_bind_int64(st, 1, unit);
	sqlite3_bind_int64(st, 2, cycle);
	sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
	while (f->segment == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *b = sqlite3_column_blob(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2), n = len / FB_ITEM_BYTES, i;

		if (len > sizeof(f->blob))
			continue; /* not written by this store */
		for (i = n; i-- > 0;) {
			struct fb_item it = fb_item_decode(b + i * FB_ITEM_BYTES);

			if (it.cycle != cycle || (unscored_only && (it.flags & FB_ITEM_SCORED)))
				continue;
			f->segment = sqlite3_column_int64(st, 0);
			f->index = i;
			f->scored = (it.flags & FB_ITEM_SCORED) != 0;
			f->rul = it.rul;
			sqlite_copy_text(f->model, sizeof(f->model), st, 1);
			memcpy(f->blob, b, len);
			f->blob_len = len;
			break;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (f->segment != 0)
		return 0;
	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

/* Write a segment's items back with `newly` more of them scored. */
static int
sqlite_rewrite_segment(struct fb_store *s, sqlite3_int64 segment, const unsigned char *blob,
		       size_t len, size_t newly)
{
	sqlite3_stmt *st = s->st[ST_SEG_REWRITE];

	sqlite3_bind_int64(st, 1, segment);
	sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)newly);
	return sqlite_exec_stmt(st);
}

/* Mark the found prediction scored (again is harmless). */
static int
sqlite_mark_found(struct fb_store *s, struct fb_found *f)
{
	fb_item_mark(f->blob, f->index);
	return sqlite_rewrite_segment(s, f->segment, f->blob, f->blob_len, f->scored ? 0 : 1);
}

/*
 * A record with its own prediction. It scores the latest not yet scored logged prediction
 * of (unit, cycle) (of the posted model, when one is): that one is marked, so that a failure
 * event later does not count it a second time. The model: the posted one, else the marked
 * prediction's, else the latest logged prediction's of (unit, cycle), else "unknown".
 */
static int
sqlite_apply_scored(struct fb_store *s, const struct fb_record *rec, double ts,
		    struct fb_scored_list *l)
{
	char model[FB_MODEL_MAX];
	sqlite3_int64 id = 0;
	int r;

	snprintf(model, sizeof(model), "%s", rec->model[0] ? rec->model : "unknown");
	r = sqlite_find_latest(s, rec->unit, rec->cycle, rec->model, true, s->found);
	if (r < 0)
		return r;
	if (s->found->segment != 0) {
		id = found_id(s->found);
		snprintf(model, sizeof(model), "%s", s->found->model);
		r = sqlite_mark_found(s, s->found);
		if (r < 0)
			return r;
	} else if (rec->model[0] == 0) {
		r = sqlite_find_latest(s, rec->unit, rec->cycle, "", false, s->found);
		if (r < 0)
			return r;
		if (s->found->segment != 0)
			snprintf(model, sizeof(model), "%s", s->found->model);
	}
	return sqlite_score(s, l, rec->unit, rec->cycle, rec->predicted, rec->actual, model,
			    "posted", id, ts);
}

/* A record without prediction: the latest logged prediction of (unit, cycle[, model]). */
static int
sqlite_apply_match(struct fb_store *s, const struct fb_record *rec, double ts,
		   struct fb_scored_list *l)
{
	struct fb_found *f = s->found;
	int r;

	r = sqlite_find_latest(s, rec->unit, rec->cycle, rec->model, false, f);
	if (r < 0)
		return r;
	if (f->segment == 0)
		return -ENOENT;
	r = sqlite_mark_found(s, f);
	if (r < 0)
		return r;
	return sqlite_score(s, l, rec->unit, rec->cycle, f->rul, rec->actual, f->model, "matched",
			    found_id(f), ts);
}

/* A segment a failure event scores items of: its items as rewritten, how many newly. */
struct fb_touched {
	sqlite3_int64 segment;
	unsigned char *blob;
	size_t len;
	size_t newly;
};

/* A failure event: every unscored logged prediction of the unit up to the failure cycle,
 * made before the event arrived (one made after is of a new life of the unit number), is
 * scored with actual = failed_at - cycle, and marked, so that a second event (or the same
 * unit number reused by another fleet later) cannot score it again. The segments are read
 * first and rewritten after, never while the select still walks the index it would change.
 * The event is kept with its model: predictions of the unit that reach the log after it are
 * scored against it there (sqlite_log_segment). */
static int
sqlite_apply_failure(struct fb_store *s, const struct fb_record *rec, double ts,
		     struct fb_scored_list *l)
{
	sqlite3_stmt *st = s->st[ST_SEG_FAILURE];
	struct fb_scored_list rows = { 0 };
	struct fb_touched *seg = NULL, *nseg;
	sqlite3_int64 *ids = NULL, *nids;
	size_t i, nseg_count = 0, n = 0;
	int rc, r = 0;

	sqlite3_bind_int64(st, 1, rec->unit);
	sqlite3_bind_int64(st, 2, rec->failed_at);
	sqlite3_bind_double(st, 3, ts);
	sqlite3_bind_text(st, 4, rec->model, -1, SQLITE_STATIC);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *b = sqlite3_column_blob(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2), k;
		struct fb_touched *t;

		nseg = realloc(seg, (nseg_count + 1) * sizeof(*seg));
		if (nseg == NULL) {
			r = -ENOMEM;
			break;
		}
		seg = nseg;
		t = &seg[nseg_count];
		t->segment = sqlite3_column_int64(st, 0);
		t->len = len;
		t->newly = 0;
		t->blob = malloc(len > 0 ? len : 1);
		if (t->blob == NULL) {
			r = -ENOMEM;
			break;
		}
		memcpy(t->blob, b, len);
		nseg_count++;
		for (k = 0; k < len / FB_ITEM_BYTES; k++) {
			struct fb_item it = fb_item_decode(t->blob + k * FB_ITEM_BYTES);
			struct fb_scored *row;

			if ((it.flags & FB_ITEM_SCORED) || it.cycle > rec->failed_at || it.ts > ts)
				continue;
			row = fb_scored_push(&rows);
			nids = realloc(ids, rows.cap * sizeof(*ids));
			if (row == NULL || nids == NULL) {
				ids = nids != NULL ? nids : ids;
				r = -ENOMEM;
				break;
			}
			ids = nids;
			ids[n++] = fb_segment_prediction_id(t->segment, k);
			row->unit = rec->unit;
			row->cycle = it.cycle;
			row->predicted = it.rul;
			sqlite_copy_text(row->model, sizeof(row->model), st, 1);
			fb_item_mark(t->blob, k);
			t->newly++;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sqlite_errno(rc);
	for (i = 0; i < nseg_count && r == 0; i++)
		if (seg[i].newly > 0)
			r = sqlite_rewrite_segment(s, seg[i].segment, seg[i].blob, seg[i].len,
						   seg[i].newly);
	for (i = 0; i < n && r == 0; i++)
		r = sqlite_score(s, l, rec->unit, rows.items[i].cycle, rows.items[i].predicted,
				 (double)(rec->failed_at - rows.items[i].cycle),
				 rows.items[i].model, "failure", ids[i], ts);
	for (i = 0; i < nseg_count; i++)
		free(seg[i].blob);
	free(seg);
	free(ids);
	free(rows.items);
	if (r < 0)
		return r;
	st = s->st[ST_INSERT_FAILURE];
	sqlite3_bind_int64(st, 1, rec->unit);
	sqlite3_bind_int64(st, 2, rec->failed_at);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)n);
	sqlite3_bind_double(st, 4, ts);
	sqlite3_bind_text(st, 5, rec->model, -1, SQLITE_STATIC);
	return sqlite_exec_stmt(st);
}

static int
sqlite_apply_group(struct fb_store *s, struct fb_group *g)
{
	struct fb_scored_list l = { 0 };
	size_t i;
	int r;

	r = sqlite_run(s, ST_SAVEPOINT);
	if (r < 0)
		return r;
	for (i = 0; i < g->count && r == 0; i++) {
		const struct fb_record *rec = &g->records[i];

		switch (rec->kind) {
		case FB_RECORD_SCORED:
			r = sqlite_apply_scored(s, rec, g->received_at, &l);
			break;
		case FB_RECORD_MATCH:
			r = sqlite_apply_match(s, rec, g->received_at, &l);
			break;
		case FB_RECORD_FAILURE:
			r = sqlite_apply_failure(s, rec, g->received_at, &l);
			break;
		default:
			r = -EINVAL;
			break;
		}
		if (r < 0)
			g->err_index = i;
	}
	if (r == 0)
		r = sqlite_add_totals(s, &l);
	if (r < 0) {
		sqlite_run(s, ST_ROLLBACK_TO);
		sqlite_run(s, ST_RELEASE);
		free(l.items);
		return r;
	}
	r = sqlite_run(s, ST_RELEASE);
	if (r < 0) {
		free(l.items);
		return r;
	}
	g->scored = l.items;
	g->scored_count = l.count;
	return 0;
}

static void
sqlite_fail_groups(struct fb_group *groups, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (groups[i].status == 0)
			groups[i].status = r;
		free(groups[i].scored);
		groups[i].scored = NULL;
		groups[i].scored_count = 0;
	}
}

static int
sqlite_apply(struct fb_store *s, struct fb_group *groups, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		groups[i].status = 0;
		groups[i].scored = NULL;
		groups[i].scored_count = 0;
	}
	pthread_mutex_lock(&s->wlock);
	r = sqlite_run(s, ST_BEGIN);
	if (r < 0)
		goto fail;
	for (i = 0; i < n; i++)
		groups[i].status = sqlite_apply_group(s, &groups[i]);
	r = sqlite_run(s, ST_COMMIT);
	if (r < 0) {
		sqlite_run(s, ST_ROLLBACK);
		goto fail;
	}
	pthread_mutex_unlock(&s->wlock);
	return 0;
fail:
	pthread_mutex_unlock(&s->wlock);
	sqlite_fail_groups(groups, n, r);
	return r;
}

/* The failure event that scores a prediction logged after it: the first one recorded for
 * the unit (and the prediction's model, or every model) at or after the time the prediction
 * was made, whose failure cycle is not before the prediction's. *id is 0 when none. */
static int
sqlite_failure_of(struct fb_store *s, const struct fb_logged *p, sqlite3_int64 *id,
		  int64_t *failed_at, double *failed_ts)
{
	sqlite3_stmt *st = s->st[ST_FAILURE_OF];
	int rc;

	*id = 0;
	sqlite3_bind_int64(st, 1, p->unit);
	sqlite3_bind_int64(st, 2, p->cycle);
	sqlite3_bind_double(st, 3, p->timestamp);
	sqlite3_bind_text(st, 4, p->model, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*failed_at = sqlite3_column_int64(st, 1);
		*failed_ts = sqlite3_column_double(st, 2);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

/* Whether a failure event recorded for the unit might score one of a segment's predictions
 * (made at or after min_ts, cycle at least min_cycle, of model): one probe per segment, so
 * that the per-prediction look-up runs only for the units that failed. */
static int
sqlite_any_failure(struct fb_store *s, int64_t unit, int64_t min_cycle, double min_ts,
		   const char *model, bool *any)
{
	sqlite3_stmt *st = s->st[ST_ANY_FAILURE];
	int rc;

	sqlite3_bind_int64(st, 1, unit);
	sqlite3_bind_int64(st, 2, min_cycle);
	sqlite3_bind_double(st, 3, min_ts);
	sqlite3_bind_text(st, 4, model, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*any = rc == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

/* A prediction of the segment being written that a recorded failure event scores. */
struct fb_late_item {
	size_t index;
	sqlite3_int64 failure;
	int64_t failed_at;
	double failed_ts;
};

/*
 * Store predictions p[order[0..n)] (one unit, model and version, in log order, n at most
 * FB_SEGMENT_MAX) as one segment. One whose unit's failure event is recorded already (the log
 * is written after the answer, the event may overtake it) is scored now, as the event would
 * have scored it: source "failure_late", in the same transaction.
 */
static int
sqlite_log_segment(struct fb_store *s, const struct fb_logged *p, const size_t *order,
		   size_t n, struct fb_scored_list *l)
{
	const struct fb_logged *first = &p[order[0]];
	struct fb_late_item late[FB_SEGMENT_MAX];
	unsigned char *blob = s->found->blob;
	int64_t min_cycle = first->cycle, max_cycle = first->cycle;
	double min_ts = first->timestamp, max_ts = first->timestamp;
	sqlite3_stmt *st = s->st[ST_INSERT_SEGMENT];
	sqlite3_int64 segment;
	size_t i, late_count = 0;
	bool any;
	int r;

	for (i = 1; i < n; i++) {
		const struct fb_logged *q = &p[order[i]];

		min_cycle = q->cycle < min_cycle ? q->cycle : min_cycle;
		max_cycle = q->cycle > max_cycle ? q->cycle : max_cycle;
		min_ts = q->timestamp < min_ts ? q->timestamp : min_ts;
		max_ts = q->timestamp > max_ts ? q->timestamp : max_ts;
	}
	r = sqlite_any_failure(s, first->unit, min_cycle, min_ts, first->model, &any);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		const struct fb_logged *q = &p[order[i]];
		struct fb_item it = { .cycle = q->cycle, .rul = q->rul, .ts = q->timestamp };
		struct fb_late_item *lt = &late[late_count];

		if (any) {
			r = sqlite_failure_of(s, q, &lt->failure, &lt->failed_at, &lt->failed_ts);
			if (r < 0)
				return r;
			if (lt->failure > 0) {
				lt->index = i;
				late_count++;
				it.flags = FB_ITEM_SCORED;
			}
		}
		fb_item_encode(blob + i * FB_ITEM_BYTES, &it);
	}
	sqlite3_bind_int64(st, 1, first->unit);
	sqlite3_bind_text(st, 2, first->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, first->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, min_cycle);
	sqlite3_bind_int64(st, 5, max_cycle);
	sqlite3_bind_double(st, 6, min_ts);
	sqlite3_bind_double(st, 7, max_ts);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)(n - late_count));
	sqlite3_bind_blob(st, 9, blob, (int)(n * FB_ITEM_BYTES), SQLITE_STATIC);
	r = sqlite_exec_stmt(st);
	if (r < 0)
		return r;
	segment = sqlite3_last_insert_rowid(s->w);
	for (i = 0; i < late_count && r == 0; i++) {
		const struct fb_logged *q = &p[order[late[i].index]];

		r = sqlite_score(s, l, q->unit, q->cycle, q->rul,
				 (double)(late[i].failed_at - q->cycle), q->model, "failure_late",
				 fb_segment_prediction_id(segment, late[i].index),
				 late[i].failed_ts);
		if (r == 0) {
			st = s->st[ST_COUNT_FAILURE];
			sqlite3_bind_int64(st, 1, late[i].failure);
			r = sqlite_exec_stmt(st);
		}
	}
	return r;
}

/* Same unit, model and version: the predictions that may share a segment. */
static bool
logged_same_key(const struct fb_logged *a, const struct fb_logged *b)
{
	return a->unit == b->unit && (a->model == b->model || strcmp(a->model, b->model) == 0) &&
	       (a->version == b->version || strcmp(a->version, b->version) == 0);
}

/* qsort of the log's order by (unit, model, version), then position: each key's
 * predictions together, in the order they were logged. */
static const struct fb_logged *logged_sort_base;

static int
logged_order_cmp(const void *x, const void *y)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct fb_logged *a = &logged_sort_base[i], *b = &logged_sort_base[j];
	int c;

	if (a->unit != b->unit)
		return a->unit < b->unit ? -1 : 1;
	c = a->model == b->model ? 0 : strcmp(a->model, b->model);
	if (c == 0)
		c = a->version == b->version ? 0 : strcmp(a->version, b->version);
	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

/* Take out of order[0..*n) the repeats whose prediction the log has already: the latest
 * logged one of their unit, cycle and model has their RUL (store.h). */
static int
sqlite_drop_logged_repeats(struct fb_store *s, const struct fb_logged *p, size_t *order,
			   size_t *n)
{
	size_t i, k = 0;
	int r = 0;

	for (i = 0; i < *n && r == 0; i++) {
		const struct fb_logged *q = &p[order[i]];

		if (q->repeat) {
			r = sqlite_find_latest(s, q->unit, q->cycle, q->model, false, s->found);
			if (r == 0 && s->found->segment != 0 && s->found->rul == q->rul)
				continue;
		}
		order[k++] = order[i];
	}
	if (r == 0)
		*n = k;
	return r;
}

/* One segment per unit, model and version in the batch (more past FB_SEGMENT_MAX each), all in
 * one transaction: the cost follows the units in a drain, not its predictions. */
static int
sqlite_log_predictions(struct fb_store *s, const struct fb_logged *p, size_t n)
{
	struct fb_scored_list l = { 0 };
	size_t *order, i, j;
	int r;

	if (n == 0)
		return 0;
	order = malloc(n * sizeof(*order));
	if (order == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		order[i] = i;
	pthread_mutex_lock(&s->wlock);
	logged_sort_base = p; /* under wlock: one sort at a time */
	qsort(order, n, sizeof(*order), logged_order_cmp);
	r = sqlite_synchronous(s, "NORMAL"); /* see "Durability" above */
	if (r == 0)
		r = sqlite_run(s, ST_BEGIN);
	if (r < 0)
		goto out;
	r = sqlite_drop_logged_repeats(s, p, order, &n);
	for (i = 0; i < n && r == 0; i = j) {
		for (j = i + 1; j < n && j - i < FB_SEGMENT_MAX &&
				logged_same_key(&p[order[i]], &p[order[j]]);
		     j++)
			;
		r = sqlite_log_segment(s, p, order + i, j - i, &l);
	}
	if (r == 0)
		r = sqlite_add_totals(s, &l);
	if (r == 0)
		r = sqlite_run(s, ST_COMMIT);
	if (r < 0)
		sqlite_run(s, ST_ROLLBACK);
out:
	/* back to FULL before the lock goes: ground truth commits on this connection too */
	if (sqlite_synchronous(s, "FULL") < 0 && r == 0)
		r = -EIO;
	pthread_mutex_unlock(&s->wlock);
	free(order);
	free(l.items);
	return r;
}

/* Delete up to limit segments whose predictions were all made before `before`. */
static int
sqlite_expire_predictions(struct fb_store *s, double before, size_t limit, size_t *deleted)
{
	sqlite3_stmt *st = s->st[ST_EXPIRE];
	int r;

	*deleted = 0;
	pthread_mutex_lock(&s->wlock);
	sqlite3_bind_double(st, 1, before);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	r = sqlite_exec_stmt(st);
	if (r == 0)
		*deleted = (size_t)sqlite3_changes(s->w);
	pthread_mutex_unlock(&s->wlock);
	return r;
}

/* ---- reads ----------------------------------------------------------------------------- */

/*
 * The end of a read that stepped st to the end or until the callback said stop: the
 * callback's verdict r, else the last step's rc (SQLITE_DONE is success); st reset, unbound.
 */
static int
sqlite_read_end(sqlite3_stmt *st, int rc, int r)
{
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlite_errno(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

static int
sqlite_lookup(struct fb_store *s, int64_t unit, int64_t cycle, fb_logged_fn fn, void *ud)
{
	sqlite3_stmt *st = s->rd[RD_LOOKUP];
	struct fb_logged p;
	int rc, r = 0;

	pthread_mutex_lock(&s->rlock);
	sqlite3_bind_int64(st, 1, unit);
	sqlite3_bind_int64(st, 2, cycle);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *b;

		p.unit = unit;
		p.model = (const char *)sqlite3_column_text(st, 0);
		p.version = (const char *)sqlite3_column_text(st, 1);
		b = sqlite3_column_blob(st, 2); /* after the text columns: a blob pointer stays */
		r = fb_segment_each_logged(b, (size_t)sqlite3_column_bytes(st, 2), cycle, &p, fn, ud);
	}
	r = sqlite_read_end(st, rc, r);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

static int
sqlite_totals(struct fb_store *s, fb_totals_fn fn, void *ud)
{
	sqlite3_stmt *st = s->rd[RD_TOTALS];
	struct fb_totals t;
	int rc, r = 0;

	pthread_mutex_lock(&s->rlock);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite_copy_text(t.model, sizeof(t.model), st, 0);
		t.count = (uint64_t)sqlite3_column_int64(st, 1);
		t.squared_error_sum = sqlite3_column_double(st, 2);
		t.abs_error_sum = sqlite3_column_double(st, 3);
		t.nasa_score = sqlite3_column_double(st, 4);
		r = fn(ud, &t);
	}
	r = sqlite_read_end(st, rc, r);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

/*
 * Hand fn every row of st (bound; the caller holds the read lock) as a scored record: unit,
 * cycle, predicted, actual, model from column 1 on; column 0, the row id, goes to *after.
 * Shared by the recent-feedback and the late-failure reads, which differ only in the query.
 */
static int
sqlite_scored_rows(sqlite3_stmt *st, int64_t *after, fb_scored_fn fn, void *ud)
{
	struct fb_scored sc;
	int rc, r = 0;

	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*after = sqlite3_column_int64(st, 0);
		sc.unit = sqlite3_column_int64(st, 1);
		sc.cycle = sqlite3_column_int64(st, 2);
		sc.predicted = sqlite3_column_double(st, 3);
		sc.actual = sqlite3_column_double(st, 4);
		sqlite_copy_text(sc.model, sizeof(sc.model), st, 5);
		r = fn(ud, &sc);
	}
	return sqlite_read_end(st, rc, r);
}

static int
sqlite_recent(struct fb_store *s, const char *model, int64_t upto, size_t limit,
	      fb_scored_fn fn, void *ud)
{
	sqlite3_stmt *st = s->rd[model != NULL ? RD_RECENT_MODEL : RD_RECENT];
	int64_t id;
	int r;

	pthread_mutex_lock(&s->rlock);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	if (model != NULL)
		sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, upto);
	r = sqlite_scored_rows(st, &id, fn, ud);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

static int
sqlite_last_id(struct fb_store *s, int64_t *out)
{
	sqlite3_stmt *st = s->rd[RD_LAST_ID];
	int rc;

	pthread_mutex_lock(&s->rlock);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->rlock);
	return rc == SQLITE_ROW ? 0 : sqlite_errno(rc);
}

static int
sqlite_late(struct fb_store *s, int64_t *after, size_t limit, fb_scored_fn fn, void *ud)
{
	sqlite3_stmt *st = s->rd[RD_LATE];
	int r;

	pthread_mutex_lock(&s->rlock);
	sqlite3_bind_int64(st, 1, *after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	r = sqlite_scored_rows(st, after, fn, ud);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

sqlite3 *
fb_sqlite_writer(struct fb_store *s)
{
	return s->w;
}

const struct fb_store_ops fb_store_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.apply = sqlite_apply,
	.log_predictions = sqlite_log_predictions,
	.expire_predictions = sqlite_expire_predictions,
	.lookup = sqlite_lookup,
	.totals = sqlite_totals,
	.recent = sqlite_recent,
	.last_id = sqlite_last_id,
	.late = sqlite_late,
	.close = sqlite_close,
};
