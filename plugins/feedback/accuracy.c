/* SPDX-License-Identifier: MIT */
/* accuracy.c - RMSE, MAE and NASA score over a ring of the most recent scored records. */
#include "accuracy.h"

#include <stdlib.h>

/*
 * Running sums, updated by each push (add the new terms, subtract the evicted ones) and
 * summed afresh once per `size` pushes, so that the rounding of millions of add/subtract
 * pairs cannot drift: O(1) per record, whatever the window.
 */
struct fb_window {
	size_t size;
	size_t used;
	size_t next;
	size_t since_resum;
	double squared;
	double absolute;
	double nasa;
	struct fb_terms *terms;
};

struct fb_figures
fb_figures_of(size_t count, double squared_sum, double abs_sum, double nasa_sum)
{
	struct fb_figures f = { 0 };

	if (count == 0)
		return f;
	f.count = count;
	f.rmse = sqrt(squared_sum / (double)count);
	f.mae = abs_sum / (double)count;
	f.nasa_score = nasa_sum;
	return f;
}

struct fb_window *
fb_window_new(size_t size)
{
	struct fb_window *w;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->size = size > 0 ? size : 1;
	w->terms = calloc(w->size, sizeof(*w->terms));
	if (w->terms == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void
fb_window_free(struct fb_window *w)
{
	if (w == NULL)
		return;
	free(w->terms);
	free(w);
}

static void
fb_window_resum(struct fb_window *w)
{
	size_t i;

	w->squared = w->absolute = w->nasa = 0;
	for (i = 0; i < w->used; i++) {
		w->squared += w->terms[i].squared;
		w->absolute += w->terms[i].absolute;
		w->nasa += w->terms[i].nasa;
	}
	w->since_resum = 0;
}

void
fb_window_push(struct fb_window *w, const struct fb_terms *t)
{
	const struct fb_terms *old = &w->terms[w->next];

	if (w->used == w->size) {
		w->squared -= old->squared;
		w->absolute -= old->absolute;
		w->nasa -= old->nasa;
	}
	w->squared += t->squared;
	w->absolute += t->absolute;
	w->nasa += t->nasa;
	w->terms[w->next] = *t;
	w->next = (w->next + 1) % w->size;
	if (w->used < w->size)
		w->used++;
	if (++w->since_resum >= w->size)
		fb_window_resum(w);
}

struct fb_figures
fb_window_figures(const struct fb_window *w)
{
	/* the sums of non-negative terms: a rounding residue must not show as a tiny negative */
	return fb_figures_of(w->used, w->squared > 0 ? w->squared : 0,
			     w->absolute > 0 ? w->absolute : 0, w->nasa > 0 ? w->nasa : 0);
}
