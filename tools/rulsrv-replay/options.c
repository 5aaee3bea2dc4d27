/* SPDX-License-Identifier: MIT */
/* options.c - parse the command line of rulsrv-replay(1). */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "read_file.h"

#define TOKEN_MAX 4096

enum {
	OPT_DATA = 256,
	OPT_PREDICT,
	OPT_FEEDBACK,
	OPT_QUARTERS,
	OPT_UNITS,
	OPT_FLEET,
	OPT_CONCURRENCY,
	OPT_RATE,
	OPT_SEED,
	OPT_TOKEN,
	OPT_WINDOW,
	OPT_BUNDLE,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_FAILURE_DELAY,
	OPT_IN_ORDER,
	OPT_WINDOW_FORM,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_QUIET,
	OPT_REPORT,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "data", required_argument, NULL, OPT_DATA },
	{ "predict", required_argument, NULL, OPT_PREDICT },
	{ "feedback", required_argument, NULL, OPT_FEEDBACK },
	{ "quarters", required_argument, NULL, OPT_QUARTERS },
	{ "units", required_argument, NULL, OPT_UNITS },
	{ "fleet", required_argument, NULL, OPT_FLEET },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "failure-delay", required_argument, NULL, OPT_FAILURE_DELAY },
	{ "in-order", no_argument, NULL, OPT_IN_ORDER },
	{ "window-form", no_argument, NULL, OPT_WINDOW_FORM },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void
options_usage(FILE *f)
{
	fputs("usage: rulsrv-replay [--data DIR] [--predict URL] [--feedback URL] [options]\n"
	      "\n"
	      "Replay C-MAPSS run-to-failure trajectories as four quarters of production traffic:\n"
	      "predictions cycle by cycle, a failure event per engine, a drift window per quarter.\n"
	      "Each cycle is one POST /v1/cycles (fleet mode: the service keeps every engine's\n"
	      "window); --window-form sends the window to POST /v1/predict instead.\n"
	      "\n"
	      "  --data DIR         C-MAPSS folder (default: $CMAPSS_DIR, data/cmapss,\n"
	      "                     ../shared/data/cmapss)\n"
	      "  --predict URL      prediction service (default " REPLAY_DEFAULT_PREDICT ")\n"
	      "  --feedback URL     feedback service (default " REPLAY_DEFAULT_FEEDBACK ")\n"
	      "  --bundle DIR       bundle of the served model, for its held-out engines\n"
	      "                     (default " REPLAY_DEFAULT_BUNDLE ", else the installed one,\n"
	      "                     " REPLAY_INSTALLED_BUNDLE ")\n"
	      "  --quarters LIST    one subset per quarter (default " REPLAY_DEFAULT_QUARTERS ")\n"
	      "  --units N          engines per quarter, sampled by --seed (default: all)\n"
	      "  --fleet N          engines in service at once (default 100)\n"
	      "  --concurrency N    requests in flight at once (default 8)\n"
	      "  --rate R           requests per second, 0 = as fast as possible (default 0)\n"
	      "  --seed S           order of the engines and where their streams start (default 1)\n"
	      "  --in-order         every engine streams from its first cycle; by default each\n"
	      "                     starts at a random cycle and wraps around to its first ones\n"
	      "                     at the end, so the fleet is at every life stage at once; a\n"
	      "                     life starts empty where its stream starts and at the wrap\n"
	      "                     (DELETE /v1/engines/UNIT when streaming)\n"
	      "  --window-form      each request is the engine's last cycles (the model's\n"
	      "                     window) to POST /v1/predict: same predictions, no fleet mode\n"
	      "  --window W         with --window-form: cycles per request (default: the\n"
	      "                     model's feature window)\n"
	      "  --token FILE       bearer token for the admin requests (POST /v1/drift/window,\n"
	      "                     DELETE /v1/engines/UNIT)\n"
	      "  --timeout SEC      per request (default 30)\n"
	      "  --retries N        times a request is sent again when no answer came or the\n"
	      "                     answer was 502, 503 or 504, after its Retry-After or a\n"
	      "                     backoff from 0.1 s (default 3; 0: never)\n"
	      "  --failure-delay SEC  from an engine's last prediction to its failure event\n"
	      "                     (default 0.5, as a fleet reports failures a little later)\n"
	      "  --report FILE      also write the run as one self-contained HTML page: the\n"
	      "                     table, PSI per feature and quarter, RMSE per quarter,\n"
	      "                     predicted against true RUL\n"
	      "  --progress | --no-progress | --quiet\n"
	      "                     progress bar (default on a terminal), log lines, or nothing\n"
	      "  --help, --version\n"
	      "\n"
	      "Engine ids sent to the services are QUARTER*1000 + the unit number in the file.\n"
	      "Exit status: 0 all requests succeeded, 1 some failed, 64 usage, 65 a malformed\n"
	      "data file, 66 missing input, 69 a service is unreachable, 73 the report cannot\n"
	      "be written.\n",
	      f);
}

static int
opt_error(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format the reason into err; -EINVAL, the usage error. */
static int
opt_error(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
parse_size(const char *name, const char *arg, size_t min, size_t max, size_t *out, char *err,
	   size_t err_len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < min || v > max)
		return opt_error(err, err_len, "invalid --%s '%s': expected an integer from %zu to %zu",
			    name, arg, min, max);
	*out = (size_t)v;
	return 0;
}

static int
parse_double(const char *name, const char *arg, double max, double *out, char *err,
	     size_t err_len)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= 0) || v > max)
		return opt_error(err, err_len, "invalid --%s '%s': expected a number from 0 to %g", name,
			    arg, max);
	*out = v;
	return 0;
}

/* A base URL: http(s)://host[:port][/prefix], stored without trailing slashes. */
static int
set_url(const char *name, const char *arg, char **out, char *err, size_t err_len)
{
	size_t len = strlen(arg);

	if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)
		return opt_error(err, err_len, "invalid --%s '%s': expected http://HOST:PORT", name,
			    arg);
	while (len > 0 && arg[len - 1] == '/')
		len--;
	free(*out);
	*out = strndup(arg, len);
	return *out ? 0 : -ENOMEM;
}

static int
set_string(char **out, const char *arg)
{
	free(*out);
	*out = strdup(arg);
	return *out ? 0 : -ENOMEM;
}

int
options_parse_quarters(struct replay_options *o, const char *list, char *err, size_t err_len)
{
	const char *p = list;
	size_t n = 0, len;

	for (;;) {
		len = strcspn(p, ",");
		if (len != 5 || strncasecmp(p, "FD00", 4) != 0 || p[4] < '1' || p[4] > '4')
			return opt_error(err, err_len,
				    "invalid --quarters '%s': expected subsets FD001..FD004 "
				    "separated by commas",
				    list);
		if (n == REPLAY_MAX_QUARTERS)
			return opt_error(err, err_len, "invalid --quarters '%s': at most %d quarters",
				    list, REPLAY_MAX_QUARTERS);
		snprintf(o->subsets[n], sizeof(o->subsets[n]), "FD00%c", p[4]);
		n++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	o->quarter_count = n;
	return 0;
}

/* The token is the file's content without surrounding whitespace, as curl -H would send it. */
static int
read_token(struct replay_options *o, char *err, size_t err_len)
{
	char *buf, *start, *end;
	int r;

	r = read_file(o->token_file, TOKEN_MAX, &buf, NULL);
	if (r == -EFBIG)
		return opt_error(err, err_len, "token file '%s' is larger than %d bytes", o->token_file,
			    TOKEN_MAX);
	if (r < 0)
		return opt_error(err, err_len, "cannot read token file '%s': %s", o->token_file,
			    strerror(-r));
	start = buf;
	while (*start && isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (*start == '\0' || strpbrk(start, "\r\n") != NULL)
		r = opt_error(err, err_len, "token file '%s' must hold one non-empty line",
			      o->token_file);
	else
		r = set_string(&o->token, start);
	free(buf);
	return r;
}

static void
set_defaults(struct replay_options *o)
{
	memset(o, 0, sizeof(*o));
	o->fleet = 100;
	o->concurrency = 8;
	o->seed = 1;
	o->timeout = 30;
	o->retries = 3;
	o->failure_delay = 0.5;
	o->progress = -1;
}

static int
apply_option(struct replay_options *o, int c, const char *arg, char *err, size_t err_len)
{
	size_t seed;

	switch (c) {
	case OPT_DATA:
		return set_string(&o->data_dir, arg);
	case OPT_PREDICT:
		return set_url("predict", arg, &o->predict_url, err, err_len);
	case OPT_FEEDBACK:
		return set_url("feedback", arg, &o->feedback_url, err, err_len);
	case OPT_BUNDLE:
		o->bundle_given = true;
		return set_string(&o->bundle_dir, arg);
	case OPT_QUARTERS:
		return options_parse_quarters(o, arg, err, err_len);
	case OPT_UNITS:
		return parse_size("units", arg, 0, 100000, &o->units, err, err_len);
	case OPT_FLEET:
		return parse_size("fleet", arg, 1, 100000, &o->fleet, err, err_len);
	case OPT_CONCURRENCY:
		return parse_size("concurrency", arg, 1, 1024, &o->concurrency, err, err_len);
	case OPT_RATE:
		return parse_double("rate", arg, 1e7, &o->rate, err, err_len);
	case OPT_SEED:
		if (parse_size("seed", arg, 0, SIZE_MAX, &seed, err, err_len) < 0)
			return -EINVAL;
		o->seed = seed;
		return 0;
	case OPT_TOKEN:
		return set_string(&o->token_file, arg);
	case OPT_WINDOW:
		return parse_size("window", arg, 1, 10000, &o->window, err, err_len);
	case OPT_TIMEOUT:
		if (parse_double("timeout", arg, 86400, &o->timeout, err, err_len) < 0)
			return -EINVAL;
		return o->timeout > 0 ? 0 : opt_error(err, err_len, "invalid --timeout '%s'", arg);
	case OPT_RETRIES:
		return parse_size("retries", arg, 0, 100, &o->retries, err, err_len);
	case OPT_FAILURE_DELAY:
		return parse_double("failure-delay", arg, 3600, &o->failure_delay, err, err_len);
	case OPT_IN_ORDER:
		o->in_order = true;
		return 0;
	case OPT_WINDOW_FORM:
		o->window_form = true;
		return 0;
	case OPT_PROGRESS:
		o->progress = 1;
		return 0;
	case OPT_NO_PROGRESS:
		o->progress = 0;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_REPORT:
		if (arg[0] == 0)
			return opt_error(err, err_len, "--report needs a file name");
		return set_string(&o->report_path, arg);
	default:
		return opt_error(err, err_len, "unknown option (see --help)");
	}
}

int
options_parse(int argc, char **argv, struct replay_options *o, FILE *out, char *err,
	      size_t err_len)
{
	int c, r;

	set_defaults(o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			options_usage(out);
			return 1;
		}
		if (c == OPT_VERSION) {
			fprintf(out, "rulsrv-replay %s\n", REPLAY_VERSION);
			return 1;
		}
		if (c == '?' || c == ':')
			return opt_error(err, err_len, "unknown option or missing argument '%s'",
				    argv[optind - 1]);
		r = apply_option(o, c, optarg, err, err_len);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return opt_error(err, err_len, "unexpected argument '%s'", argv[optind]);
	if (o->window != 0 && !o->window_form)
		return opt_error(err, err_len, "--window needs --window-form: when streaming, the "
				 "service keeps each engine's window (its fleet_window)");
	if (o->quarter_count == 0 &&
	    options_parse_quarters(o, REPLAY_DEFAULT_QUARTERS, err, err_len) < 0)
		return -EINVAL;
	if (o->predict_url == NULL &&
	    set_url("predict", REPLAY_DEFAULT_PREDICT, &o->predict_url, err, err_len) < 0)
		return -ENOMEM;
	if (o->feedback_url == NULL &&
	    set_url("feedback", REPLAY_DEFAULT_FEEDBACK, &o->feedback_url, err, err_len) < 0)
		return -ENOMEM;
	if (o->bundle_dir == NULL &&
	    set_string(&o->bundle_dir, access(REPLAY_DEFAULT_BUNDLE "/bundle.json", F_OK) == 0 ||
						access(REPLAY_INSTALLED_BUNDLE "/bundle.json", F_OK) != 0
					       ? REPLAY_DEFAULT_BUNDLE
					       : REPLAY_INSTALLED_BUNDLE) < 0)
		return -ENOMEM;
	if (o->token_file != NULL)
		return read_token(o, err, err_len);
	return 0;
}

void
options_free(struct replay_options *o)
{
	if (o == NULL)
		return;
	free(o->data_dir);
	free(o->predict_url);
	free(o->feedback_url);
	free(o->bundle_dir);
	free(o->token);
	free(o->token_file);
	free(o->report_path);
	memset(o, 0, sizeof(*o));
}
