/* SPDX-License-Identifier: MIT */
/* drift_http.c - GET /v1/drift and POST /v1/drift/window (docs/API.md). */
#include "drift.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "utf8.h"

/* Bins of one input that ?feature= shows (the reference has at most 32: see drift.h). */
#define DRIFT_FEATURE_BINS_MAX 64

/* What the handlers copy out of the instance under its lock, to build JSON outside it. */
struct drift_view {
	uint64_t index;
	char label[DRIFT_LABEL_MAX];
	double start;
	struct drift_eval eval;
	bool have_last;
	struct drift_closed last;
};

static void
drift_iso8601(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
drift_json_time(cJSON *o, const char *name, double t)
{
	char key[48], iso[32];

	drift_iso8601(t, iso, sizeof(iso));
	cJSON_AddStringToObject(o, name, iso);
	snprintf(key, sizeof(key), "%s_timestamp", name);
	cJSON_AddNumberToObject(o, key, t);
}

/* PSI per input, the status and the largest PSI of one window. */
static void
drift_json_eval(cJSON *o, const struct drift_eval *e)
{
	cJSON *features = cJSON_AddArrayToObject(o, "features");
	size_t f;

	cJSON_AddNumberToObject(o, "observations", (double)e->observations);
	cJSON_AddStringToObject(o, "status", drift_status_name(e->status));
	cJSON_AddNumberToObject(o, "psi_max", e->psi_max);
	if (isnan(e->psi_max))
		cJSON_AddNullToObject(o, "max_feature");
	else
		cJSON_AddStringToObject(o, "max_feature", cmapss_input_name(e->max_feature));
	for (f = 0; f < CMAPSS_N_INPUTS && features != NULL; f++) {
		cJSON *item = cJSON_CreateObject();

		if (item == NULL)
			break;
		cJSON_AddStringToObject(item, "name", cmapss_input_name(f));
		cJSON_AddNumberToObject(item, "psi", e->psi[f]);
		cJSON_AddStringToObject(item, "status", drift_status_name(e->feature_status[f]));
		cJSON_AddItemToArray(features, item);
	}
}

static cJSON *
drift_json_closed(const struct drift_closed *c)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "index", (double)c->index);
	cJSON_AddStringToObject(o, "label", c->label);
	drift_json_time(o, "start", c->start);
	drift_json_time(o, "end", c->end);
	drift_json_eval(o, &c->eval);
	return o;
}

static cJSON *
drift_json_window(const struct drift *d, const struct drift_view *v)
{
	static const char *const modes[] = { "count", "time", "manual" };
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "index", (double)v->index);
	cJSON_AddStringToObject(o, "label", v->label);
	cJSON_AddNumberToObject(o, "observations", (double)v->eval.observations);
	drift_json_time(o, "start", v->start);
	cJSON_AddStringToObject(o, "mode", modes[d->mode]);
	if (d->mode == DRIFT_MODE_COUNT)
		cJSON_AddNumberToObject(o, "size", (double)d->window_size);
	if (d->mode == DRIFT_MODE_TIME)
		cJSON_AddNumberToObject(o, "seconds", d->window_seconds);
	return o;
}

static cJSON *
drift_json_reference(const struct drift *d)
{
	const struct bundle *b = d->ref.bundle;
	cJSON *o = cJSON_CreateObject();
	cJSON *subsets;
	size_t i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "bundle", b->dir);
	cJSON_AddStringToObject(o, "name", b->name);
	cJSON_AddStringToObject(o, "version", b->version);
	subsets = cJSON_AddArrayToObject(o, "trained_on");
	for (i = 0; i < b->subset_count && subsets != NULL; i++)
		cJSON_AddItemToArray(subsets, cJSON_CreateString(b->subsets[i]));
	return o;
}

static cJSON *
drift_json_state(const struct drift *d, const struct drift_view *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *th;

	if (o == NULL)
		return NULL;
	cJSON_AddItemToObject(o, "reference", drift_json_reference(d));
	cJSON_AddItemToObject(o, "window", drift_json_window(d, v));
	th = cJSON_AddObjectToObject(o, "thresholds");
	if (th != NULL) {
		cJSON_AddNumberToObject(th, "warn", d->params.warn);
		cJSON_AddNumberToObject(th, "drift", d->params.drift);
	}
	cJSON_AddNumberToObject(o, "min_observations", (double)d->params.min_observations);
	cJSON_AddNumberToObject(o, "epsilon", d->params.epsilon);
	drift_json_eval(o, &v->eval);
	if (v->have_last)
		cJSON_AddItemToObject(o, "last_window", drift_json_closed(&v->last));
	else
		cJSON_AddNullToObject(o, "last_window");
	return o;
}

static void
drift_respond_json(struct drift *d, struct rulsrv_response *resp, cJSON *o)
{
	char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (text == NULL) {
		d->api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	d->api->respond(resp, 200, "application/json", text, strlen(text));
}

/* Evaluate under the lock (which also refreshes the gauges), copy, and let go. */
static void
drift_view_take_locked(struct drift *d, struct drift_view *v)
{
	v->index = d->index;
	memcpy(v->label, d->label, sizeof(v->label));
	v->start = d->start;
	v->have_last = d->have_last;
	if (d->have_last)
		v->last = d->last;
}

/* The input named name, or CMAPSS_N_INPUTS. */
static size_t
drift_input_index(const char *name)
{
	size_t f;

	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		if (strcmp(cmapss_input_name(f), name) == 0)
			break;
	return f;
}

/*
 * ?feature=NAME: that input's bins, the reference proportion of each beside the current
 * window's (what its PSI compares), for a chart of one input. counts: the input's n bins.
 */
static void
drift_json_bins(cJSON *o, const struct drift *d, size_t f, const uint64_t *counts,
		size_t n)
{
	const struct drift_feature_ref *fr = &d->ref.bundle->drift[f];
	cJSON *bins, *fb = cJSON_AddObjectToObject(o, "feature_bins");
	uint64_t total = 0;
	size_t b;

	if (fb == NULL)
		return;
	for (b = 0; b < n; b++)
		total += counts[b];
	cJSON_AddStringToObject(fb, "name", cmapss_input_name(f));
	cJSON_AddNumberToObject(fb, "observations", (double)total);
	bins = cJSON_AddArrayToObject(fb, "bins");
	for (b = 0; b < n && bins != NULL; b++) {
		cJSON *item = cJSON_CreateObject();

		if (item == NULL)
			break;
		cJSON_AddStringToObject(item, "le", d->ref.bin_label[d->ref.offset[f] + b]);
		cJSON_AddNumberToObject(item, "reference", fr->expected[b]);
		if (total > 0)
			cJSON_AddNumberToObject(item, "current", (double)counts[b] / (double)total);
		else
			cJSON_AddNullToObject(item, "current");
		cJSON_AddItemToArray(bins, item);
	}
}

static void
drift_get(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct drift *d = ud;
	const char *feature = d->api->request_arg(req, "feature");
	size_t f = CMAPSS_N_INPUTS, bins = 0;
	uint64_t counts[DRIFT_FEATURE_BINS_MAX];
	struct drift_view v;
	cJSON *o;

	if (feature != NULL) {
		f = drift_input_index(feature);
		if (f == CMAPSS_N_INPUTS) {
			d->api->respond_error(resp, 422, "invalid_request",
					      "feature: no input named '%.64s'", feature);
			return;
		}
		bins = d->ref.bundle->drift[f].bin_count;
		if (bins > DRIFT_FEATURE_BINS_MAX)
			bins = DRIFT_FEATURE_BINS_MAX;
	}
	pthread_mutex_lock(&d->lock);
	drift_refresh_locked(d, &v.eval); /* leaves the current window's counts in scratch */
	drift_view_take_locked(d, &v);
	if (bins > 0)
		memcpy(counts, d->scratch + d->ref.offset[f], bins * sizeof(counts[0]));
	pthread_mutex_unlock(&d->lock);
	o = drift_json_state(d, &v);
	if (o != NULL && bins > 0)
		drift_json_bins(o, d, f, counts, bins);
	drift_respond_json(d, resp, o);
}

/*
 * The body of POST /v1/drift/window: empty, or {"label": "..."}. Returns the HTTP status of
 * the error (0 when the body is fine) with *label pointing into *json, or NULL.
 */
static unsigned
drift_parse_window_body(struct drift *d, const struct rulsrv_request *req,
			struct rulsrv_response *resp, cJSON **json, const char **label)
{
	const char *end = NULL;
	const cJSON *item;
	size_t i;

	*json = NULL;
	*label = NULL;
	for (i = 0; i < req->body_len && strchr(" \t\r\n", req->body[i]) != NULL; i++)
		;
	if (i == req->body_len)
		return 0;
	if (req->content_type != NULL && strcmp(req->content_type, "application/json") != 0) {
		d->api->respond_error(resp, 415, "unsupported_media_type",
				      "expected application/json, got %s", req->content_type);
		return 415;
	}
	if (memchr(req->body, '\0', req->body_len) == NULL)
		*json = cJSON_ParseWithLengthOpts(req->body, req->body_len + 1, &end, 1);
	if (*json == NULL) {
		d->api->respond_error(resp, 400, "malformed_json", "body: malformed JSON at byte %zu",
				      end != NULL ? (size_t)(end - req->body) : req->body_len);
		return 400;
	}
	if (!cJSON_IsObject(*json)) {
		d->api->respond_error(resp, 422, "invalid_request", "body: expected an object");
		return 422;
	}
	cJSON_ArrayForEach(item, *json) {
		if (strcmp(item->string, "label") != 0) {
			d->api->respond_error(resp, 422, "invalid_request",
					      "%s: unknown member (expected \"label\")", item->string);
			return 422;
		}
		if (item != (*json)->child) { /* cJSON keeps both and finds the first */
			d->api->respond_error(resp, 422, "invalid_request", "label: duplicate member");
			return 422;
		}
	}
	item = cJSON_GetObjectItemCaseSensitive(*json, "label");
	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
	    strlen(item->valuestring) >= DRIFT_LABEL_MAX) {
		d->api->respond_error(resp, 422, "invalid_request",
				      "label: expected a string of 1 to %d bytes",
				      DRIFT_LABEL_MAX - 1);
		return 422;
	}
	for (i = 0; item->valuestring[i] != '\0'; i++) {
		if ((unsigned char)item->valuestring[i] < 0x20 || item->valuestring[i] == 0x7f) {
			d->api->respond_error(resp, 422, "invalid_request",
					      "label: control character at byte %zu", i);
			return 422;
		}
	}
	/* the label becomes a Prometheus label value and JSON text: UTF-8 only */
	if (!utf8_valid(item->valuestring, strlen(item->valuestring))) {
		d->api->respond_error(resp, 422, "invalid_request", "label: not valid UTF-8");
		return 422;
	}
	*label = item->valuestring;
	return 0;
}

static void
drift_post_window(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct drift *d = ud;
	struct drift_closed closed;
	struct drift_view v;
	const char *label;
	cJSON *json, *o;

	if (drift_parse_window_body(d, req, resp, &json, &label) != 0) {
		cJSON_Delete(json);
		return;
	}
	pthread_mutex_lock(&d->lock);
	drift_roll_locked(d, label, &closed);
	drift_refresh_locked(d, &v.eval);
	drift_view_take_locked(d, &v);
	pthread_mutex_unlock(&d->lock);
	cJSON_Delete(json);
	o = cJSON_CreateObject();
	if (o != NULL) {
		cJSON_AddItemToObject(o, "closed", drift_json_closed(&closed));
		cJSON_AddItemToObject(o, "window", drift_json_window(d, &v));
	}
	drift_respond_json(d, resp, o);
}

int
drift_http_init(struct drift *d)
{
	int r;

	r = d->api->route_add(d->host, "GET", "/v1/drift", 0, drift_get, d);
	if (r == 0)
		r = d->api->route_add(d->host, "POST", "/v1/drift/window", RULSRV_ROUTE_ADMIN,
				      drift_post_window, d);
	return r;
}
