/* SPDX-License-Identifier: MIT */
/* run.h - drive one quarter: engines in service, requests in flight, answers scored. */
#ifndef REPLAY_RUN_H
#define REPLAY_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "fleet.h"
#include "options.h"
#include "payload.h"
#include "progress.h"
#include "quarter.h"
#include "summary.h"

/* Requests whose failure is printed in full; later ones are only counted. */
#define RUN_ERRORS_SHOWN 5

struct run {
	struct client *client;   /* owned; main also uses it for the control plane */
	struct progress *progress; /* borrowed */
	char predict_url[4200];  /* .../v1/predict */
	char feedback_url[4200]; /* .../v1/feedback */
	char cycles_url[4200];   /* .../v1/cycles */
	char engines_url[4200];  /* .../v1/engines/ (a unit follows) */
	bool streaming;          /* one cycle per request to /v1/cycles, else the window form */
	size_t window;           /* cycles per request of the window form */
	size_t fleet_size;       /* engines in service at once */
	double failure_delay;    /* seconds between an engine's last answer and its failure event */
	double cap;              /* RUL cap of the truth the table's RMSE uses */
	volatile sig_atomic_t *stop; /* set by a signal: finish what is in flight, then return */
	size_t errors_shown;
	size_t failures_in_a_row; /* no success in between: the service is down or refuses all */
	bool aborted;            /* stopped early: signal or a service that fails everything */
	char abort_reason[1024];
	/* the quarter being run */
	struct quarter *q;
	struct fleet fleet;
	struct quarter_stats *stats;
	struct buf body;
};

/* Set up r and its HTTP client for the services of o. -ENOMEM when libcurl cannot start. */
int run_init(struct run *r, const struct replay_options *o, struct progress *p, size_t window,
	     double cap, volatile sig_atomic_t *stop);
void run_free(struct run *r);

/* Replay quarter q to the end (or until aborted), tallying into s. Returns 0, or -ENOMEM. */
int run_quarter(struct run *r, struct quarter *q, struct quarter_stats *s);

#endif
