/* SPDX-License-Identifier: MIT */
/* parse.c - POST /v1/feedback bodies to records, with the error locations of docs/API.md. */
#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "utf8.h"

#define FB_INT_MAX 9007199254740992.0 /* 2^53: every integer below is exact in a double */
#define FB_RUL_MAX 5000.0             /* cycles: far beyond any engine, finite in every sum */

static const char *const fb_fields[] = {
	"unit", "cycle", "actual_rul", "predicted_rul", "failed_at_cycle", "model", NULL,
};

const char *
fb_error_reason(unsigned status)
{
	return status == 400   ? "malformed_json"
	       : status == 408 ? "request_timeout"
	       : status == 413 ? "too_large"
	       : status == 422 ? "invalid"
			       : "internal";
}

__attribute__((format(printf, 4, 5))) static int
parse_fail(struct fb_parse_error *err, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->code = code;
	err->reason = fb_error_reason(status);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
parse_invalid(struct fb_parse_error *err, const char *at, const char *field, const char *what)
{
	return parse_fail(err, 422, "invalid_request", "%s%s%s: %s", at, *at ? "." : "", field,
			  what);
}

static bool
parse_known_field(const char *name)
{
	size_t i;

	for (i = 0; fb_fields[i] != NULL; i++)
		if (strcmp(fb_fields[i], name) == 0)
			return true;
	return false;
}

/* A non-negative integer field; -ENOENT when absent (absent is the caller's decision). */
static int
parse_count(const cJSON *obj, const char *field, const char *at, int64_t *out,
	    struct fb_parse_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	double d;

	if (v == NULL)
		return -ENOENT;
	if (!cJSON_IsNumber(v))
		return parse_invalid(err, at, field, "expected a non-negative integer");
	d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d >= FB_INT_MAX || d != floor(d))
		return parse_invalid(err, at, field, "expected a non-negative integer");
	*out = (int64_t)d;
	return 0;
}

/* A finite number in [min, max]; -ENOENT when absent. */
static int
parse_number(const cJSON *obj, const char *field, const char *at, double min, double max,
	     double *out, struct fb_parse_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	char what[64];

	if (v == NULL)
		return -ENOENT;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return parse_invalid(err, at, field, "expected a finite number");
	if (v->valuedouble < min || v->valuedouble > max) {
		snprintf(what, sizeof(what), "expected a number from %g to %g", min, max);
		return parse_invalid(err, at, field, what);
	}
	*out = v->valuedouble;
	return 0;
}

static int
parse_required(int r, const char *at, const char *field, struct fb_parse_error *err)
{
	if (r == -ENOENT)
		return parse_invalid(err, at, field, "required");
	return r;
}

static int
parse_model(const cJSON *obj, const char *at, struct fb_record *rec, struct fb_parse_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "model");
	size_t len;

	rec->model[0] = 0;
	if (v == NULL)
		return 0;
	if (!cJSON_IsString(v))
		return parse_invalid(err, at, "model", "expected a string");
	len = strlen(v->valuestring);
	if (len == 0 || len >= FB_MODEL_MAX)
		return parse_invalid(err, at, "model", "expected 1 to 127 characters");
	/* the name becomes a Prometheus label value and JSON text in /v1/feedback/stats */
	if (!utf8_text_valid(v->valuestring, len))
		return parse_invalid(err, at, "model",
				     "expected UTF-8 text without control characters");
	memcpy(rec->model, v->valuestring, len + 1);
	return 0;
}

static int
parse_failure(const cJSON *obj, const char *at, struct fb_record *rec,
	      struct fb_parse_error *err)
{
	static const char *const excluded[] = { "cycle", "actual_rul", "predicted_rul", NULL };
	size_t i;

	for (i = 0; excluded[i] != NULL; i++)
		if (cJSON_GetObjectItemCaseSensitive(obj, excluded[i]) != NULL)
			return parse_invalid(err, at, excluded[i],
					     "not allowed beside failed_at_cycle (a failure "
					     "event scores the logged predictions of the unit)");
	rec->kind = FB_RECORD_FAILURE;
	return parse_count(obj, "failed_at_cycle", at, &rec->failed_at, err);
}

static int
parse_record(const cJSON *obj, const char *at, struct fb_record *rec, struct fb_parse_error *err)
{
	const cJSON *f;
	int r;

	if (!cJSON_IsObject(obj))
		return parse_fail(err, 422, "invalid_request", "%s: expected an object",
				  *at ? at : "body");
	/* cJSON keeps duplicated keys and finds the first: refuse them rather than guess. Only
	 * known names pass, so the first duplicate is among the first few fields. */
	cJSON_ArrayForEach(f, obj) {
		const cJSON *g;

		if (!parse_known_field(f->string))
			return parse_invalid(err, at, f->string,
					     "unknown field (expected unit, cycle, actual_rul, "
					     "predicted_rul, failed_at_cycle, model)");
		for (g = obj->child; g != f; g = g->next)
			if (strcmp(g->string, f->string) == 0)
				return parse_invalid(err, at, f->string, "duplicate field");
	}
	memset(rec, 0, sizeof(*rec));
	r = parse_required(parse_count(obj, "unit", at, &rec->unit, err), at, "unit", err);
	if (r == 0)
		r = parse_model(obj, at, rec, err);
	if (r < 0)
		return r;
	if (cJSON_GetObjectItemCaseSensitive(obj, "failed_at_cycle") != NULL)
		return parse_failure(obj, at, rec, err);
	r = parse_required(parse_count(obj, "cycle", at, &rec->cycle, err), at, "cycle", err);
	if (r == 0)
		r = parse_required(parse_number(obj, "actual_rul", at, 0, FB_RUL_MAX, &rec->actual, err),
				   at, "actual_rul", err);
	if (r < 0)
		return r;
	r = parse_number(obj, "predicted_rul", at, -FB_RUL_MAX, FB_RUL_MAX, &rec->predicted,
			 err);
	if (r == -ENOENT) {
		rec->kind = FB_RECORD_MATCH;
		return 0;
	}
	rec->kind = FB_RECORD_SCORED;
	return r;
}

static int
parse_batch(const cJSON *list, size_t max_batch, struct fb_record **out, size_t *count,
	    struct fb_parse_error *err)
{
	struct fb_record *recs;
	const cJSON *item;
	char at[48];
	size_t n, i = 0;
	int r = 0;

	if (!cJSON_IsArray(list))
		return parse_fail(err, 422, "invalid_request", "records: expected an array");
	n = (size_t)cJSON_GetArraySize(list);
	if (n == 0)
		return parse_fail(err, 422, "invalid_request",
				  "records: expected at least one record");
	if (n > max_batch)
		return parse_fail(err, 413, "payload_too_large",
				  "records: at most %zu records per request, got %zu", max_batch,
				  n);
	recs = calloc(n, sizeof(*recs));
	if (recs == NULL)
		return parse_fail(err, 503, "internal", "out of memory");
	cJSON_ArrayForEach(item, list) {
		snprintf(at, sizeof(at), "records[%zu]", i);
		r = parse_record(item, at, &recs[i], err);
		if (r < 0)
			break;
		i++;
	}
	if (r < 0) {
		free(recs);
		return r;
	}
	*out = recs;
	*count = n;
	return 0;
}

int
fb_parse(const char *body, size_t len, size_t max_batch, struct fb_record **out,
	 size_t *count, bool *batch, struct fb_parse_error *err)
{
	const char *end = NULL;
	cJSON *root;
	const cJSON *list;
	int r;

	*out = NULL;
	*count = 0;
	*batch = false;
	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (root == NULL)
		return parse_fail(err, 400, "malformed_json", "body: malformed JSON at byte %zu",
				  end != NULL && end >= body ? (size_t)(end - body) : 0);
	while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != body + len) {
		r = parse_fail(err, 400, "malformed_json",
			       "body: malformed JSON: trailing data at byte %zu", (size_t)(end - body));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		r = parse_fail(err, 422, "invalid_request", "body: expected a JSON object");
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, "records");
	if (list != NULL) {
		if (cJSON_GetArraySize(root) != 1) {
			r = parse_fail(err, 422, "invalid_request",
				       "body: a batch holds only \"records\"");
			goto out;
		}
		*batch = true;
		r = parse_batch(list, max_batch, out, count, err);
		goto out;
	}
	*out = calloc(1, sizeof(**out));
	if (*out == NULL) {
		r = parse_fail(err, 503, "internal", "out of memory");
		goto out;
	}
	r = parse_record(root, "", *out, err);
	if (r < 0) {
		free(*out);
		*out = NULL;
	} else {
		*count = 1;
	}
out:
	cJSON_Delete(root);
	return r;
}
