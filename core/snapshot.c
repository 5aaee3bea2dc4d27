/* SPDX-License-Identifier: MIT */
/* snapshot.c - one service's immutable state: plugin instances, routes, observers, attributes. */
#include "snapshot.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "plugin_loader.h"
#include "settings.h"

/* Bounds of api->timer_add. */
#define TIMER_MIN_S 0.01
#define TIMER_MAX_S 86400.0

struct observer {
	rulsrv_observer_fn fn;
	void *ud;
	unsigned flags; /* RULSRV_OBSERVE_* */
};

/*
 * One notification of observers_notify_then: a count of holds, the notifier's own among them
 * until every observer was called, so that a release on another thread meanwhile cannot
 * complete it early. The observers are called on the notifying thread, which is how
 * observation_hold finds the notification it is called from.
 */
struct rulsrv_observation {
	atomic_uint holds;
	atomic_int status;
	rulsrv_observed_fn done;
	void *ud;
};

static _Thread_local struct rulsrv_observation *observing;

struct attribute {
	char *key;
	char *value;
};

struct snapshot {
	atomic_uint refs;
	char *service_name;
	struct metrics_registry *registry;
	const struct rulsrv_api *api;
	struct plugin_set *plugins;
	struct rulsrv_host **hosts;
	size_t host_count;
	struct route *routes;
	size_t route_count;
	struct observer *observers;
	size_t observer_count;
	struct attribute *attrs;
	size_t attr_count;
	struct timer_def *timers;
	size_t timer_count;
	size_t max_body_bytes;
	size_t max_inflight_body_bytes;
	char *admin_token; /* NULL: admin routes from loopback only */
};

struct snapshot *
snapshot_ref(struct snapshot *snap)
{
	atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	return snap;
}

static void
snapshot_free(struct snapshot *snap)
{
	size_t i;

	for (i = snap->host_count; i-- > 0;) {
		struct rulsrv_host *h = snap->hosts[i];

		if (h->initialised && h->lib->desc->fini != NULL)
			h->lib->desc->fini(h->state);
		free(h->instance);
		free(h);
	}
	free(snap->hosts);
	for (i = 0; i < snap->route_count; i++) {
		free(snap->routes[i].method);
		free(snap->routes[i].path);
	}
	free(snap->routes);
	free(snap->observers);
	for (i = 0; i < snap->attr_count; i++) {
		free(snap->attrs[i].key);
		free(snap->attrs[i].value);
	}
	free(snap->attrs);
	free(snap->timers);
	auth_token_free(snap->admin_token);
	plugin_set_unref(snap->plugins);
	free(snap->service_name);
	free(snap);
}

void
snapshot_unref(struct snapshot *snap)
{
	if (snap == NULL)
		return;
	if (atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(snap);
}

int
snapshot_route_add(struct snapshot *snap, const char *method, const char *path, unsigned flags,
		   rulsrv_handler_fn fn, void *ud, struct rulsrv_host *host)
{
	struct route *routes;
	size_t i;

	if (method == NULL || path == NULL || path[0] != '/' || fn == NULL)
		return -EINVAL;
	for (i = 0; i < snap->route_count; i++)
		if (strcmp(snap->routes[i].path, path) == 0 && strcmp(snap->routes[i].method, method) == 0)
			return -EEXIST;
	routes = realloc(snap->routes, (snap->route_count + 1) * sizeof(*routes));
	if (routes == NULL)
		return -ENOMEM;
	snap->routes = routes;
	routes[snap->route_count] = (struct route){
		.method = strdup(method), .path = strdup(path), .flags = flags, .fn = fn, .ud = ud,
		.host = host,
	};
	if (routes[snap->route_count].method == NULL || routes[snap->route_count].path == NULL) {
		free(routes[snap->route_count].method);
		free(routes[snap->route_count].path);
		return -ENOMEM;
	}
	snap->route_count++;
	return 0;
}

/* A route path ending in a slash and "*" takes every path under its prefix. */
static bool
route_matches(const char *route_path, const char *path)
{
	size_t n = strlen(route_path);

	if (n >= 2 && route_path[n - 2] == '/' && route_path[n - 1] == '*')
		return strncmp(route_path, path, n - 1) == 0;
	return strcmp(route_path, path) == 0;
}

/* An exact route, else the prefix route that takes path, for method. */
static const struct route *
route_lookup(const struct snapshot *snap, const char *method, const char *path)
{
	const struct route *prefix = NULL;
	size_t i;

	for (i = 0; i < snap->route_count; i++) {
		const struct route *rt = &snap->routes[i];

		if (strcmp(rt->method, method) != 0 || !route_matches(rt->path, path))
			continue;
		if (strcmp(rt->path, path) == 0)
			return rt;
		if (prefix == NULL)
			prefix = rt;
	}
	return prefix;
}

/* Is method already in the comma-separated Allow list? */
static bool
allow_has(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return true;
		p += n;
	}
	return false;
}

const struct route *
snapshot_route_find(const struct snapshot *snap, const char *method, const char *path,
		    bool *path_known, char *allow, size_t allow_len)
{
	const struct route *found;
	size_t i, off = 0;
	bool head_ok = false;

	*path_known = false;
	if (allow_len > 0)
		allow[0] = '\0';
	if ((found = route_lookup(snap, method, path)) != NULL)
		return found;
	for (i = 0; i < snap->route_count; i++) {
		const struct route *rt = &snap->routes[i];
		int n;

		if (!route_matches(rt->path, path))
			continue;
		*path_known = true;
		if (strcmp(rt->method, "GET") == 0)
			head_ok = true;
		if (allow_has(allow, rt->method))
			continue; /* an exact and a prefix route of one method: Allow names it once */
		n = snprintf(allow + off, allow_len - off, "%s%s", off > 0 ? ", " : "", rt->method);
		if (n > 0 && (size_t)n < allow_len - off)
			off += (size_t)n;
	}
	/* HEAD is answered by the GET handler (libmicrohttpd drops the body). */
	if (head_ok && strcmp(method, "HEAD") == 0)
		return route_lookup(snap, "GET", path);
	return NULL;
}

unsigned
snapshot_path_flags(const struct snapshot *snap, const char *path)
{
	unsigned flags = 0;
	size_t i;

	for (i = 0; i < snap->route_count; i++)
		if (route_matches(snap->routes[i].path, path))
			flags |= snap->routes[i].flags;
	return flags;
}

bool
snapshot_ready(const struct snapshot *snap, char *reason, size_t reason_len)
{
	size_t i, off = 0;
	bool ready = true;

	if (reason_len > 0)
		reason[0] = '\0';
	for (i = 0; i < snap->host_count; i++) {
		const struct rulsrv_host *h = snap->hosts[i];
		char why[256] = "";
		int n;

		if (h->lib->desc->ready == NULL || h->lib->desc->ready(h->state, why, sizeof(why)))
			continue;
		ready = false;
		if (off >= reason_len)
			continue;
		n = snprintf(reason + off, reason_len - off, "%s%s: %s", off > 0 ? "; " : "",
			     h->instance, why[0] != '\0' ? why : "not ready");
		off += n > 0 ? (size_t)n : 0;
	}
	return ready;
}

/* Load, initialise and settings-check one instance; logs why it failed. */
static int
snapshot_add_instance(struct snapshot *snap, const struct config *c, const char *instance)
{
	const struct config_plugin *cp = config_plugin_find(c, instance);
	struct rulsrv_settings *settings;
	struct rulsrv_host *h, **hosts;
	char err[1024], path[512];
	unsigned long errors;
	int r;

	hosts = realloc(snap->hosts, (snap->host_count + 1) * sizeof(*hosts));
	if (hosts == NULL)
		return -ENOMEM;
	snap->hosts = hosts;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->snap = snap;
	h->instance = strdup(instance);
	if (h->instance == NULL) {
		free(h);
		return -ENOMEM;
	}
	r = plugin_set_load(snap->plugins, cp->file, &h->lib, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		free(h->instance);
		free(h);
		return r == -ENOMEM ? r : -EINVAL; /* the configuration names a bad plugin */
	}
	hosts[snap->host_count++] = h;
	snprintf(path, sizeof(path), "plugins.%s.settings", instance);
	settings = settings_new(c, cp->setting, cp->settings, path);
	if (settings == NULL)
		return -ENOMEM;
	errors = log_error_count();
	r = h->lib->desc->init(h, snap->api, settings, &h->state);
	if (r == 0)
		h->initialised = true;
	if (r == 0)
		r = settings_check_unread(settings);
	settings_free(settings);
	if (r < 0 && log_error_count() == errors)
		log_err("cannot initialise plugin instance '%s' (%s) of service '%s': %s", instance,
			h->lib->desc->name, snap->service_name, strerror_r(-r, err, sizeof(err)));
	return r < 0 ? r : 0;
}

int
snapshot_new(const struct snapshot_env *env, const struct config_service *sv,
	     struct snapshot **out)
{
	struct snapshot *snap;
	char err[1024];
	int r = -ENOMEM;

	*out = NULL;
	snap = calloc(1, sizeof(*snap));
	if (snap == NULL)
		goto out_log;
	atomic_init(&snap->refs, 1);
	snap->service_name = strdup(env->service_name);
	if (snap->service_name == NULL)
		goto out_free;
	snap->registry = env->registry;
	snap->api = env->api;
	snap->max_body_bytes = sv->max_body_bytes;
	snap->max_inflight_body_bytes = sv->max_inflight_body_bytes;
	if (sv->admin_token_file != NULL) {
		r = auth_token_load(sv->admin_token_file, &snap->admin_token, err, sizeof(err));
		if (r < 0) {
			log_err("service '%s': %s", sv->name, err);
			r = r == -ENOMEM ? r : -EINVAL;
			goto out_free;
		}
	}
	*out = snap;
	return 0;
out_free:
	snapshot_unref(snap);
out_log:
	if (r == -ENOMEM)
		log_err("service '%s': out of memory", sv->name);
	return r;
}

int
snapshot_init_instances(struct snapshot *snap, const struct config *c,
			const struct config_service *sv, struct plugin_set *plugins)
{
	size_t i;
	int r = 0;

	snap->plugins = plugin_set_ref(plugins);
	for (i = 0; r == 0 && i < sv->plugin_count; i++)
		r = snapshot_add_instance(snap, c, sv->plugins[i]);
	if (r == -ENOMEM)
		log_err("service '%s': out of memory", sv->name);
	return r;
}

const char *
snapshot_service_name(const struct snapshot *snap)
{
	return snap->service_name;
}

struct metrics_registry *
snapshot_registry(const struct snapshot *snap)
{
	return snap->registry;
}

size_t
snapshot_max_body(const struct snapshot *snap)
{
	return snap->max_body_bytes;
}

size_t
snapshot_max_inflight_body(const struct snapshot *snap)
{
	return snap->max_inflight_body_bytes;
}

const char *
snapshot_admin_token(const struct snapshot *snap)
{
	return snap->admin_token;
}

size_t
snapshot_host_count(const struct snapshot *snap)
{
	return snap->host_count;
}

const struct rulsrv_host *
snapshot_host_at(const struct snapshot *snap, size_t i)
{
	return snap->hosts[i];
}

int
snapshot_route_refusals(struct snapshot *snap, const struct rulsrv_host *host, const char *method,
			const char *path, rulsrv_refusal_fn fn, void *ud)
{
	size_t i;

	if (fn == NULL || method == NULL || path == NULL)
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

int
snapshot_observer_add(struct snapshot *snap, rulsrv_observer_fn fn, void *ud, unsigned flags)
{
	struct observer *obs;

	if (fn == NULL || (flags & ~RULSRV_OBSERVE_REPEATS) != 0)
		return -EINVAL;
	obs = realloc(snap->observers, (snap->observer_count + 1) * sizeof(*obs));
	if (obs == NULL)
		return -ENOMEM;
	snap->observers = obs;
	obs[snap->observer_count++] = (struct observer){ .fn = fn, .ud = ud, .flags = flags };
	return 0;
}

/*
 * plain: the batch without its repeats, for the observers that did not ask for them. Returns
 * the malloc'd records of plain for the caller to free, NULL when b has no repeat (plain is
 * then b) or memory ran out (plain is then empty: an observer is never shown a repeat it did
 * not ask for).
 */
static void *
without_repeats(const struct rulsrv_prediction_batch *b, struct rulsrv_prediction_batch *plain)
{
	char *items;
	size_t i, n = 0;

	*plain = *b;
	for (i = 0; i < b->count; i++)
		if (rulsrv_prediction_flags(b, i) & RULSRV_PREDICTION_REPEAT)
			break;
	if (i == b->count)
		return NULL;
	items = malloc(b->count * b->item_size);
	for (i = 0; items != NULL && i < b->count; i++)
		if (!(rulsrv_prediction_flags(b, i) & RULSRV_PREDICTION_REPEAT))
			memcpy(items + n++ * b->item_size, rulsrv_prediction_at(b, i), b->item_size);
	plain->count = n;
	plain->items = items;
	return items;
}

void
snapshot_observers_notify(const struct snapshot *snap, const struct rulsrv_prediction_batch *b)
{
	struct rulsrv_prediction_batch plain;
	void *copy = NULL;
	bool filtered = false;
	size_t i;

	for (i = 0; i < snap->observer_count; i++) {
		const struct observer *o = &snap->observers[i];

		if (o->flags & RULSRV_OBSERVE_REPEATS) {
			o->fn(o->ud, b);
			continue;
		}
		if (!filtered) {
			copy = without_repeats(b, &plain);
			filtered = true;
		}
		if (plain.count > 0)
			o->fn(o->ud, &plain);
	}
	free(copy);
}

void
snapshot_observers_notify_then(const struct snapshot *snap,
			       const struct rulsrv_prediction_batch *b, rulsrv_observed_fn done,
			       void *ud)
{
	struct rulsrv_observation *o = malloc(sizeof(*o)), *outer = observing;

	if (o == NULL) {
		/* nobody can hold: the observers go on as for observers_notify */
		snapshot_observers_notify(snap, b);
		done(ud, 0);
		return;
	}
	atomic_init(&o->holds, 1);
	atomic_init(&o->status, 0);
	o->done = done;
	o->ud = ud;
	observing = o;
	snapshot_observers_notify(snap, b);
	observing = outer;
	snapshot_observation_release(o, 0);
}

struct rulsrv_observation *
snapshot_observation_hold(void)
{
	struct rulsrv_observation *o = observing;

	if (o != NULL)
		atomic_fetch_add_explicit(&o->holds, 1, memory_order_relaxed);
	return o;
}

void
snapshot_observation_release(struct rulsrv_observation *o, int status)
{
	int ok = 0;

	if (o == NULL)
		return;
	if (status < 0)
		atomic_compare_exchange_strong(&o->status, &ok, status);
	if (atomic_fetch_sub_explicit(&o->holds, 1, memory_order_acq_rel) != 1)
		return;
	o->done(o->ud, atomic_load_explicit(&o->status, memory_order_relaxed));
	free(o);
}

int
snapshot_attribute_set(struct snapshot *snap, const char *key, const char *value)
{
	struct attribute *attrs;
	char *v;
	size_t i;

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

const char *
snapshot_attribute_get(const struct snapshot *snap, const char *key)
{
	size_t i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < snap->attr_count; i++)
		if (strcmp(snap->attrs[i].key, key) == 0)
			return snap->attrs[i].value;
	return NULL;
}

int
snapshot_timer_add(struct snapshot *snap, double interval_s, rulsrv_timer_fn fn, void *ud)
{
	struct timer_def *t;

	/* written so that NaN fails too */
	if (fn == NULL || !(interval_s >= TIMER_MIN_S && interval_s <= TIMER_MAX_S))
		return -EINVAL;
	t = realloc(snap->timers, (snap->timer_count + 1) * sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	snap->timers = t;
	t[snap->timer_count++] = (struct timer_def){ .interval_s = interval_s, .fn = fn, .ud = ud };
	return 0;
}

const struct timer_def *
snapshot_timers(const struct snapshot *snap, size_t *count)
{
	*count = snap->timer_count;
	return snap->timers;
}

const char *
snapshot_known_path(const struct snapshot *snap, const char *path)
{
	size_t i;

	for (i = 0; i < snap->route_count; i++)
		if (route_matches(snap->routes[i].path, path))
			return snap->routes[i].path;
	return "other";
}

void
snapshot_handoff(struct snapshot *snap, const struct snapshot *old)
{
	size_t i, k;

	for (i = 0; old != NULL && i < snap->host_count; i++) {
		const struct rulsrv_host *h = snap->hosts[i];

		if (h->lib->desc->handoff == NULL)
			continue;
		for (k = 0; k < old->host_count; k++) {
			const struct rulsrv_host *o = old->hosts[k];

			if (strcmp(o->instance, h->instance) == 0 &&
			    strcmp(o->lib->desc->name, h->lib->desc->name) == 0) {
				h->lib->desc->handoff(h->state, o->state);
				break;
			}
		}
	}
}
