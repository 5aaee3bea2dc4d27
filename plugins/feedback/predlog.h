/* SPDX-License-Identifier: MIT */
/* predlog.h - the prediction log: a queue grown up to a budget before the store, never blocking. */
#ifndef FB_PREDLOG_H
#define FB_PREDLOG_H

#include <stddef.h>
#include <stdint.h>

#include <rulsrv/plugin.h>

#include "store.h"

struct fb_predlog;

/* Called on the log's thread after each write: n entries written (r == 0) or lost (r < 0). */
typedef void (*fb_predlog_fn)(void *ud, size_t n, int r);

/* Start the writer thread. Borrows ops and store, which must outlive the log. */
int fb_predlog_new(const struct fb_store_ops *ops, struct fb_store *store, size_t capacity,
		   fb_predlog_fn hook, void *ud, struct fb_predlog **out);
#define FB_PREDLOG_EXPIRE_EVERY 60.0 /* seconds between retention passes */

/* Keep logged predictions for `seconds` (0: forever): the log's thread deletes older ones, in
 * chunks, right away and at each fb_predlog_expire. */
void fb_predlog_set_retention(struct fb_predlog *p, double seconds);
/* Have the log's thread run a retention pass soon, without waiting for it: for a timer every
 * FB_PREDLOG_EXPIRE_EVERY seconds. Does nothing without a retention. */
void fb_predlog_expire(struct fb_predlog *p);
/* Queue the batch's predictions without waiting; returns how many did not fit (dropped). */
size_t fb_predlog_push(struct fb_predlog *p, const struct rulsrv_prediction_batch *b);
/*
 * The same with a hold (NULL: none): release(ud, hold, status) is called once (ud: the
 * hook's), on the log's
 * thread after the store took the batch's predictions (0) or failed to (its error), or at
 * once (-ENOBUFS) when not all of them fit the queue. Records flagged
 * RULSRV_PREDICTION_REPEAT are logged only when the log does not have them already.
 */
typedef void (*fb_predlog_release_fn)(void *ud, void *hold, int status);
size_t fb_predlog_push_held(struct fb_predlog *p, const struct rulsrv_prediction_batch *b,
			    void *hold);
/* Set before the first push with a hold. */
void fb_predlog_set_release(struct fb_predlog *p, fb_predlog_release_fn release);
/* Write what is queued, stop the writer, free. Accepts NULL. */
void fb_predlog_free(struct fb_predlog *p);

#endif
