/* SPDX-License-Identifier: MIT */
/* drift_psi.c - the drift_psi plugin: PSI of the served inputs against the model's training data. */
#include "drift.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The window index and label of an instance survive a reload (the new instance opens the
 * next window under the same label), so that a reload mid-quarter does not lose the label.
 * Keyed by "service/instance"; lives as long as the plugin stays loaded.
 */
#define DRIFT_CARRY_MAX 16

struct drift_carry {
	char key[160];
	uint64_t index;
	char label[DRIFT_LABEL_MAX];
};

static pthread_mutex_t drift_carry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct drift_carry drift_carry[DRIFT_CARRY_MAX];
static size_t drift_carry_count;

static bool
drift_carry_find(const char *key, uint64_t *index, char *label)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&drift_carry_lock);
	for (i = 0; i < drift_carry_count && !found; i++) {
		if (strcmp(drift_carry[i].key, key) == 0) {
			*index = drift_carry[i].index;
			memcpy(label, drift_carry[i].label, DRIFT_LABEL_MAX);
			found = true;
		}
	}
	pthread_mutex_unlock(&drift_carry_lock);
	return found;
}

static void
drift_carry_store(const struct drift *d)
{
	size_t i;

	pthread_mutex_lock(&drift_carry_lock);
	for (i = 0; i < drift_carry_count; i++)
		if (strcmp(drift_carry[i].key, d->carry_key) == 0)
			break;
	if (i < DRIFT_CARRY_MAX) {
		snprintf(drift_carry[i].key, sizeof(drift_carry[i].key), "%s", d->carry_key);
		drift_carry[i].index = d->index;
		memcpy(drift_carry[i].label, d->label, DRIFT_LABEL_MAX);
		if (i == drift_carry_count)
			drift_carry_count++;
	}
	pthread_mutex_unlock(&drift_carry_lock);
}

double
drift_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
drift_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the request path ---------------------------------------------------------------- */

static void drift_book_locked(struct drift *d, const char *label);

/*
 * The batch that filled a count window closes it at once (a CAS, no lock), so the window
 * stops there even when this thread then waits for the lock to account for it.
 */
static void
drift_close_from_observer(struct drift *d, uint64_t seq)
{
	bool closed = drift_windows_close(&d->win, seq);

	pthread_mutex_lock(&d->lock);
	drift_book_locked(d, NULL);
	if (!closed && drift_windows_seq(&d->win) == seq && drift_windows_close(&d->win, seq))
		drift_book_locked(d, NULL);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Count each input of every prediction into its reference bin of the current window:
 * features x log2(bins) comparisons and plain increments in a shard this thread owns for the
 * batch; no lock. The observer whose batch fills a count window closes it.
 */
static void
drift_observe(void *ud, const struct rulsrv_prediction_batch *batch)
{
	struct drift *d = ud;
	struct drift_shard *sh;
	struct drift_slot *slot;
	uint64_t seq, before, n = 0;
	size_t i, f;

	if (batch->count == 0)
		return;
	sh = drift_windows_enter(&d->win, &seq, &slot);
	for (i = 0; i < batch->count; i++) {
		const double *x = batch->items[i].inputs;

		if (x == NULL)
			continue;
		for (f = 0; f < RULSRV_N_INPUTS; f++)
			drift_count(sh, d->ref.offset[f] + drift_ref_bin(&d->ref, f, x[f]));
		n++;
	}
	before = atomic_fetch_add_explicit(&slot->observations, n, memory_order_relaxed);
	drift_windows_leave(sh);
	if (d->mode == DRIFT_MODE_COUNT && before < d->window_size && before + n >= d->window_size)
		drift_close_from_observer(d, seq);
}

/* ---- windows ------------------------------------------------------------------------- */

/*
 * Account for every window closed since the last call, oldest first: drain its counters into
 * the cumulative base, keep its summary as the last window, open the next one's metadata
 * (label NULL: keep the label). Under d->lock.
 */
static void
drift_book_locked(struct drift *d, const char *label)
{
	struct drift_closed *c = &d->last;
	uint64_t obs, seq = drift_windows_seq(&d->win);
	double now;
	size_t i;

	if (d->booked == seq)
		return;
	now = drift_now();
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
		d->api->log(d->host, RULSRV_LOG_INFO,
			    "closed drift window %llu '%s': %llu observations, status %s, max psi "
			    "%.4g (%s)",
			    (unsigned long long)c->index, c->label, (unsigned long long)obs,
			    drift_status_name(c->eval.status), c->eval.psi_max,
			    bundle_input_name(c->eval.max_feature));
		d->index++;
		d->start = now;
	}
	if (label != NULL)
		snprintf(d->label, sizeof(d->label), "%s", label);
	d->start_mono = drift_mono();
	drift_carry_store(d);
	drift_metrics_window(d);
}

void
drift_refresh_locked(struct drift *d, struct drift_eval *eval)
{
	struct drift_eval e;
	uint64_t obs;

	drift_book_locked(d, NULL);
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
	drift_book_locked(d, NULL);
	/* Fails only when an observer closed the window first: account for it, close the next. */
	while (!drift_windows_close(&d->win, drift_windows_seq(&d->win)))
		drift_book_locked(d, NULL);
	drift_book_locked(d, label);
	drift_refresh_locked(d, NULL);
	if (closed != NULL)
		*closed = d->last;
}

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
		if (d->mode == DRIFT_MODE_TIME && drift_mono() >= d->start_mono + d->window_seconds)
			drift_roll_locked(d, NULL, NULL);
		drift_refresh_locked(d, NULL);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- settings ------------------------------------------------------------------------ */

static int
drift_read_mode(struct drift *d, const struct rulsrv_settings *s)
{
	const struct rulsrv_api *api = d->api;
	char *mode = NULL;
	int64_t size;
	double seconds;
	int r;

	r = api->setting_string(s, "window", "count", &mode);
	if (r < 0)
		return r;
	if (strcmp(mode, "count") == 0) {
		d->mode = DRIFT_MODE_COUNT;
	} else if (strcmp(mode, "time") == 0) {
		d->mode = DRIFT_MODE_TIME;
	} else if (strcmp(mode, "manual") == 0) {
		d->mode = DRIFT_MODE_MANUAL;
	} else {
		api->setting_error(s, "window", "expected \"count\", \"time\" or \"manual\", got \"%s\"",
				   mode);
		r = -EINVAL;
	}
	free(mode);
	if (r < 0)
		return r;
	/* 0 (the default) means "not set": each applies to its own mode only. */
	r = api->setting_int(s, "window_size", 0, 0, INT64_C(1) << 50, &size);
	if (r < 0)
		return r;
	r = api->setting_double(s, "window_seconds", 0, 0, 1e9, &seconds);
	if (r < 0)
		return r;
	if (size != 0 && d->mode != DRIFT_MODE_COUNT) {
		api->setting_error(s, "window_size", "applies only with window = \"count\"");
		return -EINVAL;
	}
	if (seconds != 0 && d->mode != DRIFT_MODE_TIME) {
		api->setting_error(s, "window_seconds", "applies only with window = \"time\"");
		return -EINVAL;
	}
	d->window_size = size != 0 ? (uint64_t)size : 5000;
	d->window_seconds = seconds != 0 ? seconds : 3600;
	return 0;
}

static int
drift_read_settings(struct drift *d, const struct rulsrv_settings *s)
{
	const struct rulsrv_api *api = d->api;
	char *label = NULL;
	int64_t min_obs;
	int r;

	r = drift_read_mode(d, s);
	if (r == 0)
		r = api->setting_int(s, "min_observations", 500, 1, INT64_C(1) << 50, &min_obs);
	if (r == 0)
		r = api->setting_double(s, "warn_threshold", 0.1, 1e-9, 1e9, &d->params.warn);
	if (r == 0)
		r = api->setting_double(s, "drift_threshold", 0.25, 1e-9, 1e9, &d->params.drift);
	if (r == 0)
		r = api->setting_double(s, "epsilon", 1e-4, 1e-12, 0.1, &d->params.epsilon);
	if (r == 0)
		r = api->setting_double(s, "update_interval", 1.0, 0.01, 3600,
					&d->update_interval);
	if (r == 0)
		r = api->setting_string(s, "label", "initial", &label);
	if (r < 0)
		return r;
	d->params.min_observations = (uint64_t)min_obs;
	if (d->params.drift < d->params.warn) {
		api->setting_error(s, "drift_threshold", "%g is below warn_threshold %g",
				   d->params.drift, d->params.warn);
		r = -EINVAL;
	} else if (label[0] == '\0' || strlen(label) >= DRIFT_LABEL_MAX) {
		api->setting_error(s, "label", "expected 1 to %d bytes", DRIFT_LABEL_MAX - 1);
		r = -EINVAL;
	} else {
		memcpy(d->label, label, strlen(label) + 1);
	}
	free(label);
	return r;
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
	char err[512];
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
		r = drift_ref_check_model(&d->ref, model, err, sizeof(err));
		if (r < 0)
			d->api->log(d->host, RULSRV_LOG_ERR,
				    "drift reference '%s' does not fit the served model: %s", dir,
				    err);
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
	}
	d->start = drift_now();
	d->start_mono = drift_mono();
	drift_carry_store(d);
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
	pthread_mutex_lock(&d->lock);
	drift_metrics_window(d);
	drift_refresh_locked(d, NULL);
	pthread_mutex_unlock(&d->lock);
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
	pthread_mutex_lock(&d->lock);
	drift_refresh_locked(d, NULL);
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
