/* SPDX-License-Identifier: MIT */
/* predict_invariants.h - what every /v1/predict body parser promises, checked on one fuzz input. */
#ifndef RULSRV_FUZZ_PREDICT_INVARIANTS_H
#define RULSRV_FUZZ_PREDICT_INVARIANTS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict_request.h"

/*
 * Accepted: 1..max_instances engines with non-negative units, each 1..max_cycles strictly
 * increasing, non-negative cycles, all inputs finite.
 */
static inline void
predict_check_accepted(const struct predict_request *r, const struct predict_limits *lim)
{
	size_t e, i, k;

	if (r->count == 0 || r->count > lim->max_instances)
		abort();
	for (e = 0; e < r->count; e++) {
		const struct predict_engine *en = &r->engines[e];

		/* both forms refuse negative units and cycles */
		if (en->n == 0 || en->n > lim->max_cycles || en->unit < 0)
			abort();
		for (i = 0; i < en->n; i++) {
			if (en->cycles[i] < 0 || (i > 0 && en->cycles[i] <= en->cycles[i - 1]))
				abort();
			for (k = 0; k < CMAPSS_N_INPUTS; k++)
				if (!isfinite(en->inputs[i * CMAPSS_N_INPUTS + k]))
					abort();
		}
	}
}

/* Refused: a status of docs/API.md (400, 413, 422, 503), a code, and a NUL-terminated message. */
static inline void
predict_check_refused(const struct predict_error *err)
{
	if (err->code == NULL || (err->status != 400 && err->status != 413 && err->status != 422 &&
				  err->status != 503))
		abort();
	if (memchr(err->message, '\0', sizeof(err->message)) == NULL)
		abort();
}

/*
 * parse is predict_request_parse_json or predict_request_parse_cmapss (the same signature).
 * Whatever the body, the parser returns 0 with engines whose every input is finite and whose
 * cycles increase strictly, or -EINVAL with a status and code of docs/API.md; never reads past
 * size (the body is copied to a buffer of exactly size bytes, so ASan sees any overread).
 */
static inline int
predict_fuzz_one(const uint8_t *data, size_t size,
		 int (*parse)(const char *body, size_t len, const struct predict_limits *lim,
			      struct predict_request *r, struct predict_error *err))
{
	static const struct predict_limits lim = { .max_instances = 100, .max_cycles = 500 };
	struct predict_request r;
	struct predict_error err;
	char *body = malloc(size > 0 ? size : 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	predict_request_init(&r);
	if (parse(body, size, &lim, &r, &err) == 0)
		predict_check_accepted(&r, &lim);
	else
		predict_check_refused(&err);
	predict_request_free(&r);
	free(body);
	return 0;
}

#endif
