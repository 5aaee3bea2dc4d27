/* SPDX-License-Identifier: MIT */
/* sdnotify.c - systemd Type=notify readiness messages (no-op outside systemd). */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef RULSRV_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

int
sdnotify(const char *state)
{
	int r = sd_notify(0, state);

	return r < 0 ? r : 0;
}
#else
/* The protocol is one datagram on the unix socket named by $NOTIFY_SOCKET ('@' = abstract). */
int
sdnotify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd, r = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		r = -errno;
	close(fd);
	return r;
}
#endif
