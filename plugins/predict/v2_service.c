/* SPDX-License-Identifier: MIT */
/* v2_service.c - the Open Inference Protocol (KServe V2 REST) routes of the prediction service. */
#include "v2_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clocks.h"
#include "predict_service.h"

#ifndef RULSRV_VERSION
#define RULSRV_VERSION "0.0.0"
#endif

#define HEADER_LENGTH "Inference-Header-Content-Length"

struct v2_service {
	const struct rulsrv_api *api;
	struct psvc *svc;
	struct v2_model model;
	size_t max_rows; /* of the input: max_instances x max_cycles */
	char *server_body, *model_body; /* GET /v2, GET /v2/models/NAME, built once */
	char *paths[8];                 /* the routes' paths, kept for the core's copies' sake */
};

/* ---- answers ----------------------------------------------------------------------------- */

/* A copy of a body built at init: the response owns what it is given. */
static void
respond_copy(struct v2_service *v, struct rulsrv_response *resp, unsigned status,
	     const char *body)
{
	size_t len = strlen(body);
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		v->api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	memcpy(copy, body, len + 1);
	v->api->respond(resp, status, "application/json", copy, len);
}

/* The protocol's error form: {"error": "message"}. */
static void
respond_v2_error(struct v2_service *v, struct rulsrv_response *resp, unsigned status,
		 const char *message)
{
	cJSON *root = cJSON_CreateObject();
	char *body;

	cJSON_AddStringToObject(root, "error", message);
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (body == NULL) {
		v->api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	v->api->respond(resp, status, "application/json", body, strlen(body));
}

/* ---- health and metadata ---------------------------------------------------------------- */

static void
handle_server(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct v2_service *v = ud;

	(void)req;
	respond_copy(v, resp, 200, v->server_body);
}

static void
handle_live(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	(void)req;
	respond_copy(ud, resp, 200, "{\"live\":true}");
}

static void
handle_ready(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct v2_service *v = ud;
	bool ready = atomic_load(v->model.ready);

	(void)req;
	respond_copy(v, resp, ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}");
}

static void
handle_model(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct v2_service *v = ud;

	(void)req;
	respond_copy(v, resp, 200, v->model_body);
}

static void
handle_model_ready(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	handle_ready(ud, req, resp);
}

/* Any other path under /v2/models/: which model or version is not served, or no endpoint. */
static void
handle_unknown(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct v2_service *v = ud;
	const char *name = req->path + strlen("/v2/models/"), *slash = strchr(name, '/');
	size_t n = slash != NULL ? (size_t)(slash - name) : strlen(name), vn = 0;
	const char *ver = NULL;
	char msg[400];

	if (slash != NULL && strncmp(slash, "/versions/", 10) == 0) {
		ver = slash + 10;
		vn = strcspn(ver, "/");
	}
	if (n != strlen(v->model.name) || strncmp(name, v->model.name, n) != 0)
		snprintf(msg, sizeof(msg), "model '%.*s' is not served here (this service serves "
			 "'%s')", (int)(n > 128 ? 128 : n), name, v->model.name);
	else if (ver != NULL && (vn != strlen(v->model.version) ||
				 strncmp(ver, v->model.version, vn) != 0))
		snprintf(msg, sizeof(msg), "model '%s' has no version '%.*s' here (it serves "
			 "version '%s')", v->model.name, (int)(vn > 128 ? 128 : vn), ver,
			 v->model.version);
	else
		snprintf(msg, sizeof(msg), "no such endpoint: %.16s %.200s", req->method, req->path);
	respond_v2_error(v, resp, 404, msg);
}

/* ---- infer ------------------------------------------------------------------------------ */

struct infer_render {
	struct v2_service *v;
	const struct v2_infer *in;
};

static char *
render_infer(void *ctx, const struct predict_request *r, const float *rul,
	     struct rulsrv_response *resp, size_t *len, const char **content_type)
{
	const struct infer_render *ir = ctx;
	size_t json_len = 0;
	char *body, number[24];

	body = v2_infer_render(ir->in, ir->v->model.name, ir->v->model.version, r, rul, len,
			       &json_len);
	if (body == NULL || json_len == *len)
		return body;
	/* binary outputs follow the JSON: say where it ends, as the request did */
	snprintf(number, sizeof(number), "%zu", json_len);
	if (ir->v->api->respond_header(resp, HEADER_LENGTH, number) < 0) {
		free(body);
		return NULL;
	}
	*content_type = "application/octet-stream";
	return body;
}

static void
fail_answer(void *ctx, struct rulsrv_response *resp, unsigned status, const char *message)
{
	const struct infer_render *ir = ctx;

	respond_v2_error(ir->v, resp, status, message);
}

static void
fail_infer(struct v2_service *v, struct rulsrv_response *resp, double t0,
	   const struct predict_error *err)
{
	/* the protocol answers every refused input 400; over a limit stays 413 */
	unsigned status = err->status == 422 ? 400 : err->status;

	predict_service_count_failure(v->svc, t0, status, err->code);
	respond_v2_error(v, resp, status, err->message);
}

/* Any Content-Type: Triton's clients send application/octet-stream, JSON or none at all. */
static void
handle_infer(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct v2_service *v = ud;
	double t0 = clocks_monotonic();
	struct predict_request r;
	struct predict_error err;
	struct v2_infer in;

	predict_request_init(&r);
	if (v2_infer_parse(req->body ? req->body : "", req->body_len,
			   v->api->request_header(req, HEADER_LENGTH), v->max_rows, &in, &err) < 0)
		fail_infer(v, resp, t0, &err);
	else if (v2_infer_request(&in, &v->model.lim, &r, &err) < 0)
		fail_infer(v, resp, t0, &err);
	else
		predict_service_answer(v->svc, req, resp, &r, t0,
				       &(struct predict_render){ render_infer,
								 &(struct infer_render){ v, &in },
								 fail_answer });
	predict_request_free(&r);
	v2_infer_free(&in);
}

/* ---- bodies and routes ------------------------------------------------------------------ */

static cJSON *
tensor(const char *name, const char *datatype, int rank)
{
	cJSON *t = cJSON_CreateObject(), *shape;

	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddStringToObject(t, "datatype", datatype);
	shape = cJSON_AddArrayToObject(t, "shape");
	cJSON_AddItemToArray(shape, cJSON_CreateNumber(-1));
	if (rank == 2)
		cJSON_AddItemToArray(shape, cJSON_CreateNumber(V2_ROW_WIDTH));
	return t;
}

static int
build_bodies(struct v2_service *v)
{
	cJSON *server = cJSON_CreateObject(), *model = cJSON_CreateObject(), *list;
	int k;

	cJSON_AddStringToObject(server, "name", "rulsrv");
	cJSON_AddStringToObject(server, "version", RULSRV_VERSION);
	list = cJSON_AddArrayToObject(server, "extensions");
	cJSON_AddItemToArray(list, cJSON_CreateString("binary_tensor_data"));
	cJSON_AddStringToObject(model, "name", v->model.name);
	list = cJSON_AddArrayToObject(model, "versions");
	cJSON_AddItemToArray(list, cJSON_CreateString(v->model.version));
	cJSON_AddStringToObject(model, "platform", v->model.platform);
	list = cJSON_AddArrayToObject(model, "inputs");
	cJSON_AddItemToArray(list, tensor(V2_INPUT_NAME, "FP64", 2));
	list = cJSON_AddArrayToObject(model, "outputs");
	for (k = 0; k < V2_OUT_COUNT; k++)
		cJSON_AddItemToArray(list, tensor(v2_output_name((enum v2_output)k),
						  k == V2_OUT_RUL ? "FP64" : "INT64", 1));
	v->server_body = cJSON_PrintUnformatted(server);
	v->model_body = cJSON_PrintUnformatted(model);
	cJSON_Delete(server);
	cJSON_Delete(model);
	return v->server_body != NULL && v->model_body != NULL ? 0 : -ENOMEM;
}

static int
add(struct v2_service *v, struct rulsrv_host *host, const char *method, const char *path,
    rulsrv_handler_fn fn)
{
	return v->api->route_add(host, method, path, RULSRV_ROUTE_ERROR_STRING, fn, v);
}

/* The model's routes under base (/v2/models/NAME or .../versions/V). */
static int
add_model_routes(struct v2_service *v, struct rulsrv_host *host, const char *base, int slot)
{
	char **p = &v->paths[slot];
	int rc;

	if (asprintf(&p[0], "%s/ready", base) < 0 || asprintf(&p[1], "%s/infer", base) < 0)
		return -ENOMEM;
	rc = add(v, host, "GET", base, handle_model);
	if (rc == 0)
		rc = add(v, host, "GET", p[0], handle_model_ready);
	if (rc == 0)
		rc = add(v, host, "POST", p[1], handle_infer);
	if (rc == 0)
		rc = v->api->route_refusals(host, "POST", p[1], v->model.refusal, v->svc);
	return rc;
}

static int
add_routes(struct v2_service *v, struct rulsrv_host *host)
{
	int rc;

	if (asprintf(&v->paths[0], "/v2/models/%s", v->model.name) < 0 ||
	    asprintf(&v->paths[1], "/v2/models/%s/versions/%s", v->model.name,
		     v->model.version) < 0)
		return -ENOMEM;
	rc = add(v, host, "GET", "/v2", handle_server);
	if (rc == 0)
		rc = add(v, host, "GET", "/v2/health/live", handle_live);
	if (rc == 0)
		rc = add(v, host, "GET", "/v2/health/ready", handle_ready);
	if (rc == 0)
		rc = add_model_routes(v, host, v->paths[0], 2);
	if (rc == 0)
		rc = add_model_routes(v, host, v->paths[1], 4);
	if (rc == 0)
		rc = add(v, host, "GET", "/v2/models/*", handle_unknown);
	if (rc == 0)
		rc = add(v, host, "POST", "/v2/models/*", handle_unknown);
	return rc;
}

int
v2_service_add(struct rulsrv_host *host, const struct rulsrv_api *api, struct psvc *svc,
	       const struct v2_model *model, struct v2_service **out)
{
	struct v2_service *v = calloc(1, sizeof(*v));
	int rc;

	*out = v;
	if (v == NULL)
		return -ENOMEM;
	v->api = api;
	v->svc = svc;
	v->model = *model;
	v->max_rows = model->lim.max_instances * model->lim.max_cycles;
	rc = build_bodies(v);
	if (rc == 0)
		rc = add_routes(v, host);
	return rc;
}

void
v2_service_free(struct v2_service *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < sizeof(v->paths) / sizeof(v->paths[0]); i++)
		free(v->paths[i]);
	free(v->server_body);
	free(v->model_body);
	free(v);
}
