/* SPDX-License-Identifier: MIT */
/*
 * test_v2_tritonclient.c - the bytes Triton's Python HTTP client (tritonclient.http) sends with
 * its defaults, from a raw socket, and its reading of the answers: a tritonclient user must get
 * the same predictions as /v1/predict (docs/API.md, Open Inference Protocol).
 *
 * tritonclient cannot be installed on every machine that builds rulsrv, so this file does what
 * it does, step by step, as its source describes it (tritonclient/http/_client.py, _utils.py,
 * _infer_input.py, _requested_output.py, _infer_result.py; the HTTP layer is geventhttpclient's
 * client.py):
 *
 * Request, InferenceServerClient.infer(model, inputs) with InferInput.set_data_from_numpy:
 *  - the path is "/v2/models/" + the model name percent-quoted (Python's quote(), '/' kept) +
 *    "/infer", or ".../versions/V/infer" when a model_version is given;
 *  - set_data_from_numpy's binary_data defaults to true: the input's JSON has no "data" but
 *    parameters {"binary_data_size": N}, and the array's raw bytes (numpy's tobytes(): native
 *    order, little-endian on the machines that run it) follow the JSON;
 *  - the datatype is numpy's dtype named the Triton way: float32 is "FP32", float64 "FP64";
 *  - the JSON is python-rapidjson's dumps of a dict built in this order: "id" (only when a
 *    request_id is given), "inputs" (each input's keys: name, shape, datatype, parameters),
 *    "outputs" (only when InferRequestedOutput objects are given: name, then parameters with
 *    binary_data, true by default), and last "parameters", which holds {"binary_data_output":
 *    true} when no outputs are given. dumps writes no spaces;
 *  - the only header tritonclient itself adds is Inference-Header-Content-Length, the JSON's
 *    length, and only when binary data follows. No Content-Type, no Accept-Encoding (that one
 *    only with response_compression_algorithm). geventhttpclient adds User-Agent
 *    ("python/gevent-http-client-" + its version), Host (host:port) and Content-Length, sends
 *    HTTP/1.1 and keeps the connection for the next request (a pool of one connection).
 *
 * Response, InferResult:
 *  - a status other than 200 is an error: the body is read as JSON and its "error" string is
 *    the message (anything else is "an exception occurred in the client while decoding");
 *  - Content-Type is never looked at. Content-Encoding gzip/deflate is undone when present.
 *    geventhttpclient reads the body by Content-Length or chunked coding alike (conn_read
 *    below does both, and to the close without either).
 *  - without an Inference-Header-Content-Length header the whole body is the JSON. With one,
 *    its value (int()) is how many bytes of JSON come first, the rest is the binary buffer;
 *  - walking "outputs" in the order of the JSON, every output whose parameters have a
 *    binary_data_size takes the next that many bytes of the buffer, whether it was asked for
 *    or not: an output the client did not name costs nothing but its bytes, while a size that
 *    is wrong shifts every output after it (rulsrv answers only the outputs named);
 *  - as_numpy(name) finds the output by name (None when the server did not send it), takes its
 *    bytes as numpy's dtype of "datatype" (FP64 float64, INT64 int64...) or, without
 *    binary_data_size, its "data" array, and reshapes the values to "shape": a size that is not
 *    shape's element count times the dtype's size fails there.
 */
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "harness/harness.h"
#include "need.h"

Suite *v2_tritonclient_suite(void);

#define WIDTH 26
#define UNITS 2
#define CYCLES 30
#define ROWS (UNITS * CYCLES)
#define USER_AGENT "python/gevent-http-client-2.3.1"

static struct harness_server srv;
static int port;
static char model[128], version[128];
static double rows[ROWS * WIDTH];

/* The V1 reference: what /v1/predict answers for the same rows. */
static double v1_rul[UNITS];
static long long v1_unit[UNITS], v1_cycle[UNITS];

/*
 * Rows of unit 7 (20 cycles) and unit 10 (40 cycles), wearing at different rates, so that
 * their answers differ. Every value is a float: FP32, FP64 and text carry the same numbers.
 */
static void
make_rows(void)
{
	static const double base[WIDTH - 2] = {
		0.0005, 0.0002, 100, 518.67, 642.5, 1590, 1405, 14.62, 21.61, 553.5, 2388.05,
		9050, 1.3, 47.5, 521.5, 2388.05, 8140, 8.43, 0.03, 393, 2388, 100, 38.9, 23.3,
	};
	int u, c, k, n;
	double *row = rows;

	for (u = 0; u < UNITS; u++) {
		n = u == 0 ? CYCLES - 10 : CYCLES + 10;
		for (c = 0; c < n; c++, row += WIDTH) {
			row[0] = 7 + u * 3;
			row[1] = c + 1;
			for (k = 0; k < WIDTH - 2; k++)
				row[2 + k] =
					(double)(float)(base[k] * (1 + 0.002 * c * (1 + 2 * u)));
		}
	}
}

static void
v1_reference(void)
{
	size_t cap = ROWS * WIDTH * 26 + 1, used = 0, i;
	char *text = malloc(cap);
	struct harness_response r;
	cJSON *root, *p;
	int k;

	ck_assert_ptr_nonnull(text);
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
		v1_rul[i] = cJSON_GetObjectItem(p, "rul")->valuedouble;
		v1_unit[i] = (long long)cJSON_GetObjectItem(p, "unit")->valuedouble;
		v1_cycle[i] = (long long)cJSON_GetObjectItem(p, "cycle")->valuedouble;
		i++;
	}
	cJSON_Delete(root);
	harness_response_free(&r);
	free(text);
	/* a swapped or repeated unit in an answer must show */
	ck_assert_msg(v1_rul[0] != v1_rul[1] && v1_cycle[0] != v1_cycle[1],
		      "the units' answers do not differ: rul %g and %g", v1_rul[0], v1_rul[1]);
}

static void
setup(void)
{
	char conf[2048], path[600];
	struct harness_response r;
	cJSON *root, *m;

	snprintf(path, sizeof(path), "%s/models/fd001", harness_source_dir());
	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"%s/plugins\";\n"
		 "plugins = {\n"
		 "  model = { file = \"predict_forest.so\"; settings = { bundle = \"%s\"; }; };\n"
		 "};\n"
		 "services = {\n"
		 "  prediction = { listen = \"127.0.0.1:0\"; plugins = [ \"model\" ]; };\n"
		 "};\n",
		 harness_build_dir(), path);
	ck_assert_int_eq(harness_start_conf(&srv, conf), 0);
	port = harness_port(&srv, "prediction");
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(harness_get(port, "/v1/models", &r), 0);
	root = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(root);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0);
	snprintf(model, sizeof(model), "%s", cJSON_GetObjectItem(m, "name")->valuestring);
	snprintf(version, sizeof(version), "%s", cJSON_GetObjectItem(m, "version")->valuestring);
	cJSON_Delete(root);
	harness_response_free(&r);
	make_rows();
	v1_reference();
}

static void
teardown(void)
{
	harness_cleanup(&srv);
}

/* ---- the client's connection: HTTP/1.1, kept open between requests ------------------------ */

struct conn {
	int fd;
	char buf[(1 << 16) + 1]; /* one more for a terminating NUL */
	size_t have; /* bytes read and not yet consumed */
};

static void
conn_open(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	c->have = 0;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
}

/* At least want bytes in c->buf; false when the server closed first. */
static bool
conn_fill(struct conn *c, size_t want)
{
	struct timeval tv = { .tv_sec = 10 };
	ssize_t n;

	ck_assert_uint_lt(want, sizeof(c->buf));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (c->have < want) {
		n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
		if (n <= 0)
			return false;
		c->have += (size_t)n;
	}
	return true;
}

static void
conn_consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->have - n);
	c->have -= n;
}

struct reply {
	int status;
	char head[4096]; /* status line and headers */
	unsigned char *body;
	size_t body_len;
};

/* A header's value in r->head (case-insensitive, as geventhttpclient's Headers); NULL: absent. */
static const char *
reply_header(const struct reply *r, const char *name, char *out, size_t len)
{
	const char *p = strstr(r->head, "\r\n");
	size_t n = strlen(name);

	while (p != NULL && p[2] != '\0') {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
			return out;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

/* Read one response as an HTTP/1.1 client does: Content-Length, chunked, or to the close. */
static void
conn_read(struct conn *c, struct reply *r)
{
	char value[64];
	size_t end, len, cap = 0;
	char *hend;

	memset(r, 0, sizeof(*r));
	for (;;) {
		c->buf[c->have] = '\0';
		hend = c->have > 0 ? strstr(c->buf, "\r\n\r\n") : NULL;
		if (hend != NULL)
			break;
		ck_assert_msg(conn_fill(c, c->have + 1), "the server closed before a response");
	}
	end = (size_t)(hend - c->buf) + 4;
	ck_assert_uint_lt(end, sizeof(r->head));
	memcpy(r->head, c->buf, end);
	r->head[end] = '\0';
	conn_consume(c, end);
	ck_assert_msg(sscanf(r->head, "HTTP/1.1 %d ", &r->status) == 1, "status line: %s", r->head);
	if (reply_header(r, "Content-Length", value, sizeof(value)) != NULL) {
		len = strtoul(value, NULL, 10);
		ck_assert(conn_fill(c, len));
		r->body = malloc(len + 1);
		memcpy(r->body, c->buf, len);
		r->body_len = len;
		conn_consume(c, len);
	} else if (reply_header(r, "Transfer-Encoding", value, sizeof(value)) != NULL &&
		   strcasecmp(value, "chunked") == 0) {
		for (;;) {
			char *eol;

			c->buf[c->have] = '\0';
			while ((eol = strstr(c->buf, "\r\n")) == NULL) {
				ck_assert(conn_fill(c, c->have + 1));
				c->buf[c->have] = '\0';
			}
			len = strtoul(c->buf, NULL, 16);
			conn_consume(c, (size_t)(eol - c->buf) + 2);
			ck_assert(conn_fill(c, len + 2));
			r->body = realloc(r->body, (cap += len) + 1);
			memcpy(r->body + r->body_len, c->buf, len);
			r->body_len += len;
			conn_consume(c, len + 2);
			if (len == 0)
				break;
		}
	} else {
		while (conn_fill(c, c->have + 1))
			;
		r->body = malloc(c->have + 1);
		memcpy(r->body, c->buf, c->have);
		r->body_len = c->have;
		conn_consume(c, c->have);
	}
	if (r->body == NULL)
		r->body = malloc(1);
	r->body[r->body_len] = '\0';
}

static void
reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* ---- what tritonclient.http sends --------------------------------------------------------- */

/* Python's urllib.parse.quote(s): letters, digits, "_.-~" and '/' stay, the rest is %XX. */
static void
py_quote(const char *s, char *out, size_t len)
{
	size_t used = 0;

	for (; *s != '\0' && used + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || strchr("_.-~/", ch) != NULL)
			out[used++] = (char)ch;
		else
			used += (size_t)snprintf(out + used, len - used, "%%%02X", ch);
	}
	out[used] = '\0';
}

/* InferRequestedOutput(name, binary_data) */
struct requested {
	const char *name;
	bool binary_data;
};

struct infer_call {
	const char *model_version; /* "" : the default */
	const char *request_id;    /* "" : none */
	const char *datatype;      /* "FP32" or "FP64": the numpy array's dtype */
	int shape[2];
	size_t n_outputs; /* 0: outputs=None */
	struct requested outputs[3];
};

/* The input's raw bytes, as numpy's tobytes() of rows in the call's datatype. */
static unsigned char *
tobytes(const struct infer_call *call, size_t *len)
{
	size_t size = strcmp(call->datatype, "FP32") == 0 ? 4 : 8, i,
	       n = (size_t)call->shape[0] * (size_t)call->shape[1];
	unsigned char *out = malloc(n * size + 1);

	ck_assert_uint_le(n, ROWS * WIDTH);
	for (i = 0; i < n; i++) {
		if (size == 4) {
			float f = (float)rows[i];

			memcpy(out + i * 4, &f, 4);
		} else {
			memcpy(out + i * 8, &rows[i], 8);
		}
	}
	*len = n * size;
	return out;
}

/* The request body's JSON, key by key in the order tritonclient builds its dict. */
static size_t
infer_json(const struct infer_call *call, size_t binary_len, char *out, size_t len)
{
	size_t used = 0, k;

#define PUT(...) used += (size_t)snprintf(out + used, len - used, __VA_ARGS__)
	PUT("{");
	if (call->request_id[0] != '\0')
		PUT("\"id\":\"%s\",", call->request_id);
	PUT("\"inputs\":[{\"name\":\"rows\",\"shape\":[%d,%d],\"datatype\":\"%s\","
	    "\"parameters\":{\"binary_data_size\":%zu}}]", call->shape[0], call->shape[1],
	    call->datatype, binary_len);
	if (call->n_outputs > 0) {
		PUT(",\"outputs\":[");
		for (k = 0; k < call->n_outputs; k++)
			PUT("%s{\"name\":\"%s\",\"parameters\":{\"binary_data\":%s}}", k ? "," : "",
			    call->outputs[k].name, call->outputs[k].binary_data ? "true" : "false");
		PUT("]");
	} else {
		PUT(",\"parameters\":{\"binary_data_output\":true}");
	}
	PUT("}");
#undef PUT
	ck_assert_uint_lt(used, len);
	return used;
}

/* client.infer(...): the request on the wire. malloc'd, *len bytes. */
static char *
infer_request(const struct infer_call *call, size_t *len)
{
	char json[2048], path[600], quoted[300], head[1024];
	size_t bin_len, json_len, head_len;
	unsigned char *bin = tobytes(call, &bin_len);
	char *req;

	json_len = infer_json(call, bin_len, json, sizeof(json));
	py_quote(model, quoted, sizeof(quoted));
	if (call->model_version[0] != '\0')
		snprintf(path, sizeof(path), "/v2/models/%s/versions/%s/infer", quoted,
			 call->model_version);
	else
		snprintf(path, sizeof(path), "/v2/models/%s/infer", quoted);
	head_len = (size_t)snprintf(head, sizeof(head),
				    "POST %s HTTP/1.1\r\n"
				    "User-Agent: " USER_AGENT "\r\n"
				    "Inference-Header-Content-Length: %zu\r\n"
				    "Host: 127.0.0.1:%d\r\n"
				    "Content-Length: %zu\r\n"
				    "\r\n",
				    path, json_len, port, json_len + bin_len);
	req = malloc(head_len + json_len + bin_len);
	memcpy(req, head, head_len);
	memcpy(req + head_len, json, json_len);
	memcpy(req + head_len + json_len, bin, bin_len);
	free(bin);
	*len = head_len + json_len + bin_len;
	return req;
}

static void
conn_send(struct conn *c, const char *req, size_t len)
{
	ck_assert_int_eq(send(c->fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* A GET as geventhttpclient writes it (is_server_live, get_model_metadata...). */
static void
get(struct conn *c, const char *path, struct reply *r)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nUser-Agent: " USER_AGENT "\r\n"
			 "Host: 127.0.0.1:%d\r\n\r\n", path, port);

	conn_send(c, req, (size_t)n);
	conn_read(c, r);
}

/* ---- what tritonclient.http makes of the answer ------------------------------------------ */

/* InferResult: the JSON and, when binary outputs follow, where each one's bytes start. */
struct result {
	cJSON *json;
	const unsigned char *buffer; /* after the JSON */
	size_t buffer_len;
	size_t offset[8]; /* by position in "outputs": its start in buffer */
};

/* _raise_if_error, then InferResult.__init__. */
static void
result_of(const struct reply *r, struct result *res)
{
	char value[64];
	const char *hl = reply_header(r, "Inference-Header-Content-Length", value, sizeof(value));
	size_t json_len = r->body_len, at = 0, i = 0;
	cJSON *o, *size;
	char *end, *text;

	memset(res, 0, sizeof(*res));
	ck_assert_msg(r->status == 200, "tritonclient raises InferenceServerException: %d %s",
		      r->status, r->body);
	if (hl != NULL) {
		/* int(header_length): a number, and no more bytes than the body has */
		json_len = strtoul(hl, &end, 10);
		ck_assert_msg(*hl != '\0' && *end == '\0', "Inference-Header-Content-Length: '%s'",
			      hl);
		ck_assert_uint_le(json_len, r->body_len);
	}
	/* json.loads refuses anything after the document: cJSON does when it must end at a NUL */
	text = malloc(json_len + 1);
	memcpy(text, r->body, json_len);
	text[json_len] = '\0';
	res->json = cJSON_ParseWithLengthOpts(text, json_len + 1, NULL, true);
	free(text);
	ck_assert_msg(res->json != NULL, "json.loads fails on the %zu bytes of JSON: %.*s",
		      json_len,
		      (int)json_len, r->body);
	res->buffer = r->body + json_len;
	res->buffer_len = r->body_len - json_len;
	if (hl == NULL)
		return;
	ck_assert_msg(cJSON_IsArray(cJSON_GetObjectItem(res->json, "outputs")),
		      "result['outputs'] raises KeyError: %s", r->body);
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(res->json, "outputs")) {
		ck_assert_uint_lt(i, 8);
		size = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "parameters"),
					   "binary_data_size");
		res->offset[i++] = at;
		if (size != NULL) {
			ck_assert(cJSON_IsNumber(size) && size->valuedouble >= 0);
			at += (size_t)size->valuedouble;
		}
	}
}

/* numpy's dtype for a Triton datatype (triton_to_np_dtype), as its element size; 0: none. */
static size_t
np_itemsize(const char *datatype)
{
	static const struct {
		const char *name;
		size_t size;
	} types[] = {
		{ "BOOL", 1 },  { "INT8", 1 },   { "INT16", 2 },  { "INT32", 4 },  { "INT64", 8 },
		{ "UINT8", 1 }, { "UINT16", 2 }, { "UINT32", 4 }, { "UINT64", 8 }, { "FP16", 2 },
		{ "FP32", 4 },  { "BF16", 4 },   { "FP64", 8 },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(datatype, types[i].name) == 0)
			return types[i].size;
	return 0;
}

/*
 * result.as_numpy(name) of a 1-dimensional output: its values as doubles (INT64 too, they are
 * small) into out, want_datatype checked. Returns the element count; -1 when the output is not
 * in the answer (as_numpy's None). *binary: whether it came from the binary buffer.
 */
static int
as_numpy(const struct result *res, const char *name, const char *want_datatype, double *out,
	 int cap, bool *binary)
{
	cJSON *o, *size, *shape, *data, *v;
	size_t i = 0, itemsize, elements = 1, k;
	const char *dt;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(res->json, "outputs")) {
		if (strcmp(cJSON_GetObjectItem(o, "name")->valuestring, name) == 0)
			break;
		i++;
	}
	if (o == NULL)
		return -1;
	ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(o, "datatype")), "output %s: datatype",
		      name);
	dt = cJSON_GetObjectItem(o, "datatype")->valuestring;
	itemsize = np_itemsize(dt);
	ck_assert_msg(itemsize != 0, "output %s: datatype '%s' has no numpy dtype", name, dt);
	ck_assert_str_eq(dt, want_datatype);
	shape = cJSON_GetObjectItem(o, "shape");
	ck_assert(cJSON_IsArray(shape));
	cJSON_ArrayForEach(v, shape)
		elements *= (size_t)v->valuedouble;
	ck_assert_uint_le(elements, (size_t)cap);
	size = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "parameters"), "binary_data_size");
	*binary = size != NULL;
	if (size != NULL) {
		size_t n = (size_t)size->valuedouble;
		const unsigned char *p = res->buffer + res->offset[i];

		/* np.frombuffer(buffer[start:end], dtype).reshape(shape) */
		ck_assert_msg(res->offset[i] + n <= res->buffer_len,
			      "output %s: bytes %zu..%zu past the %zu-byte buffer", name,
			      res->offset[i], res->offset[i] + n, res->buffer_len);
		ck_assert_msg(n == elements * itemsize,
			      "output %s: binary_data_size %zu, its shape needs %zu x %zu", name, n,
			      elements, itemsize);
		for (k = 0; k < elements; k++) {
			if (strcmp(dt, "FP64") == 0) {
				double d;

				memcpy(&d, p + k * 8, 8);
				out[k] = d;
			} else {
				int64_t q;

				ck_assert_str_eq(dt, "INT64");
				memcpy(&q, p + k * 8, 8);
				out[k] = (double)q;
			}
		}
	} else {
		/* np.array(output["data"], dtype).reshape(shape) */
		data = cJSON_GetObjectItem(o, "data");
		ck_assert_msg(cJSON_IsArray(data), "output %s: neither data nor binary_data_size",
			      name);
		ck_assert_uint_eq((size_t)cJSON_GetArraySize(data), elements);
		k = 0;
		cJSON_ArrayForEach(v, data)
			out[k++] = v->valuedouble;
	}
	return (int)elements;
}

static void
result_free(struct result *res)
{
	cJSON_Delete(res->json);
}

/* The answer's rul, unit and cycle equal /v1/predict's. */
static void
assert_same_as_v1(const char *what, const double *rul, const double *unit, const double *cycle)
{
	int i;

	for (i = 0; i < UNITS; i++) {
		/* V1 prints 7 significant digits */
		if (rul != NULL)
			ck_assert_msg(fabs(rul[i] - v1_rul[i]) <= 5e-7 * fabs(v1_rul[i]) + 1e-9,
				      "%s: unit %lld: V2 %.9g, V1 %.9g", what, v1_unit[i], rul[i],
				      v1_rul[i]);
		if (unit != NULL)
			ck_assert_msg((long long)unit[i] == v1_unit[i], "%s: unit %g, V1 %lld",
				      what,
				      unit[i], v1_unit[i]);
		if (cycle != NULL)
			ck_assert_msg((long long)cycle[i] == v1_cycle[i], "%s: cycle %g, V1 %lld",
				      what, cycle[i], v1_cycle[i]);
	}
}

/* ---- tests ------------------------------------------------------------------------------- */

/*
 * client.infer(model, [InferInput("rows", shape, "FP32")]) with everything else at its
 * default, then as_numpy of each output; and the same with a float64 array, a version and a
 * request_id. One connection for all, as geventhttpclient keeps it.
 */
START_TEST(test_default_infer)
{
	struct infer_call calls[] = {
		{ "", "", "FP32", { ROWS, WIDTH }, 0, { { 0 } } },
		{ "", "", "FP64", { ROWS, WIDTH }, 0, { { 0 } } },
		{ version, "req-7", "FP32", { ROWS, WIDTH }, 0, { { 0 } } },
	};
	double rul[UNITS], unit[UNITS], cycle[UNITS];
	struct conn c;
	struct reply r;
	struct result res;
	char what[64], value[32];
	bool binary;
	size_t i, len;
	char *req;

	conn_open(&c);
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		snprintf(what, sizeof(what), "call %zu (%s)", i, calls[i].datatype);
		req = infer_request(&calls[i], &len);
		conn_send(&c, req, len);
		free(req);
		conn_read(&c, &r);
		result_of(&r, &res);
		/* binary_data_output: every output binary, so the header length is there */
		ck_assert_msg(reply_header(&r, "Inference-Header-Content-Length", value,
					   sizeof(value)),
			      "%s: no Inference-Header-Content-Length: %s", what, r.head);
		ck_assert_int_eq(as_numpy(&res, "rul", "FP64", rul, UNITS, &binary), UNITS);
		ck_assert(binary);
		ck_assert_int_eq(as_numpy(&res, "unit", "INT64", unit, UNITS, &binary), UNITS);
		ck_assert(binary);
		ck_assert_int_eq(as_numpy(&res, "cycle", "INT64", cycle, UNITS, &binary), UNITS);
		ck_assert(binary);
		assert_same_as_v1(what, rul, unit, cycle);
		/* nothing in the buffer that no output accounts for */
		ck_assert_uint_eq(res.buffer_len, 3 * UNITS * 8);
		/* get_response(): the model's name and version, the request_id given back */
		ck_assert_str_eq(cJSON_GetObjectItem(res.json, "model_name")->valuestring, model);
		ck_assert_str_eq(cJSON_GetObjectItem(res.json, "model_version")->valuestring,
				 version);
		if (calls[i].request_id[0] != '\0')
			ck_assert_str_eq(cJSON_GetObjectItem(res.json, "id")->valuestring,
					 calls[i].request_id);
		result_free(&res);
		reply_free(&r);
	}
	conn_close(&c);
}
END_TEST

/*
 * outputs=[InferRequestedOutput("rul"), InferRequestedOutput("cycle", binary_data=False)]:
 * rul in the buffer, cycle in JSON, unit not sent at all (as_numpy gives None).
 */
START_TEST(test_requested_outputs)
{
	struct infer_call call = { "", "", "FP32", { ROWS, WIDTH }, 2,
				   { { "rul", true }, { "cycle", false } } };
	double rul[UNITS], cycle[UNITS], unit[UNITS];
	struct conn c;
	struct reply r;
	struct result res;
	bool binary;
	size_t len;
	char *req = infer_request(&call, &len);

	conn_open(&c);
	conn_send(&c, req, len);
	conn_read(&c, &r);
	result_of(&r, &res);
	ck_assert_int_eq(as_numpy(&res, "rul", "FP64", rul, UNITS, &binary), UNITS);
	ck_assert(binary);
	ck_assert_int_eq(as_numpy(&res, "cycle", "INT64", cycle, UNITS, &binary), UNITS);
	ck_assert(!binary);
	ck_assert_int_eq(as_numpy(&res, "unit", "INT64", unit, UNITS, &binary), -1);
	assert_same_as_v1("requested outputs", rul, NULL, cycle);
	ck_assert_uint_eq(res.buffer_len, UNITS * 8);
	result_free(&res);
	reply_free(&r);

	/* every output asked for in JSON: no binary data follows, no header length either */
	call.n_outputs = 3;
	call.outputs[0] = (struct requested){ "unit", false };
	call.outputs[1] = (struct requested){ "rul", false };
	call.outputs[2] = (struct requested){ "cycle", false };
	free(req);
	req = infer_request(&call, &len);
	conn_send(&c, req, len);
	conn_read(&c, &r);
	result_of(&r, &res);
	ck_assert_int_eq(as_numpy(&res, "rul", "FP64", rul, UNITS, &binary), UNITS);
	ck_assert(!binary);
	ck_assert_int_eq(as_numpy(&res, "unit", "INT64", unit, UNITS, &binary), UNITS);
	assert_same_as_v1("JSON outputs", rul, unit, NULL);
	ck_assert_uint_eq(res.buffer_len, 0);
	result_free(&res);
	reply_free(&r);
	free(req);
	conn_close(&c);
}
END_TEST

/*
 * A refused input: tritonclient raises InferenceServerException with the body's "error"
 * string, so the answer must be JSON with one. The connection stays usable.
 */
START_TEST(test_error_is_readable)
{
	struct infer_call call = { "", "", "FP32", { ROWS, WIDTH - 1 }, 0, { { 0 } } };
	struct conn c;
	struct reply r;
	struct result res;
	cJSON *root, *e;
	size_t len;
	char *req = infer_request(&call, &len);

	conn_open(&c);
	conn_send(&c, req, len);
	free(req);
	conn_read(&c, &r);
	ck_assert_int_eq(r.status, 400);
	root = cJSON_ParseWithLength((const char *)r.body, r.body_len);
	ck_assert_msg(root != NULL, "not JSON: %s", r.body);
	e = cJSON_GetObjectItem(root, "error");
	ck_assert_msg(cJSON_IsString(e), "no \"error\" string: %s", r.body);
	ck_assert_ptr_nonnull(strstr(e->valuestring, "shape[1] is 25, expected 26"));
	cJSON_Delete(root);
	reply_free(&r);

	call.shape[1] = WIDTH;
	req = infer_request(&call, &len);
	conn_send(&c, req, len);
	free(req);
	conn_read(&c, &r);
	result_of(&r, &res);
	result_free(&res);
	reply_free(&r);
	conn_close(&c);
}
END_TEST

/*
 * is_server_live, is_server_ready, is_model_ready (a status of 200 is all they look at),
 * get_server_metadata and get_model_metadata (json.loads of the body).
 */
START_TEST(test_health_and_metadata)
{
	char path[400];
	struct conn c;
	struct reply r;
	cJSON *root;

	conn_open(&c);
	get(&c, "/v2/health/live", &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	get(&c, "/v2/health/ready", &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/ready", model);
	get(&c, path, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/%s/ready", model, version);
	get(&c, path, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	get(&c, "/v2", &r);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_ParseWithLength((const char *)r.body, r.body_len);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, "rulsrv");
	cJSON_Delete(root);
	reply_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s", model);
	get(&c, path, &r);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_ParseWithLength((const char *)r.body, r.body_len);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, model);
	cJSON_Delete(root);
	reply_free(&r);
	conn_close(&c);
}
END_TEST

Suite *
v2_tritonclient_suite(void)
{
	Suite *s = suite_create("v2_tritonclient");
	TCase *tc = tcase_create("tritonclient");

	suite_needs(s, "fd001");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_default_infer);
	tcase_add_test(tc, test_requested_outputs);
	tcase_add_test(tc, test_error_is_readable);
	tcase_add_test(tc, test_health_and_metadata);
	suite_add_tcase(s, tc);
	return s;
}
