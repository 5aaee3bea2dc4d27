/* SPDX-License-Identifier: MIT */
/* forest_backend.c - the predict_forest backend: lib/forest.c's flat-array walker. */
#include "forest_backend.h"

#include "forest.h"

static int
fb_load(const char *path, size_t n_features, void **model, char *err, size_t err_len)
{
	return forest_load(path, n_features, (struct forest **)model, err, err_len);
}

static int
fb_predict(void *model, const float *rows, size_t n, float *out)
{
	forest_predict(model, rows, n, out);
	return 0;
}

static void
fb_free(void *model)
{
	forest_free(model);
}

const struct predict_backend_ops forest_backend = {
	.name = "forest",
	.load = fb_load,
	.predict = fb_predict,
	.free_model = fb_free,
};
