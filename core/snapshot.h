/* SPDX-License-Identifier: MIT */
/* snapshot.h - one service's immutable state: plugin instances, routes, observers, attributes. */
#ifndef RULSRV_SNAPSHOT_H
#define RULSRV_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

#include "timers.h"

struct config;
struct config_service;
struct metrics_registry;
struct plugin_lib;
struct plugin_set;
struct snapshot;

struct route {
	char *method;
	char *path;
	unsigned flags;
	rulsrv_handler_fn fn;
	void *ud;
	struct rulsrv_host *host; /* NULL for the core's own routes */
	rulsrv_refusal_fn refusal_fn; /* told of the core's own refusals; or NULL */
	void *refusal_ud;
};

/* One (service, plugin instance): what api callbacks receive as struct rulsrv_host. */
struct rulsrv_host {
	struct snapshot *snap;
	char *instance;
	const struct plugin_lib *lib;
	void *state;
	bool initialised;
};

/* What a snapshot needs of its service; strings are copied, registry and api borrowed. */
struct snapshot_env {
	const char *service_name;
	struct metrics_registry *registry; /* outlives the snapshot */
	const struct rulsrv_api *api;      /* handed to every init */
};

/*
 * Built beside the running one, never changed once published. Requests hold a reference
 * from their first byte to their completion; the last reference runs every plugin's fini.
 */

/* An empty snapshot of service sv (body limit, admin token file read); logs failures.
 * 0 and *out (one reference), or -errno: -EINVAL for an unusable token file. */
int snapshot_new(const struct snapshot_env *env, const struct config_service *sv,
		 struct snapshot **out);
/*
 * Load every plugin instance sv lists into plugins and initialise them in order, each
 * followed by the unknown-settings check. Logs every failure itself. 0 or -errno: -EINVAL
 * when the configuration is at fault (a refused plugin file, a bad setting), else what the
 * failing init returned (a model that does not load, a store that cannot open).
 */
int snapshot_init_instances(struct snapshot *snap, const struct config *c,
			    const struct config_service *sv, struct plugin_set *plugins);
struct snapshot *snapshot_ref(struct snapshot *snap);
/* Drop a reference; the last one runs fini of every instance (reverse order) and frees. */
void snapshot_unref(struct snapshot *snap);

/* What the snapshot was built with. */
const char *snapshot_service_name(const struct snapshot *snap);
struct metrics_registry *snapshot_registry(const struct snapshot *snap);
size_t snapshot_max_body(const struct snapshot *snap);
/* max_inflight_body_bytes: the request-body bytes the service may hold at once. */
size_t snapshot_max_inflight_body(const struct snapshot *snap);
const char *snapshot_admin_token(const struct snapshot *snap); /* NULL: loopback only */

/* The instances, in the order the service lists them. */
size_t snapshot_host_count(const struct snapshot *snap);
const struct rulsrv_host *snapshot_host_at(const struct snapshot *snap, size_t i);

/* ---- while building (init): the host API's init-only calls land here ---- */

/* Add a route (copied); -EEXIST when method+path is taken. */
int snapshot_route_add(struct snapshot *snap, const char *method, const char *path, unsigned flags,
		       rulsrv_handler_fn fn, void *ud, struct rulsrv_host *host);
/* Hear of the core's refusals on a route host added; -ENOENT when it added none such. */
int snapshot_route_refusals(struct snapshot *snap, const struct rulsrv_host *host,
			    const char *method, const char *path, rulsrv_refusal_fn fn, void *ud);
/* flags: RULSRV_OBSERVE_* (-EINVAL for others) */
int snapshot_observer_add(struct snapshot *snap, rulsrv_observer_fn fn, void *ud, unsigned flags);
/* Set key to a copy of value (replacing an earlier one). */
int snapshot_attribute_set(struct snapshot *snap, const char *key, const char *value);
/* A periodic callback; interval 0.01 to 86400 s, else -EINVAL. */
int snapshot_timer_add(struct snapshot *snap, double interval_s, rulsrv_timer_fn fn, void *ud);

/* ---- once published ---- */

/*
 * Find the route for method+path: returns it, or NULL with *path_known telling 405 from 404
 * and allow filled with the path's methods ("GET, POST") when the path is known.
 */
/* The flags of every route whose path takes path, any method, OR'ed (for the 405 of a path). */
unsigned snapshot_path_flags(const struct snapshot *snap, const char *path);

const struct route *snapshot_route_find(const struct snapshot *snap, const char *method,
					const char *path, bool *path_known, char *allow,
					size_t allow_len);
/* The snapshot's copy of path when some route has it, else "other" (bounded cardinality). */
const char *snapshot_known_path(const struct snapshot *snap, const char *path);
void snapshot_observers_notify(const struct snapshot *snap, const struct rulsrv_prediction_batch *b);
/* observers_notify_then, observation_hold and observation_release of the host table (2.2). */
void snapshot_observers_notify_then(const struct snapshot *snap,
				    const struct rulsrv_prediction_batch *b,
				    rulsrv_observed_fn done, void *ud);
struct rulsrv_observation *snapshot_observation_hold(void);
void snapshot_observation_release(struct rulsrv_observation *o, int status);
/* NULL when unset; lives as long as the snapshot. */
const char *snapshot_attribute_get(const struct snapshot *snap, const char *key);
/* Every instance ready? When not, reason gets "INSTANCE: why; INSTANCE: why" of those not. */
bool snapshot_ready(const struct snapshot *snap, char *reason, size_t reason_len);
/* The timers of every instance (api->timer_add; n in *count); live as long as the snapshot. */
const struct timer_def *snapshot_timers(const struct snapshot *snap, size_t *count);
/*
 * snap replaces old in the same service: call descriptor.handoff(new state, old state) for
 * every instance of snap whose predecessor in old has the same instance name and plugin
 * (descriptor name). old may be NULL (first start: nothing to hand over).
 */
void snapshot_handoff(struct snapshot *snap, const struct snapshot *old);

#endif
