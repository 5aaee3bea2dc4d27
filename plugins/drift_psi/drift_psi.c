/* SPDX-License-Identifier: MIT */
/* drift_psi.c - the drift_psi plugin: PSI of the served inputs against the model's training data. */
#include "drift.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
drift_deadline(double t, struct timespec *ts)
{
	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * Plugins cannot hook the exporter's scrape, so the gauges and counters are refreshed every
 * update_interval (1 s by default: a scrape sees them at most that old), and time windows
 * roll here too. Costs one evaluation (a few µs) per interval, nothing per observation.
 * Once the instance serves, it also takes over from a predecessor (drift_carry.c).
 */
static void *
drift_timer_main(void *arg)
{
	struct drift *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		double next = drift_mono() + d->update_interval;
		struct timespec ts;

		if (d->mode == DRIFT_MODE_TIME && d->start_mono + d->window_seconds < next)
			next = d->start_mono + d->window_seconds;
		drift_deadline(next, &ts);
		pthread_cond_timedwait(&d->wake, &d->lock, &ts);
		if (d->stop)
			break;
		/* A reload's successor leaves the gauges to its predecessor until it serves. */
		if (!atomic_load_explicit(&d->live, memory_order_relaxed))
			continue;
		if (!d->took_over) {
			drift_metrics_retire_bins(d);
			drift_metrics_window(d);
			drift_carry_store(d);
			d->took_over = true;
		}
		if (d->mode == DRIFT_MODE_TIME && drift_mono() >= d->start_mono + d->window_seconds)
			drift_roll_locked(d, NULL, NULL);
		drift_refresh_locked(d, NULL);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- the instance ---------------------------------------------------------------------- */

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
	free(d->carry_key);
	drift_windows_destroy(&d->win);
	drift_ref_release(&d->ref);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static struct drift *
drift_new(struct rulsrv_host *host, const struct rulsrv_api *api)
{
	pthread_condattr_t attr;
	struct drift *d;

	d = aligned_alloc(64, (sizeof(*d) + 63) / 64 * 64);
	if (d == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->host = host;
	d->api = api;
	atomic_init(&d->live, false);
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &attr);
	pthread_condattr_destroy(&attr);
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

static int
drift_open_first_window(struct drift *d)
{
	const struct rulsrv_api *api = d->api;
	uint64_t index;
	char label[DRIFT_LABEL_MAX];

	if (asprintf(&d->carry_key, "%s/%s", api->service_name(d->host),
		     api->instance_name(d->host)) < 0) {
		d->carry_key = NULL;
		return -ENOMEM;
	}
	d->index = 1;
	if (drift_carry_find(d->carry_key, &index, label)) {
		d->index = index + 1;
		memcpy(d->label, label, sizeof(d->label));
		d->successor = true;
	}
	d->start = drift_now();
	d->start_mono = drift_mono();
	return 0;
}

static void
drift_log_errno(struct drift *d, const char *what, int r)
{
	char buf[128];

	d->api->log(d->host, RULSRV_LOG_ERR, "%s: %s", what, strerror_r(-r, buf, sizeof(buf)));
}

/* Metrics, routes and the observer: the service's shared registries. */
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
	if (r < 0)
		drift_log_errno(d, "cannot register the drift observer", r);
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
		if (r == 0)
			r = drift_open_first_window(d);
		if (r < 0)
			drift_log_errno(d, "cannot set up the drift windows", r);
	}
	if (r == 0)
		r = drift_register(d);
	if (r < 0)
		goto out_free;
	if (!d->successor) {
		/* Nobody else's gauges to disturb: serve them from the start. */
		atomic_store(&d->live, true);
		pthread_mutex_lock(&d->lock);
		drift_metrics_window(d);
		drift_refresh_locked(d, NULL);
		pthread_mutex_unlock(&d->lock);
	}
	r = -pthread_create(&d->timer, NULL, drift_timer_main, d);
	if (r < 0) {
		drift_log_errno(d, "cannot start the drift timer thread", r);
		goto out_free;
	}
	d->timer_started = true;
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

static void
drift_fini(void *state)
{
	struct drift *d = state;

	if (d == NULL)
		return;
	if (d->timer_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->wake);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->timer, NULL);
	}
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
};
