/* SPDX-License-Identifier: MIT */
/* config_value.c - one libconfig setting as a typed value, with FILE:LINE in what is wrong. */
#include "config_value.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* ---- where a setting is ------------------------------------------------------------------ */

void
config_where(const struct config *c, const config_setting_t *s, char *buf, size_t len)
{
	const char *file;
	unsigned line;

	line = s != NULL ? config_setting_source_line(s) : 0;
	if (s != NULL && line == 0) {
		snprintf(buf, len, "command line");
		return;
	}
	file = s != NULL ? config_setting_source_file(s) : NULL;
	if (file == NULL)
		file = c->file;
	snprintf(buf, len, "%s:%u", file, line);
}

/* Walks up to the root and prints the names back down. */
void
config_setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[32];
	size_t n = 0, off = 0;
	int r;

	buf[0] = '\0';
	for (; s != NULL && config_setting_parent(s) != NULL && n < 32; s = config_setting_parent(s))
		chain[n++] = s;
	while (n-- > 0 && off < len) {
		const char *name = config_setting_name(chain[n]);
		const char *dot = off > 0 ? "." : "";

		if (name != NULL)
			r = snprintf(buf + off, len - off, "%s%s", dot, name);
		else
			r = snprintf(buf + off, len - off, "[%d]", config_setting_index(chain[n]));
		if (r < 0)
			break;
		off += (size_t)r;
	}
}

const char *
config_override_text(const config_setting_t *s)
{
	return config_setting_source_line(s) == 0 ? config_setting_get_hook(s) : NULL;
}

char *
config_resolve_path(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		return strdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

const char *
config_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

/* ---- what is wrong with it --------------------------------------------------------------- */

int
config_value_verror(const struct config *c, const config_setting_t *at, const char *path,
		    char *err, size_t err_len, const char *fmt, va_list ap)
{
	char where[PATH_MAX + 32], own[512], msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	config_where(c, at, where, sizeof(where));
	if (path == NULL) {
		config_setting_path(at, own, sizeof(own));
		path = own;
	}
	snprintf(err, err_len, "%s: setting '%s': %s", where, path, msg);
	return -EINVAL;
}

int
config_value_error(const struct config *c, const config_setting_t *at, const char *path,
		   char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_value_verror(c, at, path, err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The setting is there but of another type than wanted. */
static int
wrong_type(const struct config *c, const config_setting_t *s, const char *wanted, char *err,
	   size_t err_len)
{
	return config_value_error(c, s, NULL, err, err_len, "expected %s, got %s", wanted,
				  config_type_name(config_setting_type(s)));
}

static bool
is_int(const config_setting_t *s)
{
	int type = config_setting_type(s);

	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

/* ---- the typed getters ------------------------------------------------------------------- */

int
config_value_string(const struct config *c, const config_setting_t *s, const char *def,
		    char **out, char *err, size_t err_len)
{
	const char *v;

	*out = NULL;
	if (s == NULL)
		v = def;
	else if (config_setting_type(s) == CONFIG_TYPE_STRING)
		v = config_setting_get_string(s);
	else if (config_override_text(s) != NULL)
		v = config_override_text(s); /* -o took "42" for a number; the setting wants text */
	else
		return wrong_type(c, s, "a string", err, err_len);
	if (v == NULL)
		return 0;
	*out = strdup(v);
	return *out == NULL ? -ENOMEM : 0;
}

int
config_value_path(const struct config *c, const config_setting_t *s, const char *def,
		  char **out, char *err, size_t err_len)
{
	char *raw;
	int r = config_value_string(c, s, def, &raw, err, err_len);

	*out = NULL;
	if (r < 0 || raw == NULL)
		return r;
	*out = config_resolve_path(c != NULL ? c->dir : NULL, raw);
	free(raw);
	return *out == NULL ? -ENOMEM : 0;
}

int
config_value_int(const struct config *c, const config_setting_t *s, int64_t def, int64_t min,
		 int64_t max, int64_t *out, char *err, size_t err_len)
{
	*out = def;
	if (s == NULL)
		return 0;
	if (!is_int(s))
		return wrong_type(c, s, "an integer", err, err_len);
	*out = config_setting_get_int64(s);
	if (*out < min || *out > max)
		return config_value_error(c, s, NULL, err, err_len,
					  "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
					  *out, min, max);
	return 0;
}

int
config_value_double(const struct config *c, const config_setting_t *s, double def,
		    double min, double max, double *out, char *err, size_t err_len)
{
	*out = def;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(s);
	else if (is_int(s))
		*out = (double)config_setting_get_int64(s);
	else
		return wrong_type(c, s, "a number", err, err_len);
	if (!(*out >= min && *out <= max))
		return config_value_error(c, s, NULL, err, err_len, "%g is out of range [%g, %g]",
					  *out, min, max);
	return 0;
}

int
config_value_bool(const struct config *c, const config_setting_t *s, bool def, bool *out,
		  char *err, size_t err_len)
{
	*out = def;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return wrong_type(c, s, "true or false", err, err_len);
	*out = config_setting_get_bool(s) != 0;
	return 0;
}
