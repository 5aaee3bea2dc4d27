/* SPDX-License-Identifier: MIT */
/* http.h - libmicrohttpd glue: per-request state, routing, body limit, responses, core routes. */
#ifndef RULSRV_HTTP_H
#define RULSRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

struct config_service;
struct http_server;
struct snapshot;

/*
 * What the HTTP server needs of its service, and nothing more: the snapshot to serve each
 * request with, the reload behind POST /-/reload and the families it counts requests in.
 */
struct http_site {
	const char *name; /* the service's, for log lines (copied) */
	/* A reference on the snapshot to serve the next request with (released by the server). */
	struct snapshot *(*acquire)(void *ud);
	/* POST /-/reload: 0, or -errno with the reason in msg. NULL: the endpoint answers 500. */
	int (*reload)(void *ud, char *msg, size_t msg_len);
	void *ud;
	struct rulsrv_metric *requests;   /* http_requests_total{handler,code} */
	struct rulsrv_metric *duration;   /* http_request_duration_seconds{handler} */
	struct rulsrv_series *inflight;   /* http_requests_in_flight */
	struct rulsrv_series *timeouts[2]; /* http_request_timeouts_total: headers, body */
};

/* A server for site (copied), not listening yet. NULL when out of memory. */
struct http_server *http_server_new(const struct http_site *site);
/* Stops it when running (http_stop), then frees. */
void http_server_free(struct http_server *srv);

/* Register /healthz, /readyz and /-/reload of srv in a snapshot being built. */
int http_core_routes_add(struct http_server *srv, struct snapshot *snap);

/*
 * Start libmicrohttpd on the bound, listening socket fd (MHD owns it from the call on,
 * success or failure). 0, or -errno with the reason in err.
 */
int http_start(struct http_server *srv, int fd, const struct config_service *sv, char *err,
	       size_t err_len);
/* Stop accepting; answers say "Connection: close" and /readyz "shutting down" from now on. */
void http_quiesce(struct http_server *srv);
/* Requests begun and not completed yet, deferred ones included. */
long http_inflight(const struct http_server *srv);
/* Bytes of request bodies held now (reserved against max_inflight_body_bytes). */
size_t http_body_bytes_held(const struct http_server *srv);
/*
 * Stop libmicrohttpd (when running) and the request deadlines. While a deferred request is
 * still unanswered the daemon cannot be stopped (libmicrohttpd aborts on a suspended
 * connection): it is then left running, logged, for the process to exit with.
 */
void http_stop(struct http_server *srv);

/* The host API's request and response functions (see struct rulsrv_api). */
const char *http_request_header(const struct rulsrv_request *req, const char *name);
const char *http_request_arg(const struct rulsrv_request *req, const char *name);
void http_respond(struct rulsrv_response *resp, unsigned status, const char *content_type,
		  char *body, size_t len);
void http_respond_error(struct rulsrv_response *resp, unsigned status, const char *code,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int http_respond_header(struct rulsrv_response *resp, const char *name, const char *value);
int http_respond_defer(struct rulsrv_response *resp);

/* {"error":{"code":CODE,"message":MESSAGE}} with MESSAGE escaped; malloc'd, length in *len. */
char *http_error_body(const char *code, const char *message, size_t *len);

#endif
