/* SPDX-License-Identifier: MIT */
/* xgb_backend.h - the predict_xgboost backend: the XGBoost C API's inplace prediction. */
#ifndef RULSRV_XGB_BACKEND_H
#define RULSRV_XGB_BACKEND_H

#include "predict_backend.h"

/*
 * load: XGBoosterLoadModel, nthread=1, number of features checked. predict:
 * XGBoosterPredictFromDense on the caller's rows (no copy, NaN = missing). The booster is
 * shared by every thread: XGBoost's inplace prediction keeps its result per thread and
 * configures the learner under its own lock, and load runs one prediction before anyone
 * else can (tests/unit/test_predict_backends.c proves many threads agree with one).
 * Objects that reference XGBoost: link PkgConfig::XGBOOST.
 */
extern const struct predict_backend_ops xgb_backend;

#endif
