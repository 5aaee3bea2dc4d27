/* SPDX-License-Identifier: MIT */
/* predlog.c - the prediction log: a ring of compact entries drained by one writer thread. */
#include "predlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clocks.h"

/*
 * The observer runs on the predicting thread: it takes the lock for a copy of a few numbers
 * per prediction and never waits for the disk. Model and version strings are interned once
 * into a small table, so an entry is 40 bytes. The ring starts small and doubles when a burst
 * fills it, up to `limit` entries (the queue_size setting: 1048576 by default, 40 MiB at
 * most); only past that is the surplus dropped (counted by the caller). The writer copies a
 * chunk out and frees its slots before it calls the store, so the observers keep the whole
 * ring while the disk works. It is a thread of its own, not a core timer, because it blocks
 * in fsync; the retention pass is paced by the plugin's timer, which only flags it due
 * (fb_predlog_expire), and done here for the same reason.
 *
 * Holds (log_before_answer): a batch pushed with a hold (the core's observation of a request
 * whose answer waits) leaves a waiter with the log's sequence number of its last entry. After
 * each write the writer releases every waiter whose entries it has written, with the store's
 * result, and it does not linger while any waits: the writer takes whatever queued while the
 * previous write ran, so one commit answers every request that arrived meanwhile (group
 * commit). A store that cannot take a chunk yet (-EAGAIN) releases its waiters with the error
 * at the first failure, bounded by the store's own timeout, and every waiter that queues
 * behind it at each retry (every PREDLOG_RETRY): an outage answers errors in bounded time,
 * while the predictions stay queued and are written once the store is back, as before.
 *
 * Repeats (RULSRV_PREDICTION_REPEAT, fleet mode's answer to a retried cycle): logged only when
 * the log does not hold the same prediction already (unit, cycle, model and RUL). An original
 * still queued is always ahead of its repeat: in the same chunk (dropped here) or an earlier
 * one (found by the store, store.h).
 */

#define PREDLOG_NAMES 64  /* distinct (model, version) pairs; more are dropped */
#define PREDLOG_CHUNK 65536 /* entries per transaction at most (less: the store's max_log_batch) */
/* Seconds the writer lets predictions gather after a write, unless a chunk is waiting: a
 * drain of more requests makes fewer, fuller segments (store_sqlite.c), and the store's cost
 * follows the segments. A prediction reaches the store this much later at most (plus the
 * write); the failure scoring does not depend on when (late scoring). */
#define PREDLOG_LINGER 0.5
#define PREDLOG_RETRY 0.5 /* seconds between tries of a chunk a store could not take yet */
#define PREDLOG_RING_START 4096 /* entries of the ring before a burst grows it */
#define PREDLOG_EXPIRE_CHUNK 10000 /* rows per delete statement */

struct predlog_entry {
	int64_t unit;
	int64_t cycle;
	double rul;
	double timestamp;
	uint32_t name;
	bool repeat;
};

/* A request whose answer waits for its predictions: released once entries up to end are
 * written (the log's sequence numbers count every entry ever queued). */
struct predlog_waiter {
	struct predlog_waiter *next;
	void *hold;
	uint64_t end;
};

struct predlog_name {
	char *model;
	char *version;
};

struct fb_predlog {
	const struct fb_store_ops *ops;
	struct fb_store *store;
	fb_predlog_fn hook;
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct predlog_entry *ring;
	size_t capacity; /* of ring now */
	size_t limit;    /* capacity the ring may grow to */
	size_t chunk;    /* entries per write at most */
	size_t head; /* next to write to the store */
	size_t used;
	struct predlog_name names[PREDLOG_NAMES];
	size_t name_count;
	double next_write; /* clocks_monotonic() before which the writer lingers */
	uint64_t queued;  /* entries ever queued: the sequence number after the last one */
	uint64_t written; /* entries ever taken from the ring and given to the store (or lost) */
	struct predlog_waiter *waiters, **waiters_tail; /* in sequence order */
	fb_predlog_release_fn release;
	double retention; /* seconds; 0: keep forever */
	bool expire_due;  /* a retention pass is wanted at the next wake */
	bool stop;
	bool started;
};

/* Index of (model, version) in the table, added when new; -1 when the table is full. */
static int
predlog_intern_locked(struct fb_predlog *p, const char *model, const char *version)
{
	struct predlog_name *n;
	size_t i;

	model = model != NULL ? model : "unknown";
	version = version != NULL ? version : "";
	for (i = p->name_count; i-- > 0;) {
		n = &p->names[i];
		if (strcmp(n->model, model) == 0 && strcmp(n->version, version) == 0)
			return (int)i;
	}
	if (p->name_count == PREDLOG_NAMES)
		return -1;
	n = &p->names[p->name_count];
	n->model = strndup(model, FB_MODEL_MAX - 1);
	n->version = strndup(version, FB_MODEL_MAX - 1);
	if (n->model == NULL || n->version == NULL) {
		free(n->model);
		free(n->version);
		n->model = n->version = NULL;
		return -1;
	}
	return (int)p->name_count++;
}

/* n entries of a ring of cap from index `from` on, wrapping, to dst: two copies at most. The
 * lock is held while the ring is copied, so the copy is a memcpy, not a loop of modulos (a
 * drain of 65,536 entries held the lock for milliseconds that way, and the requests pushing
 * behind it waited as long). */
static void
predlog_ring_copy(struct predlog_entry *dst, const struct predlog_entry *ring, size_t cap,
		  size_t from, size_t n)
{
	size_t first = cap - from < n ? cap - from : n;

	memcpy(dst, ring + from, first * sizeof(*dst));
	memcpy(dst + first, ring, (n - first) * sizeof(*dst));
}

/* Double the ring (up to the limit) so that `want` more entries fit; false when it cannot. The
 * entries are copied in order to the start of the new ring. */
static bool
predlog_grow_locked(struct fb_predlog *p, size_t want)
{
	struct predlog_entry *ring;
	size_t cap = p->capacity;

	while (cap - p->used < want && cap < p->limit)
		cap = cap <= p->limit / 2 ? cap * 2 : p->limit;
	if (cap == p->capacity)
		return false;
	ring = malloc(cap * sizeof(*ring));
	if (ring == NULL)
		return false;
	predlog_ring_copy(ring, p->ring, p->capacity, p->head, p->used);
	free(p->ring);
	p->ring = ring;
	p->capacity = cap;
	p->head = 0;
	return true;
}

size_t
fb_predlog_push(struct fb_predlog *p, const struct rulsrv_prediction_batch *b)
{
	return fb_predlog_push_held(p, b, NULL);
}

size_t
fb_predlog_push_held(struct fb_predlog *p, const struct rulsrv_prediction_batch *b, void *hold)
{
	struct predlog_waiter *w = hold != NULL ? malloc(sizeof(*w)) : NULL;
	struct predlog_entry *e;
	size_t i, room, take, at;
	int name;

	pthread_mutex_lock(&p->lock);
	name = predlog_intern_locked(p, b->model, b->version);
	if (p->capacity - p->used < b->count)
		predlog_grow_locked(p, b->count);
	room = p->capacity - p->used;
	take = name < 0 || p->stop ? 0 : (b->count < room ? b->count : room);
	at = (p->head + p->used) % p->capacity;
	for (i = 0; i < take; i++, at = at + 1 == p->capacity ? 0 : at + 1) {
		const struct rulsrv_prediction *it = rulsrv_prediction_at(b, i);

		e = &p->ring[at];
		e->unit = it->unit;
		e->cycle = it->cycle;
		e->rul = it->rul;
		e->timestamp = b->timestamp;
		e->name = (uint32_t)name;
		e->repeat = (rulsrv_prediction_flags(b, i) & RULSRV_PREDICTION_REPEAT) != 0;
	}
	/* wake the writer when it sleeps for work, or lingers and a chunk or a waiter is now
	 * waiting */
	if (take > 0 && (p->used == 0 || w != NULL ||
			 (p->used < p->chunk && p->used + take >= p->chunk)))
		pthread_cond_signal(&p->work);
	p->used += take;
	p->queued += take;
	if (w != NULL && take == b->count) {
		w->hold = hold;
		w->end = p->queued;
		w->next = NULL;
		*p->waiters_tail = w;
		p->waiters_tail = &w->next;
		hold = NULL;
		w = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	free(w);
	if (hold != NULL) /* not all of it queued, or no memory to wait */
		p->release(p->ud, hold, take < b->count ? -ENOBUFS : -ENOMEM);
	return b->count - take;
}

/* Release (outside the lock) the waiters whose entries are all written, or every waiter
 * (all), with r. */
static void
predlog_release(struct fb_predlog *p, int r, bool all)
{
	struct predlog_waiter *w, *done = NULL, **tail = &done;

	pthread_mutex_lock(&p->lock);
	while ((w = p->waiters) != NULL && (all || w->end <= p->written)) {
		p->waiters = w->next;
		*tail = w;
		tail = &w->next;
	}
	if (p->waiters == NULL)
		p->waiters_tail = &p->waiters;
	*tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while ((w = done) != NULL) {
		done = w->next;
		p->release(p->ud, w->hold, r);
		free(w);
	}
}

/* Drop the repeats of buf that an earlier entry of buf has (same unit, cycle, model, RUL);
 * returns how many are left. Repeats are rare: the scan is per repeat. */
static size_t
predlog_drop_repeats(struct fb_logged *buf, size_t n)
{
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		bool dup = false;

		for (j = 0; buf[i].repeat && j < k && !dup; j++)
			dup = buf[j].unit == buf[i].unit && buf[j].cycle == buf[i].cycle &&
			      buf[j].rul == buf[i].rul && strcmp(buf[j].model, buf[i].model) == 0;
		if (!dup)
			buf[k++] = buf[i];
	}
	return k;
}

/* Take n entries from the head into raw (lock held) and free their slots. */
static void
predlog_take_locked(struct fb_predlog *p, struct predlog_entry *raw, size_t n)
{
	predlog_ring_copy(raw, p->ring, p->capacity, p->head, n);
	p->head = (p->head + n) % p->capacity;
	p->used -= n;
	p->written += n;
}

/* The entries taken, as the store takes them (without the lock: a name, once in the table,
 * stays where it is until fb_predlog_free). */
static void
predlog_unpack(const struct fb_predlog *p, const struct predlog_entry *raw, struct fb_logged *buf,
	       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct predlog_entry *e = &raw[i];

		buf[i].unit = e->unit;
		buf[i].cycle = e->cycle;
		buf[i].rul = e->rul;
		buf[i].timestamp = e->timestamp;
		buf[i].model = p->names[e->name].model;
		buf[i].version = p->names[e->name].version;
		buf[i].repeat = e->repeat;
	}
}

/* Delete what is older than the retention, a chunk at a time, when a pass is due (the lock
 * is held on entry and on return, released while the store works). */
static void
predlog_expire_locked(struct fb_predlog *p)
{
	double before = clocks_realtime() - p->retention;
	size_t deleted;
	int r;

	if (!p->expire_due || p->retention <= 0)
		return;
	p->expire_due = false;
	pthread_mutex_unlock(&p->lock);
	do
		r = p->ops->expire_predictions(p->store, before, PREDLOG_EXPIRE_CHUNK, &deleted);
	while (r == 0 && deleted == PREDLOG_EXPIRE_CHUNK);
	pthread_mutex_lock(&p->lock);
}

/* Sleep until there is work (a chunk, or anything once the linger is over), a stop, or a
 * retention pass is due. */
static void
predlog_wait_locked(struct fb_predlog *p)
{
	double now, left;
	struct timespec ts;

	while (!p->stop && !p->expire_due) {
		if (p->used == 0) {
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		now = clocks_monotonic();
		if (p->used >= p->chunk || now >= p->next_write || p->waiters != NULL)
			return;
		left = p->next_write - now;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)left;
		ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->work, &p->lock, &ts);
	}
}

/*
 * A store that stored nothing and may succeed later (-EAGAIN: a server it cannot reach now)
 * gets the same chunk again every PREDLOG_RETRY seconds, so that an outage the queue can
 * hold loses no prediction: meanwhile the observers go on filling the ring, which grows to
 * queue_size and only past it drops (counted). At a stop, one last try.
 */
static int
predlog_retry(struct fb_predlog *p, const struct fb_logged *buf, size_t n, int r)
{
	struct timespec ts;
	double until;
	bool stop;

	while (r == -EAGAIN) {
		/* the requests queued behind the chunk are not kept waiting for the store's
		 * return: answered (with the error) now; their predictions stay queued */
		predlog_release(p, r, true);
		pthread_mutex_lock(&p->lock);
		until = clocks_monotonic() + PREDLOG_RETRY;
		while (!p->stop && clocks_monotonic() < until) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)(PREDLOG_RETRY * 1e9);
			while (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->work, &p->lock, &ts);
		}
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		r = p->ops->log_predictions(p->store, buf, n);
		if (stop)
			break;
	}
	return r;
}

static void *
predlog_main(void *arg)
{
	struct fb_predlog *p = arg;
	struct predlog_entry *raw = calloc(p->chunk, sizeof(*raw));
	struct fb_logged *buf = calloc(p->chunk, sizeof(*buf));
	size_t n, k;
	int r;

	if (raw == NULL) {
		free(buf);
		buf = NULL;
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		predlog_wait_locked(p);
		if (p->used == 0 && p->stop)
			break;
		predlog_expire_locked(p);
		if (p->used == 0)
			continue;
		n = p->used < p->chunk ? p->used : p->chunk;
		if (buf == NULL) {
			p->head = (p->head + n) % p->capacity;
			p->used -= n;
			p->written += n;
			pthread_mutex_unlock(&p->lock);
			k = n;
			r = -ENOMEM;
			predlog_release(p, r, false);
		} else {
			predlog_take_locked(p, raw, n);
			pthread_mutex_unlock(&p->lock);
			predlog_unpack(p, raw, buf, n);
			k = predlog_drop_repeats(buf, n);
			r = p->ops->log_predictions(p->store, buf, k);
			predlog_release(p, r, false); /* the first try's: bounded by the store */
			r = predlog_retry(p, buf, k, r);
		}
		if (p->hook != NULL)
			p->hook(p->ud, k, r);
		pthread_mutex_lock(&p->lock);
		p->next_write = clocks_monotonic() + PREDLOG_LINGER;
	}
	pthread_mutex_unlock(&p->lock);
	free(raw);
	free(buf);
	return NULL;
}

static void
predlog_release_nothing(void *ud, void *hold, int status)
{
	(void)ud;
	(void)hold;
	(void)status;
}

void
fb_predlog_set_release(struct fb_predlog *p, fb_predlog_release_fn release)
{
	p->release = release;
}

void
fb_predlog_set_retention(struct fb_predlog *p, double seconds)
{
	pthread_mutex_lock(&p->lock);
	p->retention = seconds;
	p->expire_due = seconds > 0; /* the first pass right away */
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void
fb_predlog_expire(struct fb_predlog *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->retention > 0) {
		p->expire_due = true;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
}

int
fb_predlog_new(const struct fb_store_ops *ops, struct fb_store *store, size_t capacity,
	       fb_predlog_fn hook, void *ud, struct fb_predlog **out)
{
	pthread_condattr_t attr;
	struct fb_predlog *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->ops = ops;
	p->store = store;
	p->hook = hook;
	p->ud = ud;
	p->release = predlog_release_nothing;
	p->chunk = ops->max_log_batch > 0 && ops->max_log_batch < PREDLOG_CHUNK ? ops->max_log_batch
									       : PREDLOG_CHUNK;
	p->waiters_tail = &p->waiters;
	p->limit = capacity > 0 ? capacity : 1;
	p->capacity = p->limit < PREDLOG_RING_START ? p->limit : PREDLOG_RING_START;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* the linger's timed wait */
	pthread_cond_init(&p->work, &attr);
	pthread_condattr_destroy(&attr);
	p->ring = calloc(p->capacity, sizeof(*p->ring));
	if (p->ring == NULL) {
		fb_predlog_free(p);
		return -ENOMEM;
	}
	r = pthread_create(&p->thread, NULL, predlog_main, p);
	if (r != 0) {
		fb_predlog_free(p);
		return -r;
	}
	p->started = true;
	*out = p;
	return 0;
}

void
fb_predlog_free(struct fb_predlog *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	p->written = p->queued; /* none is left: the writer wrote every entry or lost it */
	predlog_release(p, -ESHUTDOWN, true);
	for (i = 0; i < p->name_count; i++) {
		free(p->names[i].model);
		free(p->names[i].version);
	}
	free(p->ring);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
