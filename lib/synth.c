/* SPDX-License-Identifier: MIT */
/* synth.c - synthetic C-MAPSS-format data: exponential wear, noise, regimes, two fault modes. */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "splitmix64.h"

#define SYNTH_SENSORS 21

struct rng {
	uint64_t s[4];
};

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t
rng_next(struct rng *r)
{
	uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl(r->s[3], 45);
	return res;
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64_next(&seed);
}

static double
uniform(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double
gauss(struct rng *r)
{
	double u = uniform(r), v = uniform(r);

	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* One sensor: nominal value, noise, printed decimals, shift at failure for each fault mode. */
struct sensor_model {
	double base, sd;
	int decimals;
	double fault1, fault2;
};

static const struct sensor_model sensors[SYNTH_SENSORS] = {
	{ 518.67, 0, 2, 0, 0 },          /* s1: constant */
	{ 642.50, 0.40, 2, 1.5, 1.5 },   /* s2 */
	{ 1590.0, 5.0, 2, 25, 20 },      /* s3 */
	{ 1408.0, 6.0, 2, 35, 30 },      /* s4 */
	{ 14.62, 0, 2, 0, 0 },           /* s5: constant */
	{ 21.61, 0.004, 2, 0, 0 },       /* s6: two printed values */
	{ 553.40, 0.70, 2, -3.5, 3.0 },  /* s7: the fan fault moves it the other way */
	{ 2388.06, 0.05, 2, 0.25, 0.1 }, /* s8 */
	{ 9065.0, 15.0, 2, 50, -30 },    /* s9 */
	{ 1.30, 0, 2, 0, 0 },            /* s10: constant */
	{ 47.47, 0.20, 2, 1.1, 1.0 },    /* s11 */
	{ 521.70, 0.55, 2, -3.0, 2.5 },  /* s12 */
	{ 2388.06, 0.05, 2, 0.25, 0.1 }, /* s13 */
	{ 8143.0, 12.0, 2, 40, -30 },    /* s14 */
	{ 8.42, 0.03, 4, 0.15, 0.12 },   /* s15 */
	{ 0.03, 0, 2, 0, 0 },            /* s16: constant */
	{ 393.0, 1.2, 0, 5, 4 },         /* s17: integer */
	{ 2388.0, 0, 0, 0, 0 },          /* s18: constant */
	{ 100.0, 0, 2, 0, 0 },           /* s19: constant */
	{ 38.83, 0.15, 2, -0.8, -0.8 },  /* s20 */
	{ 23.30, 0.09, 4, -0.45, -0.45 }, /* s21 */
};

/* The six operating conditions of C-MAPSS (altitude kft, Mach, throttle resolver angle). */
static const double conditions[6][3] = {
	{ 0, 0, 100 }, { 10, 0.25, 100 }, { 20, 0.70, 100 },
	{ 25, 0.62, 60 }, { 35, 0.84, 100 }, { 42, 0.84, 100 },
};

/* How a regime scales a sensor's level: a fixed, sensor-dependent function of the settings. */
static double
regime_factor(int cond, int k)
{
	const double *c = conditions[cond];
	double sens = 0.5 + (double)((k * 7) % 11) / 10.0;

	return 1 + sens * (-0.006 * c[0] + 0.1 * c[1] + 0.002 * (c[2] - 100));
}

struct engine {
	size_t life;
	double b, start_wear;
	int fault;
	double offset[SYNTH_SENSORS];
};

static void
engine_new(struct rng *r, bool two_faults, double noise, struct engine *e)
{
	int k;

	e->life = 130 + (size_t)(uniform(r) * 200);
	e->b = 3 + 3 * uniform(r);
	e->start_wear = 0.05 * uniform(r);
	e->fault = two_faults && uniform(r) < 0.5 ? 2 : 1;
	for (k = 0; k < SYNTH_SENSORS; k++)
		e->offset[k] = 0.3 * noise * sensors[k].sd * gauss(r);
}

static void
write_row(FILE *f, struct rng *r, const struct engine *e, size_t unit, size_t cycle, int cond,
	  double noise)
{
	double t = (double)cycle / (double)e->life;
	double w = e->start_wear + (1 - e->start_wear) * (exp(e->b * t) - 1) / (exp(e->b) - 1);
	int k;

	fprintf(f, "%zu %zu %.4f %.4f %.1f", unit, cycle, conditions[cond][0] + 0.002 * gauss(r),
		conditions[cond][1] + 0.0003 * gauss(r), conditions[cond][2]);
	for (k = 0; k < SYNTH_SENSORS; k++) {
		const struct sensor_model *m = &sensors[k];
		double shift = e->fault == 2 ? m->fault2 : m->fault1;
		double fac = regime_factor(cond, k);
		double v = fac * (m->base + e->offset[k] + w * shift) + noise * m->sd * gauss(r);

		if (m->sd == 0)
			v = fac * m->base;
		fprintf(f, " %.*f", m->decimals, v);
	}
	fputc('\n', f);
}

static int
write_subset(const char *dir, int subset, const struct synth_options *o, char *err,
	     size_t err_len)
{
	bool regimes = subset == 2 || subset == 4, two_faults = subset >= 3;
	char path[3][4096];
	FILE *f[3] = { NULL, NULL, NULL };
	struct rng r;
	struct engine e;
	size_t u, c;
	int i, ret = 0;

	rng_seed(&r, o->seed * 4 + (uint64_t)subset);
	snprintf(path[0], sizeof(path[0]), "%s/train_FD00%d.txt", dir, subset);
	snprintf(path[1], sizeof(path[1]), "%s/test_FD00%d.txt", dir, subset);
	snprintf(path[2], sizeof(path[2]), "%s/RUL_FD00%d.txt", dir, subset);
	for (i = 0; i < 3; i++) {
		f[i] = fopen(path[i], "w");
		if (f[i] == NULL) {
			ret = -errno;
			snprintf(err, err_len, "cannot create '%s': %s", path[i], strerror(errno));
			goto out;
		}
	}
	for (u = 1; u <= o->train_units; u++) {
		engine_new(&r, two_faults, o->noise, &e);
		for (c = 1; c <= e.life; c++)
			write_row(f[0], &r, &e, u, c, regimes ? (int)(uniform(&r) * 6) : 0, o->noise);
	}
	for (u = 1; u <= o->test_units; u++) {
		size_t max_rul, rul;

		engine_new(&r, two_faults, o->noise, &e);
		max_rul = e.life - 31 < 145 ? e.life - 31 : 145;
		rul = 5 + (size_t)(uniform(&r) * (double)(max_rul - 5));
		for (c = 1; c <= e.life - rul; c++)
			write_row(f[1], &r, &e, u, c, regimes ? (int)(uniform(&r) * 6) : 0, o->noise);
		fprintf(f[2], "%zu\n", rul);
	}
out:
	for (i = 0; i < 3; i++) {
		if (f[i] != NULL && fclose(f[i]) != 0 && ret == 0) {
			ret = -errno;
			snprintf(err, err_len, "cannot write '%s': %s", path[i], strerror(errno));
		}
	}
	return ret;
}

void
synth_options_default(struct synth_options *o)
{
	o->seed = 1;
	o->train_units = 40;
	o->test_units = 40;
	o->noise = 1;
}

int
synth_write(const char *dir, const struct synth_options *o, char *err, size_t err_len)
{
	int s, r;

	if (o->train_units < 1 || o->test_units < 1 || !(o->noise >= 0)) {
		snprintf(err, err_len, "units must be >= 1 and noise >= 0");
		return -EINVAL;
	}
	for (s = 1; s <= 4; s++) {
		r = write_subset(dir, s, o, err, err_len);
		if (r < 0)
			return r;
	}
	return 0;
}
