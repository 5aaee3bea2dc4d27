/* SPDX-License-Identifier: MIT */
/* segment.c - the item encoding of a prediction segment (segment.h). */
#include "segment.h"

#include <string.h>

static void
item_put_u64(unsigned char *b, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
item_get_u64(const unsigned char *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

void
fb_item_encode(unsigned char *b, const struct fb_item *it)
{
	uint64_t u;

	item_put_u64(b, (uint64_t)it->cycle);
	memcpy(&u, &it->rul, sizeof(u));
	item_put_u64(b + 8, u);
	memcpy(&u, &it->ts, sizeof(u));
	item_put_u64(b + 16, u);
	item_put_u64(b + 24, it->flags);
}

struct fb_item
fb_item_decode(const unsigned char *b)
{
	struct fb_item it;
	uint64_t u;

	it.cycle = (int64_t)item_get_u64(b);
	u = item_get_u64(b + 8);
	memcpy(&it.rul, &u, sizeof(u));
	u = item_get_u64(b + 16);
	memcpy(&it.ts, &u, sizeof(u));
	it.flags = item_get_u64(b + 24);
	return it;
}

void
fb_item_mark(unsigned char *blob, size_t i)
{
	unsigned char *f = blob + i * FB_ITEM_BYTES + 24;

	item_put_u64(f, item_get_u64(f) | FB_ITEM_SCORED);
}

int
fb_segment_each_logged(const unsigned char *blob, size_t len, int64_t cycle,
		       struct fb_logged *p, fb_logged_fn fn, void *ud)
{
	size_t k;
	int r = 0;

	for (k = 0; k < len / FB_ITEM_BYTES && r == 0; k++) {
		struct fb_item it = fb_item_decode(blob + k * FB_ITEM_BYTES);

		if (cycle >= 0 && it.cycle != cycle)
			continue;
		p->cycle = it.cycle;
		p->rul = it.rul;
		p->timestamp = it.ts;
		r = fn(ud, p);
	}
	return r;
}
