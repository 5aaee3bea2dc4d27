/* SPDX-License-Identifier: MIT */
/* forest.c - an XGBoost JSON tree ensemble in flat arrays, walked with XGBoost's semantics. */
#include "forest.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "read_file.h"

/*
 * The largest model file read: far above any XGBoost model of this data (the default one is
 * 1 MB), low enough that a wrong path (a device, a log) cannot take the memory.
 */
#define FOREST_MAX_JSON (1024u * 1024 * 1024)

/*
 * Layout: every tree's nodes renumbered breadth-first so that the two children of a node are
 * adjacent (right = left + 1), all trees in one array of 12-byte nodes. A walk step reads one
 * node (threshold, feature, default direction and child in the same cache line) and picks the
 * child with one comparison: left + !(x < threshold). Leaves have left == 0 (the root is
 * never a child) and keep their value in `value`.
 */
struct fnode {
	float value;   /* split threshold, or the leaf value */
	uint32_t feat; /* split feature; bit 31: missing values go left */
	uint32_t left; /* index of the left child within the tree; 0: a leaf */
};

#define DEFAULT_LEFT (UINT32_C(1) << 31)
#define FEAT_MASK (DEFAULT_LEFT - 1)
/* Rows walked together through one tree before the next tree (tree-major batches). */
#define BLOCK 64

/*
 * Trees of at most HEAP_MAX_DEPTH levels are also laid out as complete binary trees (an
 * early leaf is padded with splits whose subtrees all end in its value): node i's children
 * are 2i+1 and 2i+2, every walk is exactly `depth` steps with no test for a leaf, so
 * TREE_GROUP trees are walked in lockstep and their independent chains of loads overlap.
 */
#define HEAP_MAX_DEPTH 10
#define TREE_GROUP 16

/* A split of the complete layout: threshold and feature side by side (one load each). */
struct hnode {
	float thr;
	uint32_t feat; /* the feature alone: the default directions live in h_left */
};

struct forest {
	size_t n_features;
	size_t n_trees;
	size_t n_nodes;
	float base_score;
	uint32_t *root; /* n_trees offsets into nodes */
	struct fnode *nodes;
	/* the complete layout; depth == 0 with h_leaf == NULL when the trees are too deep */
	unsigned depth;
	size_t inner;    /* 2^depth - 1 split slots per tree */
	struct hnode *h_node; /* n_trees x inner */
	uint8_t *h_left;      /* n_trees x inner: missing values go left (read for NaN only) */
	float *h_leaf;   /* n_trees x 2^depth */
};

size_t
forest_tree_count(const struct forest *f)
{
	return f->n_trees;
}

size_t
forest_node_count(const struct forest *f)
{
	return f->n_nodes;
}

bool
forest_complete_layout(const struct forest *f)
{
	return f->h_leaf != NULL;
}

void
forest_free(struct forest *f)
{
	if (f == NULL)
		return;
	free(f->root);
	free(f->nodes);
	free(f->h_node);
	free(f->h_left);
	free(f->h_leaf);
	free(f);
}

/* ---- prediction -------------------------------------------------------------------------- */

static inline float
walk(const struct fnode *t, const float *x)
{
	const struct fnode *n = t;
	float v;

	while (n->left != 0) {
		v = x[n->feat & FEAT_MASK];
		if (__builtin_expect(isnan(v), 0))
			n = t + n->left + !(n->feat & DEFAULT_LEFT);
		else
			n = t + n->left + !(v < n->value);
	}
	return n->value;
}

/* Rows [0, n) of a block: each tree once over all of them, so the tree stays in L1. */
static void
predict_block(const struct forest *f, const float *rows, size_t n, float *out)
{
	const size_t nf = f->n_features;
	size_t t, i;

	for (i = 0; i < n; i++)
		out[i] = f->base_score;
	for (t = 0; t < f->n_trees; t++) {
		const struct fnode *tree = f->nodes + f->root[t];

		for (i = 0; i < n; i++)
			out[i] += walk(tree, rows + i * nf);
	}
}

static bool
has_nan(const float *x, size_t n)
{
	size_t i;
	bool any = false;

	for (i = 0; i < n; i++)
		any |= isnan(x[i]);
	return any;
}

/*
 * Trees [t, t + TREE_GROUP) for one row, in lockstep; the leaves are added one by one in
 * tree order, so the running sum is XGBoost's float sum exactly. with_nan selects the
 * per-node default direction (rows without NaN skip that test). depth is a constant at
 * every call site (see heap_group), so the level loop unrolls and the indexes stay in
 * registers.
 */
static inline __attribute__((always_inline)) float
heap_group_d(const struct forest *f, size_t t, const float *x, bool with_nan, float acc,
	     const unsigned depth)
{
	/* 1-based heap indexes: children of i are 2i and 2i + 1, leaves 2^depth.. */
	const size_t inner = ((size_t)1 << depth) - 1, leaves = inner + 1;
	const struct hnode *nodes = f->h_node + t * inner - 1, *n;
	const uint8_t *dl = f->h_left + t * inner - 1;
	uint32_t idx[TREE_GROUP];
	unsigned d, k;
	float v;

	for (k = 0; k < TREE_GROUP; k++)
		idx[k] = 1;
	/* fully unrolled: the indexes live in registers, the loads of 16 trees interleave */
#pragma GCC unroll 10
	for (d = 0; d < depth; d++) {
#pragma GCC unroll 16
		for (k = 0; k < TREE_GROUP; k++) {
			n = nodes + k * inner + idx[k];
			v = x[n->feat];
			if (with_nan && isnan(v))
				idx[k] = 2 * idx[k] + !dl[k * inner + idx[k]];
			else
				idx[k] = 2 * idx[k] + 1 - (v < n->thr);
		}
	}
	for (k = 0; k < TREE_GROUP; k++)
		acc += f->h_leaf[(t + k) * leaves + idx[k] - leaves];
	return acc;
}

/* Rows with a missing value: the same walk with the default directions. */
static float
heap_group_nan(const struct forest *f, size_t t, const float *x, float acc)
{
	switch (f->depth) {
	case 0: return heap_group_d(f, t, x, true, acc, 0);
	case 1: return heap_group_d(f, t, x, true, acc, 1);
	case 2: return heap_group_d(f, t, x, true, acc, 2);
	case 3: return heap_group_d(f, t, x, true, acc, 3);
	case 4: return heap_group_d(f, t, x, true, acc, 4);
	case 5: return heap_group_d(f, t, x, true, acc, 5);
	case 6: return heap_group_d(f, t, x, true, acc, 6);
	case 7: return heap_group_d(f, t, x, true, acc, 7);
	case 8: return heap_group_d(f, t, x, true, acc, 8);
	case 9: return heap_group_d(f, t, x, true, acc, 9);
	default: return heap_group_d(f, t, x, true, acc, 10);
	}
}

static float
heap_group(const struct forest *f, size_t t, const float *x, bool with_nan, float acc)
{
	if (with_nan)
		return heap_group_nan(f, t, x, acc);
	switch (f->depth) {
	case 0: return heap_group_d(f, t, x, false, acc, 0);
	case 1: return heap_group_d(f, t, x, false, acc, 1);
	case 2: return heap_group_d(f, t, x, false, acc, 2);
	case 3: return heap_group_d(f, t, x, false, acc, 3);
	case 4: return heap_group_d(f, t, x, false, acc, 4);
	case 5: return heap_group_d(f, t, x, false, acc, 5);
	case 6: return heap_group_d(f, t, x, false, acc, 6);
	case 7: return heap_group_d(f, t, x, false, acc, 7);
	case 8: return heap_group_d(f, t, x, false, acc, 8);
	case 9: return heap_group_d(f, t, x, false, acc, 9);
	default: return heap_group_d(f, t, x, false, acc, 10);
	}
}

static inline float
heap_tree(const struct forest *f, size_t t, const float *x, bool with_nan, float acc)
{
	const size_t inner = f->inner;
	const struct hnode *nodes = f->h_node + t * inner, *n;
	const uint8_t *dl = f->h_left + t * inner;
	size_t i = 0;
	unsigned d;
	float v;

	for (d = 0; d < f->depth; d++) {
		n = nodes + i;
		v = x[n->feat];
		if (with_nan && isnan(v))
			i = 2 * i + 1 + !dl[i];
		else
			i = 2 * i + 1 + !(v < n->thr);
	}
	return acc + f->h_leaf[t * (inner + 1) + i - inner];
}

/* A block of rows, tree group by tree group, so that the group stays in L1 across rows. */
static void
heap_block(const struct forest *f, const float *rows, size_t n, float *out)
{
	const size_t nf = f->n_features;
	bool nan[BLOCK];
	size_t i, t;

	for (i = 0; i < n; i++) {
		out[i] = f->base_score;
		nan[i] = has_nan(rows + i * nf, nf);
	}
	for (t = 0; t + TREE_GROUP <= f->n_trees; t += TREE_GROUP)
		for (i = 0; i < n; i++)
			out[i] = heap_group(f, t, rows + i * nf, nan[i], out[i]);
	for (; t < f->n_trees; t++)
		for (i = 0; i < n; i++)
			out[i] = heap_tree(f, t, rows + i * nf, nan[i], out[i]);
}

void
forest_predict(const struct forest *f, const float *rows, size_t n, float *out)
{
	const size_t nf = f->n_features;
	size_t i, b;

	for (i = 0; i < n; i += BLOCK) {
		b = n - i < BLOCK ? n - i : BLOCK;
		if (f->h_leaf != NULL)
			heap_block(f, rows + i * nf, b, out + i);
		else
			predict_block(f, rows + i * nf, b, out + i);
	}
}

/* ---- loading ----------------------------------------------------------------------------- */

static const cJSON *
path_get(const cJSON *root, const char *const *keys)
{
	const cJSON *j = root;

	for (; *keys != NULL && j != NULL; keys++)
		j = cJSON_GetObjectItemCaseSensitive(j, *keys);
	return j;
}

/* XGBoost writes its parameters as strings ("5E-1"); accept numbers too. */
static bool
param_number(const cJSON *j, double *out)
{
	char *end;

	if (cJSON_IsNumber(j)) {
		*out = j->valuedouble;
		return true;
	}
	if (!cJSON_IsString(j))
		return false;
	*out = strtod(j->valuestring, &end);
	return end != j->valuestring && *end == '\0';
}

struct raw_tree {
	const cJSON *left, *right, *cond, *index, *dleft, *stype;
	int n;
};

static int
tree_arrays(const cJSON *tree, size_t t, struct raw_tree *rt, char *err, size_t err_len)
{
	rt->left = cJSON_GetObjectItemCaseSensitive(tree, "left_children");
	rt->right = cJSON_GetObjectItemCaseSensitive(tree, "right_children");
	rt->cond = cJSON_GetObjectItemCaseSensitive(tree, "split_conditions");
	rt->index = cJSON_GetObjectItemCaseSensitive(tree, "split_indices");
	rt->dleft = cJSON_GetObjectItemCaseSensitive(tree, "default_left");
	rt->stype = cJSON_GetObjectItemCaseSensitive(tree, "split_type");
	if (!cJSON_IsArray(rt->left) || !cJSON_IsArray(rt->right) || !cJSON_IsArray(rt->cond) ||
	    !cJSON_IsArray(rt->index) || !cJSON_IsArray(rt->dleft)) {
		snprintf(err, err_len, "tree %zu: missing node arrays", t);
		return -EINVAL;
	}
	rt->n = cJSON_GetArraySize(rt->left);
	if (rt->n < 1 || cJSON_GetArraySize(rt->right) != rt->n ||
	    cJSON_GetArraySize(rt->cond) != rt->n || cJSON_GetArraySize(rt->index) != rt->n ||
	    cJSON_GetArraySize(rt->dleft) != rt->n ||
	    (rt->stype != NULL && cJSON_GetArraySize(rt->stype) != rt->n)) {
		snprintf(err, err_len, "tree %zu: node arrays of different lengths", t);
		return -EINVAL;
	}
	return 0;
}

/* cJSON arrays are linked lists: copy them out once. */
static int
array_to(const cJSON *arr, double *out, int n)
{
	const cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, arr) {
		if (i == n)
			return -EINVAL;
		if (cJSON_IsNumber(it))
			out[i++] = it->valuedouble;
		else if (cJSON_IsBool(it))
			out[i++] = cJSON_IsTrue(it) ? 1 : 0;
		else
			return -EINVAL;
	}
	return i == n ? 0 : -EINVAL;
}

/* One tree into nodes[0..n): breadth-first renumbering, children adjacent. */
static int
load_tree(const cJSON *tree, size_t t, size_t n_features, struct fnode *nodes, size_t *count,
	  char *err, size_t err_len)
{
	struct raw_tree rt;
	double *a = NULL;
	int *order = NULL, *newidx = NULL, head = 0, tail = 1, i, old, l, r;
	int rc;

	rc = tree_arrays(tree, t, &rt, err, err_len);
	if (rc < 0)
		return rc;
	a = malloc((size_t)rt.n * 6 * sizeof(*a));
	order = malloc((size_t)rt.n * sizeof(*order));
	newidx = malloc((size_t)rt.n * sizeof(*newidx));
	if (a == NULL || order == NULL || newidx == NULL) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	rc = -EINVAL;
	if (array_to(rt.left, a, rt.n) < 0 || array_to(rt.right, a + rt.n, rt.n) < 0 ||
	    array_to(rt.cond, a + 2 * rt.n, rt.n) < 0 || array_to(rt.index, a + 3 * rt.n, rt.n) < 0 ||
	    array_to(rt.dleft, a + 4 * rt.n, rt.n) < 0 ||
	    (rt.stype != NULL && array_to(rt.stype, a + 5 * rt.n, rt.n) < 0)) {
		snprintf(err, err_len, "tree %zu: non-numeric node arrays", t);
		goto out;
	}
	for (i = 0; i < rt.n; i++)
		newidx[i] = -1;
	/* breadth-first from the root; each node may be reached once */
	order[0] = 0;
	newidx[0] = 0;
	for (head = 0; head < tail; head++) {
		old = order[head];
		l = (int)a[old];
		r = (int)a[rt.n + old];
		if (l == -1 && r == -1)
			continue;
		if (l < 0 || r < 0 || l >= rt.n || r >= rt.n || newidx[l] >= 0 || newidx[r] >= 0 ||
		    l == 0 || r == 0) {
			snprintf(err, err_len, "tree %zu: node %d: invalid children", t, old);
			goto out;
		}
		if (rt.stype != NULL && a[5 * rt.n + old] != 0) {
			snprintf(err, err_len, "tree %zu: categorical splits are not supported", t);
			goto out;
		}
		if (a[3 * rt.n + old] < 0 || a[3 * rt.n + old] >= (double)n_features) {
			snprintf(err, err_len, "tree %zu: node %d: split on feature %.0f of %zu", t,
				 old, a[3 * rt.n + old], n_features);
			goto out;
		}
		newidx[l] = tail;
		order[tail++] = l;
		newidx[r] = tail;
		order[tail++] = r;
	}
	for (i = 0; i < tail; i++) {
		old = order[i];
		l = (int)a[old];
		nodes[i].value = (float)a[2 * rt.n + old];
		if (l == -1) {
			nodes[i].feat = 0;
			nodes[i].left = 0;
		} else {
			nodes[i].feat = (uint32_t)a[3 * rt.n + old] |
					(a[4 * rt.n + old] != 0 ? DEFAULT_LEFT : 0);
			nodes[i].left = (uint32_t)newidx[l];
		}
	}
	*count = (size_t)tail;
	rc = 0;
out:
	free(a);
	free(order);
	free(newidx);
	return rc;
}

static int
check_learner(const cJSON *learner, size_t n_features, double *base_score, char *err,
	      size_t err_len)
{
	static const char *const k_obj[] = { "objective", "name", NULL };
	static const char *const k_booster[] = { "gradient_booster", "name", NULL };
	static const char *const k_base[] = { "learner_model_param", "base_score", NULL };
	static const char *const k_nf[] = { "learner_model_param", "num_feature", NULL };
	static const char *const k_nc[] = { "learner_model_param", "num_class", NULL };
	static const char *const k_nt[] = { "learner_model_param", "num_target", NULL };
	const cJSON *obj = path_get(learner, k_obj), *booster = path_get(learner, k_booster);
	double nf, nc = 0, nt = 1;

	if (!cJSON_IsString(obj) || (strcmp(obj->valuestring, "reg:squarederror") != 0 &&
				     strcmp(obj->valuestring, "reg:pseudohubererror") != 0 &&
				     strcmp(obj->valuestring, "reg:absoluteerror") != 0)) {
		snprintf(err, err_len, "objective '%s' is not supported (identity regression only)",
			 cJSON_IsString(obj) ? obj->valuestring : "?");
		return -EINVAL;
	}
	if (!cJSON_IsString(booster) || strcmp(booster->valuestring, "gbtree") != 0) {
		snprintf(err, err_len, "booster '%s' is not supported (gbtree only)",
			 cJSON_IsString(booster) ? booster->valuestring : "?");
		return -EINVAL;
	}
	if (!param_number(path_get(learner, k_base), base_score) ||
	    !param_number(path_get(learner, k_nf), &nf)) {
		snprintf(err, err_len, "learner_model_param lacks base_score or num_feature");
		return -EINVAL;
	}
	if (path_get(learner, k_nc) != NULL)
		param_number(path_get(learner, k_nc), &nc);
	if (path_get(learner, k_nt) != NULL)
		param_number(path_get(learner, k_nt), &nt);
	if (nc > 1 || nt != 1) {
		snprintf(err, err_len, "multi-output models are not supported");
		return -EINVAL;
	}
	if (nf != (double)n_features) {
		snprintf(err, err_len, "model has %.0f features, the bundle's pipeline %zu", nf,
			 n_features);
		return -EINVAL;
	}
	return 0;
}

static unsigned
tree_depth(const struct fnode *t, uint32_t i)
{
	unsigned l, r;

	if (t[i].left == 0)
		return 0;
	l = tree_depth(t, t[i].left);
	r = tree_depth(t, t[i].left + 1);
	return 1 + (l > r ? l : r);
}

/* Node i of tree t at heap slot h, level d; an early leaf fills its whole subtree. */
static void
heap_fill(struct forest *f, const struct fnode *t, uint32_t i, size_t tree, size_t h,
	  unsigned d)
{
	size_t inner = f->inner, leaves = inner + 1, first, count, k;

	if (t[i].left == 0) {
		/* leaves under slot h at the last level: 2^(depth-d) of them */
		first = h;
		count = 1;
		for (; d < f->depth; d++) {
			for (k = 0; k < count; k++) {
				f->h_node[tree * inner + first + k] = (struct hnode){ 0, 0 };
				f->h_left[tree * inner + first + k] = 0;
			}
			first = 2 * first + 1;
			count *= 2;
		}
		for (k = 0; k < count; k++)
			f->h_leaf[tree * leaves + first + k - inner] = t[i].value;
		return;
	}
	f->h_node[tree * inner + h] = (struct hnode){ t[i].value, t[i].feat & FEAT_MASK };
	f->h_left[tree * inner + h] = (t[i].feat & DEFAULT_LEFT) != 0;
	heap_fill(f, t, t[i].left, tree, 2 * h + 1, d + 1);
	heap_fill(f, t, t[i].left + 1, tree, 2 * h + 2, d + 1);
}

/* The complete layout when every tree is shallow enough; else the walk over nodes stays. */
static int
build_heap(struct forest *f)
{
	unsigned depth = 0, d;
	size_t t;

	for (t = 0; t < f->n_trees; t++) {
		d = tree_depth(f->nodes + f->root[t], 0);
		if (d > HEAP_MAX_DEPTH)
			return 0;
		depth = d > depth ? d : depth;
	}
	f->depth = depth;
	f->inner = ((size_t)1 << depth) - 1;
	f->h_node = calloc(f->n_trees * f->inner + 1, sizeof(*f->h_node));
	f->h_left = calloc(f->n_trees * f->inner + 1, sizeof(*f->h_left));
	f->h_leaf = calloc(f->n_trees * (f->inner + 1), sizeof(*f->h_leaf));
	if (f->h_node == NULL || f->h_left == NULL || f->h_leaf == NULL)
		return -ENOMEM;
	for (t = 0; t < f->n_trees; t++)
		heap_fill(f, f->nodes + f->root[t], 0, t, 0, 0);
	return 0;
}

static int
load_root(const cJSON *root, size_t n_features, struct forest *f, char *err, size_t err_len)
{
	static const char *const k_trees[] = { "gradient_booster", "model", "trees", NULL };
	const cJSON *learner = cJSON_GetObjectItemCaseSensitive(root, "learner"), *trees, *tree;
	size_t t = 0, total = 0, count;
	double base;
	int rc;

	if (learner == NULL) {
		snprintf(err, err_len, "not an XGBoost JSON model (no \"learner\")");
		return -EINVAL;
	}
	rc = check_learner(learner, n_features, &base, err, err_len);
	if (rc < 0)
		return rc;
	trees = path_get(learner, k_trees);
	if (!cJSON_IsArray(trees) || cJSON_GetArraySize(trees) < 1) {
		snprintf(err, err_len, "model has no trees");
		return -EINVAL;
	}
	f->n_features = n_features;
	f->base_score = (float)base;
	f->n_trees = (size_t)cJSON_GetArraySize(trees);
	cJSON_ArrayForEach(tree, trees)
		total += (size_t)cJSON_GetArraySize(
			cJSON_GetObjectItemCaseSensitive(tree, "left_children"));
	f->root = calloc(f->n_trees, sizeof(*f->root));
	f->nodes = calloc(total ? total : 1, sizeof(*f->nodes));
	if (f->root == NULL || f->nodes == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	cJSON_ArrayForEach(tree, trees) {
		f->root[t] = (uint32_t)f->n_nodes;
		rc = load_tree(tree, t, n_features, f->nodes + f->n_nodes, &count, err, err_len);
		if (rc < 0)
			return rc;
		f->n_nodes += count;
		t++;
	}
	if (build_heap(f) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int
forest_load_text(const char *json, size_t len, size_t n_features, struct forest **out,
		 char *err, size_t err_len)
{
	struct forest *f;
	cJSON *root;
	int rc;

	root = cJSON_ParseWithLength(json, len);
	if (root == NULL) {
		snprintf(err, err_len, "model is not valid JSON");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	rc = f == NULL ? -ENOMEM : load_root(root, n_features, f, err, err_len);
	cJSON_Delete(root);
	if (rc < 0) {
		forest_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int
forest_load(const char *path, size_t n_features, struct forest **out, char *err,
	    size_t err_len)
{
	char *buf, inner[256];
	size_t len;
	int rc;

	rc = read_file(path, FOREST_MAX_JSON, &buf, &len);
	if (rc < 0) {
		snprintf(err, err_len, "cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	rc = forest_load_text(buf, len, n_features, out, err, err_len);
	if (rc < 0) {
		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, err_len, "'%s': %s", path, inner);
	}
	free(buf);
	return rc;
}
