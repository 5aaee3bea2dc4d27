/* SPDX-License-Identifier: MIT */
/* evaluate.c - score a model on a subset's test file: last cycle of each unit vs RUL_FD00N.txt. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double
nasa_score(const double *pred, const double *truth, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		double d = pred[i] - truth[i];

		s += d < 0 ? exp(-d / 13) - 1 : exp(d / 10) - 1;
	}
	return s;
}

static double
rmse(const double *pred, const double *truth, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (pred[i] - truth[i]) * (pred[i] - truth[i]);
	return sqrt(s / (double)n);
}

int
evaluate_subset(const char *dir, const char *subset, const struct feature_spec *spec,
		void *booster, double cap, struct eval_row *row, char *err, size_t err_len)
{
	struct cmapss_table t = { 0 };
	char file[64], path[4096];
	size_t *starts = NULL, cols = feature_spec_count(spec), e, n = 0, nrul = 0;
	double *truth = NULL, *capped = NULL, *pred = NULL, mae = 0;
	float *x = NULL, *out = NULL;
	long ne;
	int r;

	memset(row, 0, sizeof(*row));
	snprintf(row->subset, sizeof(row->subset), "%s", subset);
	snprintf(file, sizeof(file), "test_%s.txt", subset);
	if (cmapss_path(dir, file, path, sizeof(path)) < 0) {
		snprintf(err, err_len, "no %s in '%s'", file, dir);
		return -ENOENT;
	}
	r = cmapss_read(path, &t, err, err_len);
	if (r < 0)
		goto out;
	snprintf(file, sizeof(file), "RUL_%s.txt", subset);
	if (cmapss_path(dir, file, path, sizeof(path)) < 0) {
		snprintf(err, err_len, "no %s in '%s'", file, dir);
		r = -ENOENT;
		goto out;
	}
	r = cmapss_read_rul(path, &truth, &nrul, err, err_len);
	if (r < 0)
		goto out;
	ne = cmapss_engines(&t, &starts);
	if (ne < 0 || (size_t)ne != nrul) {
		snprintf(err, err_len, "%s: %ld test units but %zu RUL values", subset, ne, nrul);
		r = -EINVAL;
		goto out;
	}
	n = (size_t)ne;
	x = malloc((n + 1) * cols * sizeof(*x));
	out = malloc((n + 1) * sizeof(*out));
	pred = malloc((n + 1) * sizeof(*pred));
	capped = malloc((n + 1) * sizeof(*capped));
	if (!x || !out || !pred || !capped) {
		r = -ENOMEM;
		goto out;
	}
	for (e = 0; e < n; e++)
		features_last(spec, t.values + starts[e] * CMAPSS_N_INPUTS, t.cycle + starts[e],
			      starts[e + 1] - starts[e], x + e * cols);
	r = boost_predict(booster, x, n, cols, out, err, err_len);
	if (r < 0)
		goto out;
	for (e = 0; e < n; e++) {
		pred[e] = fmin(cap, fmax(0, out[e]));
		capped[e] = fmin(cap, truth[e]);
		mae += fabs(pred[e] - capped[e]) / (double)n;
	}
	row->units = n;
	row->rmse_capped = rmse(pred, capped, n);
	row->rmse_uncapped = rmse(pred, truth, n);
	row->nasa = nasa_score(pred, capped, n);
	row->nasa_uncapped = nasa_score(pred, truth, n);
	row->mae_capped = mae;
out:
	cmapss_table_free(&t);
	free(starts);
	free(truth);
	free(capped);
	free(pred);
	free(x);
	free(out);
	return r;
}
