/* SPDX-License-Identifier: MIT */
/* fleet_shared.h - what outlives a reload (windows, store, committer) and one instance's view. */
#ifndef RULSRV_FLEET_SHARED_H
#define RULSRV_FLEET_SHARED_H

#include <pthread.h>

#include "fleet_internal.h"
#include "predict_request.h"

#define FLEET_MAX_MODELS 1024 /* distinct (model, version) pairs that predicted, per process */
#define FLEET_MAX_THRESHOLDS 8

enum fleet_eviction { EVICT_TTL, EVICT_CAPACITY, EVICT_FAILURE, EVICT_DELETED, EVICT_COUNT };

enum fleet_refusal {
	REFUSE_STALE,
	REFUSE_INVALID,
	REFUSE_MEDIA,
	REFUSE_CAPACITY,
	REFUSE_STORE,
	REFUSE_NOT_FOUND,
	REFUSE_COUNT,
};

/*
 * The windows of one database, shared by every instance (one per generation of the
 * configuration) that names it, so a reload or a model swap keeps them: the first instance
 * opens the store and loads them, the last one to go closes it. lock guards the table, the
 * model names and the settings below it.
 */
struct fleet_shared {
	struct fleet_shared *next; /* the process's list, under the registry lock */
	char *database;
	int refs;
	const struct rulsrv_api *api;
	struct rulsrv_host *host; /* the newest instance's, for log lines */
	struct fleet_store *store;
	struct fleet_committer *committer;

	pthread_mutex_t lock;
	struct fleet_table table;
	uint32_t window;      /* cycles kept per engine: the newest instance's setting */
	size_t max_engines;   /* the newest instance's */
	double idle_ttl;      /* seconds; 0: never */
	bool bounded;         /* durability = "bounded": answers may go before the commit */
	char *model_names[FLEET_MAX_MODELS]; /* "name\0version\0" */
	size_t model_count;
	/* engines (with a cycle) whose prediction is below each threshold of the newest
	 * instance, kept as predictions change so the timer does not walk the engines */
	double thresholds[FLEET_MAX_THRESHOLDS];
	size_t threshold_count;
	int64_t below[FLEET_MAX_THRESHOLDS];

	/* series of the newest instance (the service's registry outlives instances) */
	struct rulsrv_series *engines_gauge;
	struct rulsrv_series *refusals[REFUSE_COUNT];
	struct rulsrv_series *evictions[EVICT_COUNT];
};

/* One model instance's fleet: the model it predicts with, its limits and series. */
struct fleet_service {
	struct fleet_shared *sh;
	struct fleet_model m;
	struct predict_limits lim;
	uint16_t by; /* this model's index in sh->model_names */
	char *prefix; /* {"model":NAME,"version":V,"predictions":[ */
	size_t prefix_len;
	struct rulsrv_series *cycles_total;
	struct rulsrv_series *rul_value;
	double thresholds[FLEET_MAX_THRESHOLDS];
	size_t threshold_count;
	struct rulsrv_series *below[FLEET_MAX_THRESHOLDS];
};

/* e's part in sh->below: -1 before e's prediction or window changes (or e goes), +1 after. */
static inline void
fleet_count_locked(struct fleet_shared *sh, const struct fleet_engine *e, int sign)
{
	size_t k;

	if (e->len == 0)
		return;
	for (k = 0; k < sh->threshold_count; k++)
		if ((double)e->rul < sh->thresholds[k])
			sh->below[k] += sign;
}

/* fleet_http.c: the routes. */
int fleet_http_routes(struct fleet_service *fs);
/* fleet_http.c, for the committer's hook: a request's rows are durable: tell its instance
 * and its observers, and answer it->resp (taken) once the observers let the answer go. */
void fleet_http_durable(struct fleet_item *it);
/* fleet_service.c, for fleet_http.c (sh->lock held): forget an engine, in memory and, through
 * the committer, in the store. */
void fleet_forget_locked(struct fleet_shared *sh, int64_t unit, enum fleet_eviction why);
void fleet_refused(struct fleet_shared *sh, enum fleet_refusal why);
/* Apply failure events not seen yet (sh->lock held). */
void fleet_poll_failures_locked(struct fleet_shared *sh);
/* fleet_service.c, sh->lock held: the store's window of unit replaces memory's; an engine
 * missing from memory is loaded from a shared store (0 when loaded or absent). */
void fleet_reload_locked(struct fleet_shared *sh, int64_t unit);
int fleet_takeover_locked(struct fleet_shared *sh, int64_t unit);
/* Answer 503 store_failed with Retry-After. */
void fleet_store_failed(struct fleet_shared *sh, struct rulsrv_response *resp, int err);
/* fleet_http.c, on the committer thread: plan a request again whose engines another
 * instance moved on (it->result -EAGAIN), and queue it or answer it. */
void fleet_cycles_retry(struct fleet_item *it);
/* The committer's hook. */
void fleet_committed(void *ud, struct fleet_item *it);

#endif
