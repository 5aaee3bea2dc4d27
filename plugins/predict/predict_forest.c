/* SPDX-License-Identifier: MIT */
/* predict_forest.c - model plugin: the bundle's XGBoost trees walked from flat arrays. */
#include <rulsrv/plugin.h>

#include "forest_backend.h"
#include "predict_service.h"

static int
forest_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	    const struct rulsrv_settings *settings, void **state)
{
	return predict_service_init(host, api, settings, &forest_backend, state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "predict_forest",
	.kind = "model",
	.version = "1.0",
	.description = "RUL predictions from the bundle's XGBoost trees, walked in flat arrays",
	.init = forest_init,
	.ready = predict_service_ready,
	.fini = predict_service_fini,
};
