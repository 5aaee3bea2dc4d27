/* SPDX-License-Identifier: MIT */
/* settings.c - a plugin instance's `settings` group as the host API's typed accessors see it. */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_value.h"
#include "log.h"

/* "FILE:LINE: setting 'PATH': reason": a path, a setting path and a message. */
#define SETTINGS_ERR_MAX (PATH_MAX + 1600)

struct rulsrv_settings {
	const struct config *c;
	const config_setting_t *owner;
	const config_setting_t *group;
	char *path;
	bool *read; /* one flag per member of group: read by an accessor */
	size_t count;
};

struct rulsrv_settings *
settings_new(const struct config *c, const config_setting_t *owner, const config_setting_t *group,
	     const char *path)
{
	struct rulsrv_settings *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->c = c;
	s->owner = owner;
	s->group = group;
	s->path = strdup(path);
	s->count = group != NULL ? (size_t)config_setting_length(group) : 0;
	s->read = calloc(s->count + 1, sizeof(*s->read));
	if (s->path == NULL || s->read == NULL) {
		settings_free(s);
		return NULL;
	}
	return s;
}

void
settings_free(struct rulsrv_settings *s)
{
	if (s == NULL)
		return;
	free(s->path);
	free(s->read);
	free(s);
}

static void
settings_verror(const struct rulsrv_settings *s, const config_setting_t *at, const char *name,
		const char *fmt, va_list ap)
{
	char path[512], err[SETTINGS_ERR_MAX];

	snprintf(path, sizeof(path), "%s.%s", s->path, name);
	config_value_verror(s->c, at != NULL ? at : (s->group != NULL ? s->group : s->owner), path,
			    err, sizeof(err), fmt, ap);
	log_msg(RULSRV_LOG_ERR, "%s", err);
}

/* The plugin API tolerates NULL settings (no group): every getter then gives its default. */
static const struct config *
settings_config(const struct rulsrv_settings *s)
{
	return s != NULL ? s->c : NULL;
}

/* What a typed getter said is wrong goes to the log, where the plugin's own errors go. */
static int
settings_logged(int r, const char *err)
{
	if (r == -EINVAL)
		log_msg(RULSRV_LOG_ERR, "%s", err);
	return r;
}

static void __attribute__((format(printf, 4, 5)))
settings_error_at(const struct rulsrv_settings *s, const config_setting_t *at, const char *name,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	settings_verror(s, at, name, fmt, ap);
	va_end(ap);
}

void
settings_error(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
{
	const config_setting_t *at = s->group != NULL ? config_setting_get_member(s->group, name) : NULL;
	va_list ap;

	va_start(ap, fmt);
	settings_verror(s, at, name, fmt, ap);
	va_end(ap);
}

/* Find a member and mark it read (the only writes happen during init, on one thread). */
static const config_setting_t *
settings_lookup(const struct rulsrv_settings *s, const char *name)
{
	const config_setting_t *m;
	int i;

	if (s == NULL || s->group == NULL)
		return NULL;
	m = config_setting_get_member(s->group, name);
	if (m == NULL)
		return NULL;
	i = config_setting_index(m);
	if (i >= 0 && (size_t)i < s->count)
		s->read[i] = true;
	return m;
}

int
settings_check_unread(const struct rulsrv_settings *s)
{
	size_t i;
	int r = 0;

	for (i = 0; i < s->count; i++) {
		const config_setting_t *m;

		if (s->read[i])
			continue;
		m = config_setting_get_elem(s->group, (unsigned)i);
		settings_error_at(s, m, config_setting_name(m), "unknown setting");
		r = -EINVAL;
	}
	return r;
}

int
settings_string(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	const config_setting_t *m = settings_lookup(s, name);
	char err[SETTINGS_ERR_MAX];

	return settings_logged(config_value_string(settings_config(s), m, def, out, err,
						   sizeof(err)), err);
}

int
settings_path(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	const config_setting_t *m = settings_lookup(s, name);
	char err[SETTINGS_ERR_MAX];

	return settings_logged(config_value_path(settings_config(s), m, def, out, err, sizeof(err)),
			       err);
}

int
settings_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min,
	     int64_t max, int64_t *out)
{
	const config_setting_t *m = settings_lookup(s, name);
	char err[SETTINGS_ERR_MAX];

	return settings_logged(config_value_int(settings_config(s), m, def, min, max, out, err,
						sizeof(err)), err);
}

int
settings_double(const struct rulsrv_settings *s, const char *name, double def, double min,
		double max, double *out)
{
	const config_setting_t *m = settings_lookup(s, name);
	char err[SETTINGS_ERR_MAX];

	return settings_logged(config_value_double(settings_config(s), m, def, min, max, out, err,
						   sizeof(err)), err);
}

int
settings_bool(const struct rulsrv_settings *s, const char *name, bool def, bool *out)
{
	const config_setting_t *m = settings_lookup(s, name);
	char err[SETTINGS_ERR_MAX];

	return settings_logged(config_value_bool(settings_config(s), m, def, out, err, sizeof(err)),
			       err);
}
