/* SPDX-License-Identifier: MIT */
/* http_deadline.h - request_timeout_seconds: every request must arrive whole in time. */
#ifndef RULSRV_HTTP_DEADLINE_H
#define RULSRV_HTTP_DEADLINE_H

#include <stdbool.h>

#include <microhttpd.h>

struct http_conn;
struct http_deadlines;

/*
 * libmicrohttpd's own timeout is an idle timeout: a client that sends a byte now and then
 * (slowloris) keeps its connection for ever. These deadlines bound the time a connection may
 * take to deliver each whole request, counted from its opening or from the end of its
 * previous answer. When one passes while a request's body is still arriving, the client gets
 * 408 request_timeout (on plain HTTP) and the connection is closed; while it waits for
 * headers, the connection is closed without a word, as an idle keep-alive connection may be.
 * A request whose body is complete is never cut: its handler may take as long as it needs,
 * and a deferred answer as long as the plugin takes to give it.
 */

/*
 * A connection's time ran out. req is what http_deadline_begin attached (the request whose
 * body is still arriving), or NULL when the connection was waiting for its next request's
 * headers; fd is its socket, still open: the callback may write a last answer to it. Called
 * on the watcher thread with the deadline lock held (no http_deadline_* call in it); the
 * connection is shut down right after.
 */
typedef void (*http_deadline_expired_fn)(void *ud, void *req, int fd);

/* Watch connections: timeout_s > 0. NULL when out of memory or without a thread. */
struct http_deadlines *http_deadlines_new(unsigned timeout_s, http_deadline_expired_fn expired,
					  void *ud);
/* Stop watching. Call after the MHD daemon has stopped (it closed every connection). */
void http_deadlines_free(struct http_deadlines *d);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the struct http_deadlines. */
void http_deadlines_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			   enum MHD_ConnectionNotificationCode code);

/*
 * The headers of req are in (its first call): attach it to its connection's deadline, whose
 * handle is returned (NULL for a connection without one). *alive is false when the deadline
 * already passed: the request must be dropped (MHD_NO).
 */
struct http_conn *http_deadline_begin(struct MHD_Connection *conn, void *req, bool *alive);
/*
 * The request is about to be answered (handler or refusal): its deadline no longer applies,
 * also while a deferred answer is awaited. false when it passed first: the client has had
 * its 408, the request must be dropped. hc may be NULL (no deadline: true).
 */
bool http_deadline_claim(struct http_conn *hc);
/* The request is over (NOTIFY_COMPLETED): the next one's time starts now. hc may be NULL. */
void http_deadline_end(struct http_conn *hc);

#endif
