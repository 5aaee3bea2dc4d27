/* SPDX-License-Identifier: MIT */
/* payload.c - build request bodies from preformatted rows; read prediction and error bodies. */
#include "payload.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

int
buf_append(struct buf *b, const char *data, size_t len)
{
	if (len > SIZE_MAX / 4 - b->len)
		return -ENOMEM;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *n;

		while (cap < b->len + len + 1)
			cap *= 2;
		n = realloc(b->data, cap);
		if (n == NULL)
			return -ENOMEM;
		b->data = n;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
payload_predict(struct buf *out, const struct quarter *q, const struct engine *e, size_t at,
		size_t window)
{
	size_t first = at + 1 > window ? at + 1 - window : 0;
	char head[64];
	int n, r;

	buf_reset(out);
	n = snprintf(head, sizeof(head), "{\"unit\":%" PRId64 ",\"cycles\":[", e->unit);
	r = buf_append(out, head, (size_t)n);
	for (size_t i = first; r == 0 && i <= at; i++) {
		size_t len;
		const char *row = quarter_row_json(q, e->first_row + i, &len);

		if (i > first)
			r = buf_append(out, ",", 1);
		if (r == 0)
			r = buf_append(out, row, len);
	}
	return r ? r : buf_append(out, "]}", 2);
}

int
payload_cycle(struct buf *out, const struct quarter *q, const struct engine *e, size_t at)
{
	size_t len;
	const char *row = quarter_row_json(q, e->first_row + at, &len);
	char head[48];
	int n, r;

	/* the row is {"cycle":N,...}: the unit goes in front of its first member */
	buf_reset(out);
	n = snprintf(head, sizeof(head), "{\"unit\":%" PRId64 ",", e->unit);
	r = buf_append(out, head, (size_t)n);
	return r ? r : buf_append(out, row + 1, len - 1);
}

int
payload_failure(struct buf *out, const struct engine *e)
{
	char text[96];
	int n;

	buf_reset(out);
	n = snprintf(text, sizeof(text), "{\"unit\":%" PRId64 ",\"failed_at_cycle\":%" PRId64 "}",
		     e->unit, e->last_cycle);
	return buf_append(out, text, (size_t)n);
}

int
payload_window(struct buf *out, const char *label)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	int r;

	if (o == NULL || cJSON_AddStringToObject(o, "label", label) == NULL) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -ENOMEM;
	buf_reset(out);
	r = buf_append(out, text, strlen(text));
	free(text);
	return r;
}

int
payload_parse_rul(const char *body, size_t len, double *rul)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *p, *v;
	int r = -EINVAL;

	p = cJSON_GetObjectItemCaseSensitive(root, "predictions");
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(p, 0), "rul");
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		*rul = v->valuedouble;
		r = 0;
	}
	cJSON_Delete(root);
	return r;
}

/* Copy at most one line of text, so a stray HTML page does not flood the terminal. */
static void
copy_line(const char *text, size_t len, char *out, size_t out_len)
{
	size_t n = 0;

	while (n < len && text[n] != '\n' && text[n] != '\r' && n + 1 < out_len)
		n++;
	memcpy(out, text, n);
	out[n] = '\0';
}

void
payload_error_message(const char *body, size_t len, char *out, size_t out_len)
{
	cJSON *root;
	const cJSON *e, *code, *msg;

	if (out_len == 0)
		return;
	while (len > 0 && (body[0] == ' ' || body[0] == '\n' || body[0] == '\r')) {
		body++;
		len--;
	}
	if (len == 0) {
		snprintf(out, out_len, "(empty body)");
		return;
	}
	root = cJSON_ParseWithLength(body, len);
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(msg) && cJSON_IsString(code))
		snprintf(out, out_len, "%s: %s", code->valuestring, msg->valuestring);
	else if (cJSON_IsString(msg))
		snprintf(out, out_len, "%s", msg->valuestring);
	else if (cJSON_IsString(e))
		snprintf(out, out_len, "%s", e->valuestring);
	else
		copy_line(body, len, out, out_len);
	cJSON_Delete(root);
}
