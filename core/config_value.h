/* SPDX-License-Identifier: MIT */
/* config_value.h - one libconfig setting as a typed value, with FILE:LINE in what is wrong. */
#ifndef RULSRV_CONFIG_VALUE_H
#define RULSRV_CONFIG_VALUE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

struct config;

/*
 * The typed getters of the core's own settings (config.c) and of the plugin settings API
 * (settings.c): s is the setting to read (borrowed; NULL when absent, then *out = def),
 * c the configuration it belongs to. They return 0, -ENOMEM, or -EINVAL with
 * "FILE:LINE: setting 'PATH': what is wrong" in err, e.g. "rulsrv.conf:4: setting
 * 'services.a.threads': expected an integer, got a string".
 */

/* A string; a value given with -o keeps its text ("-o x=42" is "42"). def may be NULL. */
int config_value_string(const struct config *c, const config_setting_t *s, const char *def,
			char **out, char *err, size_t err_len);
/* config_value_string resolved against the directory of the configuration file. */
int config_value_path(const struct config *c, const config_setting_t *s, const char *def,
		      char **out, char *err, size_t err_len);
/* An integer in [min, max]. */
int config_value_int(const struct config *c, const config_setting_t *s, int64_t def, int64_t min,
		     int64_t max, int64_t *out, char *err, size_t err_len);
/* A number in [min, max]: a float, or an integer converted. */
int config_value_double(const struct config *c, const config_setting_t *s, double def,
			double min, double max, double *out, char *err, size_t err_len);
/* true or false. */
int config_value_bool(const struct config *c, const config_setting_t *s, bool def, bool *out,
		      char *err, size_t err_len);

/*
 * "FILE:LINE: setting 'PATH': " and fmt into err; returns -EINVAL. at locates the error
 * (borrowed; NULL: the configuration file, line 0); path names the setting, NULL for at's
 * own dotted path.
 */
int config_value_error(const struct config *c, const config_setting_t *at, const char *path,
		       char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
int config_value_verror(const struct config *c, const config_setting_t *at, const char *path,
			char *err, size_t err_len, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/* "an integer", "a string", ...: what a libconfig type is called in an error. */
const char *config_type_name(int type);

/* "FILE:LINE" of a setting, or "command line" for a setting created by -o. */
void config_where(const struct config *c, const config_setting_t *s, char *buf, size_t len);
/* The dotted path of a setting ("services.prediction.listen", "a.b[2]"). */
void config_setting_path(const config_setting_t *s, char *buf, size_t len);
/* The original text of a value set with -o, or NULL. */
const char *config_override_text(const config_setting_t *s);
/* Resolve path against dir when relative; malloc'd, NULL when out of memory. */
char *config_resolve_path(const char *dir, const char *path);

#endif
