/* SPDX-License-Identifier: MIT */
/* test_fleet_pg.c - fleet mode on the PostgreSQL store: streamed = window form, two daemons
 * sharing the windows, an instance killed mid-stream, the database down. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cmapss.h"
#include "harness/harness.h"
#include "harness/pg_server.h"
#include "need.h"

Suite *fleet_pg_suite(void);

/* Two daemons on one database; each serves both forms, /v1/predict being the reference. */
static const char fp_conf_fmt[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; fleet = true;\n"
	"                 store = \"postgresql\"; dsn = \"%s\"; store_timeout_ms = 5000;\n"
	"                 max_instances = 100000; }; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 16777216;\n"
	"    plugins = [\"model\"]; };\n"
	"};\n";

#define UNITS 12 /* engines streamed: enough for batches, quick */
#define FLEET_SLOT_TEST (1 + CMAPSS_N_INPUTS) /* a window slot: the cycle, the inputs */

static struct pg_server pg;
static struct harness_server srv[2];
static struct cmapss_table fd001;
static size_t first[UNITS], n_units;

static void
fp_setup(void)
{
	char dir[512], path[600], err[1024];
	size_t i;

	memset(srv, 0, sizeof(srv));
	memset(&pg, 0, sizeof(pg));
	ck_assert_int_eq(cmapss_find_dir(dir, sizeof(dir)), 0);
	cmapss_path(dir, "test_FD001.txt", path, sizeof(path));
	ck_assert_msg(cmapss_read(path, &fd001, err, sizeof(err)) == 0, "%s", err);
	for (i = 0, n_units = 0; i < fd001.rows && n_units < UNITS; i++)
		if (i == 0 || fd001.unit[i] != fd001.unit[i - 1])
			first[n_units++] = i;
	ck_assert_msg(pg_server_start(&pg, "fleet", err, sizeof(err)) == 0, "%s", err);
}

/* The server's processes stopped with SIGSTOP (a hung database), woken at teardown. */
static pid_t stopped[64];
static size_t n_stopped;

static void
wake_server(void)
{
	while (n_stopped > 0)
		kill(stopped[--n_stopped], SIGCONT);
}

static void
fp_teardown(void)
{
	int status[2] = { 0, 0 };

	wake_server();
	for (int i = 0; i < 2; i++) {
		if (srv[i].pid > 0)
			status[i] = harness_stop(&srv[i]);
		harness_cleanup(&srv[i]);
	}
	pg_server_cleanup(&pg);
	cmapss_table_free(&fd001);
	/* a clean exit: no leak or memory error (ASan's exit status) at shutdown */
	ck_assert_msg(status[0] == 0 && status[1] == 0, "rulsrv exited with %d, %d on SIGTERM",
		      status[0], status[1]);
}

static void
fp_start(int i)
{
	char conf[2048];

	snprintf(conf, sizeof(conf), fp_conf_fmt, pg.dsn);
	ck_assert_int_eq(harness_start_conf(&srv[i], conf), 0);
}

static int
port_of(int i)
{
	return harness_port(&srv[i], "prediction");
}

/* ---- bodies and answers ---------------------------------------------------------------------- */

static long
row_of(size_t e, size_t k)
{
	size_t i = first[e] + k;

	if (i >= fd001.rows || fd001.unit[i] != fd001.unit[first[e]])
		return -1;
	return (long)i;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap * 2 + (size_t)n;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	b->len += (size_t)n;
}

static void
cycle_json(struct buf *b, size_t row)
{
	const double *v = fd001.values + row * CMAPSS_N_INPUTS;
	size_t k;

	put(b, "{\"unit\":%lld,\"cycle\":%lld,\"settings\":[", (long long)fd001.unit[row],
	    (long long)fd001.cycle[row]);
	for (k = 0; k < CMAPSS_N_INPUTS; k++)
		put(b, "%s%.17g%s", k == CMAPSS_N_SETTINGS ? "\"sensors\":[" : "", v[k],
		    k == CMAPSS_N_SETTINGS - 1 ? "]," : k == CMAPSS_N_INPUTS - 1 ? "]}" : ",");
}

static void
cycle_text(struct buf *b, size_t row)
{
	put(b, "%lld %lld", (long long)fd001.unit[row], (long long)fd001.cycle[row]);
	for (size_t k = 0; k < CMAPSS_N_INPUTS; k++)
		put(b, " %.17g", fd001.values[row * CMAPSS_N_INPUTS + k]);
	put(b, "\n");
}

/* POST; the status, the answer in r (the caller frees it). */
static long
post(int port, const char *path, const char *type, const struct buf *b,
     struct harness_response *r)
{
	ck_assert_int_eq(harness_http(port, "POST", path, type, b->p, b->len, NULL, r), 0);
	return r->status;
}

/* POST that must be 200 (the answer in r, the caller frees it). */
static void
post_ok(int port, const char *path, const char *type, const struct buf *b,
	struct harness_response *r)
{
	long status = post(port, path, type, b, r);

	ck_assert_msg(status == 200, "POST %s: %ld %s", path, status, r->body);
}

/* The RULs of an answer's predictions, by unit index e (units in the order of first[]). */
static void
ruls_by_engine(const char *body, double *out)
{
	cJSON *j = cJSON_Parse(body), *p;

	ck_assert_ptr_nonnull(j);
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(j, "predictions")) {
		int64_t u = (int64_t)cJSON_GetObjectItem(p, "unit")->valuedouble;

		for (size_t e = 0; e < n_units; e++)
			if (fd001.unit[first[e]] == u)
				out[e] = cJSON_GetObjectItem(p, "rul")->valuedouble;
	}
	cJSON_Delete(j);
}

/* Cycle k of every engine that has one, as one batch; sets which engines are in it. */
static size_t
batch(struct buf *b, size_t k, bool *in)
{
	size_t e, m = 0;

	b->len = 0;
	put(b, "{\"cycles\":[");
	for (e = 0; e < n_units; e++) {
		in[e] = row_of(e, k) >= 0;
		if (!in[e])
			continue;
		if (m++ > 0)
			put(b, ",");
		cycle_json(b, (size_t)row_of(e, k));
	}
	put(b, "]}");
	return m;
}

/* The window form on daemon i: /v1/predict over rows 0..k of every engine in in[]. */
static void
window_form(int i, size_t k, const bool *in, double *out)
{
	struct buf b = { malloc(1 << 16), 0, 1 << 16 };
	struct harness_response r;

	for (size_t e = 0; e < n_units; e++)
		if (in[e])
			for (size_t j = 0; j <= k; j++)
				cycle_text(&b, (size_t)row_of(e, j));
	post_ok(port_of(i), "/v1/predict", "text/plain", &b, &r);
	ruls_by_engine(r.body, out);
	harness_response_free(&r);
	free(b.p);
}

static void
expect_window_form(int i, size_t k, const bool *in, const double *got, const char *what)
{
	double want[UNITS];

	window_form(i, k, in, want);
	for (size_t e = 0; e < n_units; e++)
		if (in[e])
			ck_assert_msg(got[e] == want[e], "%s: unit %lld cycle %zu: streamed %.9g, "
				      "window form %.9g", what, (long long)fd001.unit[first[e]],
				      k + 1, got[e], want[e]);
}

/* ---- one daemon --------------------------------------------------------------------------------- */

/*
 * Every cycle of the engines streamed to one daemon on the PostgreSQL store equals the window
 * form; after a restart (the windows loaded from the database) the stream goes on equal, and
 * an exact repeat of the last acknowledged cycle answers the same prediction.
 */
START_TEST(fleet_pg_streamed_equals_window_form)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	double got[UNITS], again[UNITS];
	bool in[UNITS];
	size_t k;

	fp_start(0);
	for (k = 0; batch(&b, k, in) > 0; k++) {
		if (k == 40) {
			ck_assert_int_eq(harness_stop(&srv[0]), 0);
			ck_assert_int_eq(harness_start(&srv[0], NULL), 0);
			ck_assert(harness_log_contains(&srv[0], "engines loaded from 'postgresql'"));
			/* the last acknowledged cycles again: the same answers */
			batch(&b, k - 1, in);
			post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
			ruls_by_engine(r.body, again);
			harness_response_free(&r);
			for (size_t e = 0; e < n_units; e++)
				if (in[e])
					ck_assert_double_eq(again[e], got[e]);
			batch(&b, k, in);
		}
		post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
		ruls_by_engine(r.body, got);
		harness_response_free(&r);
		expect_window_form(0, k, in, got, "one daemon");
	}
	ck_assert_uint_gt(k, 40);
	ck_assert_double_eq(pg_server_value(&pg, "SELECT count(*) FROM fleet_windows"),
			    (double)n_units);
	free(b.p);
}
END_TEST

/* ---- two daemons -------------------------------------------------------------------------------- */

struct killer {
	struct harness_server *s;
	useconds_t after;
};

static void *
kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->after);
	harness_signal(k->s, SIGKILL);
	return NULL;
}

/*
 * Two daemons share the database; each cycle step goes to the other daemon, so every engine's
 * cycles alternate between them: the first cycle of an engine at the second daemon loads its
 * window from the store (takeover), and afterwards each daemon's copy is one cycle behind,
 * which the compare-and-set on last_cycle catches. Every answer equals the window form. Then
 * daemon 1 alone takes the stream and is killed (SIGKILL) while requests are in flight; the
 * client sends the step it has no answer for to daemon 0, which carries every engine on: the
 * answers again equal the window form (a step daemon 1 committed without answering is the
 * exact repeat it is sent as again).
 */
START_TEST(fleet_pg_two_daemons_share_engines)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	struct killer kl = { &srv[1], 400000 };
	double got[UNITS];
	bool in[UNITS], killed = false;
	size_t k, alternate = 40, rows = 0;
	pthread_t t;
	int d;

	fp_start(0);
	fp_start(1);
	for (k = 0; batch(&b, k, in) > 0; k++) {
		d = k < alternate ? (int)((k + 1) % 2) : killed ? 0 : 1; /* 1 first: 0 takes over */
		if (k == alternate)
			pthread_create(&t, NULL, kill_later, &kl);
		if (d == 1 && k >= alternate) {
			if (harness_http(port_of(1), "POST", "/v1/cycles", "application/json", b.p,
					 b.len, NULL, &r) != 0) {
				/* cut off: this step goes to daemon 0 */
				killed = true;
				pthread_join(t, NULL);
				ck_assert_int_eq(harness_wait(&srv[1], 5000), 128 + SIGKILL);
				srv[1].pid = 0;
				k--;
				continue;
			}
			ck_assert_msg(r.status == 200, "daemon 1: %ld %s", r.status, r.body);
		} else {
			post_ok(port_of(d), "/v1/cycles", "application/json", &b, &r);
		}
		ruls_by_engine(r.body, got);
		harness_response_free(&r);
		expect_window_form(0, k, in, got, d == 0 ? "daemon 0" : "daemon 1");
	}
	ck_assert_msg(killed, "daemon 1 took the whole stream before the kill");
	/* every cycle is in the history once, whichever daemon took it */
	for (size_t e = 0; e < n_units; e++)
		for (size_t j = 0; row_of(e, j) >= 0; j++)
			rows++;
	ck_assert_double_eq(pg_server_value(&pg, "SELECT count(*) FROM fleet_cycles"),
			    (double)rows);
	free(b.p);
}
END_TEST

/*
 * A cycle that two daemons both receive (a client's retry through another instance): the
 * second is the exact repeat of the stored cycle and answers its prediction; a different
 * cycle of the same number is 409 stale_cycle at either daemon.
 */
START_TEST(fleet_pg_repeat_and_stale_across_daemons)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	double first_answer[UNITS], second[UNITS];
	bool in[UNITS];
	size_t k;

	fp_start(0);
	fp_start(1);
	for (k = 0; k < 5; k++) {
		batch(&b, k, in);
		post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
		ruls_by_engine(r.body, first_answer);
		harness_response_free(&r);
		post_ok(port_of(1), "/v1/cycles", "application/json", &b, &r);
		ruls_by_engine(r.body, second);
		harness_response_free(&r);
		for (size_t e = 0; e < n_units; e++)
			ck_assert_double_eq(first_answer[e], second[e]);
	}
	/* cycle 5 of the first engine again, one sensor changed: stale at both */
	b.len = 0;
	cycle_json(&b, (size_t)row_of(0, 4));
	{
		char *p = strstr(b.p, "\"sensors\":[");

		ck_assert_ptr_nonnull(p);
		p[11] = p[11] == '9' ? '8' : '9';
	}
	for (int d = 0; d < 2; d++) {
		ck_assert_int_eq(post(port_of(d), "/v1/cycles", "application/json", &b, &r), 409);
		ck_assert_ptr_nonnull(strstr(r.body, "stale_cycle"));
		harness_response_free(&r);
	}
	free(b.p);
}
END_TEST

/* ---- the database down ------------------------------------------------------------------------ */

static bool
has_retry_after(const struct harness_response *r)
{
	const char *h = r->headers;

	for (; h != NULL && *h != '\0'; h += strcspn(h, "\n") + (h[strcspn(h, "\n")] != '\0'))
		if (strncasecmp(h, "Retry-After:", 12) == 0)
			return true;
	return false;
}

/*
 * The database stops: cycles are refused 503 store_failed with Retry-After (the error JSON),
 * and nothing is kept; once it is back, the daemon reconnects by itself and the same cycles
 * are accepted, their predictions the window form (the refused attempt left no trace).
 */
START_TEST(fleet_pg_database_down_is_503_then_recovers)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	double got[UNITS];
	bool in[UNITS];
	char why[1024];
	long status = 0;
	size_t k;
	int tries;

	fp_start(0);
	for (k = 0; k < 3; k++) {
		batch(&b, k, in);
		post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
		harness_response_free(&r);
	}
	ck_assert_int_eq(pg_server_stop(&pg, false), 0);
	batch(&b, 3, in);
	for (tries = 0; tries < 2; tries++) {
		ck_assert_int_eq(post(port_of(0), "/v1/cycles", "application/json", &b, &r), 503);
		ck_assert_msg(strstr(r.body, "\"store_failed\"") != NULL, "%s", r.body);
		ck_assert_msg(has_retry_after(&r), "no Retry-After in %s", r.headers);
		harness_response_free(&r);
	}
	ck_assert_msg(pg_server_restart(&pg, why, sizeof(why)) == 0, "%s", why);
	for (tries = 0; tries < 100 && status != 200; tries++) {
		if (tries > 0)
			usleep(100000); /* the reconnection's back-off */
		status = post(port_of(0), "/v1/cycles", "application/json", &b, &r);
		ck_assert_msg(status == 200 || status == 503, "status %ld: %s", status, r.body);
		if (status == 200)
			ruls_by_engine(r.body, got);
		harness_response_free(&r);
	}
	ck_assert_int_eq(status, 200);
	expect_window_form(0, 3, in, got, "after the outage");
	free(b.p);
}
END_TEST

/* SIGSTOP the postmaster and its children: a server that takes connections and never answers. */
static void
hang_server(void)
{
	char path[400], line[512];
	FILE *f;
	pid_t master;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/postmaster.pid", pg.data);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &master), 1);
	fclose(f);
	ck_assert_int_eq(kill(master, SIGSTOP), 0);
	stopped[n_stopped++] = master;
	d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL && n_stopped < 64) {
		int pid = atoi(de->d_name), ppid = 0;
		char *p;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL)
			sscanf(p + 2, "%*c %d", &ppid);
		fclose(f);
		if (ppid == master && kill(pid, SIGSTOP) == 0)
			stopped[n_stopped++] = pid;
	}
	closedir(d);
}

/*
 * The database hangs (its processes stopped: connections are accepted, nothing answers):
 * cycles are refused 503 store_failed with Retry-After once store_timeout_ms is past, not
 * left waiting; once it answers again the daemon reconnects and the same cycles are accepted
 * as the window form.
 */
START_TEST(fleet_pg_hung_database_is_503)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	double got[UNITS];
	bool in[UNITS];
	long status = 0;
	size_t k;

	fp_start(0);
	for (k = 0; k < 3; k++) {
		batch(&b, k, in);
		post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
		harness_response_free(&r);
	}
	hang_server();
	batch(&b, 3, in);
	for (int tries = 0; tries < 2; tries++) {
		ck_assert_int_eq(post(port_of(0), "/v1/cycles", "application/json", &b, &r), 503);
		ck_assert_msg(strstr(r.body, "\"store_failed\"") != NULL, "%s", r.body);
		ck_assert_msg(has_retry_after(&r), "no Retry-After in %s", r.headers);
		harness_response_free(&r);
	}
	wake_server();
	for (int tries = 0; tries < 100 && status != 200; tries++) {
		if (tries > 0)
			usleep(100000); /* the reconnection's back-off */
		status = post(port_of(0), "/v1/cycles", "application/json", &b, &r);
		ck_assert_msg(status == 200 || status == 503, "status %ld: %s", status, r.body);
		if (status == 200)
			ruls_by_engine(r.body, got);
		harness_response_free(&r);
	}
	ck_assert_int_eq(status, 200);
	expect_window_form(0, 3, in, got, "after the hang");
	free(b.p);
}
END_TEST

/*
 * A failure event in the feedback plugin's table feedback_failures (same database) ends the
 * engine's life: it is forgotten, in memory and in the store, and its next cycle 1 starts a
 * new window (the window form of that one cycle).
 */
START_TEST(fleet_pg_failure_event_ends_a_life)
{
	struct buf b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	double got[UNITS];
	bool in[UNITS];
	char sql[256], path[64];
	long status = 200;
	size_t k;

	fp_start(0);
	for (k = 0; k < 5; k++) {
		batch(&b, k, in);
		post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
		harness_response_free(&r);
	}
	snprintf(sql, sizeof(sql), "CREATE TABLE feedback_failures(id bigserial PRIMARY KEY,"
		 " unit bigint NOT NULL, failed_at_cycle bigint NOT NULL);"
		 "INSERT INTO feedback_failures(unit, failed_at_cycle) VALUES(%lld, 5);",
		 (long long)fd001.unit[first[0]]);
	ck_assert_int_eq(pg_server_sql(&pg, sql, NULL), 0);
	snprintf(path, sizeof(path), "/v1/engines/%lld", (long long)fd001.unit[first[0]]);
	for (int tries = 0; tries < 100 && status == 200; tries++) {
		usleep(100000); /* the fleet's timer polls the events every second */
		ck_assert_int_eq(harness_http(port_of(0), "GET", path, NULL, NULL, 0, NULL, &r), 0);
		status = r.status;
		harness_response_free(&r);
	}
	ck_assert_int_eq(status, 404);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM fleet_windows WHERE unit = %lld",
		 (long long)fd001.unit[first[0]]);
	ck_assert_double_eq(pg_server_value(&pg, sql), 0);
	b.len = 0;
	cycle_json(&b, first[0]);
	post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
	ruls_by_engine(r.body, got);
	harness_response_free(&r);
	memset(in, 0, sizeof(in));
	in[0] = true;
	expect_window_form(0, 0, in, got, "new life");
	free(b.p);
}
END_TEST

/*
 * A database in the layout of schema version 1 (each engine's whole window as one bytea in
 * fleet_windows), as the rulsrv before version 2 wrote it, starts migrated: one row per ring
 * slot, the version 2, the repeat of each engine's last stored cycle answers the prediction
 * stored with it, and the next cycle the window form over the engine's whole history.
 */
START_TEST(fleet_pg_v1_layout_migrates)
{
	struct buf sql = { malloc(1 << 16), 0, 1 << 16 }, b = { malloc(4096), 0, 4096 };
	struct harness_response r;
	const size_t upto = 34, kept = 30; /* 35 cycles streamed, the last 30 in the window */
	double got[UNITS];
	bool in[UNITS];
	size_t e, k, n = 0;

	put(&sql, "CREATE TABLE fleet_meta(key text PRIMARY KEY, value bigint NOT NULL);"
	    "CREATE TABLE fleet_windows(unit bigint PRIMARY KEY, last_cycle bigint NOT NULL,"
	    " \"window\" bytea NOT NULL, rul double precision NOT NULL, model text NOT NULL,"
	    " version text NOT NULL, ts double precision NOT NULL);"
	    "CREATE TABLE fleet_cycles(unit bigint NOT NULL, cycle bigint NOT NULL,"
	    " rul double precision NOT NULL, model text NOT NULL, version text NOT NULL,"
	    " ts double precision NOT NULL, PRIMARY KEY(unit, cycle));"
	    "INSERT INTO fleet_meta VALUES('schema_version', 1);");
	for (e = 0; e <= n_units; e++) {
		char *out = NULL;
		int rc;

		/* one psql per engine: an argument is at most 128 KiB */
		if (sql.len > 0) {
			rc = pg_server_sql(&pg, sql.p, &out);
			ck_assert_msg(rc == 0, "psql: %s", out ? out : "");
			free(out);
			sql.len = 0;
		}
		if (e == n_units)
			break;
		in[e] = row_of(e, upto + 1) >= 0;
		if (!in[e])
			continue;
		n++;
		put(&sql, "INSERT INTO fleet_windows VALUES(%lld, %lld, decode('",
		    (long long)fd001.unit[first[e]], (long long)fd001.cycle[row_of(e, upto)]);
		for (k = upto + 1 - kept; k <= upto; k++) {
			size_t row = (size_t)row_of(e, k);
			double slot[FLEET_SLOT_TEST];
			const unsigned char *bytes = (const unsigned char *)slot;

			slot[0] = (double)fd001.cycle[row];
			memcpy(slot + 1, fd001.values + row * CMAPSS_N_INPUTS,
			       CMAPSS_N_INPUTS * sizeof(double));
			for (size_t i = 0; i < sizeof(slot); i++)
				put(&sql, "%02x", bytes[i]);
		}
		put(&sql, "', 'hex'), %zu, 'fd001-forest', '1', 1.8e9);", 1000 + e);
		for (k = 0; k <= upto; k++)
			put(&sql, "INSERT INTO fleet_cycles VALUES(%lld, %lld, 50, 'fd001-forest',"
			    " '1', 1.8e9);", (long long)fd001.unit[first[e]],
			    (long long)fd001.cycle[row_of(e, k)]);
	}
	ck_assert_uint_gt(n, 2);
	fp_start(0);
	ck_assert_double_eq(pg_server_value(&pg, "SELECT value FROM fleet_meta"
					    " WHERE key = 'schema_version'"), 2);
	ck_assert_double_eq(pg_server_value(&pg, "SELECT count(*) FROM fleet_slots"),
			    (double)(n * kept));
	/* the repeat of the last stored cycle answers the prediction stored with it */
	for (e = 0; e < n_units; e++)
		in[e] = in[e] && row_of(e, upto) >= 0;
	b.len = 0;
	put(&b, "{\"cycles\":[");
	for (e = 0, k = 0; e < n_units; e++)
		if (in[e]) {
			put(&b, "%s", k++ ? "," : "");
			cycle_json(&b, (size_t)row_of(e, upto));
		}
	put(&b, "]}");
	post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
	ruls_by_engine(r.body, got);
	harness_response_free(&r);
	for (e = 0; e < n_units; e++)
		if (in[e])
			ck_assert_double_eq(got[e], 1000.0 + (double)e);
	/* the next cycle: the window form over the whole history */
	b.len = 0;
	put(&b, "{\"cycles\":[");
	for (e = 0, k = 0; e < n_units; e++)
		if (in[e]) {
			put(&b, "%s", k++ ? "," : "");
			cycle_json(&b, (size_t)row_of(e, upto + 1));
		}
	put(&b, "]}");
	post_ok(port_of(0), "/v1/cycles", "application/json", &b, &r);
	ruls_by_engine(r.body, got);
	harness_response_free(&r);
	expect_window_form(0, upto + 1, in, got, "migrated");
	free(sql.p);
	free(b.p);
}
END_TEST

/* A database whose fleet schema is newer than this rulsrv's is refused at start. */
START_TEST(fleet_pg_newer_schema_is_refused)
{
	char conf[2048];

	ck_assert_int_eq(pg_server_sql(&pg, "CREATE TABLE fleet_meta(key text PRIMARY KEY,"
				       " value bigint NOT NULL);"
				       "INSERT INTO fleet_meta VALUES('schema_version', 7);", NULL), 0);
	snprintf(conf, sizeof(conf), fp_conf_fmt, pg.dsn);
	ck_assert_int_ne(harness_start_conf(&srv[0], conf), 0);
	ck_assert(harness_log_contains(&srv[0], "fleet schema version 7, newer than this "
				       "rulsrv's 2"));
	srv[0].pid = 0;
	ck_assert_double_eq(pg_server_value(&pg, "SELECT value FROM fleet_meta"
					    " WHERE key = 'schema_version'"), 7);
}
END_TEST

Suite *
fleet_pg_suite(void)
{
	Suite *s = suite_create("fleet_pg");
	TCase *tc = tcase_create("pg");

	suite_needs(s, "cmapss");
	suite_needs(s, "postgresql");
	tcase_add_checked_fixture(tc, fp_setup, fp_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fleet_pg_streamed_equals_window_form);
	tcase_add_test(tc, fleet_pg_two_daemons_share_engines);
	tcase_add_test(tc, fleet_pg_repeat_and_stale_across_daemons);
	tcase_add_test(tc, fleet_pg_database_down_is_503_then_recovers);
	tcase_add_test(tc, fleet_pg_hung_database_is_503);
	tcase_add_test(tc, fleet_pg_failure_event_ends_a_life);
	tcase_add_test(tc, fleet_pg_newer_schema_is_refused);
	tcase_add_test(tc, fleet_pg_v1_layout_migrates);
	suite_add_tcase(s, tc);
	return s;
}
