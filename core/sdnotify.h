/* SPDX-License-Identifier: MIT */
/* sdnotify.h - systemd Type=notify readiness messages (no-op outside systemd). */
#ifndef RULSRV_SDNOTIFY_H
#define RULSRV_SDNOTIFY_H

/* Send state ("READY=1", "RELOADING=1", "STOPPING=1", ...) to $NOTIFY_SOCKET; 0 or -errno. */
int sdnotify(const char *state);

#endif
