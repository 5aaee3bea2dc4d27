/* SPDX-License-Identifier: MIT */
/* fleet_service.h - fleet mode: the prediction service keeps each engine's window (docs/FLEET.md). */
#ifndef RULSRV_FLEET_SERVICE_H
#define RULSRV_FLEET_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rulsrv/plugin.h>

#include "cmapss.h"
#include "predict_backend.h"

struct feature_spec;

/* One window slot: the cycle number (exact in a double up to 2^53), then the raw inputs. */
#define FLEET_SLOT (1 + CMAPSS_N_INPUTS)

/*
 * One tracked engine: a ring of its last cap cycles, in one allocation (docs/FLEET.md has the
 * layout and its size). Slot i (0 the oldest) is at (head + i) % cap.
 */
struct fleet_engine {
	int64_t unit;
	double last_seen;  /* seconds since the epoch, of the last accepted cycle */
	float rul;         /* the prediction at the last cycle */
	uint16_t by;       /* which model predicted it: index into the fleet's model names */
	uint16_t flags;
	uint32_t cap, len, head;
	uint32_t probe; /* unused, keeps slots 8-aligned */
	/* the new cycles up to this one may be in the prediction log already, without being in
	 * the store (the log commits beside the store, fleet_http.c): their predictions are
	 * flagged RULSRV_PREDICTION_REPEAT, which the log takes only where it lacks them. -1:
	 * none. The engine's next cycle after a start; the cycles of a failed commit. */
	int64_t maybe_logged;
	/* changes whenever the window does (new engine, cycle appended): a request that
	 * predicted outside the fleet's lock finds out whether the engine moved on meanwhile */
	uint64_t stamp;
	/* the table's list of engines by last_seen (fleet_table.c): the oldest goes first at
	 * the idle TTL and for capacity */
	struct fleet_engine *older, *newer;
	double slots[];
};

/* What the fleet needs of the model instance that serves it. Borrowed while it serves. */
struct fleet_model {
	const struct rulsrv_api *api;
	struct rulsrv_host *host;
	const struct feature_spec *features;
	size_t n_features;
	size_t window; /* the model's own window (feature_spec_window) */
	const struct predict_backend_ops *ops;
	void *model;
	const char *name, *version;
	size_t input_count;
	const char *const *input_names;
	size_t max_cycles_per_request; /* the service's max_instances */
	/* the service's predictions_total and rul_prediction_value, which count streamed
	 * predictions with /v1/predict's */
	struct rulsrv_series *predictions, *rul_value;
};

struct fleet_service;

/*
 * Read the fleet settings of the model plugin (fleet, store, database, fleet_window,
 * max_engines, idle_ttl_seconds, fleet_thresholds ...): *out stays NULL when fleet mode is
 * off. Otherwise opens (or shares, after a reload) the engines' store and windows, registers
 * the fleet's routes, metrics and timer. Init only. 0 or -errno (logged).
 */
int fleet_service_init(const struct fleet_model *m, const struct rulsrv_settings *settings,
		       struct fleet_service **out);
/* Release this instance's hold on the shared windows (the last one closes the store). */
void fleet_service_fini(struct fleet_service *fs);

#endif
