/* SPDX-License-Identifier: MIT */
/* fake_host.h - a minimal host table over the real metric registry, for exporter plugin tests.
 * Included by one test file each (all static); not a suite itself. */
#ifndef RULSRV_TEST_FAKE_HOST_H
#define RULSRV_TEST_FAKE_HOST_H

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rulsrv/plugin.h>

#include "metrics.h"

#define FAKE_UNUSED __attribute__((unused))
#define FAKE_MAX_SETTINGS 16

/* Settings as name/value strings; every one given must be read by init. */
struct rulsrv_settings {
	const char *names[FAKE_MAX_SETTINGS];
	const char *values[FAKE_MAX_SETTINGS];
	bool read[FAKE_MAX_SETTINGS];
	int errors;
};

struct rulsrv_host {
	struct metrics_registry *registry;
	const char *method;
	const char *path;
	rulsrv_handler_fn handler;
	void *handler_ud;
};

struct rulsrv_response {
	unsigned status;
	char content_type[128];
	char *body;
	size_t len;
};

static void FAKE_UNUSED
fake_log(struct rulsrv_host *host, enum rulsrv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fake host <%d> ", (int)level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void FAKE_UNUSED
fake_setting_error(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
{
	va_list ap;

	((struct rulsrv_settings *)s)->errors++;
	va_start(ap, fmt);
	fprintf(stderr, "fake host: setting '%s': ", name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *
fake_setting(const struct rulsrv_settings *cs, const char *name)
{
	struct rulsrv_settings *s = (struct rulsrv_settings *)cs;
	int i;

	for (i = 0; s != NULL && i < FAKE_MAX_SETTINGS && s->names[i] != NULL; i++) {
		if (strcmp(s->names[i], name) == 0) {
			s->read[i] = true;
			return s->values[i];
		}
	}
	return NULL;
}

static int FAKE_UNUSED
fake_setting_string(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	const char *v = fake_setting(s, name);

	if (v == NULL)
		v = def;
	*out = v != NULL ? strdup(v) : NULL;
	return v != NULL && *out == NULL ? -ENOMEM : 0;
}

static int FAKE_UNUSED
fake_setting_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min,
		 int64_t max, int64_t *out)
{
	const char *v = fake_setting(s, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	*out = strtoll(v, &end, 10);
	if (*end != '\0' || *out < min || *out > max) {
		fake_setting_error(s, name, "out of range");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_setting_double(const struct rulsrv_settings *s, const char *name, double def, double min,
		    double max, double *out)
{
	const char *v = fake_setting(s, name);

	*out = v != NULL ? strtod(v, NULL) : def;
	if (*out < min || *out > max) {
		fake_setting_error(s, name, "out of range");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_setting_bool(const struct rulsrv_settings *s, const char *name, bool def, bool *out)
{
	const char *v = fake_setting(s, name);

	*out = v != NULL ? strcmp(v, "true") == 0 : def;
	if (v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		fake_setting_error(s, name, "not a bool");
		return -EINVAL;
	}
	return 0;
}

static int FAKE_UNUSED
fake_metric_new(struct rulsrv_host *host, enum rulsrv_metric_type type, const char *name,
		const char *help, const char *const *labels, const double *buckets,
		size_t bucket_count, struct rulsrv_metric **out)
{
	return metrics_family(host->registry, type, name, help, labels, buckets, bucket_count, out);
}

static int FAKE_UNUSED
fake_metrics_collect(struct rulsrv_host *host, rulsrv_sample_fn fn, void *ud)
{
	return metrics_collect(host->registry, fn, ud);
}

static int FAKE_UNUSED
fake_route_add(struct rulsrv_host *host, const char *method, const char *path, unsigned flags,
	       rulsrv_handler_fn fn, void *ud)
{
	if (host->handler != NULL)
		return -EEXIST;
	host->method = method;
	host->path = path;
	host->handler = fn;
	host->handler_ud = ud;
	return 0;
}

static void FAKE_UNUSED
fake_respond(struct rulsrv_response *resp, unsigned status, const char *content_type, char *body,
	     size_t len)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
	free(resp->body);
	resp->body = body;
	resp->len = len;
}

static void FAKE_UNUSED
fake_respond_error(struct rulsrv_response *resp, unsigned status, const char *code,
		   const char *fmt, ...)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "application/json");
}

static const char *FAKE_UNUSED
fake_name(const struct rulsrv_host *host)
{
	return "test";
}

static const struct rulsrv_api fake_api = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.log = fake_log,
	.setting_error = fake_setting_error,
	.instance_name = fake_name,
	.service_name = fake_name,
	.setting_string = fake_setting_string,
	.setting_path = fake_setting_string,
	.setting_int = fake_setting_int,
	.setting_double = fake_setting_double,
	.setting_bool = fake_setting_bool,
	.metric_new = fake_metric_new,
	.series = metrics_series,
	.counter_add = metrics_counter_add,
	.gauge_set = metrics_gauge_set,
	.gauge_add = metrics_gauge_add,
	.histogram_observe = metrics_histogram_observe,
	.metrics_collect = fake_metrics_collect,
	.route_add = fake_route_add,
	.respond = fake_respond,
	.respond_error = fake_respond_error,
};

/* dlopen build/plugins/<file> the way the core does and return its descriptor. */
static const struct rulsrv_plugin_descriptor *FAKE_UNUSED
fake_load(const char *file, void **handle)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/plugins/%s", RULSRV_BUILD_DIR, file);
	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (*handle == NULL) {
		fprintf(stderr, "cannot load '%s': %s\n", path, dlerror());
		return NULL;
	}
	return dlsym(*handle, RULSRV_PLUGIN_SYMBOL);
}

/* Every given setting was read by init (the real host fails the load otherwise). */
static bool FAKE_UNUSED
fake_settings_all_read(const struct rulsrv_settings *s)
{
	int i;

	for (i = 0; i < FAKE_MAX_SETTINGS && s->names[i] != NULL; i++)
		if (!s->read[i])
			return false;
	return true;
}

#endif
