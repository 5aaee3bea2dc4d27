/* SPDX-License-Identifier: MIT */
/* predict_backend.h - a model backend: how one model plugin turns feature rows into RUL. */
#ifndef RULSRV_PREDICT_BACKEND_H
#define RULSRV_PREDICT_BACKEND_H

#include <stddef.h>

/*
 * The service (predict_service.h) does everything else (bundle, settings, parsing, features,
 * metrics, observers), so the two model plugins differ only in this table. A backend knows
 * nothing of the service or of the plugin ABI, and the service reaches a backend only
 * through the table its plugin hands it.
 */
struct predict_backend_ops {
	const char *name; /* the backend label of model_info: "xgboost", "forest" */
	/*
	 * Load the XGBoost JSON model at path, for rows of n_features features. On success
	 * *model is owned by the caller (release with free_model); on failure err says why.
	 * Returns 0 or -errno.
	 */
	int (*load)(const char *path, size_t n_features, void **model, char *err, size_t err_len);
	/*
	 * Predict n rows (row-major, n x n_features floats, NaN = missing) into out[n].
	 * Called concurrently from every worker thread: must be thread-safe. 0 or -errno.
	 */
	int (*predict)(void *model, const float *rows, size_t n, float *out);
	void (*free_model)(void *model);
};

#endif
