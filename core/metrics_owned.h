/* SPDX-License-Identifier: MIT */
/* metrics_owned.h - core-internal: collectors whose state the registry frees with itself. */
#ifndef RULSRV_METRICS_OWNED_H
#define RULSRV_METRICS_OWNED_H

#include "metrics.h"

/*
 * Like metrics_add_collector, but the registry owns ud from the call on (success or failure)
 * and releases it with free_ud(ud) when the registry is freed. Only the core
 * needs it, so it stays out of metrics.h, which the plugins' fake host also includes.
 */
int metrics_add_collector_owned(struct metrics_registry *r, void (*fn)(void *ud), void *ud,
				void (*free_ud)(void *ud));

#endif
