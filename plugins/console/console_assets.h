/* SPDX-License-Identifier: MIT */
/* console_assets.h - the console's page, compiled in from ui/ (embed_assets.cmake). */
#ifndef RULSRV_CONSOLE_ASSETS_H
#define RULSRV_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
	const char *name; /* file name under ui/: "index.html", "console.js", ... */
	const unsigned char *data; /* size bytes, then a NUL */
	size_t size;
};

/* Every file of ui/, ended by an entry whose name is NULL. */
extern const struct console_asset console_assets[];

#endif
