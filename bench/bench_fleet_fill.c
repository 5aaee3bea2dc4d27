/* SPDX-License-Identifier: MIT */
/* bench_fleet_fill.c - a fleet store of N engines of K cycles each, written through the
 * fleet's own store code (plugins/predict/fleet_store_sqlite.c), for bench/fleet.sh.
 * Usage: bench_fleet_fill DATABASE ENGINES [CYCLES_PER_ENGINE] [WINDOW] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clocks.h"
#include "fleet_internal.h"
#include "splitmix64.h"

#define ENGINES_PER_TX 1000

int
main(int argc, char **argv)
{
	struct fleet_store *store = NULL;
	struct fleet_row *rows;
	struct fleet_window *wins;
	char err[512];
	size_t engines, cycles, window, kept, nr = 0, nw = 0, i, k;
	uint64_t rng = 17;
	double t0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DATABASE ENGINES [CYCLES] [WINDOW]\n", argv[0]);
		return 2;
	}
	engines = strtoull(argv[2], NULL, 10);
	cycles = argc > 3 ? strtoull(argv[3], NULL, 10) : 30;
	window = argc > 4 ? strtoull(argv[4], NULL, 10) : 30;
	if (cycles == 0 || window == 0) {
		fprintf(stderr, "CYCLES and WINDOW must be positive\n");
		return 2;
	}
	kept = cycles < window ? cycles : window;
	if (fleet_store_open(&fleet_store_sqlite, argv[1], 5000, &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rows = calloc(ENGINES_PER_TX * cycles, sizeof(*rows));
	wins = calloc(ENGINES_PER_TX, sizeof(*wins));
	for (i = 0; rows != NULL && wins != NULL && i < ENGINES_PER_TX; i++)
		if ((wins[i].slots = malloc(kept * FLEET_SLOT * sizeof(double))) == NULL)
			return 1;
	if (rows == NULL || wins == NULL)
		return 1;
	t0 = clocks_monotonic();
	/*
	 * Engine by engine (the B-tree fills in key order): a live fleet writes cycle by cycle
	 * across engines, which costs far more per row (docs/BENCHMARKS.md); this program only
	 * makes a store for the restart to load.
	 */
	for (i = 0; i < engines; i++) {
		struct fleet_window *w = &wins[nw++];

		w->unit = (int64_t)i + 1;
		w->expected = -1;
		w->len = (uint32_t)kept;
		w->cap = (uint32_t)window;
		w->reset = true;
		w->rul = 100.0;
		w->ts = 1.8e9;
		w->model = "bench";
		w->version = "1";
		for (k = 0; k < cycles; k++) {
			struct fleet_row *r = &rows[nr++];

			r->unit = w->unit;
			r->cycle = (int64_t)k + 1;
			for (size_t j = 0; j < CMAPSS_N_INPUTS; j++)
				r->inputs[j] = 500.0 + (double)(splitmix64_next(&rng) % 100000) / 100.0;
			r->rul = 100.0;
			r->ts = 1.8e9;
			r->model = "bench";
			r->version = "1";
			if (k >= cycles - kept) {
				double *slot = w->slots + (k - (cycles - kept)) * FLEET_SLOT;

				slot[0] = (double)r->cycle;
				memcpy(slot + 1, r->inputs, sizeof(r->inputs));
			}
		}
		if (nw == ENGINES_PER_TX || i == engines - 1) {
			if (fleet_store_apply(store, NULL, 0, rows, nr, wins, nw) < 0) {
				fprintf(stderr, "store failed\n");
				return 1;
			}
			nr = 0;
			nw = 0;
		}
	}
	printf("filled %zu engines x %zu cycles in %.1f s\n", engines, cycles,
	       clocks_monotonic() - t0);
	for (i = 0; i < ENGINES_PER_TX; i++)
		free(wins[i].slots);
	free(wins);
	free(rows);
	fleet_store_close(store);
	return 0;
}
