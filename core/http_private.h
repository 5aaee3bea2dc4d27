/* SPDX-License-Identifier: MIT */
/* http_private.h - one request's state, shared by http.c and the request deadlines. */
#ifndef RULSRV_HTTP_PRIVATE_H
#define RULSRV_HTTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <rulsrv/plugin.h>

struct MHD_Connection;
struct http_conn;
struct route;
struct service;
struct snapshot;

/* Everything about one request, kept in *req_cls from the first call to NOTIFY_COMPLETED. */
struct http_request {
	struct rulsrv_request pub; /* first: handlers get &pub */
	struct MHD_Connection *conn;
	struct http_conn *hc; /* its connection's deadline; NULL without request_timeout */
	struct service *svc;
	struct snapshot *snap;
	const struct route *route;
	const char *handler; /* the metrics label: a route path or "other" */
	char allow[128];
	bool path_known;
	bool too_large;
	bool queued;
	unsigned status; /* answered with; set under the deadline lock once timed out */
	char *body;
	size_t len, cap;
	struct timespec start;
	char content_type[128];
	char log_path[128]; /* for the debug access log only */
	char log_method[16];
};

#define http_request_of(r) ((struct http_request *)(void *)(r))

/*
 * The core refused req itself (413 over the body limit, 408 out of time) on a plugin's
 * route: tell the plugin, for its error metrics.
 */
void http_refused(const struct http_request *req, unsigned status, const char *code);

#endif
