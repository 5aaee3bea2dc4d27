/* SPDX-License-Identifier: MIT */
/* rulsrv/plugin.h - the plugin ABI: the only header a rulsrv plugin includes. */
#ifndef RULSRV_PLUGIN_H
#define RULSRV_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Versioning (Varnish VRT style):
 *   major: bump when something is removed or changes meaning. The loader refuses a plugin of
 *          any other major, naming the file and both versions, before it runs plugin code.
 *   minor: bump when something is appended to a table. The loader refuses a plugin built
 *          against a newer minor than the host's, so a plugin may use everything its own
 *          minor declares without checking api->abi_minor. A field appended in minor N is read
 *          by the host only when the plugin's minor >= N.
 *
 * Changelog, newest first:
 *   2.2  Answers that wait for the observers: observers_notify_then calls a completion once
 *        every observer that took a hold on the notification (observation_hold, from inside
 *        its callback) has released it (observation_release), so a model plugin can answer
 *        only after, say, the prediction log committed the predictions. Repeats: a record
 *        may carry RULSRV_PREDICTION_REPEAT in the new flags field (an exact repeat of a
 *        prediction answered before, a client's retry); only observers added with
 *        observer_add_flags(..., RULSRV_OBSERVE_REPEATS) see such records, the others get
 *        the batch without them (so a 2.1 observer is never shown a repeat);
 *        RULSRV_PREDICTION_STREAMED marks the records of a cycle the server keeps (fleet
 *        mode).
 *   2.1  Prefix routes: a route_add path ending in a slash and "*" takes every path under
 *        that prefix that no exact route of the same method takes; the handler reads the
 *        rest from req->path (GET /v1/engines/{unit}; /v2/models/... and its own 404).
 *        RULSRV_ROUTE_ERROR_STRING: the core's refusals on a route in the {"error": "..."}
 *        form of the Open Inference Protocol.
 *   2.0  Prediction records that can grow: a batch carries input_count inputs per record, as
 *        the bundle declares, and item_size; records are reached with rulsrv_prediction_at().
 *        No data-set constant in the ABI (RULSRV_N_SETTINGS, RULSRV_N_SENSORS and
 *        RULSRV_N_INPUTS are gone). Deferred responses (response_defer): a handler may answer
 *        later, from another thread. Timers (timer_add): a periodic callback on a core thread.
 *        Hand-over across a reload (descriptor.handoff). Metric families declared as tables
 *        and registered by one call (metrics_register). Metric updates return an error on
 *        the wrong type (and assert in debug builds) instead of doing nothing. route_refusals
 *        and everything of 1.1 are part of the base table. Lifetimes, init-only calls, the
 *        thread and lock of ready() and the label and bucket limits are documented here.
 *   1.1  route_refusals: hear of the requests the core refuses on a plugin's route before its
 *        handler runs (413 over max_body_bytes, 408 over request_timeout_seconds).
 *   1.0  initial: descriptor; host table with logging, typed settings, metric families,
 *        HTTP routes, prediction observers, metric collection for exporters.
 */
#define RULSRV_PLUGIN_ABI_MAJOR 2
#define RULSRV_PLUGIN_ABI_MINOR 2

/* The one exported symbol of a plugin: a const struct rulsrv_plugin_descriptor. */
#define RULSRV_PLUGIN_SYMBOL "rulsrv_plugin"

/* A metric family has at most this many labels, a histogram at most this many buckets. */
#define RULSRV_METRIC_MAX_LABELS 16
#define RULSRV_METRIC_MAX_BUCKETS 64

struct rulsrv_host;     /* one per (service, plugin instance); opaque, owned by the core */
struct rulsrv_settings; /* the instance's `settings` group in rulsrv.conf; opaque */
struct rulsrv_metric;   /* a metric family in the service's registry */
struct rulsrv_series;   /* one labelled child of a family; valid while the service lives */
struct rulsrv_request;  /* see "HTTP" below for its lifetime */
struct rulsrv_response; /* the response being built by a handler */
struct rulsrv_api;
struct rulsrv_observation; /* (2.2) one notification of observers_notify_then, while held */

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
 * The life of an instance (one per service that lists it):
 *
 * init: create the instance. Runs on the thread that (re)loads the configuration, before the
 *   instance serves anything; at a reload, beside the old instance, which keeps serving. Read
 *   settings through api->setting_*: settings and every string read from it directly are
 *   freed when init returns (setting_string and setting_path return copies). Every setting
 *   of the instance that init did not read is reported as unknown and fails the load. The
 *   init-only calls (route_add, route_refusals, observer_add, attribute_set, timer_add) are
 *   accepted only here and return -EBUSY afterwards. On success *state is owned by the core
 *   and handed to every other callback. Returns 0 or -errno; the plugin logs the reason
 *   (api->log or api->setting_error) first. A failed init fails the whole start or reload:
 *   fini is then called for the instances already initialised, and the old state goes on.
 *
 * handoff: optional. At a reload that succeeded, for every new instance whose predecessor in
 *   the same service has the same instance name and the same plugin (descriptor name): called
 *   once, after every init succeeded and before the new state serves its first request, on
 *   the reloading thread. The old instance may still be answering requests it began. The
 *   plugin moves or shares what must outlive a reload (a window's label, a cursor, a socket);
 *   what the old instance changes after this call is its own. It cannot fail.
 *
 * ready: optional; false with a reason (for /readyz and rulsrv_plugin_up) while the instance
 *   cannot serve. Called from the request thread of GET /readyz and from the scrape thread
 *   of /metrics (inside the registry walk, with the service's snapshot read lock held): it
 *   must be quick, must not block, and must call nothing of the api but the metric updates.
 *
 * fini: optional; releases state. Called once no request, timer or observer can use the
 *   instance any more (after the last request that began on its state ended), on whichever
 *   thread dropped the last reference. The instance's timers have stopped by then.
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
	void (*handoff)(void *state, void *old_state);
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

/*
 * The request as a handler sees it. body is NUL-terminated (body[body_len] == 0). The request
 * and everything reached from it (body, headers, arguments) live until the request is
 * answered: until the handler returns, or, for a deferred response, until its respond call.
 */
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
 * A handler answers with api->respond or api->respond_error exactly once. Either before it
 * returns, or, after api->response_defer, later from any thread (a handler that returns
 * without answering or deferring produces a 500). Handlers run on the service's worker
 * threads concurrently and must be thread-safe.
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
	/* (2.1) the core's own refusals on this route (413, 405, 401, 403, the 503 of the body
	 * budget) are {"error": "message"}, the Open Inference Protocol's form, instead of
	 * {"error": {"code": .., "message": ..}}. The 408 of a request out of time keeps the
	 * object form: it is written to the socket after the route's handler lost the request. */
	RULSRV_ROUTE_ERROR_STRING = 1u << 1,
};

/* ---- predictions and observers --------------------------------------------------------- */

/* One prediction: the RUL of one engine at one cycle, and the raw inputs of that cycle. */
struct rulsrv_prediction {
	int64_t unit;
	int64_t cycle;
	double rul;
	const double *inputs; /* the batch's input_count raw values of the cycle predicted */
	uint32_t flags;       /* (2.2) RULSRV_PREDICTION_*; read it with rulsrv_prediction_flags */
};

/*
 * (2.2) The record repeats a prediction the notifier made and answered before, exactly (the
 * same unit, cycle, inputs and RUL): a client's retry of POST /v1/cycles that fleet mode
 * answers again. It may not have reached every observer the first time (the instance that
 * made it died before its answer went out), so an observer that must hold each prediction
 * once (a log) takes it when it is missing; one that counts predictions (drift) never sees
 * it, unless it asked (RULSRV_OBSERVE_REPEATS).
 */
#define RULSRV_PREDICTION_REPEAT (1u << 0)
/*
 * (2.2) The record answers a cycle that the notifier keeps as state: fleet mode's POST
 * /v1/cycles, whose cycle the server stored and acknowledged. An observer may treat such
 * records as data a client will not send again (the prediction log holds their answers by
 * default) and the others, /v1/predict's windows, as the client's own.
 */
#define RULSRV_PREDICTION_STREAMED (1u << 1)

/*
 * Predictions of one request. Records are item_size bytes apart (item_size may grow in a
 * later minor, with fields appended to struct rulsrv_prediction): reach record i with
 * rulsrv_prediction_at(), never by indexing an array of struct rulsrv_prediction.
 */
struct rulsrv_prediction_batch {
	const char *model;
	const char *version;
	double timestamp; /* seconds since the epoch */
	size_t input_count; /* inputs of every record, as the model's bundle declares them */
	const char *const *input_names; /* input_count names ("setting1", ..., "s21"), or NULL */
	size_t count;
	size_t item_size; /* >= sizeof(struct rulsrv_prediction) */
	const void *items;
};

static inline const struct rulsrv_prediction *
rulsrv_prediction_at(const struct rulsrv_prediction_batch *b, size_t i)
{
	return (const struct rulsrv_prediction *)(const void *)((const char *)b->items +
								 i * b->item_size);
}

/* (2.2) The flags of record i: 0 for a notifier built against an older minor (item_size too
 * small to hold them). */
static inline uint32_t
rulsrv_prediction_flags(const struct rulsrv_prediction_batch *b, size_t i)
{
	if (b->item_size < offsetof(struct rulsrv_prediction, flags) + sizeof(uint32_t))
		return 0;
	return rulsrv_prediction_at(b, i)->flags;
}

/*
 * Called synchronously on the request path of the predicting thread, after the answer is
 * computed and before it is sent: must be cheap, thread-safe and must never block (queue
 * anything slow). The batch and every record and input are borrowed for the call.
 */
typedef void (*rulsrv_observer_fn)(void *ud, const struct rulsrv_prediction_batch *batch);

/* (2.2) observer_add_flags: also hand this observer the records marked
 * RULSRV_PREDICTION_REPEAT (other observers get the batch without them). */
#define RULSRV_OBSERVE_REPEATS (1u << 0)

/*
 * (2.2) The completion of observers_notify_then: status 0 when every hold was released with
 * 0, else the first negative status a holder released with. Runs once, on the notifying
 * thread before observers_notify_then returns when nobody held the notification, else on the
 * thread of the last release (an observer's writer thread, say): it answers the request
 * (after response_defer) and must not block.
 */
typedef void (*rulsrv_observed_fn)(void *ud, int status);

/* ---- timers ------------------------------------------------------------------------------ */

/*
 * A periodic callback: every interval seconds, on the service's timer thread (one for all
 * the service's timers, so a callback must not block for long: push a datagram, roll a
 * window, check a deadline). The first call comes one interval after the instance starts
 * serving; the last one ends before the instance is replaced by a reload or stopped (and
 * before its fini). Never called concurrently with itself.
 */
typedef void (*rulsrv_timer_fn)(void *ud);

/* ---- metric registration ----------------------------------------------------------------- */

/*
 * One metric family of a table handed to metrics_register. out receives the family; series,
 * when not NULL, receives the family's one unlabelled child (families without labels only),
 * so that it is exported at 0 from the start.
 */
struct rulsrv_metric_def {
	const char *name;
	enum rulsrv_metric_type type;
	const char *help;
	const char *const *labels; /* NULL-terminated names, or NULL; at most MAX_LABELS */
	const double *buckets;     /* histograms: finite upper bounds, ascending; else NULL */
	size_t bucket_count;       /* at most RULSRV_METRIC_MAX_BUCKETS */
	struct rulsrv_metric **out;
	struct rulsrv_series **series;
};

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

/*
 * Everything the core offers a plugin. Every function may be called from any thread unless
 * it says "init only". Strings passed in are copied unless the function says otherwise.
 */
struct rulsrv_api {
	uint32_t abi_major;
	uint32_t abi_minor;

	/* Logging through the host, prefixed with the plugin instance name. */
	void (*log)(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* Logs "FILE:LINE: setting 'NAME': message" at error level, for validation failures.
	 * Init only (settings die when init returns). */
	void (*setting_error)(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/* Identity of the instance and its service. Strings live as long as the host. */
	const char *(*instance_name)(const struct rulsrv_host *host);
	const char *(*service_name)(const struct rulsrv_host *host);

	/*
	 * Typed settings with defaults; init only. A missing setting takes the default; a wrong
	 * type or a value out of [min, max] is logged with file, line and setting, and returns
	 * -EINVAL. setting_string: *out is a malloc'd copy the caller frees (NULL when absent
	 * and def is NULL). setting_path: like setting_string, but a relative path is resolved
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
	 * its values); a different definition under the same name returns -EEXIST; more than
	 * RULSRV_METRIC_MAX_LABELS labels or RULSRV_METRIC_MAX_BUCKETS buckets, a name or label
	 * that Prometheus would refuse, or buckets not strictly ascending return -EINVAL.
	 * metrics_register registers a table of n families in order (stopping at the first
	 * error, which it returns); metric_new is the same for one family.
	 */
	int (*metrics_register)(struct rulsrv_host *host, const struct rulsrv_metric_def *defs,
				size_t n);
	int (*metric_new)(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
			  const char *help, const char *const *labels, const double *buckets,
			  size_t bucket_count, struct rulsrv_metric **out);
	/* Get or create the child with these label values (one per label; NULL when the family
	 * has none). Lock-free when the child exists; NULL only when out of memory. */
	struct rulsrv_series *(*series)(struct rulsrv_metric *metric, const char *const *values);
	/*
	 * Updates: 0, or -EINVAL when the series is NULL or of another type (counter_add on a
	 * gauge, ...) or a counter would decrease; nothing is changed then, and debug builds of
	 * the core assert. counter_add: counters; gauge_set/gauge_add: gauges;
	 * histogram_observe: histograms. Lock-free.
	 */
	int (*counter_add)(struct rulsrv_series *s, double v);
	int (*gauge_set)(struct rulsrv_series *s, double v);
	int (*gauge_add)(struct rulsrv_series *s, double v);
	int (*histogram_observe)(struct rulsrv_series *s, double v);
	/* Walk every family of the service's registry (exporters). */
	int (*metrics_collect)(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud);

	/* HTTP routes of the service: exact path, one method; a path ending in a slash and "*"
	 * (2.1) takes every path under its prefix that no exact route takes, and is the handler
	 * label of them all. Init only (-EBUSY after); -EEXIST when taken. */
	int (*route_add)(struct rulsrv_host *host, const char *method, const char *path,
			 unsigned flags, rulsrv_handler_fn fn, void *ud);
	/* Hear of the core's refusals on a route this instance added. Init only (-EBUSY after);
	 * -ENOENT when it added no such route. */
	int (*route_refusals)(struct rulsrv_host *host, const char *method, const char *path,
			      rulsrv_refusal_fn fn, void *ud);
	/* Case-insensitive header lookup; NULL when absent. Borrowed from the request. */
	const char *(*request_header)(const struct rulsrv_request *req, const char *name);
	/* Query argument lookup; NULL when absent. Borrowed from the request. */
	const char *(*request_arg)(const struct rulsrv_request *req, const char *name);
	/*
	 * Answer with a malloc'd body; the response owns body from the call on. After the
	 * answer, resp and the request are gone: touch neither again.
	 */
	void (*respond)(struct rulsrv_response *resp, unsigned status, const char *content_type,
			char *body, size_t len);
	/* Answer {"error":{"code":CODE,"message":MESSAGE}} with status. */
	void (*respond_error)(struct rulsrv_response *resp, unsigned status, const char *code,
			      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
	/* Add a response header (copied). Call before respond. 0 or -ENOMEM. */
	int (*respond_header)(struct rulsrv_response *resp, const char *name, const char *value);
	/*
	 * Defer the answer: called by a handler, which then returns without answering. The
	 * request and resp stay valid, and the connection waits (without holding a worker
	 * thread), until respond or respond_error is called on resp, exactly once, from any
	 * thread, possibly before the handler has returned. The core neither times out nor
	 * cancels a deferred request: the plugin must answer each one, also when it stops
	 * (fini comes only after every deferred request of the instance was answered).
	 * 0, or -EALREADY when resp was already answered or deferred.
	 */
	int (*response_defer)(struct rulsrv_response *resp);

	/* Prediction observers of the service: model plugins notify, others observe.
	 * observer_add: init only (-EBUSY after). */
	int (*observer_add)(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud);
	void (*observers_notify)(struct rulsrv_host *host, const struct rulsrv_prediction_batch *b);

	/*
	 * Service attributes: facts one plugin of a service publishes for the others, during
	 * init (which runs in the order the service lists its plugins). attribute_set: init only
	 * (-EBUSY after); values are copied. attribute_get: the value lives as long as the
	 * instance; NULL when unset. Known keys: "model.bundle" (path of the bundle the model
	 * plugin serves), "model.name", "model.version".
	 */
	int (*attribute_set)(struct rulsrv_host *host, const char *key, const char *value);
	const char *(*attribute_get)(struct rulsrv_host *host, const char *key);

	/*
	 * Call fn(ud) every interval_s seconds (0.01 to 86400) while the instance serves (see
	 * rulsrv_timer_fn). Init only (-EBUSY after); -EINVAL for an interval out of range.
	 */
	int (*timer_add)(struct rulsrv_host *host, double interval_s, rulsrv_timer_fn fn, void *ud);

	/* ---- 2.2 ---- */

	/* observer_add with flags (RULSRV_OBSERVE_*; 0 is observer_add). Init only (-EBUSY
	 * after); -EINVAL for an unknown flag. */
	int (*observer_add_flags)(struct rulsrv_host *host, rulsrv_observer_fn fn, void *ud,
				  unsigned flags);
	/*
	 * observers_notify, then done(ud, status) once every observer that held the
	 * notification released it (rulsrv_observed_fn says on which thread). A model plugin
	 * that answers in done defers its response first (response_defer): done may run on
	 * another thread, or before this call returns. Observers that do not hold (every 2.1
	 * observer) delay nothing.
	 */
	void (*observers_notify_then)(struct rulsrv_host *host,
				      const struct rulsrv_prediction_batch *b,
				      rulsrv_observed_fn done, void *ud);
	/*
	 * From inside an observer's callback: keep the notification's completion waiting until
	 * observation_release. NULL when the notification was an observers_notify (nobody
	 * waits): the observer then goes on as it would without a hold. Each hold is released
	 * exactly once, from any thread, status 0 or a negative errno (the completion then
	 * gets the first such status). The instance's fini must come after its last release:
	 * a hold delays a deferred answer, and fini waits for those.
	 */
	struct rulsrv_observation *(*observation_hold)(struct rulsrv_host *host);
	void (*observation_release)(struct rulsrv_observation *o, int status);
};

#endif /* RULSRV_PLUGIN_H */
