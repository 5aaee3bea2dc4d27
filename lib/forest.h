/* SPDX-License-Identifier: MIT */
/* forest.h - an XGBoost JSON tree ensemble in flat arrays, walked with XGBoost's semantics. */
#ifndef RULSRV_FOREST_H
#define RULSRV_FOREST_H

#include <stdbool.h>
#include <stddef.h>

struct forest;

/*
 * Read an XGBoost 1.x JSON model (gbtree, one target, identity objective such as
 * reg:squarederror, numerical splits) for rows of n_features features. err says what is
 * unsupported or malformed. The caller frees *out with forest_free.
 */
int forest_load(const char *path, size_t n_features, struct forest **out, char *err,
		size_t err_len);
/* The same from JSON text in memory. */
int forest_load_text(const char *json, size_t len, size_t n_features, struct forest **out,
		     char *err, size_t err_len);
void forest_free(struct forest *f);

/*
 * n rows (row-major, NaN = missing) into out[n], as XGBoost's CPU predictor computes them:
 * float features, go left when x < threshold (float compare), a missing value follows the
 * node's default direction, and the sum starts at base_score and adds each tree's leaf in
 * tree order in float. Thread-safe (reads only).
 */
void forest_predict(const struct forest *f, const float *rows, size_t n, float *out);

size_t forest_tree_count(const struct forest *f);
size_t forest_node_count(const struct forest *f);
/* Walked as complete binary trees (every tree at most 10 levels), else node by node. */
bool forest_complete_layout(const struct forest *f);

#endif
