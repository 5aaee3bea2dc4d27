/* SPDX-License-Identifier: MIT */
/* splitmix64.h - the splitmix64 generator: seeds, shuffles and xoshiro state from one word. */
#ifndef RULSRV_SPLITMIX64_H
#define RULSRV_SPLITMIX64_H

#include <stdint.h>

/*
 * Advance *state by the golden-ratio increment and return its mix (Steele, Lea and Flood,
 * "Fast splittable pseudorandom number generators", 2014). Every seed, 0 included, gives a
 * full-period sequence; the outputs are part of what training and synthesis reproduce from
 * a seed, so the constants must never change.
 */
static inline uint64_t
splitmix64_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
