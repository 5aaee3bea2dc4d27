/* SPDX-License-Identifier: MIT */
/* fleet_http.c - POST /v1/cycles, GET /v1/engines: the fleet's routes. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "feature_pipeline.h"
#include "float_text.h"
#include "fleet_shared.h"
#include "predict_request.h"

/*
 * POST /v1/cycles, all or nothing: under the fleet's lock, every cycle is checked against
 * its engine (and the cycles of that engine earlier in the body) and the windows it extends
 * are copied; the features and the predictions are computed from those copies as the windows
 * would be after the request, outside the lock, so that the other requests do not queue
 * behind the forest; under the lock again, when no engine of the request moved on meanwhile
 * (each engine's stamp), the windows change and the writes are queued to the committer, in
 * the order they are applied. When one did move on (a concurrent request on the same engine,
 * a failure event, an eviction), the request is planned and computed again under the lock,
 * so it goes through in a bounded time and is refused 409 when it became stale. The answer
 * waits for the committer (deferred), so a 200 means the cycles are durable.
 */

enum plan_kind { PLAN_NEW, PLAN_REPEAT };

struct plan {
	enum plan_kind kind;
	long src;      /* REPEAT: the body index it repeats, -1: the engine's stored cycle */
	float stored;  /* REPEAT of the stored cycle: its prediction */
	size_t feat;   /* NEW: its feature row */
};

struct group {
	size_t first, n; /* into order[] */
	struct fleet_engine *e;
	bool fresh; /* e allocated for this request, not in the table yet */
	bool reset; /* the store's ring of the engine is written anew */
	size_t n_new;
	uint64_t stamp;  /* e's when planned (a fresh one: 0) */
	size_t snap;     /* its window's copy: from slot snap of the request's copies */
	uint32_t len;    /* cycles of the window when planned */
};

struct cycles_req {
	struct fleet_service *fs;
	const struct predict_request *r;
	const char *where_kind; /* "cycles", "row" or NULL (one cycle) */
	size_t *order;
	struct plan *plan;
	struct group *groups;
	size_t n_groups, n_new, n_fresh;
	float *rows, *out;
	struct fleet_row *wrows;
	uint8_t *repeat; /* per row of wrows: flagged for the observers (maybe_logged) */
	bool any_repeat;
	struct fleet_window *wins;
	size_t n_wins;
	char *body; /* the answer, rendered outside the lock */
	size_t body_len;
	/* the windows the new cycles extend, as planned: cycles and inputs, each group's
	 * window followed by room for its new cycles */
	int64_t *snap_cyc;
	double *snap_in;
	uint32_t window; /* sh->window when planned */
};

/* A request kept for planning again (a shared store's compare-and-set missed). */
struct fleet_retry {
	struct fleet_service *fs;
	struct predict_request r;
	const char *where_kind;
	double received_at;
	unsigned attempts;
};

#define FLEET_MAX_ATTEMPTS 8 /* plans of one request before 503: instances racing on an engine */

void
fleet_retry_free(struct fleet_retry *rt)
{
	if (rt == NULL)
		return;
	predict_request_free(&rt->r);
	free(rt);
}

static int
by_unit(const void *a, const void *b, void *ud)
{
	const struct predict_request *r = ud;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int64_t u = r->engines[i].unit, v = r->engines[j].unit;

	if (u != v)
		return u < v ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Where cycle i is, for messages: "cycles[3]: ", "row 4: " or "". */
static void
where(const struct cycles_req *q, size_t i, char *buf, size_t len)
{
	if (q->where_kind == NULL)
		buf[0] = '\0';
	else if (q->where_kind[0] == 'r')
		snprintf(buf, len, "row %zu: ", i + 1);
	else
		snprintf(buf, len, "cycles[%zu]: ", i);
}

static const double *
cycle_inputs(const struct predict_request *r, size_t i)
{
	return r->engines[i].inputs;
}

static int64_t
cycle_number(const struct predict_request *r, size_t i)
{
	return r->engines[i].cycles[0];
}

/*
 * Check every cycle against its engine. 0, or 1 with *bad the first stale cycle (body
 * order) and *last the cycle it does not follow.
 */
static int
plan_cycles(struct cycles_req *q, size_t *bad, int64_t *last)
{
	struct fleet_shared *sh = q->fs->sh;
	const struct predict_request *r = q->r;
	size_t g, k, i;
	int found = 0;

	q->n_new = 0;
	q->n_fresh = 0;
	for (g = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];
		struct fleet_engine *e = fleet_table_find(&sh->table, r->engines[q->order[gr->first]].unit);
		bool has_last = e != NULL && e->len > 0;
		int64_t last_cycle = has_last ? fleet_engine_last_cycle(e) : -1;
		const double *last_in = has_last ? fleet_engine_slot(e, e->len - 1) + 1 : NULL;
		long last_src = -1;

		gr->e = e;
		gr->fresh = false;
		gr->n_new = 0;
		for (k = 0; k < gr->n; k++) {
			i = q->order[gr->first + k];
			if (has_last && (cycle_number(r, i) < last_cycle ||
					 (cycle_number(r, i) == last_cycle &&
					  memcmp(cycle_inputs(r, i), last_in,
						 CMAPSS_N_INPUTS * sizeof(double)) != 0))) {
				if (!found || i < *bad) {
					*bad = i;
					*last = last_cycle;
				}
				found = 1;
				break;
			}
			if (has_last && cycle_number(r, i) == last_cycle) {
				q->plan[i] = (struct plan){ .kind = PLAN_REPEAT, .src = last_src,
							    .stored = e != NULL ? e->rul : 0 };
				continue;
			}
			q->plan[i] = (struct plan){ .kind = PLAN_NEW, .feat = q->n_new++ };
			gr->n_new++;
			has_last = true;
			last_cycle = cycle_number(r, i);
			last_in = cycle_inputs(r, i);
			last_src = (long)i;
		}
		if (e == NULL && gr->n_new > 0)
			q->n_fresh++;
	}
	return found;
}

/* Engines of the right size for every group that adds cycles; nothing visible changes. */
static int
prepare_engines(struct cycles_req *q)
{
	struct fleet_shared *sh = q->fs->sh;
	struct fleet_engine *old;
	size_t g;

	if (fleet_table_reserve(&sh->table, sh->table.count + q->n_fresh) < 0)
		return -ENOMEM;
	for (g = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		if (gr->n_new == 0)
			continue;
		if (gr->e == NULL) {
			gr->e = fleet_engine_new(q->r->engines[q->order[gr->first]].unit, sh->window);
			if (gr->e == NULL)
				return -ENOMEM;
			gr->fresh = true;
		} else if (gr->e->cap != sh->window) {
			/* the kept length changed at a reload: the same cycles, in a new ring */
			struct fleet_engine *n = fleet_engine_resize(gr->e, sh->window);

			if (n == NULL)
				return -ENOMEM;
			fleet_table_put(&sh->table, n, &old); /* replaces: cannot fail */
			n->flags |= FLEET_ENGINE_RESET; /* the store's ring too */
			gr->e = n;
		}
	}
	return 0;
}

/* Copy the windows the new cycles extend (sh->lock held), for compute_features. */
static int
snapshot_windows(struct cycles_req *q)
{
	size_t g, total = 0, at;
	uint32_t j;

	for (g = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		gr->len = gr->e != NULL && !gr->fresh ? gr->e->len : 0;
		gr->stamp = gr->e != NULL && !gr->fresh ? gr->e->stamp : 0;
		if (gr->n_new > 0)
			total += gr->len + gr->n_new;
	}
	q->snap_cyc = malloc((total ? total : 1) * sizeof(*q->snap_cyc));
	q->snap_in = malloc((total ? total : 1) * CMAPSS_N_INPUTS * sizeof(*q->snap_in));
	if (q->snap_cyc == NULL || q->snap_in == NULL)
		return -ENOMEM;
	for (g = 0, at = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		gr->snap = at;
		if (gr->n_new == 0)
			continue;
		for (j = 0; j < gr->len; j++) {
			const double *sl = fleet_engine_slot(gr->e, j);

			q->snap_cyc[at + j] = (int64_t)sl[0];
			memcpy(q->snap_in + (at + j) * CMAPSS_N_INPUTS, sl + 1,
			       CMAPSS_N_INPUTS * sizeof(double));
		}
		at += gr->len + gr->n_new;
	}
	q->window = q->fs->sh->window;
	return 0;
}

/* Feature rows of every new cycle, from its engine's window (the copy) as it will be. */
static int
compute_features(struct cycles_req *q)
{
	const struct fleet_model *m = &q->fs->m;
	const struct predict_request *r = q->r;
	size_t g, k, i, len;
	int rc = 0;

	for (g = 0; g < q->n_groups && rc == 0; g++) {
		struct group *gr = &q->groups[g];
		int64_t *cyc = q->snap_cyc + gr->snap;
		double *in = q->snap_in + gr->snap * CMAPSS_N_INPUTS;

		if (gr->n_new == 0)
			continue;
		len = gr->len;
		for (k = 0; k < gr->n && rc == 0; k++) {
			i = q->order[gr->first + k];
			if (q->plan[i].kind != PLAN_NEW)
				continue;
			cyc[len] = cycle_number(r, i);
			memcpy(in + len * CMAPSS_N_INPUTS, cycle_inputs(r, i),
			       CMAPSS_N_INPUTS * sizeof(double));
			len++;
			rc = features_last(m->features, in, cyc, len,
					   q->rows + q->plan[i].feat * m->n_features);
		}
	}
	return rc;
}

/*
 * sh->lock held again after compute_features: is every engine of the request as it was
 * planned (the same engine, its window unchanged, a fresh one still absent), and the kept
 * length the same?
 */
static bool
still_planned(const struct cycles_req *q)
{
	const struct fleet_shared *sh = q->fs->sh;
	size_t g;

	if (sh->window != q->window)
		return false;
	for (g = 0; g < q->n_groups; g++) {
		const struct group *gr = &q->groups[g];
		const struct fleet_engine *e =
			fleet_table_find(&sh->table, q->r->engines[q->order[gr->first]].unit);

		if (gr->fresh ? e != NULL : e != gr->e || (e != NULL && e->stamp != gr->stamp))
			return false;
	}
	return true;
}

/*
 * Room for the engines this request adds: the least recently seen engines go, the oldest of
 * the table's list by last_seen (not an engine of this request).
 */
static void
make_room(struct cycles_req *q)
{
	struct fleet_shared *sh = q->fs->sh;
	struct fleet_engine *victim;
	size_t g;

	while (sh->table.count + q->n_fresh > sh->max_engines) {
		for (victim = sh->table.oldest; victim != NULL; victim = victim->newer) {
			for (g = 0; g < q->n_groups && q->groups[g].e != victim; g++)
				;
			if (g == q->n_groups)
				break;
		}
		if (victim == NULL)
			break;
		fleet_forget_locked(sh, victim->unit, EVICT_CAPACITY);
	}
}

/*
 * Room for the slots this request writes to the store, before anything changes: the cycles
 * it adds to each engine's ring, or the whole ring when the store's is laid out anew.
 */
static int
prepare_windows(struct cycles_req *q)
{
	size_t g, n = 0, slots;

	for (g = 0; g < q->n_groups; g++)
		n += q->groups[g].n_new > 0;
	q->wins = calloc(n ? n : 1, sizeof(*q->wins));
	for (g = 0; q->wins != NULL && g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		if (gr->n_new == 0)
			continue;
		gr->reset = gr->fresh || (gr->e->flags & FLEET_ENGINE_RESET);
		slots = gr->reset || gr->n_new > gr->e->cap ? gr->e->cap : gr->n_new;
		q->wins[q->n_wins].slots = malloc(slots * FLEET_SLOT * sizeof(double));
		if (q->wins[q->n_wins++].slots == NULL)
			return -ENOMEM;
	}
	return q->wins == NULL ? -ENOMEM : 0;
}

/* The windows change: new engines in, cycles appended, predictions kept, rows to store. */
static void
apply_plan(struct cycles_req *q, double now)
{
	struct fleet_service *fs = q->fs;
	struct fleet_shared *sh = fs->sh;
	const struct predict_request *r = q->r;
	struct fleet_engine *old;
	size_t g, k, i, w = 0, nw = 0;
	int64_t dropped, expected;

	make_room(q);
	for (g = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		if (gr->fresh) {
			fleet_table_put(&sh->table, gr->e, &old); /* reserved: cannot fail */
			gr->fresh = false;
		}
	}
	for (g = 0; g < q->n_groups; g++) {
		struct group *gr = &q->groups[g];

		if (gr->n_new == 0)
			continue;
		expected = gr->e->len > 0 ? fleet_engine_last_cycle(gr->e) : -1;
		fleet_count_locked(sh, gr->e, -1);
		for (k = 0; k < gr->n; k++) {
			i = q->order[gr->first + k];
			if (q->plan[i].kind != PLAN_NEW)
				continue;
			q->repeat[w] = cycle_number(r, i) <= gr->e->maybe_logged;
			q->any_repeat |= q->repeat[w];
			struct fleet_row *row = &q->wrows[w++];

			fleet_engine_append(gr->e, cycle_number(r, i), cycle_inputs(r, i),
					    &dropped);
			gr->e->rul = q->out[q->plan[i].feat];
			gr->e->last_seen = now;
			gr->e->by = fs->by;
			row->unit = gr->e->unit;
			row->cycle = cycle_number(r, i);
			memcpy(row->inputs, cycle_inputs(r, i), sizeof(row->inputs));
			row->rul = (double)gr->e->rul;
			row->ts = now;
			row->model = fs->m.name;
			row->version = fs->m.version;
		}
		fleet_count_locked(sh, gr->e, +1);
		fleet_table_touch(&sh->table, gr->e);
		/* the store gets the slots the cycles filled (the buffer was sized at
		 * prepare_windows), or the whole ring when it lays it out anew */
		{
			struct fleet_window *win = &q->wins[nw++];
			double *slots = win->slots;
			uint32_t j, len = gr->e->len;
			uint32_t first = gr->reset ? 0 :
					 len - (gr->n_new < len ? (uint32_t)gr->n_new : len);

			*win = (struct fleet_window){ .unit = gr->e->unit, .expected = expected,
						      .len = len, .first = first,
						      .head = gr->e->head, .cap = gr->e->cap,
						      .reset = gr->reset, .slots = slots,
						      .rul = (double)gr->e->rul, .ts = now,
						      .model = fs->m.name, .version = fs->m.version };
			for (j = first; j < len; j++)
				memcpy(slots + (size_t)(j - first) * FLEET_SLOT,
				       fleet_engine_slot(gr->e, j), FLEET_SLOT * sizeof(double));
			gr->e->flags &= (uint16_t)~FLEET_ENGINE_RESET;
		}
	}
	sh->api->gauge_set(sh->engines_gauge, (double)sh->table.count);
}

static char *
put_int(char *p, int64_t v)
{
	return p + sprintf(p, "%lld", (long long)v);
}

/* The answer, in body order, as /v1/predict renders it. */
static char *
render(struct cycles_req *q, size_t *len)
{
	const struct predict_request *r = q->r;
	struct fleet_service *fs = q->fs;
	char *body = malloc(fs->prefix_len + r->count * 96 + 4), *p;
	size_t i;
	float rul;

	if (body == NULL)
		return NULL;
	memcpy(body, fs->prefix, fs->prefix_len);
	p = body + fs->prefix_len;
	for (i = 0; i < r->count; i++) {
		const struct plan *pl = &q->plan[i];

		if (pl->kind == PLAN_NEW)
			rul = q->out[pl->feat];
		else if (pl->src < 0)
			rul = pl->stored;
		else
			rul = q->out[q->plan[pl->src].feat];
		if (i > 0)
			*p++ = ',';
		p += sprintf(p, "{\"unit\":");
		p = put_int(p, r->engines[i].unit);
		p += sprintf(p, ",\"cycle\":");
		p = put_int(p, cycle_number(r, i));
		memcpy(p, ",\"rul\":", 7);
		p += 7;
		p += float_text_g7(rul, p); /* %.7g's bytes, as /v1/predict writes them */
		*p++ = '}';
	}
	memcpy(p, "]}", 3);
	*len = (size_t)(p + 2 - body);
	return body;
}

/*
 * A deferred answer that waits for the observers that hold it (the prediction log's commit,
 * log_before_answer) and, when the observers had the predictions as the cycles were queued
 * (overlapped: see plan_and_queue), for the fleet store's commit too: parts counts what it
 * still waits for, and whichever comes last answers.
 */
struct fleet_answer {
	struct fleet_shared *sh;
	struct rulsrv_response *resp;
	unsigned status;
	char *body;
	size_t len;
	atomic_int parts;
	int store_err; /* the fleet store's commit failed (overlapped) */
	int log_err;   /* an observer released its hold with an error */
};

static struct fleet_answer *
answer_new(struct fleet_shared *sh, struct rulsrv_response *resp, unsigned status, char *body,
	   size_t len, int parts)
{
	struct fleet_answer *a = malloc(sizeof(*a));

	if (a == NULL)
		return NULL;
	*a = (struct fleet_answer){ .sh = sh, .resp = resp, .status = status, .body = body,
				    .len = len };
	atomic_init(&a->parts, parts);
	return a;
}

/*
 * Everything the answer waited for is done: it goes out; or 503 store_failed when the store
 * could not keep the cycles (the log may hold their predictions: the client's retry is
 * flagged, maybe_logged, and logged once), or when the log could not keep the predictions
 * (the cycles are kept: the retry is an exact repeat, answered again and logged once).
 */
static void
answer_part_done(struct fleet_answer *a)
{
	const struct rulsrv_api *api = a->sh->api;

	if (atomic_fetch_sub_explicit(&a->parts, 1, memory_order_acq_rel) != 1)
		return;
	if (a->store_err == -ESHUTDOWN) {
		free(a->body);
		api->respond_error(a->resp, 503, "shutting_down", "the service is stopping");
	} else if (a->store_err < 0) {
		free(a->body);
		fleet_store_failed(a->sh, a->resp, a->store_err);
	} else if (a->log_err == 0) {
		api->respond(a->resp, a->status, "application/json", a->body, a->len);
	} else {
		free(a->body);
		fleet_refused(a->sh, REFUSE_STORE);
		api->respond_header(a->resp, "Retry-After", "1");
		api->respond_error(a->resp, 503, "store_failed", "the cycles were kept but their "
				   "predictions could not be logged; send them again (an exact "
				   "repeat is answered again and logged once)");
	}
	free(a);
}

/* The observers let the answer go (status: the first error of a hold, else 0). */
static void
fleet_observed(void *ud, int status)
{
	struct fleet_answer *a = ud;

	a->log_err = status;
	answer_part_done(a);
}

/*
 * The predictions of an item for the observers (drift, the prediction log): its new rows,
 * flagged RULSRV_PREDICTION_REPEAT where the log may have them already, then the request's
 * repeats of stored cycles, flagged (the prediction log takes the ones it lacks). inputs:
 * each row's inputs (NULL: the rows' own copies). *items is malloc'd (NULL when empty or out
 * of memory: nothing to notify).
 */
static void
observer_batch(struct fleet_service *fs, const struct fleet_item *it, double received_at,
	       struct rulsrv_prediction_batch *batch, struct rulsrv_prediction **items)
{
	size_t i, n = it->n_rows + it->n_reps;

	*items = n > 0 ? malloc(n * sizeof(**items)) : NULL;
	for (i = 0; *items != NULL && i < n; i++) {
		const struct fleet_row *row = i < it->n_rows ? &it->rows[i] : &it->reps[i - it->n_rows];
		bool repeat = i >= it->n_rows || (it->repeat != NULL && it->repeat[i]);

		(*items)[i] = (struct rulsrv_prediction){
			.unit = row->unit,
			.cycle = row->cycle,
			.rul = row->rul,
			.inputs = row->inputs,
			.flags = RULSRV_PREDICTION_STREAMED | (repeat ? RULSRV_PREDICTION_REPEAT : 0),
		};
	}
	*batch = (struct rulsrv_prediction_batch){
		.model = fs->m.name,
		.version = fs->m.version,
		.timestamp = received_at,
		.input_count = fs->m.input_count,
		.input_names = fs->m.input_names,
		.count = *items != NULL ? n : 0,
		.item_size = sizeof(**items),
		.items = *items,
	};
}

/* A request's new cycles are durable: fleet_cycles_total, and predictions_total and
 * rul_prediction_value as /v1/predict counts them (not for a cycle answered 503
 * store_failed, which the client sends again). */
static void
count_durable(struct fleet_service *fs, const struct fleet_item *it)
{
	size_t i;

	fs->m.api->counter_add(fs->cycles_total, (double)it->n_rows);
	if (fs->m.predictions != NULL)
		fs->m.api->counter_add(fs->m.predictions, (double)it->n_rows);
	for (i = 0; fs->m.rul_value != NULL && i < it->n_rows; i++)
		fs->m.api->histogram_observe(fs->m.rul_value, it->rows[i].rul);
}

/*
 * The committer's hook for an item whose rows are durable. An overlapped item (it->answer)
 * had its observers already: the counts, and its answer learns of the commit. Otherwise the
 * new predictions go to the observers now, once they are durable, so that a cycle answered
 * 503 store_failed is not observed twice; then the answer (it->resp, it->body: taken), once
 * every observer that holds it let it go.
 */
void
fleet_http_durable(struct fleet_item *it)
{
	struct fleet_service *fs = it->fs;
	struct rulsrv_prediction *items;
	struct rulsrv_prediction_batch batch;
	struct fleet_answer *a = NULL;

	if (fs == NULL) /* an engine forgotten: nothing to tell */
		return;
	if (it->answer != NULL) {
		a = it->answer;
		it->answer = NULL;
		it->resp = NULL;
		a->store_err = it->result;
		if (it->result == 0)
			count_durable(fs, it);
		answer_part_done(a);
		return;
	}
	if (it->resp != NULL) {
		a = answer_new(fs->sh, it->resp, it->status, it->body, it->body_len, 1);
		if (a == NULL) {
			fleet_store_failed(fs->sh, it->resp, -ENOMEM);
			it->resp = NULL;
			return;
		}
		it->resp = NULL;
		it->body = NULL;
	}
	count_durable(fs, it);
	observer_batch(fs, it, it->received_at, &batch, &items);
	if (items == NULL) {
		if (a != NULL)
			fleet_observed(a, 0);
		return;
	}
	if (a != NULL)
		fs->m.api->observers_notify_then(fs->m.host, &batch, fleet_observed, a);
	else
		fs->m.api->observers_notify(fs->m.host, &batch);
	free(items);
}

static void
refuse(struct fleet_service *fs, struct rulsrv_response *resp, enum fleet_refusal why,
       unsigned status, const char *code, const char *msg)
{
	fleet_refused(fs->sh, why);
	fs->m.api->respond_error(resp, status, code, "%s", msg);
}

static int
group_cycles(struct cycles_req *q)
{
	const struct predict_request *r = q->r;
	size_t i;

	q->order = malloc(r->count * sizeof(*q->order));
	q->plan = malloc(r->count * sizeof(*q->plan));
	q->groups = malloc(r->count * sizeof(*q->groups));
	q->rows = malloc(r->count * (q->fs->m.n_features ? q->fs->m.n_features : 1) *
			 sizeof(*q->rows));
	q->out = malloc(r->count * sizeof(*q->out));
	q->wrows = malloc(r->count * sizeof(*q->wrows));
	q->repeat = malloc(r->count);
	if (!q->order || !q->plan || !q->groups || !q->rows || !q->out || !q->wrows || !q->repeat)
		return -ENOMEM;
	for (i = 0; i < r->count; i++)
		q->order[i] = i;
	qsort_r(q->order, r->count, sizeof(*q->order), by_unit, (void *)r);
	q->n_groups = 0;
	for (i = 0; i < r->count; i++) {
		if (i == 0 || r->engines[q->order[i]].unit != r->engines[q->order[i - 1]].unit)
			q->groups[q->n_groups++] = (struct group){ .first = i };
		q->groups[q->n_groups - 1].n++;
	}
	return 0;
}

static void
free_req(struct cycles_req *q)
{
	size_t g;

	if (q->groups != NULL)
		for (g = 0; g < q->n_groups; g++)
			if (q->groups[g].fresh)
				free(q->groups[g].e);
	free(q->order);
	free(q->plan);
	free(q->groups);
	free(q->rows);
	free(q->out);
	free(q->wrows);
	free(q->repeat);
	free(q->snap_cyc);
	free(q->snap_in);
	free(q->body);
	for (g = 0; q->wins != NULL && g < q->n_wins; g++)
		free(q->wins[g].slots);
	free(q->wins);
}

/* The request's repeats of a stored cycle (not of a cycle earlier in its body), with the
 * prediction answered again, for the observers (fleet_http_durable). */
static int
collect_repeats(struct cycles_req *q, double received_at, struct fleet_item *it)
{
	const struct predict_request *r = q->r;
	size_t i, n = 0;

	for (i = 0; i < r->count; i++)
		n += q->plan[i].kind == PLAN_REPEAT && q->plan[i].src < 0;
	if (n == 0)
		return 0;
	it->reps = malloc(n * sizeof(*it->reps));
	if (it->reps == NULL)
		return -ENOMEM;
	for (i = 0; i < r->count; i++) {
		struct fleet_row *row;

		if (q->plan[i].kind != PLAN_REPEAT || q->plan[i].src >= 0)
			continue;
		row = &it->reps[it->n_reps++];
		row->unit = r->engines[i].unit;
		row->cycle = cycle_number(r, i);
		memcpy(row->inputs, cycle_inputs(r, i), sizeof(row->inputs));
		row->rul = (double)q->plan[i].stored;
		row->ts = received_at;
		row->model = q->fs->m.name;
		row->version = q->fs->m.version;
	}
	return 0;
}

/* Why a request is refused: its status, the error's code and message, the refusal's
 * reason in fleet_cycle_refusals_total. */
struct verdict {
	unsigned status;
	enum fleet_refusal why;
	const char *code;
	char msg[300];
};

static unsigned
refused_as(struct verdict *v, unsigned status, enum fleet_refusal why, const char *code)
{
	v->status = status;
	v->why = why;
	v->code = code;
	return status;
}

static unsigned
out_of_memory(struct verdict *v)
{
	snprintf(v->msg, sizeof(v->msg), "out of memory");
	return refused_as(v, 503, REFUSE_INVALID, PREDICT_ERR_NO_MEMORY);
}

/*
 * Under the lock: plan and check every cycle, make the engines it needs and copy the windows
 * to compute from. 0, or an HTTP status with v filled (nothing visible changed).
 */
static unsigned
plan_locked(struct cycles_req *q, struct verdict *v)
{
	struct fleet_shared *sh = q->fs->sh;
	size_t bad = 0, g;
	int64_t last = 0;
	char loc[48];
	int rc = 0;

	/* engines another instance streamed until now continue from the store */
	for (g = 0; g < q->n_groups && rc == 0; g++)
		rc = fleet_takeover_locked(sh, q->r->engines[q->order[q->groups[g].first]].unit);
	if (rc < 0) {
		snprintf(v->msg, sizeof(v->msg), "the engines' windows could not be read from the "
			 "store; nothing was kept");
		return refused_as(v, 503, REFUSE_STORE, "store_failed");
	}
	rc = plan_cycles(q, &bad, &last);
	if (rc == 1) {
		/* a failure event may have ended the life this cycle seems stale against */
		fleet_poll_failures_locked(sh);
		rc = plan_cycles(q, &bad, &last);
	}
	if (rc == 1 && sh->store->ops->shared) {
		/* or another instance ended it, or moved it on: the store has the truth */
		for (g = 0; g < q->n_groups; g++)
			fleet_reload_locked(sh, q->r->engines[q->order[q->groups[g].first]].unit);
		rc = plan_cycles(q, &bad, &last);
	}
	if (rc == 1) {
		where(q, bad, loc, sizeof(loc));
		snprintf(v->msg, sizeof(v->msg), "%sunit %lld: cycle %lld is not after the engine's "
			 "last cycle %lld (only an exact repeat of the last cycle is answered "
			 "again)", loc, (long long)q->r->engines[bad].unit,
			 (long long)cycle_number(q->r, bad), (long long)last);
		return refused_as(v, 409, REFUSE_STALE, "stale_cycle");
	}
	if (q->n_fresh > sh->max_engines) {
		snprintf(v->msg, sizeof(v->msg), "the request starts %zu engines, more than "
			 "max_engines %zu", q->n_fresh, sh->max_engines);
		return refused_as(v, 413, REFUSE_CAPACITY, "too_many_engines");
	}
	if (prepare_engines(q) < 0 || snapshot_windows(q) < 0)
		return out_of_memory(v);
	return 0;
}

/* What plan_locked did that a new plan redoes: the fresh engines, the copies, the answer. */
static void
unplan(struct cycles_req *q)
{
	size_t g;

	for (g = 0; g < q->n_groups; g++)
		if (q->groups[g].fresh) {
			free(q->groups[g].e);
			q->groups[g].e = NULL;
			q->groups[g].fresh = false;
		}
	free(q->snap_cyc);
	free(q->snap_in);
	free(q->body);
	q->snap_cyc = NULL;
	q->snap_in = NULL;
	q->body = NULL;
}

/* The features, the predictions and the answer of a planned request, from the copies of its
 * windows: no lock needed. 0, or an HTTP status with v filled. */
static unsigned
predict_planned(struct cycles_req *q, struct verdict *v)
{
	const struct fleet_model *m = &q->fs->m;

	if (compute_features(q) < 0)
		return out_of_memory(v);
	if (q->n_new > 0 && m->ops->predict(m->model, q->rows, q->n_new, q->out) < 0) {
		snprintf(v->msg, sizeof(v->msg), "prediction failed");
		return refused_as(v, 500, REFUSE_INVALID, "prediction_failed");
	}
	q->body = render(q, &q->body_len);
	return q->body == NULL ? out_of_memory(v) : 0;
}

/*
 * Under the lock, the request planned and predicted on windows that are still as planned:
 * the windows change, and the item gets the writes to commit and the answer. 0, or an HTTP
 * status with v filled (nothing changed).
 */
static unsigned
apply_locked(struct cycles_req *q, double received_at, struct fleet_item *it, struct verdict *v)
{
	struct fleet_shared *sh = q->fs->sh;

	/* other requests may have added engines since the plan reserved room */
	if (fleet_table_reserve(&sh->table, sh->table.count + q->n_fresh) < 0 ||
	    prepare_windows(q) < 0 || collect_repeats(q, received_at, it) < 0)
		return out_of_memory(v);
	apply_plan(q, received_at);
	it->body = q->body;
	it->body_len = q->body_len;
	q->body = NULL;
	it->rows = q->wrows;
	it->n_rows = q->n_new;
	q->wrows = NULL;
	if (q->any_repeat) {
		it->repeat = q->repeat;
		q->repeat = NULL;
	}
	it->wins = q->wins;
	it->n_wins = q->n_wins;
	q->wins = NULL;
	q->n_wins = 0;
	return 0;
}

/*
 * Plan under the lock, predict outside it, apply under it again (sh->lock held on entry and
 * on return). When an engine moved on while the lock was let go, the request is planned and
 * predicted again with the lock held throughout: nothing can move then.
 */
static unsigned
ingest(struct cycles_req *q, double received_at, struct fleet_item *it, struct verdict *v)
{
	struct fleet_shared *sh = q->fs->sh;
	unsigned status = plan_locked(q, v);

	if (status != 0)
		return status;
	pthread_mutex_unlock(&sh->lock);
	status = predict_planned(q, v);
	pthread_mutex_lock(&sh->lock);
	if (status != 0)
		return status;
	if (!still_planned(q)) {
		unplan(q);
		status = plan_locked(q, v);
		if (status == 0)
			status = predict_planned(q, v);
		if (status != 0)
			return status;
	}
	return apply_locked(q, received_at, it, v);
}

/* 503 store_failed carries Retry-After; the other refusals as refuse(). */
static void
refuse_status(struct fleet_service *fs, struct rulsrv_response *resp, enum fleet_refusal why,
	      unsigned status, const char *code, const char *msg)
{
	char retry[16];

	if (why == REFUSE_STORE) {
		snprintf(retry, sizeof(retry), "%u", fleet_store_retry_after(fs->sh->store));
		fs->m.api->respond_header(resp, "Retry-After", retry);
	}
	refuse(fs, resp, why, status, code, msg);
}

/*
 * Plan under the lock and queue the writes with the answer deferred, or answer the refusal.
 * *rtp is the parsed request: it goes with the item when the store is shared (to plan again;
 * *rtp is then NULL), else stays the caller's. deferred: planning again on the committer
 * thread (the answer is deferred already; the engines are reloaded from the store first).
 */
static void
plan_and_queue(struct fleet_service *fs, struct fleet_retry **rtp, struct rulsrv_response *resp,
	       bool deferred)
{
	struct fleet_shared *sh = fs->sh;
	const struct rulsrv_api *api = fs->m.api;
	struct fleet_retry *rt = *rtp;
	struct cycles_req q = { .fs = fs, .r = &rt->r, .where_kind = rt->where_kind };
	struct fleet_item *it = calloc(1, sizeof(*it));
	struct verdict v;
	unsigned status;
	struct rulsrv_prediction_batch batch;
	struct rulsrv_prediction *items;
	int submitted;
	bool early, overlap;
	char *body = NULL;
	size_t body_len = 0;

	if (it == NULL || group_cycles(&q) < 0) {
		refuse(fs, resp, REFUSE_INVALID, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&sh->lock);
	if (deferred) /* planned before on windows another instance had moved on */
		for (size_t g = 0; g < q.n_groups; g++)
			fleet_reload_locked(sh, rt->r.engines[q.order[q.groups[g].first]].unit);
	status = ingest(&q, rt->received_at, it, &v);
	if (status != 0) {
		pthread_mutex_unlock(&sh->lock);
		refuse_status(fs, resp, v.why, status, v.code, v.msg);
		goto out;
	}
	it->status = 200;
	it->resp = resp;
	it->fs = fs;
	it->received_at = rt->received_at;
	if (sh->store->ops->shared) {
		it->retry = rt;
		*rtp = NULL;
	}
	/* durability = "bounded": answered now, committed within flush_interval_ms, unless
	 * max_unflushed_cycles answered cycles wait for their commit already */
	early = !deferred && sh->bounded && fleet_committer_reserve(sh->committer, it->n_rows);
	overlap = !deferred && !sh->bounded && !sh->store->ops->shared && q.n_fresh == 0;
	if (overlap) {
		it->answer = answer_new(sh, resp, 200, it->body, it->body_len, 2);
		if (it->answer == NULL)
			overlap = false;
		else
			it->body = NULL;
	}
	if (overlap) {
		/* the observers have the predictions now, under the lock (so the log takes an
		 * original before its repeats), and the log commits while the store does: the
		 * answer waits for both (answer_part_done) */
		observer_batch(fs, it, rt->received_at, &batch, &items);
		api->response_defer(resp);
		if (items != NULL)
			api->observers_notify_then(fs->m.host, &batch, fleet_observed, it->answer);
		else /* the log cannot have them: 503 once stored, the retry an exact repeat */
			fleet_observed(it->answer, it->n_rows + it->n_reps > 0 ? -ENOMEM : 0);
		free(items);
	} else if (early) {
		it->early = it->n_rows;
		it->resp = NULL;
		body = it->body;
		body_len = it->body_len;
		it->body = NULL;
	} else if (!deferred) {
		api->response_defer(resp);
	}
	/*
	 * Queued before the lock goes: the store gets the windows in the order they were
	 * applied, so a request applied on top of this one (the same engine, a moment later)
	 * is written after it.
	 */
	submitted = fleet_committer_submit(sh->committer, it);
	pthread_mutex_unlock(&sh->lock);
	if (submitted < 0 && it->answer != NULL) {
		it->resp = NULL;
		it->answer->store_err = -ESHUTDOWN;
		answer_part_done(it->answer);
		it->answer = NULL;
	} else if (submitted < 0) {
		it->resp = NULL;
		api->respond_error(resp, 503, "shutting_down", "the service is stopping");
	} else {
		it = NULL;
		if (early)
			api->respond(resp, 200, "application/json", body, body_len);
		body = NULL;
	}
	free(body);
out:
	fleet_item_free(it);
	free_req(&q);
}

void
fleet_cycles_retry(struct fleet_item *it)
{
	struct fleet_retry *rt = it->retry;
	struct rulsrv_response *resp = it->resp;

	it->retry = NULL;
	it->resp = NULL;
	if (++rt->attempts >= FLEET_MAX_ATTEMPTS)
		fleet_store_failed(rt->fs->sh, resp, -EAGAIN);
	else
		plan_and_queue(rt->fs, &rt, resp, true);
	fleet_retry_free(rt);
}

static void
handle_cycles(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fleet_service *fs = ud;
	struct fleet_retry *rt = calloc(1, sizeof(*rt));
	struct predict_error err;
	char msg[300];
	bool text;
	int rc;

	if (req->content_type == NULL || (strcmp(req->content_type, "application/json") != 0 &&
					  strcmp(req->content_type, "text/plain") != 0)) {
		snprintf(msg, sizeof(msg), "Content-Type must be application/json or text/plain, "
			 "got '%.64s'", req->content_type ? req->content_type : "none");
		refuse(fs, resp, REFUSE_MEDIA, 415, "unsupported_media_type", msg);
		free(rt);
		return;
	}
	if (rt == NULL) {
		refuse(fs, resp, REFUSE_INVALID, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	rt->fs = fs;
	rt->received_at = req->received_at;
	text = req->content_type[0] == 't';
	predict_request_init(&rt->r);
	rc = text ? predict_request_parse_cycles_cmapss(req->body ? req->body : "", req->body_len,
						       &fs->lim, &rt->r, &err)
		  : predict_request_parse_cycles_json(req->body ? req->body : "", req->body_len,
						     &fs->lim, &rt->r, &err);
	if (rc < 0) {
		refuse(fs, resp, REFUSE_INVALID, err.status, err.code, err.message);
	} else {
		rt->where_kind = text ? "row" : rt->r.batch ? "cycles" : NULL;
		plan_and_queue(fs, &rt, resp, false);
	}
	fleet_retry_free(rt);
}

/* ---- GET /v1/engines ---------------------------------------------------------------------- */

struct listed {
	int64_t unit, cycle;
	float rul;
	uint32_t len;
	double last_seen;
};

/* A prediction as the answers of /v1/predict and /v1/cycles print it (7 digits). */
static double
rul_number(double rul)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.7g", rul);
	return strtod(buf, NULL);
}

static int
by_rul(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	if (x->rul != y->rul)
		return x->rul < y->rul ? -1 : 1;
	return x->unit < y->unit ? -1 : x->unit > y->unit;
}

static void
iso_time(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((t - (double)s) * 1000));
}

/* A number argument: absent (def), or a finite number in [min, max]; else -1. */
static int
number_arg(const struct rulsrv_api *api, const struct rulsrv_request *req, const char *name,
	   double def, double min, double max, double *out)
{
	const char *v = api->request_arg(req, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	*out = strtod(v, &end);
	if (end == v || *end != '\0' || !isfinite(*out) || *out < min || *out > max)
		return -1;
	return 0;
}

static void
handle_engines(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fleet_service *fs = ud;
	struct fleet_shared *sh = fs->sh;
	const struct rulsrv_api *api = fs->m.api;
	const char *after = api->request_arg(req, "after");
	struct listed *all = NULL, cursor = { 0 };
	double below, limit;
	size_t n = 0, i, start = 0, end, tracked;
	cJSON *root, *arr, *o;
	char when[64], next[80], *body;
	long long cu;
	float cr;

	if (number_arg(api, req, "below", INFINITY, -INFINITY, INFINITY, &below) < 0 &&
	    api->request_arg(req, "below") != NULL) {
		api->respond_error(resp, 400, "invalid_argument", "below: expected a number");
		return;
	}
	if (number_arg(api, req, "limit", 100, 1, 10000, &limit) < 0 || limit != floor(limit)) {
		api->respond_error(resp, 400, "invalid_argument",
				   "limit: expected an integer from 1 to 10000");
		return;
	}
	if (after != NULL) {
		int used = 0;

		if (sscanf(after, "%f:%lld%n", &cr, &cu, &used) != 2 || after[used] != '\0') {
			api->respond_error(resp, 400, "invalid_argument",
					   "after: expected the \"next\" value of the previous page "
					   "(RUL:UNIT)");
			return;
		}
		cursor.rul = cr;
		cursor.unit = cu;
	}
	pthread_mutex_lock(&sh->lock);
	tracked = sh->table.count;
	all = malloc((tracked ? tracked : 1) * sizeof(*all));
	for (i = 0; all != NULL && i <= sh->table.mask; i++) {
		struct fleet_engine *e = sh->table.slot[i];

		if (e == NULL || e->len == 0 || !((double)e->rul < below))
			continue;
		all[n++] = (struct listed){ e->unit, fleet_engine_last_cycle(e), e->rul, e->len,
					    e->last_seen };
	}
	pthread_mutex_unlock(&sh->lock);
	if (all == NULL) {
		api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	qsort(all, n, sizeof(*all), by_rul);
	if (after != NULL)
		while (start < n && by_rul(&all[start], &cursor) <= 0)
			start++;
	end = start + (size_t)limit < n ? start + (size_t)limit : n;
	root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "tracked", (double)tracked);
	cJSON_AddNumberToObject(root, "matching", (double)n);
	arr = cJSON_AddArrayToObject(root, "engines");
	for (i = start; i < end; i++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "unit", (double)all[i].unit);
		cJSON_AddNumberToObject(o, "cycle", (double)all[i].cycle);
		cJSON_AddNumberToObject(o, "rul", rul_number((double)all[i].rul));
		cJSON_AddNumberToObject(o, "window", (double)all[i].len);
		iso_time(all[i].last_seen, when, sizeof(when));
		cJSON_AddStringToObject(o, "last_seen", when);
		cJSON_AddItemToArray(arr, o);
	}
	if (end < n) {
		snprintf(next, sizeof(next), "%.9g:%lld", (double)all[end - 1].rul,
			 (long long)all[end - 1].unit);
		cJSON_AddStringToObject(root, "next", next);
	} else {
		cJSON_AddNullToObject(root, "next");
	}
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(all);
	if (body == NULL) {
		api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	api->respond(resp, 200, "application/json", body, strlen(body));
}

/* ---- GET and DELETE /v1/engines/{unit} ------------------------------------------------------ */

/* The unit of /v1/engines/{unit}: digits only, up to 2^53 as in the bodies. */
static int
path_unit(const char *path, int64_t *unit)
{
	const char *p = path + strlen("/v1/engines/");
	char *end;
	double v;

	if (*p < '0' || *p > '9')
		return -1;
	v = strtod(p, &end);
	if (*end != '\0' || v != floor(v) || v > 9007199254740992.0)
		return -1;
	*unit = (int64_t)v;
	return 0;
}

static int
add_prediction(void *ud, const struct fleet_stored *c)
{
	cJSON *o = cJSON_CreateObject();
	char when[64];

	cJSON_AddNumberToObject(o, "cycle", (double)c->cycle);
	cJSON_AddNumberToObject(o, "rul", rul_number(c->rul));
	cJSON_AddStringToObject(o, "model", c->model);
	cJSON_AddStringToObject(o, "version", c->version);
	iso_time(c->ts, when, sizeof(when));
	cJSON_AddStringToObject(o, "at", when);
	cJSON_AddItemToArray(ud, o);
	return 0;
}

static void
handle_engine(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct fleet_service *fs = ud;
	struct fleet_shared *sh = fs->sh;
	const struct rulsrv_api *api = fs->m.api;
	struct fleet_engine *e;
	struct listed l;
	const char *by;
	char when[64], *body, model[256] = "", version[256] = "";
	cJSON *root, *list;
	int64_t unit;
	bool del = strcmp(req->method, "DELETE") == 0;

	if (path_unit(req->path, &unit) < 0) {
		fleet_refused(sh, REFUSE_NOT_FOUND);
		api->respond_error(resp, 404, "not_found", "expected /v1/engines/UNIT with UNIT a "
				   "non-negative integer, got '%.64s'", req->path);
		return;
	}
	pthread_mutex_lock(&sh->lock);
	e = fleet_table_find(&sh->table, unit);
	if (e != NULL) {
		l = (struct listed){ e->unit, fleet_engine_last_cycle(e), e->rul, e->len,
				     e->last_seen };
		by = sh->model_names[e->by];
		snprintf(model, sizeof(model), "%s", by);
		snprintf(version, sizeof(version), "%s", by + strlen(by) + 1);
		if (del)
			fleet_forget_locked(sh, unit, EVICT_DELETED);
	}
	pthread_mutex_unlock(&sh->lock);
	if (e == NULL) {
		api->respond_error(resp, 404, "unknown_engine",
				   "unit %lld is not tracked (never streamed, or its life ended)",
				   (long long)unit);
		return;
	}
	if (del) {
		body = NULL;
		if (asprintf(&body, "{\"unit\":%lld,\"forgotten\":true,\"last_cycle\":%lld}",
			     (long long)unit, (long long)l.cycle) < 0) {
			api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
			return;
		}
		api->respond(resp, 200, "application/json", body, strlen(body));
		return;
	}
	root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "unit", (double)unit);
	cJSON_AddNumberToObject(root, "cycle", (double)l.cycle);
	cJSON_AddNumberToObject(root, "rul", rul_number((double)l.rul));
	cJSON_AddNumberToObject(root, "window", (double)l.len);
	iso_time(l.last_seen, when, sizeof(when));
	cJSON_AddStringToObject(root, "last_seen", when);
	cJSON_AddStringToObject(root, "model", model);
	cJSON_AddStringToObject(root, "version", version);
	list = cJSON_AddArrayToObject(root, "predictions");
	/* this life's predictions, from the store: the acknowledged ones */
	fleet_store_history(sh->store, unit, add_prediction, list);
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (body == NULL) {
		api->respond_error(resp, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		return;
	}
	api->respond(resp, 200, "application/json", body, strlen(body));
}

int
fleet_http_routes(struct fleet_service *fs)
{
	const struct rulsrv_api *api = fs->m.api;
	int r;

	r = api->route_add(fs->m.host, "POST", "/v1/cycles", 0, handle_cycles, fs);
	if (r == 0)
		r = api->route_add(fs->m.host, "GET", "/v1/engines", 0, handle_engines, fs);
	if (r == 0)
		r = api->route_add(fs->m.host, "GET", "/v1/engines/*", 0, handle_engine, fs);
	if (r == 0)
		r = api->route_add(fs->m.host, "DELETE", "/v1/engines/*", RULSRV_ROUTE_ADMIN,
				   handle_engine, fs);
	return r;
}
