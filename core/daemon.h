/* SPDX-License-Identifier: MIT */
/* daemon.h - the set of services of one rulsrv process: load, check, reload, shut down. */
#ifndef RULSRV_DAEMON_H
#define RULSRV_DAEMON_H

#include <stddef.h>

struct daemon;

/* Exit statuses (sysexits.h). */
#define DAEMON_EX_CONFIG 78

/*
 * A daemon for config file with -o overrides and -s selections (copied; none = every service).
 * NULL when out of memory.
 */
struct daemon *daemon_new(const char *file, const char *const *overrides, size_t override_count,
			  const char *const *only, size_t only_count);
/* Stops whatever runs (drains first when listening) and frees. */
void daemon_free(struct daemon *d);

/* Read the configuration, load the plugins and initialise every instance; errors logged.
 * Returns 0 or -errno: -EINVAL when the configuration is wrong, another errno when a plugin
 * could not start (its model does not load, its store cannot be opened). */
int daemon_load(struct daemon *d);
/* Bind and start every service; 0 or -errno (logged). */
int daemon_listen(struct daemon *d);
/* Build the whole state anew beside the running one and swap it in; 0, or -errno with the
 * reason in msg (also logged). Safe from any thread; reloads are serialised. */
int daemon_reload(struct daemon *d, char *msg, size_t msg_len);
/* Stop accepting, report not ready, wait for in-flight requests, stop; plugins' fini run. */
void daemon_shutdown(struct daemon *d);

#endif
