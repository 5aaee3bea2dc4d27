/* SPDX-License-Identifier: MIT */
/* metrics.c - the per-service metric registry: families, labelled series, lock-free updates. */
#include "metrics.h"
#include "metrics_owned.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fnv1a.h"

#define METRICS_MAX_LABELS RULSRV_METRIC_MAX_LABELS
#define METRICS_MAX_BUCKETS RULSRV_METRIC_MAX_BUCKETS
#define METRICS_CACHELINE 64

/*
 * One labelled child. Values are updated with atomics only: counters and gauges keep the
 * bits of a double (CAS loop), histograms count per bucket (non-cumulative; cumulated when
 * collected) and keep the sum as double bits. Children are never removed while the family
 * lives, so a pointer handed out stays valid and readers need no lock.
 */
struct rulsrv_series {
	_Atomic uint64_t value; /* counter/gauge: double bits; histogram: sum as double bits */
	struct rulsrv_metric *family;
	struct rulsrv_series *_Atomic next; /* creation order, for collection */
	uint64_t hash;
	char **values; /* label_count copies */
	_Atomic uint64_t buckets[]; /* histograms: bucket_count + 1 (the last one is +Inf) */
};

/* Open-addressing table of children; replaced (never modified in place once full) on growth. */
struct series_table {
	size_t mask;
	struct series_table *retired; /* older tables, kept until the family dies */
	struct rulsrv_series *_Atomic slots[];
};

struct rulsrv_metric {
	struct metrics_registry *registry;
	enum rulsrv_metric_type type;
	char *name;
	char *help;
	size_t label_count;
	char **labels;
	size_t bucket_count;
	double *bounds;
	struct rulsrv_family_info info;

	pthread_mutex_t lock; /* serialises child creation only */
	struct series_table *_Atomic table;
	size_t series_count;
	struct rulsrv_series *_Atomic first;
	struct rulsrv_series *last;
	struct rulsrv_series *single; /* unlabelled families: their one series */

	struct rulsrv_metric *_Atomic next; /* registration order */
};

struct collector {
	void (*fn)(void *ud);
	void *ud;
	void (*free_ud)(void *ud);
	struct collector *_Atomic next;
};

/*
 * Families and collectors are append-only lists published with release stores, so a walk
 * reads them without the creation lock; a collector may even create families.
 */
struct metrics_registry {
	pthread_mutex_t lock;      /* family and collector creation */
	pthread_mutex_t walk_lock; /* one walk at a time: collectors need not be reentrant */
	struct rulsrv_metric *_Atomic first;
	struct rulsrv_metric *last;
	struct collector *_Atomic collectors;
	struct collector *collectors_last;
};

static inline double
bits_to_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline uint64_t
double_to_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static inline void
atomic_double_add(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, double_to_bits(bits_to_double(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool
metric_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* Label names [a-zA-Z_][a-zA-Z0-9_]*; "__" prefixes are reserved for Prometheus itself. */
static bool
label_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strncmp(s, "__", 2) == 0)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static uint64_t
values_hash(const char *const *values, size_t n)
{
	static const unsigned char sep = 0xff; /* ("a","bc") differs from ("ab","c") */
	uint64_t h = FNV1A64_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = values[i] != NULL ? values[i] : "";

		h = fnv1a64_update(h, v, strlen(v));
		h = fnv1a64_update(h, &sep, 1);
	}
	return h;
}

static bool
values_equal(const struct rulsrv_series *s, const char *const *values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i] != NULL ? values[i] : "") != 0)
			return false;
	return true;
}

static void
series_free(struct rulsrv_series *s, size_t label_count)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->values != NULL)
		for (i = 0; i < label_count; i++)
			free(s->values[i]);
	free(s->values);
	free(s);
}

static struct rulsrv_series *
series_alloc(struct rulsrv_metric *m, const char *const *values, uint64_t hash)
{
	size_t nb = m->type == RULSRV_METRIC_HISTOGRAM ? m->bucket_count + 1 : 0;
	size_t size = sizeof(struct rulsrv_series) + nb * sizeof(_Atomic uint64_t);
	struct rulsrv_series *s;
	size_t i;

	/* Whole cache lines, so two hot children never share one. */
	size = (size + METRICS_CACHELINE - 1) / METRICS_CACHELINE * METRICS_CACHELINE;
	s = aligned_alloc(METRICS_CACHELINE, size);
	if (s == NULL)
		return NULL;
	memset(s, 0, size);
	atomic_init(&s->value, double_to_bits(0.0));
	atomic_init(&s->next, NULL);
	for (i = 0; i < nb; i++)
		atomic_init(&s->buckets[i], 0);
	s->family = m;
	s->hash = hash;
	if (m->label_count == 0)
		return s;
	s->values = calloc(m->label_count, sizeof(char *));
	if (s->values == NULL)
		goto out_free;
	for (i = 0; i < m->label_count; i++) {
		s->values[i] = strdup(values[i] != NULL ? values[i] : "");
		if (s->values[i] == NULL)
			goto out_free;
	}
	return s;
out_free:
	series_free(s, m->label_count);
	return NULL;
}

static struct rulsrv_series *
table_find(const struct series_table *t, const char *const *values, size_t n, uint64_t hash)
{
	size_t i = hash & t->mask;

	for (;;) {
		struct rulsrv_series *s = atomic_load_explicit(&t->slots[i], memory_order_acquire);

		if (s == NULL)
			return NULL;
		if (s->hash == hash && values_equal(s, values, n))
			return s;
		i = (i + 1) & t->mask;
	}
}

static void
table_put(struct series_table *t, struct rulsrv_series *s)
{
	size_t i = s->hash & t->mask;

	while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != NULL)
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slots[i], s, memory_order_release);
}

static struct series_table *
table_new(size_t slots)
{
	struct series_table *t;
	size_t i;

	t = malloc(sizeof(*t) + slots * sizeof(t->slots[0]));
	if (t == NULL)
		return NULL;
	t->mask = slots - 1;
	t->retired = NULL;
	for (i = 0; i < slots; i++)
		atomic_init(&t->slots[i], NULL);
	return t;
}

/*
 * Keep the load factor at or under 1/2. A grown table is filled completely before it is
 * published; the old one stays readable (a reader that misses in it takes the lock and
 * looks again), and is freed with the family.
 */
static int
table_reserve_locked(struct rulsrv_metric *m)
{
	struct series_table *old = atomic_load_explicit(&m->table, memory_order_relaxed);
	struct series_table *t;
	struct rulsrv_series *s;

	if ((m->series_count + 1) * 2 <= old->mask + 1)
		return 0;
	t = table_new((old->mask + 1) * 2);
	if (t == NULL)
		return -ENOMEM;
	for (s = atomic_load_explicit(&m->first, memory_order_relaxed); s != NULL;
	     s = atomic_load_explicit(&s->next, memory_order_relaxed))
		table_put(t, s);
	t->retired = old;
	atomic_store_explicit(&m->table, t, memory_order_release);
	return 0;
}

static struct rulsrv_series *
series_create_locked(struct rulsrv_metric *m, const char *const *values, uint64_t hash)
{
	struct rulsrv_series *s;

	if (table_reserve_locked(m) < 0)
		return NULL;
	s = series_alloc(m, values, hash);
	if (s == NULL)
		return NULL;
	if (m->last == NULL)
		atomic_store_explicit(&m->first, s, memory_order_release);
	else
		atomic_store_explicit(&m->last->next, s, memory_order_release);
	m->last = s;
	m->series_count++;
	table_put(atomic_load_explicit(&m->table, memory_order_relaxed), s);
	return s;
}

/* The fast path is a hash probe with no lock and no write; creation takes the family lock. */
struct rulsrv_series *
metrics_series(struct rulsrv_metric *m, const char *const *values)
{
	struct rulsrv_series *s;
	uint64_t hash;

	if (m == NULL)
		return NULL;
	if (m->label_count == 0)
		return m->single;
	if (values == NULL)
		return NULL;
	hash = values_hash(values, m->label_count);
	s = table_find(atomic_load_explicit(&m->table, memory_order_acquire), values, m->label_count,
		       hash);
	if (s != NULL)
		return s;
	pthread_mutex_lock(&m->lock);
	s = table_find(atomic_load_explicit(&m->table, memory_order_relaxed), values, m->label_count,
		       hash);
	if (s == NULL)
		s = series_create_locked(m, values, hash);
	pthread_mutex_unlock(&m->lock);
	return s;
}

/*
 * An update on a series of another type is a bug in the caller: debug builds stop at it, and
 * release builds change nothing and say so, so that a plugin's tests can catch it.
 */
static inline int
metrics_wrong(void)
{
	assert(!"metric update on a NULL series or one of another type");
	return -EINVAL;
}

int
metrics_counter_add(struct rulsrv_series *s, double v)
{
	if (s == NULL || s->family->type != RULSRV_METRIC_COUNTER)
		return metrics_wrong();
	/* Counters only go up: a negative or NaN increment is refused. */
	if (!(v >= 0.0))
		return -EINVAL;
	atomic_double_add(&s->value, v);
	return 0;
}

int
metrics_gauge_set(struct rulsrv_series *s, double v)
{
	if (s == NULL || s->family->type != RULSRV_METRIC_GAUGE)
		return metrics_wrong();
	atomic_store_explicit(&s->value, double_to_bits(v), memory_order_relaxed);
	return 0;
}

int
metrics_gauge_add(struct rulsrv_series *s, double v)
{
	if (s == NULL || s->family->type != RULSRV_METRIC_GAUGE)
		return metrics_wrong();
	atomic_double_add(&s->value, v);
	return 0;
}

/* Bucket i counts observations in (bounds[i-1], bounds[i]]; the last bucket is (max, +Inf]. */
int
metrics_histogram_observe(struct rulsrv_series *s, double v)
{
	const struct rulsrv_metric *m;
	size_t lo, hi;

	if (s == NULL || s->family->type != RULSRV_METRIC_HISTOGRAM)
		return metrics_wrong();
	m = s->family;
	lo = 0;
	hi = m->bucket_count;
	if (!isnan(v)) {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (v <= m->bounds[mid])
				hi = mid;
			else
				lo = mid + 1;
		}
	} else {
		lo = m->bucket_count;
	}
	atomic_fetch_add_explicit(&s->buckets[lo], 1, memory_order_relaxed);
	atomic_double_add(&s->value, v);
	return 0;
}

static void
family_free(struct rulsrv_metric *m)
{
	struct rulsrv_series *s, *next;
	struct series_table *t, *tnext;
	size_t i;

	if (m == NULL)
		return;
	for (s = atomic_load(&m->first); s != NULL; s = next) {
		next = atomic_load(&s->next);
		series_free(s, m->label_count);
	}
	for (t = atomic_load(&m->table); t != NULL; t = tnext) {
		tnext = t->retired;
		free(t);
	}
	if (m->labels != NULL)
		for (i = 0; i < m->label_count; i++)
			free(m->labels[i]);
	free(m->labels);
	free(m->bounds);
	free(m->name);
	free(m->help);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* A trailing +Inf bound is implicit and dropped; the rest must be finite and ascending. */
static int
buckets_check(enum rulsrv_metric_type type, const double *buckets, size_t *count)
{
	size_t i, n = *count;

	if (type != RULSRV_METRIC_HISTOGRAM)
		return n == 0 || buckets == NULL ? 0 : -EINVAL;
	if (n > 0 && buckets == NULL)
		return -EINVAL;
	if (n > 0 && isinf(buckets[n - 1]) && buckets[n - 1] > 0)
		n--;
	if (n > METRICS_MAX_BUCKETS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
			return -EINVAL;
	}
	*count = n;
	return 0;
}

static int
labels_check(enum rulsrv_metric_type type, const char *const *labels, size_t *count)
{
	size_t i, j, n = 0;

	if (labels != NULL)
		while (labels[n] != NULL)
			n++;
	if (n > METRICS_MAX_LABELS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!label_name_valid(labels[i]))
			return -EINVAL;
		if (type == RULSRV_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				return -EINVAL;
	}
	*count = n;
	return 0;
}

static bool
family_same(const struct rulsrv_metric *m, enum rulsrv_metric_type type,
	    const char *const *labels, size_t label_count, const double *buckets,
	    size_t bucket_count)
{
	size_t i;

	if (m->type != type || m->label_count != label_count || m->bucket_count != bucket_count)
		return false;
	for (i = 0; i < label_count; i++)
		if (strcmp(m->labels[i], labels[i]) != 0)
			return false;
	for (i = 0; i < bucket_count; i++)
		if (m->bounds[i] != buckets[i])
			return false;
	return true;
}

static struct rulsrv_metric *
family_alloc(struct metrics_registry *r, enum rulsrv_metric_type type, const char *name,
	     const char *help, const char *const *labels, size_t label_count,
	     const double *buckets, size_t bucket_count)
{
	struct rulsrv_metric *m;
	size_t i;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->registry = r;
	m->type = type;
	m->label_count = label_count;
	m->bucket_count = bucket_count;
	m->name = strdup(name);
	m->help = strdup(help != NULL ? help : "");
	m->labels = calloc(label_count + 1, sizeof(char *));
	m->bounds = calloc(bucket_count + 1, sizeof(double));
	atomic_init(&m->table, table_new(16));
	atomic_init(&m->first, NULL);
	atomic_init(&m->next, NULL);
	if (m->name == NULL || m->help == NULL || m->labels == NULL || m->bounds == NULL ||
	    atomic_load(&m->table) == NULL)
		goto out_free;
	for (i = 0; i < label_count; i++) {
		m->labels[i] = strdup(labels[i]);
		if (m->labels[i] == NULL)
			goto out_free;
	}
	if (bucket_count > 0)
		memcpy(m->bounds, buckets, bucket_count * sizeof(double));
	if (label_count == 0) {
		m->single = series_create_locked(m, NULL, 0);
		if (m->single == NULL)
			goto out_free;
	}
	m->info = (struct rulsrv_family_info){
		.name = m->name,
		.help = m->help,
		.type = type,
		.label_count = label_count,
		.label_names = (const char *const *)m->labels,
		.bucket_count = bucket_count,
		.bounds = m->bounds,
	};
	return m;
out_free:
	family_free(m);
	return NULL;
}

int
metrics_family(struct metrics_registry *r, enum rulsrv_metric_type type, const char *name,
	       const char *help, const char *const *labels, const double *buckets,
	       size_t bucket_count, struct rulsrv_metric **out)
{
	struct rulsrv_metric *m;
	size_t label_count;
	int ret;

	if (r == NULL || out == NULL || !metric_name_valid(name))
		return -EINVAL;
	if (type != RULSRV_METRIC_COUNTER && type != RULSRV_METRIC_GAUGE &&
	    type != RULSRV_METRIC_HISTOGRAM)
		return -EINVAL;
	ret = labels_check(type, labels, &label_count);
	if (ret < 0)
		return ret;
	ret = buckets_check(type, buckets, &bucket_count);
	if (ret < 0)
		return ret;

	pthread_mutex_lock(&r->lock);
	for (m = atomic_load_explicit(&r->first, memory_order_relaxed); m != NULL;
	     m = atomic_load_explicit(&m->next, memory_order_relaxed)) {
		if (strcmp(m->name, name) != 0)
			continue;
		ret = family_same(m, type, labels, label_count, buckets, bucket_count) ? 0 : -EEXIST;
		if (ret == 0)
			*out = m;
		goto out_unlock;
	}
	m = family_alloc(r, type, name, help, labels, label_count, buckets, bucket_count);
	if (m == NULL) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (r->last == NULL)
		atomic_store_explicit(&r->first, m, memory_order_release);
	else
		atomic_store_explicit(&r->last->next, m, memory_order_release);
	r->last = m;
	*out = m;
	ret = 0;
out_unlock:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int
metrics_register(struct metrics_registry *r, const struct rulsrv_metric_def *defs, size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		const struct rulsrv_metric_def *d = &defs[i];
		struct rulsrv_metric *m;

		ret = metrics_family(r, d->type, d->name, d->help, d->labels, d->buckets,
				     d->bucket_count, &m);
		if (ret < 0)
			return ret;
		if (d->out != NULL)
			*d->out = m;
		if (d->series != NULL) {
			if (d->labels != NULL && d->labels[0] != NULL)
				return -EINVAL;
			*d->series = metrics_series(m, NULL);
			if (*d->series == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

struct metrics_registry *
metrics_registry_new(void)
{
	struct metrics_registry *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->walk_lock, NULL);
	atomic_init(&r->first, NULL);
	atomic_init(&r->collectors, NULL);
	return r;
}

void
metrics_registry_free(struct metrics_registry *r)
{
	struct rulsrv_metric *m, *mnext;
	struct collector *c, *cnext;

	if (r == NULL)
		return;
	for (m = atomic_load(&r->first); m != NULL; m = mnext) {
		mnext = atomic_load(&m->next);
		family_free(m);
	}
	for (c = atomic_load(&r->collectors); c != NULL; c = cnext) {
		cnext = atomic_load(&c->next);
		if (c->free_ud != NULL)
			c->free_ud(c->ud);
		free(c);
	}
	pthread_mutex_destroy(&r->walk_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int
metrics_add_collector(struct metrics_registry *r, void (*fn)(void *ud), void *ud)
{
	return metrics_add_collector_owned(r, fn, ud, NULL);
}

int
metrics_add_collector_owned(struct metrics_registry *r, void (*fn)(void *ud), void *ud,
			    void (*free_ud)(void *ud))
{
	struct collector *c;

	if (r == NULL || fn == NULL)
		goto out_free;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (free_ud != NULL)
			free_ud(ud);
		return -ENOMEM;
	}
	c->fn = fn;
	c->ud = ud;
	c->free_ud = free_ud;
	atomic_init(&c->next, NULL);
	pthread_mutex_lock(&r->lock);
	if (r->collectors_last == NULL)
		atomic_store_explicit(&r->collectors, c, memory_order_release);
	else
		atomic_store_explicit(&r->collectors_last->next, c, memory_order_release);
	r->collectors_last = c;
	pthread_mutex_unlock(&r->lock);
	return 0;
out_free:
	if (free_ud != NULL)
		free_ud(ud);
	return -EINVAL;
}

/*
 * Buckets are read one by one while writers go on, so the cumulative counts are built from
 * one pass and the count is taken from the +Inf bucket: _count always equals the +Inf
 * bucket, as Prometheus requires, even if the sum is a hair ahead or behind.
 */
static int
collect_family(struct rulsrv_metric *m, rulsrv_sample_fn fn, void *ud, uint64_t *cum)
{
	struct rulsrv_series *s;
	struct rulsrv_sample sample;
	size_t i;
	int ret;

	ret = fn(ud, &m->info, NULL);
	if (ret < 0)
		return ret;
	for (s = atomic_load_explicit(&m->first, memory_order_acquire); s != NULL;
	     s = atomic_load_explicit(&s->next, memory_order_acquire)) {
		memset(&sample, 0, sizeof(sample));
		sample.label_values = (const char *const *)s->values;
		if (m->type == RULSRV_METRIC_HISTOGRAM) {
			uint64_t acc = 0;

			for (i = 0; i <= m->bucket_count; i++) {
				acc += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
				cum[i] = acc;
			}
			sample.buckets = cum;
			sample.count = acc;
			sample.sum = bits_to_double(atomic_load_explicit(&s->value, memory_order_relaxed));
		} else {
			sample.value = bits_to_double(atomic_load_explicit(&s->value, memory_order_relaxed));
		}
		ret = fn(ud, &m->info, &sample);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One walk at a time per registry; updates and registrations never wait for it. */
int
metrics_collect(struct metrics_registry *r, rulsrv_sample_fn fn, void *ud)
{
	uint64_t cum[METRICS_MAX_BUCKETS + 1];
	struct rulsrv_metric *m;
	struct collector *c;
	int ret = 0;

	if (r == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&r->walk_lock);
	for (c = atomic_load_explicit(&r->collectors, memory_order_acquire); c != NULL;
	     c = atomic_load_explicit(&c->next, memory_order_acquire))
		c->fn(c->ud);
	for (m = atomic_load_explicit(&r->first, memory_order_acquire); m != NULL;
	     m = atomic_load_explicit(&m->next, memory_order_acquire)) {
		ret = collect_family(m, fn, ud, cum);
		if (ret < 0)
			break;
	}
	pthread_mutex_unlock(&r->walk_lock);
	return ret;
}
