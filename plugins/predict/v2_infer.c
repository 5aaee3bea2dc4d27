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

/*
 * What an input must be: its name, rank and fixed dimensions (0: any size of at least 1), its
 * datatypes (floating point or integer), and words for messages. The free dimensions together
 * hold at most max_rows rows (cycles), the bound every input shares.
 */
struct tensor_spec {
	const char *name;
	int rank;
	int64_t fixed[3];
	bool integer;        /* INT64 or INT32; else FP32 or FP64 */
	const char *layout;  /* "[rows, 26]" */
	const char *columns; /* what the fixed last dimension holds */
};

static const struct tensor_spec rows_spec = {
	V2_INPUT_NAME, 2, { 0, V2_ROW_WIDTH }, false, "[rows, 26]",
	"(unit, cycle, 3 settings, 21 sensors)",
};
static const struct tensor_spec window_spec = {
	V2_WINDOW_NAME, 3, { 0, 0, CMAPSS_N_INPUTS }, false, "[engines, cycles, 24]",
	"(3 settings, 21 sensors)",
};
static const struct tensor_spec cycle_spec = {
	V2_CYCLE_NAME, 1, { 0 }, true, "[engines]", "",
};
static const struct tensor_spec unit_spec = {
	V2_UNIT_NAME, 1, { 0 }, true, "[engines]", "",
};

/* A tensor read: its dimensions and its values as doubles, row-major. */
struct tensor {
	bool given;
	size_t dims[3];
	size_t elements;
	double *values;
};

/* "[90, 26]" */
static const char *
shape_text(const struct tensor_spec *spec, const size_t *dims, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	for (i = 0; i < spec->rank; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%zu", i ? ", " : "[", dims[i]);
	snprintf(buf + used, len - used, "]");
	return buf;
}

/* The input's shape: spec's rank and fixed dimensions, each at least 1, at most max_rows rows. */
static int
read_shape(const cJSON *input, const struct tensor_spec *spec, size_t max_rows, size_t *dims,
	   struct predict_error *err)
{
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(input, "shape"), *d;
	int64_t v[3];
	uint64_t rows = 1;
	int i = 0;

	if (!cJSON_IsArray(shape))
		return BAD(err, "input '%s': 'shape' must be an array of %d dimension%s %s",
			   spec->name, spec->rank, spec->rank > 1 ? "s" : "", spec->layout);
	if (cJSON_GetArraySize(shape) != spec->rank)
		return BAD(err, "input '%s': shape has %d dimensions, expected %d %s", spec->name,
			   cJSON_GetArraySize(shape), spec->rank, spec->layout);
	cJSON_ArrayForEach(d, shape) {
		if (!whole_number(d, -9.2e18, 9.2e18, &v[i]))
			return BAD(err, "input '%s': shape[%d] is not an integer of 64 bits",
				   spec->name, i);
		if (v[i] <= 0)
			return BAD(err, "input '%s': shape[%d] is %lld, expected at least 1", spec->name,
				   i, (long long)v[i]);
		i++;
	}
	for (i = 0; i < spec->rank; i++) {
		if (spec->fixed[i] != 0 && v[i] != spec->fixed[i])
			return BAD(err, "input '%s': shape[%d] is %lld, expected %lld %s", spec->name, i,
				   (long long)v[i], (long long)spec->fixed[i], spec->columns);
		if (spec->fixed[i] != 0)
			continue;
		/* rows <= max_rows before the product, so that it cannot overflow */
		if ((uint64_t)v[i] > max_rows / rows) {
			if (spec->rank == 2)
				return BAD(err, "input '%s': shape[0] is %lld rows, more than the %zu "
					   "this service takes (max_instances x max_cycles)",
					   spec->name, (long long)v[0], max_rows);
			return BAD(err, "input '%s': shape[%d] is %lld: more than the %zu cycles in "
				   "all this service takes (max_instances x max_cycles)", spec->name,
				   i, (long long)v[i], max_rows);
		}
		rows *= (uint64_t)v[i];
	}
	for (i = 0; i < spec->rank; i++)
		dims[i] = (size_t)v[i];
	return 0;
}

/* The size of an element of the input's datatype, 0 when spec does not take it. */
static size_t
datatype_size(const cJSON *input, const struct tensor_spec *spec, bool *is_signed)
{
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(input, "datatype");

	*is_signed = false;
	if (!cJSON_IsString(dt))
		return 0;
	if (spec->integer) {
		*is_signed = true;
		return strcmp(dt->valuestring, "INT64") == 0 ? 8 :
		       strcmp(dt->valuestring, "INT32") == 0 ? 4 : 0;
	}
	return strcmp(dt->valuestring, "FP64") == 0 ? 8 :
	       strcmp(dt->valuestring, "FP32") == 0 ? 4 : 0;
}

/* parameters.NAME of obj when it is a boolean true. */
static bool
parameter_true(const cJSON *obj, const char *name)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "parameters");

	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, name));
}

/* ---- the inputs' values ------------------------------------------------------------------ */

/*
 * Little-endian values, whatever the host's byte order: IEEE 754 (FP32, FP64) or two's
 * complement (INT32, INT64). An integer past 2^53, which a double cannot hold exactly, is
 * taken as infinite: no unit or cycle is that large, and it is refused as such.
 */
static double
read_le(const unsigned char *p, size_t size, bool is_signed)
{
	uint64_t u = 0;
	size_t i;

	for (i = 0; i < size; i++)
		u |= (uint64_t)p[i] << (8 * i);
	if (is_signed) {
		int64_t q = size == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;

		return q > (INT64_C(1) << 53) || q < -(INT64_C(1) << 53) ? INFINITY : (double)q;
	}
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
as_datatype(double v, size_t size, bool is_signed)
{
	if (size == 4 && !is_signed)
		return fabs(v) > FLT_MAX ? (v < 0 ? -INFINITY : INFINITY) : (double)(float)v;
	return v;
}

/* Flatten "data" (flat or nested up to max_depth levels) into values; count is checked. */
static int
read_json_data(const cJSON *data, const char *name, size_t size, bool is_signed,
	       double *values, size_t want, size_t *got, int depth, int max_depth,
	       struct predict_error *err)
{
	const cJSON *v;
	int rc;

	cJSON_ArrayForEach(v, data) {
		if (cJSON_IsArray(v) && depth < max_depth) {
			rc = read_json_data(v, name, size, is_signed, values, want, got, depth + 1,
					    max_depth, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!cJSON_IsNumber(v))
			return BAD(err, "input '%s': data[%zu] is not a number", name, *got);
		if (*got == want)
			return BAD(err, "input '%s': data has more than the %zu values of its shape",
				   name, want);
		values[(*got)++] = as_datatype(v->valuedouble, size, is_signed);
	}
	return 0;
}

/* How many values "data" holds, counted before anything the shape asks for is allocated. */
static size_t
count_json_data(const cJSON *data, int depth, int max_depth)
{
	const cJSON *v;
	size_t n = 0;

	cJSON_ArrayForEach(v, data)
		n += cJSON_IsArray(v) && depth < max_depth ? count_json_data(v, depth + 1, max_depth) :
							     1;
	return n;
}

/*
 * An input's values, from its "data" or from its binary_data_size bytes at *binary (which then
 * moves past them; end is the end of the body).
 */
static int
read_tensor(const cJSON *input, const struct tensor_spec *spec, size_t max_rows,
	    const unsigned char **binary, const unsigned char *end, struct tensor *t,
	    struct predict_error *err)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(input, "parameters");
	const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(input, "data");
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(input, "datatype");
	size_t size, bytes, got = 0, i;
	char shape[96];
	int64_t declared;
	bool is_signed;
	int rc;

	size = datatype_size(input, spec, &is_signed);
	if (size == 0)
		return BAD(err, "input '%s': datatype %s%.16s%s is not accepted, expected %s",
			   spec->name, cJSON_IsString(dt) ? "'" : "",
			   cJSON_IsString(dt) ? dt->valuestring : "missing",
			   cJSON_IsString(dt) ? "'" : "",
			   spec->integer ? "INT64 or INT32" : "FP32 or FP64");
	rc = read_shape(input, spec, max_rows, t->dims, err);
	if (rc < 0)
		return rc;
	/* at most max_rows rows (a size_t setting up to 10^12) of 26 values: no overflow */
	t->elements = 1;
	for (i = 0; i < (size_t)spec->rank; i++)
		t->elements *= t->dims[i];
	bytes = t->elements * size;
	shape_text(spec, t->dims, shape, sizeof(shape));
	if (bsize != NULL) {
		if (!whole_number(bsize, 0, 9.2e18, &declared))
			return BAD(err, "input '%s': parameters.binary_data_size must be a "
				   "non-negative integer", spec->name);
		if (data != NULL)
			return BAD(err, "input '%s': both 'data' and binary_data_size", spec->name);
		if ((uint64_t)declared != bytes)
			return BAD(err, "input '%s': binary_data_size is %lld bytes, its shape %s "
				   "of %s needs %zu", spec->name, (long long)declared, shape,
				   dt->valuestring, bytes);
		if ((size_t)(end - *binary) < bytes)
			return BAD(err, "input '%s': binary_data_size is %zu bytes, the body holds %zu "
				   "after the JSON header", spec->name, bytes, (size_t)(end - *binary));
	} else if (!cJSON_IsArray(data)) {
		return BAD(err, "input '%s': expected 'data' (an array) or "
			   "parameters.binary_data_size", spec->name);
	} else if ((got = count_json_data(data, 0, spec->rank - 1)) != t->elements) {
		return BAD(err, "input '%s': data has %zu values, its shape %s needs %zu",
			   spec->name, got, shape, t->elements);
	}
	t->values = malloc(t->elements * sizeof(*t->values));
	if (t->values == NULL)
		return fail(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	t->given = true;
	if (bsize != NULL) {
		for (i = 0; i < t->elements; i++)
			t->values[i] = read_le(*binary + i * size, size, is_signed);
		*binary += bytes;
		return 0;
	}
	got = 0;
	rc = read_json_data(data, spec->name, size, is_signed, t->values, t->elements, &got, 0,
			    spec->rank - 1, err);
	if (rc == 0 && got != t->elements)
		rc = BAD(err, "input '%s': data has %zu values, its shape %s needs %zu", spec->name,
			 got, shape, t->elements);
	return rc;
}

/* ---- the table of rows ------------------------------------------------------------------- */

static int
alloc_table(struct cmapss_table *t, size_t rows, struct predict_error *err)
{
	t->unit = malloc(rows * sizeof(*t->unit));
	t->cycle = malloc(rows * sizeof(*t->cycle));
	t->values = malloc(rows * CMAPSS_N_INPUTS * sizeof(*t->values));
	if (t->unit == NULL || t->cycle == NULL || t->values == NULL)
		return fail(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	return 0;
}

/* A unit or cycle number: whole, not negative, small enough for any use of it. */
static bool
whole_count(double v)
{
	return v == floor(v) && v >= 0 && v <= 9.0e15;
}

/*
 * The rows form: values (rows x 26, row-major) into the table; unit and cycle must be whole
 * numbers. Rows and columns are counted from 1 in messages, as for a text/plain body.
 */
static int
table_of_rows(const struct tensor *rows, struct cmapss_table *t, struct predict_error *err)
{
	size_t i, k, n = rows->dims[0];
	const double *row;
	int rc = alloc_table(t, n, err);

	for (i = 0; rc == 0 && i < n; i++) {
		row = rows->values + i * V2_ROW_WIDTH;
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
	t->rows = rc == 0 ? n : 0;
	return rc;
}

/*
 * The window form: engine b's cycles are the window's dims[1] rows, numbered up to cycle[b]
 * (consecutive, oldest first), of unit unit[b] or, without that input, b + 1.
 */
static int
table_of_windows(const struct tensor *window, const struct tensor *cycle,
		 const struct tensor *unit, struct cmapss_table *t, size_t *cycles,
		 struct predict_error *err)
{
	size_t engines = window->dims[0], n = window->dims[1], b, j, k;
	const double *v;
	int rc;

	if (!cycle->given)
		return BAD(err, "input '%s' is missing: the window form needs each engine's last "
			   "cycle number (INT64, shape [engines])", V2_CYCLE_NAME);
	if (cycle->dims[0] != engines || (unit->given && unit->dims[0] != engines))
		return BAD(err, "input '%s': shape [%zu], input '%s' has %zu engines",
			   cycle->dims[0] != engines ? V2_CYCLE_NAME : V2_UNIT_NAME,
			   cycle->dims[0] != engines ? cycle->dims[0] : unit->dims[0],
			   V2_WINDOW_NAME, engines);
	for (b = 0; b < engines; b++) {
		if (!whole_count(cycle->values[b]) || cycle->values[b] + 1 < (double)n)
			return BAD(err, "input '%s': element %zu is %.17g: expected a whole number "
				   "of at least %zu, the window's %zu cycles numbered up to it from 0 "
				   "or more", V2_CYCLE_NAME, b + 1, cycle->values[b], n - 1, n);
		if (unit->given && !whole_count(unit->values[b]))
			return BAD(err, "input '%s': element %zu is %.17g: expected a non-negative "
				   "integer", V2_UNIT_NAME, b + 1, unit->values[b]);
	}
	rc = alloc_table(t, engines * n, err);
	for (b = 0; rc == 0 && b < engines; b++)
		for (j = 0; j < n; j++) {
			v = window->values + (b * n + j) * CMAPSS_N_INPUTS;
			for (k = 0; k < CMAPSS_N_INPUTS; k++)
				if (!isfinite(v[k]))
					return BAD(err, "input '%s': engine %zu, cycle %zu, column %zu: "
						   "number is not finite", V2_WINDOW_NAME, b + 1, j + 1,
						   k + 1);
			t->unit[b * n + j] = unit->given ? (int64_t)unit->values[b] : (int64_t)b + 1;
			t->cycle[b * n + j] = (int64_t)cycle->values[b] - (int64_t)(n - 1 - j);
			memcpy(t->values + (b * n + j) * CMAPSS_N_INPUTS, v,
			       CMAPSS_N_INPUTS * sizeof(double));
		}
	t->rows = rc == 0 ? engines * n : 0;
	*cycles = n;
	return rc;
}

/*
 * The inputs, read in the order of "inputs" (which is the order of their binary data), then
 * one of the two forms into the table: rows, or window with cycle (and unit).
 */
static int
read_inputs(const cJSON *root, size_t max_rows, const unsigned char *binary,
	    const unsigned char *end, struct v2_infer *in, struct predict_error *err)
{
	static const struct tensor_spec *const specs[] = { &rows_spec, &window_spec, &cycle_spec,
							   &unit_spec };
	enum { ROWS, WINDOW, CYCLE, UNIT, N_SPECS };
	const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs"), *input, *name;
	struct tensor t[N_SPECS] = { { 0 } };
	int i = 0, k, rc = 0;

	if (!cJSON_IsArray(inputs))
		return BAD(err, "'inputs' must be an array holding the input '%s'", V2_INPUT_NAME);
	cJSON_ArrayForEach(input, inputs) {
		name = cJSON_GetObjectItemCaseSensitive(input, "name");
		if (!cJSON_IsString(name)) {
			rc = BAD(err, "inputs[%d]: 'name' must be a string", i);
			goto out;
		}
		for (k = 0; k < N_SPECS; k++)
			if (strcmp(name->valuestring, specs[k]->name) == 0)
				break;
		if (k == N_SPECS) {
			rc = BAD(err, "input '%.64s': no such input, the model takes '%s' (or "
				 "'%s', '%s' and '%s')", name->valuestring, V2_INPUT_NAME,
				 V2_WINDOW_NAME, V2_CYCLE_NAME, V2_UNIT_NAME);
			goto out;
		}
		if (t[k].given) {
			rc = BAD(err, "input '%s': given twice", specs[k]->name);
			goto out;
		}
		rc = read_tensor(input, specs[k], max_rows, &binary, end, &t[k], err);
		if (rc < 0)
			goto out;
		i++;
	}
	if (binary != end)
		rc = BAD(err, "%zu bytes after the JSON header that no input's binary_data_size "
			 "accounts for", (size_t)(end - binary));
	else if (t[ROWS].given && (t[WINDOW].given || t[CYCLE].given || t[UNIT].given))
		rc = BAD(err, "input '%s' and the window form's '%s', '%s', '%s' do not go together",
			 V2_INPUT_NAME, V2_WINDOW_NAME, V2_CYCLE_NAME, V2_UNIT_NAME);
	else if (t[ROWS].given)
		rc = table_of_rows(&t[ROWS], &in->rows, err);
	else if (t[WINDOW].given)
		rc = table_of_windows(&t[WINDOW], &t[CYCLE], &t[UNIT], &in->rows, &in->window, err);
	else
		rc = BAD(err, "input '%s' is missing (or the window form's '%s' and '%s')",
			 V2_INPUT_NAME, V2_WINDOW_NAME, V2_CYCLE_NAME);
out:
	for (k = 0; k < N_SPECS; k++)
		free(t[k].values);
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

int
v2_infer_request(const struct v2_infer *in, const struct predict_limits *lim,
		 struct predict_request *r, struct predict_error *err)
{
	char msg[sizeof(err->message)];
	int rc;

	rc = in->window > 0 ? predict_request_from_windows(&in->rows, in->window, lim, r, err) :
			      predict_request_from_table(&in->rows, lim, r, err);
	/* what the grouping says of the rows, said of the input */
	if (rc < 0 && err->status != 503) {
		snprintf(msg, sizeof(msg), "input '%s': %.230s",
			 in->window > 0 ? V2_WINDOW_NAME : V2_INPUT_NAME, err->message);
		memcpy(err->message, msg, sizeof(msg));
	}
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
