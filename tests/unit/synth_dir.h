/* SPDX-License-Identifier: MIT */
/* synth_dir.h - a private /tmp folder holding cmapss-synth data, for unit test fixtures.
 * Included by one test file each (all static); not a suite itself. */
#ifndef RULSRV_TEST_SYNTH_DIR_H
#define RULSRV_TEST_SYNTH_DIR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "synth.h"

#define SYNTH_DIR_LEN 64

/*
 * Make /tmp/rulsrv-<name>-XXXXXX into dir and write the synthetic C-MAPSS files there:
 * seed, units train and as many test engines per subset. Fails the test when it cannot.
 */
static void __attribute__((unused))
synth_dir_new(char dir[SYNTH_DIR_LEN], const char *name, uint64_t seed, size_t units)
{
	struct synth_options o;
	char err[256];

	snprintf(dir, SYNTH_DIR_LEN, "/tmp/rulsrv-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	synth_options_default(&o);
	o.seed = seed;
	o.train_units = units;
	o.test_units = units;
	ck_assert_msg(synth_write(dir, &o, err, sizeof(err)) == 0, "%s", err);
}

/* Remove dir and everything in it. */
static void __attribute__((unused))
synth_dir_remove(const char *dir)
{
	char cmd[SYNTH_DIR_LEN + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

#endif
