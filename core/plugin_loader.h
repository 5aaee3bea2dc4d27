/* SPDX-License-Identifier: MIT */
/* plugin_loader.h - the plugin loader: dlopen, ABI check before any plugin code, refusals. */
#ifndef RULSRV_CORE_PLUGIN_H
#define RULSRV_CORE_PLUGIN_H

#include <stddef.h>
#include <sys/types.h>

#include <rulsrv/plugin.h>

struct plugin_lib {
	char *path;
	dev_t dev;
	ino_t ino;
	void *handle;
	const struct rulsrv_plugin_descriptor *desc;
};

/* The plugins loaded for one configuration generation; each file is opened once. */
struct plugin_set;

struct plugin_set *plugin_set_new(void);
/* Take a reference; the set is closed (dlclose) when the last one is dropped. */
struct plugin_set *plugin_set_ref(struct plugin_set *set);
void plugin_set_unref(struct plugin_set *set);

/*
 * Load the plugin file at path into set (or return the one already loaded from the same file).
 * Refuses group- or world-writable files, dlopen failures, a missing descriptor, another ABI
 * major, a newer ABI minor and a second file using a name already loaded. Returns 0 and a
 * borrowed *out (lives as long as set), or -errno with a message naming the file in err.
 */
int plugin_set_load(struct plugin_set *set, const char *path, const struct plugin_lib **out,
		    char *err, size_t err_len);

#endif
