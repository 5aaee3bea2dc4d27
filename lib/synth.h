/* SPDX-License-Identifier: MIT */
/* synth.h - synthetic C-MAPSS-format data (degradation, noise, regimes, faults) for tests. */
#ifndef RULSRV_SYNTH_H
#define RULSRV_SYNTH_H

#include <stddef.h>
#include <stdint.h>

struct synth_options {
	uint64_t seed;
	size_t train_units; /* engines per train file (default 40) */
	size_t test_units;  /* engines per test file (default 40) */
	double noise;       /* sensor noise multiplier (default 1) */
};

void synth_options_default(struct synth_options *o);

/*
 * Write train_FD001..4.txt, test_FD001..4.txt and RUL_FD001..4.txt into dir (which must
 * exist). FD001/FD003: one operating regime; FD002/FD004: six. FD003/FD004 add a second
 * fault mode that moves other sensors. Train engines run to failure; test engines are cut
 * short, RUL_FD00N.txt holding the cycles they had left. Same seed, same files.
 */
int synth_write(const char *dir, const struct synth_options *o, char *err, size_t err_len);

#endif
