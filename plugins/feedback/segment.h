/* SPDX-License-Identifier: MIT */
/* segment.h - the prediction log's segments, as both stores keep them: items and ids. */
#ifndef FB_SEGMENT_H
#define FB_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * A segment holds the predictions of one unit, model and version from one drain of the log
 * (store_sqlite.c, store_pg.c): one row, one index entry, and a blob of items. An item is
 * FB_ITEM_BYTES, little-endian whatever the host: cycle (int64), predicted RUL and time made
 * (IEEE 754 doubles), flags (int64, FB_ITEM_SCORED). An item's prediction id (the records'
 * prediction_id) is segment id * FB_SEGMENT_ID_SCALE + its index: ids keep the order of the
 * log, so "the latest" is the highest id, as with one row each. A segment holds FB_SEGMENT_MAX
 * items at most, so that marking one scored rewrites 16 KiB at most.
 */
#define FB_ITEM_BYTES 32
#define FB_ITEM_SCORED 1
#define FB_SEGMENT_MAX 512 /* items per segment: a 16 KiB blob, rewritten when one is scored */
#define FB_SEGMENT_ID_SCALE 1024
#define FB_SEGMENT_BYTES (FB_SEGMENT_MAX * FB_ITEM_BYTES)

struct fb_item {
	int64_t cycle;
	double rul;
	double ts;
	uint64_t flags;
};

/* Write it into b (FB_ITEM_BYTES). */
void fb_item_encode(unsigned char *b, const struct fb_item *it);
/* Read the item at b (FB_ITEM_BYTES). */
struct fb_item fb_item_decode(const unsigned char *b);
/* Mark item i of an encoded blob scored. */
void fb_item_mark(unsigned char *blob, size_t i);

/*
 * A lookup's answer from one segment: each item of the encoded blob (len bytes) whose cycle is
 * cycle (every item when cycle < 0) to fn as *p, whose unit, model and version the caller has
 * set. fn's first non-zero result, else 0.
 */
int fb_segment_each_logged(const unsigned char *blob, size_t len, int64_t cycle,
			   struct fb_logged *p, fb_logged_fn fn, void *ud);

/* The prediction id of item index of segment. */
static inline int64_t
fb_segment_prediction_id(int64_t segment, size_t index)
{
	return segment * FB_SEGMENT_ID_SCALE + (int64_t)index;
}

#endif
