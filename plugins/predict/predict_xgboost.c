/* SPDX-License-Identifier: MIT */
/* predict_xgboost.c - model plugin: RUL predictions through the XGBoost C API. */
#include <rulsrv/plugin.h>

#include "predict_service.h"
#include "xgb_backend.h"

static int
xgb_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	 const struct rulsrv_settings *settings, void **state)
{
	return predict_service_init(host, api, settings, &xgb_backend, state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "predict_xgboost",
	.kind = "model",
	.version = "1.0",
	.description = "RUL predictions from the bundle's model through the XGBoost C API",
	.init = xgb_init,
	.ready = predict_service_ready,
	.fini = predict_service_fini,
};
