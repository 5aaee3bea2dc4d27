/* SPDX-License-Identifier: MIT */
/* commit.c - group commit: one writer thread, one durable transaction per wake-up. */
#include "commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/*
 * Why: a durable commit costs an fsync. Request threads queue their group and sleep on a
 * condition variable; the writer takes everything queued, applies it in one transaction, runs
 * the hook, marks each waiter done and wakes it. Under load, one fsync then serves every
 * request that arrived while the previous one ran; idle, a lone request pays one fsync.
 */

/* On the submitter's stack. Each waiter sleeps on its own condition variable, so that a
 * commit wakes exactly the requests it served, not every thread that waits. */
struct fb_waiter {
	struct fb_group *group;
	struct fb_waiter *next;
	pthread_cond_t wake;
	bool done;
};

struct fb_committer {
	const struct fb_store_ops *ops;
	struct fb_store *store;
	size_t max_group;
	fb_committed_fn hook;
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* writer: something queued or stop */
	struct fb_waiter *head;
	struct fb_waiter **tail;
	bool stop;
	bool started;
};

static double
commit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Take up to max_group waiters off the queue (the lock is held). */
static struct fb_waiter *
commit_take_locked(struct fb_committer *c, size_t *n)
{
	struct fb_waiter *first = c->head, *w = c->head, *last = NULL;
	size_t k = 0;

	while (w != NULL && (c->max_group == 0 || k < c->max_group)) {
		last = w;
		w = w->next;
		k++;
	}
	c->head = w;
	if (w == NULL)
		c->tail = &c->head;
	if (last != NULL)
		last->next = NULL;
	*n = k;
	return first;
}

static void
commit_run(struct fb_committer *c, struct fb_waiter *batch, size_t n)
{
	struct fb_group *copies, **ptrs;
	struct fb_waiter *w;
	double t0;
	size_t i;

	copies = calloc(n, sizeof(*copies));
	ptrs = calloc(n, sizeof(*ptrs));
	if (copies == NULL || ptrs == NULL) {
		for (w = batch; w != NULL; w = w->next)
			w->group->status = -ENOMEM;
		goto out;
	}
	for (i = 0, w = batch; w != NULL; w = w->next, i++)
		copies[i] = *w->group;
	t0 = commit_now();
	c->ops->apply(c->store, copies, n);
	for (i = 0, w = batch; w != NULL; w = w->next, i++) {
		*w->group = copies[i];
		ptrs[i] = w->group;
	}
	if (c->hook != NULL)
		c->hook(c->ud, ptrs, n, commit_now() - t0);
out:
	free(copies);
	free(ptrs);
}

static void *
commit_main(void *arg)
{
	struct fb_committer *c = arg;
	struct fb_waiter *batch, *w, *next;
	size_t n;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->head == NULL)
			break;
		batch = commit_take_locked(c, &n);
		pthread_mutex_unlock(&c->lock);
		commit_run(c, batch, n);
		pthread_mutex_lock(&c->lock);
		for (w = batch; w != NULL; w = next) {
			next = w->next; /* w may be gone once done is set and the lock released */
			w->done = true;
			pthread_cond_signal(&w->wake);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
fb_committer_new(const struct fb_store_ops *ops, struct fb_store *store, size_t max_group,
		 fb_committed_fn hook, void *ud, struct fb_committer **out)
{
	struct fb_committer *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->ops = ops;
	c->store = store;
	c->max_group = max_group;
	c->hook = hook;
	c->ud = ud;
	c->tail = &c->head;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	r = pthread_create(&c->thread, NULL, commit_main, c);
	if (r != 0) {
		fb_committer_free(c);
		return -r;
	}
	c->started = true;
	*out = c;
	return 0;
}

int
fb_committer_submit(struct fb_committer *c, struct fb_group *g)
{
	struct fb_waiter w = { .group = g };

	pthread_cond_init(&w.wake, NULL);
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		g->status = -ESHUTDOWN;
		w.done = true;
	} else {
		*c->tail = &w;
		c->tail = &w.next;
		pthread_cond_signal(&c->work);
	}
	while (!w.done)
		pthread_cond_wait(&w.wake, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&w.wake);
	return g->status;
}

void
fb_committer_free(struct fb_committer *c)
{
	if (c == NULL)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
