/* SPDX-License-Identifier: MIT */
/* train.h - rulsrv-train internals: the training set, the booster, the evaluation. */
#ifndef RULSRV_TRAIN_H
#define RULSRV_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cmapss.h"
#include "feature_pipeline.h"
#include "train_data.h"

#define TRAIN_MAX_SUBSETS 4
#define TRAIN_UNIT_STRIDE 1000000 /* units of subset k become k * stride + unit */

/* Training rows of every subset, concatenated, with labels and the held-out mask. */
struct train_set {
	size_t subset_count;
	char subsets[TRAIN_MAX_SUBSETS][8];
	struct cmapss_table t;
	size_t *starts; /* engine e: rows starts[e] .. starts[e + 1] - 1 */
	size_t engines;
	double *label;  /* capped RUL */
	double *rul;    /* uncapped RUL */
	bool *use;      /* false: held out */
	int64_t *holdout;
	size_t holdout_count;
};

int train_set_load(struct train_set *s, const char *dir, char subsets[][8], size_t n,
		   double cap, size_t holdout, uint64_t seed, char *err, size_t err_len);
void train_set_free(struct train_set *s);

/* The feature matrix of every used row (rows x feature_spec_count). */
struct matrix {
	size_t rows, cols;
	float *x;
	float *label;  /* capped */
	float *rul;    /* uncapped */
	int *engine;   /* engine index per row */
	float *weight; /* per row, or NULL: unweighted */
};

/* equal_engines: weight rows so that every engine weighs the same in total. */
int matrix_build(struct matrix *m, const struct train_set *s, const struct feature_spec *spec,
		 bool equal_engines);
void matrix_free(struct matrix *m);

/* Hyperparameters of one booster. */
struct boost_params {
	int max_depth;
	double eta;
	double min_child_weight;
	double subsample;
	double colsample;
	double lambda;
	int rounds;
};

struct boost_ctx {
	uint64_t seed;
	int threads;
	int max_rounds;
	int folds;
	bool tty;
	bool quiet;
	bool verbose;
	double val_max_rul; /* validation rows: uncapped RUL at most this (test-like) */
};

/* Choose hyperparameters by k-fold over engines; fills best (rounds included) and cv_rmse. */
int boost_tune(const struct boost_ctx *c, const struct matrix *m, size_t n_engines,
	       const struct boost_params *grid, size_t grid_n, struct boost_params *best,
	       double *cv_rmse, char *err, size_t err_len);
/* Fit on every row of m and save to path. */
int boost_fit_save(const struct boost_ctx *c, const struct matrix *m,
		   const struct boost_params *p, const char *path, void **booster, char *err,
		   size_t err_len);
int boost_predict(void *booster, const float *x, size_t rows, size_t cols, float *out,
		  char *err, size_t err_len);
void boost_free(void *booster);

/* Evaluation on test files. */
struct eval_row {
	char subset[8];
	size_t units;
	double rmse_capped, rmse_uncapped, nasa, nasa_uncapped, mae_capped;
};

int evaluate_subset(const char *dir, const char *subset, const struct feature_spec *spec,
		    void *booster, double cap, struct eval_row *row, char *err, size_t err_len);
double nasa_score(const double *pred, const double *truth, size_t n);

#endif
