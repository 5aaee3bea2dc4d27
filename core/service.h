/* SPDX-License-Identifier: MIT */
/* service.h - a service: its listener, its metric registry and its current snapshot. */
#ifndef RULSRV_SERVICE_H
#define RULSRV_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

struct config_service;
struct metrics_registry;
struct snapshot;

/* Called by POST /-/reload: reload everything; 0, or -errno with the reason in msg. */
typedef int (*service_reload_fn)(void *ud, char *msg, size_t msg_len);

struct service {
	char *name;
	struct config_service *conf; /* the listener's settings as started (a private copy) */
	struct metrics_registry *registry;
	pthread_rwlock_t lock; /* guards current against a swap between load and ref */
	struct snapshot *current;
	struct MHD_Daemon *mhd;
	struct http_deadlines *deadlines; /* request_timeout_seconds; NULL when 0 */
	char bound[80]; /* "ADDR:PORT" actually bound */
	atomic_bool draining;
	atomic_long inflight;
	service_reload_fn reload;
	void *reload_ud;
	/* The core's own metric families. */
	struct rulsrv_metric *m_requests, *m_duration, *m_inflight, *m_plugin_up;
	struct rulsrv_metric *m_reload_ok, *m_reload_ts, *m_reloads;
	struct rulsrv_series *s_inflight;
	/* http_request_timeouts_total{stage}: [0] "headers" (or idle), [1] "body" */
	struct rulsrv_series *s_timeouts[2];
	char **seen_instances; /* every instance ever up, to report 0 once removed */
	char **seen_kinds;
	size_t seen_count;
};

/* A service named after sv, with its registry and the core metrics; NULL on failure (logged). */
struct service *service_new(const struct config_service *sv, service_reload_fn reload, void *ud);
/* Stops the listener when running, drops the snapshot (fini), frees the registry. */
void service_free(struct service *svc);

const char *service_name(const struct service *svc);
struct metrics_registry *service_registry(const struct service *svc);

/* A reference on the current snapshot (NULL before the first swap). */
struct snapshot *service_acquire(struct service *svc);
/* Publish snap (takes over the caller's reference); the old one is released. */
void service_swap(struct service *svc, struct snapshot *snap);

/* Bind and start libmicrohttpd; the address bound is in svc->bound. 0 or -errno (logged). */
int service_listen(struct service *svc);
/* Would sv need a restart (listener settings differ from the running ones)? Logs a warning. */
bool service_listener_changed(const struct service *svc, const struct config_service *sv);
/* Stop accepting, report not ready. */
void service_quiesce(struct service *svc);
/* Wait until no request is in flight or timeout_ms passed; then stop the listener. */
void service_drain(struct service *svc, int timeout_ms);

/* Record a reload attempt in the service's metrics. */
void service_reload_result(struct service *svc, bool ok);

#endif
