/* SPDX-License-Identifier: MIT */
/* store.h - the feedback store: ground truth and the prediction log behind a small vtable. */
#ifndef FB_STORE_H
#define FB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * A backend is a const struct fb_store_ops: fb_store_sqlite (store_sqlite.c, a file) and
 * fb_store_pg (store_pg.c, a PostgreSQL database several daemons may share), with the same
 * contract; the rest of the plugin only talks to this header.
 *
 * Threads: apply and log_predictions are called from one writer thread each; lookup, totals,
 * recent, last_id and late may be called from any thread concurrently with them. Callbacks (fb_*_fn) run
 * while the store holds its connection: they must not call back into the store.
 */

#define FB_MODEL_MAX 128 /* model and version names, NUL included; longer ones are cut */

struct fb_store;

enum fb_record_kind {
	FB_RECORD_SCORED,  /* actual and predicted given */
	FB_RECORD_MATCH,   /* actual given; predicted from the logged prediction of (unit, cycle) */
	FB_RECORD_FAILURE, /* the unit failed at failed_at: scores its unscored logged predictions */
};

/* One ground-truth record as posted. model "" means: the logged prediction's model. */
struct fb_record {
	enum fb_record_kind kind;
	int64_t unit;
	int64_t cycle;     /* SCORED, MATCH */
	int64_t failed_at; /* FAILURE */
	double actual;     /* SCORED, MATCH: RUL in cycles, uncapped */
	double predicted;  /* SCORED */
	char model[FB_MODEL_MAX];
};

/* One (prediction, truth) pair the store recorded; actual is uncapped. */
struct fb_scored {
	int64_t unit;
	int64_t cycle;
	double predicted;
	double actual;
	char model[FB_MODEL_MAX];
};

/* A growing array of scored pairs, as the stores collect them for fb_group.scored. */
struct fb_scored_list {
	struct fb_scored *items;
	size_t count, cap;
};

/* Room for one more pair at the end (NULL when out of memory, the list unchanged). */
static inline struct fb_scored *
fb_scored_push(struct fb_scored_list *l)
{
	struct fb_scored *n;
	size_t cap;

	if (l->count == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		n = realloc(l->items, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		l->items = n;
		l->cap = cap;
	}
	return &l->items[l->count++];
}

/*
 * The records of one request, applied all or nothing. The store fills the outputs:
 * status 0, or -ENOENT when a MATCH record has no logged prediction (err_index names it),
 * or another -errno; scored is a malloc'd array the caller frees (NULL when none).
 */
struct fb_group {
	const struct fb_record *records;
	size_t count;
	double received_at;
	double deadline; /* CLOCK_MONOTONIC seconds: a server store gives up then (0: none) */
	int status;
	size_t err_index;
	struct fb_scored *scored;
	size_t scored_count;
};

/* One logged prediction. The strings are borrowed: for the call that takes or gives it. */
struct fb_logged {
	int64_t unit;
	int64_t cycle;
	double rul;
	double timestamp;
	const char *model;
	const char *version;
	/* a repeat of a prediction answered before (RULSRV_PREDICTION_REPEAT): log_predictions
	 * stores it only when the log has no prediction of its unit, cycle and model with the
	 * same RUL */
	bool repeat;
};

/* All-time figures of one model, from the store. */
struct fb_totals {
	char model[FB_MODEL_MAX];
	uint64_t count;
	double squared_error_sum;
	double abs_error_sum;
	double nasa_score;
};

struct fb_store_config {
	double rul_cap;     /* truth is capped at this before errors are summed */
	int busy_timeout_ms; /* wait this long for another connection's write lock */
	int timeout_ms;      /* a server store: every call returns within this (0: no limit) */
};

typedef int (*fb_logged_fn)(void *ud, const struct fb_logged *p);
typedef int (*fb_totals_fn)(void *ud, const struct fb_totals *t);
typedef int (*fb_scored_fn)(void *ud, const struct fb_scored *s);

struct fb_store_ops {
	const char *name;
	/* Predictions per log_predictions call at most (0: the log's own chunk, 65536): a server
	 * store whose transaction holds locks other daemons wait for keeps it short. */
	size_t max_log_batch;
	/* Open or create the store at location. On failure, err holds the reason. */
	int (*open)(const char *location, const struct fb_store_config *cfg, struct fb_store **out,
		    char *err, size_t err_len);
	/*
	 * Apply every group in one transaction and make it durable before returning 0: each
	 * group succeeds or fails alone (its status), the transaction commits the ones that
	 * succeeded. A negative return means nothing was stored (every group's status is set).
	 */
	int (*apply)(struct fb_store *s, struct fb_group *groups, size_t n);
	/*
	 * Append logged predictions in one transaction; the order of the log is kept for the
	 * predictions of each unit ("the latest" below is the last logged). A prediction whose unit has a failure
	 * event recorded already (made before the event arrived, with a cycle not after the
	 * failure's) is scored in that transaction, as the event would have scored it, and its
	 * record is one that `late` returns. -EAGAIN: nothing was stored and the same call may
	 * succeed later (a server store that cannot reach its server now): the caller may
	 * repeat it. Another error after a COMMIT was sent leaves the outcome unknown.
	 */
	int (*log_predictions)(struct fb_store *s, const struct fb_logged *p, size_t n);
	/* Delete logged predictions made before `before` (seconds since the epoch), up to limit
	 * stored rows; *deleted says how many rows went. A backend that stores several
	 * predictions in a row (SQLite: a segment) deletes a row once all of it is older. */
	int (*expire_predictions)(struct fb_store *s, double before, size_t limit,
				  size_t *deleted);
	/* Logged predictions of a unit (cycle >= 0: of that cycle only), oldest first. */
	int (*lookup)(struct fb_store *s, int64_t unit, int64_t cycle, fb_logged_fn fn, void *ud);
	/* All-time figures per model. */
	int (*totals)(struct fb_store *s, fb_totals_fn fn, void *ud);
	/* The last limit scored records with an id up to upto (of model, or of every model
	 * when NULL), oldest first. */
	int (*recent)(struct fb_store *s, const char *model, int64_t upto, size_t limit,
		      fb_scored_fn fn, void *ud);
	/* The id of the last scored record (0: none): a mark for recent and late. */
	int (*last_id)(struct fb_store *s, int64_t *out);
	/* Up to limit records scored by log_predictions (not by apply) with an id after
	 * *after, oldest first; *after moves to the last one given. */
	int (*late)(struct fb_store *s, int64_t *after, size_t limit, fb_scored_fn fn, void *ud);
	/* Is the store reachable? One round trip to a server (reconnecting after its back-off),
	 * 0 or -errno; NULL for a store that is a local file (always there once open). */
	int (*ping)(struct fb_store *s);
	/* Accepts NULL. */
	void (*close)(struct fb_store *s);
};

extern const struct fb_store_ops fb_store_sqlite;
extern const struct fb_store_ops fb_store_pg;

#endif
