/* SPDX-License-Identifier: MIT */
/* options.h - the command line of rulsrv-replay(1), parsed into struct replay_options. */
#ifndef REPLAY_OPTIONS_H
#define REPLAY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPLAY_MAX_QUARTERS 16
#define REPLAY_DEFAULT_PREDICT "http://127.0.0.1:3000"
#define REPLAY_DEFAULT_FEEDBACK "http://127.0.0.1:3001"
#define REPLAY_DEFAULT_BUNDLE "models/fd001" /* in the source tree, where `make run` runs */
#define REPLAY_DEFAULT_QUARTERS "FD001,FD002,FD003,FD004"

struct replay_options {
	char *data_dir;     /* --data; NULL: cmapss_find_dir() */
	char *predict_url;  /* base URL without trailing '/', e.g. http://127.0.0.1:3000 */
	char *feedback_url;
	char *bundle_dir;   /* --bundle; else REPLAY_DEFAULT_BUNDLE, else REPLAY_INSTALLED_BUNDLE */
	bool bundle_given;
	char *token;        /* contents of --token FILE, whitespace trimmed; NULL when none */
	char *token_file;
	char subsets[REPLAY_MAX_QUARTERS][8]; /* "FD001".."FD004", one per quarter */
	size_t quarter_count;
	size_t units;       /* engines per quarter; 0 = every available one */
	size_t fleet;       /* engines in service at once */
	size_t concurrency; /* requests in flight at once */
	double rate;        /* requests per second; 0 = as fast as possible */
	uint64_t seed;
	size_t window;      /* cycles per request (window form only); 0 = the model's window */
	bool window_form;   /* --window-form: POST /v1/predict with each engine's window,
			     * instead of one cycle per request to POST /v1/cycles (fleet mode) */
	bool in_order;      /* every engine streams from cycle 1 (else from a random cycle) */
	double timeout;     /* seconds per request */
	size_t retries;     /* sends again of a request that got no answer, or 502/503/504 */
	double failure_delay; /* seconds from an engine's last prediction to its failure event */
	int progress;       /* 1 bar, 0 log lines, -1 decide by isatty(2) */
	bool quiet;         /* no progress output at all, only the table and errors */
	char *report_path;  /* --report FILE: the run as a self-contained HTML page */
};

/*
 * Parse argv into o (filled with defaults first). Returns 0, 1 when --help or --version was
 * printed to out (exit 0), or -EINVAL with the reason in err (usage error). Reads the token
 * file. The caller frees o with options_free, also after a failure.
 */
int options_parse(int argc, char **argv, struct replay_options *o, FILE *out, char *err,
		  size_t err_len);
void options_free(struct replay_options *o);
void options_usage(FILE *f);

/* Split "FD001,FD003" into o->subsets; -EINVAL when a name is not FD001..FD004. */
int options_parse_quarters(struct replay_options *o, const char *list, char *err,
			   size_t err_len);

#endif
