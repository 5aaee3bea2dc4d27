/* SPDX-License-Identifier: MIT */
/* predict_service.h - POST /v1/predict and GET /v1/models over a pluggable model backend. */
#ifndef RULSRV_PREDICT_SERVICE_H
#define RULSRV_PREDICT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

#include "predict_backend.h"
#include "predict_request.h"

/*
 * The plugin descriptor's callbacks, shared by every model plugin. init reads the settings
 * bundle (path, required), max_instances and max_cycles (integers, default 1024); loads the
 * bundle and the model, runs a warm-up prediction, registers the routes and the metrics, and
 * publishes the model.bundle / model.name / model.version attributes. Any failure is logged
 * with the bundle path and fails init, so a reload with a bad bundle keeps the old model.
 */
int predict_service_init(struct rulsrv_host *host, const struct rulsrv_api *api,
			 const struct rulsrv_settings *settings,
			 const struct predict_backend_ops *ops, void **state);
bool predict_service_ready(void *state, char *reason, size_t reason_len);
void predict_service_fini(void *state);

/* ---- for the other protocols of the service (v2_service.c) ---------------------------- */

struct psvc;

/*
 * How an answer is written: render returns the malloc'd body (NULL when out of memory), its
 * length and media type, and may add headers to resp; rul holds r->count predictions. fail,
 * when not NULL, answers a failure of the model or of memory in the protocol's own form
 * (NULL: /v1's {"error": {"code", "message"}}).
 */
struct predict_render {
	char *(*render)(void *ctx, const struct predict_request *r, const float *rul,
			struct rulsrv_response *resp, size_t *len, const char **content_type);
	void *ctx;
	void (*fail)(void *ctx, struct rulsrv_response *resp, unsigned status,
		     const char *message);
};

/*
 * Predict every engine of r and answer 200 as how renders it, with everything /v1/predict
 * does besides: the observers (drift, the prediction log) and the metrics. A failure of the
 * model is answered and counted as /v1/predict's are. t0: clocks_monotonic() at the start.
 */
void predict_service_answer(struct psvc *s, const struct rulsrv_request *req,
			    struct rulsrv_response *resp, const struct predict_request *r,
			    double t0, const struct predict_render *how);
/* Count a request refused with status and reason code (the caller answers it). */
void predict_service_count_failure(struct psvc *s, double t0, unsigned status,
				   const char *code);

#endif
