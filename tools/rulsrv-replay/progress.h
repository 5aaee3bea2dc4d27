/* SPDX-License-Identifier: MIT */
/* progress.h - what a running replay shows: a bar refreshed in place, or plain log lines. */
#ifndef REPLAY_PROGRESS_H
#define REPLAY_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "summary.h"

enum progress_mode {
	PROGRESS_QUIET, /* messages only */
	PROGRESS_LOG,   /* a line every few seconds (not a terminal: CI, journal, pipes) */
	PROGRESS_BAR,   /* one line refreshed in place (a terminal) */
};

struct progress {
	enum progress_mode mode;
	FILE *f;
	bool bar_shown;
	double last_draw;
	double last_sample;      /* rate over the last interval */
	size_t last_requests;
	double rate;
};

void progress_init(struct progress *p, enum progress_mode mode, FILE *f);
/* Redraw (bar) or log (lines) when due; force draws now. */
void progress_update(struct progress *p, const struct quarter_stats *s, bool force);
void progress_quarter_begin(struct progress *p, const struct quarter_stats *s);
void progress_quarter_end(struct progress *p, const struct quarter_stats *s);
/* A message on its own line ("rulsrv-replay: ..."); the next update redraws the bar. */
void progress_message(struct progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Remove the bar before the program prints something else. */
void progress_clear(struct progress *p);

#endif
