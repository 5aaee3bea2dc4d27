/* SPDX-License-Identifier: MIT */
/* forest_backend.h - the predict_forest backend: the bundle's trees walked from flat arrays. */
#ifndef RULSRV_FOREST_BACKEND_H
#define RULSRV_FOREST_BACKEND_H

#include "predict_backend.h"

extern const struct predict_backend_ops forest_backend;

#endif
