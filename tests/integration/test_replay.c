/* SPDX-License-Identifier: MIT */
/* test_replay.c - rulsrv-replay against live services: the table, the metrics it moves, errors. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/harness.h"
#include "need.h"

Suite *replay_suite(void);

/*
 * One fixture per test case: synthetic C-MAPSS data (cmapss-synth) and a small model trained
 * on its FD001 with 4 engines held out (rulsrv-train), in a temporary directory. The tests
 * skip, saying what is missing, until the daemon, the plugins and the tools are built.
 */
static char work[256];
static char skip_reason[1024];

static const char *const required_bins[] = { "rulsrv", "rulsrv-replay", "rulsrv-train",
					     "cmapss-synth", NULL };
static const char *const required_plugins[] = { "predict_forest", "drift_psi", "feedback",
						"export_prometheus", NULL };

static const char conf_template[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\";\n"
	"            settings = { bundle = \"%s/bundle\"; fleet = true;\n"
	"                         database = \"@DIR@/feedback.db\"; fleet_tick_seconds = 0.1; }; };\n"
	"  drift = { file = \"drift_psi.so\";\n"
	"            settings = { window = \"manual\"; min_observations = 50; }; };\n"
	"  feedback = { file = \"feedback.so\"; settings = { database = \"@DIR@/feedback.db\"; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; admin_token_file = \"%s/token\";\n"
	"                 plugins = [ \"model\", \"drift\", \"feedback\", \"prometheus\" ]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; plugins = [ \"feedback\", \"prometheus\" ]; };\n"
	"};\n";

static bool
file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static const char *
missing_piece(void)
{
	static char path[512];

	for (size_t i = 0; required_bins[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/bin/%s", harness_build_dir(), required_bins[i]);
		if (!file_exists(path))
			return path;
	}
	for (size_t i = 0; required_plugins[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/plugins/%s.so", harness_build_dir(),
			 required_plugins[i]);
		if (!file_exists(path))
			return path;
	}
	return NULL;
}

static void
setup_data(void)
{
	char data[300], bundle[300], token[300];
	const char *missing = missing_piece();
	FILE *f;

	skip_reason[0] = '\0';
	if (missing != NULL) {
		snprintf(skip_reason, sizeof(skip_reason), "'%s' is not built yet", missing);
		return;
	}
	snprintf(work, sizeof(work), "/tmp/rulsrv-replay-test.XXXXXX");
	if (mkdtemp(work) == NULL) {
		snprintf(skip_reason, sizeof(skip_reason), "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(data, sizeof(data), "%s/data", work);
	snprintf(bundle, sizeof(bundle), "%s/bundle", work);
	snprintf(token, sizeof(token), "%s/token", work);
	mkdir(data, 0700);
	if (harness_run_tool("cmapss-synth",
			     (const char *[]){ "--out", data, "--units", "8", "--test-units", "3",
					       "--seed", "7", NULL },
			     skip_reason, sizeof(skip_reason)) < 0)
		return;
	if (harness_train_bundle(data, bundle,
				 (const char *[]){ "--holdout", "4", "--rounds", "20", "--name",
						   "rul-replay-test", "--version", "1", NULL },
				 skip_reason, sizeof(skip_reason)) < 0)
		return;
	f = fopen(token, "w");
	if (f == NULL) {
		snprintf(skip_reason, sizeof(skip_reason), "cannot write '%s'", token);
		return;
	}
	fputs("replay-secret\n", f);
	fclose(f);
	chmod(token, 0600);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
teardown_data(void)
{
	if (work[0] != '\0' && strncmp(work, "/tmp/rulsrv-replay-test.", 24) == 0)
		nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	work[0] = '\0';
}

/* True (and the entry reported Skipped) when the test cannot run yet. */
static bool
skipping(const char *test)
{
	if (skip_reason[0] == '\0')
		return false;
	test_skip("%s: %s", test, skip_reason);
	return true;
}

static void
start_services(struct harness_server *s)
{
	char conf[sizeof(conf_template) + 600];

	snprintf(conf, sizeof(conf), conf_template, work, work);
	ck_assert_msg(harness_start_conf(s, conf) == 0, "rulsrv did not start");
}

/* Sum of every sample of a metric family, whatever its labels; 0 when it has none yet
 * (a labelled counter appears with its first increment); NAN when /metrics fails. */
static double
metric_sum(int port, const char *name)
{
	struct harness_response r;
	size_t len = strlen(name);
	double sum = 0;

	if (harness_get(port, "/metrics", &r) != 0)
		return NAN;
	for (const char *line = r.body; line != NULL && *line; line = strchr(line, '\n')) {
		const char *sp;

		if (*line == '\n')
			line++;
		if (strncmp(line, name, len) != 0 || (line[len] != '{' && line[len] != ' '))
			continue;
		sp = line[len] == '{' ? strstr(line, "} ") : line + len;
		if (sp == NULL)
			continue;
		sum += strtod(sp + (line[len] == '{' ? 2 : 1), NULL);
	}
	harness_response_free(&r);
	return sum;
}

struct table_row {
	unsigned quarter;
	char subset[8];
	unsigned long engines, requests, errors;
};

/* The rows "Qn FD00k engines requests errors ..." of the summary, and the "all" row. */
static size_t
parse_table(const char *out, struct table_row *rows, size_t max, struct table_row *all)
{
	size_t n = 0;

	memset(all, 0, sizeof(*all));
	/* stops at the terminating NUL: after an output's final newline, line + 1 is past it */
	for (const char *line = out; line != NULL && *line; line = strchr(line, '\n')) {
		struct table_row r;

		if (*line == '\n')
			line++;
		memset(&r, 0, sizeof(r));
		if (n < max && sscanf(line, "Q%u %7s %lu %lu %lu", &r.quarter, r.subset, &r.engines,
				      &r.requests, &r.errors) == 5)
			rows[n++] = r;
		else if (strncmp(line, "all ", 4) == 0)
			sscanf(line, "all %lu %lu %lu", &all->engines, &all->requests,
			       &all->errors);
	}
	return n;
}

/* The command line of rulsrv-replay with the fixture's data and bundle plus extra args, into
 * argv (40 entries); the strings live in the static buffers of this function. */
static void
replay_argv(const char *predict, const char *feedback, const char *const *extra,
	    const char **argv)
{
	static char bin[512], data[300], bundle[300];
	size_t n = 0;

	snprintf(bin, sizeof(bin), "%s/bin/rulsrv-replay", harness_build_dir());
	snprintf(data, sizeof(data), "%s/data", work);
	snprintf(bundle, sizeof(bundle), "%s/bundle", work);
	argv[n++] = bin;
	argv[n++] = "--data";
	argv[n++] = data;
	argv[n++] = "--bundle";
	argv[n++] = bundle;
	argv[n++] = "--predict";
	argv[n++] = predict;
	argv[n++] = "--feedback";
	argv[n++] = feedback;
	argv[n++] = "--no-progress";
	while (extra != NULL && *extra != NULL && n < 39)
		argv[n++] = *extra++;
	argv[n] = NULL;
}

/* Run rulsrv-replay with the fixture's data and bundle plus extra args. */
static int
replay(const char *predict, const char *feedback, const char *const *extra, char **out)
{
	const char *argv[40];
	int status = -1;

	replay_argv(predict, feedback, extra, argv);
	ck_assert_int_eq(harness_run(argv, out, &status), 0);
	return status;
}

/*
 * The table's rows ("Q1 ...", "all ...") without the req/s column, which is the only one that
 * depends on the machine: one line each, into out.
 */
static void
table_without_rate(const char *text, char *out, size_t out_len)
{
	size_t used = 0;

	out[0] = '\0';
	for (const char *line = text; line != NULL && *line; line = strchr(line, '\n')) {
		char copy[512], *tok, *save = NULL;
		size_t len;
		int col = 0;

		if (*line == '\n')
			line++;
		len = strcspn(line, "\n");
		if (len >= sizeof(copy) || !((line[0] == 'Q' && line[1] >= '1' && line[1] <= '9') ||
					     strncmp(line, "all ", 4) == 0))
			continue;
		memcpy(copy, line, len);
		copy[len] = '\0';
		for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
			/* quarter subset engines requests errors req/s ...; "all" has no subset */
			if (++col == (copy[0] == 'a' ? 5 : 6))
				continue;
			used += (size_t)snprintf(out + used, out_len - used, "%s ", tok);
			if (used >= out_len)
				return;
		}
		used += (size_t)snprintf(out + used, out_len - used, "\n");
		if (used >= out_len)
			return;
	}
}

START_TEST(test_replay_four_quarters)
{
	struct harness_server s;
	struct table_row rows[8], all;
	char predict[64], feedback[64], token[300], *out = NULL;
	double pred0, fb0, win0;
	int p, f, status;
	size_t n;
	static const char *const subsets[] = { "FD001", "FD002", "FD003", "FD004" };

	if (skipping("test_replay_four_quarters"))
		return;
	start_services(&s);
	p = harness_port(&s, "prediction");
	f = harness_port(&s, "feedback");
	snprintf(predict, sizeof(predict), "http://127.0.0.1:%d", p);
	snprintf(feedback, sizeof(feedback), "http://127.0.0.1:%d/", f);
	snprintf(token, sizeof(token), "%s/token", work);
	pred0 = metric_sum(p, "predictions_total");
	fb0 = metric_sum(f, "feedback_count_total");
	win0 = harness_scrape(p, "drift_window_index");
	ck_assert_msg(!isnan(win0), "drift_window_index is not exported");

	status = replay(predict, feedback,
			(const char *[]){ "--token", token, "--units", "3", "--concurrency", "4",
					  "--seed", "3", "--failure-delay", "0.3", NULL },
			&out);
	ck_assert_msg(status == 0, "rulsrv-replay exited %d:\n%s", status, out);

	n = parse_table(out, rows, 8, &all);
	ck_assert_msg(n == 4, "expected 4 quarters in the table, got %zu:\n%s", n, out);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(rows[i].quarter, i + 1);
		ck_assert_str_eq(rows[i].subset, subsets[i]);
		ck_assert_uint_eq(rows[i].engines, 3);
		ck_assert_msg(rows[i].requests > 0, "Q%zu made no requests", i + 1);
		ck_assert_uint_eq(rows[i].errors, 0);
	}
	ck_assert_uint_eq(all.requests,
			  rows[0].requests + rows[1].requests + rows[2].requests + rows[3].requests);
	ck_assert_msg(strstr(out, "Q1 FD001: 3 engines (the model's held-out units)") != NULL,
		      "Q1 did not replay the held-out engines:\n%s", out);

	/* Every request streamed one cycle and predicted one engine; the failure events scored
	 * them and ended every engine's life. */
	ck_assert_double_eq(metric_sum(p, "predictions_total") - pred0, (double)all.requests);
	ck_assert_double_eq(metric_sum(p, "fleet_cycles_total"), (double)all.requests);
	for (int i = 0; i < 50 && harness_scrape(p, "fleet_engines") != 0; i++)
		usleep(100000);
	ck_assert_double_eq(harness_scrape(p, "fleet_engines"), 0);
	ck_assert_msg(metric_sum(f, "feedback_count_total") - fb0 >= (double)all.requests / 2,
		      "feedback_count_total moved by %g for %lu predictions",
		      metric_sum(f, "feedback_count_total") - fb0, all.requests);
	ck_assert_double_eq(harness_scrape(p, "drift_window_index"), win0 + 4);
	ck_assert_double_eq(harness_scrape(p, "drift_window_info{label=\"Q4 FD004\"}"), 1);
	free(out);
	ck_assert_int_eq(harness_stop(&s), 0);
	harness_cleanup(&s);
}
END_TEST

/*
 * Streaming (one cycle per request to /v1/cycles, the default) and --window-form (the
 * window to /v1/predict) make the same predictions, so the same table: engines, requests,
 * errors, RMSE, NASA score and every quarter's PSI agree to the last digit printed; only
 * req/s may differ. Engines start at random cycles and wrap around, so lives begin in the
 * middle of trajectories and again at their first cycle.
 */
START_TEST(test_replay_streaming_and_window_form_agree)
{
	const char *common[] = { "--token", NULL, "--units", "3", "--concurrency", "4", "--seed",
				 "5", "--failure-delay", "0.2", NULL, NULL };
	static char streamed[4096], windowed[4096];
	struct harness_server s;
	char predict[64], feedback[64], token[300], *out = NULL;
	double cycles0, pred0;
	int p, status;

	if (skipping("test_replay_streaming_and_window_form_agree"))
		return;
	start_services(&s);
	p = harness_port(&s, "prediction");
	snprintf(predict, sizeof(predict), "http://127.0.0.1:%d", p);
	snprintf(feedback, sizeof(feedback), "http://127.0.0.1:%d", harness_port(&s, "feedback"));
	snprintf(token, sizeof(token), "%s/token", work);
	common[1] = token;

	status = replay(predict, feedback, common, &out);
	ck_assert_msg(status == 0, "rulsrv-replay exited %d:\n%s", status, out);
	ck_assert_msg(strstr(out, "one cycle per request to /v1/cycles") != NULL, "%s", out);
	table_without_rate(out, streamed, sizeof(streamed));
	free(out);
	cycles0 = metric_sum(p, "fleet_cycles_total");
	pred0 = metric_sum(p, "predictions_total");
	ck_assert_double_eq(cycles0, pred0);

	common[10] = "--window-form";
	status = replay(predict, feedback, common, &out);
	ck_assert_msg(status == 0, "rulsrv-replay --window-form exited %d:\n%s", status, out);
	ck_assert_msg(strstr(out, "windows of ") != NULL, "%s", out);
	table_without_rate(out, windowed, sizeof(windowed));
	free(out);
	/* the window form did not stream, and predicted as much */
	ck_assert_double_eq(metric_sum(p, "fleet_cycles_total"), cycles0);
	ck_assert_double_eq(metric_sum(p, "predictions_total"), 2 * pred0);

	ck_assert_msg(strchr(streamed, 'Q') != NULL && strstr(streamed, "all ") != NULL,
		      "no table:\n%s", streamed);
	ck_assert_msg(strcmp(streamed, windowed) == 0,
		      "the tables differ:\nstreamed:\n%s\nwindow form:\n%s", streamed, windowed);
	ck_assert_int_eq(harness_stop(&s), 0);
	harness_cleanup(&s);
}
END_TEST

/* --window is the window form's: refused when streaming, where the service keeps it. */
START_TEST(test_replay_window_needs_window_form)
{
	const char *argv[4];
	char bin[512], *out = NULL;
	int status = -1;

	if (skipping("test_replay_window_needs_window_form"))
		return;
	snprintf(bin, sizeof(bin), "%s/bin/rulsrv-replay", harness_build_dir());
	argv[0] = bin;
	argv[1] = "--window";
	argv[2] = "10";
	argv[3] = NULL;
	ck_assert_int_eq(harness_run(argv, &out, &status), 0);
	ck_assert_msg(status == 64, "exit %d:\n%s", status, out);
	ck_assert_msg(strstr(out, "--window needs --window-form") != NULL, "unclear:\n%s", out);
	free(out);
}
END_TEST

/* A configured admin token and none given: the drift window roll is refused, loudly. */
START_TEST(test_replay_refused_without_token)
{
	struct harness_server s;
	char predict[64], feedback[64], *out = NULL;
	double pred0;
	int status;

	if (skipping("test_replay_refused_without_token"))
		return;
	start_services(&s);
	snprintf(predict, sizeof(predict), "http://127.0.0.1:%d", harness_port(&s, "prediction"));
	snprintf(feedback, sizeof(feedback), "http://127.0.0.1:%d", harness_port(&s, "feedback"));
	pred0 = harness_scrape(harness_port(&s, "prediction"), "drift_window_index");
	status = replay(predict, feedback, (const char *[]){ "--units", "1", NULL }, &out);
	ck_assert_msg(status != 0, "a refused roll still exited 0:\n%s", out);
	ck_assert_msg(strstr(out, "cannot open drift window 'Q1 FD001'") != NULL &&
			      strstr(out, "/v1/drift/window refused: 401") != NULL &&
			      strstr(out, "--token") != NULL,
		      "unclear message:\n%s", out);
	ck_assert_msg(strstr(out, "quarter ") == NULL, "a table after nothing ran:\n%s", out);
	ck_assert_double_eq(harness_scrape(harness_port(&s, "prediction"), "drift_window_index"),
			    pred0);
	free(out);
	harness_cleanup(&s);
}
END_TEST

/* A port nothing listens on: exit 69, naming the URL and curl's reason. */
START_TEST(test_replay_unreachable)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char url[64], *out = NULL;
	int fd, status;

	if (skipping("test_replay_unreachable"))
		return;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd); /* bound, never listened: connections to it are refused */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	status = replay(url, url, NULL, &out);
	ck_assert_msg(status == 69, "exit %d:\n%s", status, out);
	ck_assert_msg(strstr(out, "cannot reach prediction service") != NULL &&
			      strstr(out, url) != NULL && strstr(out, "connect") != NULL,
		      "unclear message:\n%s", out);
	free(out);
}
END_TEST

/* A data folder without the quarter's file: exit 66, naming the file. */
START_TEST(test_replay_missing_data)
{
	const char *argv[8];
	char bin[512], empty[300], *out = NULL;
	int status = -1;

	if (skipping("test_replay_missing_data"))
		return;
	snprintf(bin, sizeof(bin), "%s/bin/rulsrv-replay", harness_build_dir());
	snprintf(empty, sizeof(empty), "%s/bundle", work); /* exists, holds no C-MAPSS file */
	argv[0] = bin;
	argv[1] = "--data";
	argv[2] = empty;
	argv[3] = "--quarters";
	argv[4] = "FD003";
	argv[5] = NULL;
	ck_assert_int_eq(harness_run(argv, &out, &status), 0);
	ck_assert_msg(status == 66, "exit %d:\n%s", status, out);
	ck_assert_msg(strstr(out, "missing data file") != NULL &&
			      strstr(out, "train_FD003.txt") != NULL,
		      "unclear message:\n%s", out);
	free(out);
}
END_TEST

/* A loopback port nothing listens on now (bound, then closed), for a listener that must come
 * back on the same port after a restart. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The "all" row's RMSE (capped truth): the 7th column. */
static double
table_rmse(const char *out)
{
	const char *line = strstr(out, "\nall ");
	unsigned long e, r, x;
	double rate, rmse;

	if (line == NULL || sscanf(line + 1, "all %lu %lu %lu %lf %lf", &e, &r, &x, &rate,
				   &rmse) != 5)
		return NAN;
	return rmse;
}

/*
 * The services die (SIGKILL) in the middle of a replay and come back on the same ports a
 * moment later, as an instance behind a load balancer does: the requests cut off are retried
 * and the replay ends with no failed request, the same requests and the same accuracy as a
 * replay that nothing interrupted.
 */
START_TEST(test_replay_retries_across_a_restart)
{
	struct harness_server s;
	char conf[sizeof(conf_template) + 800], predict[64], feedback[64], outf[300];
	char *out = NULL, *ref = NULL, *tpl, *at, token[300];
	const char *args[] = { "--token", token, "--units", "3", "--quarters", "FD001", "--concurrency", "4",
			       "--rate", "150", "--seed", "5", "--failure-delay", "0.2", NULL };
	int p = free_port(), f = free_port(), status = -1;
	struct table_row rows[2], all, ref_all;
	pid_t child;
	FILE *fp;
	long len;

	if (skipping("test_replay_retries_across_a_restart"))
		return;
	snprintf(token, sizeof(token), "%s/token", work);
	/* the template with fixed ports instead of 127.0.0.1:0 */
	snprintf(conf, sizeof(conf), conf_template, work, work);
	tpl = strdup(conf);
	at = strstr(tpl, "127.0.0.1:0");
	ck_assert_ptr_nonnull(at);
	*at = '\0';
	len = snprintf(conf, sizeof(conf), "%s127.0.0.1:%d", tpl, p);
	at += strlen("127.0.0.1:0");
	ck_assert_ptr_nonnull(strstr(at, "127.0.0.1:0"));
	*strstr(at, "127.0.0.1:0") = '\0';
	len += snprintf(conf + len, sizeof(conf) - (size_t)len, "%s127.0.0.1:%d%s", at, f,
			at + strlen(at) + strlen("127.0.0.1:0"));
	free(tpl);
	ck_assert_msg(harness_start_conf(&s, conf) == 0, "rulsrv did not start:\n%s", conf);
	snprintf(predict, sizeof(predict), "http://127.0.0.1:%d", p);
	snprintf(feedback, sizeof(feedback), "http://127.0.0.1:%d", f);

	/* the reference: nothing interrupts it */
	status = replay(predict, feedback, args, &ref);
	ck_assert_msg(status == 0, "the reference replay exited %d:\n%s", status, ref);
	ck_assert_uint_eq(parse_table(ref, rows, 2, &ref_all), 1);

	/* the same replay, the daemon killed under it and started again */
	snprintf(outf, sizeof(outf), "%s/replay-restart.out", work);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		const char *argv[40];

		replay_argv(predict, feedback, args, argv);
		if (freopen(outf, "w", stdout) == NULL || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	usleep(700 * 1000);
	ck_assert_int_eq(harness_signal(&s, SIGKILL), 0);
	ck_assert_int_eq(harness_wait(&s, 5000), 128 + SIGKILL);
	usleep(200 * 1000); /* requests meanwhile find nothing listening */
	ck_assert_msg(harness_start(&s, NULL) == 0, "rulsrv did not come back");
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	fp = fopen(outf, "r");
	ck_assert_ptr_nonnull(fp);
	out = calloc(1, 65536);
	fread(out, 1, 65535, fp);
	fclose(fp);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the replay across a restart failed (status %d):\n%s", status, out);
	ck_assert_msg(strstr(out, "requests were retried") != NULL,
		      "the restart cut off no request (was the kill too late?):\n%s", out);
	ck_assert_uint_eq(parse_table(out, rows, 2, &all), 1);
	ck_assert_uint_eq(all.errors, 0);
	ck_assert_uint_eq(all.requests, ref_all.requests);
	ck_assert_msg(fabs(table_rmse(out) - table_rmse(ref)) < 1e-9,
		      "RMSE %g across the restart, %g without:\n%s\n%s", table_rmse(out),
		      table_rmse(ref), out, ref);
	free(out);
	free(ref);
	ck_assert_int_eq(harness_stop(&s), 0);
	harness_cleanup(&s);
}
END_TEST

Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("replay");

	tcase_add_unchecked_fixture(tc, setup_data, teardown_data);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_replay_four_quarters);
	tcase_add_test(tc, test_replay_streaming_and_window_form_agree);
	tcase_add_test(tc, test_replay_window_needs_window_form);
	tcase_add_test(tc, test_replay_refused_without_token);
	tcase_add_test(tc, test_replay_unreachable);
	tcase_add_test(tc, test_replay_missing_data);
	tcase_add_test(tc, test_replay_retries_across_a_restart);
	suite_add_tcase(s, tc);
	return s;
}
