/* SPDX-License-Identifier: MIT */
/* fnv1a.h - the 64-bit FNV-1a hash, for hash tables keyed by strings and label values. */
#ifndef RULSRV_FNV1A_H
#define RULSRV_FNV1A_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit offset basis: start a hash with it, then feed bytes to fnv1a64_update. */
#define FNV1A64_INIT 14695981039346656037ull

#define FNV1A64_PRIME 1099511628211ull

/* h with the n bytes at p (borrowed) folded in, one at a time: keys built in pieces hash alike. */
static inline uint64_t
fnv1a64_update(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV1A64_PRIME;
	}
	return h;
}

/* The hash of the n bytes at p (borrowed). */
static inline uint64_t
fnv1a64(const void *p, size_t n)
{
	return fnv1a64_update(FNV1A64_INIT, p, n);
}

#endif
