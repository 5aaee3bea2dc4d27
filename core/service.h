/* SPDX-License-Identifier: MIT */
/* service.h - a service: its listener, its metric registry, its timers and current snapshot. */
#ifndef RULSRV_SERVICE_H
#define RULSRV_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct config_service;
struct metrics_registry;
struct plugin_set;
struct service;
struct snapshot;

/* Called by POST /-/reload: reload everything; 0, or -errno with the reason in msg. */
typedef int (*service_reload_fn)(void *ud, char *msg, size_t msg_len);

/* A service named after sv, with its registry and the core metrics; NULL on failure (logged). */
struct service *service_new(const struct config_service *sv, service_reload_fn reload, void *ud);
/* Stops the listener and the timers when running, drops the snapshot (fini), frees. */
void service_free(struct service *svc);

const char *service_name(const struct service *svc);
struct metrics_registry *service_registry(const struct service *svc);
/* "ADDR:PORT" actually bound ("" before service_listen). */
const char *service_bound(const struct service *svc);

/*
 * Build the service's state from c: its core routes, then every plugin instance sv lists,
 * loaded into plugins and initialised in order (see snapshot_init_instances). Logs every
 * failure itself. 0 and *out (one reference, not published), or -errno.
 */
int service_build(struct service *svc, const struct config *c, const struct config_service *sv,
		  struct plugin_set *plugins, struct snapshot **out);
/* A reference on the current snapshot (NULL before the first swap). */
struct snapshot *service_acquire(struct service *svc);
/*
 * Publish snap (takes over the caller's reference), on the (re)loading thread: the old
 * snapshot's timers stop, the plugins of snap take over from their predecessors
 * (descriptor.handoff), snap goes live and its timers start; the old snapshot is released.
 */
void service_swap(struct service *svc, struct snapshot *snap);

/* Bind and start libmicrohttpd; the address bound is in service_bound. 0 or -errno (logged). */
int service_listen(struct service *svc);
/* Would sv need a restart (listener settings differ from the running ones)? Logs a warning. */
bool service_listener_changed(const struct service *svc, const struct config_service *sv);
/* Stop accepting, report not ready. */
void service_quiesce(struct service *svc);
/* Wait until no request is in flight (deferred ones included) or timeout_ms passed; then
 * stop the timers and the listener. */
void service_drain(struct service *svc, int timeout_ms);

/* Record a reload attempt in the service's metrics. */
void service_reload_result(struct service *svc, bool ok);

#endif
