/* SPDX-License-Identifier: MIT */
/* drift.h - internals of the drift_psi plugin, shared by its source files only. */
#ifndef RULSRV_DRIFT_H
#define RULSRV_DRIFT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rulsrv/plugin.h>

#include "bundle.h"

#define DRIFT_LABEL_MAX 128

enum drift_status {
	DRIFT_INSUFFICIENT, /* fewer than min_observations in the window */
	DRIFT_OK,
	DRIFT_WARN,
	DRIFT_DRIFT,
};

enum drift_mode {
	DRIFT_MODE_COUNT, /* tumbling every window_size observations */
	DRIFT_MODE_TIME,  /* tumbling every window_seconds */
	DRIFT_MODE_MANUAL,
};

struct drift_params {
	double warn;    /* psi >= warn: warn */
	double drift;   /* psi >= drift: drift */
	double epsilon; /* proportions are clipped at epsilon */
	uint64_t min_observations;
};

/*
 * The reference: the bins of every input, borrowed from the bundle (which the reference
 * owns), flattened so that the counters of all inputs form one array.
 */
struct drift_ref {
	struct bundle *bundle;
	size_t offset[CMAPSS_N_INPUTS]; /* index of input f's first bin in the flat array */
	size_t total_bins;
	char **bin_label; /* total_bins labels: the bin's inclusive upper edge, "+Inf" last */
	/* Every input's edges padded with +Inf to the same power of two, for a search of a
	 * fixed number of steps: input f's at search + f * search_len. */
	double *search;
	size_t search_len;
};

/* One step of the search: the answer is pos + step or more when e[pos + step - 1] < x. */
#define DRIFT_STEP(e, pos, step, x) ((e)[(pos) + (step) - 1] < (x) ? (pos) + (step) : (pos))

static inline size_t
drift_search16(const double *e, double x)
{
	size_t pos = 0;

	pos = DRIFT_STEP(e, pos, 8, x);
	pos = DRIFT_STEP(e, pos, 4, x);
	pos = DRIFT_STEP(e, pos, 2, x);
	return DRIFT_STEP(e, pos, 1, x);
}

/*
 * The number of the len (a power of two) ascending edges at e that are below x: the bin of x
 * as drift_bin_index() defines it, in log2(len) steps. Branch-free: the comparisons are
 * unpredictable, a conditional move is not. Unrolled for the usual lengths, 16 (up to 15
 * edges: quantile bins) and 32 (discrete inputs with up to 31 edges), when len is a constant.
 */
static inline __attribute__((always_inline)) size_t
drift_search(const double *e, size_t len, double x)
{
	size_t pos = 0, step;

	if (len == 16)
		return drift_search16(e, x);
	if (len == 32) {
		pos = DRIFT_STEP(e, 0, 16, x);
		return pos + drift_search16(e + pos, x);
	}
	for (step = len / 2; step > 0; step /= 2)
		pos = DRIFT_STEP(e, pos, step, x);
	return pos;
}

/* drift_ref.c */
/* Load dir as the reference; err says what is wrong. *out is owned by the caller. */
int drift_ref_load(struct drift_ref *out, const char *dir, char *err, size_t err_len);
/* Can a model serving bundle dir be compared with ref? err says why not; note gets a remark
 * worth a warning (other training subsets) or "". */
int drift_ref_check_model(const struct drift_ref *ref, const char *dir, char *note,
			  size_t note_len, char *err, size_t err_len);
void drift_ref_release(struct drift_ref *ref);

/* drift_math.c: the PSI and what it means. */
struct drift_eval {
	uint64_t observations;
	double psi[CMAPSS_N_INPUTS]; /* NAN for an input with no observation */
	enum drift_status feature_status[CMAPSS_N_INPUTS];
	double psi_max;     /* NAN when there is no observation */
	size_t max_feature; /* input index of psi_max */
	enum drift_status status;
};

/* PSI of counts[bins] against expected[bins], both clipped at epsilon; NAN when no count. */
double drift_psi(const uint64_t *counts, const double *expected, size_t bins, double epsilon);
enum drift_status drift_status_of(const struct drift_params *p, uint64_t observations,
				  double psi);
const char *drift_status_name(enum drift_status s);
/* Evaluate the flat counts (ref->total_bins) of a window that saw observations. */
void drift_evaluate(const struct drift_ref *ref, const struct drift_params *p,
		    const uint64_t *counts, uint64_t observations, struct drift_eval *out);

/* drift_window.c: the counters of the current window, written lock-free by observers. */
#define DRIFT_SHARDS_MAX 64
#define DRIFT_SLOTS 4

struct drift_shard {
	alignas(64) atomic_uint busy;  /* 1 while an observer owns the shard */
	atomic_uint_fast64_t *counts; /* total_bins; written only by the owner */
};

struct drift_slot {
	alignas(64) atomic_uint_fast64_t observations;
	atomic_bool ready; /* drained and cleared: may become the current window */
	struct drift_shard *shard;    /* w->shards */
	atomic_uint_fast64_t *counts; /* the shards' counters, one allocation */
};

struct drift_windows {
	alignas(64) atomic_uint_fast64_t seq; /* sequence number of the current window */
	struct drift_slot slot[DRIFT_SLOTS];  /* current window in slot[seq % DRIFT_SLOTS] */
	size_t total_bins;
	size_t stride; /* counters per shard, rounded up to a cache line */
	unsigned shards; /* per slot: twice the processors online, 4..DRIFT_SHARDS_MAX */
};

int drift_windows_init(struct drift_windows *w, size_t total_bins);
void drift_windows_destroy(struct drift_windows *w);
/*
 * Read side: own a shard of the current window (*seq its number, *slot the window's
 * counters) and count into it with drift_count(); leave it when done.
 */
struct drift_shard *drift_windows_enter(struct drift_windows *w, uint64_t *seq,
					struct drift_slot **slot);
void drift_windows_leave(struct drift_shard *sh);
uint64_t drift_windows_seq(struct drift_windows *w);
/*
 * Close window seq and open the next, without a lock: false when seq is not the current
 * window any more or the other slot is not drained yet (drain first, then retry).
 */
bool drift_windows_close(struct drift_windows *w, uint64_t seq);
/*
 * Serialised by the caller, for a closed window seq: wait until no observer owns one of its
 * shards, sum its final counts into counts (total_bins), clear the slot for reuse and return
 * the window's observations.
 */
uint64_t drift_windows_drain(struct drift_windows *w, uint64_t seq, uint64_t *counts);
/* The current window's counts as they are now (each counter exact, not all at one instant). */
uint64_t drift_windows_peek(struct drift_windows *w, uint64_t *counts);

/* One more in counter k of a shard the caller owns: no read-modify-write instruction. */
static inline void
drift_count(struct drift_shard *sh, size_t k)
{
	atomic_uint_fast64_t *c = &sh->counts[k];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* drift_metrics.c: the series of the drift_* families, looked up once */
struct drift_metrics {
	struct rulsrv_metric *psi_family, *info_family;
	struct rulsrv_series *psi[CMAPSS_N_INPUTS];
	struct rulsrv_series *psi_max, *index, *observations, *start;
	struct rulsrv_series *info; /* drift_window_info{label} of the current label */
	struct rulsrv_series **bins; /* drift_bin_observations_total, total_bins */
	struct rulsrv_series **reference; /* drift_reference_proportion, total_bins */
	struct rulsrv_metric *reference_family;
};

/* A window that was closed. */
struct drift_closed {
	uint64_t index;
	char label[DRIFT_LABEL_MAX];
	double start, end; /* seconds since the epoch */
	struct drift_eval eval;
};

/* The plugin instance. */
struct drift {
	/* First in every version: the loaded plugin file that made the instance (the address of
	 * a static of its own), which handoff checks before it reads anything else of it. */
	const void *object;
	struct drift_windows win; /* on lines of its own: the only part the request path writes */
	struct rulsrv_host *host;
	const struct rulsrv_api *api;
	struct drift_ref ref;
	struct drift_params params;
	enum drift_mode mode;
	uint64_t window_size;
	double window_seconds;
	double update_interval;
	atomic_bool warned_inputs; /* a batch of another input count was logged */

	/* Rolling, evaluation, counter flushes and gauge updates; never taken by observers
	 * except by the one whose batch fills a count window. */
	pthread_mutex_t lock;
	uint64_t index; /* current window, under lock */
	char label[DRIFT_LABEL_MAX];
	double start;
	double start_mono;
	uint64_t booked; /* seq of the window d->index describes; older ones are drained */
	bool have_last;
	struct drift_closed last;
	uint64_t *base;    /* cumulative counts of every closed window */
	uint64_t *pushed;  /* cumulative counts already added to the host's counters */
	uint64_t *scratch; /* total_bins */
	struct drift_metrics m;

	/* The window gauges are someone else's (a predecessor's, which may go on serving if
	 * this reload fails) until this instance serves: its first timer call takes them. */
	bool took_over;
};

/* drift_roll.c */
/* Count a batch of predictions (the observer the plugin registers). */
void drift_observe(void *ud, const struct rulsrv_prediction_batch *batch);
/* Close the current window and open the next (label NULL: keep it); under d->lock. */
void drift_roll_locked(struct drift *d, const char *label, struct drift_closed *closed);
/* Account windows that observers closed, evaluate the current one, refresh the gauges and
 * push the counters; under d->lock. */
void drift_refresh_locked(struct drift *d, struct drift_eval *eval);
/* Closed windows into the counters, gauges untouched; under d->lock. */
void drift_flush_counters_locked(struct drift *d);

/* drift_psi.c: the timer: take the gauges over, roll a time window that is due, refresh. */
void drift_tick(void *ud);

/* drift_settings.c: every setting but the reference; logs what is wrong. */
int drift_read_settings(struct drift *d, const struct rulsrv_settings *s);

/* drift_metrics.c */
int drift_metrics_init(struct drift *d);
/* Has any instance of the service published a window (drift_window_index is not 0)? */
bool drift_metrics_claimed(struct drift *d);
void drift_metrics_window(struct drift *d);
void drift_metrics_eval(struct drift *d, const struct drift_eval *e);
void drift_metrics_flush_locked(struct drift *d, const uint64_t *current);
/* Set reference proportions of bins not in d's reference (a predecessor's) to 0. */
void drift_metrics_retire_bins(struct drift *d);

/* drift_http.c */
int drift_http_init(struct drift *d);

#endif
