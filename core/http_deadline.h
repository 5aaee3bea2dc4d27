/* SPDX-License-Identifier: MIT */
/* http_deadline.h - request_timeout_seconds: every request must arrive whole in time. */
#ifndef RULSRV_HTTP_DEADLINE_H
#define RULSRV_HTTP_DEADLINE_H

#include <stdbool.h>

#include <microhttpd.h>

struct http_deadlines;
struct http_request;
struct service;

/*
 * libmicrohttpd's own timeout is an idle timeout: a client that sends a byte now and then
 * (slowloris) keeps its connection for ever. These deadlines bound the time a connection may
 * take to deliver each whole request, counted from its opening or from the end of its
 * previous answer. When one passes while a request's body is still arriving, the client gets
 * 408 request_timeout (on plain HTTP) and the connection is closed; while it waits for
 * headers, the connection is closed without a word, as an idle keep-alive connection may be.
 * A request whose body is complete is never cut: its handler may take as long as it needs.
 */

/* Watch svc's connections: timeout_s > 0; tls: answer nothing, just close. NULL when out of memory. */
struct http_deadlines *http_deadlines_new(struct service *svc, unsigned timeout_s, bool tls);
/* Stop watching. Call after the MHD daemon has stopped (it closed every connection). */
void http_deadlines_free(struct http_deadlines *d);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the struct http_deadlines. */
void http_deadlines_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			   enum MHD_ConnectionNotificationCode code);

/*
 * The request's headers are in (its first call): attach it to its connection's deadline.
 * false when the deadline already passed: the request must be dropped (MHD_NO).
 */
bool http_deadline_begin(struct http_request *req);
/*
 * The request is about to be answered (handler or refusal): its deadline no longer applies.
 * false when it passed first: the client has had its 408, the request must be dropped.
 */
bool http_deadline_claim(struct http_request *req);
/* The request is over (NOTIFY_COMPLETED): the next one's time starts now. */
void http_deadline_end(struct http_request *req);

#endif
