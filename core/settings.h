/* SPDX-License-Identifier: MIT */
/* settings.h - a plugin instance's `settings` group as the host API's typed accessors see it. */
#ifndef RULSRV_SETTINGS_H
#define RULSRV_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include <rulsrv/plugin.h>

struct config;

/*
 * group (may be NULL: no settings) and owner (the instance's group, for locations) are
 * borrowed from c and must outlive the settings; path is "plugins.NAME.settings" (copied).
 */
struct rulsrv_settings *settings_new(const struct config *c, const config_setting_t *owner,
				     const config_setting_t *group, const char *path);
void settings_free(struct rulsrv_settings *s);
/* Log every setting of the group that no accessor read; returns -EINVAL when there was one. */
int settings_check_unread(const struct rulsrv_settings *s);

/* The host API accessors (see struct rulsrv_api). */
void settings_error(const struct rulsrv_settings *s, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int settings_string(const struct rulsrv_settings *s, const char *name, const char *def, char **out);
int settings_path(const struct rulsrv_settings *s, const char *name, const char *def, char **out);
int settings_int(const struct rulsrv_settings *s, const char *name, int64_t def, int64_t min,
		 int64_t max, int64_t *out);
int settings_double(const struct rulsrv_settings *s, const char *name, double def, double min,
		    double max, double *out);
int settings_bool(const struct rulsrv_settings *s, const char *name, bool def, bool *out);

#endif
