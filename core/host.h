/* SPDX-License-Identifier: MIT */
/* host.h - the struct rulsrv_api table handed to every plugin. */
#ifndef RULSRV_HOST_H
#define RULSRV_HOST_H

#include <rulsrv/plugin.h>

extern const struct rulsrv_api host_api;

#endif
