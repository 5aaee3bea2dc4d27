/* harness_check.h - harness calls that fail the running Check test instead of returning -1. */
#ifndef RULSRV_HARNESS_CHECK_H
#define RULSRV_HARNESS_CHECK_H

#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"

/* harness_connect, or the test fails naming the port and the reason. */
static inline int
ck_connect(int port, int flags)
{
	int fd = harness_connect(port, flags);

	ck_assert_msg(fd >= 0, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

#endif
