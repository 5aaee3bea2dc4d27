/* SPDX-License-Identifier: MIT */
/* xgb_backend.c - the predict_xgboost backend: the XGBoost C API's inplace prediction. */
#include "xgb_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

/* Missing values are NaN, every tree, plain values (not margins), nothing cached. */
static const char predict_config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
				     "\"iteration_end\": 0, \"strict_shape\": false, "
				     "\"missing\": NaN, \"cache_id\": 0}";

struct xgb_model {
	BoosterHandle booster;
	size_t n_features;
};

static void
xgb_free(void *model)
{
	struct xgb_model *m = model;

	if (m == NULL)
		return;
	if (m->booster != NULL)
		XGBoosterFree(m->booster);
	free(m);
}

static int
xgb_predict(void *model, const float *rows, size_t n, float *out)
{
	const struct xgb_model *m = model;
	char iface[160];
	const bst_ulong *shape;
	bst_ulong dim;
	const float *res;

	if (n == 0)
		return 0;
	snprintf(iface, sizeof(iface),
		 "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
		 "\"version\": 3}", (uintptr_t)rows, n, m->n_features);
	if (XGBoosterPredictFromDense(m->booster, iface, predict_config, NULL, &shape, &dim,
				      &res) != 0)
		return -EIO;
	memcpy(out, res, n * sizeof(*out));
	return 0;
}

static int
xgb_load(const char *path, size_t n_features, void **model, char *err, size_t err_len)
{
	struct xgb_model *m;
	bst_ulong nf = 0;
	float *row = NULL, out;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->n_features = n_features;
	if (XGBoosterCreate(NULL, 0, &m->booster) != 0 ||
	    XGBoosterLoadModel(m->booster, path) != 0 ||
	    XGBoosterSetParam(m->booster, "nthread", "1") != 0 ||
	    XGBoosterGetNumFeature(m->booster, &nf) != 0) {
		snprintf(err, err_len, "XGBoost cannot load '%s': %s", path, XGBGetLastError());
		goto fail;
	}
	if (nf != n_features) {
		snprintf(err, err_len, "'%s' has %llu features, the bundle's pipeline %zu", path,
			 (unsigned long long)nf, n_features);
		goto fail;
	}
	/* configure the learner now, before any concurrent prediction */
	row = calloc(n_features ? n_features : 1, sizeof(*row));
	if (row == NULL || xgb_predict(m, row, 1, &out) < 0) {
		snprintf(err, err_len, "XGBoost cannot predict with '%s': %s", path,
			 XGBGetLastError());
		goto fail;
	}
	free(row);
	*model = m;
	return 0;
fail:
	free(row);
	xgb_free(m);
	return -EINVAL;
}

const struct predict_backend_ops xgb_backend = {
	.name = "xgboost",
	.load = xgb_load,
	.predict = xgb_predict,
	.free_model = xgb_free,
};
