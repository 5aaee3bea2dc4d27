/* SPDX-License-Identifier: MIT */
/* store_pg_conn.h - libpq connections of the PostgreSQL store: deadlines, reconnection, arrays. */
#ifndef FB_STORE_PG_CONN_H
#define FB_STORE_PG_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * Every call into the server has a deadline (CLOCK_MONOTONIC seconds): the connection is
 * made with PQconnectStartParams and polled, a query is sent and read in non-blocking mode,
 * and a call out of time drops the connection (the server rolls an open transaction back;
 * a statement still running there ends at statement_timeout, the same limit). So a store call returns within the deadline whether the server is
 * down, gone silent or slow; statement_timeout is set as well, for the server's own sake.
 *
 * After a connection fails, none is attempted again before a back-off (250 ms doubling to
 * 5 s) has passed: calls meanwhile fail at once, so a request during an outage gets its 503
 * at once. The back-off is shared by the connections of one store; a success resets it.
 */

struct pg_link {
	pthread_mutex_t lock; /* one call at a time per connection */
	PGconn *conn;
};

struct pg_shared {
	const char *dsn;  /* as configured, never logged */
	int timeout_ms;   /* store_timeout_ms */
	pthread_mutex_t lock;
	double retry_at;  /* monotonic: no connection attempt before */
	double backoff;   /* seconds, the next wait after a failure */
	bool up;          /* the last call reached the server */
	char error[256];  /* why the last call failed, for the logs */
};

/* Connection parameters of a dsn: `password` found (in a key=value string or a URI),
 * or a parse error (0 / -EINVAL with the reason). */
int pg_dsn_check(const char *dsn, char *err, size_t err_len);
/* "host=H port=P dbname=D user=U" or "service=NAME": what the logs may say of a dsn. */
void pg_dsn_describe(const char *dsn, char *out, size_t len);

void pg_shared_init(struct pg_shared *sh, const char *dsn, int timeout_ms);
void pg_shared_destroy(struct pg_shared *sh);
bool pg_shared_up(struct pg_shared *sh);

void pg_link_init(struct pg_link *l);
void pg_link_close(struct pg_link *l);

/* The deadline of a call starting now. */
double pg_deadline(const struct pg_shared *sh);
/* Take l->lock by the deadline: 0 or -ETIMEDOUT. */
int pg_link_lock(struct pg_link *l, double deadline);
/* Connect l when it has no connection (the back-off permitting unless force). 0 or -errno. */
int pg_link_connect(struct pg_shared *sh, struct pg_link *l, double deadline, bool force);

/*
 * Run one statement with text parameters (values[i] NULL: SQL NULL) on l, connected first if
 * need be. 0 with *res the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it) when res
 * is not NULL; else -errno: -EAGAIN for a serialization failure or a deadlock (retry the
 * transaction), -ETIMEDOUT, -ECONNRESET (the connection is gone), -EIO another SQL error.
 * l->lock is held by the caller.
 */
int pg_query(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
	     const char *const *values, double deadline, PGresult **res);
/* pg_query with the lengths and formats of PQexecParams (NULL: all text), for parameters in
 * binary form (pg_bytea_array_end). */
int pg_query_params(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
		    const char *const *values, const int *lengths, const int *formats,
		    double deadline, PGresult **res);
/* pg_query without a result. */
int pg_exec(struct pg_shared *sh, struct pg_link *l, const char *sql, int n,
	    const char *const *values, double deadline);

/* A growing text buffer for PostgreSQL array literals ("{1,2}", "{\"a\",\"b\"}"). */
struct pg_text {
	char *buf;
	size_t len, cap;
	uint32_t count; /* elements of a binary array */
	bool failed;
};

void pg_text_reset(struct pg_text *t);
void pg_text_free(struct pg_text *t);
void pg_text_int(struct pg_text *t, int64_t v);
void pg_text_double(struct pg_text *t, double v);
void pg_text_string(struct pg_text *t, const char *s); /* quoted and escaped element */
/* A quoted element of hex digits: the text of a bytea when the query decodes it
 * (decode(x, 'hex')); the elements of a text[] the query turns into bytea[]. */
void pg_text_hex(struct pg_text *t, const unsigned char *b, size_t n);
/* Close the literal ('}'), return it (NULL when out of memory). */
const char *pg_text_end(struct pg_text *t);

/* The same buffer as a bytea[] parameter in binary form (format 1): no text to parse, which
 * is most of what a server spends on an insert of segments as hex text. Add each element, then
 * take the parameter and its length (NULL when out of memory). pg_text_reset starts again. */
void pg_bytea_array_add(struct pg_text *t, const unsigned char *b, size_t n);
const char *pg_bytea_array_end(struct pg_text *t, int *len);

/* Hex digits of n bytes into out (2n + 1 chars, NUL-terminated): their length. */
size_t pg_hex_encode(char *out, const unsigned char *b, size_t n);
/* The bytes of hex digits (encode(x, 'hex')) into out: how many, or -1 when they are not
 * hex digits or more than cap. */
long pg_hex_decode(unsigned char *out, size_t cap, const char *hex);

int64_t pg_int(const PGresult *res, int row, int col);
double pg_double(const PGresult *res, int row, int col);

#endif
