/* SPDX-License-Identifier: MIT */
/* data.c - rulsrv-train's training set: read the subsets, hold units out, build the matrix. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitmix64.h"

static int
table_append(struct cmapss_table *dst, const struct cmapss_table *src, int64_t unit_base)
{
	size_t n = dst->rows + src->rows, i;
	int64_t *u, *c;
	double *v;

	u = realloc(dst->unit, (n + 1) * sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	dst->unit = u;
	c = realloc(dst->cycle, (n + 1) * sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	dst->cycle = c;
	v = realloc(dst->values, (n + 1) * CMAPSS_N_INPUTS * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	dst->values = v;
	for (i = 0; i < src->rows; i++) {
		dst->unit[dst->rows + i] = unit_base + src->unit[i];
		dst->cycle[dst->rows + i] = src->cycle[i];
	}
	memcpy(dst->values + dst->rows * CMAPSS_N_INPUTS, src->values,
	       src->rows * CMAPSS_N_INPUTS * sizeof(double));
	dst->rows = n;
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Hold out n engines of the first subset, chosen by the seed; the rest train. */
static int
choose_holdout(struct train_set *s, size_t n, uint64_t seed, char *err, size_t err_len)
{
	size_t first = 0, e, i;
	int64_t *units;
	/* splitmix64: with the folds, the only randomness rulsrv-train draws itself. */
	uint64_t st = seed ^ 0x686f6c646f7574ULL;

	for (e = 0; e < s->engines; e++)
		if (s->t.unit[s->starts[e]] < TRAIN_UNIT_STRIDE)
			first++;
	if (n >= first) {
		snprintf(err, err_len, "--holdout %zu: %s has only %zu training units", n,
			 s->subsets[0], first);
		return -EINVAL;
	}
	units = malloc(first * sizeof(*units));
	if (units == NULL)
		return -ENOMEM;
	for (e = 0; e < first; e++)
		units[e] = s->t.unit[s->starts[e]];
	for (i = 0; i < n; i++) { /* partial Fisher-Yates */
		size_t j = i + (size_t)(splitmix64_next(&st) % (first - i));
		int64_t t = units[i];

		units[i] = units[j];
		units[j] = t;
	}
	qsort(units, n, sizeof(*units), cmp_i64);
	s->holdout = units;
	s->holdout_count = n;
	for (i = 0; i < s->t.rows; i++)
		s->use[i] = bsearch(&s->t.unit[i], units, n, sizeof(*units), cmp_i64) == NULL;
	return 0;
}

int
train_set_load(struct train_set *s, const char *dir, char subsets[][8], size_t n, double cap,
	       size_t holdout, uint64_t seed, char *err, size_t err_len)
{
	struct cmapss_table one;
	char file[64], path[4096];
	size_t k, e, i;
	long ne;
	int r;

	memset(s, 0, sizeof(*s));
	for (k = 0; k < n; k++) {
		snprintf(s->subsets[k], sizeof(s->subsets[k]), "%s", subsets[k]);
		snprintf(file, sizeof(file), "train_%s.txt", subsets[k]);
		if (cmapss_path(dir, file, path, sizeof(path)) < 0) {
			snprintf(err, err_len, "no %s or %s.gz in '%s'", file, file, dir);
			return -ENOENT;
		}
		r = cmapss_read(path, &one, err, err_len);
		if (r == 0) {
			r = table_append(&s->t, &one, (int64_t)k * TRAIN_UNIT_STRIDE);
			if (r < 0)
				snprintf(err, err_len, "out of memory");
		}
		cmapss_table_free(&one);
		if (r < 0)
			return r;
	}
	s->subset_count = n;
	ne = cmapss_engines(&s->t, &s->starts);
	if (ne < 0)
		return (int)ne;
	s->engines = (size_t)ne;
	r = cmapss_labels(&s->t, cap, &s->label);
	if (r < 0)
		return r;
	s->rul = malloc((s->t.rows + 1) * sizeof(double));
	s->use = malloc((s->t.rows + 1) * sizeof(bool));
	if (s->rul == NULL || s->use == NULL)
		return -ENOMEM;
	for (e = 0; e < s->engines; e++) {
		for (i = s->starts[e]; i < s->starts[e + 1]; i++) {
			s->rul[i] = (double)(s->t.cycle[s->starts[e + 1] - 1] - s->t.cycle[i]);
			s->use[i] = true;
		}
	}
	if (holdout > 0)
		return choose_holdout(s, holdout, seed, err, err_len);
	return 0;
}

void
train_set_free(struct train_set *s)
{
	cmapss_table_free(&s->t);
	free(s->starts);
	free(s->label);
	free(s->rul);
	free(s->use);
	free(s->holdout);
	memset(s, 0, sizeof(*s));
}

int
matrix_build(struct matrix *m, const struct train_set *s, const struct feature_spec *spec,
	     bool equal_engines)
{
	size_t e, i, rows = 0, used = 0, engines = 0, cols = feature_spec_count(spec);

	memset(m, 0, sizeof(*m));
	for (i = 0; i < s->t.rows; i++)
		rows += s->use[i];
	m->rows = rows;
	m->cols = cols;
	m->x = malloc((rows + 1) * cols * sizeof(float));
	m->label = malloc((rows + 1) * sizeof(float));
	m->rul = malloc((rows + 1) * sizeof(float));
	m->engine = malloc((rows + 1) * sizeof(int));
	if (m->x == NULL || m->label == NULL || m->rul == NULL || m->engine == NULL)
		return -ENOMEM;
	if (equal_engines) {
		m->weight = malloc((rows + 1) * sizeof(float));
		if (m->weight == NULL)
			return -ENOMEM;
		for (e = 0; e < s->engines; e++)
			engines += s->use[s->starts[e]];
	}
	for (e = 0; e < s->engines; e++) {
		size_t a = s->starts[e], n = s->starts[e + 1] - a;

		if (!s->use[a])
			continue;
		features_all(spec, s->t.values + a * CMAPSS_N_INPUTS, s->t.cycle + a, n,
			     m->x + used * cols);
		for (i = 0; i < n; i++) {
			m->label[used + i] = (float)s->label[a + i];
			m->rul[used + i] = (float)s->rul[a + i];
			m->engine[used + i] = (int)e;
			if (m->weight != NULL)
				m->weight[used + i] = (float)((double)rows / (double)engines / (double)n);
		}
		used += n;
	}
	return 0;
}

void
matrix_free(struct matrix *m)
{
	free(m->x);
	free(m->label);
	free(m->rul);
	free(m->engine);
	free(m->weight);
	memset(m, 0, sizeof(*m));
}
