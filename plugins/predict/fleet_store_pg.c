/* SPDX-License-Identifier: MIT */
/* fleet_store_pg.c - the engines' windows and histories in PostgreSQL, shared by instances. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "fleet_ring.h"
#include "fleet_store.h"

/*
 * Three tables: fleet_windows, one row per engine (its last cycle, prediction, model and time);
 * fleet_slots, one row per slot of the engine's ring (unit, pos) holding the cycle in it as
 * bytea (FLEET_SLOT native doubles: every instance of a fleet runs on the same
 * architecture), so an accepted cycle rewrites its engine's row and the one slot it fills;
 * and fleet_cycles, the life's history. Schema version 2; version 1 kept the whole window as
 * one bytea in fleet_windows and is migrated at open, in one transaction. Several rulsrv
 * instances may share the database, so:
 *
 * - The schema is created or migrated under pg_advisory_lock (two instances starting at once
 *   do it once); fleet_meta's schema_version says which layout the tables have, and a newer
 *   one than this code's is refused.
 * - Every window write is a compare-and-set on the engine's last_cycle (struct fleet_window's
 *   expected): an instance whose copy of the window is not the store's (another instance
 *   took cycles of that engine since) writes nothing and gets -EAGAIN, the whole
 *   transaction rolled back. The fleet then reloads the engine and plans the cycles again
 *   (fleet_http.c), so two instances never fork a window.
 * - Each call to the server is bounded by timeout_ms (connection included): the fleet
 *   answers 503 within it when the database is down. A broken connection is dropped and
 *   opened again at the next call, no sooner than a backoff that doubles up to 5 s.
 *
 * Two connections, each under its own lock: w (the committer's transactions, the failure
 * cursor) and r (reads).
 */

#define SCHEMA_VERSION 2 /* of this store's tables; the SQLite file counts its own */
#define STR(x) #x
#define XSTR(x) STR(x)
#define SLOT_BYTES_SQL XSTR(FLEET_SLOT) " * 8" /* FLEET_SLOT doubles */
#define ADVISORY_KEY "1919054694" /* 0x72616c66: the fleet's schema, for pg_advisory_lock */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0

static const char pg_schema[] =
	"CREATE TABLE IF NOT EXISTS fleet_meta(key text PRIMARY KEY, value bigint NOT NULL);"
	"CREATE TABLE IF NOT EXISTS fleet_windows(unit bigint PRIMARY KEY,"
	" last_cycle bigint NOT NULL, rul double precision NOT NULL,"
	" model text NOT NULL, version text NOT NULL, ts double precision NOT NULL);"
	"CREATE TABLE IF NOT EXISTS fleet_slots(unit bigint NOT NULL, pos integer NOT NULL,"
	" slot bytea NOT NULL, PRIMARY KEY(unit, pos));"
	"CREATE TABLE IF NOT EXISTS fleet_cycles(unit bigint NOT NULL, cycle bigint NOT NULL,"
	" rul double precision NOT NULL, model text NOT NULL, version text NOT NULL,"
	" ts double precision NOT NULL, PRIMARY KEY(unit, cycle));";

struct pg_conn {
	PGconn *c;
	pthread_mutex_t lock;
	double retry_at; /* monotonic seconds: no new connection before */
	double backoff;
};

struct pg_store {
	struct fleet_store base; /* first: the vtable */
	char *dsn;
	int timeout_ms;
	struct pg_conn w, r;
	int64_t cursor; /* failure events applied, as in fleet_meta */
};

static double
mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- connections bounded by a deadline ------------------------------------------------------ */

static int
wait_socket(PGconn *c, bool write, double deadline)
{
	struct pollfd p = { .fd = PQsocket(c), .events = write ? POLLOUT : POLLIN };
	double left = deadline - mono();
	int r;

	if (p.fd < 0)
		return -EIO;
	if (left <= 0)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)(left * 1000) + 1);
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? -errno : 0;
}

static void
conn_drop(struct pg_conn *k)
{
	PQfinish(k->c);
	k->c = NULL;
	k->backoff = k->backoff == 0 ? BACKOFF_MIN :
		     k->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : k->backoff * 2;
	k->retry_at = mono() + k->backoff;
}

/* The server's notices ("relation already exists, skipping") are not the daemon's log. */
static void
quiet(void *ud, const char *message)
{
	(void)ud;
	(void)message;
}

/* A connection that answers, opened within the deadline; err says why not. */
static int
conn_open(struct pg_store *s, struct pg_conn *k, double deadline, char *err, size_t err_len)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int r = 0;

	if (k->c != NULL && PQstatus(k->c) == CONNECTION_OK)
		return 0;
	if (k->c != NULL)
		conn_drop(k);
	if (mono() < k->retry_at) {
		snprintf(err, err_len, "the PostgreSQL server did not answer; next attempt in "
			 "%.1f s", k->retry_at - mono());
		return -ECONNREFUSED;
	}
	k->c = PQconnectStart(s->dsn);
	if (k->c == NULL || PQstatus(k->c) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	else
		PQsetNoticeProcessor(k->c, quiet, NULL);
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED && r == 0) {
		r = wait_socket(k->c, st == PGRES_POLLING_WRITING, deadline);
		if (r == 0)
			st = PQconnectPoll(k->c);
	}
	if (st != PGRES_POLLING_OK) {
		snprintf(err, err_len, "cannot connect to PostgreSQL: %s",
			 r == -ETIMEDOUT ? "timed out" : k->c ? PQerrorMessage(k->c) : "no memory");
		err[strcspn(err, "\n")] = '\0';
		conn_drop(k);
		return r < 0 ? r : -ECONNREFUSED;
	}
	PQsetnonblocking(k->c, 1);
	k->backoff = 0;
	return 0;
}

/*
 * One statement within the deadline: its last result (the caller PQclears it), or NULL with
 * *rc the error (-ETIMEDOUT, -EIO; the connection is dropped when it is not usable any more).
 */
static PGresult *
exec_params(struct pg_conn *k, double deadline, const char *sql, int n, const char *const *v,
	    const int *lens, const int *fmts, int binary, int *rc)
{
	PGresult *res, *last = NULL;
	int r = 0, f;

	*rc = 0;
	/* n < 0: the simple protocol, which takes several statements in one text */
	if (!(n < 0 ? PQsendQuery(k->c, sql)
		    : PQsendQueryParams(k->c, sql, n, NULL, v, lens, fmts, binary))) {
		*rc = -EIO;
		conn_drop(k);
		return NULL;
	}
	while ((f = PQflush(k->c)) == 1 && r == 0)
		r = wait_socket(k->c, true, deadline);
	if (f < 0)
		r = -EIO;
	for (;;) {
		while (r == 0 && PQisBusy(k->c)) {
			r = wait_socket(k->c, false, deadline);
			if (r == 0 && !PQconsumeInput(k->c))
				r = -EIO;
		}
		if (r < 0)
			break;
		res = PQgetResult(k->c);
		if (res == NULL)
			break;
		PQclear(last);
		last = res;
	}
	if (r < 0) {
		/* a server that stopped answering: the connection's state is unknown */
		PQclear(last);
		*rc = r;
		conn_drop(k);
		return NULL;
	}
	if (last == NULL || (PQresultStatus(last) != PGRES_COMMAND_OK &&
			     PQresultStatus(last) != PGRES_TUPLES_OK)) {
		*rc = -EIO;
		if (PQstatus(k->c) != CONNECTION_OK)
			conn_drop(k);
	}
	return last;
}

static int
exec_simple(struct pg_conn *k, double deadline, const char *sql)
{
	int rc;
	PGresult *res = exec_params(k, deadline, sql, -1, NULL, NULL, NULL, 0, &rc);

	PQclear(res);
	return rc;
}

/* ---- open, schema ----------------------------------------------------------------------------- */

static void
pg_close(struct fleet_store *base)
{
	struct pg_store *s = (struct pg_store *)base;

	if (s == NULL)
		return;
	PQfinish(s->w.c);
	PQfinish(s->r.c);
	pthread_mutex_destroy(&s->w.lock);
	pthread_mutex_destroy(&s->r.lock);
	free(s->dsn);
	free(s);
}

static int64_t
int_value(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * Version 1 to 2, in one transaction: each engine's window bytea (its cycles oldest first)
 * becomes its ring's slot rows, the oldest in slot 0, and the column goes.
 */
static const char pg_migrate_v1[] =
	"BEGIN;"
	"INSERT INTO fleet_slots(unit, pos, slot)"
	" SELECT w.unit, g.i, substring(w.\"window\" FROM g.i * (" SLOT_BYTES_SQL ") + 1"
	"  FOR " SLOT_BYTES_SQL ")"
	" FROM fleet_windows w,"
	"  generate_series(0, length(w.\"window\") / (" SLOT_BYTES_SQL ") - 1) AS g(i);"
	"ALTER TABLE fleet_windows DROP COLUMN \"window\";"
	"UPDATE fleet_meta SET value = 2 WHERE key = 'schema_version';"
	"COMMIT;";

/* Create or check the tables, one instance at a time (the advisory lock, session-wide). */
static int
schema(struct pg_store *s, char *err, size_t err_len)
{
	double deadline = mono() + s->timeout_ms / 1000.0 * 4;
	PGresult *res = NULL;
	int64_t v = 0;
	int rc;

	rc = exec_simple(&s->w, deadline, "SELECT pg_advisory_lock(" ADVISORY_KEY ")");
	if (rc == 0)
		rc = exec_simple(&s->w, deadline, pg_schema);
	if (rc == 0) {
		res = exec_params(&s->w, deadline, "SELECT value FROM fleet_meta"
				  " WHERE key = 'schema_version'", 0, NULL, NULL, NULL, 0, &rc);
		if (rc == 0 && PQntuples(res) == 1)
			v = int_value(res, 0, 0);
		if (rc < 0)
			snprintf(err, err_len, "cannot create the fleet tables in PostgreSQL: %s",
				 res ? PQresultErrorMessage(res) : "the server did not answer");
	}
	PQclear(res);
	if (rc == 0 && v > SCHEMA_VERSION) {
		snprintf(err, err_len, "the PostgreSQL database holds fleet schema version %lld, "
			 "newer than this rulsrv's %d: run the rulsrv that wrote it, or a newer one",
			 (long long)v, SCHEMA_VERSION);
		rc = -EPROTO;
	}
	if (rc == 0 && v == 0)
		rc = exec_simple(&s->w, deadline, "INSERT INTO fleet_meta(key, value)"
				 " VALUES('schema_version', 2) ON CONFLICT (key) DO NOTHING");
	if (rc == 0 && v == 1) {
		/* a migration takes as long as it takes: no deadline of a normal call */
		rc = exec_simple(&s->w, mono() + 24 * 3600.0, pg_migrate_v1);
		if (rc < 0) {
			snprintf(err, err_len, "PostgreSQL: cannot move the fleet windows to one "
				 "row per ring slot (schema version 2): %s",
				 s->w.c != NULL ? PQerrorMessage(s->w.c) : "the connection broke");
			err[strcspn(err, "\n")] = '\0';
			if (s->w.c != NULL)
				exec_simple(&s->w, deadline, "ROLLBACK");
		}
	}
	if (rc == 0) {
		res = exec_params(&s->w, deadline, "SELECT value FROM fleet_meta"
				  " WHERE key = 'failure_cursor'", 0, NULL, NULL, NULL, 0, &rc);
		if (rc == 0 && PQntuples(res) == 1)
			s->cursor = int_value(res, 0, 0);
		PQclear(res);
	}
	if (s->w.c != NULL)
		exec_simple(&s->w, deadline, "SELECT pg_advisory_unlock(" ADVISORY_KEY ")");
	if (rc < 0 && err[0] == '\0') {
		snprintf(err, err_len, "PostgreSQL: the fleet schema could not be set up: %s",
			 rc == -ETIMEDOUT ? "the server did not answer in time" :
			 s->w.c != NULL ? PQerrorMessage(s->w.c) : "the connection broke");
		err[strcspn(err, "\n")] = '\0';
	}
	return rc;
}

static int
pg_open(const char *dsn, int timeout_ms, struct fleet_store **out, char *err, size_t err_len)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &fleet_store_pg;
	s->timeout_ms = timeout_ms;
	pthread_mutex_init(&s->w.lock, NULL);
	pthread_mutex_init(&s->r.lock, NULL);
	s->dsn = strdup(dsn);
	err[0] = '\0';
	r = s->dsn == NULL ? -ENOMEM : conn_open(s, &s->w, mono() + timeout_ms / 1000.0, err,
						  err_len);
	if (r == 0)
		r = schema(s, err, err_len);
	if (r < 0) {
		pg_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

/* ---- writing ---------------------------------------------------------------------------------- */

struct params {
	char buf[8][32];
	const char *v[8];
	int len[8], fmt[8];
};

static void
param_int(struct params *p, int i, int64_t x)
{
	snprintf(p->buf[i], sizeof(p->buf[i]), "%lld", (long long)x);
	p->v[i] = p->buf[i];
	p->len[i] = 0;
	p->fmt[i] = 0;
}

static void
param_double(struct params *p, int i, double x)
{
	snprintf(p->buf[i], sizeof(p->buf[i]), "%.17g", x);
	p->v[i] = p->buf[i];
	p->len[i] = 0;
	p->fmt[i] = 0;
}

static void
param_text(struct params *p, int i, const char *t)
{
	p->v[i] = t;
	p->len[i] = 0;
	p->fmt[i] = 0;
}

static int
exec_p(struct pg_conn *k, double deadline, const char *sql, int n, struct params *p,
       int64_t *affected)
{
	int rc;
	PGresult *res = exec_params(k, deadline, sql, n, p->v, p->len, p->fmt, 0, &rc);

	if (rc == 0 && affected != NULL)
		*affected = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

/*
 * A transaction's writes go as one pipeline (libpq's pipeline mode): BEGIN and every
 * statement sent at once, their results read after one sync, then COMMIT or ROLLBACK: two
 * round trips per committer batch whatever its size. A window's compare-and-set is a
 * statement that must change one row; when it changed none, the batch rolls back (-EAGAIN).
 */
struct pipe {
	struct pg_conn *k;
	double deadline;
	size_t sent, cap;
	unsigned char *cas; /* per statement: must it change exactly one row? */
	int rc;
};

static void
pipe_send(struct pipe *pp, const char *sql, int n, const struct params *p, bool cas)
{
	if (pp->rc < 0)
		return;
	if (pp->sent == pp->cap) {
		size_t cap = pp->cap ? pp->cap * 2 : 64;
		unsigned char *c = realloc(pp->cas, cap);

		if (c == NULL) {
			pp->rc = -ENOMEM;
			return;
		}
		pp->cas = c;
		pp->cap = cap;
	}
	if (!PQsendQueryParams(pp->k->c, sql, n, NULL, p ? p->v : NULL, p ? p->len : NULL,
			       p ? p->fmt : NULL, 0)) {
		pp->rc = -EIO;
		return;
	}
	pp->cas[pp->sent++] = cas;
	/* keep the output moving and read what comes back, so that neither side's buffer
	 * fills while the other waits */
	if (PQflush(pp->k->c) < 0 || !PQconsumeInput(pp->k->c))
		pp->rc = -EIO;
}

/* Send what is buffered, reading meanwhile; within the deadline. */
static int
pipe_flush(struct pipe *pp)
{
	int f;

	while ((f = PQflush(pp->k->c)) == 1) {
		struct pollfd p = { .fd = PQsocket(pp->k->c), .events = POLLIN | POLLOUT };
		double left = pp->deadline - mono();

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) == 0)
			return -ETIMEDOUT;
		if ((p.revents & POLLIN) && !PQconsumeInput(pp->k->c))
			return -EIO;
	}
	return f < 0 ? -EIO : 0;
}

/* The next result of the pipeline (NULL between statements); *rc on a transport error. */
static PGresult *
pipe_result(struct pipe *pp, int *rc)
{
	*rc = 0;
	while (PQisBusy(pp->k->c)) {
		*rc = wait_socket(pp->k->c, false, pp->deadline);
		if (*rc == 0 && !PQconsumeInput(pp->k->c))
			*rc = -EIO;
		if (*rc < 0)
			return NULL;
	}
	return PQgetResult(pp->k->c);
}

/* Read every statement's result and the sync: the batch's outcome, or a transport error
 * in *transport (the connection is then unusable). */
static int
pipe_collect(struct pipe *pp, int *transport)
{
	int rc = 0, t = 0;
	size_t i;

	for (i = 0; i < pp->sent && t == 0; i++) {
		PGresult *res = pipe_result(pp, &t);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

		if (t < 0)
			break;
		if (st == PGRES_COMMAND_OK) {
			if (pp->cas[i] && strcmp(PQcmdTuples(res), "1") != 0 && rc == 0)
				rc = -EAGAIN; /* another instance moved the engine on */
		} else if (st != PGRES_PIPELINE_ABORTED && rc == 0) {
			rc = -EIO;
		}
		PQclear(res);
		if (res != NULL) {
			res = pipe_result(pp, &t); /* the NULL that ends a statement's results */
			PQclear(res);
		}
	}
	if (t == 0) {
		PGresult *res = pipe_result(pp, &t);

		if (t == 0 && (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC))
			t = -EIO;
		PQclear(res);
	}
	*transport = t;
	return t < 0 ? t : rc;
}

/* An engine's row (compare-and-set on its last cycle), then the slots the request filled. */
static void
send_window(struct pipe *pp, const struct fleet_window *w)
{
	struct params p;
	uint32_t k;

	param_int(&p, 0, w->unit);
	param_int(&p, 1, fleet_window_last_cycle(w));
	param_double(&p, 2, w->rul);
	param_text(&p, 3, w->model);
	param_text(&p, 4, w->version);
	param_double(&p, 5, w->ts);
	param_int(&p, 6, w->expected);
	if (w->expected < 0)
		pipe_send(pp, "INSERT INTO fleet_windows(unit, last_cycle, rul, model, version, ts)"
			  " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (unit) DO NOTHING", 6, &p,
			  true);
	else
		pipe_send(pp, "UPDATE fleet_windows SET last_cycle = $2, rul = $3, model = $4,"
			  " version = $5, ts = $6 WHERE unit = $1 AND last_cycle = $7", 7, &p,
			  true);
	if (w->reset)
		pipe_send(pp, "DELETE FROM fleet_slots WHERE unit = $1", 1, &p, false);
	for (k = w->first; k < w->len; k++) {
		param_int(&p, 1, (int64_t)((w->head + k) % w->cap));
		p.v[2] = (const char *)(w->slots + (size_t)(k - w->first) * FLEET_SLOT);
		p.len[2] = FLEET_SLOT_BYTES;
		p.fmt[2] = 1;
		pipe_send(pp, "INSERT INTO fleet_slots(unit, pos, slot) VALUES($1, $2, $3)"
			  " ON CONFLICT (unit, pos) DO UPDATE SET slot = EXCLUDED.slot", 3, &p,
			  false);
	}
}

static int
apply_pipeline(struct pg_conn *k, double deadline, const int64_t *forget, size_t n_forget,
	       const struct fleet_row *rows, size_t n_rows, const struct fleet_window *wins,
	       size_t n_wins)
{
	struct pipe pp = { .k = k, .deadline = deadline };
	struct params p;
	size_t i;
	int rc, transport;

	if (!PQenterPipelineMode(k->c))
		return -EIO;
	pipe_send(&pp, "BEGIN", 0, NULL, false);
	for (i = 0; i < n_forget; i++) {
		param_int(&p, 0, forget[i]);
		pipe_send(&pp, "DELETE FROM fleet_cycles WHERE unit = $1", 1, &p, false);
		pipe_send(&pp, "DELETE FROM fleet_windows WHERE unit = $1", 1, &p, false);
		pipe_send(&pp, "DELETE FROM fleet_slots WHERE unit = $1", 1, &p, false);
	}
	for (i = 0; i < n_wins; i++)
		if (wins[i].len > 0)
			send_window(&pp, &wins[i]);
	for (i = 0; i < n_rows; i++) {
		param_int(&p, 0, rows[i].unit);
		param_int(&p, 1, rows[i].cycle);
		param_double(&p, 2, rows[i].rul);
		param_text(&p, 3, rows[i].model);
		param_text(&p, 4, rows[i].version);
		param_double(&p, 5, rows[i].ts);
		pipe_send(&pp, "INSERT INTO fleet_cycles(unit, cycle, rul, model, version, ts)"
			  " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (unit, cycle) DO UPDATE"
			  " SET rul = EXCLUDED.rul, model = EXCLUDED.model,"
			  " version = EXCLUDED.version, ts = EXCLUDED.ts", 6, &p, false);
	}
	rc = pp.rc;
	if (rc == 0 && !PQpipelineSync(k->c))
		rc = -EIO;
	if (rc == 0)
		rc = pipe_flush(&pp);
	transport = rc;
	if (rc == 0)
		rc = pipe_collect(&pp, &transport);
	free(pp.cas);
	if (transport < 0 || !PQexitPipelineMode(k->c)) {
		/* the connection's state is unknown: the server rolls back when it goes */
		conn_drop(k);
		return rc < 0 ? rc : -EIO;
	}
	return rc;
}

/* One transaction, bounded by the timeout; a compare-and-set that missed rolls it back. */
static int
pg_apply(struct fleet_store *base, const int64_t *forget, size_t n_forget,
	 const struct fleet_row *rows, size_t n_rows, const struct fleet_window *wins,
	 size_t n_wins)
{
	struct pg_store *s = (struct pg_store *)base;
	double deadline = mono() + s->timeout_ms / 1000.0;
	char err[256];
	int rc;

	pthread_mutex_lock(&s->w.lock);
	rc = conn_open(s, &s->w, deadline, err, sizeof(err));
	if (rc == 0)
		rc = apply_pipeline(&s->w, deadline, forget, n_forget, rows, n_rows, wins, n_wins);
	if (rc == 0)
		rc = exec_simple(&s->w, deadline, "COMMIT");
	else if (s->w.c != NULL)
		exec_simple(&s->w, deadline, "ROLLBACK");
	pthread_mutex_unlock(&s->w.lock);
	return rc;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static int64_t
bin_int(const PGresult *res, int row, int col)
{
	uint64_t v;

	memcpy(&v, PQgetvalue(res, row, col), sizeof(v));
	return (int64_t)be64toh(v);
}

static double
bin_double(const PGresult *res, int row, int col)
{
	uint64_t v;
	double d;

	memcpy(&v, PQgetvalue(res, row, col), sizeof(v));
	v = be64toh(v);
	memcpy(&d, &v, sizeof(d));
	return d;
}

/*
 * Row i of res (SELECT unit, rul, model, version, ts, pos, slot, binary, ordered by unit) into
 * its engine's ring, fn for the ring before it when the unit changes.
 */
static int
ring_row(struct fleet_ring *g, const PGresult *res, int i, fleet_window_fn fn, void *ud)
{
	int64_t unit = bin_int(res, i, 0);
	int r = 0;

	if (unit != g->unit) {
		r = fleet_ring_emit(g, fn, ud);
		g->unit = unit;
		if (r == 0)
			r = fleet_ring_set_newest(g, bin_double(res, i, 1), bin_double(res, i, 4),
						  PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	if (r < 0 || PQgetlength(res, i, 6) != FLEET_SLOT_BYTES)
		return r; /* not written by this code */
	r = fleet_ring_add(g, PQgetvalue(res, i, 6),
			   be32toh(*(const uint32_t *)(const void *)PQgetvalue(res, i, 5)));
	return r < 0 ? r : 0;
}

#define WINDOWS_SQL								\
	"SELECT w.unit, w.rul, w.model, w.version, w.ts, s.pos, s.slot"		\
	" FROM fleet_windows w JOIN fleet_slots s ON s.unit = w.unit"

/*
 * Every window, a row at a time (single-row mode: a million windows are 6 GB, never one
 * result in memory). Not bounded by the timeout: it is the start, reading as fast as the
 * server sends.
 */
static int
pg_load(struct fleet_store *base, fleet_window_fn fn, void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	struct fleet_ring g = FLEET_RING_INIT;
	PGresult *res;
	char err[256];
	int r;

	pthread_mutex_lock(&s->r.lock);
	r = conn_open(s, &s->r, mono() + s->timeout_ms / 1000.0, err, sizeof(err));
	if (r == 0) {
		PQsetnonblocking(s->r.c, 0);
		if (!PQsendQueryParams(s->r.c, WINDOWS_SQL " ORDER BY w.unit", 0, NULL, NULL,
				       NULL, NULL, 1) ||
		    !PQsetSingleRowMode(s->r.c))
			r = -EIO;
	}
	while (s->r.c != NULL && (res = PQgetResult(s->r.c)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (r == 0 && st == PGRES_SINGLE_TUPLE)
			r = ring_row(&g, res, 0, fn, ud);
		else if (r == 0 && st != PGRES_TUPLES_OK)
			r = -EIO;
		PQclear(res);
	}
	if (r == 0)
		r = fleet_ring_emit(&g, fn, ud);
	if (s->r.c != NULL)
		PQsetnonblocking(s->r.c, 1);
	pthread_mutex_unlock(&s->r.lock);
	fleet_ring_free(&g);
	return r;
}

static int
pg_window(struct fleet_store *base, int64_t unit, fleet_window_fn fn, void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	double deadline = mono() + s->timeout_ms / 1000.0;
	struct fleet_ring g = FLEET_RING_INIT;
	struct params p;
	PGresult *res = NULL;
	char err[256];
	int r, i;

	param_int(&p, 0, unit);
	pthread_mutex_lock(&s->r.lock);
	r = conn_open(s, &s->r, deadline, err, sizeof(err));
	if (r == 0)
		res = exec_params(&s->r, deadline, WINDOWS_SQL " WHERE w.unit = $1", 1, p.v,
				  p.len, p.fmt, 1, &r);
	for (i = 0; r == 0 && i < PQntuples(res); i++)
		r = ring_row(&g, res, i, fn, ud);
	if (r == 0)
		r = fleet_ring_emit(&g, fn, ud);
	PQclear(res);
	pthread_mutex_unlock(&s->r.lock);
	fleet_ring_free(&g);
	return r;
}

static int
pg_history(struct fleet_store *base, int64_t unit, fleet_stored_fn fn, void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	double deadline = mono() + s->timeout_ms / 1000.0;
	struct fleet_stored c = { .unit = unit };
	struct params p;
	PGresult *res = NULL;
	char err[256];
	int r, i;

	param_int(&p, 0, unit);
	pthread_mutex_lock(&s->r.lock);
	r = conn_open(s, &s->r, deadline, err, sizeof(err));
	if (r == 0)
		res = exec_params(&s->r, deadline, "SELECT cycle, rul, model, version, ts"
				  " FROM fleet_cycles WHERE unit = $1 ORDER BY cycle", 1, p.v,
				  p.len, p.fmt, 1, &r);
	for (i = 0; r == 0 && i < PQntuples(res); i++) {
		c.cycle = bin_int(res, i, 0);
		c.rul = bin_double(res, i, 1);
		c.model = PQgetvalue(res, i, 2);
		c.version = PQgetvalue(res, i, 3);
		c.ts = bin_double(res, i, 4);
		r = fn(ud, &c);
	}
	PQclear(res);
	pthread_mutex_unlock(&s->r.lock);
	return r;
}

/*
 * Failure events from the feedback plugin's table feedback_failures (id, unit,
 * failed_at_cycle), when this database holds it. The cursor is shared by every instance through fleet_meta,
 * and moves only forward (GREATEST): an event one instance applied ends the engine's life in
 * the store, and another instance that still holds the engine finds its compare-and-set
 * missing and reloads nothing, starting the next life.
 */
static int
pg_failures(struct fleet_store *base, fleet_failure_fn fn, void *ud)
{
	struct pg_store *s = (struct pg_store *)base;
	double deadline = mono() + s->timeout_ms / 1000.0;
	struct params p;
	PGresult *res = NULL;
	int64_t last = s->cursor;
	int r, i;

	pthread_mutex_lock(&s->w.lock);
	/* the poll runs under the fleet's lock: it never waits for a new connection (the
	 * committer's next transaction opens one), only for a server that answers */
	r = s->w.c != NULL && PQstatus(s->w.c) == CONNECTION_OK ? 0 : 1;
	if (r == 0) {
		res = exec_params(&s->w, deadline, "SELECT to_regclass('feedback_failures') IS NOT NULL", 0,
				  NULL, NULL, NULL, 0, &r);
		if (r == 0 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			r = 1; /* the feedback plugin does not share this database */
		PQclear(res);
		res = NULL;
	}
	if (r == 0) {
		param_int(&p, 0, s->cursor);
		res = exec_params(&s->w, deadline, "SELECT id, unit, failed_at_cycle FROM feedback_failures"
				  " WHERE id > $1 ORDER BY id", 1, p.v, p.len, p.fmt, 0, &r);
	}
	for (i = 0; r == 0 && i < PQntuples(res); i++) {
		last = int_value(res, i, 0);
		fn(ud, int_value(res, i, 1), int_value(res, i, 2));
	}
	PQclear(res);
	if (r == 0 && last != s->cursor) {
		param_int(&p, 0, last);
		r = exec_p(&s->w, deadline, "INSERT INTO fleet_meta(key, value)"
			   " VALUES('failure_cursor', $1) ON CONFLICT (key) DO UPDATE"
			   " SET value = GREATEST(fleet_meta.value, EXCLUDED.value)", 1, &p, NULL);
		if (r == 0)
			s->cursor = last;
	}
	pthread_mutex_unlock(&s->w.lock);
	return r < 0 ? r : 0;
}

/* Until the next connection attempt, at least a second. */
static unsigned
pg_retry_after(struct fleet_store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	double left;

	pthread_mutex_lock(&s->w.lock);
	left = s->w.c == NULL ? s->w.retry_at - mono() : 0;
	pthread_mutex_unlock(&s->w.lock);
	return left > 1 ? (unsigned)(left + 0.999) : 1;
}

/* A dsn must not hold a password: it would sit in rulsrv.conf (use ~/.pgpass or a service). */
static int
pg_check(const char *dsn, char *why, size_t why_len)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &msg), *o;
	int r = 0;

	if (opts == NULL) {
		snprintf(why, why_len, "not a libpq connection string: %s",
			 msg ? msg : "out of memory");
		why[strcspn(why, "\n")] = '\0';
		PQfreemem(msg);
		return -EINVAL;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
			snprintf(why, why_len, "holds a password: keep it out of the configuration "
				 "(a ~/.pgpass or PGPASSFILE entry, or service=NAME with its "
				 "pg_service.conf)");
			r = -EINVAL;
		}
	PQconninfoFree(opts);
	return r;
}

const struct fleet_store_ops fleet_store_pg = {
	.name = "postgresql",
	.shared = true,
	.check = pg_check,
	.open = pg_open,
	.close = pg_close,
	.apply = pg_apply,
	.load = pg_load,
	.window = pg_window,
	.history = pg_history,
	.failures = pg_failures,
	.retry_after = pg_retry_after,
};
