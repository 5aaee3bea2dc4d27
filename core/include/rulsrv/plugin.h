/* SPDX-License-Identifier: MIT */
/* rulsrv/plugin.h - the plugin ABI: the only header a rulsrv plugin includes. */
#ifndef RULSRV_PLUGIN_H
#define RULSRV_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Versioning (Varnish VRT style):
 *   major: bump when something is removed or changes meaning; the loader refuses any other major.
 *   minor: bump when something is appended to a table; the loader refuses a plugin built against
 *          a newer minor than the host's. A field appended in minor N is read by the host only
 *          when the plugin's minor >= N, and by the plugin only when api->abi_minor >= N.
 *
 * Changelog, newest first:
 *   1.1  route_refusals: hear of the requests the core refuses on a plugin's route before its
 *        handler runs (413 over max_body_bytes, 408 over request_timeout_seconds).
 *   1.0  initial: descriptor; host table with logging, typed settings, metric families,
 *        HTTP routes, prediction observers, metric collection for exporters.
 */
#define RULSRV_PLUGIN_ABI_MAJOR 1
#define RULSRV_PLUGIN_ABI_MINOR 1

/* The one exported symbol of a plugin: a const struct rulsrv_plugin_descriptor. */
#define RULSRV_PLUGIN_SYMBOL "rulsrv_plugin"

/* Input layout shared by every plugin: 3 operating settings, then sensors s1..s21. */
#define RULSRV_N_SETTINGS 3
#define RULSRV_N_SENSORS 21
#define RULSRV_N_INPUTS (RULSRV_N_SETTINGS + RULSRV_N_SENSORS)

struct rulsrv_host;     /* one per (service, plugin instance); opaque, owned by the core */
struct rulsrv_settings; /* the instance's `settings` group in rulsrv.conf; opaque */
struct rulsrv_metric;   /* a metric family in the service's registry */
struct rulsrv_series;   /* one labelled child of a family; valid while the service lives */
struct rulsrv_request;  /* borrowed for the duration of a handler call */
struct rulsrv_response; /* the response being built by a handler */
struct rulsrv_api;

/* Levels are syslog priorities, so the journal prefix `<N>` is the level itself. */
enum rulsrv_log_level {
	RULSRV_LOG_ERR = 3,
	RULSRV_LOG_WARNING = 4,
	RULSRV_LOG_NOTICE = 5,
	RULSRV_LOG_INFO = 6,
	RULSRV_LOG_DEBUG = 7,
};

enum rulsrv_metric_type {
	RULSRV_METRIC_COUNTER,
	RULSRV_METRIC_GAUGE,
	RULSRV_METRIC_HISTOGRAM,
};

/* ---- the descriptor ------------------------------------------------------------------- */

/*
 * init: create the instance for one service. Read settings through api->setting_*; every
 * setting of the instance that init did not read is reported as unknown and fails the load.
 * On success *state is owned by the core and handed back to every other callback.
 * Returns 0 or -errno; the plugin logs the reason (api->log or api->setting_error) first.
 *
 * ready: optional; false with a reason (for /readyz) while the instance cannot serve.
 * fini: optional; releases state. Called after the last request that could use it ended.
 */
struct rulsrv_plugin_descriptor {
	uint32_t abi_major; /* first two members forever: checked before anything else */
	uint32_t abi_minor;
	const char *name;        /* unique among loaded plugins, e.g. "predict_forest" */
	const char *kind;        /* "model", "feedback", "drift", "exporter" or "other" */
	const char *version;     /* the plugin's own version */
	const char *description; /* one line */
	int (*init)(struct rulsrv_host *host, const struct rulsrv_api *api,
		    const struct rulsrv_settings *settings, void **state);
	bool (*ready)(void *state, char *reason, size_t reason_len);
	void (*fini)(void *state);
};

#if defined(__GNUC__)
#define RULSRV_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RULSRV_PLUGIN_EXPORT
#endif

/* Usage: RULSRV_PLUGIN_DECLARE = { RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR, ... }; */
#define RULSRV_PLUGIN_DECLARE \
	RULSRV_PLUGIN_EXPORT const struct rulsrv_plugin_descriptor rulsrv_plugin

/* ---- HTTP ------------------------------------------------------------------------------ */

/* The request as a handler sees it. body is NUL-terminated (body[body_len] == 0). */
struct rulsrv_request {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* without the query string */
	const char *content_type; /* media type without parameters, lowercase; NULL when absent */
	const char *body;
	size_t body_len;
	bool from_loopback;
	double received_at; /* seconds since the epoch, when the request line arrived */
};

/*
 * A handler must answer with api->respond or api->respond_error exactly once; a handler
 * that answers nothing produces a 500. Handlers run on the service's worker threads
 * concurrently and must be thread-safe.
 */
typedef void (*rulsrv_handler_fn)(void *ud, const struct rulsrv_request *req,
				  struct rulsrv_response *resp);

/*
 * A request to the route that the core refused itself, before or instead of the handler:
 * status 413 code "payload_too_large" (body over the service's max_body_bytes), status 408
 * code "request_timeout" (not whole within request_timeout_seconds). Runs once per refusal,
 * on any thread, possibly under a core lock: count it and return; call nothing of the api
 * but the metric updates.
 */
typedef void (*rulsrv_refusal_fn)(void *ud, unsigned status, const char *code);

enum rulsrv_route_flags {
	RULSRV_ROUTE_ADMIN = 1u << 0, /* bearer token when configured, else loopback only */
};

/* ---- predictions and observers --------------------------------------------------------- */

struct rulsrv_prediction {
	int64_t unit;
	int64_t cycle;
	double rul;
	const double *inputs; /* RULSRV_N_INPUTS raw values of the cycle predicted (the last one) */
};

struct rulsrv_prediction_batch {
	const char *model;
	const char *version;
	double timestamp; /* seconds since the epoch */
	size_t count;
	const struct rulsrv_prediction *items;
};

/*
 * Called synchronously on the request path of the predicting thread, after the answer is
 * computed and before it is sent: must be cheap, thread-safe and must never block (queue
 * anything slow). The batch is borrowed for the call.
 */
typedef void (*rulsrv_observer_fn)(void *ud, const struct rulsrv_prediction_batch *batch);

/* ---- metric collection (exporters) ------------------------------------------------------ */

struct rulsrv_family_info {
	const char *name;
	const char *help;
	enum rulsrv_metric_type type;
	size_t label_count;
	const char *const *label_names;
	size_t bucket_count;  /* histograms: finite upper bounds, ascending; +Inf is implicit */
	const double *bounds;
};

struct rulsrv_sample {
	const char *const *label_values; /* label_count entries */
	double value;                    /* counter or gauge */
	const uint64_t *buckets;         /* histograms: bucket_count + 1 cumulative counts */
	double sum;
	uint64_t count;
};

/*
 * Called once per family with sample == NULL (start of the family), then once per series.
 * Return 0 to go on, a negative errno to stop the walk (returned by metrics_collect).
 */
typedef int (*rulsrv_sample_fn)(void *ud, const struct rulsrv_family_info *family,
				const struct rulsrv_sample *sample);

/* ---- the host table ---------------------------------------------------------------------- */

struct rulsrv_api {
	uint32_t abi_major;
	uint32_t abi_minor;

	/* Logging through the host, prefixed with the plugin instance name. */
	void (*log)(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* Logs "FILE:LINE: setting 'NAME': message" at error level, for validation failures. */
	void (*setting_error)(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/* Identity of the instance and its service. Strings live as long as the host. */
	const char *(*instance_name)(const struct rulsrv_host *host);
	const char *(*service_name)(const struct rulsrv_host *host);

	/*
	 * Typed settings with defaults. A missing setting takes the default; a wrong type or
	 * a value out of [min, max] is logged with file, line and setting, and returns -EINVAL.
	 * setting_string: *out is a malloc'd copy the caller frees (NULL when absent and
	 * def is NULL). setting_path: like setting_string, but a relative path is resolved
	 * against the directory of the configuration file.
	 */
	int (*setting_string)(const struct rulsrv_settings *s, const char *name, const char *def,
			      char **out);
	int (*setting_path)(const struct rulsrv_settings *s, const char *name, const char *def,
			    char **out);
	int (*setting_int)(const struct rulsrv_settings *s, const char *name, int64_t def,
			   int64_t min, int64_t max, int64_t *out);
	int (*setting_double)(const struct rulsrv_settings *s, const char *name, double def,
			      double min, double max, double *out);
	int (*setting_bool)(const struct rulsrv_settings *s, const char *name, bool def, bool *out);

	/*
	 * Metric families live in the service's registry, which survives reloads: asking again
	 * for a family with the same name, type, labels and buckets returns the same family (and
	 * its values), a different definition under the same name returns -EEXIST.
	 * labels: NULL-terminated list of label names, or NULL. buckets: histograms only.
	 */
	int (*metric_new)(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
			  const char *help, const char *const *labels, const double *buckets,
			  size_t bucket_count, struct rulsrv_metric **out);
	/* Get or create the child with these label values (one per label; NULL when the family
	 * has none). Lock-free when the child exists; NULL only when out of memory. */
	struct rulsrv_series *(*series)(struct rulsrv_metric *metric, const char *const *values);
	void (*counter_add)(struct rulsrv_series *s, double v);
	void (*gauge_set)(struct rulsrv_series *s, double v);
	void (*gauge_add)(struct rulsrv_series *s, double v);
	void (*histogram_observe)(struct rulsrv_series *s, double v);
	/* Walk every family of the service's registry (exporters). */
	int (*metrics_collect)(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud);

	/* HTTP routes of the service: exact path, one method. -EEXIST when taken. */
	int (*route_add)(struct rulsrv_host *host, const char *method, const char *path,
			 unsigned flags, rulsrv_handler_fn fn, void *ud);
	/* Case-insensitive header lookup; NULL when absent. Borrowed from the request. */
	const char *(*request_header)(const struct rulsrv_request *req, const char *name);
	/* Query argument lookup; NULL when absent. Borrowed from the request. */
	const char *(*request_arg)(const struct rulsrv_request *req, const char *name);
	/* Answer with a malloc'd body; the response owns body from the call on. */
	void (*respond)(struct rulsrv_response *resp, unsigned status, const char *content_type,
			char *body, size_t len);
	/* Answer {"error":{"code":CODE,"message":MESSAGE}} with status. */
	void (*respond_error)(struct rulsrv_response *resp, unsigned status, const char *code,
			      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
	/* Add a response header (copied). Call before respond. */
	int (*respond_header)(struct rulsrv_response *resp, const char *name, const char *value);

	/* Prediction observers of the service: model plugins notify, others observe. */
	int (*observer_add)(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud);
	void (*observers_notify)(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b);

	/*
	 * Service attributes: facts one plugin of a service publishes for the others, during
	 * init (which runs in the order the service lists its plugins). Values are copied.
	 * Known keys: "model.bundle" (path of the bundle the model plugin serves),
	 * "model.name", "model.version".
	 */
	int (*attribute_set)(struct rulsrv_host *host, const char *key, const char *value);
	const char *(*attribute_get)(struct rulsrv_host *host, const char *key);

	/* ---- 1.1: read only when api->abi_minor >= 1 ---- */

	/* Hear of the core's refusals on a route this instance added (init only); -ENOENT when
	 * it added no such route. */
	int (*route_refusals)(struct rulsrv_host *host, const char *method, const char *path,
			      rulsrv_refusal_fn fn, void *ud);
};

#endif /* RULSRV_PLUGIN_H */
