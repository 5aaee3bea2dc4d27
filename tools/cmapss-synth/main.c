/* SPDX-License-Identifier: MIT */
/* main.c - cmapss-synth: write synthetic C-MAPSS-format train/test/RUL files. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "synth.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: cmapss-synth --out DIR [--seed S] [--units N] [--test-units N] "
		   "[--noise X]\n"
		   "Writes train_FD001..4.txt, test_FD001..4.txt and RUL_FD001..4.txt into DIR.\n");
}

static int
parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 100000)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },   { "seed", required_argument, NULL, 's' },
		{ "units", required_argument, NULL, 'u' }, { "test-units", required_argument, NULL, 't' },
		{ "noise", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct synth_options o;
	const char *out = NULL;
	bool test_set = false;
	char err[512], *end;
	int c;

	synth_options_default(&o);
	while ((c = getopt_long(argc, argv, "o:s:u:t:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			errno = 0;
			o.seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "cmapss-synth: --seed: '%s' is not a number\n", optarg);
				return 2;
			}
			break;
		case 'u':
			if (parse_size(optarg, &o.train_units) < 0) {
				fprintf(stderr, "cmapss-synth: --units: expected 1..100000\n");
				return 2;
			}
			if (!test_set)
				o.test_units = o.train_units;
			break;
		case 't':
			if (parse_size(optarg, &o.test_units) < 0) {
				fprintf(stderr, "cmapss-synth: --test-units: expected 1..100000\n");
				return 2;
			}
			test_set = true;
			break;
		case 'n':
			o.noise = strtod(optarg, &end);
			if (end == optarg || *end || !(o.noise >= 0 && o.noise <= 100)) {
				fprintf(stderr, "cmapss-synth: --noise: expected 0..100\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (out == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (mkdir(out, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "cmapss-synth: cannot create '%s': %s\n", out, strerror(errno));
		return 1;
	}
	if (synth_write(out, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "cmapss-synth: %s\n", err);
		return 1;
	}
	return 0;
}
