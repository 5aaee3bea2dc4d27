/* SPDX-License-Identifier: MIT */
/* commit.c - group commit: one writer thread, one durable transaction per wake-up. */
#include "commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clocks.h"

/*
 * Why: a durable commit costs an fsync. A request handler queues its group and returns, its
 * answer deferred, so that no worker thread waits for the disk; the writer takes everything
 * queued, applies it in one transaction and hands the groups to the hook, which answers
 * them. Under load, one fsync then serves every request that arrived while the previous one
 * ran, however few worker threads the service has; idle, a lone request pays one fsync. The
 * writer stays a thread of its own (not a core timer): it blocks in fsync by design.
 */

struct fb_committer {
	const struct fb_store_ops *ops;
	struct fb_store *store;
	size_t max_group;
	fb_committed_fn hook;
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* writer: something queued or stop */
	struct fb_commit_item *head;
	struct fb_commit_item **tail;
	bool stop;
	bool started;
};

/* Take up to max_group items off the queue (the lock is held). */
static struct fb_commit_item *
commit_take_locked(struct fb_committer *c, size_t *n)
{
	struct fb_commit_item *first = c->head, *it = c->head, *last = NULL;
	size_t k = 0;

	while (it != NULL && (c->max_group == 0 || k < c->max_group)) {
		last = it;
		it = it->next;
		k++;
	}
	c->head = it;
	if (it == NULL)
		c->tail = &c->head;
	if (last != NULL)
		last->next = NULL;
	*n = k;
	return first;
}

/* No transaction for these: each goes back to the hook alone, failed. */
static void
commit_fail(struct fb_committer *c, struct fb_commit_item *batch, int status)
{
	struct fb_commit_item *it, *next;

	for (it = batch; it != NULL; it = next) {
		next = it->next; /* it is the hook's once handed over */
		it->group.status = status;
		c->hook(c->ud, &it, 1, -1);
	}
}

static void
commit_run(struct fb_committer *c, struct fb_commit_item *batch, size_t n)
{
	struct fb_commit_item **items, *it;
	struct fb_group *groups;
	double t0;
	size_t i;

	groups = calloc(n, sizeof(*groups));
	items = calloc(n, sizeof(*items));
	if (groups == NULL || items == NULL) {
		commit_fail(c, batch, -ENOMEM);
		goto out;
	}
	for (i = 0, it = batch; it != NULL; it = it->next, i++) {
		groups[i] = it->group;
		items[i] = it;
	}
	t0 = clocks_monotonic();
	c->ops->apply(c->store, groups, n); /* every group's status says how it went */
	for (i = 0; i < n; i++)
		items[i]->group = groups[i];
	c->hook(c->ud, items, n, clocks_monotonic() - t0);
out:
	free(groups);
	free(items);
}

static void *
commit_main(void *arg)
{
	struct fb_committer *c = arg;
	struct fb_commit_item *batch;
	size_t n;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->head == NULL)
			break; /* stopping, and everything queued was handed back */
		batch = commit_take_locked(c, &n);
		pthread_mutex_unlock(&c->lock);
		commit_run(c, batch, n);
		pthread_mutex_lock(&c->lock);
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
fb_committer_submit(struct fb_committer *c, struct fb_commit_item *it)
{
	int r = 0;

	it->next = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		r = -ESHUTDOWN;
	} else {
		*c->tail = it;
		c->tail = &it->next;
		pthread_cond_signal(&c->work);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
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
