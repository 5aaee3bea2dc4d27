/* SPDX-License-Identifier: MIT */
/* progress.c - the progress bar on a terminal, log lines elsewhere. */
#include "progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "clocks.h"

#define BAR_WIDTH 24
#define BAR_REFRESH 0.2 /* seconds */
#define LOG_REFRESH 5.0

void
progress_init(struct progress *p, enum progress_mode mode, FILE *f)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->f = f;
}

void
progress_clear(struct progress *p)
{
	if (p->bar_shown) {
		fputs("\r\033[K", p->f);
		fflush(p->f);
		p->bar_shown = false;
	}
}

static void
sample_rate(struct progress *p, const struct quarter_stats *s, double now)
{
	double dt = now - p->last_sample;

	if (dt >= 1.0 || p->last_sample == 0) {
		if (p->last_sample > 0 && s->requests >= p->last_requests)
			p->rate = (double)(s->requests - p->last_requests) / dt;
		p->last_sample = now;
		p->last_requests = s->requests;
	}
	if (p->rate == 0 && s->seconds > 0.2)
		p->rate = (double)s->requests / s->seconds; /* the first second: the average */
}

static void
draw_bar(struct progress *p, const struct quarter_stats *s)
{
	double frac = s->requests_total ? (double)s->requests / (double)s->requests_total : 1;
	char bar[BAR_WIDTH + 1];
	size_t fill = (size_t)lround(frac * BAR_WIDTH);

	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	memset(bar, '#', fill);
	memset(bar + fill, '-', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	fprintf(p->f, "\r\033[KQ%u %s [%s] %3.0f%%  engines %zu/%zu  %.0f req/s  errors %zu",
		s->number, s->subset, bar, frac * 100, s->engines_done, s->engines_total, p->rate,
		s->errors);
	fflush(p->f);
	p->bar_shown = true;
}

void
progress_update(struct progress *p, const struct quarter_stats *s, bool force)
{
	double now = clocks_monotonic();

	if (p->mode == PROGRESS_QUIET)
		return;
	sample_rate(p, s, now);
	if (force && s->seconds > 0)
		p->rate = (double)s->requests / s->seconds; /* the quarter's average at its end */
	if (p->mode == PROGRESS_BAR && (force || now - p->last_draw >= BAR_REFRESH)) {
		draw_bar(p, s);
		p->last_draw = now;
	} else if (p->mode == PROGRESS_LOG && (force || now - p->last_draw >= LOG_REFRESH)) {
		fprintf(p->f, "rulsrv-replay: Q%u %s: engines %zu/%zu, requests %zu/%zu, "
			      "%.0f req/s, errors %zu\n",
			s->number, s->subset, s->engines_done, s->engines_total, s->requests,
			s->requests_total, p->rate, s->errors);
		fflush(p->f);
		p->last_draw = now;
	}
}

void
progress_quarter_begin(struct progress *p, const struct quarter_stats *s)
{
	p->last_sample = 0;
	p->rate = 0;
	p->last_draw = clocks_monotonic();
	if (p->mode == PROGRESS_QUIET)
		return;
	progress_clear(p);
	fprintf(p->f, "rulsrv-replay: Q%u %s: %zu engines (%s), %zu prediction requests\n",
		s->number, s->subset, s->engines_total,
		s->holdout ? "the model's held-out units" : "training trajectories",
		s->requests_total);
	fflush(p->f);
	if (p->mode == PROGRESS_BAR)
		draw_bar(p, s);
}

void
progress_quarter_end(struct progress *p, const struct quarter_stats *s)
{
	if (p->mode == PROGRESS_QUIET)
		return;
	progress_clear(p);
	fprintf(p->f, "rulsrv-replay: Q%u %s done: %zu engines, %zu requests in %.1f s, "
		      "errors %zu",
		s->number, s->subset, s->engines_done, s->requests, s->seconds, s->errors);
	if (s->drift_valid && !isnan(s->drift.max_psi))
		fprintf(p->f, "; max PSI %.3f (%s)%s%s", s->drift.max_psi, s->drift.max_feature,
			s->drift.status[0] ? ", " : "", s->drift.status);
	fputc('\n', p->f);
	fflush(p->f);
}

void
progress_message(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	progress_clear(p);
	fputs("rulsrv-replay: ", p->f);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
	fputc('\n', p->f);
	fflush(p->f);
}
