/* SPDX-License-Identifier: MIT */
/* snapshot.h - one service's immutable state: plugin instances, routes, observers, attributes. */
#ifndef RULSRV_SNAPSHOT_H
#define RULSRV_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

struct config;
struct config_service;
struct plugin_lib;
struct plugin_set;
struct service;

struct route {
	char *method;
	char *path;
	unsigned flags;
	rulsrv_handler_fn fn;
	void *ud;
	struct rulsrv_host *host; /* NULL for the core's own routes */
	rulsrv_refusal_fn refusal_fn; /* ABI 1.1: told of the core's own refusals; or NULL */
	void *refusal_ud;
};

struct observer {
	rulsrv_observer_fn fn;
	void *ud;
};

struct attribute {
	char *key;
	char *value;
};

/* One (service, plugin instance): what api callbacks receive as struct rulsrv_host. */
struct rulsrv_host {
	struct snapshot *snap;
	char *instance;
	const struct plugin_lib *lib;
	void *state;
	bool initialised;
};

/*
 * Built beside the running one, never changed once published. Requests hold a reference
 * from their first byte to their completion; the last reference runs every plugin's fini.
 */
struct snapshot {
	atomic_uint refs;
	struct service *service;
	struct plugin_set *plugins;
	struct rulsrv_host **hosts;
	size_t host_count;
	struct route *routes;
	size_t route_count;
	struct observer *observers;
	size_t observer_count;
	struct attribute *attrs;
	size_t attr_count;
	size_t max_body_bytes;
	char *admin_token; /* NULL: admin routes from loopback only */
};

/*
 * Build the state of service sv from c: core routes, then every plugin instance the service
 * lists, loaded into plugins and initialised in order, then the unknown-settings check.
 * Logs every failure itself. Returns 0 and *out (one reference) or -errno: -EINVAL when the
 * configuration is at fault (a refused plugin file, a bad setting, an unusable token file),
 * else what the failing init returned (a model that does not load, a store that cannot open).
 */
int snapshot_build(struct service *service, const struct config *c, const struct config_service *sv,
		   struct plugin_set *plugins, struct snapshot **out);
struct snapshot *snapshot_ref(struct snapshot *snap);
/* Drop a reference; the last one runs fini of every instance (reverse order) and frees. */
void snapshot_unref(struct snapshot *snap);

/* Add a route (copied); -EEXIST when method+path is taken. Only while building. */
int snapshot_route_add(struct snapshot *snap, const char *method, const char *path, unsigned flags,
		       rulsrv_handler_fn fn, void *ud, struct rulsrv_host *host);
/*
 * Find the route for method+path: returns it, or NULL with *path_known telling 405 from 404
 * and allow filled with the path's methods ("GET, POST") when the path is known.
 */
const struct route *snapshot_route_find(const struct snapshot *snap, const char *method,
					const char *path, bool *path_known, char *allow,
					size_t allow_len);
/* Every instance ready? When not, reason gets "INSTANCE: why; INSTANCE: why" of those not. */
bool snapshot_ready(const struct snapshot *snap, char *reason, size_t reason_len);

#endif
