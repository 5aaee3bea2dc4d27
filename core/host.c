/* SPDX-License-Identifier: MIT */
/* host.c - the struct rulsrv_api table handed to every plugin. */
#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "settings.h"
#include "snapshot.h"

static void __attribute__((format(printf, 3, 4)))
host_log(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprefixed(level, host->instance, fmt, ap);
	va_end(ap);
}

static const char *
host_instance_name(const struct rulsrv_host *host)
{
	return host->instance;
}

static const char *
host_service_name(const struct rulsrv_host *host)
{
	return service_name(host->snap->service);
}

static int
host_metric_new(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
		const char *help, const char *const *labels, const double *buckets,
		size_t bucket_count, struct rulsrv_metric **out)
{
	return metrics_family(service_registry(host->snap->service), type, name, help, labels,
			      buckets, bucket_count, out);
}

static int
host_metrics_register(struct rulsrv_host *host, const struct rulsrv_metric_def *defs, size_t n)
{
	return metrics_register(service_registry(host->snap->service), defs, n);
}

/* Not yet: deferred responses and timers come with the core's 2.0 implementation. */
static int
host_timer_add(struct rulsrv_host *host, double interval_s, rulsrv_timer_fn fn, void *ud)
{
	(void)host;
	(void)interval_s;
	(void)fn;
	(void)ud;
	return -ENOSYS;
}

static int
host_metrics_collect(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud)
{
	return metrics_collect(service_registry(host->snap->service), fn, ud);
}

/* Routes, observers and attributes are part of the snapshot: only init may add them. */
static int
host_route_add(struct rulsrv_host *host, const char *method, const char *path, unsigned flags,
	       rulsrv_handler_fn fn, void *ud)
{
	if (host->initialised)
		return -EBUSY;
	return snapshot_route_add(host->snap, method, path, flags, fn, ud, host);
}

static int
host_route_refusals(struct rulsrv_host *host, const char *method, const char *path,
		    rulsrv_refusal_fn fn, void *ud)
{
	struct snapshot *snap = host->snap;
	size_t i;

	if (host->initialised)
		return -EBUSY;
	if (fn == NULL)
		return -EINVAL;
	for (i = 0; i < snap->route_count; i++) {
		struct route *rt = &snap->routes[i];

		if (rt->host == host && strcmp(rt->method, method) == 0 &&
		    strcmp(rt->path, path) == 0) {
			rt->refusal_fn = fn;
			rt->refusal_ud = ud;
			return 0;
		}
	}
	return -ENOENT;
}

static int
host_observer_add(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud)
{
	struct snapshot *snap = host->snap;
	struct observer *obs;

	if (host->initialised)
		return -EBUSY;
	if (fn == NULL)
		return -EINVAL;
	obs = realloc(snap->observers, (snap->observer_count + 1) * sizeof(*obs));
	if (obs == NULL)
		return -ENOMEM;
	snap->observers = obs;
	obs[snap->observer_count++] = (struct observer){ .fn = fn, .ud = ud };
	return 0;
}

static void
host_observers_notify(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b)
{
	const struct snapshot *snap = host->snap;
	size_t i;

	for (i = 0; i < snap->observer_count; i++)
		snap->observers[i].fn(snap->observers[i].ud, b);
}

static int
host_attribute_set(struct rulsrv_host *host, const char *key, const char *value)
{
	struct snapshot *snap = host->snap;
	struct attribute *attrs;
	char *v;
	size_t i;

	if (host->initialised)
		return -EBUSY;
	if (key == NULL || value == NULL)
		return -EINVAL;
	v = strdup(value);
	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < snap->attr_count; i++) {
		if (strcmp(snap->attrs[i].key, key) == 0) {
			free(snap->attrs[i].value);
			snap->attrs[i].value = v;
			return 0;
		}
	}
	attrs = realloc(snap->attrs, (snap->attr_count + 1) * sizeof(*attrs));
	if (attrs == NULL) {
		free(v);
		return -ENOMEM;
	}
	snap->attrs = attrs;
	attrs[snap->attr_count].key = strdup(key);
	if (attrs[snap->attr_count].key == NULL) {
		free(v);
		return -ENOMEM;
	}
	attrs[snap->attr_count++].value = v;
	return 0;
}

static const char *
host_attribute_get(struct rulsrv_host *host, const char *key)
{
	const struct snapshot *snap = host->snap;
	size_t i;

	for (i = 0; i < snap->attr_count; i++)
		if (strcmp(snap->attrs[i].key, key) == 0)
			return snap->attrs[i].value;
	return NULL;
}

const struct rulsrv_api host_api = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.log = host_log,
	.setting_error = settings_error,
	.instance_name = host_instance_name,
	.service_name = host_service_name,
	.setting_string = settings_string,
	.setting_path = settings_path,
	.setting_int = settings_int,
	.setting_double = settings_double,
	.setting_bool = settings_bool,
	.metrics_register = host_metrics_register,
	.metric_new = host_metric_new,
	.series = metrics_series,
	.counter_add = metrics_counter_add,
	.gauge_set = metrics_gauge_set,
	.gauge_add = metrics_gauge_add,
	.histogram_observe = metrics_histogram_observe,
	.metrics_collect = host_metrics_collect,
	.route_add = host_route_add,
	.request_header = http_request_header,
	.request_arg = http_request_arg,
	.respond = http_respond,
	.respond_error = http_respond_error,
	.respond_header = http_respond_header,
	.observer_add = host_observer_add,
	.observers_notify = host_observers_notify,
	.attribute_set = host_attribute_set,
	.attribute_get = host_attribute_get,
	.route_refusals = host_route_refusals,
	.response_defer = http_respond_defer,
	.timer_add = host_timer_add,
};
