/* SPDX-License-Identifier: MIT */
/* fleet_commit.c - group commit of accepted cycles: one writer, one transaction per wake-up. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fleet_internal.h"

/*
 * As the feedback plugin's committer (plugins/feedback/commit.c): a handler queues its
 * request's writes with the answer deferred and returns; this thread takes everything
 * queued, writes it in one durable transaction and hands each item to the hook, which
 * answers. One fsync serves every request that arrived while the previous one ran. Items
 * are taken in queue order, so a cycle's retry (queued after it) is answered after it.
 */

#define FLEET_MAX_GROUP 4096 /* items per transaction */

struct fleet_committer {
	struct fleet_store *store;
	void (*hook)(void *ud, struct fleet_item *it);
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct fleet_item *head, **tail;
	bool stop, started, busy;
	/* bounded durability: gather for flush_ms; unflushed cycles answered, at most max */
	unsigned flush_ms;
	size_t max_unflushed, unflushed;
	size_t waiting; /* queued items whose answer waits for their commit */
	struct timespec first_queued;
	uint64_t submitted, done; /* items, for flush */
};

void
fleet_item_free(struct fleet_item *it)
{
	if (it == NULL)
		return;
	free(it->forget);
	free(it->rows);
	free(it->reps);
	free(it->repeat);
	for (size_t i = 0; i < it->n_wins; i++)
		free(it->wins[i].slots);
	free(it->wins);
	fleet_retry_free(it->retry);
	free(it->body);
	free(it);
}

/*
 * Every item's writes in one transaction, then the hook for each. A group that forgets an
 * engine (DELETE, a failure, an eviction) is applied item by item instead, in queue order,
 * so a forget never deletes rows an earlier item of the group wrote after it: rare, and
 * exact. So is a group that found an engine moved on by another process (-EAGAIN): each item
 * then learns whether it was one of those, and the others are stored.
 */
static void
commit_run(struct fleet_committer *c, struct fleet_item *batch)
{
	struct fleet_item *it, *next;
	struct fleet_row *rows = NULL;
	struct fleet_window *wins = NULL;
	size_t nr = 0, nw = 0, nf = 0, kr = 0, kw = 0, early = 0;
	int r = -EAGAIN;

	for (it = batch; it != NULL; it = it->next) {
		nr += it->n_rows;
		nw += it->n_wins;
		nf += it->n_forget;
		early += it->early;
	}
	if (batch->next != NULL && nf == 0) {
		rows = malloc((nr ? nr : 1) * sizeof(*rows));
		wins = malloc((nw ? nw : 1) * sizeof(*wins));
		if (rows == NULL || wins == NULL) {
			r = -ENOMEM;
		} else {
			for (it = batch; it != NULL; it = it->next) {
				for (size_t i = 0; i < it->n_rows; i++)
					rows[kr++] = it->rows[i];
				for (size_t i = 0; i < it->n_wins; i++)
					wins[kw++] = it->wins[i];
			}
			r = fleet_store_apply(c->store, NULL, 0, rows, nr, wins, nw);
		}
		for (it = batch; it != NULL; it = it->next)
			it->result = r;
	}
	if (r == -EAGAIN)
		for (it = batch; it != NULL; it = it->next)
			it->result = fleet_store_apply(c->store, it->forget, it->n_forget,
						       it->rows, it->n_rows, it->wins, it->n_wins);
	free(rows);
	free(wins);
	if (early > 0) { /* the batch's answered cycles are committed: room for as many */
		pthread_mutex_lock(&c->lock);
		c->unflushed -= early;
		pthread_mutex_unlock(&c->lock);
	}
	for (it = batch; it != NULL; it = next) {
		next = it->next;
		c->hook(c->ud, it);
	}
}

/* Bounded durability: wait (c->lock held) until flush_ms after the first item queued, or an
 * answer waits, or the bound is reached, or the committer stops. */
static void
gather(struct fleet_committer *c)
{
	struct timespec until = c->first_queued;

	until.tv_sec += c->flush_ms / 1000;
	until.tv_nsec += (long)(c->flush_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!c->stop && c->waiting == 0 && c->unflushed < c->max_unflushed &&
	       pthread_cond_timedwait(&c->work, &c->lock, &until) == 0)
		;
}

static void *
commit_main(void *arg)
{
	struct fleet_committer *c = arg;
	struct fleet_item *batch, *last, *it;
	size_t k;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->head == NULL)
			break;
		if (c->flush_ms > 0)
			gather(c);
		batch = c->head;
		for (last = batch, k = 1; last->next != NULL && k < FLEET_MAX_GROUP; k++)
			last = last->next;
		c->head = last->next;
		if (c->head == NULL)
			c->tail = &c->head;
		else
			clock_gettime(CLOCK_MONOTONIC, &c->first_queued);
		last->next = NULL;
		for (it = batch; it != NULL; it = it->next)
			c->waiting -= it->resp != NULL;
		c->busy = true;
		pthread_mutex_unlock(&c->lock);
		commit_run(c, batch);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		c->done += k;
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
fleet_committer_new(struct fleet_store *store, void (*hook)(void *ud, struct fleet_item *it),
		    void *ud, struct fleet_committer **out)
{
	struct fleet_committer *c = calloc(1, sizeof(*c));
	pthread_condattr_t mono;
	int r;

	if (c == NULL)
		return -ENOMEM;
	c->store = store;
	c->hook = hook;
	c->ud = ud;
	c->tail = &c->head;
	pthread_mutex_init(&c->lock, NULL);
	/* gather's deadline is on the monotonic clock */
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&c->work, &mono);
	pthread_condattr_destroy(&mono);
	pthread_cond_init(&c->idle, NULL);
	r = pthread_create(&c->thread, NULL, commit_main, c);
	if (r != 0) {
		fleet_committer_free(c);
		return -r;
	}
	c->started = true;
	*out = c;
	return 0;
}

int
fleet_committer_submit(struct fleet_committer *c, struct fleet_item *it)
{
	int r = 0;

	it->next = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		r = -ESHUTDOWN;
	} else {
		if (c->head == NULL)
			clock_gettime(CLOCK_MONOTONIC, &c->first_queued);
		*c->tail = it;
		c->tail = &it->next;
		c->waiting += it->resp != NULL;
		c->submitted++;
		/* bounded: wake the committer only when it must not wait for the interval */
		if (c->flush_ms == 0 || it->resp != NULL || c->unflushed >= c->max_unflushed ||
		    c->head == it)
			pthread_cond_signal(&c->work);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void
fleet_committer_bound(struct fleet_committer *c, unsigned flush_ms, size_t max_unflushed)
{
	pthread_mutex_lock(&c->lock);
	c->flush_ms = flush_ms;
	c->max_unflushed = max_unflushed;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
}

bool
fleet_committer_reserve(struct fleet_committer *c, size_t n)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = c->flush_ms > 0 && !c->stop && c->unflushed + n <= c->max_unflushed;
	if (ok)
		c->unflushed += n;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void
fleet_committer_flush(struct fleet_committer *c)
{
	uint64_t upto;

	pthread_mutex_lock(&c->lock);
	upto = c->submitted;
	if (c->flush_ms > 0)
		pthread_cond_signal(&c->work);
	while (c->done < upto) {
		c->waiting++; /* no gathering while someone waits */
		pthread_cond_wait(&c->idle, &c->lock);
		c->waiting--;
	}
	pthread_mutex_unlock(&c->lock);
}

void
fleet_committer_free(struct fleet_committer *c)
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
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
