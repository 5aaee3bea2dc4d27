/* SPDX-License-Identifier: MIT */
/* harness.h - integration tests: start the real rulsrv binary on loopback, talk HTTP to it. */
#ifndef RULSRV_TEST_HARNESS_H
#define RULSRV_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_MAX_SERVICES 4

/*
 * A running rulsrv. Its configuration is written to dir/rulsrv.conf; every listener in it
 * should use port 0; the harness learns the real ports from the daemon's log line
 * "service 'NAME' listening on ADDR:PORT" (stderr goes to dir/rulsrv.log).
 */
struct harness_server {
	pid_t pid;
	char dir[256];   /* a fresh temporary directory, removed by harness_cleanup */
	char conf[300];  /* dir/rulsrv.conf */
	char log[300];   /* dir/rulsrv.log (stderr of the daemon) */
	long log_start;  /* where the current run's lines begin in the log (restarts append) */
	size_t service_count;
	struct {
		char name[64];
		int port;
	} services[HARNESS_MAX_SERVICES];
};

struct harness_response {
	long status;
	char *body;       /* NUL-terminated, malloc'd */
	size_t body_len;
	char *headers;    /* raw response headers, NUL-terminated, malloc'd */
};

/* Source and build trees (compiled in) and helpers to name files inside them. */
const char *harness_source_dir(void);
const char *harness_build_dir(void);
/* "@SRC@", "@BUILD@", "@PLUGINS@" (build/plugins) and "@DIR@" (the server's own
 * directory) in conf_text are replaced before the file is written. */

/* Make the temporary directory and write the configuration; does not start anything. */
int harness_prepare(struct harness_server *s, const char *conf_text);
/*
 * Start build/bin/rulsrv -c dir/rulsrv.conf [extra args...] and wait (up to 15 s) until the
 * daemon logged "rulsrv VERSION ready" and every service answers GET /healthz. extra_args is NULL-terminated or NULL.
 * Returns 0, or -1 when the daemon exited or never became ready (its log is printed).
 */
int harness_start(struct harness_server *s, const char *const *extra_args);
/* Both of the above. */
int harness_start_conf(struct harness_server *s, const char *conf_text);
/* Port of a service by name; -1 when unknown. */
int harness_port(const struct harness_server *s, const char *service);
/* Send a signal; harness_wait waits for exit (up to timeout_ms) and returns its exit status
 * (0..255), 128+signal when killed, or -1 on timeout. */
int harness_signal(struct harness_server *s, int sig);
int harness_wait(struct harness_server *s, int timeout_ms);
/* SIGTERM, wait up to 10 s (then SIGKILL); returns the exit status as harness_wait. */
int harness_stop(struct harness_server *s);
/* Stop when still running and remove the directory. */
void harness_cleanup(struct harness_server *s);
/* Does the daemon's log contain needle? */
bool harness_log_contains(const struct harness_server *s, const char *needle);
/* The daemon's log on stderr, between two marker lines (before its folder goes). */
void harness_print_log(const struct harness_server *s);

/* Run a program to completion, capturing stdout+stderr (malloc'd) and the exit status. */
int harness_run(const char *const *argv, char **output, int *exit_status);
/* harness_run in folder dir (NULL: ours) and, when we are root and user is not NULL, as user
 * (-ENOENT when there is no such user). */
int harness_run_as(const char *const *argv, const char *dir, const char *user, char **output,
		   int *exit_status);

/*
 * Run build/bin/<tool> with args (NULL-terminated, at most 30) to completion. 0 when it exited
 * with status 0; else -1 and, when why is not NULL, what failed with the head of its output.
 */
int harness_run_tool(const char *tool, const char *const *args, char *why, size_t why_len);
/*
 * Data to train on: the real C-MAPSS folder (cmapss_find_dir) when present, else synthetic
 * data made now in work/synth by cmapss-synth (30 training and 10 test engines). The folder's
 * path goes to data. 0, or -1 with the reason in why.
 */
int harness_train_data(const char *work, char *data, size_t data_len, char *why, size_t why_len);
/*
 * A small bundle in out_dir: rulsrv-train --data data --subset FD001 --out out_dir --no-tune
 * --threads 1 --quiet, then extra_args (NULL-terminated or NULL; rounds, depth, name...).
 * 0, or -1 with the reason in why.
 */
int harness_train_bundle(const char *data, const char *out_dir, const char *const *extra_args,
			 char *why, size_t why_len);
/*
 * The model bundle of a suite: the committed models/fd001 when it exists, else one trained
 * now into work/base (harness_train_data, then harness_train_bundle with extra_args). The
 * bundle's folder goes to dir. 0, or -1 with the reason in why.
 */
int harness_model_bundle(const char *work, const char *const *extra_args, char *dir,
			 size_t dir_len, char *why, size_t why_len);

/*
 * One HTTP request with libcurl to 127.0.0.1:port. method "GET", "POST", ...; body may be
 * NULL. headers: NULL-terminated list of "Name: value" lines or NULL.
 * Returns 0 and fills r (free with harness_response_free), -1 on a transport error.
 */
int harness_http(int port, const char *method, const char *path, const char *content_type,
		 const char *body, size_t body_len, const char *const *headers,
		 struct harness_response *r);
int harness_get(int port, const char *path, struct harness_response *r);
int harness_post_json(int port, const char *path, const char *json, struct harness_response *r);
void harness_response_free(struct harness_response *r);

/* Value of one sample in a Prometheus text exposition: name with its labels exactly as
 * rendered, e.g. "predictions_total{model=\"rul-fd001\"}". NAN when absent. */
double harness_metric(const char *exposition, const char *series);
/* GET /metrics from port and return harness_metric of it. */
double harness_scrape(int port, const char *series);
/* harness_scrape until the series equals want, or its last value after wait_ms: a request's
 * counters land a moment after its client has read the answer. */
double harness_scrape_until(int port, const char *series, double want, int wait_ms);

/* A TCP connection to 127.0.0.1:port for raw-socket tests; with SOCK_NONBLOCK in flags it may
 * still be in progress. -1 with errno on failure. */
int harness_connect(int port, int flags);
/* The monotonic clock, in seconds. */
double harness_now(void);

#endif
