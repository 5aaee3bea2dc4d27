/* SPDX-License-Identifier: MIT */
/* fleet_store_sqlite.c - the engines' windows and histories in SQLite (WAL, synchronous=FULL),
 * committed first to a journal (fleet_journal.c) and applied to the tables behind. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fleet_coalesce.h"
#include "fleet_journal.h"
#include "fleet_ring.h"
#include "fleet_store.h"

/*
 * Durability as the feedback store (plugins/feedback/store_sqlite.c): WAL with
 * synchronous=FULL, so a COMMIT that returned is on stable storage; one fsync per
 * transaction, spread by the group commit (fleet_commit.c) over every request waiting.
 *
 * Two tables, written in the same transaction:
 * - fleet_slots: the engines' rings, one row per ring slot (unit, pos): the cycle in it as
 *   FLEET_SLOT native doubles (the cycle number, the raw inputs), with the prediction, model
 *   and time of the request that wrote it (a restart takes them from the newest cycle). An
 *   accepted cycle rewrites the one slot it fills, in place: its row of about 240 bytes, a
 *   leaf page of the engine's rows (an engine's 30 rows span two pages), where version 2
 *   rewrote the engine's whole 6 KB window row (a leaf and two overflow pages) every time.
 *   A restart scans the table in key order, engine after engine. Schema version 3.
 * - fleet_cycles: one row per accepted cycle of the engine's current life with its
 *   prediction, for GET /v1/engines/{unit}. Its column inputs is NULL in rows written since
 *   version 2; in version 1 the cycles in the window kept their inputs there and a restart
 *   read every such row (30 per engine) through a partial index.
 * Versions 1 and 2 (fleet_windows: one row per engine holding its window in one BLOB) are
 * migrated when the store opens. Ending a life deletes the unit's rows of both tables. The failure events are the feedback
 * plugin's table "failures" when both plugins use the same file; the fleet keeps its cursor
 * and the schema version in fleet_meta.
 *
 * Two connections: w (the applier thread, and the timer for the cursor) and r (readers,
 * under rlock).
 *
 * The commit: apply() encodes its writes as one record of the journal beside the file
 * (<database>-fleet-journal-<n>) and returns once that record is on stable storage: an
 * append and one fdatasync, where a durable SQLite transaction writes and syncs a B-tree
 * page per engine touched and, every few commits, a checkpoint. The applier thread then
 * writes the records into the tables coalesced over seconds (fleet_coalesce.h: sorted by
 * engine, superseded rows dropped; synchronous=FULL still), after which their journal files
 * go. open() applies whatever journal a crash left, the same way, before it loads; readers (history, window) wait until what was committed before them is applied, so
 * they read the tables as if every commit had gone there directly. A database that is not a
 * plain path (":memory:", a "file:" URI) is written directly, without a journal.
 */

#define SCHEMA_VERSION 3

static const char fleet_schema[] =
	"CREATE TABLE IF NOT EXISTS fleet_cycles("
	" unit INTEGER NOT NULL, cycle INTEGER NOT NULL, inputs BLOB, rul REAL NOT NULL,"
	" model TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL,"
	" PRIMARY KEY(unit, cycle)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS fleet_slots("
	" unit INTEGER NOT NULL, pos INTEGER NOT NULL, slot BLOB NOT NULL, rul REAL NOT NULL,"
	" model TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL,"
	" PRIMARY KEY(unit, pos)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS fleet_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* Version 2's table of windows, which the migrations pass through. */
static const char fleet_windows_v2[] =
	"CREATE TABLE IF NOT EXISTS fleet_windows("
	" unit INTEGER PRIMARY KEY, last_cycle INTEGER NOT NULL, window BLOB NOT NULL,"
	" rul REAL NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL);";
static const char put_window_v2[] =
	"INSERT OR REPLACE INTO fleet_windows(unit, last_cycle, window, rul, model, version, ts)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_SLOT,
	ST_FORGET,
	ST_FORGET_SLOTS,
	ST_SET_CURSOR,
	ST_COUNT,
};

static const char *const st_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = "INSERT OR REPLACE INTO fleet_cycles(unit, cycle, inputs, rul, model, version,"
		      " ts) VALUES(?1, ?2, NULL, ?3, ?4, ?5, ?6)",
	[ST_SLOT] = "INSERT OR REPLACE INTO fleet_slots(unit, pos, slot, rul, model, version, ts)"
		    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_FORGET] = "DELETE FROM fleet_cycles WHERE unit = ?1",
	[ST_FORGET_SLOTS] = "DELETE FROM fleet_slots WHERE unit = ?1",
	[ST_SET_CURSOR] = "INSERT OR REPLACE INTO fleet_meta(key, value)"
			  " VALUES('failure_cursor', ?1)",
};

/* A journal record waiting for the applier (its bytes as appended). */
struct pending {
	struct pending *next;
	uint64_t seq;
	size_t len, cycles;
	unsigned char data[];
};

/*
 * The applier gathers records for APPLY_GATHER_MS, or until APPLY_BATCH_CYCLES cycles wait, or
 * a reader wants them, and writes them coalesced (fleet_coalesce.h): the longer it gathers,
 * the more of an engine's cycles share its pages. Alternated runs of 20 s streaming batches of
 * 256 to 16,384 known engines (docs/BENCHMARKS.md, "The applier"): 33,000 engine-cycles/s
 * with the records written as they came, 1,024 cycles a transaction; 77,000 coalesced over
 * 262,144 cycles or 3 s, 90,000 over 524,288 or 5 s (twice the memory). The batch goes to the tables in transactions of about APPLY_TXN_OPS rows with a
 * pause between, so that the feedback plugin's prediction log, which may share the file and
 * which an answer waits for, gets the write lock between them.
 */
#define APPLY_BATCH_CYCLES 262144
#define APPLY_GATHER_MS 3000
#define APPLY_TXN_OPS 4096
#define APPLY_TXN_PAUSE_US 200
/* Journaled bytes not yet applied, past which a commit waits for the applier (memory): room
 * for the batch being written and the next one gathering, at about 300 bytes a cycle. */
#define APPLY_MAX_PENDING_BYTES (256u << 20)

struct sqlite_store {
	struct fleet_store base; /* first: the vtable */
	sqlite3 *w, *r;
	pthread_mutex_t wlock, rlock;
	sqlite3_stmt *st[ST_COUNT];
	char *path;
	/* the journal and its applier; journal NULL: apply() writes the tables directly */
	struct fleet_journal *journal;
	pthread_t applier;
	bool applier_started, stop;
	pthread_mutex_t qlock; /* the queue, its counts, applied, apply_err, stop */
	pthread_cond_t queued, progress;
	struct pending *head, **tail;
	size_t pending_bytes, pending_cycles;
	uint64_t queued_seq, applied_seq;
	int apply_err; /* the applier's last failure, 0 once it applied again */
};

static int journal_start(struct sqlite_store *s, char *err, size_t err_len);
static uint64_t applier_stop(struct sqlite_store *s);

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
store_conn(const char *path, int timeout_ms, sqlite3 **out, char *err, size_t err_len)
{
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					    SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database '%s': %s", path,
			 *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		return store_errno(rc);
	}
	sqlite3_busy_timeout(*out, timeout_ms);
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

static void
sq_close(struct fleet_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	size_t i;

	if (s == NULL)
		return;
	/* what is journaled goes into the tables first; the journal goes once it is all there */
	fleet_journal_close(s->journal, applier_stop(s));
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->w);
	sqlite3_close(s->r);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->rlock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->queued);
	pthread_cond_destroy(&s->progress);
	free(s->path);
	free(s);
}

/* ---- schema versions ------------------------------------------------------------------------- */

/* fleet_meta's schema_version, 1 when absent (the files written before it was kept). */
static int
schema_version(sqlite3 *db, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM fleet_meta WHERE key = 'schema_version'", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

struct migration {
	sqlite3_stmt *put;
	int64_t unit;
	double *slots;
	size_t len, cap;
	double rul, ts;
	char *model, *version;
};

static int
migration_flush(struct migration *m)
{
	sqlite3_stmt *st = m->put;

	if (m->len == 0)
		return 0;
	sqlite3_bind_int64(st, 1, m->unit);
	sqlite3_bind_int64(st, 2, (int64_t)m->slots[(m->len - 1) * FLEET_SLOT]);
	sqlite3_bind_blob(st, 3, m->slots, (int)(m->len * FLEET_SLOT * sizeof(double)),
			  SQLITE_STATIC);
	sqlite3_bind_double(st, 4, m->rul);
	sqlite3_bind_text(st, 5, m->model ? m->model : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->version ? m->version : "", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 7, m->ts);
	m->len = 0;
	return step_done(st);
}

static char *
dup_text(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return strdup(t ? t : "");
}

/*
 * Version 1 to 2: every engine's windowed rows of fleet_cycles (ordered by unit and cycle
 * through the partial index fleet_window) become its row of fleet_windows. The rows keep
 * their inputs (rewriting every row of a million engines would double the migration's cost
 * for nothing read again); the partial index goes, nothing reads it any more.
 */
static int
migrate_v1(sqlite3 *db)
{
	struct migration m = { .unit = -1 };
	sqlite3_stmt *rows = NULL;
	int rc, r = 0;

	if (sqlite3_prepare_v2(db, put_window_v2, -1, &m.put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT unit, cycle, inputs, rul, model, version, ts"
			       " FROM fleet_cycles WHERE inputs IS NOT NULL ORDER BY unit, cycle",
			       -1, &rows, NULL) != SQLITE_OK)
		r = -EIO;
	while (r == 0 && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
		int64_t unit = sqlite3_column_int64(rows, 0);
		const void *blob = sqlite3_column_blob(rows, 2);
		double *slot;

		if (sqlite3_column_bytes(rows, 2) != CMAPSS_N_INPUTS * sizeof(double))
			continue; /* not a window's cycle */
		if (unit != m.unit && (r = migration_flush(&m)) < 0)
			break;
		m.unit = unit;
		if (m.len == m.cap) {
			size_t cap = m.cap ? m.cap * 2 : 64;
			double *n = realloc(m.slots, cap * FLEET_SLOT * sizeof(double));

			if (n == NULL) {
				r = -ENOMEM;
				break;
			}
			m.slots = n;
			m.cap = cap;
		}
		slot = m.slots + m.len++ * FLEET_SLOT;
		slot[0] = (double)sqlite3_column_int64(rows, 1);
		memcpy(slot + 1, blob, CMAPSS_N_INPUTS * sizeof(double));
		m.rul = sqlite3_column_double(rows, 3);
		m.ts = sqlite3_column_double(rows, 6);
		free(m.model);
		free(m.version);
		m.model = dup_text(rows, 4);
		m.version = dup_text(rows, 5);
		if (m.model == NULL || m.version == NULL)
			r = -ENOMEM;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	if (r == 0)
		r = migration_flush(&m);
	sqlite3_finalize(rows);
	sqlite3_finalize(m.put);
	free(m.slots);
	free(m.model);
	free(m.version);
	return r;
}

/*
 * Version 2 to 3: every engine's window row of fleet_windows (its cycles oldest first)
 * becomes its ring's slot rows, the oldest in slot 0; the table goes.
 */
static int
migrate_v2(sqlite3 *db)
{
	sqlite3_stmt *rows = NULL, *put = NULL;
	int rc = SQLITE_DONE, r = 0;

	if (sqlite3_prepare_v2(db, st_sql[ST_SLOT], -1, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT unit, window, rul, model, version, ts FROM fleet_windows",
			       -1, &rows, NULL) != SQLITE_OK)
		r = -EIO;
	while (r == 0 && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *blob = sqlite3_column_blob(rows, 1);
		int bytes = sqlite3_column_bytes(rows, 1), i;

		if (blob == NULL || bytes == 0 || bytes % FLEET_SLOT_BYTES != 0)
			continue; /* not written by this code: nothing to continue from */
		for (i = 0; r == 0 && i < bytes / FLEET_SLOT_BYTES; i++) {
			sqlite3_bind_int64(put, 1, sqlite3_column_int64(rows, 0));
			sqlite3_bind_int(put, 2, i);
			sqlite3_bind_blob(put, 3, blob + (size_t)i * FLEET_SLOT_BYTES, FLEET_SLOT_BYTES,
					  SQLITE_STATIC);
			sqlite3_bind_double(put, 4, sqlite3_column_double(rows, 2));
			sqlite3_bind_value(put, 5, sqlite3_column_value(rows, 3));
			sqlite3_bind_value(put, 6, sqlite3_column_value(rows, 4));
			sqlite3_bind_double(put, 7, sqlite3_column_double(rows, 5));
			r = step_done(put);
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_finalize(rows);
	sqlite3_finalize(put);
	return r;
}

/* Bring the file to SCHEMA_VERSION in one transaction; refuse a newer one. */
static int
migrate(struct sqlite_store *s, char *err, size_t err_len)
{
	int64_t v;
	int r;

	r = store_exec(s->w, s->path, "BEGIN IMMEDIATE", err, err_len);
	if (r < 0)
		return r;
	r = store_exec(s->w, s->path, fleet_schema, err, err_len);
	if (r == 0 && (r = schema_version(s->w, &v)) < 0)
		snprintf(err, err_len, "%s: cannot read the fleet schema version: %s", s->path,
			 sqlite3_errmsg(s->w));
	if (r == 0 && v > SCHEMA_VERSION) {
		snprintf(err, err_len, "%s holds fleet schema version %lld, newer than this "
			 "rulsrv's %d: run the rulsrv that wrote it, or a newer one",
			 s->path, (long long)v, SCHEMA_VERSION);
		r = -EPROTO;
	}
	if (r == 0 && v < 3)
		r = store_exec(s->w, s->path, fleet_windows_v2, err, err_len);
	if (r == 0 && v < 2) {
		r = migrate_v1(s->w);
		if (r < 0)
			snprintf(err, err_len, "%s: cannot move the windows to one row per engine "
				 "(schema version 2): %s", s->path, sqlite3_errmsg(s->w));
		else
			r = store_exec(s->w, s->path, "DROP INDEX IF EXISTS fleet_window", err,
				       err_len);
	}
	if (r == 0 && v < 3) {
		r = migrate_v2(s->w);
		if (r < 0)
			snprintf(err, err_len, "%s: cannot move the windows to one row per ring "
				 "slot (schema version 3): %s", s->path, sqlite3_errmsg(s->w));
		else
			r = store_exec(s->w, s->path, "DROP TABLE fleet_windows", err, err_len);
	}
	if (r == 0 && v != SCHEMA_VERSION)
		r = store_exec(s->w, s->path, "INSERT OR REPLACE INTO fleet_meta(key, value)"
			       " VALUES('schema_version', 3)", err, err_len);
	if (r == 0)
		r = store_exec(s->w, s->path, "COMMIT", err, err_len);
	if (r < 0 && !sqlite3_get_autocommit(s->w))
		sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int
sq_open(const char *path, int timeout_ms, struct fleet_store **out, char *err, size_t err_len)
{
	struct sqlite_store *s = calloc(1, sizeof(*s));
	size_t i;
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &fleet_store_sqlite;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->queued, NULL);
	pthread_cond_init(&s->progress, NULL);
	s->tail = &s->head;
	s->path = strdup(path);
	r = s->path == NULL ? -ENOMEM : store_conn(path, timeout_ms, &s->w, err, err_len);
	if (r == 0)
		/* the applier's B-tree pages (32 MiB: a fleet's upper levels and recent leaves) */
		r = store_exec(s->w, path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			       " PRAGMA cache_size=-32768;", err,
			       err_len);
	if (r == 0)
		r = migrate(s, err, err_len);
	for (i = 0; r == 0 && i < ST_COUNT; i++)
		if (sqlite3_prepare_v2(s->w, st_sql[i], -1, &s->st[i], NULL) != SQLITE_OK) {
			snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->w));
			r = -EIO;
		}
	if (r == 0)
		r = journal_start(s, err, err_len);
	if (r == 0)
		r = store_conn(path, timeout_ms, &s->r, err, err_len);
	if (r == 0)
		r = store_exec(s->r, path, "PRAGMA query_only=1", err, err_len);
	if (r < 0) {
		sq_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

/* ---- the journal ------------------------------------------------------------------------------ */

/*
 * A record is one apply() call, in native byte order (the journal is read back by this
 * process's next start on the same host): counts, forgets, history rows, windows with their
 * new slots. Texts are a 16-bit length and the bytes.
 */
struct writer {
	unsigned char *p;
};

static void
put(struct writer *w, const void *v, size_t n)
{
	if (n == 0)
		return; /* v may be NULL then (no forgets, no new slots) */
	memcpy(w->p, v, n);
	w->p += n;
}

static void
put_text(struct writer *w, const char *t)
{
	uint16_t n = (uint16_t)strlen(t);

	put(w, &n, sizeof(n));
	put(w, t, n);
}

/* The bytes put_text writes for a model's and a version's name, or 0 when one is longer
 * than its 16-bit length holds. */
static size_t
texts_bytes(const char *model, const char *version)
{
	size_t m = strlen(model), v = strlen(version);

	return m > UINT16_MAX || v > UINT16_MAX ? 0 : 2 * sizeof(uint16_t) + m + v;
}

static size_t
window_slot_count(const struct fleet_window *w)
{
	return w->len > w->first ? (size_t)(w->len - w->first) : 0;
}

/* The record of one apply() as a pending item (NULL: no memory, or a text too long). */
static struct pending *
encode(const int64_t *forget, size_t n_forget, const struct fleet_row *rows, size_t n_rows,
       const struct fleet_window *wins, size_t n_wins)
{
	size_t len = 3 * sizeof(uint32_t) + n_forget * sizeof(int64_t), i, t, cycles = n_rows;
	struct pending *p;
	struct writer w;
	uint32_t u;
	uint8_t reset;

	for (i = 0; i < n_rows; i++) {
		if ((t = texts_bytes(rows[i].model, rows[i].version)) == 0)
			return NULL;
		len += 2 * sizeof(int64_t) + 2 * sizeof(double) + t;
	}
	for (i = 0; i < n_wins; i++) {
		if ((t = texts_bytes(wins[i].model, wins[i].version)) == 0)
			return NULL;
		len += sizeof(int64_t) + 4 * sizeof(uint32_t) + 1 + 2 * sizeof(double) + t +
		       window_slot_count(&wins[i]) * FLEET_SLOT_BYTES;
		cycles += window_slot_count(&wins[i]);
	}
	p = malloc(sizeof(*p) + len);
	if (p == NULL)
		return NULL;
	p->next = NULL;
	p->len = len;
	p->cycles = cycles + n_forget;
	w.p = p->data;
	u = (uint32_t)n_forget;
	put(&w, &u, sizeof(u));
	u = (uint32_t)n_rows;
	put(&w, &u, sizeof(u));
	u = (uint32_t)n_wins;
	put(&w, &u, sizeof(u));
	put(&w, forget, n_forget * sizeof(int64_t));
	for (i = 0; i < n_rows; i++) {
		put(&w, &rows[i].unit, sizeof(int64_t));
		put(&w, &rows[i].cycle, sizeof(int64_t));
		put(&w, &rows[i].rul, sizeof(double));
		put(&w, &rows[i].ts, sizeof(double));
		put_text(&w, rows[i].model);
		put_text(&w, rows[i].version);
	}
	for (i = 0; i < n_wins; i++) {
		const struct fleet_window *x = &wins[i];

		put(&w, &x->unit, sizeof(int64_t));
		put(&w, &x->len, sizeof(uint32_t));
		put(&w, &x->first, sizeof(uint32_t));
		put(&w, &x->head, sizeof(uint32_t));
		put(&w, &x->cap, sizeof(uint32_t));
		reset = x->reset;
		put(&w, &reset, 1);
		put(&w, &x->rul, sizeof(double));
		put(&w, &x->ts, sizeof(double));
		put_text(&w, x->model);
		put_text(&w, x->version);
		put(&w, x->slots, window_slot_count(x) * FLEET_SLOT_BYTES);
	}
	return p;
}

struct reader {
	const unsigned char *p, *end;
	char *text; /* where texts are copied, NUL-terminated */
};

static int
get(struct reader *r, void *v, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -EINVAL;
	if (n > 0)
		memcpy(v, r->p, n);
	r->p += n;
	return 0;
}

static int
get_text(struct reader *r, const char **t)
{
	uint16_t n;

	if (get(r, &n, sizeof(n)) < 0 || get(r, r->text, n) < 0)
		return -EINVAL;
	r->text[n] = '\0';
	*t = r->text;
	r->text += n + 1;
	return 0;
}

/* One record decoded: its arrays (texts copied into text; slots pointing into the record). */
struct decoded {
	int64_t *forget;
	struct fleet_row *rows;
	struct fleet_window *wins;
	uint32_t nf, nr, nw;
	char *text;
};

static void
decoded_free(struct decoded *d)
{
	free(d->forget);
	free(d->rows);
	free(d->wins);
	free(d->text);
	*d = (struct decoded){ 0 };
}

/* A record back into its arrays (-EINVAL: it does not parse; -ENOMEM). rec must outlive d. */
static int
decode_record(const void *rec, size_t len, struct decoded *d)
{
	struct reader rd = { rec, (const unsigned char *)rec + len, NULL };
	uint32_t i;
	uint8_t reset;
	int r;

	*d = (struct decoded){ .text = malloc(len + 1) };
	rd.text = d->text;
	r = d->text == NULL ? -ENOMEM : 0;
	if (r == 0 && (get(&rd, &d->nf, 4) < 0 || get(&rd, &d->nr, 4) < 0 ||
		       get(&rd, &d->nw, 4) < 0 || (size_t)d->nf + d->nr + d->nw > len))
		r = -EINVAL;
	if (r == 0) {
		d->forget = malloc((d->nf ? d->nf : 1) * sizeof(*d->forget));
		d->rows = calloc(d->nr ? d->nr : 1, sizeof(*d->rows));
		d->wins = calloc(d->nw ? d->nw : 1, sizeof(*d->wins));
		if (d->forget == NULL || d->rows == NULL || d->wins == NULL)
			r = -ENOMEM;
	}
	if (r == 0)
		r = get(&rd, d->forget, d->nf * sizeof(*d->forget));
	for (i = 0; r == 0 && i < d->nr; i++) {
		struct fleet_row *w = &d->rows[i];

		if (get(&rd, &w->unit, 8) < 0 || get(&rd, &w->cycle, 8) < 0 ||
		    get(&rd, &w->rul, 8) < 0 || get(&rd, &w->ts, 8) < 0 ||
		    get_text(&rd, &w->model) < 0 || get_text(&rd, &w->version) < 0)
			r = -EINVAL;
	}
	for (i = 0; r == 0 && i < d->nw; i++) {
		struct fleet_window *x = &d->wins[i];

		if (get(&rd, &x->unit, 8) < 0 || get(&rd, &x->len, 4) < 0 ||
		    get(&rd, &x->first, 4) < 0 || get(&rd, &x->head, 4) < 0 ||
		    get(&rd, &x->cap, 4) < 0 || get(&rd, &reset, 1) < 0 ||
		    get(&rd, &x->rul, 8) < 0 || get(&rd, &x->ts, 8) < 0 ||
		    get_text(&rd, &x->model) < 0 || get_text(&rd, &x->version) < 0 ||
		    x->cap == 0 || (size_t)(rd.end - rd.p) < window_slot_count(x) * FLEET_SLOT_BYTES) {
			r = -EINVAL;
			break;
		}
		x->reset = reset != 0;
		/* the slots are read in place: bound as blobs, never as doubles */
		x->slots = (double *)(uintptr_t)rd.p;
		rd.p += window_slot_count(x) * FLEET_SLOT_BYTES;
	}
	if (r < 0)
		decoded_free(d);
	return r;
}

/* work(s, ud) in one transaction of the writing connection: committed when it returns 0. */
static int
in_transaction(struct sqlite_store *s, int (*work)(struct sqlite_store *s, void *ud), void *ud)
{
	int r;

	pthread_mutex_lock(&s->wlock);
	r = step_done(s->st[ST_BEGIN]);
	if (r == 0)
		r = work(s, ud);
	if (r == 0)
		r = step_done(s->st[ST_COMMIT]);
	if (r < 0 && !sqlite3_get_autocommit(s->w))
		step_done(s->st[ST_ROLLBACK]);
	pthread_mutex_unlock(&s->wlock);
	return r;
}

/* A batch of records as one coalesced set of writes (fleet_coalesce.h). */
struct batch {
	struct decoded *recs;
	size_t n_recs;
	const struct fleet_row **rows;    /* FLEET_OP_CYCLE's index */
	struct slot_ref { const struct fleet_window *w; uint32_t k; } *slots; /* FLEET_OP_SLOT's */
	struct fleet_op *ops;
	size_t n_ops;
};

static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n_recs; i++)
		decoded_free(&b->recs[i]);
	free(b->recs);
	free(b->rows);
	free(b->slots);
	free(b->ops);
}

static void
batch_op(struct batch *b, int64_t unit, enum fleet_op_kind kind, int64_t key, uint32_t index)
{
	b->ops[b->n_ops] = (struct fleet_op){ .unit = unit, .key = key, .kind = kind,
					      .index = index, .order = b->n_ops };
	b->n_ops++;
}

/* Decode records first .. last and turn them into coalesced writes, in the order apply_all
 * would make them. */
static int
batch_build(struct batch *b, struct pending *first, struct pending *last)
{
	size_t n = 0, ops = 0, nrows = 0, nslots = 0, i, k;
	struct pending *p;
	int r = 0;

	*b = (struct batch){ 0 };
	for (p = first;; p = p->next) {
		n++;
		if (p == last)
			break;
	}
	b->recs = calloc(n, sizeof(*b->recs));
	if (b->recs == NULL)
		return -ENOMEM;
	for (p = first; r == 0; p = p->next) {
		struct decoded *d = &b->recs[b->n_recs];

		r = decode_record(p->data, p->len, d);
		if (r < 0)
			break;
		b->n_recs++;
		ops += d->nf + d->nr;
		nrows += d->nr;
		for (i = 0; i < d->nw; i++) {
			ops += 1 + window_slot_count(&d->wins[i]);
			nslots += window_slot_count(&d->wins[i]);
		}
		if (p == last)
			break;
	}
	if (r < 0)
		return r;
	if (nrows > UINT32_MAX || nslots > UINT32_MAX)
		return -E2BIG;
	b->ops = malloc((ops ? ops : 1) * sizeof(*b->ops));
	b->rows = malloc((nrows ? nrows : 1) * sizeof(*b->rows));
	b->slots = malloc((nslots ? nslots : 1) * sizeof(*b->slots));
	if (b->ops == NULL || b->rows == NULL || b->slots == NULL)
		return -ENOMEM;
	nrows = nslots = 0;
	for (k = 0; k < b->n_recs; k++) {
		const struct decoded *d = &b->recs[k];

		for (i = 0; i < d->nf; i++)
			batch_op(b, d->forget[i], FLEET_OP_FORGET, 0, 0);
		for (i = 0; i < d->nr; i++) {
			b->rows[nrows] = &d->rows[i];
			batch_op(b, d->rows[i].unit, FLEET_OP_CYCLE, d->rows[i].cycle,
				 (uint32_t)nrows++);
		}
		for (i = 0; i < d->nw; i++) {
			const struct fleet_window *w = &d->wins[i];

			if (w->len == 0)
				continue;
			if (w->reset)
				batch_op(b, w->unit, FLEET_OP_RESET, 0, 0);
			for (uint32_t j = w->first; j < w->len; j++) {
				b->slots[nslots] = (struct slot_ref){ w, j };
				batch_op(b, w->unit, FLEET_OP_SLOT, (int64_t)((w->head + j) % w->cap),
					 (uint32_t)nslots++);
			}
		}
	}
	b->n_ops = fleet_coalesce(b->ops, b->n_ops);
	return 0;
}

/* The batch's ops [from, to) into the open transaction. */
static int
batch_write(struct sqlite_store *s, const struct batch *b, size_t from, size_t to)
{
	sqlite3_stmt *st;
	int r = 0;

	for (size_t i = from; r == 0 && i < to; i++) {
		const struct fleet_op *op = &b->ops[i];

		switch (op->kind) {
		case FLEET_OP_FORGET:
			sqlite3_bind_int64(s->st[ST_FORGET], 1, op->unit);
			r = step_done(s->st[ST_FORGET]);
			__attribute__((fallthrough)); /* the slots go too */
		case FLEET_OP_RESET:
			if (r == 0) {
				sqlite3_bind_int64(s->st[ST_FORGET_SLOTS], 1, op->unit);
				r = step_done(s->st[ST_FORGET_SLOTS]);
			}
			break;
		case FLEET_OP_CYCLE: {
			const struct fleet_row *w = b->rows[op->index];

			st = s->st[ST_INSERT];
			sqlite3_bind_int64(st, 1, w->unit);
			sqlite3_bind_int64(st, 2, w->cycle);
			sqlite3_bind_double(st, 3, w->rul);
			sqlite3_bind_text(st, 4, w->model, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, w->version, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 6, w->ts);
			r = step_done(st);
			break;
		}
		default: {
			const struct fleet_window *w = b->slots[op->index].w;
			uint32_t k = b->slots[op->index].k;

			st = s->st[ST_SLOT];
			sqlite3_bind_int64(st, 1, w->unit);
			sqlite3_bind_int64(st, 2, op->key);
			sqlite3_bind_blob(st, 3, w->slots + (size_t)(k - w->first) * FLEET_SLOT,
					  FLEET_SLOT_BYTES, SQLITE_STATIC);
			sqlite3_bind_double(st, 4, w->rul);
			sqlite3_bind_text(st, 5, w->model, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 6, w->version, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 7, w->ts);
			r = step_done(st);
			break;
		}
		}
	}
	return r;
}

struct span {
	const struct batch *b;
	size_t from, to;
};

static int
span_write(struct sqlite_store *s, void *ud)
{
	const struct span *sp = ud;

	return batch_write(s, sp->b, sp->from, sp->to);
}

/*
 * Records first .. last (from the queue's head), coalesced. With a journal they are written in
 * transactions of about APPLY_TXN_OPS rows, each ending at an engine's last row, so that the
 * feedback plugin's writer, which may share the file, waits for a short one at most; a crash
 * between two of them is repaired by the next start, which replays every record of the batch
 * (the journal keeps them until the last commit), in order, from any state the tables were
 * left in. Without a journal (the direct path) the batch is one transaction: it is the commit.
 */
static int
apply_batch(struct sqlite_store *s, struct pending *first, struct pending *last)
{
	struct batch b;
	struct span sp = { &b, 0, 0 };
	int r = batch_build(&b, first, last);

	while (r == 0 && sp.from < b.n_ops) {
		sp.to = b.n_ops;
		if (s->journal != NULL && b.n_ops - sp.from > APPLY_TXN_OPS) {
			sp.to = sp.from + APPLY_TXN_OPS;
			while (sp.to < b.n_ops && b.ops[sp.to].unit == b.ops[sp.to - 1].unit)
				sp.to++;
		}
		r = in_transaction(s, span_write, &sp);
		sp.from = sp.to;
		if (r == 0 && sp.from < b.n_ops)
			usleep(APPLY_TXN_PAUSE_US); /* the file's other writer's turn */
	}
	batch_free(&b);
	return r;
}

/* The records a crash left, copied as the journal hands them back, for one coalesced write. */
struct replay {
	uint64_t gen;
	size_t n;
	struct pending *head, **tail, *last;
	int err;
};

static int
replay_record(void *ud, const void *rec, size_t len)
{
	struct replay *rp = ud;
	struct pending *p = malloc(sizeof(*p) + len);

	if (p == NULL)
		return -ENOMEM;
	p->next = NULL;
	p->len = len;
	memcpy(p->data, rec, len);
	*rp->tail = p;
	rp->tail = &p->next;
	rp->last = p;
	return 0;
}

/* Inside the open transaction: every record of the journal, coalesced as the applier would. */
static int
replay_journal(struct sqlite_store *s, void *ud)
{
	struct replay *rp = ud;
	struct pending *p, *next;
	struct batch b;
	int r;

	rp->head = NULL;
	rp->tail = &rp->head;
	r = fleet_journal_replay(s->path, replay_record, rp, &rp->gen, &rp->n);
	if (r == 0 && rp->head != NULL) {
		r = batch_build(&b, rp->head, rp->last);
		if (r == 0)
			r = batch_write(s, &b, 0, b.n_ops);
		batch_free(&b);
	}
	for (p = rp->head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	return r;
}

static void
deadline_in(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/*
 * The applier: takes the queue's oldest records (APPLY_BATCH_CYCLES at most, gathered for
 * APPLY_GATHER_MS while there are fewer), writes them in one transaction, then lets the
 * journal drop what is applied. A failed transaction (a full disk) is retried every second;
 * the records stay journaled meanwhile, and apply() refuses new ones once the queue is full.
 */
static void *
applier_main(void *arg)
{
	struct sqlite_store *s = arg;
	struct pending *first, *last, *p, *next;
	struct timespec until;
	size_t cycles, bytes;
	int r;

	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (s->head == NULL && !s->stop)
			pthread_cond_wait(&s->queued, &s->qlock);
		if (s->head == NULL)
			break;
		if (!s->stop && s->pending_cycles < APPLY_BATCH_CYCLES) {
			deadline_in(&until, APPLY_GATHER_MS);
			while (!s->stop && s->pending_cycles < APPLY_BATCH_CYCLES &&
			       pthread_cond_timedwait(&s->queued, &s->qlock, &until) == 0)
				;
		}
		first = last = s->head;
		cycles = first->cycles;
		bytes = first->len;
		while (last->next != NULL && cycles + last->next->cycles <= APPLY_BATCH_CYCLES) {
			last = last->next;
			cycles += last->cycles;
			bytes += last->len;
		}
		pthread_mutex_unlock(&s->qlock);
		r = apply_batch(s, first, last);
		pthread_mutex_lock(&s->qlock);
		if (r < 0) {
			s->apply_err = r;
			pthread_cond_broadcast(&s->progress);
			if (s->stop)
				break; /* the records stay in the journal for the next start */
			deadline_in(&until, 1000);
			pthread_cond_timedwait(&s->queued, &s->qlock, &until);
			continue;
		}
		s->head = last->next;
		if (s->head == NULL)
			s->tail = &s->head;
		s->applied_seq = last->seq;
		s->pending_cycles -= cycles;
		s->pending_bytes -= bytes;
		s->apply_err = 0;
		pthread_cond_broadcast(&s->progress);
		pthread_mutex_unlock(&s->qlock);
		fleet_journal_release(s->journal, last->seq);
		for (p = first; p != NULL; p = next) {
			next = p == last ? NULL : p->next;
			free(p);
		}
		pthread_mutex_lock(&s->qlock);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

/* Stop the applier once it has applied what it can; the last record applied. */
static uint64_t
applier_stop(struct sqlite_store *s)
{
	struct pending *p, *next;
	uint64_t applied;

	if (s->applier_started) {
		pthread_mutex_lock(&s->qlock);
		s->stop = true;
		pthread_cond_signal(&s->queued);
		pthread_mutex_unlock(&s->qlock);
		pthread_join(s->applier, NULL);
		s->applier_started = false;
	}
	for (p = s->head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	s->head = NULL;
	s->tail = &s->head;
	applied = s->applied_seq;
	return applied;
}

/*
 * At open, after the migrations: the records a crash left are written into the tables in
 * one transaction, then a new journal starts (deleting the old files) with its applier.
 */
static int
journal_start(struct sqlite_store *s, char *err, size_t err_len)
{
	struct replay rp = { .gen = 1 };
	int r;

	if (strcmp(s->path, ":memory:") == 0 || strncmp(s->path, "file:", 5) == 0 ||
	    s->path[0] == '\0')
		return 0;
	r = in_transaction(s, replay_journal, &rp);
	if (r < 0) {
		snprintf(err, err_len, "%s: cannot apply its fleet journal (%s): %s", s->path,
			 strerror(-r), sqlite3_errmsg(s->w));
		return r;
	}
	r = fleet_journal_open(s->path, rp.gen, &s->journal);
	if (r < 0) {
		snprintf(err, err_len, "%s: cannot start its fleet journal: %s", s->path,
			 strerror(-r));
		return r;
	}
	r = -pthread_create(&s->applier, NULL, applier_main, s);
	if (r < 0) {
		snprintf(err, err_len, "cannot start the fleet store's applier: %s", strerror(-r));
		return r;
	}
	s->applier_started = true;
	return 0;
}

/* Readers: wait until every record committed before the call is in the tables. */
static int
wait_applied(struct sqlite_store *s)
{
	uint64_t want;
	int r = 0;

	if (s->journal == NULL)
		return 0;
	pthread_mutex_lock(&s->qlock);
	want = s->queued_seq;
	while (s->applied_seq < want && s->apply_err == 0) {
		pthread_cond_signal(&s->queued); /* no gathering for a reader */
		pthread_cond_wait(&s->progress, &s->qlock);
	}
	if (s->applied_seq < want)
		r = s->apply_err;
	pthread_mutex_unlock(&s->qlock);
	return r;
}

/*
 * The commit: one journal record, durable when this returns 0, then queued for the applier.
 * A full queue (the tables far behind) waits for the applier, or fails with its error.
 */
static int
sq_apply(struct fleet_store *base, const int64_t *forget, size_t n_forget,
	 const struct fleet_row *rows, size_t n_rows, const struct fleet_window *wins,
	 size_t n_wins)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct pending *p;
	int r = 0;

	p = encode(forget, n_forget, rows, n_rows, wins, n_wins);
	if (p == NULL)
		return -ENOMEM;
	if (s->journal == NULL) { /* the tables directly, as the applier would */
		r = apply_batch(s, p, p);
		free(p);
		return r;
	}
	pthread_mutex_lock(&s->qlock);
	while (s->pending_bytes > APPLY_MAX_PENDING_BYTES && s->apply_err == 0)
		pthread_cond_wait(&s->progress, &s->qlock);
	if (s->pending_bytes > APPLY_MAX_PENDING_BYTES)
		r = s->apply_err;
	pthread_mutex_unlock(&s->qlock);
	if (r == 0)
		r = fleet_journal_append(s->journal, p->data, p->len, &p->seq);
	if (r < 0) {
		free(p);
		return r;
	}
	pthread_mutex_lock(&s->qlock);
	*s->tail = p;
	s->tail = &p->next;
	s->pending_bytes += p->len;
	s->pending_cycles += p->cycles;
	s->queued_seq = p->seq;
	if (s->pending_cycles >= APPLY_BATCH_CYCLES || s->head == p)
		pthread_cond_signal(&s->queued);
	pthread_mutex_unlock(&s->qlock);
	return 0;
}

/* ---- reading ---------------------------------------------------------------------------------- */

/*
 * A row of SELECT unit, pos, slot, rul, model, version, ts into its engine's ring (read in key
 * order: by unit, then ring slot); the newest cycle's prediction, model and time are the
 * window's.
 */
static int
ring_add_row(struct fleet_ring *g, sqlite3_stmt *st)
{
	const void *blob = sqlite3_column_blob(st, 2);
	int i;

	if (blob == NULL || sqlite3_column_bytes(st, 2) != FLEET_SLOT_BYTES)
		return 0; /* not written by this code */
	i = fleet_ring_add(g, blob, (uint32_t)sqlite3_column_int64(st, 1));
	if (i < 0)
		return i;
	if (i > 0 && g->in[(size_t)i * FLEET_SLOT] <= g->in[(size_t)g->newest * FLEET_SLOT])
		return 0;
	g->newest = (uint32_t)i;
	return fleet_ring_set_newest(g, sqlite3_column_double(st, 3), sqlite3_column_double(st, 6),
				     (const char *)sqlite3_column_text(st, 4),
				     (const char *)sqlite3_column_text(st, 5));
}

static int
query_windows(struct sqlite_store *s, const char *sql, const int64_t *unit, fleet_window_fn fn,
	      void *ud)
{
	struct fleet_ring g = FLEET_RING_INIT;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE, r = 0;

	pthread_mutex_lock(&s->rlock);
	if (sqlite3_prepare_v2(s->r, sql, -1, &st, NULL) != SQLITE_OK)
		r = -EIO;
	else if (unit != NULL)
		sqlite3_bind_int64(st, 1, *unit);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t u = sqlite3_column_int64(st, 0);

		if (u != g.unit)
			r = fleet_ring_emit(&g, fn, ud);
		g.unit = u;
		if (r == 0)
			r = ring_add_row(&g, st);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	if (r == 0)
		r = fleet_ring_emit(&g, fn, ud);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rlock);
	fleet_ring_free(&g);
	return r;
}

static int
sq_load(struct fleet_store *base, fleet_window_fn fn, void *ud)
{
	int r = wait_applied((struct sqlite_store *)base);

	if (r < 0)
		return r;
	return query_windows((struct sqlite_store *)base,
			     "SELECT unit, pos, slot, rul, model, version, ts FROM fleet_slots",
			     NULL, fn, ud);
}

static int
sq_window(struct fleet_store *base, int64_t unit, fleet_window_fn fn, void *ud)
{
	int r = wait_applied((struct sqlite_store *)base);

	if (r < 0)
		return r;
	return query_windows((struct sqlite_store *)base,
			     "SELECT unit, pos, slot, rul, model, version, ts FROM fleet_slots"
			     " WHERE unit = ?1", &unit, fn, ud);
}

static int
sq_history(struct fleet_store *base, int64_t unit, fleet_stored_fn fn, void *ud)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct fleet_stored c;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE, r = wait_applied(s);

	if (r < 0)
		return r;
	pthread_mutex_lock(&s->rlock);
	if (sqlite3_prepare_v2(s->r, "SELECT cycle, rul, model, version, ts FROM fleet_cycles"
			       " WHERE unit = ?1 ORDER BY cycle", -1, &st, NULL) != SQLITE_OK)
		r = -EIO;
	else
		sqlite3_bind_int64(st, 1, unit);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		c.unit = unit;
		c.cycle = sqlite3_column_int64(st, 0);
		c.rul = sqlite3_column_double(st, 1);
		c.model = (const char *)sqlite3_column_text(st, 2);
		c.version = (const char *)sqlite3_column_text(st, 3);
		c.ts = sqlite3_column_double(st, 4);
		if (c.model == NULL)
			c.model = "";
		if (c.version == NULL)
			c.version = "";
		r = fn(ud, &c);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

/* ---- failure events --------------------------------------------------------------------------- */

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

/* A local file fails on a full disk or an IO error: a second is as good a guess as any. */
static unsigned
sq_retry_after(struct fleet_store *s)
{
	(void)s;
	return 1;
}

const struct fleet_store_ops fleet_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.apply = sq_apply,
	.load = sq_load,
	.window = sq_window,
	.history = sq_history,
	.failures = sq_failures,
	.retry_after = sq_retry_after,
};
