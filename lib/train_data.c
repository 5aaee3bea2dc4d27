/* SPDX-License-Identifier: MIT */
/* train_data.c - fit the feature pipeline's statistics and the drift reference on training rows. */
#include "train_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature_pipeline_impl.h"

#define DRIFT_QUANTILE_BINS 10
#define DRIFT_DISCRETE_MAX 20      /* at most this many distinct values: discrete */
#define DRIFT_DISCRETE_MIN_SHARE 0.02 /* rarer value groups merge into a neighbour */

void
feature_options_default(struct feature_options *o)
{
	memset(o, 0, sizeof(*o));
	o->window = 30;
	o->mean_spans[0] = 5;
	o->mean_spans[1] = 10;
	o->mean_spans[2] = 30;
	o->mean_span_count = 3;
	o->std_spans[0] = 10;
	o->std_spans[1] = 30;
	o->std_span_count = 2;
	o->slope_spans[0] = 10;
	o->slope_spans[1] = 30;
	o->slope_span_count = 2;
	o->ewma_alpha[0] = 0.1;
	o->ewma_alpha[1] = 0.3;
	o->ewma_count = 2;
	o->with_last = true;
	o->with_cycle = true;
	o->regime_radius = 1.0;
	o->min_corr = 0.05;
}

long
cmapss_engines(const struct cmapss_table *t, size_t **starts)
{
	size_t i, n = 0, *s;

	s = malloc((t->rows + 1) * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < t->rows; i++)
		if (i == 0 || t->unit[i] != t->unit[i - 1] || t->cycle[i] <= t->cycle[i - 1])
			s[n++] = i;
	s[n] = t->rows;
	*starts = s;
	return (long)n;
}

int
cmapss_labels(const struct cmapss_table *t, double cap, double **labels)
{
	size_t *st, e, i;
	double *l;
	long n;

	n = cmapss_engines(t, &st);
	if (n < 0)
		return (int)n;
	l = malloc((t->rows + 1) * sizeof(*l));
	if (l == NULL) {
		free(st);
		return -ENOMEM;
	}
	for (e = 0; e < (size_t)n; e++) {
		int64_t last = t->cycle[st[e + 1] - 1];

		for (i = st[e]; i < st[e + 1]; i++)
			l[i] = fmin(cap, (double)(last - t->cycle[i]));
	}
	free(st);
	*labels = l;
	return 0;
}

/* ---- regimes ----------------------------------------------------------------------- */

static double
regime_dist(const struct feature_spec *s, const double *c, const double *x)
{
	double d = 0;
	int j;

	for (j = 0; j < CMAPSS_N_SETTINGS; j++) {
		double t = (x[j] - c[j]) * s->setting_scale[j];
		d += t * t;
	}
	return d;
}

/*
 * Leader clustering (a row farther than the radius from every centre opens a new one),
 * then a few Lloyd steps. Deterministic and needs no k: C-MAPSS operating conditions are
 * tight clusters far apart, so one radius fits every subset.
 */
static int
fit_regimes(const struct cmapss_table *t, const bool *use, double radius, struct feature_spec *s,
	    char *err, size_t err_len)
{
	double sum[FEATURES_MAX_REGIMES][CMAPSS_N_SETTINGS];
	size_t cnt[FEATURES_MAX_REGIMES], i, r;
	int it, j;

	s->setting_scale[0] = 1.0;  /* altitude, thousands of feet */
	s->setting_scale[1] = 10.0; /* Mach number */
	s->setting_scale[2] = 0.1;  /* throttle resolver angle */
	s->regime_count = 0;
	for (i = 0; i < t->rows; i++) {
		const double *x = t->values + i * CMAPSS_N_INPUTS;
		bool near = false;

		if (use != NULL && !use[i])
			continue;
		for (r = 0; r < s->regime_count && !near; r++)
			near = regime_dist(s, s->centers[r], x) <= radius * radius;
		if (near)
			continue;
		if (s->regime_count == FEATURES_MAX_REGIMES) {
			snprintf(err, err_len, "more than %d operating regimes in the settings",
				 FEATURES_MAX_REGIMES);
			return -EINVAL;
		}
		memcpy(s->centers[s->regime_count++], x, sizeof(s->centers[0]));
	}
	for (it = 0; it < 5; it++) {
		memset(sum, 0, sizeof(sum));
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < t->rows; i++) {
			const double *x = t->values + i * CMAPSS_N_INPUTS;

			if (use != NULL && !use[i])
				continue;
			r = feature_spec_regime(s, x);
			cnt[r]++;
			for (j = 0; j < CMAPSS_N_SETTINGS; j++)
				sum[r][j] += x[j];
		}
		for (r = 0; r < s->regime_count; r++)
			for (j = 0; j < CMAPSS_N_SETTINGS && cnt[r]; j++)
				s->centers[r][j] = sum[r][j] / (double)cnt[r];
	}
	return 0;
}

/* Per-regime mean and deviation of every sensor; then keep the informative ones. */
static int
fit_sensors(const struct cmapss_table *t, const bool *use, const double *labels, double min_corr,
	    struct feature_spec *s)
{
	static double mean[FEATURES_MAX_REGIMES][CMAPSS_N_SENSORS];
	static double m2[FEATURES_MAX_REGIMES][CMAPSS_N_SENSORS];
	double cnt[FEATURES_MAX_REGIMES] = { 0 };
	double sz[CMAPSS_N_SENSORS] = { 0 }, szz[CMAPSS_N_SENSORS] = { 0 };
	double szl[CMAPSS_N_SENSORS] = { 0 }, sl = 0, sll = 0, n = 0;
	size_t *reg, i, r, k, kept = 0;

	reg = malloc(t->rows * sizeof(*reg) + 1);
	if (reg == NULL)
		return -ENOMEM;
	memset(mean, 0, sizeof(mean));
	memset(m2, 0, sizeof(m2));
	for (i = 0; i < t->rows; i++) {
		const double *x = t->values + i * CMAPSS_N_INPUTS;

		if (use != NULL && !use[i])
			continue;
		r = reg[i] = feature_spec_regime(s, x);
		cnt[r]++;
		for (k = 0; k < CMAPSS_N_SENSORS; k++) {
			double v = x[CMAPSS_N_SETTINGS + k], d = v - mean[r][k];

			mean[r][k] += d / cnt[r];
			m2[r][k] += d * (v - mean[r][k]);
		}
	}
	for (i = 0; labels != NULL && i < t->rows; i++) {
		const double *x = t->values + i * CMAPSS_N_INPUTS;

		if (use != NULL && !use[i])
			continue;
		r = reg[i];
		n++;
		sl += labels[i];
		sll += labels[i] * labels[i];
		for (k = 0; k < CMAPSS_N_SENSORS; k++) {
			double sd = cnt[r] > 1 ? sqrt(m2[r][k] / cnt[r]) : 0;
			double z = sd > 1e-9 ? (x[CMAPSS_N_SETTINGS + k] - mean[r][k]) / sd : 0;

			sz[k] += z;
			szz[k] += z * z;
			szl[k] += z * labels[i];
		}
	}
	for (k = 0; k < CMAPSS_N_SENSORS; k++) {
		bool varies = false;

		for (r = 0; r < s->regime_count; r++)
			varies |= cnt[r] > 1 && sqrt(m2[r][k] / cnt[r]) > 1e-9;
		if (!varies)
			continue;
		if (labels != NULL && n > 1) {
			double cov = szl[k] / n - (sz[k] / n) * (sl / n);
			double vz = szz[k] / n - (sz[k] / n) * (sz[k] / n);
			double vl = sll / n - (sl / n) * (sl / n);
			double corr = vz > 0 && vl > 0 ? cov / sqrt(vz * vl) : 0;

			if (fabs(corr) < min_corr)
				continue;
		}
		s->sensors[kept] = CMAPSS_N_SETTINGS + (int)k;
		for (r = 0; r < s->regime_count; r++) {
			double sd = cnt[r] > 1 ? sqrt(m2[r][k] / cnt[r]) : 0;

			s->mean[r][kept] = mean[r][k];
			s->std[r][kept] = sd > 1e-9 ? sd : 1.0;
		}
		kept++;
	}
	s->sensor_count = kept;
	free(reg);
	return 0;
}

/* Spans longer than the window are clipped to it, duplicates then dropped. */
static size_t
spans_copy(size_t *dst, const size_t *src, size_t n, size_t window)
{
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		size_t s = src[i] > window ? window : src[i];
		bool dup = false;

		for (j = 0; j < k; j++)
			dup |= dst[j] == s;
		if (!dup)
			dst[k++] = s;
	}
	return k;
}

int
feature_spec_fit(const struct cmapss_table *t, const bool *use_row, const double *labels,
		 const struct feature_options *o, struct feature_spec **out, char *err,
		 size_t err_len)
{
	struct feature_spec *s;
	int r;

	*out = NULL;
	if (o->mean_span_count > FEATURES_MAX_SPANS || o->std_span_count > FEATURES_MAX_SPANS ||
	    o->slope_span_count > FEATURES_MAX_SPANS || o->ewma_count > FEATURES_MAX_SPANS) {
		snprintf(err, err_len, "at most %d spans of each kind", FEATURES_MAX_SPANS);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->window = o->window;
	s->mean_span_count = spans_copy(s->mean_spans, o->mean_spans, o->mean_span_count, o->window);
	s->std_span_count = spans_copy(s->std_spans, o->std_spans, o->std_span_count, o->window);
	s->slope_span_count =
		spans_copy(s->slope_spans, o->slope_spans, o->slope_span_count, o->window);
	memcpy(s->ewma_alpha, o->ewma_alpha, sizeof(s->ewma_alpha));
	s->ewma_count = o->ewma_count;
	s->with_last = o->with_last;
	s->with_cycle = o->with_cycle;
	r = fit_regimes(t, use_row, o->regime_radius, s, err, err_len);
	if (r == 0) {
		r = fit_sensors(t, use_row, labels, o->min_corr, s);
		if (r < 0)
			snprintf(err, err_len, "out of memory");
	}
	if (r == 0)
		r = feature_spec_finish(s, err, err_len);
	if (r < 0) {
		feature_spec_free(s);
		return r;
	}
	*out = s;
	return 0;
}

size_t
feature_spec_regime_count(const struct feature_spec *spec)
{
	return spec->regime_count;
}

/* ---- drift reference ---------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
ref_alloc(struct drift_feature_ref *ref, size_t bins)
{
	ref->bin_count = bins;
	ref->edges = calloc(bins, sizeof(double)); /* bins - 1 used; never 0 bytes */
	ref->expected = calloc(bins, sizeof(double));
	return ref->edges && ref->expected ? 0 : -ENOMEM;
}

/* Expected proportions by the same rule serving uses (drift_bin_index). */
static void
ref_expect(struct drift_feature_ref *ref, const double *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ref->expected[drift_bin_index(ref, v[i])] += 1;
	for (i = 0; i < ref->bin_count; i++)
		ref->expected[i] /= (double)n;
}

static double
tol_of(double v)
{
	return 1e-6 * fmax(1.0, fabs(v));
}

static int
ref_quantile(struct drift_feature_ref *ref, const double *v, size_t n)
{
	double e[DRIFT_QUANTILE_BINS];
	size_t k, m = 0;

	for (k = 1; k < DRIFT_QUANTILE_BINS; k++) {
		double q = v[(size_t)((double)(n - 1) * (double)k / DRIFT_QUANTILE_BINS + 0.5)];

		if (m == 0 || q > e[m - 1])
			e[m++] = q;
	}
	ref->kind = DRIFT_BINS_QUANTILE;
	if (ref_alloc(ref, m + 1) < 0)
		return -ENOMEM;
	memcpy(ref->edges, e, m * sizeof(double));
	ref_expect(ref, v, n);
	return 0;
}

/*
 * Few distinct values: groups of neighbouring values holding at least 2 % of the rows each,
 * edges at the midpoints between groups, plus a bin below and a bin above the values seen.
 */
static int
ref_discrete(struct drift_feature_ref *ref, const double *v, size_t n)
{
	double e[DRIFT_DISCRETE_MAX + 2];
	size_t i = 0, m = 0, group = 0;

	e[m++] = v[0] - tol_of(v[0]);
	while (i < n) {
		size_t j = i;

		while (j < n && v[j] == v[i])
			j++;
		group += j - i;
		if (j < n && (double)group >= DRIFT_DISCRETE_MIN_SHARE * (double)n &&
		    (double)(n - j) >= DRIFT_DISCRETE_MIN_SHARE * (double)n) {
			e[m++] = (v[j - 1] + v[j]) / 2;
			group = 0;
		}
		i = j;
	}
	e[m++] = v[n - 1] + tol_of(v[n - 1]);
	ref->kind = m == 2 && v[0] == v[n - 1] ? DRIFT_BINS_CONSTANT : DRIFT_BINS_DISCRETE;
	if (ref_alloc(ref, m + 1) < 0)
		return -ENOMEM;
	memcpy(ref->edges, e, m * sizeof(double));
	ref_expect(ref, v, n);
	return 0;
}

int
drift_ref_build(const struct cmapss_table *t, const bool *use_row,
		struct drift_feature_ref ref[CMAPSS_N_INPUTS])
{
	double *v;
	size_t in, i, n, distinct;
	int r = 0;

	v = malloc((t->rows + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (in = 0; in < CMAPSS_N_INPUTS && r == 0; in++) {
		memset(&ref[in], 0, sizeof(ref[in]));
		snprintf(ref[in].name, sizeof(ref[in].name), "%s", cmapss_input_name(in));
		for (i = n = 0; i < t->rows; i++)
			if (use_row == NULL || use_row[i])
				v[n++] = t->values[i * CMAPSS_N_INPUTS + in];
		if (n == 0) {
			r = -EINVAL;
			break;
		}
		qsort(v, n, sizeof(*v), cmp_double);
		for (i = 1, distinct = 1; i < n && distinct <= DRIFT_DISCRETE_MAX; i++)
			distinct += v[i] != v[i - 1];
		if (distinct <= DRIFT_DISCRETE_MAX)
			r = ref_discrete(&ref[in], v, n);
		else
			r = ref_quantile(&ref[in], v, n);
	}
	free(v);
	return r;
}
