/* SPDX-License-Identifier: MIT */
/* config.h - read rulsrv.conf(5) with libconfig, apply -o overrides, validate, freeze. */
#ifndef RULSRV_CONFIG_H
#define RULSRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <libconfig.h>

#include <rulsrv/plugin.h>

#include "config_value.h" /* the typed getters and locations, for whoever reads c->cfg */

#define CONFIG_DEFAULT_MAX_BODY_BYTES (4 * 1024 * 1024)
#define CONFIG_DEFAULT_MAX_INFLIGHT_BODY_BYTES (256 * 1024 * 1024)
#define CONFIG_DEFAULT_MAX_CONNECTIONS 1024
#define CONFIG_DEFAULT_TIMEOUT_SECONDS 30
#define CONFIG_DEFAULT_REQUEST_TIMEOUT_SECONDS 60

struct config_plugin {
	char *name;
	char *file;                  /* resolved against plugin_dir */
	config_setting_t *settings;  /* the `settings` group or NULL; lives with the config */
	config_setting_t *setting;   /* the instance's own group, for error locations */
};

struct config_service {
	char *name;
	char *listen; /* as written, "ADDR:PORT" */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char **plugins; /* instance names, in init order */
	size_t plugin_count;
	unsigned threads; /* resolved: 0 became the number of cores */
	size_t max_body_bytes;
	size_t max_inflight_body_bytes; /* request bodies held at once, all connections */
	unsigned max_connections;
	unsigned connection_timeout; /* idle: seconds without a byte either way */
	unsigned request_timeout;    /* total: seconds to deliver one whole request; 0 = none */
	char *admin_token_file; /* resolved path or NULL */
	char *tls_cert_file;
	char *tls_key_file;
};

struct config {
	config_t cfg; /* kept: plugin settings are read from it during init */
	char *file;
	char *dir; /* directory of file: relative paths are resolved against it */
	char *plugin_dir;
	enum rulsrv_log_level log_level;
	struct config_plugin *plugins;
	size_t plugin_count;
	struct config_service *services;
	size_t service_count;
	char **override_texts; /* original -o values, hooked onto the settings they created */
	size_t override_count;
};

/*
 * Read file, apply overrides ("path=value" strings, in order), validate and resolve.
 * Returns 0 and a new config in *out (free with config_free), or -errno with a message
 * naming file, line and setting in err.
 */
int config_load(const char *file, const char *const *overrides, size_t override_count,
		struct config **out, char *err, size_t err_len);
void config_free(struct config *c);

const struct config_plugin *config_plugin_find(const struct config *c, const char *name);
const struct config_service *config_service_find(const struct config *c, const char *name);

/* Parse "ADDR:PORT" or "[V6]:PORT" (ADDR "*" or empty = any); 0 or -EINVAL. */
int config_parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len);

#endif
