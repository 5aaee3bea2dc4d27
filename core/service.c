/* SPDX-License-Identifier: MIT */
/* service.c - a service: its listener, its metric registry, its timers and current snapshot. */
#include "service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clocks.h"
#include "config.h"
#include "host.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "snapshot.h"
#include "timers.h"

#ifndef RULSRV_VERSION
#define RULSRV_VERSION "0.0.0"
#endif

static const double duration_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct service {
	char *name;
	struct config_service *conf; /* the listener's settings as started (a private copy) */
	struct metrics_registry *registry;
	pthread_rwlock_t lock; /* guards current against a swap between load and ref */
	struct snapshot *current;
	struct http_server *http;
	struct timers *timers; /* the current snapshot's (api->timer_add) */
	char bound[80]; /* "ADDR:PORT" actually bound */
	service_reload_fn reload;
	void *reload_ud;
	/* The core's own metric families. */
	struct rulsrv_metric *m_requests, *m_duration, *m_plugin_up, *m_build, *m_reloads;
	struct rulsrv_metric *m_timeouts;
	struct rulsrv_series *s_inflight, *s_reload_ok, *s_reload_ts;
	struct rulsrv_series *s_body_bytes; /* http_inflight_body_bytes, read at scrape time */
	/* http_request_timeouts_total{stage}: [0] "headers" (or idle), [1] "body" */
	struct rulsrv_series *s_timeouts[2];
	char **seen_instances; /* every instance ever up, to report 0 once removed */
	char **seen_kinds;
	size_t seen_count;
};

static void service_loaded(struct service *svc);

static const char *
kind_of(const struct rulsrv_host *h)
{
	return h->lib->desc->kind != NULL ? h->lib->desc->kind : "other";
}

static struct config_service *
conf_copy(const struct config_service *sv)
{
	struct config_service *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *sv;
	c->plugins = NULL;
	c->plugin_count = 0;
	c->name = strdup(sv->name);
	c->listen = strdup(sv->listen);
	c->admin_token_file = NULL;
	c->tls_cert_file = sv->tls_cert_file != NULL ? strdup(sv->tls_cert_file) : NULL;
	c->tls_key_file = sv->tls_key_file != NULL ? strdup(sv->tls_key_file) : NULL;
	return c;
}

static void
conf_free(struct config_service *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->listen);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c);
}

/*
 * rulsrv_plugin_up: refreshed right before every scrape from the plugins' ready(). It runs
 * inside a registry walk, so it must never drop the last reference of a snapshot: that would
 * run plugin fini inside the walk, and fini may join a thread (statsd) that is waiting for
 * the walk. It reads the current snapshot under the read lock instead, which keeps a swap
 * (and the release of the old snapshot) waiting until it is done.
 */
static void
service_collect_plugin_up(void *ud)
{
	struct service *svc = ud;
	struct snapshot *snap;
	size_t i, k;

	pthread_rwlock_rdlock(&svc->lock);
	snap = svc->current;

	for (i = 0; i < svc->seen_count; i++) {
		const char *labels[] = { svc->seen_instances[i], svc->seen_kinds[i] };
		double up = 0;

		for (k = 0; snap != NULL && k < snapshot_host_count(snap); k++) {
			const struct rulsrv_host *h = snapshot_host_at(snap, k);
			char why[64];

			if (strcmp(h->instance, labels[0]) == 0 && strcmp(kind_of(h), labels[1]) == 0)
				up = h->lib->desc->ready == NULL || h->lib->desc->ready(h->state, why, sizeof(why));
		}
		metrics_gauge_set(metrics_series(svc->m_plugin_up, labels), up);
	}
	pthread_rwlock_unlock(&svc->lock);
}

/* Read the body budget's atomic at scrape time: nothing on the request path. */
static void
service_collect_body_bytes(void *ud)
{
	struct service *svc = ud;

	if (svc->http != NULL)
		metrics_gauge_set(svc->s_body_bytes, (double)http_body_bytes_held(svc->http));
}

static int
service_core_metrics(struct service *svc)
{
	static const char *const hc[] = { "handler", "code", NULL };
	static const char *const h[] = { "handler", NULL };
	static const char *const version[] = { "version", NULL };
	static const char *const pk[] = { "plugin", "kind", NULL };
	static const char *const result[] = { "result", NULL };
	static const char *const stage[] = { "stage", NULL };
	const struct rulsrv_metric_def defs[] = {
		{ "http_requests_total", RULSRV_METRIC_COUNTER,
		  "HTTP requests answered, by route and status code", hc, .out = &svc->m_requests },
		{ "http_request_duration_seconds", RULSRV_METRIC_HISTOGRAM,
		  "Time from the request line to the queued answer, by route", h, duration_buckets,
		  sizeof(duration_buckets) / sizeof(duration_buckets[0]), .out = &svc->m_duration },
		{ "http_requests_in_flight", RULSRV_METRIC_GAUGE, "Requests being received or handled",
		  .series = &svc->s_inflight },
		{ "rulsrv_build_info", RULSRV_METRIC_GAUGE, "Version of the running rulsrv (always 1)",
		  version, .out = &svc->m_build },
		{ "rulsrv_plugin_up", RULSRV_METRIC_GAUGE,
		  "Whether a plugin instance of the service is loaded and ready", pk,
		  .out = &svc->m_plugin_up },
		{ "rulsrv_config_last_reload_successful", RULSRV_METRIC_GAUGE,
		  "Whether the last configuration reload succeeded", .series = &svc->s_reload_ok },
		{ "rulsrv_config_last_reload_success_timestamp_seconds", RULSRV_METRIC_GAUGE,
		  "When the configuration was last loaded successfully", .series = &svc->s_reload_ts },
		{ "rulsrv_config_reloads_total", RULSRV_METRIC_COUNTER,
		  "Configuration reloads, by result", result, .out = &svc->m_reloads },
		{ "http_request_timeouts_total", RULSRV_METRIC_COUNTER,
		  "Connections closed by request_timeout_seconds, by what they were still sending",
		  stage, .out = &svc->m_timeouts },
		{ "http_inflight_body_bytes", RULSRV_METRIC_GAUGE,
		  "Bytes of request bodies held now, against max_inflight_body_bytes",
		  .series = &svc->s_body_bytes },
	};
	struct metrics_registry *r = svc->registry;
	const char *v[] = { RULSRV_VERSION };
	const char *ok[] = { "success" }, *failed[] = { "failure" };
	const char *headers[] = { "headers" }, *body[] = { "body" };
	int e;

	e = metrics_register(r, defs, sizeof(defs) / sizeof(defs[0]));
	if (e < 0)
		return e;
	svc->s_timeouts[0] = metrics_series(svc->m_timeouts, headers);
	svc->s_timeouts[1] = metrics_series(svc->m_timeouts, body);
	if (svc->s_timeouts[0] == NULL || svc->s_timeouts[1] == NULL)
		return -ENOMEM;
	metrics_counter_add(svc->s_timeouts[0], 0);
	metrics_counter_add(svc->s_timeouts[1], 0);
	metrics_gauge_set(metrics_series(svc->m_build, v), 1);
	metrics_counter_add(metrics_series(svc->m_reloads, ok), 0);
	metrics_counter_add(metrics_series(svc->m_reloads, failed), 0);
	e = metrics_add_collector(r, service_collect_plugin_up, svc);
	if (e < 0)
		return e;
	e = metrics_add_collector(r, service_collect_body_bytes, svc);
	if (e < 0)
		return e;
	return process_metrics_register(r);
}

static struct snapshot *
service_acquire_cb(void *ud)
{
	return service_acquire(ud);
}

static int
service_reload_cb(void *ud, char *msg, size_t msg_len)
{
	struct service *svc = ud;

	return svc->reload(svc->reload_ud, msg, msg_len);
}

/* The HTTP server of svc, counting in the core families just registered. */
static struct http_server *
service_http_new(struct service *svc)
{
	const struct http_site site = {
		.name = svc->name,
		.acquire = service_acquire_cb,
		.reload = svc->reload != NULL ? service_reload_cb : NULL,
		.ud = svc,
		.requests = svc->m_requests,
		.duration = svc->m_duration,
		.inflight = svc->s_inflight,
		.timeouts = { svc->s_timeouts[0], svc->s_timeouts[1] },
	};

	return http_server_new(&site);
}

struct service *
service_new(const struct config_service *sv, service_reload_fn reload, void *ud)
{
	struct service *svc = calloc(1, sizeof(*svc));
	int r;

	if (svc == NULL)
		goto out_nomem;
	pthread_rwlock_init(&svc->lock, NULL);
	svc->reload = reload;
	svc->reload_ud = ud;
	svc->name = strdup(sv->name);
	svc->conf = conf_copy(sv);
	svc->registry = metrics_registry_new();
	if (svc->name == NULL || svc->conf == NULL || svc->registry == NULL)
		goto out_nomem;
	r = service_core_metrics(svc);
	if (r < 0) {
		char buf[128];

		log_err("service '%s': cannot register the core metrics: %s", sv->name,
			strerror_r(-r, buf, sizeof(buf)));
		service_free(svc);
		return NULL;
	}
	svc->http = service_http_new(svc);
	svc->timers = timers_new();
	if (svc->http == NULL || svc->timers == NULL)
		goto out_nomem;
	service_loaded(svc);
	return svc;
out_nomem:
	log_err("service '%s': out of memory", sv->name);
	service_free(svc);
	return NULL;
}

void
service_free(struct service *svc)
{
	struct snapshot *snap;
	size_t i;

	if (svc == NULL)
		return;
	/* timers first: none may run on the snapshot dropped below */
	timers_free(svc->timers);
	http_server_free(svc->http);
	/* The last instance's fini below may still walk the registry (statsd's final push),
	 * whose body-bytes collector must then see no server rather than a freed one. */
	svc->http = NULL;
	/* A plugin thread (statsd) may be walking the registry and acquire the snapshot right
	 * now: unpublish it under the lock first, so that it never takes a dying snapshot. */
	pthread_rwlock_wrlock(&svc->lock);
	snap = svc->current;
	svc->current = NULL;
	pthread_rwlock_unlock(&svc->lock);
	snapshot_unref(snap);
	metrics_registry_free(svc->registry);
	for (i = 0; i < svc->seen_count; i++) {
		free(svc->seen_instances[i]);
		free(svc->seen_kinds[i]);
	}
	free(svc->seen_instances);
	free(svc->seen_kinds);
	conf_free(svc->conf);
	pthread_rwlock_destroy(&svc->lock);
	free(svc->name);
	free(svc);
}

const char *
service_name(const struct service *svc)
{
	return svc->name;
}

struct metrics_registry *
service_registry(const struct service *svc)
{
	return svc->registry;
}

const char *
service_bound(const struct service *svc)
{
	return svc->bound;
}

int
service_build(struct service *svc, const struct config *c, const struct config_service *sv,
	      struct plugin_set *plugins, struct snapshot **out)
{
	const struct snapshot_env env = {
		.service_name = svc->name, .registry = svc->registry, .api = &host_api,
	};
	struct snapshot *snap;
	int r;

	*out = NULL;
	r = snapshot_new(&env, sv, &snap);
	if (r < 0)
		return r;
	r = http_core_routes_add(svc->http, snap);
	if (r < 0)
		log_err("service '%s': cannot add the core routes: %s", svc->name, strerror(-r));
	if (r == 0)
		r = snapshot_init_instances(snap, c, sv, plugins);
	if (r < 0) {
		snapshot_unref(snap);
		return r;
	}
	*out = snap;
	return 0;
}

struct snapshot *
service_acquire(struct service *svc)
{
	struct snapshot *snap;

	pthread_rwlock_rdlock(&svc->lock);
	snap = svc->current != NULL ? snapshot_ref(svc->current) : NULL;
	pthread_rwlock_unlock(&svc->lock);
	return snap;
}

/* Remember every (instance, kind) ever published, so a removed one reports 0. */
static void
service_note_instances(struct service *svc, const struct snapshot *snap)
{
	size_t i, k;

	for (i = 0; i < snapshot_host_count(snap); i++) {
		const struct rulsrv_host *h = snapshot_host_at(snap, i);
		const char *kind = kind_of(h);
		char **ni, **nk;
		bool known = false;

		for (k = 0; k < svc->seen_count && !known; k++)
			known = strcmp(svc->seen_instances[k], h->instance) == 0 &&
				strcmp(svc->seen_kinds[k], kind) == 0;
		if (known)
			continue;
		ni = realloc(svc->seen_instances, (svc->seen_count + 1) * sizeof(*ni));
		if (ni != NULL)
			svc->seen_instances = ni;
		nk = realloc(svc->seen_kinds, (svc->seen_count + 1) * sizeof(*nk));
		if (nk != NULL)
			svc->seen_kinds = nk;
		if (ni == NULL || nk == NULL)
			return;
		ni[svc->seen_count] = strdup(h->instance);
		nk[svc->seen_count] = strdup(kind);
		if (ni[svc->seen_count] == NULL || nk[svc->seen_count] == NULL) {
			free(ni[svc->seen_count]);
			free(nk[svc->seen_count]);
			return;
		}
		svc->seen_count++;
	}
}

/* The timers of snap (NULL: none) from now on; the previous ones have stopped on return. */
static void
service_timers(struct service *svc, const struct snapshot *snap)
{
	const struct timer_def *defs = NULL;
	size_t n = 0;
	int r;

	if (snap != NULL)
		defs = snapshot_timers(snap, &n);
	r = timers_set(svc->timers, defs, n);
	if (r < 0)
		log_err("service '%s': cannot start the plugins' timers: %s", svc->name,
			strerror(-r));
}

void
service_swap(struct service *svc, struct snapshot *snap)
{
	struct snapshot *old;

	/* Only the (re)loading thread swaps, so current is stable without the lock here. */
	old = svc->current;
	/* The old timers stop first, so that no tick of the old instance races its handoff.
	 * Not under the lock: a timer callback may scrape the registry, whose plugin_up
	 * collector takes the read lock. */
	service_timers(svc, NULL);
	snapshot_handoff(snap, old);
	pthread_rwlock_wrlock(&svc->lock);
	svc->current = snap;
	service_note_instances(svc, snap);
	pthread_rwlock_unlock(&svc->lock);
	service_timers(svc, snap);
	snapshot_unref(old);
}

static void
format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
}

int
service_listen(struct service *svc)
{
	const struct config_service *sv = svc->conf;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char err[512], ebuf[128];
	int fd, one = 1, r;

	fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto out_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sv->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&sv->addr, sv->addr_len) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		goto out_errno;
	format_addr(&bound, svc->bound, sizeof(svc->bound));
	r = http_start(svc->http, fd, sv, err, sizeof(err));
	if (r < 0) {
		log_err("cannot start service '%s' on '%s': %s", svc->name, sv->listen, err);
		return -EIO;
	}
	return 0;
out_errno:
	r = -errno;
	log_err("cannot listen on '%s' for service '%s': %s", sv->listen, svc->name,
		strerror_r(-r, ebuf, sizeof(ebuf)));
	if (fd >= 0)
		close(fd);
	return r;
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool
service_listener_changed(const struct service *svc, const struct config_service *sv)
{
	const struct config_service *cur = svc->conf;
	const char *what = NULL;

	if (strcmp(cur->listen, sv->listen) != 0)
		what = "listen";
	else if (cur->threads != sv->threads)
		what = "threads";
	else if (cur->max_connections != sv->max_connections)
		what = "max_connections";
	else if (cur->connection_timeout != sv->connection_timeout)
		what = "connection_timeout_seconds";
	else if (cur->request_timeout != sv->request_timeout)
		what = "request_timeout_seconds";
	else if (str_differs(cur->tls_cert_file, sv->tls_cert_file) ||
		 str_differs(cur->tls_key_file, sv->tls_key_file))
		what = "tls_cert_file/tls_key_file";
	if (what == NULL)
		return false;
	log_warning("service '%s': setting '%s' changed: it needs a restart; the listener keeps its "
		    "old settings", svc->name, what);
	return true;
}

void
service_quiesce(struct service *svc)
{
	http_quiesce(svc->http);
}

void
service_drain(struct service *svc, int timeout_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int waited = 0;

	while (http_inflight(svc->http) > 0 && waited < timeout_ms) {
		nanosleep(&pause, NULL);
		waited += 10;
	}
	if (http_inflight(svc->http) > 0)
		log_warning("service '%s': %ld requests still in flight after %d ms; stopping anyway",
			    svc->name, http_inflight(svc->http), timeout_ms);
	/* the instances are stopped from here on: their timers first */
	service_timers(svc, NULL);
	http_stop(svc->http);
}

/* The configuration in use was loaded now. */
static void
service_loaded(struct service *svc)
{
	metrics_gauge_set(svc->s_reload_ok, 1);
	metrics_gauge_set(svc->s_reload_ts, clocks_realtime());
}

void
service_reload_result(struct service *svc, bool ok)
{
	const char *result[] = { ok ? "success" : "failure" };

	if (ok)
		service_loaded(svc);
	else
		metrics_gauge_set(svc->s_reload_ok, 0);
	metrics_counter_add(metrics_series(svc->m_reloads, result), 1);
}
