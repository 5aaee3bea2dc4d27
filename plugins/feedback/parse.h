/* SPDX-License-Identifier: MIT */
/* parse.h - POST /v1/feedback bodies to records, with the error locations of docs/API.md. */
#ifndef FB_PARSE_H
#define FB_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

/* Why a body was refused: HTTP status, error code, and the message naming the place. */
struct fb_parse_error {
	unsigned status;    /* 400 malformed JSON, 413 too many records, 422 wrong shape */
	const char *code;   /* "malformed_json", "payload_too_large", "invalid_request" */
	const char *reason; /* label of feedback_errors_total */
	char message[256];
};

/* The feedback_errors_total reason of a refusal with this HTTP status (400, 408, 413, 422). */
const char *fb_error_reason(unsigned status);

/*
 * Parse a single record or {"records": [...]} of at most max_batch records. On success *out
 * is a malloc'd array of *count records (the caller frees it) and *batch tells which form it
 * was; on failure err says why and nothing is allocated. Every record is checked before
 * success is returned.
 */
int fb_parse(const char *body, size_t len, size_t max_batch, struct fb_record **out,
	     size_t *count, bool *batch, struct fb_parse_error *err);

#endif
