/* SPDX-License-Identifier: MIT */
/* http_deadline.c - request_timeout_seconds: a watcher thread closes connections out of time. */
#include "http_deadline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clocks.h"

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
	void *req; /* RECEIVING and ANSWERING: the request (alive until _end) */
};

struct http_deadlines {
	unsigned timeout_s;
	http_deadline_expired_fn expired;
	void *ud;
	pthread_mutex_t lock; /* the list, and every connection's phase, since and req */
	pthread_cond_t wake;
	bool stop;
	bool started;
	pthread_t thread;
	struct http_conn *head;
};

/* Called with the lock held: the owner answers or counts, then the stream ends. */
static void
time_out(struct http_deadlines *d, struct http_conn *hc)
{
	bool receiving = hc->phase == PHASE_RECEIVING && hc->req != NULL;

	d->expired(d->ud, receiving ? hc->req : NULL, hc->fd);
	hc->phase = PHASE_TIMED_OUT;
	/* libmicrohttpd sees the end of the stream and closes the connection itself */
	shutdown(hc->fd, SHUT_RDWR);
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
			    clocks_between(&hc->since, &now) >= (double)d->timeout_s)
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
http_deadlines_new(unsigned timeout_s, http_deadline_expired_fn expired, void *ud)
{
	struct http_deadlines *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int r;

	if (d == NULL)
		return NULL;
	d->timeout_s = timeout_s;
	d->expired = expired;
	d->ud = ud;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&d->thread, NULL, watch, d);
	if (r != 0) {
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

struct http_conn *
http_deadline_begin(struct MHD_Connection *conn, void *req, bool *alive)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci != NULL ? ci->socket_context : NULL;

	*alive = true;
	if (hc == NULL)
		return NULL;
	pthread_mutex_lock(&hc->owner->lock);
	*alive = hc->phase != PHASE_TIMED_OUT;
	if (*alive) {
		hc->phase = PHASE_RECEIVING;
		hc->req = req;
	}
	pthread_mutex_unlock(&hc->owner->lock);
	return *alive ? hc : NULL;
}

bool
http_deadline_claim(struct http_conn *hc)
{
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
http_deadline_end(struct http_conn *hc)
{
	if (hc == NULL)
		return;
	pthread_mutex_lock(&hc->owner->lock);
	hc->req = NULL;
	if (hc->phase != PHASE_TIMED_OUT) {
		hc->phase = PHASE_WAITING;
		clock_gettime(CLOCK_MONOTONIC, &hc->since);
	}
	pthread_mutex_unlock(&hc->owner->lock);
}
