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
	return snapshot_service_name(host->snap);
}

static int
host_metric_new(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
		const char *help, const char *const *labels, const double *buckets,
		size_t bucket_count, struct rulsrv_metric **out)
{
	return metrics_family(snapshot_registry(host->snap), type, name, help, labels,
			      buckets, bucket_count, out);
}

static int
host_metrics_register(struct rulsrv_host *host, const struct rulsrv_metric_def *defs, size_t n)
{
	return metrics_register(snapshot_registry(host->snap), defs, n);
}

/* Timers belong to the snapshot: the service's timer thread runs them while it serves. */
static int
host_timer_add(struct rulsrv_host *host, double interval_s, rulsrv_timer_fn fn, void *ud)
{
	if (host->initialised)
		return -EBUSY;
	return snapshot_timer_add(host->snap, interval_s, fn, ud);
}

static int
host_metrics_collect(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud)
{
	return metrics_collect(snapshot_registry(host->snap), fn, ud);
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
	if (host->initialised)
		return -EBUSY;
	return snapshot_route_refusals(host->snap, host, method, path, fn, ud);
}

static int
host_observer_add(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud)
{
	if (host->initialised)
		return -EBUSY;
	return snapshot_observer_add(host->snap, fn, ud, 0);
}

static int
host_observer_add_flags(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud, unsigned flags)
{
	if (host->initialised)
		return -EBUSY;
	return snapshot_observer_add(host->snap, fn, ud, flags);
}

static void
host_observers_notify(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b)
{
	snapshot_observers_notify(host->snap, b);
}

static void
host_observers_notify_then(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b,
			   rulsrv_observed_fn done, void *ud)
{
	snapshot_observers_notify_then(host->snap, b, done, ud);
}

static struct rulsrv_observation *
host_observation_hold(struct rulsrv_host *host)
{
	(void)host;
	return snapshot_observation_hold();
}

static int
host_attribute_set(struct rulsrv_host *host, const char *key, const char *value)
{
	if (host->initialised)
		return -EBUSY;
	return snapshot_attribute_set(host->snap, key, value);
}

static const char *
host_attribute_get(struct rulsrv_host *host, const char *key)
{
	return snapshot_attribute_get(host->snap, key);
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
	.observer_add_flags = host_observer_add_flags,
	.observers_notify_then = host_observers_notify_then,
	.observation_hold = host_observation_hold,
	.observation_release = snapshot_observation_release,
};
