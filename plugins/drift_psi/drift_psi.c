/* SPDX-License-Identifier: MIT */
/* drift_psi.c - the drift_psi plugin: PSI of the served inputs against the model's training data. */
#include "drift.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clocks.h"

/*
 * Plugins cannot hook the exporter's scrape, so the gauges and counters are refreshed on the
 * service's timer every update_interval (1 s by default: a scrape sees them at most that
 * old), and time windows roll here too. Costs one evaluation (a few µs) per call, nothing
 * per observation. The timer runs only while the instance serves, so its first call is also
 * where a reload's new instance takes the window gauges over from its predecessor.
 */
void
drift_tick(void *ud)
{
	struct drift *d = ud;

	pthread_mutex_lock(&d->lock);
	if (!d->took_over) {
		drift_metrics_retire_bins(d);
		drift_metrics_window(d);
		d->took_over = true;
	}
	if (d->mode == DRIFT_MODE_TIME &&
	    clocks_monotonic() >= d->start_mono + d->window_seconds)
		drift_roll_locked(d, NULL, NULL);
	drift_refresh_locked(d, NULL);
	pthread_mutex_unlock(&d->lock);
}

/*
 * A time window rolls at the first call at or after its end, so it ends at most one interval
 * late: the timer calls at least every update_interval (the gauges' age) and at least ten
 * times per time window.
 */
static double
drift_tick_interval(const struct drift *d)
{
	double t = d->update_interval;

	if (d->mode == DRIFT_MODE_TIME && d->window_seconds / 10 < t)
		t = d->window_seconds / 10;
	return t < 0.01 ? 0.01 : t;
}

/* ---- the instance ---------------------------------------------------------------------- */

/* Its address tells this loaded file's instances from those of a replaced file's. */
static const char drift_object;

static void
drift_free(struct drift *d)
{
	if (d == NULL)
		return;
	free(d->m.bins);
	free(d->m.reference);
	free(d->base);
	free(d->pushed);
	free(d->scratch);
	drift_windows_destroy(&d->win);
	drift_ref_release(&d->ref);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static struct drift *
drift_new(struct rulsrv_host *host, const struct rulsrv_api *api)
{
	struct drift *d;

	d = aligned_alloc(64, (sizeof(*d) + 63) / 64 * 64);
	if (d == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->object = &drift_object;
	d->host = host;
	d->api = api;
	atomic_init(&d->warned_inputs, false);
	pthread_mutex_init(&d->lock, NULL);
	return d;
}

/* The reference: the setting, else the bundle the model plugin serves; checked against it. */
static int
drift_load_reference(struct drift *d, const struct rulsrv_settings *s)
{
	const char *model = d->api->attribute_get(d->host, "model.bundle");
	char *dir = NULL;
	char err[512], note[160];
	int r;

	r = d->api->setting_path(s, "reference", model, &dir);
	if (r < 0)
		return r;
	if (dir == NULL) {
		d->api->log(d->host, RULSRV_LOG_ERR,
			    "no drift reference: set 'reference' to a bundle directory or list a "
			    "model plugin before this one in the service");
		return -EINVAL;
	}
	r = drift_ref_load(&d->ref, dir, err, sizeof(err));
	if (r < 0) {
		d->api->log(d->host, RULSRV_LOG_ERR, "cannot load drift reference '%s': %s", dir,
			    err);
		goto out;
	}
	if (model != NULL) {
		r = drift_ref_check_model(&d->ref, model, note, sizeof(note), err, sizeof(err));
		if (r < 0)
			d->api->log(d->host, RULSRV_LOG_ERR,
				    "drift reference '%s' does not fit the served model: %s", dir,
				    err);
		else if (note[0] != '\0')
			d->api->log(d->host, RULSRV_LOG_WARNING, "drift reference '%s': %s", dir,
				    note);
	}
out:
	free(dir);
	return r;
}

static int
drift_alloc_counts(struct drift *d)
{
	size_t n = d->ref.total_bins;
	int r;

	r = drift_windows_init(&d->win, n);
	if (r < 0)
		return r;
	d->base = calloc(n, sizeof(*d->base));
	d->pushed = calloc(n, sizeof(*d->pushed));
	d->scratch = calloc(n, sizeof(*d->scratch));
	if (d->base == NULL || d->pushed == NULL || d->scratch == NULL)
		return -ENOMEM;
	return 0;
}

/* Window 1 under the configured label; a reload's handoff continues the old numbering. */
static void
drift_open_first_window(struct drift *d)
{
	d->index = 1;
	d->start = clocks_realtime();
	d->start_mono = clocks_monotonic();
}

static void
drift_log_errno(struct drift *d, const char *what, int r)
{
	char buf[128];

	d->api->log(d->host, RULSRV_LOG_ERR, "%s: %s", what, strerror_r(-r, buf, sizeof(buf)));
}

/* Metrics, routes, the observer and the timer: the service's shared registries. */
static int
drift_register(struct drift *d)
{
	int r;

	r = drift_metrics_init(d);
	if (r < 0) {
		drift_log_errno(d, "cannot register the drift metrics", r);
		return r;
	}
	r = drift_http_init(d);
	if (r < 0) {
		drift_log_errno(d, "cannot register the drift routes", r);
		return r;
	}
	r = d->api->observer_add(d->host, drift_observe, d);
	if (r < 0) {
		drift_log_errno(d, "cannot register the drift observer", r);
		return r;
	}
	r = d->api->timer_add(d->host, drift_tick_interval(d), drift_tick, d);
	if (r < 0)
		drift_log_errno(d, "cannot start the drift timer", r);
	return r;
}

static int
drift_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	   const struct rulsrv_settings *settings, void **state)
{
	struct drift *d;
	int r;

	d = drift_new(host, api);
	if (d == NULL)
		return -ENOMEM;
	r = drift_read_settings(d, settings);
	if (r == 0)
		r = drift_load_reference(d, settings);
	if (r == 0) {
		r = drift_alloc_counts(d);
		if (r < 0)
			drift_log_errno(d, "cannot set up the drift windows", r);
	}
	if (r == 0)
		r = drift_register(d);
	if (r < 0)
		goto out_free;
	drift_open_first_window(d);
	if (!drift_metrics_claimed(d)) {
		/* Nobody else's gauges to disturb: serve them from the start. */
		pthread_mutex_lock(&d->lock);
		drift_metrics_window(d);
		drift_refresh_locked(d, NULL);
		pthread_mutex_unlock(&d->lock);
	}
	api->log(host, RULSRV_LOG_INFO,
		 "reference '%s' (%s %s, %zu bins), window %llu '%s'", d->ref.bundle->dir,
		 d->ref.bundle->name, d->ref.bundle->version, d->ref.total_bins,
		 (unsigned long long)d->index, d->label);
	*state = d;
	return 0;
out_free:
	drift_free(d);
	return r;
}

/*
 * A reload that succeeded: the new instance opens the window after the old one's current
 * window, under its label, so that a reload mid-quarter keeps the quarter's label. Only an
 * instance that will serve is handed anything (a failed reload's new instance never is), so
 * a failed reload cannot disturb the numbering. The old instance may still close windows of
 * its own after this (requests it began); those are its last.
 */
static void
drift_handoff(void *state, void *old_state)
{
	struct drift *d = state, *old = old_state;
	uint64_t index;
	char label[DRIFT_LABEL_MAX];

	/* A replaced plugin file loads afresh; its predecessor's layout may be another. */
	if (old->object != &drift_object) {
		d->api->log(d->host, RULSRV_LOG_NOTICE,
			    "the previous instance is of another drift_psi.so: windows start again "
			    "at %llu '%s'",
			    (unsigned long long)d->index, d->label);
		return;
	}
	pthread_mutex_lock(&old->lock);
	index = old->index;
	memcpy(label, old->label, sizeof(label));
	pthread_mutex_unlock(&old->lock);
	pthread_mutex_lock(&d->lock);
	d->index = index + 1;
	memcpy(d->label, label, sizeof(d->label));
	pthread_mutex_unlock(&d->lock);
	d->api->log(d->host, RULSRV_LOG_INFO, "window %llu '%s' follows the previous instance's",
		    (unsigned long long)d->index, d->label);
}

/* The timer has stopped by now (the core stops an instance's timers before its fini). */
static void
drift_fini(void *state)
{
	struct drift *d = state;

	if (d == NULL)
		return;
	/* The counters take what was counted since the last flush; the gauges now belong to
	 * the successor, if any. */
	pthread_mutex_lock(&d->lock);
	drift_flush_counters_locked(d);
	pthread_mutex_unlock(&d->lock);
	drift_free(d);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "drift_psi",
	.kind = "drift",
	.version = "0.1.0",
	.description = "input drift: PSI per input against the model bundle's training reference",
	.init = drift_init,
	.ready = NULL,
	.fini = drift_fini,
	.handoff = drift_handoff,
};
