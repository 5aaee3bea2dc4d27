/* SPDX-License-Identifier: MIT */
/* http.c - libmicrohttpd glue: per-request state, routing, body limit, responses, core routes. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "clocks.h"
#include "config.h"
#include "http_deadline.h"
#include "http_linger.h"
#include "log.h"
#include "metrics.h"
#include "read_file.h"
#include "snapshot.h"
#include "utf8.h"

/* TLS certificates and keys are small: anything bigger is not one. */
#define TLS_FILE_MAX (1u << 20)
/* Retry-After of a 503 over max_inflight_body_bytes: bodies in flight are gone in about that. */
#define BODY_BUDGET_RETRY_AFTER "1"

struct http_server {
	struct http_site site;
	char *name;
	struct MHD_Daemon *mhd;
	struct http_deadlines *deadlines; /* request_timeout_seconds; NULL when 0 */
	unsigned timeout_s;
	bool tls;
	atomic_bool draining;
	atomic_long inflight;
	atomic_long suspended; /* deferred requests whose connection waits for the answer */
	atomic_size_t body_held; /* bytes of request bodies held, against max_inflight_body_bytes */
	struct http_linger *linger; /* drains refused bodies before their socket closes */
	/* The listening socket MHD_quiesce_daemon gave back (-1: none). Closed only after
	 * MHD_stop_daemon: a polling thread that has not yet woken still has it in its poll
	 * set, and the number could be reused under it. */
	int quiesced_fd;
};

struct http_header {
	char *name;
	char *value;
};

struct rulsrv_response {
	unsigned status;
	char content_type[128]; /* copied: a handler may pass a buffer of its own */
	char *body;
	size_t len;
	struct http_header *headers;
	size_t header_count;
	bool answered;
	bool deferred;            /* response_defer: set by the handler's thread */
	struct http_request *req; /* the handler's response; NULL for the core's own answers */
};

/* http_request.defer: how far a deferred answer got (bits, only ever set). */
enum {
	DEFER_ANSWERED = 1u << 0,  /* respond was called (resp is complete) */
	DEFER_SUSPENDED = 1u << 1, /* the handler returned and the connection is suspended */
};

/* Everything about one request, kept in *req_cls from the first call to NOTIFY_COMPLETED. */
struct http_request {
	struct rulsrv_request pub; /* first: handlers get &pub */
	struct MHD_Connection *conn;
	struct http_conn *hc; /* its connection's deadline; NULL without request_timeout */
	struct http_server *srv;
	struct snapshot *snap;
	const struct route *route;
	const char *handler; /* the metrics label: a route path or "other" */
	struct rulsrv_response resp; /* the handler's */
	atomic_uint defer;
	char allow[128];
	bool path_known;
	bool error_string; /* the route's refusals are {"error": "..."} (RULSRV_ROUTE_ERROR_STRING) */
	bool too_large;
	bool over_budget; /* a chunked body outgrew max_inflight_body_bytes: discarded, then 503 */
	bool linger;      /* refused while the body still arrives: drain before closing */
	bool queued;
	unsigned status; /* answered with; set under the deadline lock once timed out */
	char *body;
	size_t len, cap;
	size_t held;      /* bytes of srv->body_held that are this request's (its body's capacity) */
	size_t discarded; /* body bytes thrown away (refused, unrouted): bounded */
	struct timespec start;
	char content_type[128];
	char log_path[128]; /* for the debug access log only */
	char log_method[16];
};

#define http_request_of(r) ((struct http_request *)(void *)(r))

/* ---- responses ------------------------------------------------------------------------------ */

/*
 * Messages may quote client bytes: invalid UTF-8 becomes U+FFFD, so the answer stays JSON.
 * The form is rulsrv's {"error":{"code":..,"message":..}}, or with string_form the Open
 * Inference Protocol's {"error": message} (RULSRV_ROUTE_ERROR_STRING).
 */
static char *
http_error_body_form(bool string_form, const char *code, const char *message, size_t *len)
{
	size_t mlen = strlen(message), n = strlen(code) + 6 * mlen + 64, off, k;
	const char *p, *end = message + mlen;
	char *out = malloc(n);

	if (out == NULL)
		return NULL;
	if (string_form)
		off = (size_t)snprintf(out, n, "{\"error\":\"");
	else
		off = (size_t)snprintf(out, n, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
	for (p = message; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			off += (size_t)snprintf(out + off, n - off, "\\%c", c);
		else if (c < 0x20)
			off += (size_t)snprintf(out + off, n - off, "\\u%04x", c);
		else if (c < 0x80)
			out[off++] = (char)c;
		else if ((k = utf8_seq_len((const unsigned char *)p, (size_t)(end - p))) == 0)
			off += (size_t)snprintf(out + off, n - off, "\\ufffd");
		else {
			memcpy(out + off, p, k);
			off += k;
			p += k - 1;
		}
	}
	off += (size_t)snprintf(out + off, n - off, string_form ? "\"}" : "\"}}");
	*len = off;
	return out;
}

char *
http_error_body(const char *code, const char *message, size_t *len)
{
	return http_error_body_form(false, code, message, len);
}

/*
 * A deferred answer is complete (any thread). When the handler has returned and suspended
 * the connection, resume it: libmicrohttpd then calls http_access again, which queues resp.
 * Otherwise the handler's thread sees the answer itself once the handler returns. Nothing
 * of req is touched after the resume: it may be gone at once.
 */
static void
http_deferred_answered(struct http_request *req)
{
	struct MHD_Connection *conn = req->conn;
	unsigned was = atomic_fetch_or_explicit(&req->defer, DEFER_ANSWERED, memory_order_acq_rel);

	if (was & DEFER_SUSPENDED)
		MHD_resume_connection(conn);
}

void
http_respond(struct rulsrv_response *resp, unsigned status, const char *content_type, char *body,
	     size_t len)
{
	if (resp->answered) {
		free(body);
		return;
	}
	if (status < 200 || status > 599) {
		free(body);
		http_respond_error(resp, 500, "internal", "the handler answered status %u", status);
		return;
	}
	resp->answered = true;
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
		 content_type != NULL ? content_type : "application/json");
	resp->body = body;
	resp->len = body != NULL ? len : 0;
	if (resp->deferred)
		http_deferred_answered(resp->req);
}

void
http_respond_error(struct rulsrv_response *resp, unsigned status, const char *code,
		   const char *fmt, ...)
{
	char msg[1024];
	char *body;
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = http_error_body(code, msg, &len);
	http_respond(resp, status, "application/json", body, len);
}

int
http_respond_header(struct rulsrv_response *resp, const char *name, const char *value)
{
	struct http_header *h;

	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -EINVAL;
	h = realloc(resp->headers, (resp->header_count + 1) * sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	resp->headers = h;
	h[resp->header_count].name = strdup(name);
	h[resp->header_count].value = strdup(value);
	if (h[resp->header_count].name == NULL || h[resp->header_count].value == NULL) {
		free(h[resp->header_count].name);
		free(h[resp->header_count].value);
		return -ENOMEM;
	}
	resp->header_count++;
	return 0;
}

int
http_respond_defer(struct rulsrv_response *resp)
{
	if (resp->answered || resp->deferred || resp->req == NULL)
		return -EALREADY;
	/* read by the answering thread, which the plugin hands resp to after this call */
	resp->deferred = true;
	return 0;
}

static void
response_clear(struct rulsrv_response *resp)
{
	size_t i;

	free(resp->body);
	for (i = 0; i < resp->header_count; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
}

/* Hand the built response to libmicrohttpd; frees resp's contents. */
static enum MHD_Result
http_queue(struct http_request *req, struct rulsrv_response *resp)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t i;

	if (!resp->answered)
		http_respond_error(resp, 500, "internal", "the handler produced no answer");
	if (resp->body != NULL) {
		mr = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
		if (mr != NULL)
			resp->body = NULL;
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (mr == NULL) {
		response_clear(resp);
		return MHD_NO;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (i = 0; i < resp->header_count; i++)
		MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
	if (req->linger || atomic_load_explicit(&req->srv->draining, memory_order_relaxed))
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	req->status = resp->status;
	req->queued = true;
	ret = MHD_queue_response(req->conn, resp->status, mr);
	MHD_destroy_response(mr);
	response_clear(resp);
	return ret;
}

static enum MHD_Result __attribute__((format(printf, 4, 5)))
http_queue_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...)
{
	struct rulsrv_response resp = { 0 };
	char msg[512];
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp.answered = true;
	resp.status = status;
	strcpy(resp.content_type, "application/json");
	resp.body = http_error_body_form(req->error_string, code, msg, &len);
	resp.len = len;
	if (status == 405)
		http_respond_header(&resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (status == 401)
		http_respond_header(&resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (status == 503)
		http_respond_header(&resp, MHD_HTTP_HEADER_RETRY_AFTER, BODY_BUDGET_RETRY_AFTER);
	return http_queue(req, &resp);
}

/* ---- requests ------------------------------------------------------------------------------- */

const char *
http_request_header(const struct rulsrv_request *req, const char *name)
{
	return MHD_lookup_connection_value(http_request_of(req)->conn, MHD_HEADER_KIND, name);
}

const char *
http_request_arg(const struct rulsrv_request *req, const char *name)
{
	return MHD_lookup_connection_value(http_request_of(req)->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool
http_is_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return sa->sa_family == AF_UNIX;
}

static void
http_parse_content_type(struct http_request *req)
{
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t i, n;

	if (ct == NULL)
		return;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; \t");
	if (n >= sizeof(req->content_type))
		n = sizeof(req->content_type) - 1;
	for (i = 0; i < n; i++)
		req->content_type[i] = (char)tolower((unsigned char)ct[i]);
	req->content_type[n] = '\0';
	req->pub.content_type = req->content_type;
}

/*
 * The core refused req itself (413 over the body limit, 408 out of time) on a plugin's
 * route: tell the plugin, for its error metrics.
 */
static void
http_refused(const struct http_request *req, unsigned status, const char *code)
{
	const struct route *rt = req->route;

	if (rt != NULL && rt->refusal_fn != NULL)
		rt->refusal_fn(rt->refusal_ud, status, code);
}

/* ---- the body budget: max_inflight_body_bytes ------------------------------------------------ */

/*
 * Take n more bytes of the service's budget for req's body, before allocating them. false
 * when they would take the bytes held by all requests past max_inflight_body_bytes (of the
 * snapshot req is served with: a reload applies to the requests that begin after it).
 */
static bool
body_reserve(struct http_request *req, size_t n)
{
	size_t limit = snapshot_max_inflight_body(req->snap);
	size_t held = atomic_load_explicit(&req->srv->body_held, memory_order_relaxed);

	do {
		if (n > limit || held > limit - n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&req->srv->body_held, &held, held + n,
							memory_order_relaxed,
							memory_order_relaxed));
	req->held += n;
	return true;
}

/* Give back all of req's share (its body is freed, or about to be). */
static void
body_release(struct http_request *req)
{
	if (req->held > 0)
		atomic_fetch_sub_explicit(&req->srv->body_held, req->held, memory_order_relaxed);
	req->held = 0;
}

/* Drop the body kept so far and its share of the budget: the rest is discarded. */
static void
body_drop(struct http_request *req)
{
	free(req->body);
	req->body = NULL;
	req->len = req->cap = 0;
	body_release(req);
}

/*
 * Refuse req while its body is still arriving: the answer is queued at once (libmicrohttpd
 * then reads no more of the body and closes the connection after the answer), and the
 * socket lingers (http_linger.h) so that a client still writing receives it. The caller
 * has claimed the request from its deadline.
 */
static enum MHD_Result __attribute__((format(printf, 4, 5)))
http_refuse_early(struct http_request *req, unsigned status, const char *code, const char *fmt,
		  ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	req->linger = true;
	return http_queue_error(req, status, code, "%s", msg);
}

/* First call: the headers are in. Route the request and refuse early what can be refused. */
static enum MHD_Result
http_begin(struct http_server *srv, struct MHD_Connection *conn, const char *url,
	   const char *method, void **req_cls)
{
	struct http_request *req = calloc(1, sizeof(*req));
	unsigned long long length;
	const char *cl;
	bool alive;

	if (req == NULL)
		return MHD_NO;
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->conn = conn;
	req->srv = srv;
	req->snap = srv->site.acquire(srv->site.ud);
	req->resp.req = req;
	req->pub.method = method;
	req->pub.path = url;
	req->pub.body = "";
	req->pub.from_loopback = http_is_loopback(conn);
	req->pub.received_at = clocks_realtime();
	http_parse_content_type(req);
	*req_cls = req;
	atomic_fetch_add(&srv->inflight, 1);
	metrics_gauge_add(srv->site.inflight, 1);
	req->hc = http_deadline_begin(conn, req, &alive);
	if (!alive)
		return MHD_NO;
	req->route = snapshot_route_find(req->snap, method, url, &req->path_known, req->allow,
					 sizeof(req->allow));
	/* The label must outlive the connection's memory: a route path of the snapshot. */
	req->handler = req->route != NULL ? req->route->path : snapshot_known_path(req->snap, url);
	req->error_string = ((req->route != NULL ? req->route->flags
						 : snapshot_path_flags(req->snap, url)) &
			     RULSRV_ROUTE_ERROR_STRING) != 0;
	if (log_enabled(RULSRV_LOG_DEBUG)) {
		snprintf(req->log_path, sizeof(req->log_path), "%s", url);
		snprintf(req->log_method, sizeof(req->log_method), "%s", method);
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	length = cl != NULL ? strtoull(cl, NULL, 10) : 0;
	if (length > snapshot_max_body(req->snap)) {
		req->too_large = true;
		if (!http_deadline_claim(req->hc))
			return MHD_NO;
		http_refused(req, 413, "payload_too_large");
		return http_refuse_early(req, 413, "payload_too_large",
					 "request body of %llu bytes is over the limit of %zu bytes",
					 length, snapshot_max_body(req->snap));
	}
	/* The announced size at once, within the budget: the body arrives without a realloc. */
	if (length > 0 && req->route != NULL) {
		if (!body_reserve(req, (size_t)length + 1)) {
			req->over_budget = true;
			if (!http_deadline_claim(req->hc))
				return MHD_NO;
			return http_refuse_early(req, 503, "body_budget_exhausted",
						 "request body of %llu bytes would take the request "
						 "bodies held at once past max_inflight_body_bytes "
						 "(%zu bytes); retry later", length,
						 snapshot_max_inflight_body(req->snap));
		}
		req->body = malloc((size_t)length + 1);
		req->cap = req->body != NULL ? (size_t)length + 1 : 0;
		if (req->body != NULL)
			req->body[0] = '\0';
		else
			body_release(req);
	}
	return MHD_YES;
}

/*
 * A body that is thrown away (refused, or on no route) is still read to its end so that the
 * answer can follow it on the same connection, but only so much of it: past max_body_bytes
 * and then HTTP_LINGER_MAX_BYTES more, the connection is closed (false).
 */
static bool
http_discard_body(struct http_request *req, size_t size)
{
	req->discarded += size;
	return req->discarded <= snapshot_max_body(req->snap) + HTTP_LINGER_MAX_BYTES;
}

/*
 * Keep the body of a routed request, up to the limit and within the budget; discard
 * everything else. false: stop reading, close the connection.
 */
static bool
http_take_body(struct http_request *req, const char *data, size_t size)
{
	size_t need;
	char *nb;

	if (req->route == NULL || req->too_large || req->over_budget || req->queued)
		return http_discard_body(req, size);
	if (req->len + size > snapshot_max_body(req->snap)) {
		req->too_large = true;
		body_drop(req);
		return http_discard_body(req, size);
	}
	need = req->len + size + 1;
	if (need > req->cap) {
		size_t cap = req->cap > 0 ? req->cap : 4096;

		while (cap < need)
			cap *= 2;
		/* a chunked body (or one longer than announced) grows: its share grows first */
		if (!body_reserve(req, cap - req->cap)) {
			req->over_budget = true;
			body_drop(req);
			return http_discard_body(req, size);
		}
		nb = realloc(req->body, cap);
		if (nb == NULL) {
			req->too_large = true;
			body_drop(req);
			return http_discard_body(req, size);
		}
		req->body = nb;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	req->body[req->len] = '\0';
	return true;
}

/* Last call: the whole body is in. */
/*
 * The handler deferred its answer and returned. Queue the answer when it came already;
 * else suspend the connection (freeing this worker thread) until http_deferred_answered
 * resumes it. An answer that comes while we suspend finds DEFER_SUSPENDED unset, so we
 * see DEFER_ANSWERED here and resume ourselves.
 */
static enum MHD_Result
http_await(struct http_request *req)
{
	unsigned was = atomic_load_explicit(&req->defer, memory_order_acquire);

	if (was & DEFER_ANSWERED)
		return http_queue(req, &req->resp);
	atomic_fetch_add(&req->srv->suspended, 1);
	MHD_suspend_connection(req->conn);
	was = atomic_fetch_or_explicit(&req->defer, DEFER_SUSPENDED, memory_order_acq_rel);
	if (was & DEFER_ANSWERED)
		MHD_resume_connection(req->conn);
	return MHD_YES;
}

/* libmicrohttpd calls again after a resume: the deferred answer is complete. */
static enum MHD_Result
http_resumed(struct http_request *req)
{
	unsigned st = atomic_load_explicit(&req->defer, memory_order_acquire);

	if (!(st & DEFER_ANSWERED))
		return MHD_YES; /* not ours to wake: libmicrohttpd asks again */
	if (st & DEFER_SUSPENDED)
		atomic_fetch_sub(&req->srv->suspended, 1);
	return http_queue(req, &req->resp);
}

static enum MHD_Result
http_finish(struct http_request *req)
{
	const struct route *rt = req->route;
	unsigned denied;

	if (!http_deadline_claim(req->hc))
		return MHD_NO; /* out of time: answered 408 already */
	if (req->too_large) {
		http_refused(req, 413, "payload_too_large");
		return http_queue_error(req, 413, "payload_too_large",
					"request body is over the limit of %zu bytes",
					snapshot_max_body(req->snap));
	}
	if (req->over_budget)
		return http_queue_error(req, 503, "body_budget_exhausted",
					"request body outgrew what the service may hold at once, "
					"max_inflight_body_bytes (%zu bytes); retry later",
					snapshot_max_inflight_body(req->snap));
	if (rt == NULL && req->path_known)
		return http_queue_error(req, 405, "method_not_allowed",
					"method %s is not allowed on %s (allowed: %s)", req->pub.method,
					req->pub.path, req->allow);
	if (rt == NULL)
		return http_queue_error(req, 404, "not_found", "no such endpoint: %s", req->pub.path);
	if (rt->flags & RULSRV_ROUTE_ADMIN) {
		denied = auth_check(snapshot_admin_token(req->snap),
				    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION),
				    req->pub.from_loopback);
		if (denied == 401)
			return http_queue_error(req, 401, "unauthorized",
						"this endpoint needs a valid bearer token");
		if (denied == 403)
			return http_queue_error(req, 403, "forbidden",
						"this endpoint is accepted from loopback only");
	}
	if (req->body != NULL) {
		req->pub.body = req->body;
		req->pub.body_len = req->len;
	}
	rt->fn(rt->ud, &req->pub, &req->resp);
	if (req->resp.deferred)
		return http_await(req);
	return http_queue(req, &req->resp);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct http_request *req = *req_cls;

	if (req == NULL)
		return http_begin(cls, conn, url, method, req_cls);
	if (*upload_data_size > 0) {
		bool more = http_take_body(req, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return more ? MHD_YES : MHD_NO;
	}
	if (req->queued)
		return MHD_YES;
	if (req->resp.deferred)
		return http_resumed(req);
	return http_finish(req);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
	       enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *req_cls;
	struct http_server *srv = cls;
	char code[16];

	if (req == NULL)
		return;
	*req_cls = NULL;
	http_deadline_end(req->hc); /* first: a 408 set by the deadline watcher is visible after it */
	if (req->status == 0) {
		/* libmicrohttpd answered itself (400 for a broken chunked body): count it all the same */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

		if (ci != NULL)
			req->status = ci->http_status;
	}
	if (req->status != 0) {
		const char *labels[] = { req->handler, code };
		double took = clocks_since(&req->start);

		snprintf(code, sizeof(code), "%u", req->status);
		if (log_enabled(RULSRV_LOG_DEBUG))
			log_debug("service '%s': %s %s %u %zu bytes in, %.3f ms%s", srv->name,
				  req->log_method, req->log_path, req->status, req->len, took * 1e3,
				  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not completed)");
		metrics_counter_add(metrics_series(srv->site.requests, labels), 1);
		/* the duration family has the handler label only: the first value */
		metrics_histogram_observe(metrics_series(srv->site.duration, labels), took);
	}
	if (req->linger && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		/* the refusal is sent and libmicrohttpd closes next: the socket lingers instead */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci != NULL)
			http_linger_adopt(srv->linger, ci->connect_fd, !srv->tls);
	}
	metrics_gauge_add(srv->site.inflight, -1);
	snapshot_unref(req->snap);
	body_release(req); /* every way a request ends comes here: the budget cannot leak */
	free(req->body);
	free(req);
	atomic_fetch_sub(&srv->inflight, 1);
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_msg(RULSRV_LOG_INFO, "service '%s': libmicrohttpd: %s", ((struct http_server *)cls)->name,
		msg);
}

/* ---- core routes ---------------------------------------------------------------------------- */

static char *
dup_text(const char *s, size_t *len)
{
	*len = strlen(s);
	return strdup(s);
}

static void
http_healthz(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	size_t len;
	char *body = dup_text("{\"status\":\"ok\"}", &len);

	http_respond(resp, 200, "application/json", body, len);
}

static void
http_readyz(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct http_request *r = http_request_of(req);
	char reason[512];
	size_t len;
	char *body;

	if (atomic_load(&r->srv->draining)) {
		http_respond_error(resp, 503, "not_ready", "shutting down");
		return;
	}
	if (!snapshot_ready(r->snap, reason, sizeof(reason))) {
		http_respond_error(resp, 503, "not_ready", "%s", reason);
		return;
	}
	body = dup_text("{\"status\":\"ready\"}", &len);
	http_respond(resp, 200, "application/json", body, len);
}

static void
http_reload(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct http_server *srv = ud;
	char msg[1024] = "";
	size_t len;
	char *body;

	if (srv->site.reload == NULL || srv->site.reload(srv->site.ud, msg, sizeof(msg)) < 0) {
		http_respond_error(resp, 500, "reload_failed", "%s",
				   msg[0] != '\0' ? msg : "reload failed");
		return;
	}
	body = dup_text("{\"status\":\"reloaded\"}", &len);
	http_respond(resp, 200, "application/json", body, len);
}

int
http_core_routes_add(struct http_server *srv, struct snapshot *snap)
{
	int r;

	if ((r = snapshot_route_add(snap, "GET", "/healthz", 0, http_healthz, srv, NULL)) < 0 ||
	    (r = snapshot_route_add(snap, "GET", "/readyz", 0, http_readyz, srv, NULL)) < 0)
		return r;
	return snapshot_route_add(snap, "POST", "/-/reload", RULSRV_ROUTE_ADMIN, http_reload, srv,
				  NULL);
}

/* ---- request deadlines ---------------------------------------------------------------------- */

/*
 * Write the 408 ourselves: libmicrohttpd has no way to answer a request it is still
 * receiving. Safe because nothing else writes to a connection whose body is arriving (the
 * handler's answer needs http_deadline_claim, which now fails). Best effort: the socket
 * buffer of a connection that sent little is empty, so the whole answer fits.
 */
static void
send_408(int fd, unsigned timeout_s)
{
	char msg[128], head[256];
	size_t blen = 0;
	char *body;
	int hlen;

	snprintf(msg, sizeof(msg), "the request was not complete within %u s", timeout_s);
	body = http_error_body("request_timeout", msg, &blen);
	if (body == NULL)
		return;
	hlen = snprintf(head, sizeof(head),
			"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", blen);
	if (send(fd, head, (size_t)hlen, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE) == hlen)
		(void)send(fd, body, blen, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(body);
}

/* A connection ran out of time (the watcher thread, under the deadline lock). */
static void
http_expired(void *ud, void *r, int fd)
{
	struct http_server *srv = ud;
	struct http_request *req = r;

	if (req != NULL) {
		/* counted as a 408 of its route by http_completed, which reads it after _end */
		req->status = 408;
		http_refused(req, 408, "request_timeout");
		if (!srv->tls)
			send_408(fd, srv->timeout_s);
	}
	metrics_counter_add(srv->site.timeouts[req != NULL ? 1 : 0], 1);
	if (log_enabled(RULSRV_LOG_DEBUG))
		log_debug("service '%s': closed a connection that took over %u s to send %s",
			  srv->name, srv->timeout_s, req != NULL ? "its request body" : "a request");
}

/* ---- the daemon ----------------------------------------------------------------------------- */

static char *
read_tls_file(const char *path, char *err, size_t err_len)
{
	char ebuf[128];
	char *buf;
	int r;

	r = read_file(path, TLS_FILE_MAX, &buf, NULL);
	if (r < 0) {
		snprintf(err, err_len, "cannot read '%s': %s", path, strerror_r(-r, ebuf, sizeof(ebuf)));
		return NULL;
	}
	return buf;
}

struct http_server *
http_server_new(const struct http_site *site)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	srv->site = *site;
	srv->quiesced_fd = -1;
	srv->name = strdup(site->name);
	if (srv->name == NULL) {
		free(srv);
		return NULL;
	}
	srv->site.name = srv->name;
	atomic_init(&srv->draining, false);
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->suspended, 0);
	atomic_init(&srv->body_held, 0);
	return srv;
}

void
http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	http_stop(srv);
	if (srv->mhd != NULL)
		return; /* left running for unanswered deferred requests: it still uses srv */
	free(srv->name);
	free(srv);
}

int
http_start(struct http_server *srv, int fd, const struct config_service *sv, char *err,
	   size_t err_len)
{
	struct MHD_OptionItem ops[14];
	/* poll(), not epoll: with epoll, libmicrohttpd 0.9.75's MHD_quiesce_daemon and its
	 * polling threads both take the listening socket out of the epoll set, and whichever
	 * loses the race gets ENOENT and calls abort() ("Failed to remove listen FD from epoll
	 * set", daemon.c: the worker-pool loop of MHD_quiesce_daemon, the connection-limit
	 * branch of MHD_epoll); 1 of 750 SIGTERMs under load here (bench/shutdowns.sh). With
	 * poll() quiesce only flags the threads and wakes them through the ITC. The cost is
	 * measured in docs/BENCHMARKS.md ("poll against epoll"). */
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	size_t n = 0;

	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, sv->max_connections, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, sv->connection_timeout, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, srv };
	if (sv->threads > 1)
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, sv->threads, NULL };
	if (sv->tls_cert_file != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, err_len, "this libmicrohttpd has no TLS support");
			close(fd);
			return -ENOTSUP;
		}
		cert = read_tls_file(sv->tls_cert_file, err, err_len);
		key = cert != NULL ? read_tls_file(sv->tls_key_file, err, err_len) : NULL;
		if (key == NULL) {
			free(cert);
			close(fd);
			return -EIO;
		}
		flags |= MHD_USE_TLS;
		srv->tls = true;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key };
	}
	if (sv->request_timeout > 0) {
		srv->timeout_s = sv->request_timeout;
		srv->deadlines = http_deadlines_new(sv->request_timeout, http_expired, srv);
		if (srv->deadlines == NULL) {
			snprintf(err, err_len, "cannot watch request deadlines");
			free(cert);
			free(key);
			close(fd);
			return -ENOMEM;
		}
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
						    (intptr_t)http_deadlines_notify, srv->deadlines };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	/* without it a refusal closes at once, as libmicrohttpd does: worse, not broken */
	srv->linger = http_linger_new();
	if (srv->linger == NULL)
		log_warning("service '%s': no lingering close: cannot start its thread", srv->name);
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, srv, MHD_OPTION_ARRAY, ops,
				    MHD_OPTION_END);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	if (srv->mhd == NULL) {
		snprintf(err, err_len, "libmicrohttpd refused to start (see the lines above)");
		http_deadlines_free(srv->deadlines);
		srv->deadlines = NULL;
		http_linger_free(srv->linger);
		srv->linger = NULL;
		return -EIO;
	}
	return 0;
}

void
http_quiesce(struct http_server *srv)
{
	int fd;

	atomic_store(&srv->draining, true);
	if (srv->mhd == NULL)
		return;
	fd = MHD_quiesce_daemon(srv->mhd);
	if (fd >= 0 && srv->quiesced_fd < 0)
		srv->quiesced_fd = fd; /* closed by http_stop, after the daemon */
}

long
http_inflight(const struct http_server *srv)
{
	return atomic_load(&srv->inflight);
}

void
http_stop(struct http_server *srv)
{
	long waiting = atomic_load(&srv->suspended);

	if (srv->mhd != NULL && waiting > 0) {
		log_err("service '%s': %ld deferred requests were never answered; the listener is "
			"left open", srv->name, waiting);
		return;
	}
	if (srv->mhd != NULL)
		MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	if (srv->quiesced_fd >= 0)
		close(srv->quiesced_fd);
	srv->quiesced_fd = -1;
	/* after the daemon: its last connections say CLOSED while it stops */
	http_deadlines_free(srv->deadlines);
	srv->deadlines = NULL;
	http_linger_free(srv->linger); /* after the daemon too: its last refusals linger here */
	srv->linger = NULL;
}

size_t
http_body_bytes_held(const struct http_server *srv)
{
	return atomic_load_explicit(&srv->body_held, memory_order_relaxed);
}
