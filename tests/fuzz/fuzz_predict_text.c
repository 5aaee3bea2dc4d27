/* SPDX-License-Identifier: MIT */
/* fuzz_predict_text.c - libFuzzer: the /v1/predict text/plain (C-MAPSS rows) parser, and what it promises. */
#include <stddef.h>
#include <stdint.h>

#include "predict_invariants.h"
#include "predict_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The promises are those of predict_invariants.h, shared with the other body parser's harness. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return predict_fuzz_one(data, size, predict_request_parse_cmapss);
}
