/* SPDX-License-Identifier: MIT */
/* payload.h - the JSON the replay sends (predict window, failure event) and reads back. */
#ifndef REPLAY_PAYLOAD_H
#define REPLAY_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quarter.h"

/* A growable byte buffer, always NUL-terminated after data[len]. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

int buf_append(struct buf *b, const char *data, size_t len);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/*
 * The one-engine body of POST /v1/predict (docs/API.md) for engine e at its cycle index
 * `at` (0-based within its trajectory): the last `window` cycles up to and including it,
 * oldest first. Replaces the content of out.
 */
int payload_predict(struct buf *out, const struct quarter *q, const struct engine *e, size_t at,
		    size_t window);

/*
 * The body of POST /v1/cycles (fleet mode, docs/API.md) for engine e at its cycle index `at`:
 * that one cycle, {"unit": U, "cycle": C, "settings": [...], "sensors": [...]}. Replaces the
 * content of out.
 */
int payload_cycle(struct buf *out, const struct quarter *q, const struct engine *e, size_t at);

/* {"unit": U, "failed_at_cycle": LAST} for POST /v1/feedback. */
int payload_failure(struct buf *out, const struct engine *e);

/* {"label": "..."} for POST /v1/drift/window. */
int payload_window(struct buf *out, const char *label);

/* RUL of the first prediction in a /v1/predict response; -EINVAL when the body has none. */
int payload_parse_rul(const char *body, size_t len, double *rul);

/*
 * What a refused request's body says: "code: message" of {"error": {...}}, else the start of
 * the body itself (one line), else "(empty body)". Always NUL-terminates out.
 */
void payload_error_message(const char *body, size_t len, char *out, size_t out_len);

#endif
