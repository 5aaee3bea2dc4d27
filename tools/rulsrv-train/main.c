/* SPDX-License-Identifier: MIT */
/* main.c - rulsrv-train: fit the C-MAPSS feature pipeline and XGBoost, write a model bundle. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "clocks.h"
#include "train.h"

struct options {
	const char *data, *out, *name, *version;
	char subsets[TRAIN_MAX_SUBSETS][8];
	size_t subset_count, holdout;
	uint64_t seed;
	int threads, rounds, folds;
	bool tune, quiet, verbose, equal_engines;
	double cap, val_max_rul;
	struct feature_options feat;
	struct boost_params fixed;
	struct boost_params grid[16];
	size_t grid_n;
};

/*
 * The tuning grid: small enough that 3 folds of each fit the 60 s budget on 2 cores for the
 * largest single subset (FD004), wide enough to matter (depth, learning rate, leaf weight).
 */
static const struct boost_params default_grid[] = {
	{ 4, 0.1, 10, 0.8, 0.5, 1, 0 },
	{ 6, 0.1, 10, 0.8, 0.5, 1, 0 },
	{ 5, 0.1, 30, 0.8, 0.3, 5, 0 },
	{ 8, 0.1, 50, 0.7, 0.3, 5, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: rulsrv-train --subset FD001[,FD002...] --out DIR [options]\n"
		"  --data DIR        C-MAPSS folder (default: $CMAPSS_DIR, data/cmapss, "
		"../shared/data/cmapss)\n"
		"  --holdout N       hold N training units of the first subset out entirely\n"
		"  --seed S          seed of holdout, folds and XGBoost (default 1)\n"
		"  --threads T       XGBoost threads (default 2)\n"
		"  --rounds R        most boosting rounds (tuning) or the rounds (--no-tune)\n"
		"  --no-tune         skip validation; fixed parameters (--max-depth, --eta)\n"
		"  --max-depth D --eta E --min-child-weight W   parameters for --no-tune\n"
		"  --folds K         folds over training engines for tuning (default 3)\n"
		"  --grid D:W:S:C:L[:E][;...]  tuning grid (max_depth, min_child_weight, subsample,\n"
		"                    colsample_bytree, lambda, eta 0.1), default: 4 configurations\n"
		"  --window W        feature window in cycles (default 30, at most 64)\n"
		"  --cap C           RUL cap of the labels (default 125)\n"
		"  --name NAME --version V   bundle name and version\n"
		"  --weight-engines  weight rows so that every engine counts the same\n"
		"  --quiet           no progress\n");
}

static int
parse_subsets(const char *arg, struct options *o)
{
	char buf[64], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	o->subset_count = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		if (strlen(tok) != 5 || strncmp(tok, "FD00", 4) != 0 || tok[4] < '1' || tok[4] > '4')
			return -EINVAL;
		for (i = 0; i < o->subset_count; i++)
			if (strcmp(o->subsets[i], tok) == 0)
				return -EINVAL;
		if (o->subset_count == TRAIN_MAX_SUBSETS)
			return -EINVAL;
		snprintf(o->subsets[o->subset_count++], 8, "%s", tok);
	}
	return o->subset_count ? 0 : -EINVAL;
}

/* "4:10:0.8:0.5:1;6:10:0.8:0.5:1[:ETA]": the grid points to validate (eta 0.1 by default). */
static int
parse_grid(const char *arg, struct options *o)
{
	const char *p = arg;

	o->grid_n = 0;
	while (*p) {
		struct boost_params g = { 0, 0.1, 0, 0, 0, 0, 0 };
		int used = 0;

		if (o->grid_n == sizeof(o->grid) / sizeof(o->grid[0]) ||
		    sscanf(p, "%d:%lf:%lf:%lf:%lf%n", &g.max_depth, &g.min_child_weight,
			   &g.subsample, &g.colsample, &g.lambda, &used) != 5)
			return -EINVAL;
		p += used;
		used = 0;
		if (*p == ':' && (sscanf(p, ":%lf%n", &g.eta, &used) != 1 || !(g.eta > 0 && g.eta <= 1)))
			return -EINVAL;
		if (g.max_depth < 1 || g.max_depth > 20 || g.min_child_weight < 0 ||
		    !(g.subsample > 0 && g.subsample <= 1) || !(g.colsample > 0 && g.colsample <= 1) ||
		    g.lambda < 0)
			return -EINVAL;
		o->grid[o->grid_n++] = g;
		p += used;
		if (*p == ';')
			p++;
		else if (*p != '\0')
			return -EINVAL;
	}
	return o->grid_n ? 0 : -EINVAL;
}

static int
parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !(*out >= lo && *out <= hi)) {
		fprintf(stderr, "rulsrv-train: %s: '%s' is not a number in %g..%g\n", opt, s, lo, hi);
		return -EINVAL;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },   { "subset", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },    { "holdout", required_argument, NULL, 'H' },
		{ "seed", required_argument, NULL, 'S' },   { "threads", required_argument, NULL, 't' },
		{ "rounds", required_argument, NULL, 'r' }, { "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' }, { "no-tune", no_argument, NULL, 'N' },
		{ "folds", required_argument, NULL, 'k' },  { "window", required_argument, NULL, 'w' },
		{ "cap", required_argument, NULL, 'c' },    { "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'V' },      { "max-depth", required_argument, NULL, 'D' },
		{ "eta", required_argument, NULL, 'e' },    { "grid", required_argument, NULL, 'g' },
		{ "weight-engines", no_argument, NULL, 'W' },
		{ "min-child-weight", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	double v;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1 && r == 0) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'o': o->out = optarg; break;
		case 'n': o->name = optarg; break;
		case 'v': o->version = optarg; break;
		case 'N': o->tune = false; break;
		case 'W': o->equal_engines = true; break;
		case 'q': o->quiet = true; break;
		case 'V': o->verbose = true; break;
		case 's':
			r = parse_subsets(optarg, o);
			if (r < 0)
				fprintf(stderr, "rulsrv-train: --subset: expected FD001..FD004, "
						"comma-separated, each once\n");
			break;
		case 'H': r = parse_num("--holdout", optarg, 0, 1e6, &v); o->holdout = (size_t)v; break;
		case 'S': r = parse_num("--seed", optarg, 0, 1e15, &v); o->seed = (uint64_t)v; break;
		case 't': r = parse_num("--threads", optarg, 1, 256, &v); o->threads = (int)v; break;
		case 'r': r = parse_num("--rounds", optarg, 1, 100000, &v); o->rounds = (int)v; break;
		case 'k': r = parse_num("--folds", optarg, 2, 8, &v); o->folds = (int)v; break;
		case 'w': r = parse_num("--window", optarg, 1, 64, &v); o->feat.window = (size_t)v; break;
		case 'c': r = parse_num("--cap", optarg, 1, 1e6, &o->cap); break;
		case 'D': r = parse_num("--max-depth", optarg, 1, 20, &v); o->fixed.max_depth = (int)v; break;
		case 'e': r = parse_num("--eta", optarg, 1e-4, 1, &o->fixed.eta); break;
		case 'm': r = parse_num("--min-child-weight", optarg, 0, 1e6, &o->fixed.min_child_weight); break;
		case 'g':
			r = parse_grid(optarg, o);
			if (r < 0)
				fprintf(stderr, "rulsrv-train: --grid: expected at most 16 "
						"DEPTH:MIN_CHILD_WEIGHT:SUBSAMPLE:COLSAMPLE:LAMBDA, "
						"separated by ';'\n");
			break;
		case 'h': usage(stdout); exit(0);
		default: r = -EINVAL; usage(stderr); break;
		}
	}
	if (r == 0 && (o->subset_count == 0 || o->out == NULL || optind != argc)) {
		usage(stderr);
		r = -EINVAL;
	}
	return r;
}

static cJSON *
params_json(const struct boost_params *p)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddNumberToObject(j, "max_depth", p->max_depth);
	cJSON_AddNumberToObject(j, "eta", p->eta);
	cJSON_AddNumberToObject(j, "min_child_weight", p->min_child_weight);
	cJSON_AddNumberToObject(j, "subsample", p->subsample);
	cJSON_AddNumberToObject(j, "colsample_bytree", p->colsample);
	cJSON_AddNumberToObject(j, "lambda", p->lambda);
	cJSON_AddNumberToObject(j, "rounds", p->rounds);
	return j;
}

static cJSON *
eval_json(const struct eval_row *rows, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "subset", rows[i].subset);
		cJSON_AddNumberToObject(o, "units", (double)rows[i].units);
		cJSON_AddNumberToObject(o, "rmse_capped", round(rows[i].rmse_capped * 1e4) / 1e4);
		cJSON_AddNumberToObject(o, "rmse_uncapped", round(rows[i].rmse_uncapped * 1e4) / 1e4);
		cJSON_AddNumberToObject(o, "nasa_score", round(rows[i].nasa * 100) / 100);
		cJSON_AddNumberToObject(o, "nasa_score_uncapped",
					round(rows[i].nasa_uncapped * 100) / 100);
		cJSON_AddNumberToObject(o, "mae_capped", round(rows[i].mae_capped * 1e4) / 1e4);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static void
print_table(const struct eval_row *rows, size_t n)
{
	size_t i;

	printf("%-7s %6s %14s %16s %12s\n", "subset", "units", "rmse(capped)", "rmse(uncapped)",
	       "nasa_score");
	for (i = 0; i < n; i++)
		printf("%-7s %6zu %14.2f %16.2f %12.1f\n", rows[i].subset, rows[i].units,
		       rows[i].rmse_capped, rows[i].rmse_uncapped, rows[i].nasa);
}

static int
write_bundle(const struct options *o, const struct train_set *s, struct feature_spec *spec,
	     cJSON *evaluation, char *err, size_t err_len)
{
	struct bundle b;
	char *subsets[TRAIN_MAX_SUBSETS], name[64], version[32], model[4096];
	time_t t = time(NULL);
	struct tm tm;
	size_t i;
	int r;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < s->subset_count; i++)
		subsets[i] = (char *)s->subsets[i];
	/* Default name: "rul-fd001", "rul-fd001-fd003", ... */
	snprintf(name, sizeof(name), "rul");
	for (i = 0; i < s->subset_count; i++)
		snprintf(name + strlen(name), sizeof(name) - strlen(name), "-fd%s", s->subsets[i] + 2);
	gmtime_r(&t, &tm);
	strftime(version, sizeof(version), "%Y.%m.%d-1", &tm);
	snprintf(model, sizeof(model), "%s/%s", o->out, BUNDLE_MODEL_FILE);
	b.name = (char *)(o->name ? o->name : name);
	b.version = (char *)(o->version ? o->version : version);
	b.subsets = subsets;
	b.subset_count = s->subset_count;
	b.model_path = model;
	b.rul_cap = o->cap;
	b.features = spec;
	r = drift_ref_build(&s->t, s->use, b.drift);
	if (r < 0) {
		snprintf(err, err_len, "cannot build the drift reference: %s", strerror(-r));
		goto out;
	}
	b.holdout_units = s->holdout;
	b.holdout_count = s->holdout_count;
	b.holdout_subset = s->holdout_count ? (char *)s->subsets[0] : NULL;
	b.evaluation = evaluation;
	r = bundle_save(&b, o->out, err, err_len);
out:
	for (i = 0; i < CMAPSS_N_INPUTS; i++) {
		free(b.drift[i].edges);
		free(b.drift[i].expected);
	}
	return r;
}

/*
 * libgomp reads OMP_WAIT_POLICY when it is loaded, before main. Its default spins idle
 * threads, which on a busy 2-core machine made training 7x slower in wall time: run again
 * with passive waiting unless the user chose a policy.
 */
static void
reexec_passive(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") != NULL)
		return;
	if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0)
		execv("/proc/self/exe", argv);
}

int
main(int argc, char **argv)
{
	struct options o = {
		.seed = 1, .threads = 2, .folds = 3, .tune = true, .cap = 125, .val_max_rul = 150,
		.fixed = { 5, 0.05, 10, 0.8, 0.5, 1, 0 },
	};
	struct train_set set;
	struct feature_spec *spec = NULL;
	struct matrix m = { 0 };
	struct boost_params best;
	struct boost_ctx ctx;
	struct eval_row rows[TRAIN_MAX_SUBSETS];
	char data[4096], err[1024], model[4096];
	cJSON *evaluation = NULL, *training;
	double t0 = clocks_monotonic(), cv = NAN, t_tune = 0, t_fit;
	void *booster = NULL;
	size_t i;
	int r;

	reexec_passive(argv);
	feature_options_default(&o.feat);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.data == NULL) {
		if (cmapss_find_dir(data, sizeof(data)) < 0) {
			fprintf(stderr, "rulsrv-train: no C-MAPSS data found ($CMAPSS_DIR, data/cmapss, "
					"../shared/data/cmapss); use --data DIR\n");
			return 1;
		}
		o.data = data;
	}
	if (mkdir(o.out, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "rulsrv-train: cannot create '%s': %s\n", o.out, strerror(errno));
		return 1;
	}
	r = train_set_load(&set, o.data, o.subsets, o.subset_count, o.cap, o.holdout, o.seed, err,
			   sizeof(err));
	if (r < 0)
		goto fail;
	r = feature_spec_fit(&set.t, set.use, set.label, &o.feat, &spec, err, sizeof(err));
	if (r < 0)
		goto fail;
	r = matrix_build(&m, &set, spec, o.equal_engines);
	if (r < 0) {
		snprintf(err, sizeof(err), "out of memory building the feature matrix");
		goto fail;
	}
	ctx = (struct boost_ctx){ .seed = o.seed, .threads = o.threads, .folds = o.folds,
				  .max_rounds = o.rounds ? o.rounds : 1000,
				  .tty = !o.quiet && isatty(STDERR_FILENO), .quiet = o.quiet, .verbose = o.verbose,
				  .val_max_rul = o.val_max_rul };
	if (!o.quiet)
		fprintf(stderr, "rulsrv-train: %zu rows of %zu engines (%zu held out), %zu regimes, "
				"%zu features\n",
			m.rows, set.engines - set.holdout_count, set.holdout_count,
			feature_spec_regime_count(spec), feature_spec_count(spec));
	if (o.tune) {
		double t1 = clocks_monotonic();

		if (o.grid_n == 0) {
			o.grid_n = sizeof(default_grid) / sizeof(default_grid[0]);
			memcpy(o.grid, default_grid, sizeof(default_grid));
		}
		r = boost_tune(&ctx, &m, set.engines, o.grid, o.grid_n, &best, &cv, err,
			       sizeof(err));
		if (r < 0)
			goto fail;
		t_tune = clocks_monotonic() - t1;
		/*
		 * Tuning runs at eta 0.1 to fit the time budget; the final model quarters the
		 * rate and takes four times the rounds (CV RMSE at eta 0.1 / 0.05 / 0.025: FD001
		 * 13.24 / 13.06 / 13.01, FD003 13.53 / 13.56 / 13.53), and sees 1/(k-1) more data
		 * than each fold: a quarter more rounds again.
		 */
		best.eta /= 4;
		best.rounds = (int)ceil(4 * best.rounds * (1.0 + 0.5 / (o.folds - 1)));
	} else {
		best = o.fixed;
		best.rounds = o.rounds ? o.rounds : 400;
	}
	if (!o.quiet)
		fprintf(stderr, "rulsrv-train: max_depth %d eta %g min_child_weight %g subsample %g "
				"colsample %g lambda %g rounds %d (cv rmse %.3f)\n",
			best.max_depth, best.eta, best.min_child_weight, best.subsample, best.colsample,
			best.lambda, best.rounds, cv);
	snprintf(model, sizeof(model), "%s/%s", o.out, BUNDLE_MODEL_FILE);
	ctx.tty = !o.quiet && isatty(STDERR_FILENO);
	r = boost_fit_save(&ctx, &m, &best, model, &booster, err, sizeof(err));
	if (r < 0)
		goto fail;
	t_fit = clocks_monotonic() - t0;
	for (i = 0; i < set.subset_count; i++) {
		r = evaluate_subset(o.data, set.subsets[i], spec, booster, o.cap, &rows[i], err,
				    sizeof(err));
		if (r < 0)
			goto fail;
	}
	evaluation = cJSON_CreateObject();
	cJSON_AddItemToObject(evaluation, "test", eval_json(rows, set.subset_count));
	training = cJSON_AddObjectToObject(evaluation, "training");
	cJSON_AddItemToObject(training, "params", params_json(&best));
	cJSON_AddBoolToObject(training, "tuned", o.tune);
	if (o.tune) {
		cJSON_AddNumberToObject(training, "cv_rmse", round(cv * 1e4) / 1e4);
		cJSON_AddNumberToObject(training, "folds", o.folds);
		cJSON_AddNumberToObject(training, "validation_max_rul", o.val_max_rul);
	}
	cJSON_AddNumberToObject(training, "seed", (double)o.seed);
	cJSON_AddNumberToObject(training, "threads", o.threads);
	cJSON_AddNumberToObject(training, "rows", (double)m.rows);
	cJSON_AddBoolToObject(training, "weight_engines", o.equal_engines);
	r = write_bundle(&o, &set, spec, evaluation, err, sizeof(err));
	if (r < 0)
		goto fail;
	print_table(rows, set.subset_count);
	if (!o.quiet)
		fprintf(stderr, "rulsrv-train: trained in %.1f s (tuning %.1f s); bundle in '%s'\n",
			t_fit, t_tune, o.out);
	r = 0;
	goto out;
fail:
	fprintf(stderr, "rulsrv-train: %s\n", err);
	r = -1;
out:
	cJSON_Delete(evaluation);
	boost_free(booster);
	matrix_free(&m);
	feature_spec_free(spec);
	train_set_free(&set);
	return r < 0 ? 1 : 0;
}
