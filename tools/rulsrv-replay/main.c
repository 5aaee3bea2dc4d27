/* SPDX-License-Identifier: MIT */
/* main.c - rulsrv-replay(1): four quarters of simulated production against live services. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "bundle.h"
#include "control.h"
#include "feature_pipeline.h"
#include "options.h"
#include "progress.h"
#include "quarter.h"
#include "run.h"
#include "report.h"
#include "summary.h"

#define DEFAULT_WINDOW 30
#define DEFAULT_CAP 125.0

struct replay {
	struct replay_options opt;
	char data_dir[4096];
	struct bundle *bundle;
	size_t window;
	double cap;
	struct quarter quarters[REPLAY_MAX_QUARTERS];
	struct quarter_stats stats[REPLAY_MAX_QUARTERS];
	size_t quarters_run;
	struct model_info model; /* GET /v1/models, for the report */
	struct progress progress;
	struct run run;
};

static volatile sig_atomic_t stop_requested;

/* The first Ctrl-C finishes the requests in flight and prints the table; a second one ends
 * the program at once. */
static void
on_signal(int sig)
{
	if (stop_requested) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_requested = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
error(const char *fmt, ...)
{
	va_list ap;

	fputs("rulsrv-replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The bundle names the model's held-out engines, its feature window and its RUL cap. */
static int
load_bundle(struct replay *rp)
{
	const struct replay_options *o = &rp->opt;
	char err[1024];
	size_t w = 0;

	if (bundle_load(o->bundle_dir, &rp->bundle, err, sizeof(err)) < 0) {
		error("cannot load model bundle '%s': %s", o->bundle_dir, err);
		if (!o->bundle_given)
			error("give --bundle DIR: the bundle the prediction service serves");
		return EX_NOINPUT;
	}
	if (rp->bundle->features != NULL)
		w = feature_spec_window(rp->bundle->features);
	rp->window = o->window ? o->window : w ? w : DEFAULT_WINDOW;
	rp->cap = rp->bundle->rul_cap > 0 ? rp->bundle->rul_cap : DEFAULT_CAP;
	return 0;
}

static bool
trained_on(const struct bundle *b, const char *subset)
{
	for (size_t i = 0; i < b->subset_count; i++)
		if (strcasecmp(b->subsets[i], subset) == 0)
			return true;
	return false;
}

/* Every data file must exist before anything is sent or loaded: one clear message. */
static int
find_data(struct replay *rp)
{
	const struct replay_options *o = &rp->opt;
	char err[1024], path[4096];

	if (o->data_dir != NULL)
		snprintf(rp->data_dir, sizeof(rp->data_dir), "%s", o->data_dir);
	else if (cmapss_find_dir(rp->data_dir, sizeof(rp->data_dir)) < 0) {
		error("no C-MAPSS data found in $CMAPSS_DIR, data/cmapss or ../shared/data/cmapss: "
		      "give --data DIR");
		return EX_NOINPUT;
	}
	for (size_t i = 0; i < o->quarter_count; i++) {
		if (quarter_source(rp->data_dir, o->subsets[i], path, sizeof(path), err,
				   sizeof(err)) < 0) {
			error("%s", err);
			return EX_NOINPUT;
		}
	}
	return 0;
}

/* Read every quarter before any traffic, so a bad file does not stop a replay half way. */
static int
load_quarters(struct replay *rp)
{
	const struct replay_options *o = &rp->opt;
	char err[1024];

	for (size_t i = 0; i < o->quarter_count; i++) {
		struct quarter *q = &rp->quarters[i];
		struct quarter_stats *s = &rp->stats[i];

		if (quarter_load(q, (unsigned)(i + 1), o->subsets[i], rp->data_dir, rp->bundle,
				 o->units, o->seed, !o->in_order, err, sizeof(err)) < 0) {
			error("%s", err);
			return EX_DATAERR;
		}
		if (!q->holdout && trained_on(rp->bundle, q->subset))
			error("warning: Q%zu %s: the model was trained on these engines", i + 1,
			      q->subset);
		s->number = q->number;
		snprintf(s->subset, sizeof(s->subset), "%s", q->subset);
		s->holdout = q->holdout;
		s->engines_total = q->engine_count;
		s->requests_total = q->cycle_count;
	}
	return 0;
}

/* Both services must answer before any traffic, so a wrong URL is one clear message. */
static int
check_services(struct replay *rp)
{
	const struct replay_options *o = &rp->opt;
	char err[2048];

	if (control_check(rp->run.client, "prediction", o->predict_url, err, sizeof(err)) < 0 ||
	    control_check(rp->run.client, "feedback", o->feedback_url, err, sizeof(err)) < 0 ||
	    (!o->window_form && control_fleet(rp->run.client, o->predict_url, err,
					      sizeof(err)) < 0)) {
		error("%s", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* The bundle should be the served model's: its held-out engines are the unseen ones. */
static void
check_model(struct replay *rp)
{
	const struct replay_options *o = &rp->opt;
	struct model_info m;
	char err[2048];

	if (control_model(rp->run.client, o->predict_url, &m, err, sizeof(err)) < 0) {
		error("warning: %s", err);
		return;
	}
	rp->model = m;
	if (strcmp(m.name, rp->bundle->name) != 0 ||
	    (m.version[0] && strcmp(m.version, rp->bundle->version) != 0))
		error("warning: the prediction service serves %s %s, bundle '%s' is %s %s: the "
		      "held-out engines may not be the served model's",
		      m.name, m.version, rp->opt.bundle_dir, rp->bundle->name,
		      rp->bundle->version);
	if (rp->progress.mode != PROGRESS_QUIET && o->window_form)
		progress_message(&rp->progress,
				 "model %s %s (%s) at %s; data %s; windows of %zu cycles to "
				 "/v1/predict", m.name, m.version, m.backend[0] ? m.backend : "?",
				 o->predict_url, rp->data_dir, rp->window);
	else if (rp->progress.mode != PROGRESS_QUIET)
		progress_message(&rp->progress,
				 "model %s %s (%s) at %s; data %s; one cycle per request to "
				 "/v1/cycles", m.name, m.version, m.backend[0] ? m.backend : "?",
				 o->predict_url, rp->data_dir);
}

static int
roll_window(struct replay *rp, const char *label)
{
	char err[2048];

	if (control_roll(rp->run.client, rp->opt.predict_url, label, err, sizeof(err)) < 0) {
		bool denied = strstr(err, "refused: 401") || strstr(err, "refused: 403");

		progress_clear(&rp->progress);
		error("cannot open drift window '%s': %s%s", label, err,
		      denied && !rp->opt.token ? " (the service wants its admin token: --token FILE)"
						: "");
		return -1;
	}
	return 0;
}

/* Read the drift of the quarter that ends, before its window is closed. */
static void
read_drift(struct replay *rp, struct quarter_stats *s)
{
	char err[2048];

	if (control_drift(rp->run.client, rp->opt.predict_url, &s->drift, err, sizeof(err)) < 0) {
		s->errors++;
		progress_message(&rp->progress, "cannot read drift of Q%u: %s", s->number, err);
		return;
	}
	s->drift_valid = true;
}

/* The bundle's own capped test RMSE (docs/MODEL.md), the report's reference line. */
static double
bundle_test_rmse(const struct bundle *b)
{
	const cJSON *test = b != NULL ? cJSON_GetObjectItemCaseSensitive(b->evaluation, "test")
				      : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(test, 0),
							   "rmse_capped");

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int
write_report(struct replay *rp)
{
	char model[256], err[4400];
	struct report_meta m;

	snprintf(model, sizeof(model), "%s %s%s%s%s", rp->model.name, rp->model.version,
		 rp->model.backend[0] ? " (" : "", rp->model.backend,
		 rp->model.backend[0] ? ")" : "");
	m.model = rp->model.name[0] ? model : "";
	m.predict_url = rp->opt.predict_url;
	m.data_dir = rp->data_dir;
	m.seed = (unsigned long long)rp->opt.seed;
	m.cap = rp->cap;
	m.bundle_rmse = bundle_test_rmse(rp->bundle);
	if (report_write(rp->opt.report_path, rp->stats, rp->quarters_run, &m, err,
			 sizeof(err)) < 0) {
		error("%s", err);
		return EX_CANTCREAT;
	}
	if (rp->progress.mode != PROGRESS_QUIET)
		progress_message(&rp->progress, "report: %s", rp->opt.report_path);
	return 0;
}

static int
replay_quarters(struct replay *rp)
{
	for (size_t i = 0; i < rp->opt.quarter_count; i++) {
		struct quarter_stats *s = &rp->stats[i];

		if (roll_window(rp, rp->quarters[i].label) < 0) {
			s->errors++;
			return EXIT_FAILURE;
		}
		progress_quarter_begin(&rp->progress, s);
		rp->quarters_run = i + 1;
		if (run_quarter(&rp->run, &rp->quarters[i], s) < 0) {
			error("out of memory");
			return EXIT_FAILURE;
		}
		read_drift(rp, s);
		progress_quarter_end(&rp->progress, s);
		if (rp->run.aborted) {
			error("%s", rp->run.abort_reason);
			return stop_requested ? 128 + SIGINT : EXIT_FAILURE;
		}
	}
	return 0;
}

static enum progress_mode
progress_mode(const struct replay_options *o)
{
	if (o->quiet)
		return PROGRESS_QUIET;
	if (o->progress >= 0)
		return o->progress ? PROGRESS_BAR : PROGRESS_LOG;
	return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LOG;
}

static void
replay_free(struct replay *rp)
{
	run_free(&rp->run);
	for (size_t i = 0; i < REPLAY_MAX_QUARTERS; i++)
		quarter_free(&rp->quarters[i]);
	bundle_free(rp->bundle);
	options_free(&rp->opt);
}

int
main(int argc, char **argv)
{
	static struct replay rp;
	char err[1024];
	int status, r;

	r = options_parse(argc, argv, &rp.opt, stdout, err, sizeof(err));
	if (r != 0) {
		if (r < 0)
			error("%s", err);
		options_free(&rp.opt);
		return r > 0 ? 0 : EX_USAGE;
	}
	install_signals();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		error("cannot initialise libcurl");
		options_free(&rp.opt);
		return EX_SOFTWARE;
	}
	progress_init(&rp.progress, progress_mode(&rp.opt), stderr);
	status = find_data(&rp);
	if (status == 0 && run_init(&rp.run, &rp.opt, &rp.progress, DEFAULT_WINDOW, DEFAULT_CAP,
				    &stop_requested) < 0) {
		error("cannot set up libcurl");
		status = EX_SOFTWARE;
	}
	if (status == 0)
		status = check_services(&rp);
	if (status == 0)
		status = load_bundle(&rp);
	if (status == 0)
		status = load_quarters(&rp);
	if (status == 0) {
		rp.run.window = rp.window;
		rp.run.cap = rp.cap;
		check_model(&rp);
		status = replay_quarters(&rp);
		progress_clear(&rp.progress);
		if (rp.quarters_run > 0)
			summary_print(stdout, rp.stats, rp.quarters_run, rp.cap);
		fflush(stdout);
		/* On stderr: the table stays the same whether or not an instance had to be
		 * retried around. */
		if (client_retries(rp.run.client) > 0)
			fprintf(stderr, "rulsrv-replay: %zu requests were retried (--retries)\n",
				client_retries(rp.run.client));
		if (rp.quarters_run > 0 && rp.opt.report_path != NULL) {
			r = write_report(&rp);
			if (status == 0)
				status = r;
		}
		for (size_t i = 0; status == 0 && i < rp.quarters_run; i++)
			if (rp.stats[i].errors > 0)
				status = EXIT_FAILURE;
	}
	replay_free(&rp);
	curl_global_cleanup();
	return status;
}
