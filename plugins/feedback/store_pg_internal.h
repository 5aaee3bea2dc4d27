/* SPDX-License-Identifier: MIT */
/* store_pg_internal.h - what the files of the PostgreSQL store share (store_pg*.c). */
#ifndef FB_STORE_PG_INTERNAL_H
#define FB_STORE_PG_INTERNAL_H

#include "segment.h"
#include "store.h"
#include "store_pg_conn.h"

#define PG_SCHEMA_VERSION 2
#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)
#define PG_ID_SCALE_TEXT PG_STR(FB_SEGMENT_ID_SCALE) /* for SQL texts */
#define PG_SEGMENT_COLUMNS 9 /* arrays of an insert of segments (store_pg_log.c) */
#define PG_LOCK_CLASS 1920298086 /* advisory lock key space of rulsrv's feedback store */
#define PG_SCHEMA_LOCK 1000000   /* session lock around schema creation and upgrades */
#define PG_BUCKETS 256
#define PG_ORDER_LOCK PG_BUCKETS /* after every bucket */
#define PG_ATTEMPTS 3 /* a transaction that meets a deadlock or serialization failure */

struct fb_store {
	char *dsn;
	char where[256]; /* the dsn without its secrets, for messages */
	double rul_cap;
	struct pg_shared sh;
	struct pg_link apply, log, read;
	struct pg_text a[10]; /* array literals of the log's thread */
	struct pg_text b[10];
	struct pg_text c[8];  /* of the committer's thread */
	/* the committer's scratch: a segment's items, and their hex digits to write back */
	unsigned char blob[FB_SEGMENT_BYTES];
	char hex[2 * FB_SEGMENT_BYTES + 1];
};

/* Advisory lock bucket of a unit. */
int pg_bucket(int64_t unit);
/* Take the advisory locks of the buckets set in `used` (and the order lock), ascending. */
int pg_lock_buckets(struct fb_store *s, struct pg_link *l, const bool *used, bool order,
		    struct pg_text *t, double deadline);
/* Add scored records to the totals: one upsert per model. */
int pg_add_totals(struct fb_store *s, struct pg_link *l, const struct fb_scored_list *sc,
		  double deadline);
/* BEGIN, connecting again once when the server closed an idle connection. */
int pg_begin(struct fb_store *s, struct pg_link *l, double deadline);

/* The prediction log (store_pg_log.c), on the log connection. */
int pg_log_predictions(struct fb_store *s, const struct fb_logged *p, size_t n);
int pg_expire_predictions(struct fb_store *s, double before, size_t limit, size_t *deleted);

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
