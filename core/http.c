/* SPDX-License-Identifier: MIT */
/* http.c - libmicrohttpd glue: per-request state, routing, body limit, responses, core routes. */
#include "http.h"
#include "http_private.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "config.h"
#include "http_deadline.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "snapshot.h"

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
};

static double
elapsed_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- responses ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		 : (s[0] & 0xf8) == 0xf0 ? 4 : 0, i;

	if (n == 0 || (n == 2 && s[0] < 0xc2) || (n == 4 && s[0] > 0xf4))
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Messages may quote client bytes: invalid UTF-8 becomes U+FFFD, so the answer stays JSON. */
char *
http_error_body(const char *code, const char *message, size_t *len)
{
	size_t n = strlen(code) + 6 * strlen(message) + 64, off, k;
	char *out = malloc(n);
	const char *p;

	if (out == NULL)
		return NULL;
	off = (size_t)snprintf(out, n, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
	for (p = message; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			off += (size_t)snprintf(out + off, n - off, "\\%c", c);
		else if (c < 0x20)
			off += (size_t)snprintf(out + off, n - off, "\\u%04x", c);
		else if (c < 0x80)
			out[off++] = (char)c;
		else if ((k = utf8_seq((const unsigned char *)p)) == 0)
			off += (size_t)snprintf(out + off, n - off, "\\ufffd");
		else {
			memcpy(out + off, p, k);
			off += k;
			p += k - 1;
		}
	}
	off += (size_t)snprintf(out + off, n - off, "\"}}");
	*len = off;
	return out;
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
	(void)resp;
	return -ENOSYS;
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
	if (atomic_load(&req->svc->draining))
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
	resp.body = http_error_body(code, msg, &len);
	resp.len = len;
	if (status == 405)
		http_respond_header(&resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (status == 401)
		http_respond_header(&resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
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

/* The snapshot's copy of path when some route has it, else "other" (bounded cardinality). */
static const char *
http_known_path(const struct snapshot *snap, const char *path)
{
	size_t i;

	for (i = 0; i < snap->route_count; i++)
		if (strcmp(snap->routes[i].path, path) == 0)
			return snap->routes[i].path;
	return "other";
}

void
http_refused(const struct http_request *req, unsigned status, const char *code)
{
	const struct route *rt = req->route;

	if (rt != NULL && rt->refusal_fn != NULL)
		rt->refusal_fn(rt->refusal_ud, status, code);
}

/* First call: the headers are in. Route the request and refuse early what can be refused. */
static enum MHD_Result
http_begin(struct service *svc, struct MHD_Connection *conn, const char *url, const char *method,
	   void **req_cls)
{
	struct http_request *req = calloc(1, sizeof(*req));
	unsigned long long length;
	const char *cl;
	struct timespec now;

	if (req == NULL)
		return MHD_NO;
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	clock_gettime(CLOCK_REALTIME, &now);
	req->conn = conn;
	req->svc = svc;
	req->snap = service_acquire(svc);
	req->pub.method = method;
	req->pub.path = url;
	req->pub.body = "";
	req->pub.from_loopback = http_is_loopback(conn);
	req->pub.received_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	http_parse_content_type(req);
	*req_cls = req;
	atomic_fetch_add(&svc->inflight, 1);
	metrics_gauge_add(svc->s_inflight, 1);
	if (!http_deadline_begin(req))
		return MHD_NO;
	req->route = snapshot_route_find(req->snap, method, url, &req->path_known, req->allow,
					 sizeof(req->allow));
	/* The label must outlive the connection's memory: a route path of the snapshot. */
	req->handler = req->route != NULL ? req->route->path : http_known_path(req->snap, url);
	if (log_enabled(RULSRV_LOG_DEBUG)) {
		snprintf(req->log_path, sizeof(req->log_path), "%s", url);
		snprintf(req->log_method, sizeof(req->log_method), "%s", method);
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	length = cl != NULL ? strtoull(cl, NULL, 10) : 0;
	if (length > req->snap->max_body_bytes) {
		req->too_large = true;
		if (!http_deadline_claim(req))
			return MHD_NO;
		http_refused(req, 413, "payload_too_large");
		return http_queue_error(req, 413, "payload_too_large",
					"request body of %llu bytes is over the limit of %zu bytes", length,
					req->snap->max_body_bytes);
	}
	/* The announced size at once: the body then arrives without a realloc. */
	if (length > 0 && req->route != NULL) {
		req->body = malloc((size_t)length + 1);
		req->cap = req->body != NULL ? (size_t)length + 1 : 0;
		if (req->body != NULL)
			req->body[0] = '\0';
	}
	return MHD_YES;
}

/* Keep the body of a routed request, up to the limit; discard everything else. */
static void
http_take_body(struct http_request *req, const char *data, size_t size)
{
	size_t need;
	char *nb;

	if (req->route == NULL || req->too_large || req->queued)
		return;
	if (req->len + size > req->snap->max_body_bytes) {
		req->too_large = true;
		free(req->body);
		req->body = NULL;
		req->len = req->cap = 0;
		return;
	}
	need = req->len + size + 1;
	if (need > req->cap) {
		size_t cap = req->cap > 0 ? req->cap : 4096;

		while (cap < need)
			cap *= 2;
		nb = realloc(req->body, cap);
		if (nb == NULL) {
			req->too_large = true;
			return;
		}
		req->body = nb;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	req->body[req->len] = '\0';
}

/* Last call: the whole body is in. */
static enum MHD_Result
http_finish(struct http_request *req)
{
	struct rulsrv_response resp = { 0 };
	const struct route *rt = req->route;
	unsigned denied;

	if (!http_deadline_claim(req))
		return MHD_NO; /* out of time: answered 408 already */
	if (req->too_large) {
		http_refused(req, 413, "payload_too_large");
		return http_queue_error(req, 413, "payload_too_large",
					"request body is over the limit of %zu bytes",
					req->snap->max_body_bytes);
	}
	if (rt == NULL && req->path_known)
		return http_queue_error(req, 405, "method_not_allowed",
					"method %s is not allowed on %s (allowed: %s)", req->pub.method,
					req->pub.path, req->allow);
	if (rt == NULL)
		return http_queue_error(req, 404, "not_found", "no such endpoint: %s", req->pub.path);
	if (rt->flags & RULSRV_ROUTE_ADMIN) {
		denied = auth_check(req->snap->admin_token,
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
	rt->fn(rt->ud, &req->pub, &resp);
	return http_queue(req, &resp);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct http_request *req = *req_cls;

	if (req == NULL)
		return http_begin(cls, conn, url, method, req_cls);
	if (*upload_data_size > 0) {
		http_take_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->queued)
		return MHD_YES;
	return http_finish(req);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
	       enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *req_cls;
	struct service *svc = cls;
	char code[16];

	if (req == NULL)
		return;
	*req_cls = NULL;
	http_deadline_end(req); /* first: a 408 set by the deadline watcher is visible after it */
	if (req->status == 0) {
		/* libmicrohttpd answered itself (400 for a broken chunked body): count it all the same */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

		if (ci != NULL)
			req->status = ci->http_status;
	}
	if (req->status != 0) {
		const char *labels[] = { req->handler, code };
		double took = elapsed_since(&req->start);

		snprintf(code, sizeof(code), "%u", req->status);
		if (log_enabled(RULSRV_LOG_DEBUG))
			log_debug("service '%s': %s %s %u %zu bytes in, %.3f ms%s", svc->name,
				  req->log_method, req->log_path, req->status, req->len, took * 1e3,
				  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not completed)");
		metrics_counter_add(metrics_series(svc->m_requests, labels), 1);
		/* the duration family has the handler label only: the first value */
		metrics_histogram_observe(metrics_series(svc->m_duration, labels), took);
	}
	metrics_gauge_add(svc->s_inflight, -1);
	snapshot_unref(req->snap);
	free(req->body);
	free(req);
	atomic_fetch_sub(&svc->inflight, 1);
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_msg(RULSRV_LOG_INFO, "service '%s': libmicrohttpd: %s", service_name(cls), msg);
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

	if (atomic_load(&r->svc->draining)) {
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
	struct service *svc = ud;
	char msg[1024] = "";
	size_t len;
	char *body;

	if (svc->reload == NULL || svc->reload(svc->reload_ud, msg, sizeof(msg)) < 0) {
		http_respond_error(resp, 500, "reload_failed", "%s",
				   msg[0] != '\0' ? msg : "reload failed");
		return;
	}
	body = dup_text("{\"status\":\"reloaded\"}", &len);
	http_respond(resp, 200, "application/json", body, len);
}

int
http_core_routes_add(struct snapshot *snap)
{
	int r;

	if ((r = snapshot_route_add(snap, "GET", "/healthz", 0, http_healthz, snap->service, NULL)) < 0 ||
	    (r = snapshot_route_add(snap, "GET", "/readyz", 0, http_readyz, snap->service, NULL)) < 0)
		return r;
	return snapshot_route_add(snap, "POST", "/-/reload", RULSRV_ROUTE_ADMIN, http_reload,
				  snap->service, NULL);
}

/* ---- the daemon ----------------------------------------------------------------------------- */

static char *
read_whole(const char *path, char *err, size_t err_len)
{
	char ebuf[128];
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;
	long size;

	if (f == NULL) {
		snprintf(err, err_len, "cannot read '%s': %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf != NULL) {
			n = fread(buf, 1, (size_t)size, f);
			buf[n] = '\0';
		}
	}
	fclose(f);
	if (buf == NULL)
		snprintf(err, err_len, "cannot read '%s'", path);
	return buf;
}

struct MHD_Daemon *
http_start(struct service *svc, int fd, const struct config_service *sv, char *err, size_t err_len)
{
	struct MHD_OptionItem ops[14];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	struct MHD_Daemon *d;
	size_t n = 0;

	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, svc };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, sv->max_connections, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, sv->connection_timeout, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, svc };
	if (sv->threads > 1)
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, sv->threads, NULL };
	if (sv->tls_cert_file != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, err_len, "this libmicrohttpd has no TLS support");
			close(fd);
			return NULL;
		}
		cert = read_whole(sv->tls_cert_file, err, err_len);
		key = cert != NULL ? read_whole(sv->tls_key_file, err, err_len) : NULL;
		if (key == NULL) {
			free(cert);
			close(fd);
			return NULL;
		}
		flags |= MHD_USE_TLS;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key };
	}
	if (sv->request_timeout > 0) {
		svc->deadlines = http_deadlines_new(svc, sv->request_timeout, sv->tls_cert_file != NULL);
		if (svc->deadlines == NULL) {
			snprintf(err, err_len, "cannot watch request deadlines");
			free(cert);
			free(key);
			close(fd);
			return NULL;
		}
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
						    (intptr_t)http_deadlines_notify, svc->deadlines };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, svc, MHD_OPTION_ARRAY, ops,
			     MHD_OPTION_END);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	if (d == NULL) {
		snprintf(err, err_len, "libmicrohttpd refused to start (see the lines above)");
		http_deadlines_free(svc->deadlines);
		svc->deadlines = NULL;
	}
	return d;
}

void
http_stop(struct service *svc)
{
	if (svc->mhd != NULL)
		MHD_stop_daemon(svc->mhd);
	svc->mhd = NULL;
	/* after the daemon: its last connections say CLOSED while it stops */
	http_deadlines_free(svc->deadlines);
	svc->deadlines = NULL;
}
