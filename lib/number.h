/* SPDX-License-Identifier: MIT */
/* number.h - RFC 8259 numbers to doubles, exactly as strtod, fast for short decimals. */
#ifndef RULSRV_NUMBER_H
#define RULSRV_NUMBER_H

#include <stddef.h>

/*
 * The number grammar of RFC 8259 at s (not past end): on success stores the value (exactly
 * strtod's) and returns the number of bytes consumed; 0 when s does not start with a valid
 * JSON number. Reads nothing past end; needs no NUL terminator.
 */
size_t number_parse(const char *s, const char *end, double *out);

#endif
