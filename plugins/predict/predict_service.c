/* SPDX-License-Identifier: MIT */
/* predict_service.c - POST /v1/predict and GET /v1/models over a pluggable model backend. */
#include "predict_service.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "clocks.h"
#include "cmapss.h"
#include "feature_pipeline.h"
#include "float_text.h"
#include "fleet_service.h"
#include "predict_request.h"
#include "v2_service.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Feature rows and results of requests up to this many floats live on the stack. */
#define STACK_FLOATS 4096
#define STACK_ITEMS 64

/* Status codes and error reasons, each with its series created once at init. */
static const unsigned status_codes[] = { 200, 400, 408, 413, 415, 422, 500, 503 };
static const char *const status_labels[] = { "200", "400", "408", "413", "415",
					     "422", "500", "503" };
#define N_STATUS ARRAY_LEN(status_codes)

#define ERR_UNSUPPORTED_MEDIA "unsupported_media_type"
#define ERR_PREDICTION_FAILED "prediction_failed"
/* Refused by the core before the handler (ABI 1.1 route_refusals). */
#define ERR_PAYLOAD_TOO_LARGE "payload_too_large"
#define ERR_REQUEST_TIMEOUT "request_timeout"
/* An observer that holds the answer (the prediction log, log_before_answer) failed. */
#define ERR_STORE_FAILED "store_failed"
static const char *const reasons[] = {
	PREDICT_ERR_MALFORMED_JSON,   PREDICT_ERR_MALFORMED_ROWS,  PREDICT_ERR_INVALID_SHAPE,
	PREDICT_ERR_NON_FINITE,       PREDICT_ERR_NOT_INCREASING,  PREDICT_ERR_TOO_MANY_INSTANCES,
	PREDICT_ERR_TOO_MANY_CYCLES,  PREDICT_ERR_NO_MEMORY,       ERR_UNSUPPORTED_MEDIA,
	ERR_PAYLOAD_TOO_LARGE,        ERR_REQUEST_TIMEOUT,         V2_ERR_INVALID_TENSOR,
	ERR_PREDICTION_FAILED,        ERR_STORE_FAILED,
};
#define N_REASONS ARRAY_LEN(reasons)

/* Latency: 100 us .. 1 s. RUL: 0..200 cycles in steps of 10. */
static const double latency_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					  0.01,   0.025,   0.05,   0.1,   0.25,   0.5, 1.0 };
static const double rul_buckets[] = { 0,   10,  20,  30,  40,  50,  60,  70,  80,  90, 100,
				      110, 120, 130, 140, 150, 160, 170, 180, 190, 200 };

struct psvc {
	struct rulsrv_host *host;
	const struct rulsrv_api *api;
	const struct predict_backend_ops *ops;
	void *model;
	struct bundle *bundle;
	char *bundle_path;
	struct predict_limits lim;
	size_t n_features;
	size_t input_count;             /* raw inputs per record, as the bundle declares them */
	const char *const *input_names; /* static, input_count names */
	char *prefix; /* {"model":NAME,"version":V,"predictions":[ */
	size_t prefix_len;
	char *models_body; /* GET /v1/models, built once */
	size_t models_len;
	atomic_bool ready;
	bool info_counted;
	struct v2_service *v2; /* the Open Inference Protocol routes (v2_service.h) */
	struct fleet_service *fleet; /* POST /v1/cycles ...; NULL unless fleet = true */

	struct rulsrv_series *requests[N_STATUS];
	struct rulsrv_series *errors[N_REASONS];
	struct rulsrv_series *predictions, *latency, *rul_value, *info;
};

static size_t
status_index(unsigned status)
{
	size_t i;

	for (i = 0; i < N_STATUS; i++)
		if (status_codes[i] == status)
			return i;
	return N_STATUS - 2; /* 500 */
}

static size_t
reason_index(const char *code)
{
	size_t i;

	for (i = 0; i < N_REASONS; i++)
		if (strcmp(reasons[i], code) == 0)
			return i;
	return N_REASONS - 1;
}

void
predict_service_count_failure(struct psvc *s, double t0, unsigned status, const char *code)
{
	const struct rulsrv_api *api = s->api;

	api->counter_add(s->requests[status_index(status)], 1);
	api->counter_add(s->errors[reason_index(code)], 1);
	api->histogram_observe(s->latency, clocks_monotonic() - t0);
}

/* Count and answer a refused or failed request. */
static void
answer_error(struct psvc *s, struct rulsrv_response *resp, double t0, unsigned status,
	     const char *code, const char *message)
{
	predict_service_count_failure(s, t0, status, code);
	s->api->respond_error(resp, status, code, "%s", message);
}

/* The core refused a /v1/predict itself: a body over max_body_bytes, or one out of time. */
static void
count_refusal(void *ud, unsigned status, const char *code)
{
	struct psvc *s = ud;

	s->api->counter_add(s->requests[status_index(status)], 1);
	s->api->counter_add(s->errors[reason_index(code)], 1);
}

/* ---- the response body ------------------------------------------------------------------ */

static char *
put_int(char *p, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0;

	if (v < 0)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* {"model":..,"version":..,"predictions":[{"unit":U,"cycle":C,"rul":R},...]}; malloc'd. */
static char *
render_predictions(void *ctx, const struct predict_request *r, const float *rul,
		   struct rulsrv_response *resp, size_t *len, const char **content_type)
{
	const struct psvc *s = ctx;

	/* per item: {"unit":-20 digits,"cycle":20,"rul":~15} < 96 bytes */
	char *body = malloc(s->prefix_len + r->count * 96 + 4), *p;
	const struct predict_engine *e;
	size_t i;

	if (body == NULL)
		return NULL;
	memcpy(body, s->prefix, s->prefix_len);
	p = body + s->prefix_len;
	for (i = 0; i < r->count; i++) {
		e = &r->engines[i];
		if (i > 0)
			*p++ = ',';
		memcpy(p, "{\"unit\":", 8);
		p = put_int(p + 8, e->unit);
		memcpy(p, ",\"cycle\":", 9);
		p = put_int(p + 9, e->cycles[e->n - 1]);
		memcpy(p, ",\"rul\":", 7);
		p += 7;
		p += float_text_g7(rul[i], p);
		*p++ = '}';
	}
	memcpy(p, "]}", 3);
	*len = (size_t)(p + 2 - body);
	return body;
}

/* ---- POST /v1/predict -------------------------------------------------------------------- */

/* An answer computed and waiting for the observers that hold it (observers_notify_then). */
struct held_answer {
	struct psvc *s;
	struct rulsrv_response *resp;
	char *body;
	size_t len;
	const char *content_type;
	size_t count;
	double t0;
	bool error_string; /* the Open Inference Protocol's {"error": "..."} */
};

/*
 * Every observer that held the answer let it go: 200 with the predictions, or, when one of
 * them could not keep them (the prediction log's store failed), 503 store_failed with
 * Retry-After: a client's retry is predicted and logged again.
 */
static void
answer_observed(void *ud, int status)
{
	static const char msg[] = "the predictions could not be logged (the prediction log's "
				  "store failed); retry later";
	struct held_answer *h = ud;
	struct psvc *s = h->s;
	const struct rulsrv_api *api = s->api;

	if (status == 0) {
		api->counter_add(s->predictions, (double)h->count);
		api->counter_add(s->requests[0], 1);
		api->histogram_observe(s->latency, clocks_monotonic() - h->t0);
		api->respond(h->resp, 200, h->content_type, h->body, h->len);
	} else {
		free(h->body);
		predict_service_count_failure(s, h->t0, 503, ERR_STORE_FAILED);
		api->respond_header(h->resp, "Retry-After", "1");
		if (h->error_string) {
			char *e = malloc(sizeof(msg) + 16);

			if (e != NULL)
				snprintf(e, sizeof(msg) + 16, "{\"error\":\"%s\"}", msg);
			api->respond(h->resp, 503, "application/json", e, e ? strlen(e) : 0);
		} else
			api->respond_error(h->resp, 503, ERR_STORE_FAILED, "%s", msg);
	}
	free(h);
}

/*
 * Features of every engine (its last cycle), one backend call for the whole batch, then the
 * answer, the observers and the metrics. Small requests touch the heap only for the
 * response body.
 */
/* A failure after the request was accepted, answered in the form of its protocol. */
static void
fail_answer(struct psvc *s, struct rulsrv_response *resp, double t0,
	    const struct predict_render *how, unsigned status, const char *code,
	    const char *message)
{
	if (how->fail == NULL) {
		answer_error(s, resp, t0, status, code, message);
		return;
	}
	predict_service_count_failure(s, t0, status, code);
	how->fail(how->ctx, resp, status, message);
}

void
predict_service_answer(struct psvc *s, const struct rulsrv_request *req,
		       struct rulsrv_response *resp, const struct predict_request *r, double t0,
		       const struct predict_render *how)
{
	const struct rulsrv_api *api = s->api;
	float stack_rows[STACK_FLOATS], stack_out[STACK_ITEMS];
	struct rulsrv_prediction stack_items[STACK_ITEMS], *items = stack_items;
	struct rulsrv_prediction_batch batch;
	float *rows = stack_rows, *out = stack_out;
	const struct predict_engine *e;
	const char *content_type = "application/json";
	struct held_answer *held = malloc(sizeof(*held));
	char *body = NULL;
	size_t i, len = 0, nf = s->n_features;
	int rc = 0;

	if (r->count * nf > STACK_FLOATS)
		rows = malloc(r->count * nf * sizeof(*rows));
	if (r->count > STACK_ITEMS) {
		out = malloc(r->count * sizeof(*out));
		items = malloc(r->count * sizeof(*items));
	}
	if (rows == NULL || out == NULL || items == NULL || held == NULL) {
		fail_answer(s, resp, t0, how, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	for (i = 0; i < r->count && rc == 0; i++) {
		e = &r->engines[i];
		rc = features_last(s->bundle->features, e->inputs, e->cycles, e->n, rows + i * nf);
	}
	if (rc == 0)
		rc = s->ops->predict(s->model, rows, r->count, out);
	if (rc < 0) {
		fail_answer(s, resp, t0, how, 500, ERR_PREDICTION_FAILED, "prediction failed");
		goto out;
	}
	body = how->render(how->ctx, r, out, resp, &len, &content_type);
	if (body == NULL) {
		fail_answer(s, resp, t0, how, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	for (i = 0; i < r->count; i++) {
		e = &r->engines[i];
		items[i] = (struct rulsrv_prediction){
			.unit = e->unit,
			.cycle = e->cycles[e->n - 1],
			.rul = (double)out[i],
			/* rows of a parsed request are C-MAPSS rows (predict_request.h) */
			.inputs = e->inputs + (e->n - 1) * CMAPSS_N_INPUTS,
		};
		api->histogram_observe(s->rul_value, (double)out[i]);
	}
	batch = (struct rulsrv_prediction_batch){
		.model = s->bundle->name,
		.version = s->bundle->version,
		.timestamp = req->received_at,
		.input_count = s->input_count,
		.input_names = s->input_names,
		.count = r->count,
		.item_size = sizeof(*items),
		.items = items,
	};
	/* the answer once every observer that holds it (the prediction log) let it go: on this
	 * thread before notify_then returns when none did */
	*held = (struct held_answer){ .s = s, .resp = resp, .body = body, .len = len,
				      .content_type = content_type, .count = r->count, .t0 = t0,
				      .error_string = how->fail != NULL };
	api->response_defer(resp);
	api->observers_notify_then(s->host, &batch, answer_observed, held);
	held = NULL; /* answer_observed's */
out:
	free(held);
	if (rows != stack_rows)
		free(rows);
	if (out != stack_out)
		free(out);
	if (items != stack_items)
		free(items);
}

static void
handle_predict(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct psvc *s = ud;
	struct predict_request r;
	struct predict_error err;
	double t0 = clocks_monotonic();
	char msg[160];
	int rc;

	if (req->content_type == NULL || (strcmp(req->content_type, "application/json") != 0 &&
					  strcmp(req->content_type, "text/plain") != 0)) {
		snprintf(msg, sizeof(msg), "Content-Type must be application/json or text/plain, "
			 "got '%.64s'", req->content_type ? req->content_type : "none");
		answer_error(s, resp, t0, 415, ERR_UNSUPPORTED_MEDIA, msg);
		return;
	}
	predict_request_init(&r);
	if (req->content_type[0] == 'a')
		rc = predict_request_parse_json(req->body ? req->body : "", req->body_len, &s->lim,
						&r, &err);
	else
		rc = predict_request_parse_cmapss(req->body ? req->body : "", req->body_len,
						  &s->lim, &r, &err);
	if (rc < 0)
		answer_error(s, resp, t0, err.status, err.code, err.message);
	else
		predict_service_answer(s, req, resp, &r, t0,
				       &(struct predict_render){ render_predictions, s, NULL });
	predict_request_free(&r);
}

/* ---- GET /v1/models ---------------------------------------------------------------------- */

static void
handle_models(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct psvc *s = ud;
	char *body = malloc(s->models_len + 1);

	if (body == NULL) {
		s->api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	memcpy(body, s->models_body, s->models_len + 1);
	s->api->respond(resp, 200, "application/json", body, s->models_len);
}

static int
build_models_body(struct psvc *s)
{
	const struct bundle *b = s->bundle;
	cJSON *root, *arr, *m, *list;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "models");
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(arr, m);
	cJSON_AddStringToObject(m, "name", b->name);
	cJSON_AddStringToObject(m, "version", b->version);
	cJSON_AddStringToObject(m, "backend", s->ops->name);
	cJSON_AddStringToObject(m, "bundle", s->bundle_path);
	list = cJSON_AddArrayToObject(m, "features");
	for (i = 0; i < s->n_features; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(feature_spec_name(b->features, i)));
	cJSON_AddNumberToObject(m, "window", (double)feature_spec_window(b->features));
	list = cJSON_AddArrayToObject(m, "trained_on");
	for (i = 0; i < b->subset_count; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(b->subsets[i]));
	cJSON_AddNumberToObject(m, "rul_cap", b->rul_cap);
	cJSON_AddStringToObject(m, "loaded_at", when);
	if (b->evaluation != NULL)
		cJSON_AddItemToObject(m, "evaluation", cJSON_Duplicate(b->evaluation, true));
	s->models_body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (s->models_body == NULL)
		return -ENOMEM;
	s->models_len = strlen(s->models_body);
	return 0;
}

static int
build_prefix(struct psvc *s)
{
	cJSON *name = cJSON_CreateString(s->bundle->name);
	cJSON *version = cJSON_CreateString(s->bundle->version);
	char *n = cJSON_PrintUnformatted(name), *v = cJSON_PrintUnformatted(version);
	int rc = -ENOMEM;

	if (n != NULL && v != NULL &&
	    asprintf(&s->prefix, "{\"model\":%s,\"version\":%s,\"predictions\":[", n, v) >= 0) {
		s->prefix_len = strlen(s->prefix);
		rc = 0;
	}
	cJSON_Delete(name);
	cJSON_Delete(version);
	free(n);
	free(v);
	return rc;
}

/* ---- metrics ----------------------------------------------------------------------------- */

/* The child of family m for the served model and, unless NULL, one more label value. */
static struct rulsrv_series *
model_series(const struct psvc *s, struct rulsrv_metric *m, const char *value)
{
	const char *const values[] = { s->bundle->name, value };

	return s->api->series(m, values);
}

static bool
all_made(struct rulsrv_series *const *series, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (series[i] == NULL)
			return false;
	return true;
}

/*
 * The families in one table, then every series the request path touches, so the hot path
 * never looks one up and every status and error reason shows as 0 from the start (all their
 * label values are known here). model_info counts the live instances of a (model, version,
 * backend): +1 at the end of init, -1 in fini. The registry outlives reloads, so a swap to a
 * new version leaves the old series at 0 once the old instance is released (briefly both
 * read 1 while old requests drain), and a reload of the same version reads 1.
 */
static int
register_metrics(struct psvc *s)
{
	static const char *const l_model_code[] = { "model", "code", NULL };
	static const char *const l_model_reason[] = { "model", "reason", NULL };
	static const char *const l_model[] = { "model", NULL };
	static const char *const l_info[] = { "model", "version", "backend", NULL };
	struct rulsrv_metric *requests, *errors, *predictions, *latency, *rul, *info;
	const struct rulsrv_metric_def defs[] = {
		{ .name = "prediction_requests_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "HTTP requests to /v1/predict", .labels = l_model_code,
		  .out = &requests },
		{ .name = "prediction_errors_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "Rejected or failed prediction requests", .labels = l_model_reason,
		  .out = &errors },
		{ .name = "predictions_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "Engines predicted (a batch counts each)", .labels = l_model,
		  .out = &predictions },
		{ .name = "prediction_latency_seconds", .type = RULSRV_METRIC_HISTOGRAM,
		  .help = "Prediction request handling time", .labels = l_model,
		  .buckets = latency_buckets, .bucket_count = ARRAY_LEN(latency_buckets),
		  .out = &latency },
		{ .name = "rul_prediction_value", .type = RULSRV_METRIC_HISTOGRAM,
		  .help = "Predicted remaining useful life in cycles", .labels = l_model,
		  .buckets = rul_buckets, .bucket_count = ARRAY_LEN(rul_buckets), .out = &rul },
		{ .name = "model_info", .type = RULSRV_METRIC_GAUGE,
		  .help = "The model being served (1)", .labels = l_info, .out = &info },
	};
	const char *const info_values[] = { s->bundle->name, s->bundle->version, s->ops->name };
	size_t i;
	int rc;

	rc = s->api->metrics_register(s->host, defs, ARRAY_LEN(defs));
	if (rc < 0)
		return rc;
	for (i = 0; i < N_STATUS; i++)
		s->requests[i] = model_series(s, requests, status_labels[i]);
	for (i = 0; i < N_REASONS; i++)
		s->errors[i] = model_series(s, errors, reasons[i]);
	s->predictions = model_series(s, predictions, NULL);
	s->latency = model_series(s, latency, NULL);
	s->rul_value = model_series(s, rul, NULL);
	s->info = s->api->series(info, info_values);
	/* series() fails only out of memory, and a failed one leaves the others harmless */
	if (!all_made(s->requests, N_STATUS) || !all_made(s->errors, N_REASONS) ||
	    s->predictions == NULL || s->latency == NULL || s->rul_value == NULL ||
	    s->info == NULL)
		return -ENOMEM;
	return 0;
}

/* ---- plugin callbacks ------------------------------------------------------------------- */

void
predict_service_fini(void *state)
{
	struct psvc *s = state;

	if (s == NULL)
		return;
	if (s->info_counted)
		s->api->gauge_add(s->info, -1);
	v2_service_free(s->v2);
	fleet_service_fini(s->fleet);
	if (s->model != NULL)
		s->ops->free_model(s->model);
	bundle_free(s->bundle);
	free(s->bundle_path);
	free(s->prefix);
	free(s->models_body);
	free(s);
}

bool
predict_service_ready(void *state, char *reason, size_t reason_len)
{
	struct psvc *s = state;

	if (s != NULL && atomic_load(&s->ready))
		return true;
	snprintf(reason, reason_len, "model not loaded");
	return false;
}

/* One engine of zeros through the whole pipeline: the model must answer a finite number. */
static int
warm_up(struct psvc *s, char *err, size_t err_len)
{
	double inputs[CMAPSS_N_INPUTS] = { 0 }; /* one row of zeros, as features_last reads it */
	int64_t cycle = 1;
	float *row, out = NAN;
	int rc;

	row = calloc(s->n_features ? s->n_features : 1, sizeof(*row));
	if (row == NULL)
		return -ENOMEM;
	rc = features_last(s->bundle->features, inputs, &cycle, 1, row);
	if (rc == 0)
		rc = s->ops->predict(s->model, row, 1, &out);
	free(row);
	if (rc < 0)
		snprintf(err, err_len, "warm-up prediction failed: error %d", rc);
	else if (!isfinite(out)) {
		snprintf(err, err_len, "warm-up prediction is not finite");
		rc = -EINVAL;
	}
	return rc;
}

static int
read_settings(struct psvc *s, const struct rulsrv_settings *settings)
{
	const struct rulsrv_api *api = s->api;
	int64_t v;
	int rc;

	rc = api->setting_path(settings, "bundle", NULL, &s->bundle_path);
	if (rc < 0)
		return rc;
	if (s->bundle_path == NULL) {
		api->setting_error(settings, "bundle", "is required (the model bundle directory)");
		return -EINVAL;
	}
	rc = api->setting_int(settings, "max_instances", 1024, 1, 1000000, &v);
	if (rc < 0)
		return rc;
	s->lim.max_instances = (size_t)v;
	rc = api->setting_int(settings, "max_cycles", 1024, 1, 1000000, &v);
	if (rc < 0)
		return rc;
	s->lim.max_cycles = (size_t)v;
	return 0;
}

/*
 * The bundle says which raw inputs a record carries; the request parser and the feature
 * pipeline read C-MAPSS rows, so a bundle that declares others cannot be served.
 */
static int
check_inputs(struct psvc *s, char *err, size_t err_len)
{
	s->input_count = bundle_input_count(s->bundle);
	s->input_names = bundle_input_names(s->bundle);
	if (s->input_count != CMAPSS_N_INPUTS) {
		snprintf(err, err_len, "it declares %zu inputs, the request parser reads %d",
			 s->input_count, CMAPSS_N_INPUTS);
		return -EINVAL;
	}
	return 0;
}

static int
load_model(struct psvc *s)
{
	char err[512];
	int rc;

	rc = bundle_load(s->bundle_path, &s->bundle, err, sizeof(err));
	if (rc == 0)
		rc = check_inputs(s, err, sizeof(err));
	if (rc == 0) {
		s->n_features = feature_spec_count(s->bundle->features);
		rc = s->ops->load(s->bundle->model_path, s->n_features, &s->model, err,
				  sizeof(err));
	}
	if (rc == 0)
		rc = warm_up(s, err, sizeof(err));
	if (rc < 0)
		s->api->log(s->host, RULSRV_LOG_ERR, "cannot load model bundle '%s': %s",
			    s->bundle_path, err);
	return rc;
}

static int
build_bodies(struct psvc *s)
{
	if (build_prefix(s) < 0 || build_models_body(s) < 0)
		return -ENOMEM;
	return 0;
}

static int
add_routes(struct psvc *s)
{
	const struct rulsrv_api *api = s->api;
	int rc;

	rc = api->route_add(s->host, "POST", "/v1/predict", 0, handle_predict, s);
	if (rc < 0)
		return rc;
	rc = api->route_refusals(s->host, "POST", "/v1/predict", count_refusal, s);
	if (rc < 0)
		return rc;
	rc = api->route_add(s->host, "GET", "/v1/models", 0, handle_models, s);
	if (rc < 0)
		return rc;
	return v2_service_add(s->host, api, s, &(struct v2_model){
		.name = s->bundle->name, .version = s->bundle->version,
		.platform = s->ops->name, .lim = s->lim, .ready = &s->ready,
		.refusal = count_refusal,
	}, &s->v2);
}

/* For the other plugins of the service (drift_psi, feedback): what is served, from where. */
static int
publish_attributes(struct psvc *s)
{
	const struct rulsrv_api *api = s->api;
	int rc;

	rc = api->attribute_set(s->host, "model.bundle", s->bundle_path);
	if (rc < 0)
		return rc;
	rc = api->attribute_set(s->host, "model.name", s->bundle->name);
	if (rc < 0)
		return rc;
	return api->attribute_set(s->host, "model.version", s->bundle->version);
}

/* Fleet mode (plugins/predict/fleet_service.h), when the settings turn it on. */
static int
start_fleet(struct psvc *s, const struct rulsrv_settings *settings)
{
	const struct fleet_model m = {
		.api = s->api,
		.host = s->host,
		.features = s->bundle->features,
		.n_features = s->n_features,
		.window = feature_spec_window(s->bundle->features),
		.ops = s->ops,
		.model = s->model,
		.name = s->bundle->name,
		.version = s->bundle->version,
		.input_count = s->input_count,
		.input_names = s->input_names,
		.max_cycles_per_request = s->lim.max_instances,
		.predictions = s->predictions,
		.rul_value = s->rul_value,
	};

	return fleet_service_init(&m, settings, &s->fleet);
}

/* Everything after the model loaded fails only out of memory or on a name already taken. */
static int
start_serving(struct psvc *s, const struct rulsrv_settings *settings)
{
	int rc;

	rc = build_bodies(s);
	if (rc < 0)
		goto say_why;
	rc = register_metrics(s);
	if (rc < 0)
		goto say_why;
	rc = add_routes(s);
	if (rc < 0)
		goto say_why;
	rc = publish_attributes(s);
	if (rc < 0)
		goto say_why;
	return start_fleet(s, settings);
say_why:
	if (rc == -ENOMEM || rc == -EEXIST)
		s->api->log(s->host, RULSRV_LOG_ERR, "cannot start the prediction service: %s",
			    rc == -EEXIST ? "route or metric already taken" : "out of memory");
	return rc;
}

int
predict_service_init(struct rulsrv_host *host, const struct rulsrv_api *api,
		     const struct rulsrv_settings *settings,
		     const struct predict_backend_ops *ops, void **state)
{
	struct psvc *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->host = host;
	s->api = api;
	s->ops = ops;
	atomic_init(&s->ready, false);
	rc = read_settings(s, settings);
	if (rc < 0)
		goto free_state;
	rc = load_model(s);
	if (rc < 0)
		goto free_state;
	rc = start_serving(s, settings);
	if (rc < 0)
		goto free_state;
	api->gauge_add(s->info, 1);
	s->info_counted = true;
	atomic_store(&s->ready, true);
	api->log(host, RULSRV_LOG_INFO, "serving model '%s' version '%s' (%zu features, %s) from '%s'",
		 s->bundle->name, s->bundle->version, s->n_features, ops->name, s->bundle_path);
	*state = s;
	return 0;
free_state:
	predict_service_fini(s);
	return rc;
}
