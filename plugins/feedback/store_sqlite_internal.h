/* SPDX-License-Identifier: MIT */
/* store_sqlite_internal.h - what tests/unit/test_feedback_store.c sees of store_sqlite.c. */
#ifndef FB_STORE_SQLITE_INTERNAL_H
#define FB_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The writer connection of an open store: synchronous=FULL is a setting of the connection,
 * not of the file, so only the connection itself can show it. */
sqlite3 *fb_sqlite_writer(struct fb_store *s);

#endif
