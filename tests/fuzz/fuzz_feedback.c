/* SPDX-License-Identifier: MIT */
/* fuzz_feedback.c - libFuzzer: the POST /v1/feedback body parser (plugins/feedback/parse.c). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Records that parse are complete and finite, their model names fit a Prometheus label
 * (UTF-8 text without control characters); refusals carry a documented status and a reason. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fb_parse_error err;
	struct fb_record *recs = NULL;
	char *body = malloc(size > 0 ? size : 1);
	size_t n = 0, i;
	bool batch;

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	if (fb_parse(body, size, 64, &recs, &n, &batch, &err) == 0) {
		if (recs == NULL || n == 0 || n > 64 || (!batch && n != 1))
			abort();
		for (i = 0; i < n; i++) {
			if (recs[i].unit < 0 || memchr(recs[i].model, '\0', sizeof(recs[i].model)) == NULL ||
			    !utf8_text_valid(recs[i].model, strlen(recs[i].model)))
				abort();
			if (recs[i].kind != FB_RECORD_FAILURE &&
			    (recs[i].cycle < 0 || !isfinite(recs[i].actual)))
				abort();
		}
	} else {
		if (recs != NULL || err.code == NULL || err.reason == NULL ||
		    (err.status != 400 && err.status != 413 && err.status != 422 && err.status != 503))
			abort();
	}
	free(recs);
	free(body);
	return 0;
}
