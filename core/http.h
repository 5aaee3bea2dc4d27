/* SPDX-License-Identifier: MIT */
/* http.h - libmicrohttpd glue: per-request state, routing, body limit, responses, core routes. */
#ifndef RULSRV_HTTP_H
#define RULSRV_HTTP_H

#include <stddef.h>

#include <rulsrv/plugin.h>

struct config_service;
struct service;
struct snapshot;

/* Register /healthz, /readyz and /-/reload in a snapshot being built. */
int http_core_routes_add(struct snapshot *snap);

/*
 * Start libmicrohttpd for svc on the bound, listening socket fd (MHD owns it from the call
 * on, success or failure). Returns the daemon, or NULL with the reason in err.
 */
struct MHD_Daemon *http_start(struct service *svc, int fd, const struct config_service *sv,
			      char *err, size_t err_len);

/* Stop svc's libmicrohttpd daemon (when running) and its request deadlines. */
void http_stop(struct service *svc);

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
