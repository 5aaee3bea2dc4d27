/* SPDX-License-Identifier: MIT */
/* fuzz_feedback.c - libFuzzer: the POST /v1/feedback body parser (plugins/feedback/parse.c). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A model name becomes a Prometheus label: valid UTF-8, no control characters. */
static bool
label_text(const unsigned char *s)
{
	size_t n, i;

	for (; *s != 0; s += n) {
		if (*s < 0x20 || *s == 0x7f)
			return false;
		n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
		    : (*s & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || (n == 2 && *s < 0xc2) || (n == 4 && *s > 0xf4))
			return false;
		for (i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		if ((n == 3 && *s == 0xe0 && s[1] < 0xa0) || (n == 3 && *s == 0xed && s[1] >= 0xa0) ||
		    (n == 4 && *s == 0xf0 && s[1] < 0x90) || (n == 4 && *s == 0xf4 && s[1] >= 0x90))
			return false;
	}
	return true;
}

/* Records that parse are complete and finite, their model names fit a Prometheus label;
 * refusals carry a SPEC status and a reason. */
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
			    !label_text((const unsigned char *)recs[i].model))
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
