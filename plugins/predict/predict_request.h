/* SPDX-License-Identifier: MIT */
/* predict_request.h - parse a /v1/predict body (JSON or C-MAPSS text) into engines. */
#ifndef RULSRV_PREDICT_REQUEST_H
#define RULSRV_PREDICT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmapss.h"

/*
 * Rows kept inside struct predict_request itself: a request of up to this many cycles in
 * all (and PREDICT_INLINE_ENGINES engines) is parsed without a single allocation.
 */
#define PREDICT_INLINE_ROWS 64
#define PREDICT_INLINE_ENGINES 8

/* Error codes of the {"error":{"code":...}} answer (docs/API.md, Conventions). */
#define PREDICT_ERR_MALFORMED_JSON "malformed_json"     /* 400 */
#define PREDICT_ERR_MALFORMED_ROWS "malformed_rows"     /* 400, text/plain */
#define PREDICT_ERR_INVALID_SHAPE "invalid_shape"       /* 422 */
#define PREDICT_ERR_NON_FINITE "non_finite_number"      /* 422 */
#define PREDICT_ERR_NOT_INCREASING "cycles_not_increasing" /* 422 */
#define PREDICT_ERR_TOO_MANY_INSTANCES "too_many_instances" /* 413 */
#define PREDICT_ERR_TOO_MANY_CYCLES "too_many_cycles"   /* 413 */
#define PREDICT_ERR_NO_MEMORY "out_of_memory"           /* 503 */

/*
 * The schema nests 6 levels and the parser never recurses past them; the validator that
 * tells 400 from 422 on the error path keeps this many levels inline, more on the heap.
 */
#define PREDICT_MAX_DEPTH 64

/* One engine: n cycles, oldest first. Pointers reference the request's storage. */
struct predict_engine {
	int64_t unit;
	size_t n;
	size_t first;          /* index of its first row in the request */
	const int64_t *cycles; /* n cycle numbers, strictly increasing */
	const double *inputs;  /* n x CMAPSS_N_INPUTS, row-major, all finite */
};

struct predict_limits {
	size_t max_instances; /* engines per request (batch entries or text units) */
	size_t max_cycles;    /* cycles per engine */
};

/* Why a body was refused: HTTP status, error code and a message naming the location. */
struct predict_error {
	unsigned status;
	const char *code; /* one of PREDICT_ERR_* (static) */
	char message[256];
};

/*
 * The parsed request. Initialise with predict_request_init, release with
 * predict_request_free (which accepts a half-filled request). Meant to live on the stack of
 * the handler: small requests fit in the inline storage; larger ones grow on the heap.
 */
struct predict_request {
	size_t count; /* engines */
	struct predict_engine *engines;
	size_t rows;     /* cycles of all engines */
	int64_t *cycles; /* rows */
	double *inputs;  /* rows x CMAPSS_N_INPUTS */
	bool batch;      /* {"instances": ...} or text/plain */

	size_t cap_engines;
	size_t cap_rows;
	struct predict_engine inline_engines[PREDICT_INLINE_ENGINES];
	int64_t inline_cycles[PREDICT_INLINE_ROWS];
	double inline_inputs[PREDICT_INLINE_ROWS * CMAPSS_N_INPUTS];
};

void predict_request_init(struct predict_request *r);
void predict_request_free(struct predict_request *r);

/*
 * Parse a JSON body: one engine {"unit": U, "cycles": [{"cycle": C, "settings": [3],
 * "sensors": [21]}, ...]} or {"instances": [engine, ...]}. The body need not be
 * NUL-terminated. r must be freshly initialised. Returns 0, or -EINVAL with err filled
 * (400 malformed JSON with the byte offset; 422 wrong shape, non-finite number, cycles not
 * strictly increasing, with the location; 413 over a limit; 503 out of memory).
 * Thread-safe; numbers convert exactly as strtod() would.
 */
int predict_request_parse_json(const char *body, size_t len, const struct predict_limits *lim,
			       struct predict_request *r, struct predict_error *err);

/*
 * Parse text/plain C-MAPSS rows: one engine per unit, in order of first appearance, with its
 * rows in body order (a unit's cycles must increase strictly). Same contract as above.
 */
int predict_request_parse_cmapss(const char *body, size_t len, const struct predict_limits *lim,
				 struct predict_request *r, struct predict_error *err);

/*
 * The same from rows already in a table (the Open Inference Protocol's tensor of C-MAPSS
 * rows): what parse_cmapss does after parsing the text, so both answer alike.
 */
int predict_request_from_table(const struct cmapss_table *t, const struct predict_limits *lim,
			       struct predict_request *r, struct predict_error *err);

/*
 * The same from rows in runs of `cycles`, each run one engine of the unit of its first row
 * (the Open Inference Protocol's window tensor): two runs of one unit are two engines, as two
 * instances of a JSON batch are. rows must be a multiple of cycles; cycles increase strictly
 * within a run. Same errors as predict_request_from_table.
 */
int predict_request_from_windows(const struct cmapss_table *t, size_t cycles,
				 const struct predict_limits *lim, struct predict_request *r,
				 struct predict_error *err);

/*
 * /v1/cycles bodies: the newest cycle(s) of any engines, each its own engine of n == 1 (in
 * body order; engine i is row i). JSON: one {"unit": U, "cycle": C, "settings": [3],
 * "sensors": [21]} or {"cycles": [that, ...]} (locations "cycles[3].sensors: ..."); text: C-MAPSS
 * rows of any units. At most max_instances cycles. Same errors as the two above, except that
 * cycles are not checked against one another (the fleet orders them per engine).
 */
int predict_request_parse_cycles_json(const char *body, size_t len,
				      const struct predict_limits *lim, struct predict_request *r,
				      struct predict_error *err);
int predict_request_parse_cycles_cmapss(const char *body, size_t len,
					const struct predict_limits *lim,
					struct predict_request *r, struct predict_error *err);

#endif
