/* SPDX-License-Identifier: MIT */
/* http_linger.h - lingering close: drain a refused body for a while before the socket closes. */
#ifndef RULSRV_HTTP_LINGER_H
#define RULSRV_HTTP_LINGER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * When the service refuses a request whose body is still arriving (413 on a Content-Length
 * over max_body_bytes, 503 over max_inflight_body_bytes), libmicrohttpd sends the answer and
 * closes the socket at once. Closing a TCP socket with unread bytes in its receive buffer
 * makes the kernel send a reset, and a reset makes the client's kernel throw away what it had
 * received and not read yet: a client that writes its whole body before it reads sees
 * "connection reset" instead of the 413. nginx's lingering close avoids that, and so does this:
 * the socket is kept open (a duplicate of its descriptor), its write side shut down after the
 * answer, and whatever the client still sends is read and thrown away until it closes, or one
 * of the bounds below passes; only then is the socket closed.
 */

/* Total time one socket may linger (nginx's lingering_time). */
#define HTTP_LINGER_TIME_S 30
/* Time without a byte from the client before the socket is closed (nginx's lingering_timeout). */
#define HTTP_LINGER_TIMEOUT_S 5
/* Bytes read and discarded from one socket before it is closed (nginx has no such bound). */
#define HTTP_LINGER_MAX_BYTES (64u * 1024 * 1024)
/* Sockets lingering at once per service; a refusal past it is closed at once, as before. */
#define HTTP_LINGER_MAX_SOCKETS 256

struct http_linger;

/* A lingering thread with nothing to drain yet; NULL when out of memory or threads. */
struct http_linger *http_linger_new(void);
/* Stop the thread and close every socket still lingering. NULL is fine. */
void http_linger_free(struct http_linger *l);

/*
 * The answer to the request on fd is in the socket's send buffer and its connection is about
 * to be closed by libmicrohttpd: keep a duplicate of fd and drain it within the bounds.
 * shut_write: shut the write side now (plain HTTP; over TLS libmicrohttpd still has its
 * close_notify to send, and shuts it itself). false when it could not (too many sockets
 * lingering, out of descriptors): the connection then closes as it would have. fd itself
 * stays the caller's.
 */
bool http_linger_adopt(struct http_linger *l, int fd, bool shut_write);

#endif
