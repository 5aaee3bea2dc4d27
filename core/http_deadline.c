/* SPDX-License-Identifier: MIT */
/* http_deadline.c - request_timeout_seconds: a watcher thread closes connections out of time. */
#include "http_deadline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "http_private.h"
#include "log.h"
#include "metrics.h"
#include "service.h"

/* How often the watcher looks: a deadline is kept to within this much. */
#define WATCH_INTERVAL_NS (200 * 1000 * 1000L)

enum http_phase {
	PHASE_WAITING,   /* for the headers of its next request */
	PHASE_RECEIVING, /* headers in, body arriving */
	PHASE_ANSWERING, /* the whole request is in: no deadline until it is answered */
	PHASE_TIMED_OUT, /* shut down by the watcher: whatever libmicrohttpd still hands us is dropped */
};

struct http_conn {
	struct http_conn *prev, *next;
	struct http_deadlines *owner;
	int fd;
	struct timespec since; /* CLOCK_MONOTONIC: opened, or its previous answer finished */
	enum http_phase phase;
	struct http_request *req; /* RECEIVING and ANSWERING: the request (alive until _end) */
};

struct http_deadlines {
	struct service *svc;
	unsigned timeout_s;
	bool tls;
	pthread_mutex_t lock; /* the list, and every connection's phase, since and req */
	pthread_cond_t wake;
	bool stop;
	bool started;
	pthread_t thread;
	struct http_conn *head;
};

static double
seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * Write the 408 ourselves: libmicrohttpd has no way to answer a request it is still
 * receiving. Safe because nothing else writes to a connection in PHASE_RECEIVING (the
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

/* Called with the lock held. */
static void
time_out(struct http_deadlines *d, struct http_conn *hc)
{
	bool receiving = hc->phase == PHASE_RECEIVING && hc->req != NULL;

	if (receiving) {
		/* counted as a 408 of its route by http_completed, which reads it after _end */
		hc->req->status = 408;
		http_refused(hc->req, 408, "request_timeout");
		if (!d->tls)
			send_408(hc->fd, d->timeout_s);
	}
	hc->phase = PHASE_TIMED_OUT;
	metrics_counter_add(d->svc->s_timeouts[receiving ? 1 : 0], 1);
	/* libmicrohttpd sees the end of the stream and closes the connection itself */
	shutdown(hc->fd, SHUT_RDWR);
	if (log_enabled(RULSRV_LOG_DEBUG))
		log_debug("service '%s': closed a connection that took over %u s to send %s",
			  service_name(d->svc), d->timeout_s,
			  receiving ? "its request body" : "a request");
}

static void *
watch(void *arg)
{
	struct http_deadlines *d = arg;
	struct http_conn *hc;
	struct timespec now, until;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (hc = d->head; hc != NULL; hc = hc->next)
			if ((hc->phase == PHASE_WAITING || hc->phase == PHASE_RECEIVING) &&
			    seconds_between(&hc->since, &now) >= (double)d->timeout_s)
				time_out(d, hc);
		until = now;
		until.tv_nsec += WATCH_INTERVAL_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->wake, &d->lock, &until);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

struct http_deadlines *
http_deadlines_new(struct service *svc, unsigned timeout_s, bool tls)
{
	struct http_deadlines *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int r;

	if (d == NULL)
		return NULL;
	d->svc = svc;
	d->timeout_s = timeout_s;
	d->tls = tls;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&d->thread, NULL, watch, d);
	if (r != 0) {
		log_err("service '%s': cannot start the request deadline thread: %s",
			service_name(svc), strerror(r));
		http_deadlines_free(d);
		return NULL;
	}
	d->started = true;
	return d;
}

void
http_deadlines_free(struct http_deadlines *d)
{
	struct http_conn *hc, *next;

	if (d == NULL)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->wake);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	/* none left once libmicrohttpd stopped; freed anyway should it ever not say CLOSED */
	for (hc = d->head; hc != NULL; hc = next) {
		next = hc->next;
		free(hc);
	}
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void
http_deadlines_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct http_deadlines *d = cls;
	struct http_conn *hc;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		hc = ci != NULL ? calloc(1, sizeof(*hc)) : NULL;
		*socket_context = hc;
		if (hc == NULL)
			return; /* out of memory: this one connection goes without a deadline */
		hc->owner = d;
		hc->fd = ci->connect_fd;
		hc->phase = PHASE_WAITING;
		clock_gettime(CLOCK_MONOTONIC, &hc->since);
		pthread_mutex_lock(&d->lock);
		hc->next = d->head;
		if (d->head != NULL)
			d->head->prev = hc;
		d->head = hc;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	/* CLOSED comes before libmicrohttpd closes the socket: the watcher never sees a reused fd */
	hc = *socket_context;
	*socket_context = NULL;
	if (hc == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		d->head = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	pthread_mutex_unlock(&d->lock);
	free(hc);
}

bool
http_deadline_begin(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci != NULL ? ci->socket_context : NULL;
	bool alive;

	if (hc == NULL)
		return true;
	pthread_mutex_lock(&hc->owner->lock);
	alive = hc->phase != PHASE_TIMED_OUT;
	if (alive) {
		hc->phase = PHASE_RECEIVING;
		hc->req = req;
		req->hc = hc;
	}
	pthread_mutex_unlock(&hc->owner->lock);
	return alive;
}

bool
http_deadline_claim(struct http_request *req)
{
	struct http_conn *hc = req->hc;
	bool alive;

	if (hc == NULL)
		return true;
	pthread_mutex_lock(&hc->owner->lock);
	alive = hc->phase != PHASE_TIMED_OUT;
	if (alive)
		hc->phase = PHASE_ANSWERING;
	pthread_mutex_unlock(&hc->owner->lock);
	return alive;
}

void
http_deadline_end(struct http_request *req)
{
	struct http_conn *hc = req->hc;

	if (hc == NULL)
		return;
	pthread_mutex_lock(&hc->owner->lock);
	hc->req = NULL;
	if (hc->phase != PHASE_TIMED_OUT) {
		hc->phase = PHASE_WAITING;
		clock_gettime(CLOCK_MONOTONIC, &hc->since);
	}
	pthread_mutex_unlock(&hc->owner->lock);
	req->hc = NULL;
}
