/* SPDX-License-Identifier: MIT */
/* auth.h - admin routes: bearer token from a private file, or loopback only. */
#ifndef RULSRV_AUTH_H
#define RULSRV_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Read the token (first line, surrounding whitespace trimmed) from path. Refuses a file that
 * group or others can read, and an empty token. Returns 0 and a malloc'd *token (free with
 * auth_token_free), or -errno with a message naming the file in err.
 */
int auth_token_load(const char *path, char **token, char *err, size_t err_len);
/* Wipe and free; accepts NULL. */
void auth_token_free(char *token);

/*
 * May this request use an admin route? token: the configured token or NULL; authorization:
 * the Authorization header or NULL. Returns 0 (allowed), 401 (missing or wrong bearer token)
 * or 403 (no token configured and not from loopback). Compares in constant time.
 */
unsigned auth_check(const char *token, const char *authorization, bool from_loopback);

#endif
