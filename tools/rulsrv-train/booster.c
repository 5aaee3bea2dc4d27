/* SPDX-License-Identifier: MIT */
/* booster.c - XGBoost through its C API: grouped k-fold tuning, the final fit, prediction. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "clocks.h"
#include "splitmix64.h"

#define EARLY_STOP 40 /* rounds without improvement before a fold stops */

static int
xgb_fail(const char *what, char *err, size_t err_len)
{
	snprintf(err, err_len, "xgboost: %s: %s", what, XGBGetLastError());
	return -EIO;
}

static int
set_params(BoosterHandle b, const struct boost_ctx *c, const struct boost_params *p)
{
	char v[32];
	int r = 0;

#define SETP(k, fmt, val)                                         \
	do {                                                      \
		snprintf(v, sizeof(v), fmt, val);                 \
		r |= XGBoosterSetParam(b, k, v);                  \
	} while (0)
	r |= XGBoosterSetParam(b, "verbosity", "0");
	r |= XGBoosterSetParam(b, "tree_method", "hist");
	r |= XGBoosterSetParam(b, "objective", "reg:squarederror");
	r |= XGBoosterSetParam(b, "eval_metric", "rmse");
	r |= XGBoosterSetParam(b, "max_bin", "64");
	SETP("seed", "%llu", (unsigned long long)(c->seed % 2147483647ULL));
	SETP("nthread", "%d", c->threads);
	SETP("max_depth", "%d", p->max_depth);
	SETP("eta", "%.17g", p->eta);
	SETP("min_child_weight", "%.17g", p->min_child_weight);
	SETP("subsample", "%.17g", p->subsample);
	SETP("colsample_bytree", "%.17g", p->colsample);
	SETP("lambda", "%.17g", p->lambda);
#undef SETP
	return r ? -EIO : 0;
}

static int
dmatrix_new(const struct matrix *m, DMatrixHandle *out, char *err, size_t err_len)
{
	if (XGDMatrixCreateFromMat(m->x, m->rows, m->cols, NAN, out) != 0)
		return xgb_fail("cannot create the training matrix", err, err_len);
	if (XGDMatrixSetFloatInfo(*out, "label", m->label, m->rows) != 0 ||
	    (m->weight != NULL && XGDMatrixSetFloatInfo(*out, "weight", m->weight, m->rows) != 0)) {
		XGDMatrixFree(*out);
		return xgb_fail("cannot set labels", err, err_len);
	}
	return 0;
}

/* Parse "[12]\tval-rmse:13.2" into 13.2. */
static double
eval_rmse(const char *s)
{
	const char *p = strstr(s, "rmse:");

	return p ? strtod(p + 5, NULL) : NAN;
}

/*
 * One fold: train on every other engine, track the validation RMSE per round until it has
 * not improved for EARLY_STOP rounds; the rest of the curve keeps the last value.
 */
static int
run_fold(const struct boost_ctx *c, const struct boost_params *p, DMatrixHandle dtrain,
	 DMatrixHandle dval, double *curve, char *err, size_t err_len)
{
	BoosterHandle b;
	DMatrixHandle cache[2] = { dtrain, dval };
	const char *names[1] = { "val" };
	double best = INFINITY;
	int it, best_it = 0, r = 0;

	if (XGBoosterCreate(cache, 2, &b) != 0)
		return xgb_fail("cannot create a booster", err, err_len);
	if (set_params(b, c, p) < 0) {
		r = xgb_fail("bad parameter", err, err_len);
		goto out;
	}
	for (it = 0; it < c->max_rounds; it++) {
		const char *res;

		if (XGBoosterUpdateOneIter(b, it, dtrain) != 0 ||
		    XGBoosterEvalOneIter(b, it, &dval, names, 1, &res) != 0) {
			r = xgb_fail("training round failed", err, err_len);
			goto out;
		}
		curve[it] = eval_rmse(res);
		if (curve[it] < best) {
			best = curve[it];
			best_it = it;
		} else if (it - best_it >= EARLY_STOP) {
			break;
		}
	}
	for (it++; it < c->max_rounds; it++)
		curve[it] = curve[it - 1];
out:
	XGBoosterFree(b);
	return r;
}

static void
progress(const struct boost_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
progress(const struct boost_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	va_start(ap, fmt);
	if (c->tty)
		fputs("\r\033[K", stderr);
	vfprintf(stderr, fmt, ap);
	if (!c->tty)
		fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
}

int
boost_tune(const struct boost_ctx *c, const struct matrix *m, size_t n_engines,
	   const struct boost_params *grid, size_t grid_n, struct boost_params *best,
	   double *cv_rmse, char *err, size_t err_len)
{
	DMatrixHandle all = NULL, dtr[8] = { 0 }, dva[8] = { 0 };
	int *fold = NULL, *idx_tr = NULL, *idx_va = NULL;
	double *curve = NULL, *sse = NULL, best_rmse = INFINITY, t0 = clocks_monotonic();
	size_t nval[8] = { 0 }, g, i, total_val = 0;
	uint64_t st = c->seed ^ 0x666f6c6473ULL;
	int f, r, it;

	if (c->folds < 2 || c->folds > 8) {
		snprintf(err, err_len, "folds must be 2..8");
		return -EINVAL;
	}
	fold = malloc((n_engines + 1) * sizeof(*fold));
	idx_tr = malloc((m->rows + 1) * sizeof(*idx_tr));
	idx_va = malloc((m->rows + 1) * sizeof(*idx_va));
	curve = malloc((size_t)c->max_rounds * sizeof(*curve));
	sse = malloc((size_t)c->max_rounds * sizeof(*sse));
	if (!fold || !idx_tr || !idx_va || !curve || !sse) {
		r = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	/* Folds over engines, never rows: the rows of one engine are strongly correlated. */
	{
		size_t *perm = malloc((n_engines + 1) * sizeof(*perm));

		if (perm == NULL) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < n_engines; i++)
			perm[i] = i;
		for (i = n_engines; i > 1; i--) {
			size_t j = (size_t)(splitmix64_next(&st) % i), t;

			t = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < n_engines; i++)
			fold[perm[i]] = (int)(i % (size_t)c->folds);
		free(perm);
	}
	r = dmatrix_new(m, &all, err, err_len);
	if (r < 0)
		goto out;
	for (f = 0; f < c->folds; f++) {
		size_t ntr = 0, nva = 0;

		for (i = 0; i < m->rows; i++) {
			if (fold[m->engine[i]] != f)
				idx_tr[ntr++] = (int)i;
			else if (m->rul[i] <= c->val_max_rul)
				idx_va[nva++] = (int)i;
		}
		if (XGDMatrixSliceDMatrix(all, idx_tr, ntr, &dtr[f]) != 0 ||
		    XGDMatrixSliceDMatrix(all, idx_va, nva, &dva[f]) != 0) {
			r = xgb_fail("cannot slice folds", err, err_len);
			goto out;
		}
		/* Validation rows count alike whatever the training weights. */
		if (m->weight != NULL) {
			float *ones = malloc((nva + 1) * sizeof(*ones));

			for (i = 0; ones != NULL && i < nva; i++)
				ones[i] = 1;
			if (ones == NULL || XGDMatrixSetFloatInfo(dva[f], "weight", ones, nva) != 0) {
				free(ones);
				r = xgb_fail("cannot set validation weights", err, err_len);
				goto out;
			}
			free(ones);
		}
		nval[f] = nva;
		total_val += nva;
	}
	for (g = 0; g < grid_n; g++) {
		int best_it = 0;
		double gbest = INFINITY;

		memset(sse, 0, (size_t)c->max_rounds * sizeof(*sse));
		for (f = 0; f < c->folds; f++) {
			progress(c, "tuning: config %zu/%zu (depth %d eta %g mcw %g sub %g col %g) "
				    "fold %d/%d, %.0f s",
				 g + 1, grid_n, grid[g].max_depth, grid[g].eta, grid[g].min_child_weight,
				 grid[g].subsample, grid[g].colsample, f + 1, c->folds, clocks_monotonic() - t0);
			r = run_fold(c, &grid[g], dtr[f], dva[f], curve, err, err_len);
			if (r < 0)
				goto out;
			for (it = 0; it < c->max_rounds; it++)
				sse[it] += curve[it] * curve[it] * (double)nval[f];
		}
		for (it = 0; it < c->max_rounds; it++) {
			double rm = sqrt(sse[it] / (double)total_val);

			if (rm < gbest) {
				gbest = rm;
				best_it = it;
			}
		}
		if (c->verbose || !c->tty)
			progress(c, "tuning: config %zu/%zu: cv rmse %.3f at %d rounds", g + 1, grid_n,
				 gbest, best_it + 1);
		if (gbest < best_rmse) {
			best_rmse = gbest;
			*best = grid[g];
			best->rounds = best_it + 1;
		}
	}
	if (c->tty)
		fputs("\r\033[K", stderr);
	*cv_rmse = best_rmse;
	r = 0;
out:
	for (f = 0; f < 8; f++) {
		if (dtr[f])
			XGDMatrixFree(dtr[f]);
		if (dva[f])
			XGDMatrixFree(dva[f]);
	}
	if (all)
		XGDMatrixFree(all);
	free(fold);
	free(idx_tr);
	free(idx_va);
	free(curve);
	free(sse);
	return r;
}

int
boost_fit_save(const struct boost_ctx *c, const struct matrix *m, const struct boost_params *p,
	       const char *path, void **booster, char *err, size_t err_len)
{
	DMatrixHandle d;
	BoosterHandle b;
	int it, r = 0;

	*booster = NULL;
	r = dmatrix_new(m, &d, err, err_len);
	if (r < 0)
		return r;
	if (XGBoosterCreate(&d, 1, &b) != 0) {
		XGDMatrixFree(d);
		return xgb_fail("cannot create a booster", err, err_len);
	}
	if (set_params(b, c, p) < 0) {
		r = xgb_fail("bad parameter", err, err_len);
		goto fail;
	}
	for (it = 0; it < p->rounds; it++) {
		if (c->tty && it % 10 == 0)
			progress(c, "training: round %d/%d", it, p->rounds);
		if (XGBoosterUpdateOneIter(b, it, d) != 0) {
			r = xgb_fail("training round failed", err, err_len);
			goto fail;
		}
	}
	if (c->tty)
		fputs("\r\033[K", stderr);
	if (XGBoosterSaveModel(b, path) != 0) {
		r = xgb_fail("cannot save the model", err, err_len);
		goto fail;
	}
	XGDMatrixFree(d);
	*booster = b;
	return 0;
fail:
	XGBoosterFree(b);
	XGDMatrixFree(d);
	return r;
}

int
boost_predict(void *booster, const float *x, size_t rows, size_t cols, float *out, char *err,
	      size_t err_len)
{
	DMatrixHandle d;
	bst_ulong len;
	const float *res;
	size_t i;

	if (XGDMatrixCreateFromMat(x, rows, cols, NAN, &d) != 0)
		return xgb_fail("cannot create a matrix", err, err_len);
	if (XGBoosterPredict(booster, d, 0, 0, 0, &len, &res) != 0 || len != rows) {
		XGDMatrixFree(d);
		return xgb_fail("prediction failed", err, err_len);
	}
	for (i = 0; i < rows; i++)
		out[i] = res[i];
	XGDMatrixFree(d);
	return 0;
}

void
boost_free(void *booster)
{
	if (booster != NULL)
		XGBoosterFree(booster);
}
