/* SPDX-License-Identifier: MIT */
/* http_linger.c - lingering close: one thread reads and discards refused bodies, then closes. */
#include "http_linger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clocks.h"

/* How often the bounds are looked at: each is kept to within this much. */
#define LINGER_TICK_MS 250

struct linger_sock {
	struct linger_sock *prev, *next;
	int fd;        /* our duplicate: the socket stays open until we close it */
	double since;  /* clocks_monotonic() when adopted */
	double last;   /* ... when the client last sent a byte */
	size_t bytes;  /* read and discarded */
};

struct http_linger {
	int epfd;
	int wake; /* eventfd: stop */
	pthread_t thread;
	pthread_mutex_t lock; /* the list and count: adopt runs on libmicrohttpd's threads */
	struct linger_sock *head;
	size_t count;
	char sink[64 * 1024]; /* where discarded bytes go (the lingering thread only) */
};

/* Unlink and close (the lingering thread, or free once it stopped). */
static void
linger_close(struct http_linger *l, struct linger_sock *ls)
{
	pthread_mutex_lock(&l->lock);
	if (ls->prev != NULL)
		ls->prev->next = ls->next;
	else
		l->head = ls->next;
	if (ls->next != NULL)
		ls->next->prev = ls->prev;
	l->count--;
	pthread_mutex_unlock(&l->lock);
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
	close(ls->fd);
	free(ls);
}

/* Read what is there and throw it away. false: the socket is done (closed, reset, too much). */
static bool
linger_drain(struct http_linger *l, struct linger_sock *ls, double now)
{
	ssize_t n;

	for (;;) {
		n = recv(ls->fd, l->sink, sizeof(l->sink), MSG_DONTWAIT);
		if (n > 0) {
			ls->bytes += (size_t)n;
			ls->last = now;
			if (ls->bytes >= HTTP_LINGER_MAX_BYTES)
				return false;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		return false; /* 0: the client closed; else reset */
	}
}

/* Close every socket whose time is up (the lingering thread). */
static void
linger_expire(struct http_linger *l, double now)
{
	struct linger_sock *ls, *next;

	pthread_mutex_lock(&l->lock);
	ls = l->head;
	pthread_mutex_unlock(&l->lock);
	/* only this thread removes: the part of the list after a node stays valid unlocked,
	 * and adopt pushes at the head, before it */
	for (; ls != NULL; ls = next) {
		pthread_mutex_lock(&l->lock);
		next = ls->next;
		pthread_mutex_unlock(&l->lock);
		if (now - ls->since >= HTTP_LINGER_TIME_S || now - ls->last >= HTTP_LINGER_TIMEOUT_S)
			linger_close(l, ls);
	}
}

static void *
linger_run(void *arg)
{
	struct http_linger *l = arg;
	struct epoll_event ev[64];
	int i, n;

	for (;;) {
		double now;

		n = epoll_wait(l->epfd, ev, 64, LINGER_TICK_MS);
		now = clocks_monotonic();
		for (i = 0; i < n; i++) {
			struct linger_sock *ls = ev[i].data.ptr;

			if (ls == NULL)
				return NULL; /* the eventfd: stop */
			if (!linger_drain(l, ls, now))
				linger_close(l, ls);
		}
		linger_expire(l, now);
	}
}

struct http_linger *
http_linger_new(void)
{
	struct http_linger *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (l == NULL)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wake < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake, &ev) < 0 ||
	    pthread_create(&l->thread, NULL, linger_run, l) != 0) {
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wake >= 0)
			close(l->wake);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return NULL;
	}
	return l;
}

void
http_linger_free(struct http_linger *l)
{
	uint64_t one = 1;

	if (l == NULL)
		return;
	if (write(l->wake, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write cannot fail short of a bug: never leave the thread */
	pthread_join(l->thread, NULL);
	while (l->head != NULL)
		linger_close(l, l->head);
	close(l->wake);
	close(l->epfd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

bool
http_linger_adopt(struct http_linger *l, int fd, bool shut_write)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct linger_sock *ls;
	bool room;

	if (l == NULL || fd < 0)
		return false;
	pthread_mutex_lock(&l->lock);
	room = l->count < HTTP_LINGER_MAX_SOCKETS;
	if (room)
		l->count++; /* the place is ours: given back below on failure */
	pthread_mutex_unlock(&l->lock);
	if (!room)
		return false;
	ls = calloc(1, sizeof(*ls));
	if (ls != NULL)
		ls->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (ls == NULL || ls->fd < 0) {
		free(ls);
		pthread_mutex_lock(&l->lock);
		l->count--;
		pthread_mutex_unlock(&l->lock);
		return false;
	}
	/* the answer is out: the client sees its end after it (nginx shuts the write side too) */
	if (shut_write)
		shutdown(ls->fd, SHUT_WR);
	ls->since = ls->last = clocks_monotonic();
	ev.data.ptr = ls;
	pthread_mutex_lock(&l->lock);
	ls->next = l->head;
	if (l->head != NULL)
		l->head->prev = ls;
	l->head = ls;
	pthread_mutex_unlock(&l->lock);
	/* level-triggered: bytes already waiting are reported at once. Should the add fail,
	 * the socket is still closed by its timeout. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_ADD, ls->fd, &ev);
	return true;
}
