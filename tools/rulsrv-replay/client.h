/* SPDX-License-Identifier: MIT */
/* client.h - the HTTP client: libcurl multi, kept-alive connections, bounded and rate limited. */
#ifndef REPLAY_CLIENT_H
#define REPLAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "payload.h"

struct client;

/* The outcome of one request; valid only during the done callback (or until the next
 * client_request). */
struct client_result {
	long status;       /* HTTP status; 0 when no response came (transport error) */
	int curl_code;     /* CURLE_OK, or why the transfer failed */
	const char *error; /* curl's message when curl_code != CURLE_OK, else "" */
	const char *url;
	const char *body;  /* response body, NUL-terminated */
	size_t body_len;
};

/* Called from client_poll for each finished request, with the user and tag given at post. */
typedef void (*client_done_fn)(void *arg, void *user, int tag, const struct client_result *r);

/*
 * concurrency: requests in flight at most; rate: requests started per second at most (0: no
 * limit); timeout: seconds per request; token: sent as "Authorization: Bearer" on requests
 * posted with auth (copied; may be NULL). Returns NULL when libcurl cannot be set up.
 */
struct client *client_new(size_t concurrency, double rate, double timeout, const char *token,
			  client_done_fn done, void *arg);
void client_free(struct client *c);

/*
 * Retry a request up to max_retries times when no answer came or the answer was 502, 503 or
 * 504: after the answer's Retry-After, else first_delay seconds doubled at each retry (at most
 * 5 s). A request being retried stays in flight; done sees only its last outcome. Default: 0.
 */
void client_set_retries(struct client *c, unsigned max_retries, double first_delay);
/* Retries made so far, all requests. */
size_t client_retries(const struct client *c);

/* Can a request start now (a free slot and the rate allows)? */
bool client_ready(struct client *c);
size_t client_in_flight(const struct client *c);

/* Start POST url with a JSON body (copied). -EBUSY when no slot is free. */
int client_post(struct client *c, const char *url, const char *body, size_t len, bool auth,
		void *user, int tag);

/* Start DELETE url (no body), like client_post. */
int client_delete(struct client *c, const char *url, bool auth, void *user, int tag);

/* Drive transfers for up to timeout_ms (less when the rate limit frees a start sooner) and
 * report the finished ones through the done callback. */
int client_poll(struct client *c, int timeout_ms);

/* One blocking request outside the pool (the control plane): method "GET" or "POST", body
 * NULL for none. Returns 0 and fills r (valid until the next call), -ENOMEM on failure.
 * A transport error is not a failure here: r->curl_code says it. */
int client_request(struct client *c, const char *method, const char *url, const char *body,
		   bool auth, struct client_result *r);

#endif
