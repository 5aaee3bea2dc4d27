/* SPDX-License-Identifier: MIT */
/* read_file.h - a whole file into one NUL-terminated buffer, bounded, without logging. */
#ifndef RULSRV_READ_FILE_H
#define RULSRV_READ_FILE_H

#include <stddef.h>

/*
 * Read the file at path (a regular file, a pipe or a character device; not a directory) into a
 * malloc'd buffer of its bytes plus a NUL, stored in *out (the caller frees it), its length
 * without the NUL in *len (may be NULL; the bytes may hold NULs of their own). Returns 0, or
 * -errno with *out untouched: -EFBIG when the file holds more than max_bytes, -EISDIR for a
 * directory, -ENOENT, -EACCES, -ENOMEM, ... It logs nothing: the caller says what the file
 * was for, e.g. "cannot read bundle '%s': %s" with strerror(-r).
 */
int read_file(const char *path, size_t max_bytes, char **out, size_t *len);

#endif
