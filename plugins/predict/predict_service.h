/* SPDX-License-Identifier: MIT */
/* predict_service.h - POST /v1/predict and GET /v1/models over a pluggable model backend. */
#ifndef RULSRV_PREDICT_SERVICE_H
#define RULSRV_PREDICT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

#include "predict_backend.h"

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

#endif
