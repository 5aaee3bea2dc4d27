/* SPDX-License-Identifier: MIT */
/* accuracy.c - RMSE, MAE and NASA score over a ring of the most recent scored records. */
#include "accuracy.h"

#include <stdlib.h>

struct fb_window {
	size_t size;
	size_t used;
	size_t next;
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

void
fb_window_push(struct fb_window *w, const struct fb_terms *t)
{
	w->terms[w->next] = *t;
	w->next = (w->next + 1) % w->size;
	if (w->used < w->size)
		w->used++;
}

/* Summed afresh each time: a running sum would drift after millions of add/subtract pairs,
 * and a window of a few thousand terms sums in microseconds. */
struct fb_figures
fb_window_figures(const struct fb_window *w)
{
	double sq = 0, ab = 0, nasa = 0;
	size_t i;

	for (i = 0; i < w->used; i++) {
		sq += w->terms[i].squared;
		ab += w->terms[i].absolute;
		nasa += w->terms[i].nasa;
	}
	return fb_figures_of(w->used, sq, ab, nasa);
}
