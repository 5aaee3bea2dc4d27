/* SPDX-License-Identifier: MIT */
/* fuzz_v2.c - libFuzzer: the Open Inference Protocol infer request (JSON and binary tensors). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict_request.h"
#include "v2_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS 4096

/*
 * The input: one byte that picks the Inference-Header-Content-Length header (0: none, else
 * the decimal of the next two bytes, little-endian), then the body. Whatever the body: 0 and
 * a table of at most MAX_ROWS finite rows with whole units and cycles, which the text form's
 * grouping takes or refuses, and whose response renders with the header length inside it;
 * or a refusal with status 400 or 503, a code and a terminated message. The body is copied to
 * a buffer of exactly its size, so ASan sees any read past it. The window form's table holds
 * whole windows.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct predict_limits lim = { .max_instances = 64, .max_cycles = 256 };
	char header[16], *body, *out;
	const char *hl = NULL;
	struct predict_request r;
	struct predict_error err;
	struct v2_infer in;
	size_t i, k, len, json_len;
	float *rul;

	if (size < 3)
		return 0;
	if (data[0] != 0) {
		snprintf(header, sizeof(header), "%u", (unsigned)(data[1] | data[2] << 8));
		hl = header;
	}
	body = malloc(size - 3 ? size - 3 : 1);
	memcpy(body, data + 3, size - 3);
	if (v2_infer_parse(body, size - 3, hl, MAX_ROWS, &in, &err) < 0) {
		if (err.code == NULL || (err.status != 400 && err.status != 503) ||
		    memchr(err.message, '\0', sizeof(err.message)) == NULL)
			abort();
		goto out;
	}
	if (in.rows.rows == 0 || in.rows.rows > MAX_ROWS || in.out_count > V2_OUT_COUNT ||
	    (in.window > 0 && in.rows.rows % in.window != 0))
		abort();
	for (i = 0; i < in.rows.rows; i++)
		for (k = 0; k < CMAPSS_N_INPUTS; k++)
			if (!isfinite(in.rows.values[i * CMAPSS_N_INPUTS + k]))
				abort();
	predict_request_init(&r);
	if (v2_infer_request(&in, &lim, &r, &err) == 0) {
		rul = calloc(r.count, sizeof(*rul));
		out = v2_infer_render(&in, "m", "1", &r, rul, &len, &json_len);
		if (out != NULL && (json_len > len || out[0] != '{'))
			abort();
		free(out);
		free(rul);
	}
	predict_request_free(&r);
out:
	v2_infer_free(&in);
	free(body);
	return 0;
}
