/* SPDX-License-Identifier: MIT */
/* fake_host.h - a recording host table over the real metric registry, for plugin unit tests.
 * Included by one test file each (all static); not a suite itself. It keeps what a plugin
 * does (routes, observers, attributes, the last log lines, the last observed batch) in
 * struct rulsrv_host for the test to look at, and drives nothing itself. */
#ifndef RULSRV_TEST_FAKE_HOST_H
#define RULSRV_TEST_FAKE_HOST_H

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rulsrv/plugin.h>

#include "cmapss.h"
#include "metrics.h"

#define FAKE_UNUSED __attribute__((unused))
#define FAKE_MAX_SETTINGS 16
#define FAKE_MAX_ROUTES 16
#define FAKE_MAX_OBSERVERS 16
#define FAKE_MAX_ATTRIBUTES 8
#define FAKE_MAX_TIMERS 8

/* Settings as name/value strings; every one given must be read by init. */
struct rulsrv_settings {
	const char *names[FAKE_MAX_SETTINGS];
	const char *values[FAKE_MAX_SETTINGS];
	bool read[FAKE_MAX_SETTINGS];
	int errors;
};

struct fake_route {
	const char *method, *path;
	unsigned flags;
	rulsrv_handler_fn fn;
	void *ud;
	rulsrv_refusal_fn refusal; /* route_refusals (ABI 1.1): call it as the core would */
	void *refusal_ud;
};

/* Zero it, then set registry (and instance for a name other than "test"). */
struct rulsrv_host {
	struct metrics_registry *registry;
	char instance[32]; /* instance_name(); "test" when empty */
	struct fake_route routes[FAKE_MAX_ROUTES];
	size_t route_count;
	rulsrv_observer_fn observers[FAKE_MAX_OBSERVERS];
	void *observer_ud[FAKE_MAX_OBSERVERS];
	size_t observer_count;
	char attr_key[FAKE_MAX_ATTRIBUTES][32], attr_value[FAKE_MAX_ATTRIBUTES][512];
	size_t attr_count;
	/* timer_add: kept for the test to fire with fake_timers_fire */
	rulsrv_timer_fn timers[FAKE_MAX_TIMERS];
	void *timer_ud[FAKE_MAX_TIMERS];
	double timer_interval[FAKE_MAX_TIMERS];
	size_t timer_count;
	char last_log[1024];     /* the last line logged, any level */
	char last_warning[1024]; /* the last at warning or worse */
	char last_error[1024];   /* the last at error or worse */
	/* observers_notify: the size of the last batch and its last prediction */
	size_t observed;
	int64_t obs_unit, obs_cycle;
	double obs_rul, obs_inputs[CMAPSS_N_INPUTS];
};

/*
 * respond_error leaves body NULL and keeps code and message apart for the test to compare.
 * A deferred response is answered from another thread: fake_response_wait waits for it.
 * Zero it before use (glibc's zeroed mutex and condition variable are initialised ones), or
 * call fake_response_init.
 */
struct rulsrv_response {
	pthread_mutex_t lock;
	pthread_cond_t answered_cv;
	bool deferred, answered;
	unsigned status;
	char content_type[128];
	char *body;
	size_t len;
	char code[64];
	char message[512];
	char headers[256]; /* "Name: value\n" each, as respond_header added them */
};

/* Warnings and worse also go to stderr, where a failing test's reader looks. */
static void FAKE_UNUSED
fake_log(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(host->last_log, sizeof(host->last_log), fmt, ap);
	va_end(ap);
	if (level <= RULSRV_LOG_ERR)
		memcpy(host->last_error, host->last_log, sizeof(host->last_error));
	if (level <= RULSRV_LOG_WARNING) {
		memcpy(host->last_warning, host->last_log, sizeof(host->last_warning));
		fprintf(stderr, "fake host <%d> %s\n", (int)level, host->last_log);
	}
}

static void FAKE_UNUSED
fake_setting_error(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
{
	va_list ap;

	((struct rulsrv_settings *)s)->errors++;
	va_start(ap, fmt);
	fprintf(stderr, "fake host: setting '%s': ", name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *
fake_setting(const struct rulsrv_settings *cs, const char *name)
{
	struct rulsrv_settings *s = (struct rulsrv_settings *)cs;
	int i;

	for (i = 0; s != NULL && i < FAKE_MAX_SETTINGS && s->names[i] != NULL; i++) {
		if (strcmp(s->names[i], name) == 0) {
			s->read[i] = true;
			return s->values[i];
		}
	}
	return NULL;
}

/* Fill s from kv: NULL-terminated name, value pairs (borrowed; at most FAKE_MAX_SETTINGS). */
static void FAKE_UNUSED
fake_settings_set(struct rulsrv_settings *s, const char *const *kv)
{
	size_t i;

	for (i = 0; kv != NULL && kv[2 * i] != NULL && i < FAKE_MAX_SETTINGS; i++) {
		s->names[i] = kv[2 * i];
		s->values[i] = kv[2 * i + 1];
	}
}

static int FAKE_UNUSED
fake_setting_string(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	const char *v = fake_setting(s, name);

	if (v == NULL)
		v = def;
	*out = v != NULL ? strdup(v) : NULL;
	return v != NULL && *out == NULL ? -ENOMEM : 0;
}

static int FAKE_UNUSED
fake_setting_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min,
		 int64_t max, int64_t *out)
{
	const char *v = fake_setting(s, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	*out = strtoll(v, &end, 10);
	if (*end != '\0' || *out < min || *out > max) {
		fake_setting_error(s, name, "out of range");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_setting_double(const struct rulsrv_settings *s, const char *name, double def, double min,
		    double max, double *out)
{
	const char *v = fake_setting(s, name);

	*out = v != NULL ? strtod(v, NULL) : def;
	if (*out < min || *out > max) {
		fake_setting_error(s, name, "out of range");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_setting_bool(const struct rulsrv_settings *s, const char *name, bool def, bool *out)
{
	const char *v = fake_setting(s, name);

	*out = v != NULL ? strcmp(v, "true") == 0 : def;
	if (v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		fake_setting_error(s, name, "not a bool");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_metric_new(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
		const char *help, const char *const *labels, const double *buckets,
		size_t bucket_count, struct rulsrv_metric **out)
{
	return metrics_family(host->registry, type, name, help, labels, buckets, bucket_count, out);
}

static int FAKE_UNUSED
fake_metrics_register(struct rulsrv_host *host, const struct rulsrv_metric_def *defs, size_t n)
{
	return metrics_register(host->registry, defs, n);
}

static int FAKE_UNUSED
fake_timer_add(struct rulsrv_host *host, double interval_s, rulsrv_timer_fn fn, void *ud)
{
	if (!(interval_s >= 0.01 && interval_s <= 86400) || fn == NULL)
		return -EINVAL;
	if (host->timer_count == FAKE_MAX_TIMERS)
		return -ENOSPC;
	host->timers[host->timer_count] = fn;
	host->timer_ud[host->timer_count] = ud;
	host->timer_interval[host->timer_count++] = interval_s;
	return 0;
}

/* Run every timer once, in the order added, as the core's timer thread would at its tick. */
static void FAKE_UNUSED
fake_timers_fire(struct rulsrv_host *host)
{
	size_t i;

	for (i = 0; i < host->timer_count; i++)
		host->timers[i](host->timer_ud[i]);
}

static int FAKE_UNUSED
fake_metrics_collect(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud)
{
	return metrics_collect(host->registry, fn, ud);
}

/* The route of method and path, or NULL. */
static FAKE_UNUSED struct fake_route *
fake_route_find(struct rulsrv_host *host, const char *method, const char *path)
{
	size_t i;

	for (i = 0; i < host->route_count; i++)
		if (strcmp(host->routes[i].method, method) == 0 &&
		    strcmp(host->routes[i].path, path) == 0)
			return &host->routes[i];
	return NULL;
}

static int FAKE_UNUSED
fake_route_add(struct rulsrv_host *host, const char *method, const char *path, unsigned flags,
	       rulsrv_handler_fn fn, void *ud)
{
	if (fake_route_find(host, method, path) != NULL)
		return -EEXIST;
	if (host->route_count == FAKE_MAX_ROUTES)
		return -ENOSPC;
	host->routes[host->route_count++] = (struct fake_route){ .method = method, .path = path,
								 .flags = flags, .fn = fn, .ud = ud };
	return 0;
}

static int FAKE_UNUSED
fake_route_refusals(struct rulsrv_host *host, const char *method, const char *path,
		    rulsrv_refusal_fn fn, void *ud)
{
	struct fake_route *r = fake_route_find(host, method, path);

	if (r == NULL)
		return -ENOENT;
	r->refusal = fn;
	r->refusal_ud = ud;
	return 0;
}

static void FAKE_UNUSED
fake_response_init(struct rulsrv_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	pthread_mutex_init(&resp->lock, NULL);
	pthread_cond_init(&resp->answered_cv, NULL);
}

static void
fake_answered(struct rulsrv_response *resp)
{
	pthread_mutex_lock(&resp->lock);
	resp->answered = true;
	pthread_cond_broadcast(&resp->answered_cv);
	pthread_mutex_unlock(&resp->lock);
}

/* Wait until resp is answered (deferred answers come from another thread); false after 10 s. */
static bool FAKE_UNUSED
fake_response_wait(struct rulsrv_response *resp)
{
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&resp->lock);
	while (!resp->answered)
		if (pthread_cond_timedwait(&resp->answered_cv, &resp->lock, &until) != 0)
			break;
	done = resp->answered;
	pthread_mutex_unlock(&resp->lock);
	return done;
}

static int FAKE_UNUSED
fake_response_defer(struct rulsrv_response *resp)
{
	if (resp->deferred || resp->answered)
		return -EALREADY;
	resp->deferred = true;
	return 0;
}

static void FAKE_UNUSED
fake_respond(struct rulsrv_response *resp, unsigned status, const char *content_type, char *body,
	     size_t len)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
	free(resp->body);
	resp->body = body;
	resp->len = len;
	fake_answered(resp);
}

static void FAKE_UNUSED
fake_respond_error(struct rulsrv_response *resp, unsigned status, const char *code,
		   const char *fmt, ...)
{
	va_list ap;

	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "application/json");
	snprintf(resp->code, sizeof(resp->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
	va_end(ap);
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	fake_answered(resp);
}

static int FAKE_UNUSED
fake_observer_add(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud)
{
	if (host->observer_count == FAKE_MAX_OBSERVERS)
		return -ENOSPC;
	host->observers[host->observer_count] = fn;
	host->observer_ud[host->observer_count++] = ud;
	return 0;
}

/* Record the batch (its size, its last prediction), then pass it to every observer. */
static void FAKE_UNUSED
fake_observers_notify(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b)
{
	const struct rulsrv_prediction *last = rulsrv_prediction_at(b, b->count - 1);
	size_t o, n = b->input_count < CMAPSS_N_INPUTS ? b->input_count : CMAPSS_N_INPUTS;

	host->observed = b->count;
	host->obs_unit = last->unit;
	host->obs_cycle = last->cycle;
	host->obs_rul = last->rul;
	memcpy(host->obs_inputs, last->inputs, n * sizeof(host->obs_inputs[0]));
	for (o = 0; o < host->observer_count; o++)
		host->observers[o](host->observer_ud[o], b);
}

/* (2.2) Flags ignored: the fake passes every record to every observer. */
static int FAKE_UNUSED
fake_observer_add_flags(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud,
			unsigned flags)
{
	(void)flags;
	return fake_observer_add(host, fn, ud);
}

/* (2.2) Nobody holds in the fake (observation_hold answers NULL): done at once. */
static void FAKE_UNUSED
fake_observers_notify_then(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b,
			   rulsrv_observed_fn done, void *ud)
{
	fake_observers_notify(host, b);
	done(ud, 0);
}

static struct rulsrv_observation *FAKE_UNUSED
fake_observation_hold(struct rulsrv_host *host)
{
	(void)host;
	return NULL;
}

static void FAKE_UNUSED
fake_observation_release(struct rulsrv_observation *o, int status)
{
	(void)o;
	(void)status;
}

/* Kept in the order set; a key set twice is kept twice (get answers the first). */
static int FAKE_UNUSED
fake_attribute_set(struct rulsrv_host *host, const char *key, const char *value)
{
	if (host->attr_count == FAKE_MAX_ATTRIBUTES)
		return -ENOSPC;
	snprintf(host->attr_key[host->attr_count], sizeof(host->attr_key[0]), "%s", key);
	snprintf(host->attr_value[host->attr_count++], sizeof(host->attr_value[0]), "%s", value);
	return 0;
}

static FAKE_UNUSED const char *
fake_attribute_get(struct rulsrv_host *host, const char *key)
{
	size_t i;

	for (i = 0; i < host->attr_count; i++)
		if (strcmp(host->attr_key[i], key) == 0)
			return host->attr_value[i];
	return NULL;
}

static FAKE_UNUSED const char *
fake_name(const struct rulsrv_host *host)
{
	return "test";
}

static FAKE_UNUSED const char *
fake_instance_name(const struct rulsrv_host *host)
{
	return host->instance[0] != '\0' ? host->instance : "test";
}

/* The fake requests carry no headers and no query string. */
static FAKE_UNUSED const char *
fake_request_none(const struct rulsrv_request *req, const char *name)
{
	(void)req;
	(void)name;
	return NULL;
}

static FAKE_UNUSED int
fake_respond_header(struct rulsrv_response *resp, const char *name, const char *value)
{
	size_t len = strlen(resp->headers);

	snprintf(resp->headers + len, sizeof(resp->headers) - len, "%s: %s\n", name, value);
	return 0;
}

static const struct rulsrv_api fake_api = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.log = fake_log,
	.setting_error = fake_setting_error,
	.instance_name = fake_instance_name,
	.service_name = fake_name,
	.setting_string = fake_setting_string,
	.setting_path = fake_setting_string,
	.setting_int = fake_setting_int,
	.setting_double = fake_setting_double,
	.setting_bool = fake_setting_bool,
	.metrics_register = fake_metrics_register,
	.metric_new = fake_metric_new,
	.series = metrics_series,
	.counter_add = metrics_counter_add,
	.gauge_set = metrics_gauge_set,
	.gauge_add = metrics_gauge_add,
	.histogram_observe = metrics_histogram_observe,
	.metrics_collect = fake_metrics_collect,
	.route_add = fake_route_add,
	.request_header = fake_request_none,
	.request_arg = fake_request_none,
	.respond = fake_respond,
	.respond_error = fake_respond_error,
	.respond_header = fake_respond_header,
	.observer_add = fake_observer_add,
	.observers_notify = fake_observers_notify,
	.attribute_set = fake_attribute_set,
	.attribute_get = fake_attribute_get,
	.route_refusals = fake_route_refusals,
	.response_defer = fake_response_defer,
	.timer_add = fake_timer_add,
	.observer_add_flags = fake_observer_add_flags,
	.observers_notify_then = fake_observers_notify_then,
	.observation_hold = fake_observation_hold,
	.observation_release = fake_observation_release,
};

/* dlopen build/plugins/<file> the way the core does and return its descriptor. */
static FAKE_UNUSED const struct rulsrv_plugin_descriptor *
fake_load(const char *file, void **handle)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/plugins/%s", RULSRV_BUILD_DIR, file);
	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (*handle == NULL) {
		fprintf(stderr, "cannot load '%s': %s\n", path, dlerror());
		return NULL;
	}
	return dlsym(*handle, RULSRV_PLUGIN_SYMBOL);
}

/* Every given setting was read by init (the real host fails the load otherwise). */
static bool FAKE_UNUSED
fake_settings_all_read(const struct rulsrv_settings *s)
{
	int i;

	for (i = 0; i < FAKE_MAX_SETTINGS && s->names[i] != NULL; i++)
		if (!s->read[i])
			return false;
	return true;
}

#endif
