/* SPDX-License-Identifier: MIT */
/* plugin_loader.c - the plugin loader: dlopen, ABI check before any plugin code, refusals. */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct plugin_set {
	atomic_uint refs;
	struct plugin_lib **libs; /* each allocated once: hosts keep pointers to them */
	size_t count;
};

struct plugin_set *
plugin_set_new(void)
{
	struct plugin_set *set = calloc(1, sizeof(*set));

	if (set != NULL)
		atomic_init(&set->refs, 1);
	return set;
}

struct plugin_set *
plugin_set_ref(struct plugin_set *set)
{
	atomic_fetch_add(&set->refs, 1);
	return set;
}

void
plugin_set_unref(struct plugin_set *set)
{
	size_t i;

	if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	for (i = 0; i < set->count; i++) {
		dlclose(set->libs[i]->handle);
		free(set->libs[i]->path);
		free(set->libs[i]);
	}
	free(set->libs);
	free(set);
}

/* Everything a descriptor must satisfy, checked before any of its callbacks is called. */
static int
plugin_check_descriptor(const struct plugin_set *set, const char *path,
			const struct rulsrv_plugin_descriptor *d, char *err, size_t err_len)
{
	size_t i;

	if (d->abi_major != RULSRV_PLUGIN_ABI_MAJOR) {
		snprintf(err, err_len,
			 "cannot load plugin '%s': built for plugin ABI %u.%u, this rulsrv has ABI %u.%u "
			 "(the major versions differ)",
			 path, d->abi_major, d->abi_minor, RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR);
		return -EPROTO;
	}
	if (d->abi_minor > RULSRV_PLUGIN_ABI_MINOR) {
		snprintf(err, err_len,
			 "cannot load plugin '%s': built for plugin ABI %u.%u, newer than this rulsrv's "
			 "ABI %u.%u",
			 path, d->abi_major, d->abi_minor, RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR);
		return -EPROTO;
	}
	if (d->name == NULL || d->name[0] == '\0' || d->init == NULL) {
		snprintf(err, err_len, "cannot load plugin '%s': descriptor has no name or no init",
			 path);
		return -EINVAL;
	}
	for (i = 0; i < set->count; i++) {
		if (strcmp(set->libs[i]->desc->name, d->name) == 0) {
			snprintf(err, err_len,
				 "cannot load plugin '%s': name '%s' is already used by plugin '%s'", path,
				 d->name, set->libs[i]->path);
			return -EEXIST;
		}
	}
	return 0;
}

/*
 * dlopen() hands back an object already loaded under the same name even when the file was
 * replaced since: a plugin upgraded on disk would never reach a reload. So we open the file
 * ourselves and dlopen it as /proc/self/fd/N under a name no object ever had (24 tokens "./"
 * or "/" spelling a load counter, a prefix-free code): glibc then compares the file itself,
 * and an unchanged file still shares its loaded object while a replaced one loads afresh.
 */
static void *
plugin_dlopen(const char *path, int fd)
{
	static atomic_uint loads;
	char name[128];
	unsigned g, bit;
	size_t n;

	if (access("/proc/self/fd", X_OK) != 0)
		return dlopen(path, RTLD_NOW | RTLD_LOCAL);
	g = atomic_fetch_add(&loads, 1);
	n = (size_t)snprintf(name, sizeof(name), "/proc/self/");
	for (bit = 24; bit-- > 0;)
		n += (size_t)snprintf(name + n, sizeof(name) - n, "%s", (g >> bit) & 1 ? "/" : "./");
	snprintf(name + n, sizeof(name) - n, "fd/%d", fd);
	return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

/* dlerror() names the /proc/self/fd alias; the caller names the real file. */
static const char *
plugin_dlerror(void)
{
	const char *e = dlerror(), *colon;

	if (e == NULL)
		return "unknown dlopen error";
	if (strncmp(e, "/proc/self/", 11) == 0 && (colon = strstr(e, ": ")) != NULL)
		return colon + 2;
	return e;
}

int
plugin_set_load(struct plugin_set *set, const char *path, const struct plugin_lib **out,
		char *err, size_t err_len)
{
	const struct rulsrv_plugin_descriptor *d;
	struct plugin_lib **libs, *lib;
	struct stat st;
	char buf[128];
	void *h;
	size_t i;
	int fd, r;

	/* The checks and the load use one open file: no swap between them. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot load plugin '%s': %s", path,
			 strerror_r(-r, buf, sizeof(buf)));
		if (fd >= 0)
			close(fd);
		return r;
	}
	for (i = 0; i < set->count; i++) {
		if (set->libs[i]->dev == st.st_dev && set->libs[i]->ino == st.st_ino) {
			close(fd);
			*out = set->libs[i];
			return 0;
		}
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, err_len,
			 "cannot load plugin '%s': the file is group- or world-writable (mode %04o)", path,
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	h = plugin_dlopen(path, fd);
	close(fd);
	if (h == NULL) {
		snprintf(err, err_len, "cannot load plugin '%s': %s", path, plugin_dlerror());
		return -ENOEXEC;
	}
	d = dlsym(h, RULSRV_PLUGIN_SYMBOL);
	if (d == NULL) {
		snprintf(err, err_len, "cannot load plugin '%s': no '%s' descriptor symbol", path,
			 RULSRV_PLUGIN_SYMBOL);
		r = -ENOENT;
		goto out_close;
	}
	r = plugin_check_descriptor(set, path, d, err, err_len);
	if (r < 0)
		goto out_close;
	r = -ENOMEM;
	snprintf(err, err_len, "cannot load plugin '%s': out of memory", path);
	libs = realloc(set->libs, (set->count + 1) * sizeof(*libs));
	if (libs == NULL)
		goto out_close;
	set->libs = libs;
	lib = calloc(1, sizeof(*lib));
	if (lib == NULL)
		goto out_close;
	*lib = (struct plugin_lib){
		.path = strdup(path), .dev = st.st_dev, .ino = st.st_ino, .handle = h, .desc = d,
	};
	if (lib->path == NULL) {
		free(lib);
		goto out_close;
	}
	libs[set->count++] = lib;
	*out = lib;
	err[0] = '\0';
	return 0;
out_close:
	dlclose(h);
	return r;
}
