/* SPDX-License-Identifier: MIT */
/* control.h - the control plane of a replay: service checks, drift window roll and readout. */
#ifndef REPLAY_CONTROL_H
#define REPLAY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"

#define DRIFT_REPORT_FEATURES 32

/* What GET /v1/drift says about the current window, reduced to what the summary shows. */
struct drift_report {
	long window_index;    /* -1 when not reported */
	char label[64];
	double observations;  /* -1 when not reported */
	char status[16];      /* "ok", "warn", "drift", or "" */
	double max_psi;       /* NAN when no feature has a PSI yet */
	char max_feature[32];
	double warn, drift;   /* the plugin's thresholds; NAN when not reported */
	/* every feature in the order listed, its PSI NAN when it has none (the report's heatmap) */
	size_t feature_count;
	char feature[DRIFT_REPORT_FEATURES][16];
	double psi[DRIFT_REPORT_FEATURES];
};

/* Parse a GET /v1/drift body; -EINVAL when it is not a JSON object. */
int drift_report_parse(const char *body, size_t len, struct drift_report *out);

/* The served model, from GET /v1/models (the first one listed). */
struct model_info {
	char name[64];
	char version[64];
	char backend[32];
};

int model_info_parse(const char *body, size_t len, struct model_info *out);

/*
 * GET base/healthz. Returns 0; -EHOSTUNREACH with "cannot reach WHAT service 'URL': curl's
 * message" in err; -EPROTO when it answers but not 200 (status and message in err).
 */
int control_check(struct client *c, const char *what, const char *base, char *err,
		  size_t err_len);
/* GET base/v1/models. */
int control_model(struct client *c, const char *base, struct model_info *m, char *err,
		  size_t err_len);
/* GET base/v1/engines?limit=1: the service runs fleet mode (POST /v1/cycles). -EPROTO with
 * the reason in err when it does not. */
int control_fleet(struct client *c, const char *base, char *err, size_t err_len);
/* POST base/v1/drift/window {"label": label}, with the bearer token. */
int control_roll(struct client *c, const char *base, const char *label, char *err,
		 size_t err_len);
/* GET base/v1/drift. */
int control_drift(struct client *c, const char *base, struct drift_report *d, char *err,
		  size_t err_len);

#endif
