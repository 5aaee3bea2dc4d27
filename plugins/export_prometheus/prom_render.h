/* SPDX-License-Identifier: MIT */
/* prom_render.h - render a metric walk as Prometheus text exposition format 0.0.4. */
#ifndef PROM_RENDER_H
#define PROM_RENDER_H

#include <stddef.h>

#include <rulsrv/plugin.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A growable output buffer; the renderer owns data until prom_render_take. */
struct prom_render {
	char *data;
	size_t len;
	size_t cap;
	int error; /* -ENOMEM once an allocation failed; the walk then stops */
	/* the family being rendered: its histogram bounds, formatted once per walk */
	const struct rulsrv_family_info *family;
	size_t name_len;
	char (*le)[32];
	size_t le_cap;
};

/* Start a walk with room for about hint bytes (the size of the previous scrape). */
int prom_render_begin(struct prom_render *r, size_t hint);
/* The rulsrv_sample_fn to hand to metrics_collect with r as ud. */
int prom_render_sample(void *ud, const struct rulsrv_family_info *family,
		       const struct rulsrv_sample *sample);
/* The rendered text (malloc'd, caller frees) and its length; r is empty afterwards. */
char *prom_render_take(struct prom_render *r, size_t *len);
/* Release whatever r still holds; accepts a zeroed or half-used r. */
void prom_render_free(struct prom_render *r);

/* A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN", integers without exponent,
 * otherwise the shortest %g that reads back to the same double. Returns the length. */
size_t prom_format_double(char *buf, size_t size, double v);

#endif
