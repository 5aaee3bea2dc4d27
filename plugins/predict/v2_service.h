/* SPDX-License-Identifier: MIT */
/* v2_service.h - the Open Inference Protocol (KServe V2 REST) routes of the prediction service. */
#ifndef RULSRV_V2_SERVICE_H
#define RULSRV_V2_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>

#include <rulsrv/plugin.h>

#include "predict_request.h"
#include "v2_infer.h"

struct psvc;
struct v2_service;

/* What the prediction service serves; strings and ready live as long as the service. */
struct v2_model {
	const char *name;
	const char *version;
	const char *platform; /* the backend's name */
	struct predict_limits lim;
	const atomic_bool *ready;
	rulsrv_refusal_fn refusal; /* counts the core's refusals of an infer request (ud: svc) */
};

/*
 * Init only: add GET /v2, /v2/health/live, /v2/health/ready, the model's metadata, ready and
 * infer routes (with and without /versions/V) and a prefix route under /v2/models/ for the 404 of any other
 * model or version. Infer requests are predicted through predict_service_answer(svc, ...).
 * 0 or -errno; *out is freed with v2_service_free (which accepts NULL).
 */
int v2_service_add(struct rulsrv_host *host, const struct rulsrv_api *api, struct psvc *svc,
		   const struct v2_model *model, struct v2_service **out);
void v2_service_free(struct v2_service *v);

#endif
