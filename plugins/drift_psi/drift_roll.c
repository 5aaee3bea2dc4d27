/* SPDX-License-Identifier: MIT */
/* drift_roll.c - observing predictions, closing windows, accounting for closed windows. */
#include "drift.h"

#include <stdio.h>
#include <string.h>

#include "clocks.h"

/* ---- windows ------------------------------------------------------------------------- */

/*
 * Account for every window closed since the last call, oldest first: drain its counters into
 * the cumulative base, keep its summary as the last window, open the next one's metadata
 * (label NULL: keep the label). Under d->lock. Returns whether a window was closed. Windows
 * that closed by themselves are logged at debug level (a count window of 5000 at 15,000
 * predictions/s closes 3 times a second); one closed on request at info level.
 */
static bool
drift_book_locked(struct drift *d, const char *label, bool requested)
{
	struct drift_closed *c = &d->last;
	uint64_t obs, seq = drift_windows_seq(&d->win);
	double now;
	size_t i;

	if (d->booked == seq)
		return false;
	now = clocks_realtime();
	for (; d->booked < seq; d->booked++) {
		obs = drift_windows_drain(&d->win, d->booked, d->scratch);
		for (i = 0; i < d->ref.total_bins; i++)
			d->base[i] += d->scratch[i];
		c->index = d->index;
		memcpy(c->label, d->label, sizeof(c->label));
		c->start = d->start;
		c->end = now;
		drift_evaluate(&d->ref, &d->params, d->scratch, obs, &c->eval);
		d->have_last = true;
		d->api->log(d->host, requested ? RULSRV_LOG_INFO : RULSRV_LOG_DEBUG,
			    "closed drift window %llu '%s': %llu observations, status %s, max psi "
			    "%.4g (%s)",
			    (unsigned long long)c->index, c->label, (unsigned long long)obs,
			    drift_status_name(c->eval.status), c->eval.psi_max,
			    cmapss_input_name(c->eval.max_feature));
		d->index++;
		d->start = now;
	}
	if (label != NULL)
		snprintf(d->label, sizeof(d->label), "%s", label);
	d->start_mono = clocks_monotonic();
	return true;
}

/* A window opened: its gauges. */
static void
drift_opened_locked(struct drift *d)
{
	drift_metrics_window(d);
}

void
drift_refresh_locked(struct drift *d, struct drift_eval *eval)
{
	struct drift_eval e;
	uint64_t obs;

	if (drift_book_locked(d, NULL, false))
		drift_opened_locked(d);
	obs = drift_windows_peek(&d->win, d->scratch);
	drift_evaluate(&d->ref, &d->params, d->scratch, obs, &e);
	drift_metrics_eval(d, &e);
	drift_metrics_flush_locked(d, d->scratch);
	if (eval != NULL)
		*eval = e;
}

void
drift_roll_locked(struct drift *d, const char *label, struct drift_closed *closed)
{
	drift_book_locked(d, NULL, false);
	/* Fails only when an observer closed the window first: account for it, close the next. */
	while (!drift_windows_close(&d->win, drift_windows_seq(&d->win)))
		drift_book_locked(d, NULL, false);
	drift_book_locked(d, label, true);
	drift_opened_locked(d);
	drift_refresh_locked(d, NULL);
	if (closed != NULL)
		*closed = d->last;
}

/* Closed windows into the counters, gauges untouched (fini: a successor owns them). */
void
drift_flush_counters_locked(struct drift *d)
{
	drift_book_locked(d, NULL, false);
	drift_windows_peek(&d->win, d->scratch);
	drift_metrics_flush_locked(d, d->scratch);
}

/* ---- the request path ---------------------------------------------------------------- */

/*
 * The batch that filled a count window closes it at once (a CAS, no lock), so the window
 * stops there even when this thread then waits for the lock to account for it.
 */
static void
drift_close_from_observer(struct drift *d, uint64_t seq)
{
	bool closed = drift_windows_close(&d->win, seq);
	bool opened;

	pthread_mutex_lock(&d->lock);
	opened = drift_book_locked(d, NULL, false);
	/* Not closed: someone else did, or the next slot was not drained yet (it is now). */
	if (!closed && drift_windows_close(&d->win, seq))
		opened |= drift_book_locked(d, NULL, false);
	if (opened)
		drift_opened_locked(d);
	pthread_mutex_unlock(&d->lock);
}

/* The inputs of every prediction of batch into sh; len: ref->search_len, a constant below. */
static inline __attribute__((always_inline)) uint64_t
drift_count_batch(const struct drift_ref *ref, struct drift_shard *sh,
		  const struct rulsrv_prediction_batch *batch, size_t len)
{
	uint64_t n = 0;
	size_t i, f;

	for (i = 0; i < batch->count; i++) {
		const double *x = rulsrv_prediction_at(batch, i)->inputs, *e = ref->search;

		if (x == NULL)
			continue;
		for (f = 0; f < CMAPSS_N_INPUTS; f++, e += len)
			drift_count(sh, ref->offset[f] + drift_search(e, len, x[f]));
		n++;
	}
	return n;
}

/*
 * The reference bins CMAPSS_N_INPUTS inputs in the bundle's order: a batch of another shape
 * (a model whose bundle declares other inputs) cannot be compared with it. Skipped, and said
 * once, from the request path: one log line, not one per request.
 */
static void
drift_skip_batch(struct drift *d, const struct rulsrv_prediction_batch *batch)
{
	if (atomic_exchange_explicit(&d->warned_inputs, true, memory_order_relaxed))
		return;
	d->api->log(d->host, RULSRV_LOG_WARNING,
		    "skipping predictions of model '%s' with %zu inputs: the drift reference has "
		    "%d (logged once)",
		    batch->model != NULL ? batch->model : "?", batch->input_count,
		    CMAPSS_N_INPUTS);
}

/*
 * Count each input of every prediction into its reference bin of the current window:
 * features x log2(bins) comparisons and plain increments in a shard this thread owns for the
 * batch; no lock. The observer whose batch fills a count window closes it.
 */
void
drift_observe(void *ud, const struct rulsrv_prediction_batch *batch)
{
	struct drift *d = ud;
	struct drift_shard *sh;
	struct drift_slot *slot;
	uint64_t seq, before, n;

	if (batch->count == 0)
		return;
	if (batch->input_count != CMAPSS_N_INPUTS) {
		drift_skip_batch(d, batch);
		return;
	}
	sh = drift_windows_enter(&d->win, &seq, &slot);
	switch (d->ref.search_len) {
	case 16:
		n = drift_count_batch(&d->ref, sh, batch, 16);
		break;
	case 32:
		n = drift_count_batch(&d->ref, sh, batch, 32);
		break;
	default:
		n = drift_count_batch(&d->ref, sh, batch, d->ref.search_len);
		break;
	}
	before = atomic_fetch_add_explicit(&slot->observations, n, memory_order_relaxed);
	drift_windows_leave(sh);
	if (d->mode == DRIFT_MODE_COUNT && before < d->window_size && before + n >= d->window_size)
		drift_close_from_observer(d, seq);
}
