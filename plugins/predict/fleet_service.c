/* SPDX-License-Identifier: MIT */
/* fleet_service.c - fleet mode's settings, shared windows, store loading, metrics and timer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clocks.h"
#include "feature_pipeline.h"
#include "fleet_shared.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const eviction_labels[EVICT_COUNT] = { "ttl", "capacity", "failure",
							  "deleted" };
static const char *const refusal_labels[REFUSE_COUNT] = {
	"stale_cycle", "invalid", "unsupported_media_type", "capacity", "store_failed",
	"not_found",
};

/* ---- the process's shared windows, one per database ------------------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fleet_shared *registry;

struct load_ctx {
	struct fleet_shared *sh;
	int err;
	bool bulk; /* every engine: the list by last_seen is sorted once, at the end */
};

static uint16_t
model_index_locked(struct fleet_shared *sh, const char *name, const char *version)
{
	size_t i, nl = strlen(name), vl = strlen(version);
	char *m;

	for (i = 0; i < sh->model_count; i++)
		if (strcmp(sh->model_names[i], name) == 0 &&
		    strcmp(sh->model_names[i] + nl + 1, version) == 0)
			return (uint16_t)i;
	if (sh->model_count == FLEET_MAX_MODELS || (m = malloc(nl + vl + 2)) == NULL)
		return 0; /* the first one stands in: only GET /v1/engines/{unit} shows it */
	memcpy(m, name, nl + 1);
	memcpy(m + nl + 1, version, vl + 1);
	sh->model_names[sh->model_count] = m;
	return (uint16_t)sh->model_count++;
}

/*
 * One engine per stored window, replacing the one in memory (the last fleet_window cycles).
 * Each cycle goes back to the ring slot it had in the store, so the store's slots and memory's
 * stay one ring; when they cannot (the window was longer, or fleet_window changed), the
 * engine's next write lays the store's ring out anew.
 */
static int
load_window(void *ud, const struct fleet_window *w)
{
	struct load_ctx *l = ud;
	struct fleet_shared *sh = l->sh;
	struct fleet_engine *e, *old;
	int64_t dropped;
	uint32_t i, from;
	bool in_place = w->pos != NULL && w->len <= sh->window && w->pos[0] < sh->window;

	e = fleet_engine_new(w->unit, sh->window);
	if (e == NULL || fleet_table_put(&sh->table, e, &old) < 0) {
		free(e);
		return l->err = -ENOMEM;
	}
	if (old != NULL)
		fleet_count_locked(sh, old, -1);
	free(old);
	for (i = 0; in_place && i < w->len; i++)
		in_place = w->pos[i] == (w->pos[0] + i) % sh->window;
	if (in_place) {
		e->head = w->pos[0];
		for (i = 0; i < w->len; i++)
			memcpy(fleet_engine_slot(e, i), w->slots + (size_t)i * FLEET_SLOT,
			       FLEET_SLOT * sizeof(double));
		e->len = w->len;
	} else {
		from = w->len > sh->window ? w->len - sh->window : 0;
		for (i = from; i < w->len; i++) {
			const double *slot = w->slots + (size_t)i * FLEET_SLOT;

			fleet_engine_append(e, (int64_t)slot[0], slot + 1, &dropped);
		}
		e->flags |= FLEET_ENGINE_RESET;
	}
	e->rul = (float)w->rul;
	e->last_seen = w->ts;
	e->by = model_index_locked(sh, w->model, w->version);
	/* at a start: the previous process may have logged the engine's next cycle and died
	 * before the store committed it (fleet_http.c; not with a shared store, whose
	 * observers wait for the commit), so the client's retry is flagged */
	if (l->bulk && e->len > 0 && !sh->store->ops->shared)
		e->maybe_logged = fleet_engine_last_cycle(e) + 1;
	fleet_count_locked(sh, e, +1);
	if (!l->bulk)
		fleet_table_place(&sh->table, e);
	return 0;
}

static void
shared_free(struct fleet_shared *sh)
{
	size_t i;

	if (sh == NULL)
		return;
	fleet_committer_free(sh->committer); /* commits and answers what is queued */
	fleet_store_close(sh->store);
	fleet_table_free(&sh->table);
	for (i = 0; i < sh->model_count; i++)
		free(sh->model_names[i]);
	pthread_mutex_destroy(&sh->lock);
	free(sh->database);
	free(sh);
}

static int
shared_open(const struct fleet_model *m, const struct fleet_store_ops *ops, const char *database,
	    uint32_t window, int timeout_ms, struct fleet_shared **out)
{
	struct fleet_shared *sh = calloc(1, sizeof(*sh));
	struct load_ctx l = { 0 };
	char err[512] = "";
	double t0 = clocks_monotonic();
	int r;

	if (sh == NULL)
		return -ENOMEM;
	pthread_mutex_init(&sh->lock, NULL);
	sh->api = m->api;
	sh->window = window;
	sh->database = strdup(database);
	r = sh->database == NULL ? -ENOMEM : fleet_table_init(&sh->table, 1024);
	if (r == 0)
		r = fleet_store_open(ops, database, timeout_ms, &sh->store, err, sizeof(err));
	if (r == 0) {
		l.sh = sh;
		l.bulk = true;
		r = fleet_store_load(sh->store, load_window, &l);
		if (r == 0)
			r = fleet_table_sort_seen(&sh->table);
		if (r < 0 && err[0] == '\0')
			snprintf(err, sizeof(err), "cannot read the windows from the %s store: "
				 "error %d", ops->name, r);
	}
	if (r == 0)
		r = fleet_committer_new(sh->store, fleet_committed, sh, &sh->committer);

	if (r < 0) {
		m->api->log(m->host, RULSRV_LOG_ERR, "fleet: %s",
			    err[0] ? err : "cannot start (out of memory)");
		shared_free(sh);
		return r;
	}
	/* a dsn is not logged: it names the server and the user */
	m->api->log(m->host, RULSRV_LOG_INFO, "fleet: %zu engines loaded from '%s' in %.3f s",
		    sh->table.count, ops->shared ? ops->name : database, clocks_monotonic() - t0);
	*out = sh;
	return 0;
}

/* The shared windows of database, opened when no instance holds them yet. */
static int
shared_get(const struct fleet_model *m, const struct fleet_store_ops *ops, const char *database,
	   uint32_t window, int timeout_ms, struct fleet_shared **out)
{
	struct fleet_shared *sh;
	int r = 0;

	pthread_mutex_lock(&registry_lock);
	for (sh = registry; sh != NULL && strcmp(sh->database, database) != 0; sh = sh->next)
		;
	if (sh == NULL) {
		r = shared_open(m, ops, database, window, timeout_ms, &sh);
		if (r == 0) {
			sh->next = registry;
			registry = sh;
		}
	}
	if (r == 0)
		sh->refs++;
	pthread_mutex_unlock(&registry_lock);
	*out = sh;
	return r;
}

static void
shared_put(struct fleet_shared *sh)
{
	struct fleet_shared **p;

	pthread_mutex_lock(&registry_lock);
	if (--sh->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (p = &registry; *p != sh; p = &(*p)->next)
		;
	*p = sh->next;
	pthread_mutex_unlock(&registry_lock);
	shared_free(sh);
}

/* ---- forgetting, failures, the committer's hook --------------------------------------------- */

void
fleet_refused(struct fleet_shared *sh, enum fleet_refusal why)
{
	sh->api->counter_add(sh->refusals[why], 1);
}

void
fleet_forget_locked(struct fleet_shared *sh, int64_t unit, enum fleet_eviction why)
{
	struct fleet_item *it = calloc(1, sizeof(*it));
	struct fleet_engine *e = fleet_table_remove(&sh->table, unit);

	if (e != NULL)
		fleet_count_locked(sh, e, -1);
	free(e);
	sh->api->counter_add(sh->evictions[why], 1);
	sh->api->gauge_set(sh->engines_gauge, (double)sh->table.count);
	if (it != NULL) {
		it->forget = malloc(sizeof(*it->forget));
		if (it->forget != NULL) {
			it->forget[0] = unit;
			it->n_forget = 1;
			if (fleet_committer_submit(sh->committer, it) == 0)
				return;
		}
	}
	fleet_item_free(it);
	sh->api->log(sh->host, RULSRV_LOG_ERR, "fleet: cannot queue forgetting unit %lld",
		     (long long)unit);
}

static void
failure_event(void *ud, int64_t unit, int64_t failed_at)
{
	struct fleet_shared *sh = ud;

	(void)failed_at; /* the event ends the life the engine is in, whatever its cycle */
	if (fleet_table_find(&sh->table, unit) != NULL)
		fleet_forget_locked(sh, unit, EVICT_FAILURE);
}

void
fleet_poll_failures_locked(struct fleet_shared *sh)
{
	fleet_store_failures(sh->store, failure_event, sh);
}

/* Put back what the store has of a unit: its cycles did not become durable, or another
 * instance moved it on. */
void
fleet_reload_locked(struct fleet_shared *sh, int64_t unit)
{
	struct load_ctx l = { .sh = sh };
	struct fleet_engine *e = fleet_table_remove(&sh->table, unit);

	if (e != NULL)
		fleet_count_locked(sh, e, -1);
	free(e);
	fleet_store_window(sh->store, unit, load_window, &l);
	sh->api->gauge_set(sh->engines_gauge, (double)sh->table.count);
}

/*
 * An engine not in memory, from a shared store: another instance took its cycles until now
 * (its instance died, or a balancer moved the engine here). 0 (loaded or not in the store)
 * or the store's error.
 */
int
fleet_takeover_locked(struct fleet_shared *sh, int64_t unit)
{
	struct load_ctx l = { .sh = sh };
	size_t before = sh->table.count;
	int r;

	if (!sh->store->ops->shared || fleet_table_find(&sh->table, unit) != NULL)
		return 0;
	if (fleet_table_reserve(&sh->table, sh->table.count + 1) < 0)
		return -ENOMEM;
	r = fleet_store_window(sh->store, unit, load_window, &l);
	if (sh->table.count != before)
		sh->api->gauge_set(sh->engines_gauge, (double)sh->table.count);
	return r < 0 ? r : l.err;
}

/* 503 store_failed, with how long to wait before trying again. */
void
fleet_store_failed(struct fleet_shared *sh, struct rulsrv_response *resp, int err)
{
	char retry[16];

	snprintf(retry, sizeof(retry), "%u", fleet_store_retry_after(sh->store));
	fleet_refused(sh, REFUSE_STORE);
	sh->api->respond_header(resp, "Retry-After", retry);
	sh->api->respond_error(resp, 503, "store_failed",
			       "the cycles could not be stored durably (%s); nothing was kept",
			       err == -ETIMEDOUT ? "the store did not answer in time" :
			       err == -ECONNREFUSED ? "the store is not reachable" :
			       err == -EAGAIN ? "other instances kept moving the engine on" :
			       "the store failed");
}

void
fleet_committed(void *ud, struct fleet_item *it)
{
	struct fleet_shared *sh = ud;
	size_t i;

	if (it->result == -EAGAIN && it->retry != NULL && it->resp != NULL) {
		fleet_cycles_retry(it); /* answers, or plans again and queues the new writes */
		fleet_item_free(it);
		return;
	}
	if (it->result < 0 && it->n_wins > 0) {
		pthread_mutex_lock(&sh->lock);
		for (i = 0; i < it->n_wins; i++)
			fleet_reload_locked(sh, it->wins[i].unit);
		/* the observers had these predictions (overlapped), and the log may keep them:
		 * the client's retry of these cycles is flagged, logged where the log lacks it */
		for (i = 0; it->answer != NULL && i < it->n_rows; i++) {
			struct fleet_engine *e = fleet_table_find(&sh->table, it->rows[i].unit);

			if (e != NULL && e->maybe_logged < it->rows[i].cycle)
				e->maybe_logged = it->rows[i].cycle;
		}
		pthread_mutex_unlock(&sh->lock);
	}
	if (it->result == 0 || it->answer != NULL)
		fleet_http_durable(it); /* answers once the observers let it go */
	else if (it->resp != NULL)
		fleet_store_failed(sh, it->resp, it->result);
	else if (it->early > 0) /* answered before its commit (durability = "bounded") */
		sh->api->log(sh->host, RULSRV_LOG_ERR, "fleet: %zu acknowledged cycles could not "
			     "be stored (durability = \"bounded\"): lost, error %d", it->early,
			     it->result);
	fleet_item_free(it);
}

/* ---- the timer: idle engines, failure events, the gauges ---------------------------------- */

/*
 * Not a walk of the engines: the idle ones are the oldest of the table's list by last_seen,
 * and the counts below each threshold are kept as predictions change (fleet_count_locked).
 * An instance whose thresholds are not the newest instance's (an older generation, until a
 * reload retires it) leaves its gauges as they are.
 */
static void
fleet_tick(void *ud)
{
	struct fleet_service *fs = ud;
	struct fleet_shared *sh = fs->sh;
	int64_t below[FLEET_MAX_THRESHOLDS];
	double now = clocks_realtime();
	struct fleet_engine *e;
	bool mine;
	size_t k;

	pthread_mutex_lock(&sh->lock);
	fleet_poll_failures_locked(sh);
	while (sh->idle_ttl > 0 && (e = sh->table.oldest) != NULL &&
	       now - e->last_seen > sh->idle_ttl)
		fleet_forget_locked(sh, e->unit, EVICT_TTL);
	sh->api->gauge_set(sh->engines_gauge, (double)sh->table.count);
	mine = sh->threshold_count == fs->threshold_count &&
	       memcmp(sh->thresholds, fs->thresholds, fs->threshold_count * sizeof(double)) == 0;
	memcpy(below, sh->below, sizeof(below));
	pthread_mutex_unlock(&sh->lock);
	for (k = 0; mine && k < fs->threshold_count; k++)
		sh->api->gauge_set(fs->below[k], (double)below[k]);
}

/* The newest instance's thresholds: counted once over every engine (sh->lock held). */
static void
set_thresholds_locked(struct fleet_shared *sh, const struct fleet_service *fs)
{
	struct fleet_engine *e;

	if (sh->threshold_count == fs->threshold_count &&
	    memcmp(sh->thresholds, fs->thresholds, fs->threshold_count * sizeof(double)) == 0)
		return;
	memcpy(sh->thresholds, fs->thresholds, fs->threshold_count * sizeof(double));
	sh->threshold_count = fs->threshold_count;
	memset(sh->below, 0, sizeof(sh->below));
	for (e = sh->table.oldest; e != NULL; e = e->newer)
		fleet_count_locked(sh, e, +1);
}

/* ---- settings and metrics ------------------------------------------------------------------ */

/* The backends `store` names. */
static const struct fleet_store_ops *const store_backends[] = { &fleet_store_sqlite,
								&fleet_store_pg };

struct fleet_settings {
	bool on;
	const struct fleet_store_ops *ops;
	const char *location; /* database or dsn */
	char *store, *database, *dsn, *thresholds, *durability;
	int64_t window, max_engines, idle_ttl, timeout_ms, flush_ms, max_unflushed;
	bool bounded;
	double tick;
};

static int
parse_thresholds(struct fleet_service *fs, const struct rulsrv_settings *st, const char *text)
{
	const struct rulsrv_api *api = fs->m.api;
	const char *p = text;
	char *end;
	double v;

	while (*p != '\0') {
		v = strtod(p, &end);
		if (end == p || !isfinite(v) || v <= 0 || fs->threshold_count == FLEET_MAX_THRESHOLDS ||
		    (*end != ',' && *end != '\0')) {
			api->setting_error(st, "fleet_thresholds",
					   "expected up to %d positive numbers separated by commas, "
					   "got \"%s\"", FLEET_MAX_THRESHOLDS, text);
			return -EINVAL;
		}
		fs->thresholds[fs->threshold_count++] = v;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int
read_settings(struct fleet_service *fs, const struct rulsrv_settings *st,
	      struct fleet_settings *o)
{
	const struct rulsrv_api *api = fs->m.api;
	int r;

	if ((r = api->setting_bool(st, "fleet", false, &o->on)) < 0)
		return r;
	if (!o->on)
		return 0;
	if ((r = api->setting_string(st, "store", "sqlite", &o->store)) < 0 ||
	    (r = api->setting_path(st, "database", NULL, &o->database)) < 0 ||
	    (r = api->setting_string(st, "dsn", NULL, &o->dsn)) < 0 ||
	    (r = api->setting_int(st, "fleet_window", (int64_t)fs->m.window, 1, 4096,
				  &o->window)) < 0 ||
	    (r = api->setting_int(st, "max_engines", 1000000, 1, 100000000, &o->max_engines)) < 0 ||
	    (r = api->setting_int(st, "idle_ttl_seconds", 0, 0, 100L * 365 * 86400,
				  &o->idle_ttl)) < 0 ||
	    (r = api->setting_double(st, "fleet_tick_seconds", 1.0, 0.01, 3600, &o->tick)) < 0 ||
	    (r = api->setting_int(st, "store_timeout_ms", 5000, 10, 600000, &o->timeout_ms)) < 0 ||
	    (r = api->setting_string(st, "fleet_thresholds", "10,25,50", &o->thresholds)) < 0 ||
	    (r = api->setting_string(st, "durability", "durable", &o->durability)) < 0 ||
	    (r = api->setting_int(st, "flush_interval_ms", 100, 1, 60000, &o->flush_ms)) < 0 ||
	    (r = api->setting_int(st, "max_unflushed_cycles", 10000, 1, 100000000,
				  &o->max_unflushed)) < 0)
		return r;
	if (strcmp(o->durability, "bounded") == 0) {
		o->bounded = true;
	} else if (strcmp(o->durability, "durable") != 0) {
		api->setting_error(st, "durability", "expected \"durable\" (an answer only once "
				   "its cycles are committed) or \"bounded\", got \"%s\"",
				   o->durability);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_LEN(store_backends) && o->ops == NULL; i++)
		if (strcmp(o->store, store_backends[i]->name) == 0)
			o->ops = store_backends[i];
	if (o->ops == NULL) {
		api->setting_error(st, "store", "unknown store \"%s\" (expected \"sqlite\" or "
				   "\"postgresql\")", o->store);
		return -EINVAL;
	}
	if (o->ops == &fleet_store_pg) {
		char why[300];

		if (o->dsn == NULL) {
			api->setting_error(st, "dsn", "is required with store = \"postgresql\" (a "
					   "libpq connection string or service=NAME)");
			return -EINVAL;
		}
		if (o->ops->check(o->dsn, why, sizeof(why)) < 0) {
			api->setting_error(st, "dsn", "%s", why);
			return -EINVAL;
		}
		if (o->bounded) {
			/* several instances share the engines: a compare-and-set that misses is
			 * planned again, which an answer already sent cannot follow */
			api->setting_error(st, "durability", "\"bounded\" is not available with "
					   "store = \"postgresql\": instances that share the engines "
					   "plan a cycle again when another instance moved its engine "
					   "on before the commit, and an answer already sent cannot "
					   "change; use \"durable\"");
			return -EINVAL;
		}
		o->location = o->dsn;
	} else {
		if (o->database == NULL) {
			api->setting_error(st, "database", "is required with fleet = true (the "
					   "SQLite file of the engines' windows; share it with the "
					   "feedback plugin so that failure events end engines' "
					   "lives)");
			return -EINVAL;
		}
		o->location = o->database;
	}
	if ((size_t)o->window < fs->m.window)
		api->log(fs->m.host, RULSRV_LOG_WARNING,
			 "fleet: fleet_window %lld is shorter than the model's window %zu: "
			 "streamed predictions see fewer cycles than /v1/predict would",
			 (long long)o->window, fs->m.window);
	return parse_thresholds(fs, st, o->thresholds);
}

static int
register_metrics(struct fleet_service *fs)
{
	static const char *const l_model[] = { "model", NULL };
	static const char *const l_reason[] = { "reason", NULL };
	static const char *const l_threshold[] = { "threshold", NULL };
	const struct rulsrv_api *api = fs->m.api;
	struct fleet_shared *sh = fs->sh;
	struct rulsrv_metric *engines, *cycles, *refusals, *evictions, *below;
	const struct rulsrv_metric_def defs[] = {
		{ .name = "fleet_engines", .type = RULSRV_METRIC_GAUGE,
		  .help = "Engines whose window the service keeps", .out = &engines,
		  .series = &sh->engines_gauge },
		{ .name = "fleet_cycles_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "Cycles ingested through /v1/cycles", .labels = l_model, .out = &cycles },
		{ .name = "fleet_cycle_refusals_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "Refused cycles (stale_cycle, invalid, ...)", .labels = l_reason,
		  .out = &refusals },
		{ .name = "fleet_evictions_total", .type = RULSRV_METRIC_COUNTER,
		  .help = "Engines forgotten (ttl, capacity, failure, deleted)", .labels = l_reason,
		  .out = &evictions },
		{ .name = "fleet_engines_below_rul", .type = RULSRV_METRIC_GAUGE,
		  .help = "Engines whose latest predicted RUL is below each threshold",
		  .labels = l_threshold, .out = &below },
	};
	const char *const model[] = { fs->m.name };
	char label[32];
	size_t i;
	int r;

	r = api->metrics_register(fs->m.host, defs, ARRAY_LEN(defs));
	if (r < 0)
		return r;
	fs->cycles_total = api->series(cycles, model);
	if (fs->cycles_total == NULL || sh->engines_gauge == NULL)
		return -ENOMEM;
	for (i = 0; i < REFUSE_COUNT; i++) {
		const char *v[] = { refusal_labels[i] };

		if ((sh->refusals[i] = api->series(refusals, v)) == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < EVICT_COUNT; i++) {
		const char *v[] = { eviction_labels[i] };

		if ((sh->evictions[i] = api->series(evictions, v)) == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < fs->threshold_count; i++) {
		const char *v[] = { label };

		snprintf(label, sizeof(label), "%g", fs->thresholds[i]);
		if ((fs->below[i] = api->series(below, v)) == NULL)
			return -ENOMEM;
	}
	api->gauge_set(sh->engines_gauge, (double)sh->table.count);
	return 0;
}

static int
build_prefix(struct fleet_service *fs)
{
	cJSON *n = cJSON_CreateString(fs->m.name), *v = cJSON_CreateString(fs->m.version);
	char *ns = cJSON_PrintUnformatted(n), *vs = cJSON_PrintUnformatted(v);
	int r = -ENOMEM;

	if (ns != NULL && vs != NULL &&
	    asprintf(&fs->prefix, "{\"model\":%s,\"version\":%s,\"predictions\":[", ns, vs) >= 0) {
		fs->prefix_len = strlen(fs->prefix);
		r = 0;
	}
	cJSON_Delete(n);
	cJSON_Delete(v);
	free(ns);
	free(vs);
	return r;
}

int
fleet_service_init(const struct fleet_model *m, const struct rulsrv_settings *settings,
		   struct fleet_service **out)
{
	struct fleet_settings o = { 0 };
	struct fleet_service *fs;
	int r;

	*out = NULL;
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return -ENOMEM;
	fs->m = *m;
	fs->lim.max_instances = m->max_cycles_per_request;
	fs->lim.max_cycles = 1;
	r = read_settings(fs, settings, &o);
	if (r < 0 || !o.on)
		goto out;
	r = shared_get(m, o.ops, o.location, (uint32_t)o.window, (int)o.timeout_ms, &fs->sh);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&fs->sh->lock);
	fs->sh->window = (uint32_t)o.window; /* engines grow to it at their next cycle */
	fs->sh->max_engines = (size_t)o.max_engines;
	fs->sh->idle_ttl = (double)o.idle_ttl;
	fs->sh->bounded = o.bounded;
	fleet_committer_bound(fs->sh->committer, o.bounded ? (unsigned)o.flush_ms : 0,
			      (size_t)o.max_unflushed);
	fs->sh->host = m->host;
	fs->by = model_index_locked(fs->sh, m->name, m->version);
	set_thresholds_locked(fs->sh, fs);
	pthread_mutex_unlock(&fs->sh->lock);
	r = build_prefix(fs);
	if (r == 0)
		r = register_metrics(fs);
	if (r == 0) {
		/* failure events that came while the process was down */
		pthread_mutex_lock(&fs->sh->lock);
		fleet_poll_failures_locked(fs->sh);
		pthread_mutex_unlock(&fs->sh->lock);
		r = fleet_http_routes(fs);
	}
	if (r == 0)
		r = m->api->timer_add(m->host, o.tick, fleet_tick, fs);
	if (r < 0)
		m->api->log(m->host, RULSRV_LOG_ERR, "fleet: cannot start: error %d", r);
out:
	free(o.store);
	free(o.database);
	free(o.dsn);
	free(o.thresholds);
	free(o.durability);
	if (r < 0 || !o.on) {
		fleet_service_fini(fs);
		return r;
	}
	*out = fs;
	return 0;
}

void
fleet_service_fini(struct fleet_service *fs)
{
	if (fs == NULL)
		return;
	if (fs->sh != NULL) {
		/* answered items of this instance still queued (durability = "bounded") tell
		 * it of their predictions once committed: before it goes */
		fleet_committer_flush(fs->sh->committer);
		shared_put(fs->sh);
	}
	free(fs->prefix);
	free(fs);
}
