/* SPDX-License-Identifier: MIT */
/* store_pg_conn.c - libpq calls with a deadline, the shared back-off, dsn checks, array text. */
#include "store_pg_conn.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clocks.h"

#define PG_BACKOFF_FIRST 0.25
#define PG_BACKOFF_MAX 5.0

int
pg_dsn_check(const char *dsn, char *err, size_t err_len)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int r = 0;

	opts = PQconninfoParse(dsn, &perr);
	if (opts == NULL) {
		snprintf(err, err_len, "not a libpq connection string: %s",
			 perr != NULL ? perr : "out of memory");
		if (perr != NULL) {
			/* libpq's message may quote the string: keep only its first line, and
			 * never the rest of the dsn */
			err[strcspn(err, "\n")] = '\0';
		}
		PQfreemem(perr);
		return -EINVAL;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
			snprintf(err, err_len, "holds a password: keep it out of rulsrv.conf, in "
				 "libpq's password file (~/.pgpass, PGPASSFILE) or the environment "
				 "(PGPASSWORD)");
			r = -EINVAL;
		}
	PQconninfoFree(opts);
	return r;
}

void
pg_dsn_describe(const char *dsn, char *out, size_t len)
{
	static const char *const shown[] = { "service", "host", "hostaddr", "port", "dbname",
					     "user" };
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL), *o;
	size_t i, at = 0;

	out[0] = '\0';
	if (opts == NULL) {
		snprintf(out, len, "(unparsable dsn)");
		return;
	}
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, shown[i]) == 0 && o->val != NULL && at < len) {
				int n = snprintf(out + at, len - at, "%s%s=%s", at ? " " : "",
						 o->keyword, o->val);

				at += n > 0 ? (size_t)n : 0;
			}
	if (out[0] == '\0')
		snprintf(out, len, "(libpq defaults)");
	PQconninfoFree(opts);
}

void
pg_shared_init(struct pg_shared *sh, const char *dsn, int timeout_ms)
{
	memset(sh, 0, sizeof(*sh));
	sh->dsn = dsn;
	sh->timeout_ms = timeout_ms;
	sh->backoff = PG_BACKOFF_FIRST;
	pthread_mutex_init(&sh->lock, NULL);
}

void
pg_shared_destroy(struct pg_shared *sh)
{
	pthread_mutex_destroy(&sh->lock);
}

bool
pg_shared_up(struct pg_shared *sh)
{
	bool up;

	pthread_mutex_lock(&sh->lock);
	up = sh->up;
	pthread_mutex_unlock(&sh->lock);
	return up;
}

/* Why the last call failed, one line (libpq's messages never hold a password). */
static void
pg_note_error(struct pg_shared *sh, const char *why)
{
	pthread_mutex_lock(&sh->lock);
	snprintf(sh->error, sizeof(sh->error), "%s", why);
	sh->error[strcspn(sh->error, "\n")] = '\0';
	pthread_mutex_unlock(&sh->lock);
}

/* The server answered: the back-off starts over. */
static void
pg_reached(struct pg_shared *sh)
{
	pthread_mutex_lock(&sh->lock);
	sh->up = true;
	sh->backoff = PG_BACKOFF_FIRST;
	sh->retry_at = 0;
	pthread_mutex_unlock(&sh->lock);
}

/* The server could not be reached (or not in time): no attempt before the back-off. */
static void
pg_unreachable(struct pg_shared *sh, const char *why)
{
	pthread_mutex_lock(&sh->lock);
	sh->up = false;
	sh->retry_at = clocks_monotonic() + sh->backoff;
	sh->backoff = fmin(sh->backoff * 2, PG_BACKOFF_MAX);
	pthread_mutex_unlock(&sh->lock);
	pg_note_error(sh, why);
}

void
pg_link_init(struct pg_link *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->conn = NULL;
}

void
pg_link_close(struct pg_link *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	pthread_mutex_destroy(&l->lock);
}

double
pg_deadline(const struct pg_shared *sh)
{
	return clocks_monotonic() + (sh->timeout_ms > 0 ? sh->timeout_ms / 1000.0 : 3600);
}

/* Notices ("relation already exists, skipping") are not errors: not on stderr. */
static void
pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
pg_link_lock(struct pg_link *l, double deadline)
{
	struct timespec ts;
	double wait = deadline - clocks_monotonic();

	clock_gettime(CLOCK_REALTIME, &ts);
	if (wait > 0) {
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - floor(wait)) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	return pthread_mutex_timedlock(&l->lock, &ts) == 0 ? 0 : -ETIMEDOUT;
}

/* Wait for the socket to be ready for events by the deadline: 1 ready, 0 out of time, -1. */
static int
pg_wait(PGconn *c, short events, double deadline)
{
	struct pollfd p = { .fd = PQsocket(c), .events = events };
	double left;
	int n;

	if (p.fd < 0)
		return -1;
	for (;;) {
		left = deadline - clocks_monotonic();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)ceil(left * 1000));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Drop a connection that failed or ran out of time. */
static void
pg_drop(struct pg_shared *sh, struct pg_link *l, const char *why)
{
	pg_unreachable(sh, why);
	PQfinish(l->conn);
	l->conn = NULL;
}

int
pg_link_connect(struct pg_shared *sh, struct pg_link *l, double deadline, bool force)
{
	const char *keys[] = { "application_name", "dbname", NULL };
	const char *vals[] = { "rulsrv-feedback", sh->dsn, NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char set[160];
	bool wait;
	int w;

	if (l->conn != NULL)
		return 0;
	pthread_mutex_lock(&sh->lock);
	wait = !force && clocks_monotonic() < sh->retry_at;
	pthread_mutex_unlock(&sh->lock);
	if (wait)
		return -ECONNREFUSED;
	l->conn = PQconnectStartParams(keys, vals, 1); /* the dsn overrides application_name */
	if (l->conn == NULL)
		return -ENOMEM;
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		pg_drop(sh, l, "cannot connect");
		return -ECONNREFUSED;
	}
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			pg_drop(sh, l, PQerrorMessage(l->conn));
			return -ECONNREFUSED;
		}
		w = pg_wait(l->conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (w <= 0) {
			pg_drop(sh, l, "connection timed out");
			return -ETIMEDOUT;
		}
		st = PQconnectPoll(l->conn);
	}
	PQsetNoticeProcessor(l->conn, pg_quiet, NULL);
	if (PQsetnonblocking(l->conn, 1) != 0) {
		pg_drop(sh, l, "cannot set non-blocking");
		return -EIO;
	}
	/* Durable before COMMIT returns whatever the server's default; the server's own limit
	 * on one statement, besides the client's deadline. */
	snprintf(set, sizeof(set), "SET synchronous_commit = on; SET statement_timeout = %d",
		 sh->timeout_ms > 0 ? sh->timeout_ms : 0);
	return pg_exec(sh, l, set, 0, NULL, deadline);
}

/* The errno of a failed result, from its SQLSTATE. */
static int
pg_result_errno(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL)
		return -EIO;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return -EAGAIN;
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return -ETIMEDOUT; /* statement_timeout, lock_timeout */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return -ECONNRESET; /* connection exceptions, the server shutting down */
	if (strcmp(state, "53100") == 0)
		return -ENOSPC;
	if (strncmp(state, "53", 2) == 0)
		return -ENOMEM;
	return -EIO;
}

/*
 * Out of time: drop the connection, which rolls its transaction back. No PQcancel: it makes
 * a connection of its own, blocking, which a server gone silent would hold far past the
 * deadline; a statement still running there ends at statement_timeout (the same limit).
 */
static int
pg_timeout(struct pg_shared *sh, struct pg_link *l)
{
	pg_drop(sh, l, "no answer within store_timeout_ms");
	return -ETIMEDOUT;
}

int
pg_query(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
	 const char *const *values, double deadline, PGresult **res)
{
	return pg_query_params(sh, l, sql, n, values, NULL, NULL, deadline, res);
}

int
pg_query_params(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
		const char *const *values, const int *lengths, const int *formats,
		double deadline, PGresult **res)
{
	PGresult *last = NULL, *r;
	int f, w, err = 0;

	if (res != NULL)
		*res = NULL;
	err = pg_link_connect(sh, l, deadline, false);
	if (err < 0)
		return err;
	/* without parameters, the simple protocol: a text of several statements is allowed */
	if (!(n == 0 ? PQsendQuery(l->conn, sql)
		     : PQsendQueryParams(l->conn, sql, n, NULL, values, lengths, formats, 0))) {
		pg_drop(sh, l, PQerrorMessage(l->conn));
		return -ECONNRESET;
	}
	while ((f = PQflush(l->conn)) == 1) {
		w = pg_wait(l->conn, POLLIN | POLLOUT, deadline);
		if (w == 0)
			return pg_timeout(sh, l);
		if (w < 0 || !PQconsumeInput(l->conn)) {
			pg_drop(sh, l, PQerrorMessage(l->conn));
			return -ECONNRESET;
		}
	}
	if (f < 0) {
		pg_drop(sh, l, PQerrorMessage(l->conn));
		return -ECONNRESET;
	}
	for (;;) {
		while (PQisBusy(l->conn)) {
			w = pg_wait(l->conn, POLLIN, deadline);
			if (w == 0) {
				PQclear(last);
				return pg_timeout(sh, l);
			}
			if (w < 0 || !PQconsumeInput(l->conn)) {
				PQclear(last);
				pg_drop(sh, l, PQerrorMessage(l->conn));
				return -ECONNRESET;
			}
		}
		r = PQgetResult(l->conn);
		if (r == NULL)
			break;
		if (err == 0 && PQresultStatus(r) != PGRES_TUPLES_OK &&
		    PQresultStatus(r) != PGRES_COMMAND_OK) {
			err = pg_result_errno(r);
			if (err != -ECONNRESET)
				pg_note_error(sh, PQresultErrorMessage(r));
		}
		PQclear(last);
		last = r;
	}
	if (PQstatus(l->conn) == CONNECTION_BAD || err == -ECONNRESET) {
		PQclear(last);
		pg_drop(sh, l, PQerrorMessage(l->conn));
		return -ECONNRESET;
	}
	pg_reached(sh);
	if (err < 0) {
		PQclear(last);
		return err;
	}
	if (res != NULL)
		*res = last;
	else
		PQclear(last);
	return 0;
}

int
pg_exec(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
	const char *const *values, double deadline)
{
	return pg_query(sh, l, sql, n, values, deadline, NULL);
}

/* ---- array literals -------------------------------------------------------------------- */

static void
pg_text_put(struct pg_text *t, const char *s, size_t n)
{
	char *grown;
	size_t cap;

	if (t->failed)
		return;
	if (t->len + n + 2 > t->cap) {
		cap = t->cap ? t->cap : 256;
		while (t->len + n + 2 > cap)
			cap *= 2;
		grown = realloc(t->buf, cap);
		if (grown == NULL) {
			t->failed = true;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* An element separator when one is due, or the opening brace. */
static void
pg_text_sep(struct pg_text *t)
{
	pg_text_put(t, t->len == 0 ? "{" : ",", 1);
}

void
pg_text_reset(struct pg_text *t)
{
	t->len = 0;
	t->count = 0;
	t->failed = false;
}

void
pg_text_free(struct pg_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

void
pg_text_int(struct pg_text *t, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);

	pg_text_sep(t);
	pg_text_put(t, b, (size_t)n);
}

void
pg_text_double(struct pg_text *t, double v)
{
	char b[40];
	int n = snprintf(b, sizeof(b), "%.17g", v);

	pg_text_sep(t);
	pg_text_put(t, b, (size_t)n);
}

void
pg_text_string(struct pg_text *t, const char *s)
{
	pg_text_sep(t);
	pg_text_put(t, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			pg_text_put(t, "\\", 1);
		pg_text_put(t, s, 1);
	}
	pg_text_put(t, "\"", 1);
}

static const char pg_hex_digits[] = "0123456789abcdef";

size_t
pg_hex_encode(char *out, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = pg_hex_digits[b[i] >> 4];
		out[2 * i + 1] = pg_hex_digits[b[i] & 15];
	}
	out[2 * n] = '\0';
	return 2 * n;
}

static int
pg_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
pg_hex_decode(unsigned char *out, size_t cap, const char *hex)
{
	size_t n = 0;

	for (; hex[0] != '\0'; hex += 2) {
		int hi = pg_hex_value(hex[0]), lo = hi < 0 ? -1 : pg_hex_value(hex[1]);

		if (lo < 0 || n == cap)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return (long)n;
}

void
pg_text_hex(struct pg_text *t, const unsigned char *b, size_t n)
{
	char chunk[2 * 256 + 1];
	size_t at, k;

	pg_text_sep(t);
	pg_text_put(t, "\"", 1);
	for (at = 0; at < n; at += k) {
		k = n - at < 256 ? n - at : 256;
		pg_text_put(t, chunk, pg_hex_encode(chunk, b + at, k));
	}
	pg_text_put(t, "\"", 1);
}

const char *
pg_text_end(struct pg_text *t)
{
	if (t->len == 0)
		pg_text_put(t, "{", 1);
	pg_text_put(t, "}", 1);
	return t->failed ? NULL : t->buf;
}

/* The binary form of a one-dimensional bytea[] without NULLs (array_send): a header of ndim,
 * flags, element type, length and lower bound, then each element's length and bytes, all
 * integers big-endian. */
#define PG_BYTEA_OID 17

static void
pg_put_be32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

static void
pg_bytes_put(struct pg_text *t, const void *b, size_t n)
{
	char *grown;
	size_t cap;

	if (t->failed)
		return;
	if (t->len + n > t->cap) {
		cap = t->cap ? t->cap : 4096;
		while (t->len + n > cap)
			cap *= 2;
		if ((grown = realloc(t->buf, cap)) == NULL) {
			t->failed = true;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, b, n);
	t->len += n;
}

void
pg_bytea_array_add(struct pg_text *t, const unsigned char *b, size_t n)
{
	unsigned char len[4];

	if (t->len == 0) {
		unsigned char head[20] = { 0 };

		pg_put_be32(head, 1);
		pg_put_be32(head + 8, PG_BYTEA_OID);
		pg_put_be32(head + 16, 1);
		pg_bytes_put(t, head, sizeof(head));
	}
	pg_put_be32(len, (uint32_t)n);
	pg_bytes_put(t, len, sizeof(len));
	pg_bytes_put(t, b, n);
	t->count++;
}

const char *
pg_bytea_array_end(struct pg_text *t, int *len)
{
	if (t->len == 0) { /* no element: ndim 0, no dimensions */
		unsigned char head[12] = { 0 };

		pg_put_be32(head + 8, PG_BYTEA_OID);
		pg_bytes_put(t, head, sizeof(head));
	} else if (!t->failed) {
		pg_put_be32((unsigned char *)t->buf + 12, t->count);
	}
	*len = (int)t->len;
	return t->failed ? NULL : t->buf;
}

int64_t
pg_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

double
pg_double(const PGresult *res, int row, int col)
{
	return strtod(PQgetvalue(res, row, col), NULL);
}
