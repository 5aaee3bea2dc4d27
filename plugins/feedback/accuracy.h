/* SPDX-License-Identifier: MIT */
/* accuracy.h - error terms of one scored prediction, and a window of the most recent ones. */
#ifndef FB_ACCURACY_H
#define FB_ACCURACY_H

#include <math.h>
#include <stddef.h>

/* What one (predicted, actual) pair adds to the sums; truth is capped at cap first. */
struct fb_terms {
	double residual; /* predicted - capped actual */
	double squared;
	double absolute;
	double nasa; /* docs/MODEL.md: e^(-d/13) - 1 for d < 0, e^(d/10) - 1 for d >= 0 */
};

#define FB_NASA_D_MAX 5000.0 /* e^(5000/10) is finite; e^(7100/10) is not */

/* The NASA term of an error beyond FB_NASA_D_MAX cycles is taken at FB_NASA_D_MAX, so that
 * one absurd prediction cannot turn every sum it enters into infinity (or, once it leaves
 * a window, NaN). Posted predictions are bounded by the parser; this guards logged ones. */
static inline struct fb_terms
fb_terms_of(double predicted, double actual, double cap)
{
	struct fb_terms t;
	double d = predicted - (actual > cap ? cap : actual);
	double dn = d > FB_NASA_D_MAX ? FB_NASA_D_MAX : d < -FB_NASA_D_MAX ? -FB_NASA_D_MAX : d;

	t.residual = d;
	t.squared = d * d;
	t.absolute = fabs(d);
	t.nasa = dn < 0 ? expm1(-dn / 13.0) : expm1(dn / 10.0);
	return t;
}

/* RMSE, MAE and NASA score of n records from their sums; zeros when n is 0. */
struct fb_figures {
	size_t count;
	double rmse;
	double mae;
	double nasa_score;
};

struct fb_figures fb_figures_of(size_t count, double squared_sum, double abs_sum,
				double nasa_sum);

/* A ring of the last `size` records' terms. Not locked: the owner serialises. */
struct fb_window;

struct fb_window *fb_window_new(size_t size);
void fb_window_free(struct fb_window *w);
void fb_window_push(struct fb_window *w, const struct fb_terms *t);
struct fb_figures fb_window_figures(const struct fb_window *w);

#endif
