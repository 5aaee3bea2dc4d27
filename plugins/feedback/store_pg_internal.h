/* SPDX-License-Identifier: MIT */
/* store_pg_internal.h - what the files of the PostgreSQL store share (store_pg*.c). */
#ifndef FB_STORE_PG_INTERNAL_H
#define FB_STORE_PG_INTERNAL_H

#include "store.h"
#include "store_pg_conn.h"

#define PG_SCHEMA_VERSION 1
#define PG_LOCK_CLASS 1920298086 /* advisory lock key space of rulsrv's feedback store */
#define PG_SCHEMA_LOCK 1000000   /* session lock around schema creation and upgrades */
#define PG_BUCKETS 256
#define PG_ORDER_LOCK PG_BUCKETS /* after every bucket */

struct fb_store {
	char *dsn;
	char where[256]; /* the dsn without its secrets, for messages */
	double rul_cap;
	struct pg_shared sh;
	struct pg_link apply, log, read;
	struct pg_text a[8]; /* array literals of the log's thread */
	struct pg_text b[8];
	struct pg_text c;    /* of the committer's thread */
};

/* Create or upgrade the schema (store_pg_schema.c) on the apply connection by the deadline;
 * -EPROTO for a newer schema than this rulsrv knows. err says why. */
int pg_schema(struct fb_store *s, double deadline, char *err, size_t err_len);

/* The reads (store_pg_read.c), on the read connection, from any thread. */
int pg_lookup(struct fb_store *s, int64_t unit, int64_t cycle, fb_logged_fn fn, void *ud);
int pg_totals(struct fb_store *s, fb_totals_fn fn, void *ud);
int pg_recent(struct fb_store *s, const char *model, int64_t upto, size_t limit,
	      fb_scored_fn fn, void *ud);
int pg_last_id(struct fb_store *s, int64_t *out);
int pg_late(struct fb_store *s, int64_t *after, size_t limit, fb_scored_fn fn, void *ud);
int pg_ping(struct fb_store *s);

#endif
