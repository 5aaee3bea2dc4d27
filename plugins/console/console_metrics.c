/* SPDX-License-Identifier: MIT */
/* console_metrics.c - GET /console/metrics.json: the families the page draws, as JSON. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "console.h"

/*
 * The page works out request rates and latency from two readings of the same counters, as
 * rate() does: so it reads the registry itself, not /metrics (which is there only with the
 * export_prometheus plugin, and in a text format). Only the families the page shows: the
 * drift bins alone would be hundreds of samples.
 */
static const char *const console_families[] = {
	"prediction_requests_total", "predictions_total", "prediction_errors_total",
	"prediction_latency_seconds", "model_info", "fleet_engines", "fleet_cycles_total",
	"fleet_engines_below_rul", "rulsrv_config_last_reload_successful",
};

struct console_walk {
	cJSON *families;
	cJSON *samples; /* of the family being walked; NULL when it is not one of the page's */
	int error;
};

static bool
console_wanted(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(console_families) / sizeof(console_families[0]); i++)
		if (strcmp(console_families[i], name) == 0)
			return true;
	return false;
}

/* JSON has no NaN or infinity: null */
static cJSON *
console_number(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int
console_family(struct console_walk *w, const struct rulsrv_family_info *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	cJSON *o, *labels, *bounds;
	size_t i;

	w->samples = NULL;
	if (!console_wanted(f->name))
		return 0;
	o = cJSON_CreateObject();
	if (o == NULL)
		return -ENOMEM;
	cJSON_AddItemToArray(w->families, o);
	cJSON_AddStringToObject(o, "name", f->name);
	cJSON_AddStringToObject(o, "type", types[f->type]);
	labels = cJSON_AddArrayToObject(o, "labels");
	for (i = 0; i < f->label_count && labels != NULL; i++)
		cJSON_AddItemToArray(labels, cJSON_CreateString(f->label_names[i]));
	if (f->type == RULSRV_METRIC_HISTOGRAM) {
		bounds = cJSON_AddArrayToObject(o, "bounds");
		for (i = 0; i < f->bucket_count && bounds != NULL; i++)
			cJSON_AddItemToArray(bounds, console_number(f->bounds[i]));
	}
	w->samples = cJSON_AddArrayToObject(o, "samples");
	return w->samples != NULL ? 0 : -ENOMEM;
}

static int
console_sample(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct console_walk *w = ud;
	cJSON *o, *labels, *buckets;
	size_t i;

	if (s == NULL)
		return console_family(w, f);
	if (w->samples == NULL)
		return 0;
	o = cJSON_CreateObject();
	if (o == NULL)
		return -ENOMEM;
	cJSON_AddItemToArray(w->samples, o);
	labels = cJSON_AddObjectToObject(o, "labels");
	for (i = 0; i < f->label_count && labels != NULL; i++)
		cJSON_AddStringToObject(labels, f->label_names[i], s->label_values[i]);
	if (f->type != RULSRV_METRIC_HISTOGRAM) {
		cJSON_AddItemToObject(o, "value", console_number(s->value));
		return 0;
	}
	buckets = cJSON_AddArrayToObject(o, "buckets"); /* cumulative, +Inf last */
	for (i = 0; i <= f->bucket_count && buckets != NULL; i++)
		cJSON_AddItemToArray(buckets, cJSON_CreateNumber((double)s->buckets[i]));
	cJSON_AddItemToObject(o, "sum", console_number(s->sum));
	cJSON_AddNumberToObject(o, "count", (double)s->count);
	return 0;
}

void
console_metrics(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct console *c = ud;
	struct console_walk w = { 0 };
	struct timespec now;
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int r = -ENOMEM;

	(void)req;
	clock_gettime(CLOCK_REALTIME, &now);
	if (root != NULL) {
		cJSON_AddNumberToObject(root, "time", (double)now.tv_sec + now.tv_nsec / 1e9);
		/* whether /console/feedback/stats has a service to ask */
		cJSON_AddBoolToObject(root, "feedback", c->feedback_url[0] != 0);
		w.families = cJSON_AddArrayToObject(root, "families");
	}
	if (w.families != NULL)
		r = c->api->metrics_collect(c->host, console_sample, &w);
	if (r == 0)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL) {
		c->api->respond_error(resp, 503, "out_of_memory", "cannot read the metrics: error %d",
				      r);
		return;
	}
	c->api->respond_header(resp, "Cache-Control", "no-store");
	c->api->respond(resp, 200, "application/json", text, strlen(text));
}
