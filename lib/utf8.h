/* SPDX-License-Identifier: MIT */
/* utf8.h - strict UTF-8 (RFC 3629) checks for client text that becomes labels and JSON. */
#ifndef RULSRV_UTF8_H
#define RULSRV_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length (1 to 4) of the well-formed UTF-8 sequence that starts at s, reading at most len
 * bytes of s; 0 when there is none: len is 0, a stray continuation byte, 0xC0, 0xC1 or
 * 0xF5..0xFF, an overlong form, a surrogate (U+D800..U+DFFF), a code point beyond U+10FFFF,
 * or a sequence cut short. A NUL byte is U+0000, length 1. s is borrowed.
 */
size_t utf8_seq_len(const unsigned char *s, size_t len);

/* Are the len bytes at s (borrowed) well-formed UTF-8? The empty string is. */
bool utf8_valid(const char *s, size_t len);

/*
 * utf8_valid, and no ASCII control character (U+0000..U+001F, U+007F) among the len bytes
 * at s (borrowed): text fit for a Prometheus label value or a name in JSON.
 */
bool utf8_text_valid(const char *s, size_t len);

#endif
