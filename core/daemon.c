/* SPDX-License-Identifier: MIT */
/* daemon.c - the set of services of one rulsrv process: load, check, reload, shut down. */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "plugin_loader.h"
#include "sdnotify.h"
#include "service.h"
#include "snapshot.h"

#define DAEMON_DRAIN_MS 30000

struct daemon {
	char *file;
	char **overrides;
	size_t override_count;
	char **only;
	size_t only_count;
	struct service **services;
	size_t service_count;
	pthread_mutex_t reload_lock;
};

static char **
strv_dup(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	size_t i;

	for (i = 0; out != NULL && i < n; i++) {
		out[i] = strdup(v[i]);
		if (out[i] == NULL)
			return NULL;
	}
	return out;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

struct daemon *
daemon_new(const char *file, const char *const *overrides, size_t override_count,
	   const char *const *only, size_t only_count)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	pthread_mutex_init(&d->reload_lock, NULL);
	d->file = strdup(file);
	d->overrides = strv_dup(overrides, override_count);
	d->override_count = override_count;
	d->only = strv_dup(only, only_count);
	d->only_count = only_count;
	if (d->file == NULL || d->overrides == NULL || d->only == NULL) {
		daemon_free(d);
		return NULL;
	}
	return d;
}

void
daemon_free(struct daemon *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->service_count; i++)
		service_free(d->services[i]);
	free(d->services);
	strv_free(d->overrides, d->override_count);
	strv_free(d->only, d->only_count);
	pthread_mutex_destroy(&d->reload_lock);
	free(d->file);
	free(d);
}

static bool
daemon_selected(const struct daemon *d, const char *name)
{
	size_t i;

	if (d->only_count == 0)
		return true;
	for (i = 0; i < d->only_count; i++)
		if (strcmp(d->only[i], name) == 0)
			return true;
	return false;
}

static int
daemon_read_config(const struct daemon *d, struct config **out)
{
	char err[2048];
	size_t i;
	int r;

	r = config_load(d->file, (const char *const *)d->overrides, d->override_count, out, err,
			sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return r == -ENOMEM ? r : -EINVAL;
	}
	for (i = 0; i < d->only_count; i++) {
		if (config_service_find(*out, d->only[i]) == NULL) {
			log_err("%s: setting 'services.%s': no such service (asked for with -s)", d->file,
				d->only[i]);
			config_free(*out);
			*out = NULL;
			return -EINVAL;
		}
	}
	return 0;
}

static int
daemon_reload_cb(void *ud, char *msg, size_t msg_len)
{
	return daemon_reload(ud, msg, msg_len);
}

/* An instance no running service lists is never loaded, so its settings go unchecked: say so. */
static void
daemon_warn_unused(const struct daemon *d, const struct config *c)
{
	size_t i, k, n;
	bool used;

	for (i = 0; i < c->plugin_count; i++) {
		used = false;
		for (k = 0; k < c->service_count && !used; k++) {
			if (!daemon_selected(d, c->services[k].name))
				continue;
			for (n = 0; n < c->services[k].plugin_count && !used; n++)
				used = strcmp(c->services[k].plugins[n], c->plugins[i].name) == 0;
		}
		if (!used && d->only_count == 0)
			log_warning("plugin instance '%s' is used by no service: it is not loaded",
				    c->plugins[i].name);
	}
}

int
daemon_load(struct daemon *d)
{
	struct plugin_set *plugins = NULL;
	struct config *c;
	struct snapshot *snap;
	size_t i;
	int r;

	r = daemon_read_config(d, &c);
	if (r < 0)
		return r;
	log_set_level(c->log_level);
	daemon_warn_unused(d, c);
	d->services = calloc(c->service_count, sizeof(*d->services));
	plugins = plugin_set_new();
	if (d->services == NULL || plugins == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < c->service_count; i++) {
		const struct config_service *sv = &c->services[i];
		struct service *svc;

		if (!daemon_selected(d, sv->name))
			continue;
		svc = service_new(sv, daemon_reload_cb, d);
		if (svc == NULL) {
			r = -ENOMEM;
			goto out;
		}
		d->services[d->service_count++] = svc;
		r = service_build(svc, c, sv, plugins, &snap);
		if (r < 0)
			goto out;
		service_swap(svc, snap);
	}
out:
	plugin_set_unref(plugins);
	config_free(c);
	return r;
}

int
daemon_listen(struct daemon *d)
{
	size_t i;
	int r;

	for (i = 0; i < d->service_count; i++) {
		r = service_listen(d->services[i]);
		if (r < 0)
			return r;
	}
	/* Announced together once every listener runs (test harnesses parse these lines). */
	for (i = 0; i < d->service_count; i++)
		log_info("service '%s' listening on %s", service_name(d->services[i]),
			 service_bound(d->services[i]));
	return 0;
}

/* Build every running service's new snapshot into fresh[]; all or nothing. */
static int
daemon_build_all(struct daemon *d, const struct config *c, struct snapshot **fresh)
{
	struct plugin_set *plugins = plugin_set_new();
	size_t i;
	int r = 0;

	if (plugins == NULL)
		return -ENOMEM;
	for (i = 0; i < d->service_count && r == 0; i++) {
		struct service *svc = d->services[i];
		const struct config_service *sv = config_service_find(c, service_name(svc));

		if (sv == NULL) {
			log_err("%s: setting 'services.%s': the running service is gone from the "
				"configuration (removing a service needs a restart)", c->file,
				service_name(svc));
			r = -EINVAL;
			break;
		}
		service_listener_changed(svc, sv);
		r = service_build(svc, c, sv, plugins, &fresh[i]);
	}
	for (i = 0; i < c->service_count; i++) {
		size_t k;
		bool running = false;

		for (k = 0; k < d->service_count; k++)
			running |= strcmp(service_name(d->services[k]), c->services[i].name) == 0;
		if (!running && daemon_selected(d, c->services[i].name))
			log_warning("service '%s' is new in the configuration: starting it needs a restart",
				    c->services[i].name);
	}
	plugin_set_unref(plugins);
	return r;
}

int
daemon_reload(struct daemon *d, char *msg, size_t msg_len)
{
	struct snapshot **fresh;
	struct config *c = NULL;
	size_t i;
	int r;

	pthread_mutex_lock(&d->reload_lock);
	sdnotify("RELOADING=1");
	log_notice("reloading the configuration from '%s'", d->file);
	log_capture_first_error(msg, msg_len);
	fresh = calloc(d->service_count + 1, sizeof(*fresh));
	r = fresh == NULL ? -ENOMEM : daemon_read_config(d, &c);
	if (r == 0)
		r = daemon_build_all(d, c, fresh);
	log_capture_first_error(NULL, 0);
	for (i = 0; i < d->service_count; i++) {
		if (r == 0)
			service_swap(d->services[i], fresh[i]);
		else
			snapshot_unref(fresh != NULL ? fresh[i] : NULL);
		service_reload_result(d->services[i], r == 0);
	}
	if (r == 0) {
		log_set_level(c->log_level);
		log_notice("configuration reloaded");
	}
	else
		log_err("reload failed, still serving the previous configuration");
	if (r < 0 && msg_len > 0 && msg[0] == '\0')
		snprintf(msg, msg_len, "reload failed");
	free(fresh);
	config_free(c);
	sdnotify("READY=1");
	pthread_mutex_unlock(&d->reload_lock);
	return r;
}

void
daemon_shutdown(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->service_count; i++)
		service_quiesce(d->services[i]);
	for (i = 0; i < d->service_count; i++)
		service_drain(d->services[i], DAEMON_DRAIN_MS);
}
