/* SPDX-License-Identifier: MIT */
/* v2_infer.c - an Open Inference Protocol (KServe V2) infer request in, its response out. */
#include "v2_infer.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const output_names[V2_OUT_COUNT] = { "rul", "unit", "cycle" };

const char *
v2_output_name(enum v2_output o)
{
	return output_names[o];
}

__attribute__((format(printf, 4, 5))) static int
fail(struct predict_error *err, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define BAD(err, ...) fail(err, 400, V2_ERR_INVALID_TENSOR, __VA_ARGS__)

/* ---- the JSON header --------------------------------------------------------------------- */

/* A JSON number that is a whole number in [min, max]. */
static bool
whole_number(const cJSON *v, double min, double max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= min && d <= max) || d != floor(d))
		return false;
	*out = (int64_t)d;
	return true;
}

/* The Inference-Header-Content-Length value: digits only, at most len. */
static int
header_length_of(const char *value, size_t len, size_t *out, struct predict_error *err)
{
	size_t n = 0;
	const char *p;

	if (value == NULL) {
		*out = len;
		return 0;
	}
	if (*value == '\0')
		return BAD(err, "Inference-Header-Content-Length: expected a number of bytes, got ''");
	for (p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10)
			return BAD(err, "Inference-Header-Content-Length: expected a number of bytes "
				   "no larger than the body, got '%.32s'", value);
		n = n * 10 + (size_t)(*p - '0');
	}
	if (n > len)
		return BAD(err, "Inference-Header-Content-Length: %zu is past the body of %zu bytes",
			   n, len);
	*out = n;
	return 0;
}

/* The input's shape: [rows, 26], rows >= 1 and at most max_rows. */
static int
read_shape(const cJSON *input, size_t max_rows, size_t *rows, struct predict_error *err)
{
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(input, "shape"), *d;
	int64_t dims[2];
	int i = 0;

	if (!cJSON_IsArray(shape))
		return BAD(err, "input '%s': 'shape' must be an array of 2 dimensions [rows, %d]",
			   V2_INPUT_NAME, V2_ROW_WIDTH);
	if (cJSON_GetArraySize(shape) != 2)
		return BAD(err, "input '%s': shape has %d dimensions, expected 2 [rows, %d]",
			   V2_INPUT_NAME, cJSON_GetArraySize(shape), V2_ROW_WIDTH);
	cJSON_ArrayForEach(d, shape) {
		if (!whole_number(d, -9.2e18, 9.2e18, &dims[i]))
			return BAD(err, "input '%s': shape[%d] is not an integer of 64 bits",
				   V2_INPUT_NAME, i);
		if (dims[i] <= 0)
			return BAD(err, "input '%s': shape[%d] is %lld, expected at least 1",
				   V2_INPUT_NAME, i, (long long)dims[i]);
		i++;
	}
	if (dims[1] != V2_ROW_WIDTH)
		return BAD(err, "input '%s': shape[1] is %lld, expected %d (unit, cycle, 3 "
			   "settings, 21 sensors)", V2_INPUT_NAME, (long long)dims[1], V2_ROW_WIDTH);
	if ((uint64_t)dims[0] > max_rows)
		return BAD(err, "input '%s': shape[0] is %lld rows, more than the %zu this service "
			   "takes (max_instances x max_cycles)", V2_INPUT_NAME, (long long)dims[0],
			   max_rows);
	*rows = (size_t)dims[0];
	return 0;
}

/* 4 for FP32, 8 for FP64, 0 for anything else. */
static size_t
datatype_size(const cJSON *input)
{
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(input, "datatype");

	if (!cJSON_IsString(dt))
		return 0;
	if (strcmp(dt->valuestring, "FP32") == 0)
		return 4;
	if (strcmp(dt->valuestring, "FP64") == 0)
		return 8;
	return 0;
}

/* parameters.NAME of obj when it is a boolean true. */
static bool
parameter_true(const cJSON *obj, const char *name)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "parameters");

	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, name));
}

/* ---- the input's values ------------------------------------------------------------------ */

/* Little-endian IEEE 754 values, whatever the host's byte order. */
static double
read_le(const unsigned char *p, size_t size)
{
	uint64_t u = 0;
	size_t i;

	for (i = 0; i < size; i++)
		u |= (uint64_t)p[i] << (8 * i);
	if (size == 4) {
		uint32_t w = (uint32_t)u;
		float f;

		memcpy(&f, &w, sizeof(f));
		return (double)f;
	}
	{
		double d;

		memcpy(&d, &u, sizeof(d));
		return d;
	}
}

/*
 * A JSON number as the datatype holds it: FP32 values are rounded to float as a binary FP32
 * tensor's would be (one past float's range is infinite, and refused as such).
 */
static double
as_datatype(double v, size_t size)
{
	if (size == 4)
		return fabs(v) > FLT_MAX ? (v < 0 ? -INFINITY : INFINITY) : (double)(float)v;
	return v;
}

/* Flatten "data" (flat or nested to the shape's 2 levels) into values; count is checked. */
static int
read_json_data(const cJSON *data, size_t size, double *values, size_t want, size_t *got,
	       int depth, struct predict_error *err)
{
	const cJSON *v;
	int rc;

	cJSON_ArrayForEach(v, data) {
		if (cJSON_IsArray(v) && depth < 1) {
			rc = read_json_data(v, size, values, want, got, depth + 1, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!cJSON_IsNumber(v))
			return BAD(err, "input '%s': data[%zu] is not a number", V2_INPUT_NAME, *got);
		if (*got == want)
			return BAD(err, "input '%s': data has more than the %zu values of its shape",
				   V2_INPUT_NAME, want);
		values[(*got)++] = as_datatype(v->valuedouble, size);
	}
	return 0;
}

/* How many values "data" holds, counted before anything the shape asks for is allocated. */
static size_t
count_json_data(const cJSON *data, int depth)
{
	const cJSON *v;
	size_t n = 0;

	cJSON_ArrayForEach(v, data)
		n += cJSON_IsArray(v) && depth < 1 ? count_json_data(v, depth + 1) : 1;
	return n;
}

/*
 * Values (rows x 26, row-major) into the table: unit and cycle must be whole numbers. Rows
 * and columns are counted from 1 in messages, as for a text/plain body.
 */
static int
fill_table(const double *values, size_t rows, struct cmapss_table *t, struct predict_error *err)
{
	size_t i, k;
	const double *row;

	for (i = 0; i < rows; i++) {
		row = values + i * V2_ROW_WIDTH;
		for (k = 0; k < V2_ROW_WIDTH; k++)
			if (!isfinite(row[k]))
				return BAD(err, "input '%s': row %zu, column %zu: number is not finite",
					   V2_INPUT_NAME, i + 1, k + 1);
		for (k = 0; k < 2; k++)
			if (row[k] != floor(row[k]) || fabs(row[k]) > 9.0e15)
				return BAD(err, "input '%s': row %zu: %s %.17g is not an integer",
					   V2_INPUT_NAME, i + 1, k == 0 ? "unit" : "cycle", row[k]);
		t->unit[i] = (int64_t)row[0];
		t->cycle[i] = (int64_t)row[1];
		memcpy(t->values + i * CMAPSS_N_INPUTS, row + 2, CMAPSS_N_INPUTS * sizeof(double));
	}
	t->rows = rows;
	return 0;
}

static int
alloc_table(struct cmapss_table *t, size_t rows, double **values, struct predict_error *err)
{
	t->unit = malloc(rows * sizeof(*t->unit));
	t->cycle = malloc(rows * sizeof(*t->cycle));
	t->values = malloc(rows * CMAPSS_N_INPUTS * sizeof(*t->values));
	*values = malloc(rows * V2_ROW_WIDTH * sizeof(**values));
	if (t->unit == NULL || t->cycle == NULL || t->values == NULL || *values == NULL)
		return fail(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	return 0;
}

/*
 * The input, from its "data" or from its binary_data_size bytes at *binary (which then moves
 * past them; end is the end of the body).
 */
static int
read_input(const cJSON *input, size_t max_rows, const unsigned char **binary,
	   const unsigned char *end, struct v2_infer *in, struct predict_error *err)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(input, "parameters");
	const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(input, "data");
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(input, "datatype");
	size_t size = datatype_size(input), rows = 0, elements, bytes, got = 0, i;
	double *values = NULL;
	int64_t declared;
	int rc;

	if (size == 0)
		return BAD(err, "input '%s': datatype %s%.16s%s is not accepted, expected FP32 or FP64",
			   V2_INPUT_NAME, cJSON_IsString(dt) ? "'" : "",
			   cJSON_IsString(dt) ? dt->valuestring : "missing",
			   cJSON_IsString(dt) ? "'" : "");
	rc = read_shape(input, max_rows, &rows, err);
	if (rc < 0)
		return rc;
	/* rows <= max_rows (a size_t setting up to 10^12), so neither product overflows */
	elements = rows * V2_ROW_WIDTH;
	bytes = elements * size;
	if (bsize != NULL) {
		if (!whole_number(bsize, 0, 9.2e18, &declared))
			return BAD(err, "input '%s': parameters.binary_data_size must be a "
				   "non-negative integer", V2_INPUT_NAME);
		if (data != NULL)
			return BAD(err, "input '%s': both 'data' and binary_data_size", V2_INPUT_NAME);
		if ((uint64_t)declared != bytes)
			return BAD(err, "input '%s': binary_data_size is %lld bytes, its shape [%zu, %d] "
				   "of %s needs %zu", V2_INPUT_NAME, (long long)declared, rows,
				   V2_ROW_WIDTH, dt->valuestring, bytes);
		if ((size_t)(end - *binary) < bytes)
			return BAD(err, "input '%s': binary_data_size is %zu bytes, the body holds %zu "
				   "after the JSON header", V2_INPUT_NAME, bytes,
				   (size_t)(end - *binary));
	} else if (!cJSON_IsArray(data)) {
		return BAD(err, "input '%s': expected 'data' (an array) or "
			   "parameters.binary_data_size", V2_INPUT_NAME);
	} else if ((got = count_json_data(data, 0)) != elements) {
		return BAD(err, "input '%s': data has %zu values, its shape [%zu, %d] needs %zu",
			   V2_INPUT_NAME, got, rows, V2_ROW_WIDTH, elements);
	}
	got = 0;
	rc = alloc_table(&in->rows, rows, &values, err);
	if (rc == 0 && bsize != NULL) {
		for (i = 0; i < elements; i++)
			values[i] = read_le(*binary + i * size, size);
		*binary += bytes;
	} else if (rc == 0) {
		rc = read_json_data(data, size, values, elements, &got, 0, err);
		if (rc == 0 && got != elements)
			rc = BAD(err, "input '%s': data has %zu values, its shape [%zu, %d] needs %zu",
				 V2_INPUT_NAME, got, rows, V2_ROW_WIDTH, elements);
	}
	if (rc == 0)
		rc = fill_table(values, rows, &in->rows, err);
	free(values);
	return rc;
}

static int
read_inputs(const cJSON *root, size_t max_rows, const unsigned char *binary,
	    const unsigned char *end, struct v2_infer *in, struct predict_error *err)
{
	const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs"), *input, *name;
	const cJSON *ours = NULL;
	int i = 0, rc;

	if (!cJSON_IsArray(inputs))
		return BAD(err, "'inputs' must be an array holding the input '%s'", V2_INPUT_NAME);
	cJSON_ArrayForEach(input, inputs) {
		name = cJSON_GetObjectItemCaseSensitive(input, "name");
		if (!cJSON_IsString(name))
			return BAD(err, "inputs[%d]: 'name' must be a string", i);
		if (strcmp(name->valuestring, V2_INPUT_NAME) != 0)
			return BAD(err, "input '%.64s': no such input, the model takes '%s'",
				   name->valuestring, V2_INPUT_NAME);
		if (ours != NULL)
			return BAD(err, "input '%s': given twice", V2_INPUT_NAME);
		ours = input;
		i++;
	}
	if (ours == NULL)
		return BAD(err, "input '%s' is missing", V2_INPUT_NAME);
	rc = read_input(ours, max_rows, &binary, end, in, err);
	if (rc == 0 && binary != end)
		rc = BAD(err, "%zu bytes after the JSON header that no input's binary_data_size "
			 "accounts for", (size_t)(end - binary));
	return rc;
}

/* ---- the requested outputs --------------------------------------------------------------- */

static int
read_outputs(const cJSON *root, struct v2_infer *in, struct predict_error *err)
{
	const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs"), *o, *name, *bd;
	bool all_binary = parameter_true(root, "binary_data_output"), seen[V2_OUT_COUNT] = { 0 };
	int k;

	if (outputs == NULL) {
		for (k = 0; k < V2_OUT_COUNT; k++) {
			in->outs[k] = (enum v2_output)k;
			in->binary[k] = all_binary;
		}
		in->out_count = V2_OUT_COUNT;
		return 0;
	}
	if (!cJSON_IsArray(outputs))
		return BAD(err, "'outputs' must be an array");
	cJSON_ArrayForEach(o, outputs) {
		name = cJSON_GetObjectItemCaseSensitive(o, "name");
		if (!cJSON_IsString(name))
			return BAD(err, "outputs[%zu]: 'name' must be a string", in->out_count);
		for (k = 0; k < V2_OUT_COUNT; k++)
			if (strcmp(name->valuestring, output_names[k]) == 0)
				break;
		if (k == V2_OUT_COUNT)
			return BAD(err, "output '%.64s': no such output, the model gives 'rul', "
				   "'unit' and 'cycle'", name->valuestring);
		if (seen[k])
			return BAD(err, "output '%s': requested twice", output_names[k]);
		seen[k] = true;
		in->outs[in->out_count++] = (enum v2_output)k;
		/* an output's own binary_data overrides binary_data_output */
		bd = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(o, "parameters"), "binary_data");
		in->binary[k] = cJSON_IsBool(bd) ? cJSON_IsTrue(bd) : all_binary;
	}
	return 0;
}

int
v2_infer_parse(const char *body, size_t len, const char *header_length, size_t max_rows,
	       struct v2_infer *in, struct predict_error *err)
{
	const cJSON *id;
	cJSON *root;
	size_t json_len = 0;
	int rc;

	memset(in, 0, sizeof(*in));
	rc = header_length_of(header_length, len, &json_len, err);
	if (rc < 0)
		return rc;
	root = cJSON_ParseWithLength(body, json_len);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at != NULL && at >= body && at <= body + json_len ?
				     (size_t)(at - body) : 0;

		return fail(err, 400, PREDICT_ERR_MALFORMED_JSON,
			    "the JSON header (%zu bytes) is not valid JSON near byte %zu", json_len,
			    off);
	}
	if (!cJSON_IsObject(root)) {
		rc = BAD(err, "the request must be a JSON object");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id != NULL && !cJSON_IsString(id)) {
		rc = BAD(err, "'id' must be a string");
		goto out;
	}
	if (id != NULL && (in->id = strdup(id->valuestring)) == NULL) {
		rc = fail(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	rc = read_outputs(root, in, err);
	if (rc == 0)
		rc = read_inputs(root, max_rows, (const unsigned char *)body + json_len,
				 (const unsigned char *)body + len, in, err);
out:
	cJSON_Delete(root);
	return rc;
}

void
v2_infer_free(struct v2_infer *in)
{
	free(in->id);
	cmapss_table_free(&in->rows);
	in->id = NULL;
}

/* ---- the response ------------------------------------------------------------------------ */

static void
write_le(unsigned char *p, uint64_t u, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char)(u >> (8 * i));
}

/* Output o of engine i, as FP64 bits or an INT64. */
static uint64_t
output_bits(enum v2_output o, const struct predict_request *r, const float *rul, size_t i)
{
	const struct predict_engine *e = &r->engines[i];
	double d;
	uint64_t u;

	switch (o) {
	case V2_OUT_RUL:
		d = (double)rul[i];
		memcpy(&u, &d, sizeof(u));
		return u;
	case V2_OUT_UNIT:
		return (uint64_t)e->unit;
	default:
		return (uint64_t)e->cycles[e->n - 1];
	}
}

static cJSON *
json_values(enum v2_output o, const struct predict_request *r, const float *rul)
{
	cJSON *arr = cJSON_CreateArray();
	const struct predict_engine *e;
	size_t i;

	for (i = 0; arr != NULL && i < r->count; i++) {
		e = &r->engines[i];
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(
			o == V2_OUT_RUL ? (double)rul[i] :
			o == V2_OUT_UNIT ? (double)e->unit : (double)e->cycles[e->n - 1]));
	}
	return arr;
}

char *
v2_infer_render(const struct v2_infer *in, const char *model, const char *version,
		const struct predict_request *r, const float *rul, size_t *len, size_t *json_len)
{
	cJSON *root = cJSON_CreateObject(), *outs, *o, *shape, *params;
	size_t k, i, binary_bytes = 0, bytes = r->count * 8;
	char *json = NULL, *body = NULL;
	unsigned char *p;

	if (root == NULL)
		return NULL;
	cJSON_AddStringToObject(root, "model_name", model);
	cJSON_AddStringToObject(root, "model_version", version);
	if (in->id != NULL)
		cJSON_AddStringToObject(root, "id", in->id);
	outs = cJSON_AddArrayToObject(root, "outputs");
	for (k = 0; outs != NULL && k < in->out_count; k++) {
		enum v2_output out = in->outs[k];

		o = cJSON_CreateObject();
		cJSON_AddItemToArray(outs, o);
		cJSON_AddStringToObject(o, "name", output_names[out]);
		cJSON_AddStringToObject(o, "datatype", out == V2_OUT_RUL ? "FP64" : "INT64");
		shape = cJSON_AddArrayToObject(o, "shape");
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)r->count));
		if (in->binary[out]) {
			params = cJSON_AddObjectToObject(o, "parameters");
			cJSON_AddNumberToObject(params, "binary_data_size", (double)bytes);
			binary_bytes += bytes;
		} else {
			cJSON_AddItemToObject(o, "data", json_values(out, r, rul));
		}
	}
	json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (json == NULL)
		return NULL;
	*json_len = strlen(json);
	body = malloc(*json_len + binary_bytes + 1);
	if (body != NULL) {
		memcpy(body, json, *json_len);
		p = (unsigned char *)body + *json_len;
		for (k = 0; k < in->out_count; k++) {
			if (!in->binary[in->outs[k]])
				continue;
			for (i = 0; i < r->count; i++, p += 8)
				write_le(p, output_bits(in->outs[k], r, rul, i), 8);
		}
		*p = '\0';
		*len = *json_len + binary_bytes;
	}
	free(json);
	return body;
}
