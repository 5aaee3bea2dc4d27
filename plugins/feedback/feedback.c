/* SPDX-License-Identifier: MIT */
/* feedback.c - the feedback plugin: ground truth in, live accuracy out, predictions logged. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <rulsrv/plugin.h>

#include "accuracy.h"
#include "bundle.h"
#include "clocks.h"
#include "commit.h"
#include "parse.h"
#include "predlog.h"
#include "store.h"
#include "store_pg_conn.h"

/*
 * One instance per service. What an instance does depends on the service it is in (setting
 * `role`, default "auto"): in a service with a model plugin (listed before it, which set
 * the "model.bundle" attribute) it logs every prediction to the store; in a service without
 * one it serves POST /v1/feedback, GET /v1/feedback/stats and GET /v1/feedback/predictions.
 * So the default rulsrv.conf lists the same instance in both services, and both open the
 * same database file.
 *
 * Settings (rulsrv.conf(5), plugin `feedback.so`):
 *   store               string  "sqlite" "sqlite" (a file) or "postgresql" (a server that
 *                                        several daemons may share)
 *   database            path    /var/lib/rulsrv/feedback.db  sqlite: the file; relative to the
 *                                 config file; its directory must exist and be writable
 *   dsn                 string  (none)   postgresql: a libpq connection string, URI or
 *                                        "service=NAME"; never a password (libpq's password
 *                                        file or the environment)
 *   store_timeout_ms    int     2000     postgresql: a request that needs the database is
 *                                        answered (503 when it is down) within this
 *   role                string  "auto"   "auto", "feedback" (serve), "log" (log predictions)
 *                                        or "both"
 *   window              int     1000     records in model_rmse/_mae/_nasa_score and stats
 *   rul_cap             number  (unset)  cap on the truth; unset: the bundle's, else 125
 *   bundle              path    (unset)  the served model's bundle: its RUL cap, and its
 *                                        feedback series exported at 0 from the start
 *   max_batch           int     1000     records per POST (more: 413)
 *   queue_size          int     1048576  prediction log queue (entries, 40 bytes each): it grows
 *                                        to this under a burst; past it, drops and counts
 *   max_group           int     0        requests per commit (0: all that wait)
 *   busy_timeout_ms     int     5000     wait for another connection's write lock
 *   log_retention_days  number  0        delete logged predictions older than this (0: keep)
 *   max_models          int     100      models tracked in metrics and windows; a POST naming
 *                                        one more is refused (422)
 *   log_before_answer   string  "cycles" whose answers wait until the log committed their
 *                                        predictions: "cycles" (fleet mode's POST /v1/cycles,
 *                                        whose answer waits for its own store already),
 *                                        "all" (every prediction request) or "none"
 */

static const double fb_residual_buckets[] = {
	-100, -75, -50, -40, -30, -20, -15, -10, -5, -2, 0, 2, 5, 10, 15, 20, 30, 40, 50, 75, 100,
};

#define FB_LATE_EVERY 1.0   /* seconds between looks for predictions scored by the log */
#define FB_PING_EVERY 1.0   /* seconds between looks at a server store (feedback_store_up) */
#define FB_RETRY_AFTER "1"  /* seconds, in the 503 of a store that is down: it reconnects by
			     * itself, its back-off is 5 s at most */
#define FB_LATE_CHUNK 10000 /* records read per look */

static const double fb_commit_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
};

struct fb_model {
	char name[FB_MODEL_MAX];
	struct fb_window *window;
	struct rulsrv_series *count, *squared, *absolute, *rmse, *mae, *nasa, *residual;
	bool touched; /* scored since its gauges were last set */
	struct fb_model *next;
};

struct fb {
	const char *object; /* first member, forever: fb_handoff reads it from any version */
	struct rulsrv_host *host;
	const struct rulsrv_api *api;
	char *database;
	char *store_kind; /* the `store` setting */
	char *dsn;
	char *location;   /* what the store opens: the database path or the dsn */
	char where[300];  /* the store as the logs may name it: never a dsn's secrets */
	int64_t store_timeout_ms;
	char *role;
	char *bundle;
	char *bundle_model; /* the bundle's model name: its series are there from the start */
	int64_t window_size;
	int64_t max_batch;
	int64_t queue_size;
	int64_t max_group;
	int64_t busy_timeout_ms;
	int64_t max_models;
	double rul_cap;
	double log_retention_days;
	bool serve;
	bool log;
	char *log_before_answer; /* "cycles", "all" or "none": whose answers wait for the log */
	bool hold_all;           /* every answer waits (log_before_answer = "all") */
	bool hold_cycles;        /* the answers of fleet mode's cycles wait ("cycles", "all") */

	const struct fb_store_ops *ops;
	struct fb_store *store;
	struct fb_committer *committer;
	struct fb_predlog *predlog;

	pthread_mutex_t lock; /* models, windows and the cursor pointer */
	struct fb_model *models;
	size_t model_count;
	struct fb_window *all;
	struct fb_cursor *cursor; /* records scored by the log up to cursor->after are accounted */
	int64_t restored_upto;    /* records up to this id are in the windows from the restore */

	struct rulsrv_metric *m_count, *m_squared, *m_absolute, *m_rmse, *m_mae, *m_nasa;
	struct rulsrv_metric *m_residual, *m_errors, *m_commit;
	struct rulsrv_metric *m_log_written, *m_log_dropped, *m_log_failed, *m_store_up;
	struct rulsrv_series *store_up;
	bool store_was_up; /* the last ping's verdict (timer thread), for the log */
	struct rulsrv_series *commit_seconds;
	struct rulsrv_series *log_written, *log_dropped, *log_failed;
};

/*
 * A POST /v1/feedback between its handler and its answer: the handler defers the answer and
 * queues the item; the committer hands it back to fb_committed, which answers and frees it.
 */
struct fb_pending {
	struct fb_commit_item item; /* first: fb_committed gets the item back */
	struct rulsrv_response *resp;
	struct fb_record *records;
	bool batch; /* the {"records": [...]} form: errors name the record */
};

/* Its address tells this loaded object's instances from those of another (fb->object). */
static const char fb_object[] = "feedback";

/* ---- accuracy state ---------------------------------------------------------------------- */

/*
 * How far the records the prediction log scored are accounted. The metric registry survives a
 * reload, and for a moment the old instance and the new one both run: were the cursor each
 * instance's own, both would add a record scored then to the same counters. So a reload
 * hands it over (fb_handoff): the new instance shares the old one's, refcounted, when both
 * serve the same database. An instance whose predecessor is another loaded object (a plugin
 * file replaced on disk, whose state may be laid out otherwise) keeps its own and starts from
 * its restore mark like a first start. lock nests inside each sharer's fb->lock.
 */
struct fb_cursor {
	pthread_mutex_t lock;
	int64_t after;
	atomic_uint refs;
};

static struct fb_cursor *
fb_cursor_new(int64_t mark)
{
	struct fb_cursor *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->after = mark;
	atomic_init(&c->refs, 1);
	return c;
}

static struct fb_cursor *
fb_cursor_ref(struct fb_cursor *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

static void
fb_cursor_put(struct fb_cursor *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void
fb_models_free(struct fb *fb)
{
	struct fb_model *m, *next;

	for (m = fb->models; m != NULL; m = next) {
		next = m->next;
		fb_window_free(m->window);
		free(m);
	}
	fb->models = NULL;
	fb->model_count = 0;
}

static struct fb_model *
fb_model_find_locked(struct fb *fb, const char *name)
{
	struct fb_model *m;

	for (m = fb->models; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/*
 * The model's state, created on first sight (the lock is held). NULL when out of memory or
 * when max_models are tracked already: each model costs a window and seven series, and
 * model names come from clients (POST refuses new names beyond the limit up front).
 */
static struct fb_model *
fb_model_get_locked(struct fb *fb, const char *name)
{
	const struct rulsrv_api *api = fb->api;
	const char *labels[] = { name };
	struct fb_model *m = fb_model_find_locked(fb, name);

	if (m != NULL)
		return m;
	if (fb->model_count >= (size_t)fb->max_models)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->window = fb_window_new((size_t)fb->window_size);
	m->count = api->series(fb->m_count, labels);
	m->squared = api->series(fb->m_squared, labels);
	m->absolute = api->series(fb->m_absolute, labels);
	m->rmse = api->series(fb->m_rmse, labels);
	m->mae = api->series(fb->m_mae, labels);
	m->nasa = api->series(fb->m_nasa, labels);
	m->residual = api->series(fb->m_residual, labels);
	if (m->window == NULL || m->count == NULL || m->squared == NULL || m->absolute == NULL ||
	    m->rmse == NULL || m->mae == NULL || m->nasa == NULL || m->residual == NULL) {
		fb_window_free(m->window);
		free(m);
		return NULL;
	}
	m->next = fb->models;
	fb->models = m;
	fb->model_count++;
	return m;
}

static void
fb_model_publish(struct fb *fb, const struct fb_model *m)
{
	struct fb_figures f = fb_window_figures(m->window);

	fb->api->gauge_set(m->rmse, f.rmse);
	fb->api->gauge_set(m->mae, f.mae);
	fb->api->gauge_set(m->nasa, f.nasa_score);
}

/* Account scored records: counters, residuals and (windowed) the windows (lock held). */
static void
fb_account_locked(struct fb *fb, const struct fb_scored *sc, size_t n, bool windowed)
{
	const struct rulsrv_api *api = fb->api;
	struct fb_model *m = NULL;
	struct fb_terms t;
	size_t i;

	for (i = 0; i < n; i++) {
		if (m == NULL || strcmp(m->name, sc[i].model) != 0)
			m = fb_model_get_locked(fb, sc[i].model);
		if (m == NULL)
			continue;
		t = fb_terms_of(sc[i].predicted, sc[i].actual, fb->rul_cap);
		api->counter_add(m->count, 1);
		api->counter_add(m->squared, t.squared);
		api->counter_add(m->absolute, t.absolute);
		api->histogram_observe(m->residual, t.residual);
		if (windowed) {
			fb_window_push(m->window, &t);
			fb_window_push(fb->all, &t);
		}
		m->touched = true;
	}
}

/* One record the log scored (the cursor's lock held; cursor->after is its id). One the
 * restore put in the windows already is only counted. */
static int
fb_late_one(void *ud, const struct fb_scored *sc)
{
	struct fb *fb = ud;

	fb_account_locked(fb, sc, 1, fb->cursor->after > fb->restored_upto);
	return 0;
}

/*
 * Account the records the prediction log scored (a prediction logged after its unit's
 * failure event, possibly by another process): counters, residuals and windows, as if the
 * event had scored it. The lock is held. Called every FB_LATE_EVERY seconds by the late timer
 * and before /v1/feedback/stats answers, so that its window agrees with its count.
 */
static int
fb_late_locked(struct fb *fb)
{
	struct fb_cursor *c = fb->cursor;
	struct fb_model *m;
	int64_t before;
	int r;

	pthread_mutex_lock(&c->lock);
	do {
		before = c->after;
		r = fb->ops->late(fb->store, &c->after, FB_LATE_CHUNK, fb_late_one, fb);
	} while (r == 0 && c->after != before);
	pthread_mutex_unlock(&c->lock);
	for (m = fb->models; m != NULL; m = m->next) {
		if (m->touched)
			fb_model_publish(fb, m);
		m->touched = false;
	}
	return r;
}

/*
 * A core timer, not a thread of the plugin's own: a look is one indexed read that finds
 * nothing most of the time, and the core stops its timers before a reload replaces the
 * instance or fini frees it.
 */
static void
fb_late_tick(void *ud)
{
	struct fb *fb = ud;

	pthread_mutex_lock(&fb->lock);
	fb_late_locked(fb); /* a failed read is retried at the next look */
	pthread_mutex_unlock(&fb->lock);
}

static int
fb_restore_all(void *ud, const struct fb_scored *sc)
{
	struct fb *fb = ud;
	struct fb_terms t = fb_terms_of(sc->predicted, sc->actual, fb->rul_cap);

	fb_window_push(fb->all, &t);
	return 0;
}

struct fb_restore_ctx {
	struct fb *fb;
	struct fb_model *model;
};

static int
fb_restore_model(void *ud, const struct fb_scored *sc)
{
	struct fb_restore_ctx *ctx = ud;
	struct fb_terms t = fb_terms_of(sc->predicted, sc->actual, ctx->fb->rul_cap);

	fb_window_push(ctx->model->window, &t);
	return 0;
}

static int
fb_restore_totals(void *ud, const struct fb_totals *tot)
{
	struct fb *fb = ud;

	if (fb->model_count >= (size_t)fb->max_models)
		return 0; /* the store may hold more models than are tracked now */
	return fb_model_get_locked(fb, tot->model) != NULL ? 0 : -ENOMEM;
}

/* The windows of the last `window` records come back from the store, so a restart does
 * not reset model_rmse and friends to zero. Models are listed first and their records read
 * after: the store's read connection serves one query at a time. Records up to the last id
 * at this moment are restored; the ones the log scores later are accounted by fb_late. */
static int
fb_restore(struct fb *fb)
{
	struct fb_restore_ctx ctx = { .fb = fb };
	struct fb_model *m;
	int r;

	pthread_mutex_lock(&fb->lock);
	r = fb->ops->last_id(fb->store, &fb->restored_upto);
	if (r == 0) {
		fb->cursor = fb_cursor_new(fb->restored_upto);
		if (fb->cursor == NULL)
			r = -ENOMEM;
	}
	if (r == 0)
		r = fb->ops->recent(fb->store, NULL, fb->restored_upto, (size_t)fb->window_size,
				    fb_restore_all, fb);
	if (r == 0)
		r = fb->ops->totals(fb->store, fb_restore_totals, fb);
	for (m = fb->models; m != NULL && r == 0; m = m->next) {
		ctx.model = m;
		r = fb->ops->recent(fb->store, m->name, fb->restored_upto,
				    (size_t)fb->window_size, fb_restore_model, &ctx);
		if (r == 0)
			fb_model_publish(fb, m);
	}
	pthread_mutex_unlock(&fb->lock);
	return r;
}

/* ---- the prediction log ------------------------------------------------------------------ */

/*
 * log_before_answer: the answer of the request waits (observation_hold) until the log's thread
 * wrote these predictions, so an acknowledged prediction is in the log even when the instance
 * dies right after its answer. By default ("cycles") only fleet mode's answers wait: their
 * cycles are state the server keeps, and they wait for the fleet store's commit anyway. A
 * /v1/predict window is the client's own data; holding its answer for a commit halves the
 * requests a service answers (docs/FEEDBACK.md), so it waits only with "all". A notifier that
 * does not wait (observers_notify) gets no hold and the log goes on behind the answer.
 */
static void
fb_observe(void *ud, const struct rulsrv_prediction_batch *b)
{
	struct fb *fb = ud;
	bool wait = fb->hold_all ||
		    (fb->hold_cycles && b->count > 0 &&
		     (rulsrv_prediction_flags(b, 0) & RULSRV_PREDICTION_STREAMED) != 0);
	struct rulsrv_observation *hold = wait ? fb->api->observation_hold(fb->host) : NULL;
	size_t dropped = fb_predlog_push_held(fb->predlog, b, hold);

	if (dropped > 0)
		fb->api->counter_add(fb->log_dropped, (double)dropped);
}

static void
fb_release(void *ud, void *hold, int status)
{
	struct fb *fb = ud;

	fb->api->observation_release(hold, status);
}

static void
fb_logged(void *ud, size_t n, int r)
{
	struct fb *fb = ud;
	char buf[128];

	if (r == 0) {
		fb->api->counter_add(fb->log_written, (double)n);
		return;
	}
	fb->api->counter_add(fb->log_failed, (double)n);
	fb->api->log(fb->host, RULSRV_LOG_WARNING, "cannot log %zu predictions to '%s': %s", n,
		     fb->where, strerror_r(-r, buf, sizeof(buf)));
}

/* ---- HTTP handlers ----------------------------------------------------------------------- */

static void
fb_count_error(struct fb *fb, const char *reason)
{
	const char *labels[] = { reason };
	struct rulsrv_series *s = fb->api->series(fb->m_errors, labels);

	if (s != NULL)
		fb->api->counter_add(s, 1);
}

/* The core refused a POST /v1/feedback itself: over max_body_bytes, or out of time. */
static void
fb_count_refusal(void *ud, unsigned status, const char *code)
{
	(void)code;
	fb_count_error(ud, fb_error_reason(status));
}

static void
fb_respond_json(struct fb *fb, struct rulsrv_response *resp, unsigned status, cJSON *root)
{
	char *text = root != NULL ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	if (text == NULL) {
		fb->api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	fb->api->respond(resp, status, "application/json", text, strlen(text));
}

/* The store could not serve the request (down, slow, full): 503 with Retry-After, the error
 * JSON as every other refusal. */
static void
fb_unavailable(struct fb *fb, struct rulsrv_response *resp, const char *what, int r)
{
	char buf[128];

	fb->api->respond_header(resp, "Retry-After", FB_RETRY_AFTER);
	fb->api->respond_error(resp, 503, "store_unavailable", "%s: %s", what,
			       r == -ETIMEDOUT ? "the store did not answer within store_timeout_ms"
			       : r == -ECONNREFUSED ? "the store is unreachable, reconnecting"
			       : strerror_r(-r, buf, sizeof(buf)));
}

static void
fb_refuse_unmatched(struct fb *fb, struct rulsrv_response *resp, const struct fb_group *g,
		    bool batch)
{
	const struct fb_record *rec = &g->records[g->err_index];
	char at[48] = "";

	if (batch)
		snprintf(at, sizeof(at), "records[%zu]: ", g->err_index);
	fb_count_error(fb, "no_prediction");
	fb->api->respond_error(resp, 422, "no_prediction",
			       "%sno logged prediction of unit %lld at cycle %lld%s%s%s: send "
			       "predicted_rul with the record",
			       at, (long long)rec->unit, (long long)rec->cycle,
			       rec->model[0] ? " by model '" : "", rec->model,
			       rec->model[0] ? "'" : "");
}

/* Would the request's posted model names take the tracked models beyond max_models? The
 * name that would be one too many, or NULL. */
static const char *
fb_too_many_models(struct fb *fb, const struct fb_record *recs, size_t n)
{
	const char *over = NULL;
	size_t i, j, fresh = 0;

	pthread_mutex_lock(&fb->lock);
	for (i = 0; i < n && over == NULL; i++) {
		if (recs[i].model[0] == 0 || fb_model_find_locked(fb, recs[i].model) != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(recs[j].model, recs[i].model) == 0)
				break;
		if (j < i)
			continue;
		if (fb->model_count + ++fresh > (size_t)fb->max_models)
			over = recs[i].model;
	}
	pthread_mutex_unlock(&fb->lock);
	return over;
}

static void
fb_pending_free(struct fb_pending *p)
{
	free(p->item.group.scored);
	free(p->records);
	free(p);
}

/* Answer a POST whose group came back from the committer (or never reached it), and free it. */
static void
fb_answer(struct fb *fb, struct fb_pending *p)
{
	const struct fb_group *g = &p->item.group;
	cJSON *root;

	if (g->status == -ENOENT) {
		fb_refuse_unmatched(fb, p->resp, g, p->batch);
	} else if (g->status < 0) {
		fb_count_error(fb, "store");
		fb_unavailable(fb, p->resp, "cannot store feedback", g->status);
	} else {
		root = cJSON_CreateObject();
		cJSON_AddNumberToObject(root, "accepted", (double)g->count);
		cJSON_AddNumberToObject(root, "scored", (double)g->scored_count);
		fb_respond_json(fb, p->resp, 200, root);
	}
	fb_pending_free(p);
}

/*
 * The committer's hook, on its thread, after each transaction: what an acknowledged client
 * may look at next (the commit histogram, counters, windows and gauges) is updated first,
 * then every request of the transaction is answered.
 */
static void
fb_committed(void *ud, struct fb_commit_item *const *items, size_t n, double seconds)
{
	struct fb *fb = ud;
	struct fb_model *m;
	size_t i;

	if (seconds >= 0)
		fb->api->histogram_observe(fb->commit_seconds, seconds);
	pthread_mutex_lock(&fb->lock);
	for (i = 0; i < n; i++)
		if (items[i]->group.status == 0)
			fb_account_locked(fb, items[i]->group.scored, items[i]->group.scored_count,
					  true);
	for (m = fb->models; m != NULL; m = m->next) {
		if (m->touched)
			fb_model_publish(fb, m);
		m->touched = false;
	}
	pthread_mutex_unlock(&fb->lock);
	for (i = 0; i < n; i++)
		fb_answer(fb, (struct fb_pending *)items[i]);
}

/*
 * Checked and parsed here; stored and answered by the committer once its transaction is
 * durable (fb_committed), so that the worker thread goes back to other requests instead of
 * waiting for the fsync. Nothing of req or resp is touched after the submit: the answer may
 * come before this returns, and the request is gone with it.
 */
static void
fb_post(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fb *fb = ud;
	const struct rulsrv_api *api = fb->api;
	struct fb_parse_error perr;
	struct fb_pending *p;
	struct fb_record *recs;
	const char *model;
	char buf[128];
	bool batch;
	size_t n;
	int r;

	/* required, as for /v1/predict: curl -d without -H sends a form, not JSON */
	if (req->content_type == NULL || strcmp(req->content_type, "application/json") != 0) {
		fb_count_error(fb, "unsupported_media_type");
		api->respond_error(resp, 415, "unsupported_media_type",
				   "expected Content-Type application/json, got '%.64s'",
				   req->content_type != NULL ? req->content_type : "none");
		return;
	}
	r = fb_parse(req->body, req->body_len, (size_t)fb->max_batch, &recs, &n, &batch, &perr);
	if (r < 0) {
		fb_count_error(fb, perr.reason);
		api->respond_error(resp, perr.status, perr.code, "%s", perr.message);
		return;
	}
	model = fb_too_many_models(fb, recs, n);
	if (model != NULL) {
		fb_count_error(fb, "too_many_models");
		api->respond_error(resp, 422, "invalid_request",
				   "model: '%s' would be one model more than the %lld tracked "
				   "(setting max_models)", model, (long long)fb->max_models);
		free(recs);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		free(recs);
		api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	p->resp = resp;
	p->records = recs;
	p->batch = batch;
	p->item.group.records = recs;
	p->item.group.count = n;
	p->item.group.received_at = req->received_at;
	if (fb->store_timeout_ms > 0) /* the wait for the writer counts */
		p->item.group.deadline = clocks_monotonic() + (double)fb->store_timeout_ms / 1000;
	r = api->response_defer(resp);
	if (r < 0) {
		fb_pending_free(p);
		api->respond_error(resp, 500, "internal", "cannot defer the answer: %s",
				   strerror_r(-r, buf, sizeof(buf)));
		return;
	}
	r = fb_committer_submit(fb->committer, &p->item);
	if (r < 0) {
		p->item.group.status = r;
		fb_answer(fb, p); /* 503, from here: the committer never had it */
	}
}

static void
fb_add_figures(cJSON *obj, const char *name, struct fb_figures f, int64_t size)
{
	cJSON *o = cJSON_AddObjectToObject(obj, name);

	if (o == NULL)
		return;
	if (size > 0)
		cJSON_AddNumberToObject(o, "size", (double)size);
	cJSON_AddNumberToObject(o, "count", (double)f.count);
	if (f.count == 0) {
		cJSON_AddNullToObject(o, "rmse");
		cJSON_AddNullToObject(o, "mae");
		cJSON_AddNullToObject(o, "nasa_score");
		return;
	}
	cJSON_AddNumberToObject(o, "rmse", f.rmse);
	cJSON_AddNumberToObject(o, "mae", f.mae);
	cJSON_AddNumberToObject(o, "nasa_score", f.nasa_score);
}

struct fb_stats_ctx {
	struct fb *fb;
	cJSON *models;
	uint64_t count;
	double squared, absolute, nasa;
};

static int
fb_stats_model(void *ud, const struct fb_totals *t)
{
	struct fb_stats_ctx *ctx = ud;
	struct fb_model *m;
	cJSON *o;

	ctx->count += t->count;
	ctx->squared += t->squared_error_sum;
	ctx->absolute += t->abs_error_sum;
	ctx->nasa += t->nasa_score;
	o = cJSON_AddObjectToObject(ctx->models, t->model);
	if (o == NULL)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "count", (double)t->count);
	for (m = ctx->fb->models; m != NULL; m = m->next)
		if (strcmp(m->name, t->model) == 0)
			fb_add_figures(o, "window", fb_window_figures(m->window),
				       ctx->fb->window_size);
	fb_add_figures(o, "all_time",
		       fb_figures_of(t->count, t->squared_error_sum, t->abs_error_sum,
				     t->nasa_score),
		       0);
	return 0;
}

/* All-time figures come from the totals the store keeps in the same transactions as the
 * records; windowed ones from memory (restored from the store at start). */
static void
fb_stats(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fb *fb = ud;
	struct fb_stats_ctx ctx = { .fb = fb };
	cJSON *root = cJSON_CreateObject();
	cJSON *models = cJSON_CreateObject();
	int r;

	if (root == NULL || models == NULL) {
		cJSON_Delete(root);
		cJSON_Delete(models);
		fb->api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	ctx.models = models;
	pthread_mutex_lock(&fb->lock);
	r = fb_late_locked(fb);
	if (r == 0)
		r = fb->ops->totals(fb->store, fb_stats_model, &ctx);
	if (r == 0) {
		cJSON_AddNumberToObject(root, "count", (double)ctx.count);
		cJSON_AddNumberToObject(root, "rul_cap", fb->rul_cap);
		fb_add_figures(root, "window", fb_window_figures(fb->all), fb->window_size);
	}
	pthread_mutex_unlock(&fb->lock);
	if (r < 0) {
		cJSON_Delete(root);
		cJSON_Delete(models);
		fb_unavailable(fb, resp, "cannot read the store", r);
		return;
	}
	fb_add_figures(root, "all_time",
		       fb_figures_of(ctx.count, ctx.squared, ctx.absolute, ctx.nasa), 0);
	cJSON_AddItemToObject(root, "models", models);
	fb_respond_json(fb, resp, 200, root);
}

#define FB_LOOKUP_MAX 10000 /* predictions per GET /v1/feedback/predictions answer */

struct fb_lookup_ctx {
	cJSON *list;
	size_t count;
};

static int
fb_lookup_one(void *ud, const struct fb_logged *p)
{
	struct fb_lookup_ctx *ctx = ud;
	cJSON *o;

	if (ctx->count == FB_LOOKUP_MAX)
		return 1; /* stop: the answer says it is truncated */
	o = cJSON_CreateObject();
	if (o == NULL)
		return -ENOMEM;
	ctx->count++;
	cJSON_AddNumberToObject(o, "unit", (double)p->unit);
	cJSON_AddNumberToObject(o, "cycle", (double)p->cycle);
	cJSON_AddNumberToObject(o, "rul", p->rul);
	cJSON_AddStringToObject(o, "model", p->model);
	cJSON_AddStringToObject(o, "version", p->version);
	cJSON_AddNumberToObject(o, "timestamp", p->timestamp);
	cJSON_AddItemToArray(ctx->list, o);
	return 0;
}

static bool
fb_arg_count(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != 0)
		return false;
	*out = v;
	return true;
}

/* GET /v1/feedback/predictions?unit=N[&cycle=C]: the logged predictions, oldest first, at
 * most FB_LOOKUP_MAX of them ("truncated": true when there are more). */
static void
fb_predictions(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fb *fb = ud;
	const struct rulsrv_api *api = fb->api;
	const char *cycle_arg = api->request_arg(req, "cycle");
	struct fb_lookup_ctx ctx = { 0 };
	int64_t unit, cycle = -1;
	cJSON *root;
	int r;

	if (!fb_arg_count(api->request_arg(req, "unit"), &unit) ||
	    (cycle_arg != NULL && !fb_arg_count(cycle_arg, &cycle))) {
		api->respond_error(resp, 422, "invalid_request",
				   "expected ?unit=N[&cycle=C] with non-negative integers");
		return;
	}
	root = cJSON_CreateObject();
	ctx.list = cJSON_AddArrayToObject(root, "predictions");
	if (ctx.list == NULL) {
		cJSON_Delete(root);
		api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	r = fb->ops->lookup(fb->store, unit, cycle, fb_lookup_one, &ctx);
	if (r < 0) {
		cJSON_Delete(root);
		fb_unavailable(fb, resp, "cannot read the store", r);
		return;
	}
	cJSON_AddBoolToObject(root, "truncated", r > 0);
	fb_respond_json(fb, resp, 200, root);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void
fb_free(struct fb *fb)
{
	if (fb == NULL)
		return;
	/* fini comes after every deferred answer: the committer's queue is empty by now, and the
	 * core stopped the timers */
	fb_predlog_free(fb->predlog);
	fb_committer_free(fb->committer);
	if (fb->ops != NULL)
		fb->ops->close(fb->store);
	fb_cursor_put(fb->cursor);
	fb_models_free(fb);
	fb_window_free(fb->all);
	pthread_mutex_destroy(&fb->lock);
	free(fb->database);
	free(fb->store_kind);
	free(fb->dsn);
	free(fb->role);
	free(fb->log_before_answer);
	free(fb->bundle);
	free(fb->bundle_model);
	free(fb);
}

/* Truth is capped like the model's training labels: rul_cap when set, else the cap of the
 * bundle named by `bundle`, else 125 (docs/MODEL.md). The bundle also names the model whose
 * feedback is expected. */
static int
fb_read_cap(struct fb *fb, const struct rulsrv_settings *s)
{
	struct bundle *b = NULL;
	char err[512];
	int r;

	if (fb->bundle == NULL) {
		if (isnan(fb->rul_cap))
			fb->rul_cap = 125;
		return 0;
	}
	r = bundle_load(fb->bundle, &b, err, sizeof(err));
	if (r < 0) {
		fb->api->setting_error(s, "bundle", "%s", err);
		return r;
	}
	if (isnan(fb->rul_cap))
		fb->rul_cap = b->rul_cap;
	fb->bundle_model = strdup(b->name);
	bundle_free(b);
	return fb->bundle_model != NULL ? 0 : -ENOMEM;
}

/*
 * The store's settings: `database` for sqlite, `dsn` and `store_timeout_ms` for postgresql;
 * those of the other store are left unread, so that the load fails naming them. A dsn with a
 * password is refused: rulsrv.conf is no place for one (libpq's password file is).
 */
static int
fb_read_store(struct fb *fb, const struct rulsrv_settings *s)
{
	const struct rulsrv_api *api = fb->api;
	char err[256];
	int r = 0;

	if (strcmp(fb->store_kind, "sqlite") == 0) {
		fb->ops = &fb_store_sqlite;
		r |= api->setting_path(s, "database", "/var/lib/rulsrv/feedback.db",
				       &fb->database);
		if (r != 0)
			return -EINVAL;
		fb->location = fb->database;
		snprintf(fb->where, sizeof(fb->where), "'%s'", fb->database);
		return 0;
	}
	if (strcmp(fb->store_kind, "postgresql") != 0) {
		api->setting_error(s, "store", "expected \"sqlite\" or \"postgresql\", got \"%s\"",
				   fb->store_kind);
		return -EINVAL;
	}
	fb->ops = &fb_store_pg;
	r |= api->setting_string(s, "dsn", NULL, &fb->dsn);
	r |= api->setting_int(s, "store_timeout_ms", 2000, 1, 600000, &fb->store_timeout_ms);
	if (r != 0)
		return -EINVAL;
	if (fb->dsn == NULL) {
		api->setting_error(s, "dsn", "store = \"postgresql\" needs a dsn (a libpq "
				   "connection string, URI or \"service=NAME\")");
		return -EINVAL;
	}
	if (pg_dsn_check(fb->dsn, err, sizeof(err)) < 0) {
		api->setting_error(s, "dsn", "%s", err);
		return -EINVAL;
	}
	fb->location = fb->dsn;
	pg_dsn_describe(fb->dsn, err, sizeof(err));
	snprintf(fb->where, sizeof(fb->where), "postgresql %s", err);
	return 0;
}

static int
fb_read_settings(struct fb *fb, const struct rulsrv_settings *s)
{
	const struct rulsrv_api *api = fb->api;
	int r = 0;

	r |= api->setting_string(s, "store", "sqlite", &fb->store_kind);
	if (r != 0)
		return -EINVAL;
	r = fb_read_store(fb, s);
	if (r < 0)
		return r;
	r |= api->setting_string(s, "role", "auto", &fb->role);
	r |= api->setting_int(s, "window", 1000, 1, 10000000, &fb->window_size);
	r |= api->setting_path(s, "bundle", NULL, &fb->bundle);
	r |= api->setting_double(s, "rul_cap", NAN, 1, 1e9, &fb->rul_cap);
	r |= api->setting_int(s, "max_batch", 1000, 1, 1000000, &fb->max_batch);
	r |= api->setting_int(s, "queue_size", 1048576, 1, 100000000, &fb->queue_size);
	r |= api->setting_int(s, "max_group", 0, 0, 1000000, &fb->max_group);
	r |= api->setting_int(s, "busy_timeout_ms", 5000, 0, 3600000, &fb->busy_timeout_ms);
	r |= api->setting_double(s, "log_retention_days", 0, 0, 1e6, &fb->log_retention_days);
	r |= api->setting_int(s, "max_models", 100, 1, 100000, &fb->max_models);
	r |= api->setting_string(s, "log_before_answer", "cycles", &fb->log_before_answer);
	if (r != 0)
		return -EINVAL;
	fb->hold_all = strcmp(fb->log_before_answer, "all") == 0;
	fb->hold_cycles = fb->hold_all || strcmp(fb->log_before_answer, "cycles") == 0;
	if (!fb->hold_cycles && strcmp(fb->log_before_answer, "none") != 0) {
		api->setting_error(s, "log_before_answer", "expected \"cycles\", \"all\" or "
				   "\"none\", got \"%s\"", fb->log_before_answer);
		return -EINVAL;
	}
	r = fb_read_cap(fb, s);
	if (r < 0)
		return r;
	if (strcmp(fb->role, "auto") == 0) {
		fb->log = api->attribute_get(fb->host, "model.bundle") != NULL ||
			  api->attribute_get(fb->host, "model.name") != NULL;
		fb->serve = !fb->log;
	} else if (strcmp(fb->role, "feedback") == 0) {
		fb->serve = true;
	} else if (strcmp(fb->role, "log") == 0) {
		fb->log = true;
	} else if (strcmp(fb->role, "both") == 0) {
		fb->serve = fb->log = true;
	} else {
		api->setting_error(s, "role", "expected \"auto\", \"feedback\", \"log\" or "
				   "\"both\", got \"%s\"", fb->role);
		return -EINVAL;
	}
	return 0;
}

#define FB_N(a) (sizeof(a) / sizeof((a)[0]))

/* Every POST refusal reason, so that each feedback_errors_total series is there at 0. */
static const unsigned fb_parse_statuses[] = { 400, 408, 413, 422 };
static const char *const fb_other_reasons[] = {
	"unsupported_media_type", "too_many_models", "no_prediction", "store",
};

static int
fb_errors_at_zero(struct fb *fb)
{
	const char *labels[1];
	size_t i;

	for (i = 0; i < FB_N(fb_parse_statuses) + FB_N(fb_other_reasons); i++) {
		labels[0] = i < FB_N(fb_parse_statuses)
				    ? fb_error_reason(fb_parse_statuses[i])
				    : fb_other_reasons[i - FB_N(fb_parse_statuses)];
		if (fb->api->series(fb->m_errors, labels) == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* The families of the roles the instance has (docs/METRICS.md lists them by service). */
static int
fb_metrics(struct fb *fb)
{
	static const char *const model[] = { "model", NULL };
	static const char *const reason[] = { "reason", NULL };
	const struct rulsrv_metric_def serve[] = {
		{ "feedback_count_total", RULSRV_METRIC_COUNTER, "Ground-truth records scored",
		  model, NULL, 0, &fb->m_count, NULL },
		{ "feedback_errors_total", RULSRV_METRIC_COUNTER, "Feedback requests refused",
		  reason, NULL, 0, &fb->m_errors, NULL },
		{ "feedback_squared_error_sum_total", RULSRV_METRIC_COUNTER,
		  "Sum of squared errors (predicted - capped actual)", model, NULL, 0,
		  &fb->m_squared, NULL },
		{ "feedback_abs_error_sum_total", RULSRV_METRIC_COUNTER,
		  "Sum of absolute errors (predicted - capped actual)", model, NULL, 0,
		  &fb->m_absolute, NULL },
		{ "model_rmse", RULSRV_METRIC_GAUGE, "RMSE over the most recent scored records",
		  model, NULL, 0, &fb->m_rmse, NULL },
		{ "model_mae", RULSRV_METRIC_GAUGE, "MAE over the most recent scored records",
		  model, NULL, 0, &fb->m_mae, NULL },
		{ "model_nasa_score", RULSRV_METRIC_GAUGE,
		  "NASA score summed over the most recent scored records", model, NULL, 0,
		  &fb->m_nasa, NULL },
		{ "feedback_residual_cycles", RULSRV_METRIC_HISTOGRAM,
		  "Predicted minus actual RUL, in cycles", model, fb_residual_buckets,
		  FB_N(fb_residual_buckets), &fb->m_residual, NULL },
		{ "feedback_commit_duration_seconds", RULSRV_METRIC_HISTOGRAM,
		  "Time of one durable group commit", NULL, fb_commit_buckets,
		  FB_N(fb_commit_buckets), &fb->m_commit, &fb->commit_seconds },
	};
	const struct rulsrv_metric_def logs[] = {
		{ "feedback_prediction_log_written_total", RULSRV_METRIC_COUNTER,
		  "Predictions written to the prediction log", NULL, NULL, 0, &fb->m_log_written,
		  &fb->log_written },
		{ "feedback_prediction_log_dropped_total", RULSRV_METRIC_COUNTER,
		  "Predictions not logged because the log queue was full", NULL, NULL, 0,
		  &fb->m_log_dropped, &fb->log_dropped },
		{ "feedback_prediction_log_failed_total", RULSRV_METRIC_COUNTER,
		  "Predictions lost to a failed write of the prediction log", NULL, NULL, 0,
		  &fb->m_log_failed, &fb->log_failed },
	};
	const struct rulsrv_metric_def common[] = {
		{ "feedback_store_up", RULSRV_METRIC_GAUGE,
		  "1 when the feedback store answers, 0 while it is down", NULL, NULL, 0,
		  &fb->m_store_up, &fb->store_up },
	};
	struct rulsrv_metric_def defs[FB_N(serve) + FB_N(logs) + FB_N(common)];
	size_t n = 0;
	int r;

	memcpy(defs, common, sizeof(common));
	n += FB_N(common);

	if (fb->serve) {
		memcpy(defs + n, serve, sizeof(serve));
		n += FB_N(serve);
	}
	if (fb->log) {
		memcpy(defs + n, logs, sizeof(logs));
		n += FB_N(logs);
	}
	r = fb->api->metrics_register(fb->host, defs, n);
	if (r == 0 && fb->serve)
		r = fb_errors_at_zero(fb);
	return r;
}

/*
 * The bundle's model gets its series before its first record, so that the first record
 * after a start moves feedback_count_total from 0 to 1 and shows in rate() and increase()
 * (a series born at 1 has no increase). Its gauges are NaN until it has a record: no RMSE
 * is not an RMSE of 0. A model restored from the store has its series already.
 */
static int
fb_declare_bundle_model(struct fb *fb)
{
	struct fb_model *m;
	int r = 0;

	if (fb->bundle_model == NULL)
		return 0;
	pthread_mutex_lock(&fb->lock);
	if (fb_model_find_locked(fb, fb->bundle_model) == NULL &&
	    fb->model_count < (size_t)fb->max_models) {
		m = fb_model_get_locked(fb, fb->bundle_model);
		if (m == NULL) {
			r = -ENOMEM;
		} else {
			fb->api->gauge_set(m->rmse, NAN);
			fb->api->gauge_set(m->mae, NAN);
			fb->api->gauge_set(m->nasa, NAN);
		}
	}
	pthread_mutex_unlock(&fb->lock);
	return r;
}

static int
fb_serve(struct fb *fb)
{
	const struct rulsrv_api *api = fb->api;
	int r;

	fb->all = fb_window_new((size_t)fb->window_size);
	if (fb->all == NULL)
		return -ENOMEM;
	r = fb_restore(fb);
	if (r < 0)
		return r;
	r = fb_declare_bundle_model(fb);
	if (r < 0)
		return r;
	r = api->timer_add(fb->host, FB_LATE_EVERY, fb_late_tick, fb);
	if (r < 0)
		return r;
	r = fb_committer_new(fb->ops, fb->store, (size_t)fb->max_group, fb_committed, fb,
			     &fb->committer);
	if (r < 0)
		return r;
	r = api->route_add(fb->host, "POST", "/v1/feedback", 0, fb_post, fb);
	if (r == 0)
		r = api->route_refusals(fb->host, "POST", "/v1/feedback", fb_count_refusal, fb);
	if (r == 0)
		r = api->route_add(fb->host, "GET", "/v1/feedback/stats", 0, fb_stats, fb);
	if (r == 0)
		r = api->route_add(fb->host, "GET", "/v1/feedback/predictions", 0,
				   fb_predictions, fb);
	return r;
}

/* The retention pass, paced by a core timer and done by the log's thread (it writes). */
static void
fb_expire_tick(void *ud)
{
	struct fb *fb = ud;

	fb_predlog_expire(fb->predlog);
}

static int
fb_start_log(struct fb *fb)
{
	int r;

	r = fb_predlog_new(fb->ops, fb->store, (size_t)fb->queue_size, fb_logged, fb,
			   &fb->predlog);
	if (r < 0)
		return r;
	fb_predlog_set_release(fb->predlog, fb_release);
	fb_predlog_set_retention(fb->predlog, fb->log_retention_days * 86400.0);
	if (fb->log_retention_days > 0) {
		r = fb->api->timer_add(fb->host, FB_PREDLOG_EXPIRE_EVERY, fb_expire_tick, fb);
		if (r < 0)
			return r;
	}
	/* repeats too: one whose first answer never went out may be missing from the log */
	return fb->api->observer_add_flags(fb->host, fb_observe, fb, RULSRV_OBSERVE_REPEATS);
}

/* A server store: one round trip a second (reconnecting after its back-off) sets
 * feedback_store_up, so that it shows an outage with no request in sight, and the end of one. */
static void
fb_store_tick(void *ud)
{
	struct fb *fb = ud;
	int r = fb->ops->ping(fb->store);
	char buf[128];

	fb->api->gauge_set(fb->store_up, r == 0 ? 1 : 0);
	if ((r == 0) == fb->store_was_up)
		return;
	fb->store_was_up = r == 0;
	if (r == 0)
		fb->api->log(fb->host, RULSRV_LOG_NOTICE, "feedback store %s answers again",
			     fb->where);
	else
		fb->api->log(fb->host, RULSRV_LOG_WARNING, "feedback store %s does not answer "
			     "(%s): requests that need it get 503 until it does",
			     fb->where, strerror_r(-r, buf, sizeof(buf)));
}

static int
fb_watch_store(struct fb *fb)
{
	fb->api->gauge_set(fb->store_up, 1); /* open: it answered */
	fb->store_was_up = true;
	if (fb->ops->ping == NULL)
		return 0;
	return fb->api->timer_add(fb->host, FB_PING_EVERY, fb_store_tick, fb);
}

static int
fb_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	const struct rulsrv_settings *settings, void **state)
{
	struct fb_store_config cfg;
	struct fb *fb;
	char err[512], buf[128];
	int r;

	fb = calloc(1, sizeof(*fb));
	if (fb == NULL)
		return -ENOMEM;
	fb->object = fb_object;
	fb->host = host;
	fb->api = api;
	pthread_mutex_init(&fb->lock, NULL);
	r = fb_read_settings(fb, settings);
	if (r < 0)
		goto fail;
	r = fb_metrics(fb);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot register the feedback metrics: %s",
			 strerror_r(-r, buf, sizeof(buf)));
		goto fail;
	}
	cfg.rul_cap = fb->rul_cap;
	cfg.busy_timeout_ms = (int)fb->busy_timeout_ms;
	cfg.timeout_ms = (int)fb->store_timeout_ms;
	r = fb->ops->open(fb->location, &cfg, &fb->store, err, sizeof(err));
	if (r < 0) {
		api->setting_error(settings, fb->ops == &fb_store_pg ? "dsn" : "database", "%s",
				   err);
		goto fail;
	}
	r = fb_watch_store(fb);
	if (r < 0)
		goto fail_log;
	if (fb->serve) {
		r = fb_serve(fb);
		if (r < 0)
			goto fail_log;
	}
	if (fb->log) {
		r = fb_start_log(fb);
		if (r < 0)
			goto fail_log;
	}
	api->log(host, RULSRV_LOG_INFO, "store %s%s%s", fb->where,
		 fb->serve ? ", serving /v1/feedback" : "",
		 fb->log ? ", logging predictions" : "");
	*state = fb;
	return 0;
fail_log:
	api->log(host, RULSRV_LOG_ERR, "cannot start feedback on %s: %s", fb->where,
		 strerror_r(-r, buf, sizeof(buf)));
fail:
	fb_free(fb);
	return r;
}

static bool
fb_ready(void *state, char *reason, size_t reason_len)
{
	struct fb *fb = state;

	if (fb->store != NULL)
		return true;
	snprintf(reason, reason_len, "feedback store %s is not open", fb->where);
	return false;
}

/*
 * A reload that keeps the instance: share the predecessor's cursor (see struct fb_cursor),
 * when it is of this loaded object and serves the same database. Nothing else carries over:
 * the windows were restored from the store by init, the counters live in the registry.
 */
static void
fb_handoff(void *state, void *old_state)
{
	struct fb *fb = state, *old = old_state;
	struct fb_cursor *mine;

	if (old->object != fb_object || fb->cursor == NULL || old->cursor == NULL ||
	    old->location == NULL || strcmp(fb->location, old->location) != 0)
		return;
	pthread_mutex_lock(&fb->lock);
	mine = fb->cursor;
	fb->cursor = fb_cursor_ref(old->cursor);
	pthread_mutex_unlock(&fb->lock);
	fb_cursor_put(mine);
}

static void
fb_fini(void *state)
{
	fb_free(state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "feedback",
	.kind = "feedback",
	.version = "0.1.0",
	.description = "ground truth in SQLite, live accuracy metrics, prediction log",
	.init = fb_init,
	.ready = fb_ready,
	.fini = fb_fini,
	.handoff = fb_handoff,
};
