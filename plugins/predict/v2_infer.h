/* SPDX-License-Identifier: MIT */
/* v2_infer.h - an Open Inference Protocol (KServe V2) infer request in, its response out. */
#ifndef RULSRV_V2_INFER_H
#define RULSRV_V2_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmapss.h"
#include "predict_request.h"

/* The reason code (prediction_errors_total) of a tensor that breaks the contract. */
#define V2_ERR_INVALID_TENSOR "invalid_tensor"

/* The model's input: C-MAPSS rows, [-1, 26] (docs/API.md, Open Inference Protocol). */
#define V2_INPUT_NAME "rows"
#define V2_ROW_WIDTH (2 + CMAPSS_N_INPUTS)
/* Or the window form: windows [-1, -1, 24], each engine's last cycle [-1], its unit [-1]. */
#define V2_WINDOW_NAME "window"
#define V2_CYCLE_NAME "cycle"
#define V2_UNIT_NAME "unit"

enum v2_output { V2_OUT_RUL, V2_OUT_UNIT, V2_OUT_CYCLE, V2_OUT_COUNT };

/* Name of output o ("rul", "unit", "cycle"). */
const char *v2_output_name(enum v2_output o);

/* A parsed infer request. Free with v2_infer_free (also after a failure). */
struct v2_infer {
	char *id;                      /* the request's "id", or NULL */
	struct cmapss_table rows;      /* the input, as a text/plain body's rows would be */
	size_t window;                 /* > 0: the window form, engines of this many rows each */
	size_t out_count;              /* outputs to answer, in this order: */
	enum v2_output outs[V2_OUT_COUNT];
	bool binary[V2_OUT_COUNT];     /* by output: raw bytes after the JSON */
};

/*
 * Parse an infer request body. header_length: the Inference-Header-Content-Length header's
 * value (NULL when absent: the whole body is JSON). max_rows bounds the input's first
 * dimension before anything is allocated. Returns 0, or -EINVAL with err filled: 400
 * V2_ERR_INVALID_TENSOR (also for more than max_rows rows) or PREDICT_ERR_MALFORMED_JSON,
 * with a message naming the input, dimension or byte; 503 out of memory.
 */
int v2_infer_parse(const char *body, size_t len, const char *header_length, size_t max_rows,
		   struct v2_infer *in, struct predict_error *err);

/*
 * The engines of a parsed request: the rows grouped by unit as a text/plain body's are, or
 * each window one engine. Returns 0, or -EINVAL with err filled, its message naming the input
 * (413 over a limit, 422 cycles not increasing...; 503 out of memory).
 */
int v2_infer_request(const struct v2_infer *in, const struct predict_limits *lim,
		     struct predict_request *r, struct predict_error *err);

/*
 * The response: JSON with model_name, model_version, id and outputs (one per engine: its
 * rul, unit and last cycle), then the binary outputs' raw little-endian bytes. *json_len is
 * the JSON's length (the response's Inference-Header-Content-Length when binary outputs
 * follow), *len the whole. malloc'd; NULL when out of memory.
 */
char *v2_infer_render(const struct v2_infer *in, const char *model, const char *version,
		      const struct predict_request *r, const float *rul, size_t *len,
		      size_t *json_len);

void v2_infer_free(struct v2_infer *in);

#endif
