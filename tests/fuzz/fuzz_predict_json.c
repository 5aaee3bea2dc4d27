/* SPDX-License-Identifier: MIT */
/* fuzz_predict_json.c - libFuzzer: the /v1/predict JSON body parser, and what it promises. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Whatever the body, the parser returns 0 with engines whose every input is finite and whose
 * cycles increase strictly, or -EINVAL with a SPEC status and code; never reads past size
 * (the body is copied to a buffer of exactly size bytes, so ASan sees any overread).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct predict_limits lim = { .max_instances = 100, .max_cycles = 500 };
	struct predict_request r;
	struct predict_error err;
	char *body = malloc(size > 0 ? size : 1);
	size_t e, i, k;

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	predict_request_init(&r);
	if (predict_request_parse_json(body, size, &lim, &r, &err) == 0) {
		if (r.count == 0 || r.count > lim.max_instances)
			abort();
		for (e = 0; e < r.count; e++) {
			const struct predict_engine *en = &r.engines[e];

			if (en->n == 0 || en->n > lim.max_cycles)
				abort();
			for (i = 0; i < en->n; i++) {
				if (i > 0 && en->cycles[i] <= en->cycles[i - 1])
					abort();
				for (k = 0; k < RULSRV_N_INPUTS; k++)
					if (!isfinite(en->inputs[i * RULSRV_N_INPUTS + k]))
						abort();
			}
		}
	} else {
		if (err.code == NULL || (err.status != 400 && err.status != 413 && err.status != 422 &&
					 err.status != 503))
			abort();
		if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
			abort();
	}
	predict_request_free(&r);
	free(body);
	return 0;
}
