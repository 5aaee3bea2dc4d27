/* SPDX-License-Identifier: MIT */
/* test_v2.c - the Open Inference Protocol (KServe V2 REST, Triton's binary tensors) on the daemon. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "harness/harness.h"
#include "need.h"

Suite *v2_suite(void);

#define WIDTH 26
#define UNITS 3
#define CYCLES 30
#define ROWS (UNITS * CYCLES)
#define HEADER_LENGTH "Inference-Header-Content-Length"

static struct harness_server srv;
static int port;
static char model[128], version[128];
static char infer_path[300], versioned_infer[400];

/*
 * Rows of 3 units x 30 cycles. Every value is a float, so FP32, FP64 and the text form
 * ("%.17g" reads back to the same double) carry the very same numbers.
 */
static double rows[ROWS * WIDTH];

static void
make_rows(void)
{
	static const double base[WIDTH - 2] = {
		0.0005, 0.0002, 100, 518.67, 642.5, 1590, 1405, 14.62, 21.61, 553.5, 2388.05,
		9050, 1.3, 47.5, 521.5, 2388.05, 8140, 8.43, 0.03, 393, 2388, 100, 38.9, 23.3,
	};
	int u, c, k;
	double *row;

	for (u = 0; u < UNITS; u++)
		for (c = 0; c < CYCLES; c++) {
			row = rows + (u * CYCLES + c) * WIDTH;
			row[0] = 11 + u * 5;
			row[1] = c + 1;
			for (k = 0; k < WIDTH - 2; k++)
				row[2 + k] = (double)(float)(base[k] * (1 + 0.004 * c + 0.01 * u +
									  0.0001 * ((u * 7 + k) % 5)));
		}
}

static void
setup(void)
{
	char conf[2048], path[600];
	struct harness_response r;
	cJSON *root;

	snprintf(path, sizeof(path), "%s/models/fd001", harness_source_dir());
	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"%s/plugins\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; "
		 "max_instances = 50; max_cycles = 400; }; };\n"
		 "  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/fb.db\"; }; };\n"
		 "  prometheus = { file = \"export_prometheus.so\"; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\";\n"
		 "    plugins = [ \"model\", \"feedback\", \"prometheus\" ]; };\n"
		 "};\n",
		 harness_build_dir(), path);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	port = harness_port(&srv, "prediction");
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(harness_get(port, "/v1/models", &r), 0);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	snprintf(model, sizeof(model), "%s",
		 cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0),
				     "name")->valuestring);
	snprintf(version, sizeof(version), "%s",
		 cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0),
				     "version")->valuestring);
	cJSON_Delete(root);
	harness_response_free(&r);
	snprintf(infer_path, sizeof(infer_path), "/v2/models/%s/infer", model);
	snprintf(versioned_infer, sizeof(versioned_infer), "/v2/models/%s/versions/%s/infer", model,
		 version);
	make_rows();
}

static void
teardown(void)
{
	harness_cleanup(&srv);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static cJSON *
get_json(const char *path, long want_status)
{
	struct harness_response r;
	cJSON *root;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	ck_assert_msg(r.status == want_status, "GET %s: %ld, want %ld: %s", path, r.status,
		      want_status, r.body);
	root = cJSON_Parse(r.body);
	ck_assert_msg(root != NULL, "GET %s: not JSON: %s", path, r.body);
	harness_response_free(&r);
	return root;
}

/* The V1 text/plain answer for rows: rul of each unit, in order. */
static void
v1_predictions(double *rul, long long *unit, long long *cycle)
{
	size_t cap = ROWS * WIDTH * 26 + 1, used = 0, i;
	char *text = malloc(cap);
	struct harness_response r;
	cJSON *root, *p;
	int k;

	for (i = 0; i < ROWS; i++) {
		for (k = 0; k < WIDTH; k++)
			used += (size_t)snprintf(text + used, cap - used, k ? " %.17g" : "%.17g",
						 rows[i * WIDTH + k]);
		text[used++] = '\n';
	}
	ck_assert_int_eq(harness_http(port, "POST", "/v1/predict", "text/plain", text, used, NULL,
				      &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	root = cJSON_Parse(r.body);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "predictions")), UNITS);
	i = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(root, "predictions")) {
		rul[i] = cJSON_GetObjectItem(p, "rul")->valuedouble;
		unit[i] = (long long)cJSON_GetObjectItem(p, "unit")->valuedouble;
		cycle[i] = (long long)cJSON_GetObjectItem(p, "cycle")->valuedouble;
		i++;
	}
	cJSON_Delete(root);
	harness_response_free(&r);
	free(text);
}

static void
put_le(unsigned char *p, uint64_t u, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char)(u >> (8 * i));
}

static uint64_t
get_le(const unsigned char *p)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u |= (uint64_t)p[i] << (8 * i);
	return u;
}

/* rows as raw little-endian FP32 (size 4) or FP64 (8); malloc'd, n rows. */
static unsigned char *
raw_rows(size_t size, size_t n)
{
	unsigned char *out = malloc(n * WIDTH * size + 1);
	size_t i;

	for (i = 0; i < n * WIDTH; i++) {
		if (size == 4) {
			float f = (float)rows[i];
			uint32_t w;

			memcpy(&w, &f, 4);
			put_le(out + i * 4, w, 4);
		} else {
			uint64_t u;

			memcpy(&u, &rows[i], 8);
			put_le(out + i * 8, u, 8);
		}
	}
	return out;
}

/* POST the JSON header json and then bin_len raw bytes, with the header length given
 * (NULL: the real one; "" : none at all). */
static void
post_binary(const char *path, const char *json, const void *bin, size_t bin_len,
	    const char *header_length, struct harness_response *r)
{
	size_t jl = strlen(json);
	char *body = malloc(jl + bin_len + 1), hdr[96];
	const char *headers[] = { hdr, NULL };

	memcpy(body, json, jl);
	if (bin_len > 0)
		memcpy(body + jl, bin, bin_len);
	if (header_length == NULL)
		snprintf(hdr, sizeof(hdr), HEADER_LENGTH ": %zu", jl);
	else
		snprintf(hdr, sizeof(hdr), HEADER_LENGTH ": %s", header_length);
	ck_assert_int_eq(harness_http(port, "POST", path, "application/octet-stream", body,
				      jl + bin_len, header_length && !*header_length ? NULL : headers,
				      r), 0);
	free(body);
}

/* The value of a response header; "" when absent. */
static void
header_value(const char *headers, const char *name, char *out, size_t len)
{
	const char *p = headers;
	size_t n = strlen(name);

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
			return;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(test_metadata_and_health)
{
	char path[400];
	cJSON *root, *t, *ext;
	bool binary = false;
	int k;
	static const char *const outs[] = { "rul", "unit", "cycle" };
	static const char *const types[] = { "FP64", "INT64", "INT64" };

	root = get_json("/v2", 200);
	ck_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, "rulsrv");
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(root, "version")));
	cJSON_ArrayForEach(ext, cJSON_GetObjectItem(root, "extensions"))
		binary |= strcmp(ext->valuestring, "binary_tensor_data") == 0;
	ck_assert(binary);
	cJSON_Delete(root);
	cJSON_Delete(get_json("/v2/health/live", 200));
	cJSON_Delete(get_json("/v2/health/ready", 200));

	for (k = 0; k < 2; k++) {
		if (k == 0)
			snprintf(path, sizeof(path), "/v2/models/%s", model);
		else
			snprintf(path, sizeof(path), "/v2/models/%s/versions/%s", model, version);
		root = get_json(path, 200);
		ck_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, model);
		ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "versions"), 0)
					 ->valuestring, version);
		t = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "inputs"), 0);
		ck_assert_str_eq(cJSON_GetObjectItem(t, "name")->valuestring, "rows");
		ck_assert_str_eq(cJSON_GetObjectItem(t, "datatype")->valuestring, "FP64");
		ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)->valueint, -1);
		ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 1)->valueint, 26);
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "outputs")), 3);
		for (int o = 0; o < 3; o++) {
			t = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), o);
			ck_assert_str_eq(cJSON_GetObjectItem(t, "name")->valuestring, outs[o]);
			ck_assert_str_eq(cJSON_GetObjectItem(t, "datatype")->valuestring, types[o]);
			ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)
						 ->valueint, -1);
		}
		cJSON_Delete(root);
		strncat(path, "/ready", sizeof(path) - strlen(path) - 1);
		cJSON_Delete(get_json(path, 200));
	}

	/* another model or version: 404 in the protocol's own form, naming it */
	root = get_json("/v2/models/no-such-model", 404);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(root, "error")));
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(root, "error")->valuestring,
				     "'no-such-model'"));
	cJSON_Delete(root);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/no-such-version/ready", model);
	root = get_json(path, 404);
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(root, "error")->valuestring,
				     "'no-such-version'"));
	cJSON_Delete(root);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/%s/explain", model, version);
	root = get_json(path, 404);
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(root, "error")->valuestring,
				     "no such endpoint: GET"));
	cJSON_Delete(root);
	{
		struct harness_response r;

		ck_assert_int_eq(harness_post_json(port, "/v2/models/other/infer", "{}", &r), 0);
		ck_assert_int_eq(r.status, 404);
		ck_assert_ptr_nonnull(strstr(r.body, "\"error\":\"model 'other'"));
		harness_response_free(&r);
	}
}
END_TEST

/* The JSON form, FP64: the same predictions as /v1/predict text/plain, the id echoed. */
START_TEST(test_json_same_as_v1)
{
	double rul[UNITS];
	long long unit[UNITS], cycle[UNITS];
	struct harness_response r;
	cJSON *req, *in, *shape, *data, *root, *out;
	char *text;
	int i, k;

	v1_predictions(rul, unit, cycle);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "id", "req-42");
	in = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "inputs"), in);
	cJSON_AddStringToObject(in, "name", "rows");
	cJSON_AddStringToObject(in, "datatype", "FP64");
	shape = cJSON_AddArrayToObject(in, "shape");
	cJSON_AddItemToArray(shape, cJSON_CreateNumber(ROWS));
	cJSON_AddItemToArray(shape, cJSON_CreateNumber(WIDTH));
	data = cJSON_AddArrayToObject(in, "data");
	for (i = 0; i < ROWS * WIDTH; i++)
		cJSON_AddItemToArray(data, cJSON_CreateNumber(rows[i]));
	text = cJSON_PrintUnformatted(req);
	ck_assert_int_eq(harness_post_json(port, versioned_infer, text, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	root = cJSON_Parse(r.body);
	ck_assert_str_eq(cJSON_GetObjectItem(root, "id")->valuestring, "req-42");
	ck_assert_str_eq(cJSON_GetObjectItem(root, "model_name")->valuestring, model);
	ck_assert_str_eq(cJSON_GetObjectItem(root, "model_version")->valuestring, version);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "outputs")), 3);
	for (k = 0; k < 3; k++) {
		out = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), k);
		ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "shape"), 0)->valueint,
				 UNITS);
		for (i = 0; i < UNITS; i++) {
			double v = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "data"), i)->valuedouble;

			if (k == 0) /* V1 prints 7 significant digits */
				ck_assert_msg(fabs(v - rul[i]) <= 5e-7 * fabs(rul[i]) + 1e-9,
					      "unit %lld: V2 %.9g, V1 %.9g", unit[i], v, rul[i]);
			else
				ck_assert_int_eq((long long)v, k == 1 ? unit[i] : cycle[i]);
		}
	}
	cJSON_Delete(root);
	harness_response_free(&r);
	free(text);
	cJSON_Delete(req);
}
END_TEST

/*
 * What tritonclient.http sends by default: binary inputs (FP32 from a float32 array, here
 * also FP64), the JSON header's length in Inference-Header-Content-Length and binary outputs.
 * The answer: its own header length, binary_data_size per output, raw little-endian tensors.
 * (test_v2_tritonclient.c sends tritonclient's very bytes and reads the answer as it does.)
 */
START_TEST(test_binary_like_tritonclient)
{
#define FORM0 /* no outputs named: binary_data_output for all of them */ \
		"{\"inputs\":[{\"name\":\"rows\",\"shape\":[%d,26],\"datatype\":\"%s\"," \
		"\"parameters\":{\"binary_data_size\":%zu}}]," \
		"\"parameters\":{\"binary_data_output\":true}}"
#define FORM1 /* outputs named, each with binary_data, in another order */ \
		"{\"id\":\"t1\",\"inputs\":[{\"name\":\"rows\",\"shape\":[%d,26],\"datatype\":\"%s\"," \
		"\"parameters\":{\"binary_data_size\":%zu}}],\"outputs\":[{\"name\":\"cycle\"," \
		"\"parameters\":{\"binary_data\":true}},{\"name\":\"rul\",\"parameters\":" \
		"{\"binary_data\":true}},{\"name\":\"unit\",\"parameters\":{\"binary_data\":true}}]}"
	double rul[UNITS];
	long long unit[UNITS], cycle[UNITS];
	char json[1024], len_header[32], ct[64];
	struct harness_response r;
	size_t size, f, jl, i;
	unsigned char *bin;
	cJSON *root, *out;
	int k;

	v1_predictions(rul, unit, cycle);
	for (f = 0; f < 2; f++)
		for (size = 4; size <= 8; size += 4) {
			bin = raw_rows(size, ROWS);
			if (f == 0)
				snprintf(json, sizeof(json), FORM0, ROWS, size == 4 ? "FP32" : "FP64",
					 (size_t)ROWS * WIDTH * size);
			else
				snprintf(json, sizeof(json), FORM1, ROWS, size == 4 ? "FP32" : "FP64",
					 (size_t)ROWS * WIDTH * size);
			post_binary(f ? infer_path : versioned_infer, json, bin, ROWS * WIDTH * size,
				    NULL, &r);
			ck_assert_msg(r.status == 200, "%s", r.body);
			header_value(r.headers, HEADER_LENGTH, len_header, sizeof(len_header));
			header_value(r.headers, "Content-Type", ct, sizeof(ct));
			ck_assert_str_eq(ct, "application/octet-stream");
			jl = strtoul(len_header, NULL, 10);
			ck_assert_uint_eq(jl + 3 * UNITS * 8, r.body_len);
			root = cJSON_ParseWithLength(r.body, jl);
			ck_assert_ptr_nonnull(root);
			for (k = 0; k < 3; k++) {
				const unsigned char *p = (const unsigned char *)r.body + jl +
							 (size_t)k * UNITS * 8;
				const char *name;

				out = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), k);
				name = cJSON_GetObjectItem(out, "name")->valuestring;
				ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(out,
					"parameters"), "binary_data_size")->valueint, UNITS * 8);
				ck_assert_ptr_null(cJSON_GetObjectItem(out, "data"));
				for (i = 0; i < UNITS; i++) {
					uint64_t u = get_le(p + i * 8);
					double d;

					memcpy(&d, &u, 8);
					if (strcmp(name, "rul") == 0) {
						ck_assert_str_eq(cJSON_GetObjectItem(out, "datatype")
									 ->valuestring, "FP64");
						ck_assert_msg(fabs(d - rul[i]) <= 5e-7 * fabs(rul[i]) + 1e-9,
							      "%s: V2 %.9g, V1 %.9g", json, d, rul[i]);
					} else {
						ck_assert_int_eq((long long)u, strcmp(name, "unit") == 0 ?
									       unit[i] : cycle[i]);
					}
				}
			}
			if (f == 1)
				ck_assert_str_eq(cJSON_GetObjectItem(root, "id")->valuestring, "t1");
			cJSON_Delete(root);
			harness_response_free(&r);
			free(bin);
		}
}
END_TEST

/* V2 requests count in the same families as V1; the core's handler label tells them apart. */
START_TEST(test_metrics)
{
	char series[512], json[512];
	struct harness_response r;
	unsigned char *bin = raw_rows(8, ROWS);
	double before, after, ok_before, bad_before, logged_before, logged = 0;
	int tries;

	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", model);
	before = harness_scrape(port, series);
	snprintf(series, sizeof(series), "prediction_requests_total{model=\"%s\",code=\"200\"}",
		 model);
	ok_before = harness_scrape(port, series);
	snprintf(series, sizeof(series),
		 "prediction_errors_total{model=\"%s\",reason=\"invalid_tensor\"}", model);
	bad_before = harness_scrape(port, series);
	logged_before = harness_scrape(port, "feedback_prediction_log_written_total");

	snprintf(json, sizeof(json), "{\"inputs\":[{\"name\":\"rows\",\"shape\":[%d,26],"
		 "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":%d}}]}", ROWS,
		 ROWS * WIDTH * 8);
	post_binary(infer_path, json, bin, ROWS * WIDTH * 8, NULL, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"data\":")); /* JSON outputs unless asked */
	harness_response_free(&r);
	post_binary(infer_path, json, bin, 8, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	harness_response_free(&r);

	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", model);
	after = harness_scrape(port, series);
	ck_assert_double_eq(after - before, UNITS);
	snprintf(series, sizeof(series), "prediction_requests_total{model=\"%s\",code=\"200\"}",
		 model);
	ck_assert_double_eq(harness_scrape(port, series) - ok_before, 1);
	snprintf(series, sizeof(series),
		 "prediction_errors_total{model=\"%s\",reason=\"invalid_tensor\"}", model);
	ck_assert_double_eq(harness_scrape(port, series) - bad_before, 1);
	/* the prediction log (an observer) gets every engine of the V2 request; it writes on
	 * a thread of its own, so wait for it */
	for (tries = 0; tries < 100; tries++) {
		logged = harness_scrape(port, "feedback_prediction_log_written_total");
		if (logged - logged_before >= UNITS)
			break;
		usleep(50000);
	}
	ck_assert_double_eq(logged - logged_before, UNITS);
	snprintf(series, sizeof(series), "http_requests_total{handler=\"%s\",code=\"200\"}",
		 infer_path);
	ck_assert_double_ge(harness_scrape(port, series), 1);
	/* every other model or version under one label, not one per path asked for */
	ck_assert_int_eq(harness_get(port, "/v2/models/nope/ready", &r), 0);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(port, "/v2/models/nope2", &r), 0);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape(port, "http_requests_total{handler=\"/v2/models/*\","
						  "code=\"404\"}"), 2);
	free(bin);
}
END_TEST

/* ---- hostile requests -------------------------------------------------------------------- */

struct hostile {
	const char *what;
	const char *json;
	size_t bin_rows;        /* raw FP64 rows after the JSON */
	const char *header_len; /* NULL: the JSON's length */
	long status;
	const char *says;       /* in the error message */
};

#define IN_HEAD "{\"inputs\":[{\"name\":\"rows\","
static const struct hostile hostile[] = {
	{ "lying binary_data_size", IN_HEAD "\"shape\":[90,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":100}}]}", ROWS, NULL, 400,
	  "binary_data_size is 100 bytes, its shape [90, 26] of FP64 needs 18720" },
	{ "size right, bytes missing", IN_HEAD "\"shape\":[90,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":18720}}]}", 10, NULL, 400,
	  "the body holds 2080 after the JSON header" },
	{ "bytes left over", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":208}}]}", 2, NULL, 400,
	  "208 bytes after the JSON header that no input's binary_data_size accounts for" },
	{ "header length past the body", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":208}}]}", 1, "100000", 400,
	  "Inference-Header-Content-Length: 100000 is past the body" },
	{ "header length not a number", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":208}}]}", 1, "12abc", 400,
	  "Inference-Header-Content-Length: expected a number of bytes" },
	{ "header length overflows", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":208}}]}", 1, "184467440737095516160", 400,
	  "Inference-Header-Content-Length: expected a number" },
	{ "header length cuts the JSON", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":208}}]}", 1, "20", 400, "is not valid JSON" },
	{ "shape overflows size_t", IN_HEAD "\"shape\":[4611686018427387904,26],"
	  "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":0}}]}", 0, NULL, 400,
	  "shape[0] is 4611686018427387904 rows, more than the 20000" },
	{ "shape past 64 bits", IN_HEAD "\"shape\":[1e30,26],\"datatype\":\"FP64\","
	  "\"data\":[]}]}", 0, NULL, 400, "shape[0] is not an integer of 64 bits" },
	{ "huge dimension, little data", IN_HEAD "\"shape\":[20000,26],\"datatype\":\"FP64\","
	  "\"data\":[1,2,3]}]}", 0, NULL, 400, "data has 3 values, its shape [20000, 26] needs 520000" },
	{ "zero rows", IN_HEAD "\"shape\":[0,26],\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL,
	  400, "shape[0] is 0, expected at least 1" },
	{ "negative dimension", IN_HEAD "\"shape\":[-1,26],\"datatype\":\"FP64\",\"data\":[]}]}", 0,
	  NULL, 400, "shape[0] is -1, expected at least 1" },
	{ "zero columns", IN_HEAD "\"shape\":[3,0],\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL,
	  400, "shape[1] is 0, expected at least 1" },
	{ "wrong width", IN_HEAD "\"shape\":[3,25],\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL,
	  400, "shape[1] is 25, expected 26" },
	{ "wrong rank", IN_HEAD "\"shape\":[3,26,1],\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL,
	  400, "shape has 3 dimensions, expected 2" },
	{ "fractional dimension", IN_HEAD "\"shape\":[1.5,26],\"datatype\":\"FP64\","
	  "\"data\":[]}]}", 0, NULL, 400, "shape[0] is not an integer" },
	{ "INT32", IN_HEAD "\"shape\":[1,26],\"datatype\":\"INT32\",\"data\":[]}]}", 0, NULL, 400,
	  "datatype 'INT32' is not accepted, expected FP32 or FP64" },
	{ "BYTES", IN_HEAD "\"shape\":[1,26],\"datatype\":\"BYTES\",\"data\":[]}]}", 0, NULL, 400,
	  "datatype 'BYTES' is not accepted" },
	{ "no datatype", IN_HEAD "\"shape\":[1,26],\"data\":[]}]}", 0, NULL, 400,
	  "datatype missing is not accepted" },
	{ "missing input", "{\"inputs\":[]}", 0, NULL, 400, "input 'rows' is missing" },
	{ "no inputs", "{\"id\":\"x\"}", 0, NULL, 400, "'inputs' must be an array" },
	{ "unknown input", "{\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,26],"
	  "\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL, 400,
	  "input 'pixels': no such input, the model takes 'rows'" },
	{ "unknown output", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\",\"data\":[]}],"
	  "\"outputs\":[{\"name\":\"probability\"}]}", 0, NULL, 400,
	  "output 'probability': no such output" },
	{ "binary and data at once", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"data\":[],\"parameters\":{\"binary_data_size\":208}}]}", 1, NULL, 400,
	  "both 'data' and binary_data_size" },
	{ "negative binary size", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"parameters\":{\"binary_data_size\":-8}}]}", 0, NULL, 400,
	  "binary_data_size must be a non-negative integer" },
	{ "a string in data", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,"
	  "6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,\"x\"]}]}", 0, NULL, 400,
	  "data[25] is not a number" },
	{ "overflowing number", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\",\"data\":[1,2,1e999,"
	  "4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]}]}", 0, NULL, 400,
	  "row 1, column 3: number is not finite" },
	{ "past FP32's range", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP32\",\"data\":[1,2,3,"
	  "4,5,1e39,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]}]}", 0, NULL, 400,
	  "row 1, column 6: number is not finite" },
	{ "fractional unit", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\",\"data\":[1.5,2,3,"
	  "4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]}]}", 0, NULL, 400,
	  "row 1: unit 1.5 is not an integer" },
	{ "cycles going back", IN_HEAD "\"shape\":[2,26],\"datatype\":\"FP64\",\"data\":["
	  "[1,5,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26],"
	  "[1,4,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]]}]}", 0, NULL,
	  400, "input 'rows': row 2: unit 1: cycle 4 does not follow 5: cycles must increase strictly" },
	{ "window without cycle", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,1,24],"
	  "\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	  "22,23,24]}]}", 0, NULL, 400, "input 'cycle' is missing: the window form needs" },
	{ "window of another width", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,2,25],"
	  "\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL, 400,
	  "input 'window': shape[2] is 25, expected 24 (3 settings, 21 sensors)" },
	{ "window of rank 2", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,24],"
	  "\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL, 400,
	  "input 'window': shape has 2 dimensions, expected 3 [engines, cycles, 24]" },
	{ "window past the row limit", "{\"inputs\":[{\"name\":\"window\","
	  "\"shape\":[200,101,24],\"datatype\":\"FP64\",\"data\":[]}]}", 0, NULL, 400,
	  "input 'window': shape[1] is 101: more than the 20000 cycles in all" },
	{ "cycle of another batch", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,1,24],"
	  "\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	  "22,23,24]},{\"name\":\"cycle\",\"shape\":[2],\"datatype\":\"INT64\","
	  "\"data\":[5,6]}]}", 0, NULL, 400, "input 'cycle': shape [2], input 'window' has 1 engines" },
	{ "cycle before the window's start", "{\"inputs\":[{\"name\":\"window\","
	  "\"shape\":[1,2,24],\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
	  "15,16,17,18,19,20,21,22,23,24,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
	  "24]},{\"name\":\"cycle\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[0]}]}", 0,
	  NULL, 400, "input 'cycle': element 1 is 0: expected a whole number of at least 1" },
	{ "cycle as FP64", "{\"inputs\":[{\"name\":\"cycle\",\"shape\":[1],"
	  "\"datatype\":\"FP64\",\"data\":[3]}]}", 0, NULL, 400,
	  "input 'cycle': datatype 'FP64' is not accepted, expected INT64 or INT32" },
	{ "negative unit", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,1,24],"
	  "\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	  "22,23,24]},{\"name\":\"cycle\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[5]},"
	  "{\"name\":\"unit\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[-3]}]}", 0, NULL,
	  400, "input 'unit': element 1 is -3: expected a non-negative integer" },
	{ "non-finite window value", "{\"inputs\":[{\"name\":\"window\",\"shape\":[1,1,24],"
	  "\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,6,1e999,8,9,10,11,12,13,14,15,16,17,18,19,"
	  "20,21,22,23,24]},{\"name\":\"cycle\",\"shape\":[1],\"datatype\":\"INT64\","
	  "\"data\":[5]}]}", 0, NULL, 400,
	  "input 'window': engine 1, cycle 1, column 7: number is not finite" },
	{ "rows and window at once", IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
	  "\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]},"
	  "{\"name\":\"window\",\"shape\":[1,1,24],\"datatype\":\"FP64\",\"data\":[1,2,3,4,5,"
	  "6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]}]}", 0, NULL, 400,
	  "input 'rows' and the window form's 'window', 'cycle', 'unit' do not go together" },
	{ "not an object", "[1,2,3]", 0, NULL, 400, "must be a JSON object" },
	{ "id not a string", "{\"id\":7,\"inputs\":[]}", 0, NULL, 400, "'id' must be a string" },
};

/*
 * The core's own refusals on a V2 route (405 of a method no V2 route takes, 413 of a body over max_body_bytes)
 * are in the protocol's {"error": "..."} form; /v1 routes keep rulsrv's error object.
 */
START_TEST(test_core_refusals_in_v2_form)
{
	struct harness_response r;
	size_t big = 4 * 1024 * 1024 + 1;
	char *body = malloc(big + 1);
	cJSON *root, *e;

	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(harness_http(port, "PUT", infer_path, "application/json", "{}", 2, NULL, &r),
			 0);
	ck_assert_int_eq(r.status, 405);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	e = cJSON_GetObjectItem(root, "error");
	ck_assert_msg(cJSON_IsString(e), "405 body: %s", r.body);
	ck_assert_ptr_nonnull(strstr(e->valuestring, "not allowed"));
	ck_assert_msg(strstr(r.headers, "Allow: POST, GET\r\n") != NULL, "405 headers: %s", r.headers);
	cJSON_Delete(root);
	harness_response_free(&r);

	memset(body, ' ', big);
	body[big] = '\0';
	ck_assert_int_eq(
		harness_http(port, "POST", infer_path, "application/json", body, big, NULL, &r), 0);
	ck_assert_int_eq(r.status, 413);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	e = cJSON_GetObjectItem(root, "error");
	ck_assert_msg(cJSON_IsString(e), "413 body: %s", r.body);
	ck_assert_ptr_nonnull(strstr(e->valuestring, "over the limit"));
	cJSON_Delete(root);
	harness_response_free(&r);
	free(body);

	ck_assert_int_eq(harness_get(port, "/v1/predict", &r), 0);
	ck_assert_int_eq(r.status, 405);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(root, "error")));
	cJSON_Delete(root);
	harness_response_free(&r);
}
END_TEST

START_TEST(test_hostile)
{
	char json[1024];
	unsigned char *bin = raw_rows(8, ROWS);
	struct harness_response r;
	cJSON *root;
	size_t i;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];

		post_binary(infer_path, h->json, bin, h->bin_rows * WIDTH * 8, h->header_len, &r);
		ck_assert_msg(r.status == h->status, "%s: status %ld: %s", h->what, r.status,
			      r.body);
		root = cJSON_Parse(r.body);
		ck_assert_msg(root != NULL && cJSON_IsString(cJSON_GetObjectItem(root, "error")),
			      "%s: not {\"error\": \"...\"}: %s", h->what, r.body);
		ck_assert_msg(strstr(cJSON_GetObjectItem(root, "error")->valuestring, h->says),
			      "%s: '%s' not in '%s'", h->what, h->says,
			      cJSON_GetObjectItem(root, "error")->valuestring);
		cJSON_Delete(root);
		harness_response_free(&r);
	}
	/* non-finite values in binary tensors: NaN in FP64, +Inf in FP32 */
	{
		unsigned char one[WIDTH * 8];
		uint64_t nan_bits = UINT64_C(0x7ff8000000000000);

		memcpy(one, bin, sizeof(one));
		put_le(one + 7 * 8, nan_bits, 8);
		snprintf(json, sizeof(json), IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP64\","
			 "\"parameters\":{\"binary_data_size\":208}}]}");
		post_binary(infer_path, json, one, sizeof(one), NULL, &r);
		ck_assert_int_eq(r.status, 400);
		ck_assert_ptr_nonnull(strstr(r.body, "row 1, column 8: number is not finite"));
		harness_response_free(&r);
		free(bin);
		bin = raw_rows(4, 1);
		put_le(bin + 3 * 4, 0x7f800000u, 4);
		snprintf(json, sizeof(json), IN_HEAD "\"shape\":[1,26],\"datatype\":\"FP32\","
			 "\"parameters\":{\"binary_data_size\":104}}]}");
		post_binary(infer_path, json, bin, WIDTH * 4, NULL, &r);
		ck_assert_int_eq(r.status, 400);
		ck_assert_ptr_nonnull(strstr(r.body, "row 1, column 4: number is not finite"));
		harness_response_free(&r);
	}
	free(bin);
	/* the daemon is unharmed: still running, still predicting */
	ck_assert_int_eq(kill(srv.pid, 0), 0);
	bin = raw_rows(8, ROWS);
	snprintf(json, sizeof(json), IN_HEAD "\"shape\":[%d,26],\"datatype\":\"FP64\","
		 "\"parameters\":{\"binary_data_size\":%d}}]}", ROWS, ROWS * WIDTH * 8);
	post_binary(infer_path, json, bin, ROWS * WIDTH * 8, NULL, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	harness_response_free(&r);
	free(bin);
}
END_TEST

/* ---- the window form --------------------------------------------------------------------- */

/* The V1 JSON batch of the rows, one instance per unit: what the window form must equal. */
static void
v1_instances(double *rul, long long *unit, long long *cycle)
{
	cJSON *req = cJSON_CreateObject(), *list, *inst, *cycles, *c, *arr, *root, *p;
	struct harness_response r;
	char *text;
	int u, j, k, i = 0;

	list = cJSON_AddArrayToObject(req, "instances");
	for (u = 0; u < UNITS; u++) {
		inst = cJSON_CreateObject();
		cJSON_AddItemToArray(list, inst);
		cJSON_AddNumberToObject(inst, "unit", rows[u * CYCLES * WIDTH]);
		cycles = cJSON_AddArrayToObject(inst, "cycles");
		for (j = 0; j < CYCLES; j++) {
			const double *row = rows + (u * CYCLES + j) * WIDTH;

			c = cJSON_CreateObject();
			cJSON_AddItemToArray(cycles, c);
			cJSON_AddNumberToObject(c, "cycle", row[1]);
			arr = cJSON_AddArrayToObject(c, "settings");
			for (k = 2; k < 5; k++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber(row[k]));
			arr = cJSON_AddArrayToObject(c, "sensors");
			for (k = 5; k < WIDTH; k++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber(row[k]));
		}
	}
	text = cJSON_PrintUnformatted(req);
	ck_assert_int_eq(harness_post_json(port, "/v1/predict", text, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	root = cJSON_Parse(r.body);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "predictions")), UNITS);
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(root, "predictions")) {
		rul[i] = cJSON_GetObjectItem(p, "rul")->valuedouble;
		unit[i] = (long long)cJSON_GetObjectItem(p, "unit")->valuedouble;
		cycle[i] = (long long)cJSON_GetObjectItem(p, "cycle")->valuedouble;
		i++;
	}
	cJSON_Delete(root);
	harness_response_free(&r);
	free(text);
	cJSON_Delete(req);
}

/* The JSON answer's outputs into rul, unit and cycle (n engines). */
static void
json_outputs(const char *body, size_t n, double *rul, long long *unit, long long *cycle)
{
	cJSON *root = cJSON_Parse(body), *out;
	size_t i;

	ck_assert_msg(root != NULL, "%s", body);
	cJSON_ArrayForEach(out, cJSON_GetObjectItem(root, "outputs")) {
		const char *name = cJSON_GetObjectItem(out, "name")->valuestring;
		cJSON *data = cJSON_GetObjectItem(out, "data");

		ck_assert_uint_eq((size_t)cJSON_GetArraySize(data), n);
		for (i = 0; i < n; i++) {
			double v = cJSON_GetArrayItem(data, (int)i)->valuedouble;

			if (strcmp(name, "rul") == 0)
				rul[i] = v;
			else if (strcmp(name, "unit") == 0)
				unit[i] = (long long)v;
			else
				cycle[i] = (long long)v;
		}
	}
	cJSON_Delete(root);
}

/* The settings and sensors of the rows, [UNITS, CYCLES, 24], in JSON. */
static char *
window_data(void)
{
	size_t cap = ROWS * 24 * 26 + 2, used = 0, i;
	char *out = malloc(cap);
	int k;

	out[used++] = '[';
	for (i = 0; i < ROWS; i++)
		for (k = 2; k < WIDTH; k++)
			used += (size_t)snprintf(out + used, cap - used, "%s%.17g",
						 i == 0 && k == 2 ? "" : ",", rows[i * WIDTH + k]);
	out[used++] = ']';
	out[used] = '\0';
	return out;
}

/*
 * The window form, [engines, cycles, 24] with each engine's last cycle (and its unit): the
 * same predictions as /v1/predict's batch of the same windows, in JSON (FP64) and in binary
 * (FP32 window, INT64 cycle, INT32 unit, in that order after the JSON).
 */
START_TEST(test_window_same_as_v1)
{
	double rul[UNITS], v1_rul[UNITS];
	long long unit[UNITS], cycle[UNITS], v1_unit[UNITS], v1_cycle[UNITS];
	char *data = window_data(), *json;
	size_t cap = strlen(data) + 1024, i, off;
	unsigned char *bin;
	struct harness_response r;
	int u;

	v1_instances(v1_rul, v1_unit, v1_cycle);
	json = malloc(cap);

	/* JSON, FP64 */
	snprintf(json, cap, "{\"inputs\":[{\"name\":\"window\",\"shape\":[%d,%d,24],"
		 "\"datatype\":\"FP64\",\"data\":%s},{\"name\":\"cycle\",\"shape\":[%d],"
		 "\"datatype\":\"INT64\",\"data\":[%d,%d,%d]},{\"name\":\"unit\",\"shape\":[%d],"
		 "\"datatype\":\"INT64\",\"data\":[%g,%g,%g]}]}", UNITS, CYCLES, data, UNITS,
		 CYCLES, CYCLES, CYCLES, UNITS, rows[0], rows[CYCLES * WIDTH],
		 rows[2 * CYCLES * WIDTH]);
	ck_assert_int_eq(harness_post_json(port, infer_path, json, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_outputs(r.body, UNITS, rul, unit, cycle);
	for (u = 0; u < UNITS; u++) {
		ck_assert_msg(fabs(rul[u] - v1_rul[u]) <= 5e-7 * fabs(v1_rul[u]) + 1e-9,
			      "unit %lld: V2 window %.9g, V1 %.9g", v1_unit[u], rul[u], v1_rul[u]);
		ck_assert_int_eq(unit[u], v1_unit[u]);
		ck_assert_int_eq(cycle[u], v1_cycle[u]);
	}
	harness_response_free(&r);

	/* binary: FP32 window, INT64 cycle, INT32 unit; JSON outputs */
	snprintf(json, cap, "{\"inputs\":[{\"name\":\"window\",\"shape\":[%d,%d,24],"
		 "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":%d}},"
		 "{\"name\":\"cycle\",\"shape\":[%d],\"datatype\":\"INT64\","
		 "\"parameters\":{\"binary_data_size\":%d}},{\"name\":\"unit\",\"shape\":[%d],"
		 "\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":%d}}]}", UNITS,
		 CYCLES, ROWS * 24 * 4, UNITS, UNITS * 8, UNITS, UNITS * 4);
	bin = malloc(ROWS * 24 * 4 + UNITS * 12);
	for (i = 0, off = 0; i < ROWS; i++)
		for (u = 2; u < WIDTH; u++, off += 4) {
			float f = (float)rows[i * WIDTH + (size_t)u];
			uint32_t w;

			memcpy(&w, &f, 4);
			put_le(bin + off, w, 4);
		}
	for (u = 0; u < UNITS; u++, off += 8)
		put_le(bin + off, (uint64_t)CYCLES, 8);
	for (u = 0; u < UNITS; u++, off += 4)
		put_le(bin + off, (uint64_t)(int64_t)rows[(size_t)u * CYCLES * WIDTH], 4);
	post_binary(infer_path, json, bin, off, NULL, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_outputs(r.body, UNITS, rul, unit, cycle);
	for (u = 0; u < UNITS; u++) {
		ck_assert_msg(fabs(rul[u] - v1_rul[u]) <= 5e-7 * fabs(v1_rul[u]) + 1e-9,
			      "unit %lld: V2 binary window %.9g, V1 %.9g", v1_unit[u], rul[u],
			      v1_rul[u]);
		ck_assert_int_eq(unit[u], v1_unit[u]);
		ck_assert_int_eq(cycle[u], v1_cycle[u]);
	}
	harness_response_free(&r);

	/* no unit input: the engines are numbered from 1; one unit given thrice: three engines */
	snprintf(json, cap, "{\"inputs\":[{\"name\":\"window\",\"shape\":[%d,%d,24],"
		 "\"datatype\":\"FP64\",\"data\":%s},{\"name\":\"cycle\",\"shape\":[%d],"
		 "\"datatype\":\"INT64\",\"data\":[%d,%d,%d]}]}", UNITS, CYCLES, data, UNITS,
		 CYCLES, CYCLES, CYCLES);
	ck_assert_int_eq(harness_post_json(port, infer_path, json, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_outputs(r.body, UNITS, rul, unit, cycle);
	for (u = 0; u < UNITS; u++) {
		ck_assert_int_eq(unit[u], u + 1);
		ck_assert_msg(fabs(rul[u] - v1_rul[u]) <= 5e-7 * fabs(v1_rul[u]) + 1e-9,
			      "engine %d: %.9g, V1 %.9g", u + 1, rul[u], v1_rul[u]);
	}
	harness_response_free(&r);
	snprintf(json, cap, "{\"inputs\":[{\"name\":\"window\",\"shape\":[%d,%d,24],"
		 "\"datatype\":\"FP64\",\"data\":%s},{\"name\":\"cycle\",\"shape\":[%d],"
		 "\"datatype\":\"INT64\",\"data\":[%d,%d,%d]},{\"name\":\"unit\",\"shape\":[%d],"
		 "\"datatype\":\"INT64\",\"data\":[4,4,4]}]}", UNITS, CYCLES, data, UNITS,
		 CYCLES, CYCLES, CYCLES, UNITS);
	ck_assert_int_eq(harness_post_json(port, infer_path, json, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_outputs(r.body, UNITS, rul, unit, cycle);
	for (u = 0; u < UNITS; u++) {
		ck_assert_int_eq(unit[u], 4);
		ck_assert_msg(fabs(rul[u] - v1_rul[u]) <= 5e-7 * fabs(v1_rul[u]) + 1e-9,
			      "window %d of unit 4: %.9g, V1 %.9g", u + 1, rul[u], v1_rul[u]);
	}
	harness_response_free(&r);
	free(bin);
	free(json);
	free(data);
}
END_TEST

/* Over max_instances (50) engines, or max_cycles (400) cycles: 413, as /v1/predict says. */
START_TEST(test_window_limits)
{
	static const struct {
		int engines, cycles;
		const char *code, *says;
	} cases[] = {
		{ 51, 1, "too_many_instances", "input 'window': 51 engines, more than 50" },
		{ 1, 401, "too_many_cycles", "input 'window': windows of 401 cycles, more than 400" },
	};
	struct harness_response r;
	char json[512], series[256];
	unsigned char *bin;
	size_t i, k, n, bytes;
	double before;

	for (i = 0; i < 2; i++) {
		n = (size_t)cases[i].engines * (size_t)cases[i].cycles;
		bytes = n * 24 * 4 + (size_t)cases[i].engines * 8;
		bin = calloc(1, bytes);
		for (k = 0; k < (size_t)cases[i].engines; k++)
			put_le(bin + n * 24 * 4 + k * 8, (uint64_t)cases[i].cycles, 8);
		snprintf(json, sizeof(json), "{\"inputs\":[{\"name\":\"window\",\"shape\":[%d,%d,24],"
			 "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":%zu}},"
			 "{\"name\":\"cycle\",\"shape\":[%d],\"datatype\":\"INT64\","
			 "\"parameters\":{\"binary_data_size\":%d}}]}", cases[i].engines,
			 cases[i].cycles, n * 24 * 4, cases[i].engines, cases[i].engines * 8);
		snprintf(series, sizeof(series),
			 "prediction_errors_total{model=\"%s\",reason=\"%s\"}", model, cases[i].code);
		before = harness_scrape(port, series);
		post_binary(infer_path, json, bin, bytes, NULL, &r);
		ck_assert_msg(r.status == 413, "%d x %d: %ld %s", cases[i].engines, cases[i].cycles,
			      r.status, r.body);
		ck_assert_msg(strstr(r.body, cases[i].says) != NULL, "%s", r.body);
		ck_assert_double_eq(harness_scrape(port, series) - (isnan(before) ? 0 : before), 1);
		harness_response_free(&r);
		free(bin);
	}
}
END_TEST

Suite *
v2_suite(void)
{
	Suite *s = suite_create("v2");
	TCase *tc = tcase_create("oip");

	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_metadata_and_health);
	tcase_add_test(tc, test_json_same_as_v1);
	tcase_add_test(tc, test_binary_like_tritonclient);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_core_refusals_in_v2_form);
	tcase_add_test(tc, test_window_same_as_v1);
	tcase_add_test(tc, test_window_limits);
	suite_add_tcase(s, tc);
	return s;
}
