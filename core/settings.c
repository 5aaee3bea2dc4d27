/* SPDX-License-Identifier: MIT */
/* settings.c - a plugin instance's `settings` group as the host API's typed accessors see it. */
#include "settings.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

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
	char where[PATH_MAX + 32], msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	config_where(s->c, at != NULL ? at : (s->group != NULL ? s->group : s->owner), where,
		     sizeof(where));
	log_msg(RULSRV_LOG_ERR, "%s: setting '%s.%s': %s", where, s->path, name, msg);
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
	const char *v;

	*out = NULL;
	if (m == NULL) {
		v = def;
	} else if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(m);
	} else if (config_override_text(m) != NULL) {
		v = config_override_text(m); /* -o x=42 for a string setting means "42" */
	} else {
		settings_error_at(s, m, name, "expected a string");
		return -EINVAL;
	}
	if (v == NULL)
		return 0;
	*out = strdup(v);
	return *out == NULL ? -ENOMEM : 0;
}

int
settings_path(const struct rulsrv_settings *s, const char *name, const char *def, char **out)
{
	char *raw;
	int r = settings_string(s, name, def, &raw);

	if (r < 0 || raw == NULL)
		return r;
	*out = config_resolve_path(s->c->dir, raw);
	free(raw);
	return *out == NULL ? -ENOMEM : 0;
}

int
settings_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min,
	     int64_t max, int64_t *out)
{
	const config_setting_t *m = settings_lookup(s, name);
	int type;

	*out = def;
	if (m == NULL)
		return 0;
	type = config_setting_type(m);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
		settings_error_at(s, m, name, "expected an integer");
		return -EINVAL;
	}
	*out = config_setting_get_int64(m);
	if (*out < min || *out > max) {
		settings_error_at(s, m, name, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
				  *out, min, max);
		return -EINVAL;
	}
	return 0;
}

int
settings_double(const struct rulsrv_settings *s, const char *name, double def, double min,
		double max, double *out)
{
	const config_setting_t *m = settings_lookup(s, name);
	int type;

	*out = def;
	if (m == NULL)
		return 0;
	type = config_setting_type(m);
	if (type == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(m);
	else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
		*out = (double)config_setting_get_int64(m);
	else {
		settings_error_at(s, m, name, "expected a number");
		return -EINVAL;
	}
	if (!(*out >= min && *out <= max)) {
		settings_error_at(s, m, name, "%g is out of range [%g, %g]", *out, min, max);
		return -EINVAL;
	}
	return 0;
}

int
settings_bool(const struct rulsrv_settings *s, const char *name, bool def, bool *out)
{
	const config_setting_t *m = settings_lookup(s, name);

	*out = def;
	if (m == NULL)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
		settings_error_at(s, m, name, "expected true or false");
		return -EINVAL;
	}
	*out = config_setting_get_bool(m) != 0;
	return 0;
}
