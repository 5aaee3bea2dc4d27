/* SPDX-License-Identifier: MIT */
/* drift_settings.c - the plugin's settings in rulsrv.conf, read and checked. */
#include "drift.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int
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
