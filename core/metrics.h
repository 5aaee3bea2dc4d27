/* SPDX-License-Identifier: MIT */
/* metrics.h - the per-service metric registry behind the host's metric API. */
#ifndef RULSRV_METRICS_H
#define RULSRV_METRICS_H

#include <rulsrv/plugin.h>

struct metrics_registry;

/* One registry per service; it outlives reloads (the service keeps it). */
struct metrics_registry *metrics_registry_new(void);
void metrics_registry_free(struct metrics_registry *r);

/* Get or create a family (see rulsrv_api.metric_new for the rules). */
int metrics_family(struct metrics_registry *r, enum rulsrv_metric_type type, const char *name,
		   const char *help, const char *const *labels, const double *buckets,
		   size_t bucket_count, struct rulsrv_metric **out);
/* Register a table of families in order (see rulsrv_api.metrics_register). */
int metrics_register(struct metrics_registry *r, const struct rulsrv_metric_def *defs, size_t n);
struct rulsrv_series *metrics_series(struct rulsrv_metric *m, const char *const *values);
int metrics_counter_add(struct rulsrv_series *s, double v);
int metrics_gauge_set(struct rulsrv_series *s, double v);
int metrics_gauge_add(struct rulsrv_series *s, double v);
int metrics_histogram_observe(struct rulsrv_series *s, double v);

/* A collector refreshes gauges right before every walk (process metrics, ...). */
int metrics_add_collector(struct metrics_registry *r, void (*fn)(void *ud), void *ud);
/* Run the collectors, then walk every family in registration order. */
int metrics_collect(struct metrics_registry *r, rulsrv_sample_fn fn, void *ud);

/* Register the process_* metrics (updated by a collector from /proc/self). */
int process_metrics_register(struct metrics_registry *r);

#endif
