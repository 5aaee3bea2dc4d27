/* SPDX-License-Identifier: MIT */
/* test_feedback_store.c - the feedback plugin's store, parser, windows and group commit. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "accuracy.h"
#include "commit.h"
#include "parse.h"
#include "predlog.h"
#include "store.h"
#include "store_sqlite_internal.h"

static char fs_dir[256];
static char fs_path[300];

static void
fs_setup(void)
{
	snprintf(fs_dir, sizeof(fs_dir), "/tmp/rulsrv-fbstore-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fs_dir));
	snprintf(fs_path, sizeof(fs_path), "%s/feedback.db", fs_dir);
}

static void
fs_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fs_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fs_dir);
}

static struct fb_store *
fs_open(void)
{
	struct fb_store_config cfg = { .rul_cap = 125, .busy_timeout_ms = 2000 };
	struct fb_store *s = NULL;
	char err[512];
	int r;

	r = fb_store_sqlite.open(fs_path, &cfg, &s, err, sizeof(err));
	ck_assert_msg(r == 0, "open failed: %s", err);
	return s;
}

static struct fb_record
fs_scored(int64_t unit, int64_t cycle, double actual, double predicted, const char *model)
{
	struct fb_record r = { .kind = FB_RECORD_SCORED, .unit = unit, .cycle = cycle,
			       .actual = actual, .predicted = predicted };

	snprintf(r.model, sizeof(r.model), "%s", model);
	return r;
}

static int
fs_apply(struct fb_store *s, const struct fb_record *recs, size_t n, struct fb_group *g)
{
	memset(g, 0, sizeof(*g));
	g->records = recs;
	g->count = n;
	g->received_at = 1700000000;
	ck_assert_int_eq(fb_store_sqlite.apply(s, g, 1), 0);
	return g->status;
}

/* Apply recs as one group: it succeeds, scores every record, record i under models[i]. */
static void
fs_apply_models(struct fb_store *s, const struct fb_record *recs, size_t n,
		const char *const *models)
{
	struct fb_group g;
	size_t i;

	ck_assert_int_eq(fs_apply(s, recs, n, &g), 0);
	ck_assert_uint_eq(g.scored_count, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(strcmp(g.scored[i].model, models[i]) == 0,
			      "record %zu (unit %lld, cycle %lld): model '%s', want '%s'", i,
			      (long long)recs[i].unit, (long long)recs[i].cycle, g.scored[i].model,
			      models[i]);
	free(g.scored);
}

struct fs_totals_sum {
	uint64_t count;
	double squared;
	char models[256];
};

static int
fs_sum_totals(void *ud, const struct fb_totals *t)
{
	struct fs_totals_sum *sum = ud;

	sum->count += t->count;
	sum->squared += t->squared_error_sum;
	strncat(sum->models, t->model, sizeof(sum->models) - strlen(sum->models) - 2);
	strcat(sum->models, ",");
	return 0;
}

static struct fs_totals_sum
fs_totals(struct fb_store *s)
{
	struct fs_totals_sum sum = { 0 };

	ck_assert_int_eq(fb_store_sqlite.totals(s, fs_sum_totals, &sum), 0);
	return sum;
}

static void
fs_log(struct fb_store *s, int64_t unit, int64_t from, int64_t to, double rul0,
       const char *model)
{
	struct fb_logged p[512];
	size_t n = 0;
	int64_t c;

	for (c = from; c <= to && n < 512; c++, n++)
		p[n] = (struct fb_logged){ .unit = unit, .cycle = c, .rul = rul0 - (double)c,
					   .timestamp = 1700000000, .model = model,
					   .version = "1" };
	ck_assert_int_eq(fb_store_sqlite.log_predictions(s, p, n), 0);
}

/* ---- store ----------------------------------------------------------------------------- */

START_TEST(store_is_wal_with_full_sync)
{
	struct fb_store *s = fs_open();
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_prepare_v2(fb_sqlite_writer(s), "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(fb_sqlite_writer(s), "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 2); /* FULL */
	sqlite3_finalize(st);
	/* the prediction log commits at NORMAL and gives the connection back at FULL: the
	 * ground truth after it is still synced */
	fs_log(s, 7, 1, 10, 100, "m");
	ck_assert_int_eq(sqlite3_prepare_v2(fb_sqlite_writer(s), "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(store_missing_directory_is_one_clear_error)
{
	struct fb_store_config cfg = { .rul_cap = 125, .busy_timeout_ms = 10 };
	struct fb_store *s = NULL;
	char path[400], err[512] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir/feedback.db", fs_dir);
	ck_assert_int_eq(fb_store_sqlite.open(path, &cfg, &s, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "does not exist") != NULL, "message: %s", err);
	ck_assert_msg(strstr(err, "no/such/dir") != NULL, "message: %s", err);
}
END_TEST

START_TEST(store_refuses_a_file_that_is_no_database)
{
	struct fb_store_config cfg = { .rul_cap = 125, .busy_timeout_ms = 10 };
	struct fb_store *s = NULL;
	char err[512] = "";
	FILE *f = fopen(fs_path, "w");

	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, but long enough to have a header...........", f);
	fclose(f);
	ck_assert_int_lt(fb_store_sqlite.open(fs_path, &cfg, &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, fs_path) != NULL, "message names the file: %s", err);
}
END_TEST

START_TEST(store_scored_records_persist_across_reopen)
{
	struct fb_record recs[2] = { fs_scored(7, 112, 80, 83, "m1"), fs_scored(8, 10, 200, 120, "m1") };
	struct fb_store *s = fs_open();
	struct fs_totals_sum t;
	struct fb_group g;

	ck_assert_int_eq(fs_apply(s, recs, 2, &g), 0);
	ck_assert_uint_eq(g.scored_count, 2);
	free(g.scored);
	fb_store_sqlite.close(s);

	s = fs_open();
	t = fs_totals(s);
	ck_assert_uint_eq(t.count, 2);
	/* truth capped at 125: errors 3 and -5 */
	ck_assert_double_eq_tol(t.squared, 9 + 25, 1e-9);
	ck_assert_str_eq(t.models, "m1,");
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(store_unmatched_record_fails_its_whole_group_only)
{
	struct fb_record bad[2] = { fs_scored(1, 1, 10, 10, "m"),
				    { .kind = FB_RECORD_MATCH, .unit = 9, .cycle = 5, .actual = 3 } };
	struct fb_record good[1] = { fs_scored(2, 2, 20, 22, "m") };
	struct fb_store *s = fs_open();
	struct fb_group g[2] = { { .records = bad, .count = 2 }, { .records = good, .count = 1 } };

	ck_assert_int_eq(fb_store_sqlite.apply(s, g, 2), 0);
	ck_assert_int_eq(g[0].status, -ENOENT);
	ck_assert_uint_eq(g[0].err_index, 1);
	ck_assert_ptr_null(g[0].scored);
	ck_assert_int_eq(g[1].status, 0);
	ck_assert_uint_eq(g[1].scored_count, 1);
	free(g[1].scored);
	ck_assert_uint_eq(fs_totals(s).count, 1);
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(store_match_takes_the_logged_prediction)
{
	struct fb_record rec = { .kind = FB_RECORD_MATCH, .unit = 7, .cycle = 3, .actual = 40 };
	struct fb_store *s = fs_open();
	struct fb_group g;

	fs_log(s, 7, 1, 5, 100, "rul-fd001");
	ck_assert_int_eq(fs_apply(s, &rec, 1, &g), 0);
	ck_assert_uint_eq(g.scored_count, 1);
	ck_assert_double_eq(g.scored[0].predicted, 97);
	ck_assert_double_eq(g.scored[0].actual, 40);
	ck_assert_str_eq(g.scored[0].model, "rul-fd001");
	free(g.scored);
	/* a model that never predicted it does not match */
	snprintf(rec.model, sizeof(rec.model), "other");
	ck_assert_int_eq(fs_apply(s, &rec, 1, &g), -ENOENT);
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(store_posted_prediction_takes_the_logged_model)
{
	struct fb_record recs[2] = { fs_scored(7, 3, 40, 50, ""), fs_scored(7, 99, 40, 50, "") };
	static const char *const models[2] = { "rul-fd001", "unknown" };
	struct fb_store *s = fs_open();

	fs_log(s, 7, 1, 5, 100, "rul-fd001");
	fs_apply_models(s, recs, 2, models);
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(store_failure_scores_each_unscored_prediction_once)
{
	struct fb_record fail = { .kind = FB_RECORD_FAILURE, .unit = 7, .failed_at = 5 };
	struct fb_record match = { .kind = FB_RECORD_MATCH, .unit = 7, .cycle = 2, .actual = 3 };
	struct fb_store *s = fs_open();
	struct fb_group g;
	size_t i;

	fs_log(s, 7, 1, 6, 10, "m");   /* cycle 6 is after the failure: never scored */
	fs_log(s, 8, 1, 3, 10, "m");   /* another unit: untouched */
	ck_assert_int_eq(fs_apply(s, &match, 1, &g), 0); /* scores cycle 2 by hand */
	free(g.scored);
	ck_assert_int_eq(fs_apply(s, &fail, 1, &g), 0);
	ck_assert_uint_eq(g.scored_count, 4); /* cycles 1, 3, 4, 5 */
	for (i = 0; i < g.scored_count; i++) {
		ck_assert_int_eq(g.scored[i].unit, 7);
		ck_assert_double_eq(g.scored[i].actual, (double)(5 - g.scored[i].cycle));
		ck_assert_double_eq(g.scored[i].predicted, 10 - (double)g.scored[i].cycle);
	}
	free(g.scored);
	ck_assert_int_eq(fs_apply(s, &fail, 1, &g), 0);
	ck_assert_uint_eq(g.scored_count, 0);
	ck_assert_uint_eq(fs_totals(s).count, 5);
	fb_store_sqlite.close(s);
}
END_TEST

/* Log cycles from..to of unit, "made" at ts. */
static void
fs_log_at(struct fb_store *s, int64_t unit, int64_t from, int64_t to, double rul0,
	  const char *model, double ts)
{
	struct fb_logged p[64];
	size_t n = 0;
	int64_t c;

	for (c = from; c <= to && n < 64; c++, n++)
		p[n] = (struct fb_logged){ .unit = unit, .cycle = c, .rul = rul0 - (double)c,
					   .timestamp = ts, .model = model, .version = "1" };
	ck_assert_int_eq(fb_store_sqlite.log_predictions(s, p, n), 0);
}

/* A failure event of unit (of model, "" for any) received at ts; returns how many it scored. */
static size_t
fs_fail(struct fb_store *s, int64_t unit, int64_t failed_at, const char *model, double ts)
{
	struct fb_record rec = { .kind = FB_RECORD_FAILURE, .unit = unit, .failed_at = failed_at };
	struct fb_group g = { .records = &rec, .count = 1, .received_at = ts };
	size_t n;

	snprintf(rec.model, sizeof(rec.model), "%s", model);
	ck_assert_int_eq(fb_store_sqlite.apply(s, &g, 1), 0);
	ck_assert_int_eq(g.status, 0);
	n = g.scored_count;
	free(g.scored);
	return n;
}

struct fs_late {
	size_t n;
	double abs_sum;
	int64_t cycles[16];
	double actual[16];
};

static int
fs_late_cb(void *ud, const struct fb_scored *sc)
{
	struct fs_late *l = ud;

	if (l->n < 16) {
		l->cycles[l->n] = sc->cycle;
		l->actual[l->n] = sc->actual;
	}
	l->n++;
	l->abs_sum += fabs(sc->predicted - sc->actual);
	return 0;
}

static struct fs_late
fs_late_since(struct fb_store *s, int64_t *after)
{
	struct fs_late l = { 0 };

	ck_assert_int_eq(fb_store_sqlite.late(s, after, 1000, fs_late_cb, &l), 0);
	return l;
}

/* The log is written after the answer: the failure event can arrive first. A prediction
 * made before the event, logged after it, is scored when logged, once. */
START_TEST(store_prediction_logged_after_its_failure_is_scored_once)
{
	struct fb_store *s = fs_open();
	struct fs_late l;
	int64_t after = 0;
	size_t i;

	ck_assert_uint_eq(fs_fail(s, 7, 5, "", 1700000100), 0); /* nothing logged yet */
	fs_log_at(s, 7, 1, 6, 10, "m", 1700000099); /* cycle 6: after the failure, not scored */
	fs_log_at(s, 8, 1, 2, 10, "m", 1700000099); /* another unit: untouched */
	ck_assert_uint_eq(fs_totals(s).count, 5);
	/* errors (10 - c) - (5 - c) = 5 each */
	ck_assert_double_eq_tol(fs_totals(s).squared, 5 * 25, 1e-9);
	l = fs_late_since(s, &after);
	ck_assert_uint_eq(l.n, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(l.cycles[i], (int64_t)i + 1);
		ck_assert_double_eq(l.actual[i], 5 - (double)(i + 1));
	}
	ck_assert_int_gt(after, 0);
	ck_assert_uint_eq(fs_late_since(s, &after).n, 0); /* the mark moved past them */
	/* marked scored: the event again, or another one, scores nothing more */
	ck_assert_uint_eq(fs_fail(s, 7, 5, "", 1700000200), 0);
	ck_assert_uint_eq(fs_fail(s, 7, 9, "", 1700000300), 1); /* cycle 6 only */
	ck_assert_uint_eq(fs_totals(s).count, 6);
	fb_store_sqlite.close(s);
}
END_TEST

/* A unit number used again (a new engine, a new replay): predictions made after the old
 * failure event arrived are not scored against it, whatever their cycles. */
START_TEST(store_prediction_made_after_the_failure_is_a_new_life)
{
	struct fb_store *s = fs_open();
	int64_t after = 0;

	ck_assert_uint_eq(fs_fail(s, 9, 200, "", 1700000100), 0);
	fs_log_at(s, 9, 1, 3, 50, "m", 1700000101);
	ck_assert_uint_eq(fs_totals(s).count, 0);
	ck_assert_uint_eq(fs_late_since(s, &after).n, 0);
	/* an event that arrived before they were made (committed after them) is not theirs */
	ck_assert_uint_eq(fs_fail(s, 9, 200, "", 1700000100.5), 0);
	/* their own failure scores them, against its own cycle */
	ck_assert_uint_eq(fs_fail(s, 9, 100, "", 1700000500), 3);
	ck_assert_uint_eq(fs_totals(s).count, 3);
	ck_assert_uint_eq(fs_late_since(s, &after).n, 0); /* scored by the event, not late */
	fb_store_sqlite.close(s);
}
END_TEST

/* A failure event naming a model scores late predictions of that model only. */
START_TEST(store_late_scoring_keeps_to_the_event_model)
{
	struct fb_store *s = fs_open();
	struct fs_totals_sum t;

	ck_assert_uint_eq(fs_fail(s, 3, 10, "a", 1700000100), 0);
	fs_log_at(s, 3, 1, 2, 20, "b", 1700000000);
	ck_assert_uint_eq(fs_totals(s).count, 0);
	fs_log_at(s, 3, 1, 2, 20, "a", 1700000000);
	t = fs_totals(s);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_str_eq(t.models, "a,");
	ck_assert_uint_eq(fs_fail(s, 3, 10, "", 1700000200), 2); /* b's two, not a's again */
	fb_store_sqlite.close(s);
}
END_TEST

/* A record posted with its own predicted_rul stands for the logged prediction of (unit,
 * cycle): a failure event afterwards does not count that prediction again. */
START_TEST(store_posted_record_marks_the_logged_prediction)
{
	struct fb_record posted[2] = { fs_scored(7, 3, 2, 8, ""), fs_scored(7, 4, 1, 9, "other") };
	static const char *const models[2] = { "m", "other" };
	struct fb_store *s = fs_open();

	fs_log(s, 7, 1, 5, 10, "m");
	fs_apply_models(s, posted, 2, models);
	/* cycle 3 is marked; cycle 4's prediction is m's, not "other"'s: still open */
	ck_assert_uint_eq(fs_fail(s, 7, 5, "", 1700000000), 4);
	ck_assert_uint_eq(fs_totals(s).count, 6);
	/* the same record again: no unscored prediction left, it counts as its own record */
	fs_apply_models(s, posted, 1, models);
	ck_assert_uint_eq(fs_totals(s).count, 7);
	fb_store_sqlite.close(s);
}
END_TEST

/* The schema version the store wrote into the file's meta table. */
static int
fs_schema_version(struct fb_store *s)
{
	sqlite3_stmt *st;
	int version;

	ck_assert_int_eq(sqlite3_prepare_v2(fb_sqlite_writer(s),
					    "SELECT value FROM meta WHERE key = 'schema_version'",
					    -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* A file of schema version 1 (failures without a model) is brought to version 3. */
START_TEST(store_upgrades_a_version_1_file)
{
	sqlite3 *db;
	struct fb_store *s;

	ck_assert_int_eq(sqlite3_open(fs_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
				      "CREATE TABLE failures(id INTEGER PRIMARY KEY,"
				      " unit INTEGER NOT NULL, failed_at_cycle INTEGER NOT NULL,"
				      " scored INTEGER NOT NULL, ts REAL NOT NULL);"
				      "INSERT INTO failures VALUES(1, 4, 30, 0, 1700000100);"
				      "INSERT INTO meta VALUES('schema_version', '1');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = fs_open();
	ck_assert_int_eq(fs_schema_version(s), 3);
	/* the old event applies to any model */
	fs_log_at(s, 4, 1, 2, 20, "m", 1700000000);
	ck_assert_uint_eq(fs_totals(s).count, 2);
	fb_store_sqlite.close(s);
}
END_TEST

struct fs_recent {
	size_t n;
	int64_t first_unit;
	int64_t last_unit;
};

static int
fs_recent_cb(void *ud, const struct fb_scored *sc)
{
	struct fs_recent *r = ud;

	if (r->n++ == 0)
		r->first_unit = sc->unit;
	r->last_unit = sc->unit;
	return 0;
}

START_TEST(store_recent_returns_the_last_records_oldest_first)
{
	struct fb_record recs[10];
	struct fb_store *s = fs_open();
	struct fs_recent rc = { 0 };
	struct fb_group g;
	int i;

	for (i = 0; i < 10; i++)
		recs[i] = fs_scored(i, 1, 10, 10, i % 2 ? "odd" : "even");
	ck_assert_int_eq(fs_apply(s, recs, 10, &g), 0);
	free(g.scored);
	ck_assert_int_eq(fb_store_sqlite.recent(s, NULL, INT64_MAX, 4, fs_recent_cb, &rc), 0);
	ck_assert_uint_eq(rc.n, 4);
	ck_assert_int_eq(rc.first_unit, 6);
	ck_assert_int_eq(rc.last_unit, 9);
	memset(&rc, 0, sizeof(rc));
	ck_assert_int_eq(fb_store_sqlite.recent(s, "odd", INT64_MAX, 3, fs_recent_cb, &rc), 0);
	ck_assert_uint_eq(rc.n, 3);
	ck_assert_int_eq(rc.first_unit, 5);
	ck_assert_int_eq(rc.last_unit, 9);
	fb_store_sqlite.close(s);
}
END_TEST

static int
fs_count_logged(void *ud, const struct fb_logged *p)
{
	(*(size_t *)ud)++;
	ck_assert_str_eq(p->model, "m");
	ck_assert_str_eq(p->version, "1");
	return 0;
}

START_TEST(store_lookup_finds_logged_predictions)
{
	struct fb_store *s = fs_open();
	size_t n = 0;

	fs_log(s, 3, 1, 20, 100, "m");
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 3, -1, fs_count_logged, &n), 0);
	ck_assert_uint_eq(n, 20);
	n = 0;
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 3, 7, fs_count_logged, &n), 0);
	ck_assert_uint_eq(n, 1);
	n = 0;
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 4, -1, fs_count_logged, &n), 0);
	ck_assert_uint_eq(n, 0);
	fb_store_sqlite.close(s);
}
END_TEST

static int
fs_count_logged_v2(void *ud, const struct fb_logged *p)
{
	(*(size_t *)ud)++;
	ck_assert_str_eq(p->model, "m");
	ck_assert_str_eq(p->version, "2");
	ck_assert_double_eq(p->timestamp, 1e9);
	ck_assert_double_eq(p->rul, 51 - (double)p->cycle);
	return 0;
}

/* ---- parser ---------------------------------------------------------------------------- */

static int
fs_parse(const char *body, struct fb_record **recs, size_t *n, struct fb_parse_error *err)
{
	bool batch;

	memset(err, 0, sizeof(*err));
	return fb_parse(body, strlen(body), 1000, recs, n, &batch, err);
}

static void
fs_parse_fails(const char *body, unsigned status, const char *message)
{
	struct fb_parse_error err;
	struct fb_record *recs = NULL;
	size_t n = 99;

	ck_assert_int_lt(fs_parse(body, &recs, &n, &err), 0);
	ck_assert_ptr_null(recs);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(err.status, status);
	ck_assert_msg(strcmp(err.message, message) == 0, "body %s: got '%s', expected '%s'", body,
		      err.message, message);
}

START_TEST(parse_the_three_forms)
{
	struct fb_parse_error err;
	struct fb_record *recs;
	size_t n;

	ck_assert_int_eq(fs_parse("{\"unit\": 7, \"cycle\": 112, \"actual_rul\": 80, "
				  "\"predicted_rul\": 83.2}", &recs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(recs[0].kind, FB_RECORD_SCORED);
	ck_assert_int_eq(recs[0].unit, 7);
	ck_assert_int_eq(recs[0].cycle, 112);
	ck_assert_double_eq(recs[0].predicted, 83.2);
	ck_assert_str_eq(recs[0].model, "");
	free(recs);
	ck_assert_int_eq(fs_parse("{\"records\": [{\"unit\": 7, \"cycle\": 1, \"actual_rul\": 8,"
				  " \"model\": \"x\"}, {\"unit\": 7, \"failed_at_cycle\": 200}]}",
				  &recs, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(recs[0].kind, FB_RECORD_MATCH);
	ck_assert_str_eq(recs[0].model, "x");
	ck_assert_int_eq(recs[1].kind, FB_RECORD_FAILURE);
	ck_assert_int_eq(recs[1].failed_at, 200);
	free(recs);
}
END_TEST

START_TEST(parse_errors_name_the_place)
{
	fs_parse_fails("{\"unit\": 7, \"cycle\"", 400, "body: malformed JSON at byte 18");
	fs_parse_fails("{\"unit\": 7} x", 400, "body: malformed JSON: trailing data at byte 12");
	fs_parse_fails("[1]", 422, "body: expected a JSON object");
	fs_parse_fails("{\"cycle\": 1, \"actual_rul\": 2}", 422, "unit: required");
	fs_parse_fails("{\"unit\": 1.5, \"cycle\": 1, \"actual_rul\": 2}", 422,
		       "unit: expected a non-negative integer");
	fs_parse_fails("{\"unit\": 1, \"cycle\": 1, \"actual_rul\": -2}", 422,
		       "actual_rul: expected a number from 0 to 5000");
	fs_parse_fails("{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 2, \"predicted_rul\": 1e300}",
		       422, "predicted_rul: expected a number from -5000 to 5000");
	fs_parse_fails("{\"unit\": 1, \"cycle\": 1, \"actual_rul\": \"2\"}", 422,
		       "actual_rul: expected a finite number");
	fs_parse_fails("{\"records\": [{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 2},"
		       "{\"unit\": 1, \"cycle\": 2, \"actual_rul\": 2},"
		       "{\"unit\": 1, \"cycle\": 3, \"actual_rul\": 2},"
		       "{\"unit\": 1, \"cycle\": 4, \"actual_rul\": 1e999}]}",
		       422, "records[3].actual_rul: expected a finite number");
	fs_parse_fails("{\"records\": [{\"unit\": 1, \"cycle\": 1, \"actul_rul\": 2}]}", 422,
		       "records[0].actul_rul: unknown field (expected unit, cycle, actual_rul, "
		       "predicted_rul, failed_at_cycle, model)");
	fs_parse_fails("{\"records\": [3]}", 422, "records[0]: expected an object");
	fs_parse_fails("{\"records\": {}}", 422, "records: expected an array");
	fs_parse_fails("{\"records\": []}", 422, "records: expected at least one record");
	fs_parse_fails("{\"unit\": 1, \"failed_at_cycle\": 20, \"cycle\": 3}", 422,
		       "cycle: not allowed beside failed_at_cycle (a failure event scores the "
		       "logged predictions of the unit)");
	fs_parse_fails("{\"unit\": 1, \"cycle\": 1, \"actual_rul\": 2, \"model\": \"\"}", 422,
		       "model: expected 1 to 127 characters");
}
END_TEST

START_TEST(parse_batch_over_the_limit_is_413)
{
	struct fb_parse_error err;
	struct fb_record *recs = NULL;
	const char *body = "{\"records\": [{\"unit\": 1, \"failed_at_cycle\": 2},"
			   "{\"unit\": 1, \"failed_at_cycle\": 2},{\"unit\": 1, \"failed_at_cycle\": 2}]}";
	size_t n;
	bool batch;

	ck_assert_int_lt(fb_parse(body, strlen(body), 2, &recs, &n, &batch, &err), 0);
	ck_assert_uint_eq(err.status, 413);
	ck_assert_str_eq(err.message, "records: at most 2 records per request, got 3");
	ck_assert_int_eq(fb_parse(body, strlen(body), 3, &recs, &n, &batch, &err), 0);
	ck_assert(batch);
	free(recs);
}
END_TEST

/* ---- accuracy -------------------------------------------------------------------------- */

START_TEST(accuracy_terms_follow_spec_section_3)
{
	struct fb_terms late = fb_terms_of(30, 20, 125);   /* d = 10: e^1 - 1 */
	struct fb_terms early = fb_terms_of(7, 20, 125);   /* d = -13: e^1 - 1 */
	struct fb_terms capped = fb_terms_of(125, 300, 125); /* truth capped: d = 0 */

	ck_assert_double_eq_tol(late.nasa, M_E - 1, 1e-12);
	ck_assert_double_eq_tol(early.nasa, M_E - 1, 1e-12);
	ck_assert_double_eq(early.residual, -13);
	ck_assert_double_eq(early.absolute, 13);
	ck_assert_double_eq(late.squared, 100);
	ck_assert_double_eq(capped.residual, 0);
	ck_assert_double_eq(capped.nasa, 0);
	/* an absurd logged prediction stays finite in every sum */
	ck_assert(isfinite(fb_terms_of(1e6, 0, 125).nasa));
	ck_assert(isfinite(fb_terms_of(-1e6, 0, 125).nasa));
}
END_TEST

START_TEST(accuracy_window_keeps_the_last_records)
{
	struct fb_window *w = fb_window_new(3);
	struct fb_figures f;
	struct fb_terms t;
	int i;

	f = fb_window_figures(w);
	ck_assert_uint_eq(f.count, 0);
	ck_assert_double_eq(f.rmse, 0);
	for (i = 0; i < 5; i++) {
		t = fb_terms_of(i < 2 ? 100 : 12, 10, 125); /* the two 90s fall out */
		fb_window_push(w, &t);
	}
	f = fb_window_figures(w);
	ck_assert_uint_eq(f.count, 3);
	ck_assert_double_eq_tol(f.rmse, 2, 1e-12);
	ck_assert_double_eq_tol(f.mae, 2, 1e-12);
	ck_assert_double_eq_tol(f.nasa_score, 3 * expm1(0.2), 1e-12);
	fb_window_free(w);
}
END_TEST

/* Running sums over a million pushes agree with summing the last window afresh. */
START_TEST(accuracy_window_running_sums_do_not_drift)
{
	struct fb_window *w = fb_window_new(1000);
	struct fb_figures f;
	double sq = 0, ab = 0, nasa = 0;
	struct fb_terms t;
	int i;

	for (i = 0; i < 1000000; i++) {
		double pred = (i % 7 == 0) ? 1e3 : (double)(i % 113); /* big and small errors */

		t = fb_terms_of(pred, (double)(i % 97), 125);
		fb_window_push(w, &t);
		if (i >= 1000000 - 1000) {
			sq += t.squared;
			ab += t.absolute;
			nasa += t.nasa;
		}
	}
	f = fb_window_figures(w);
	ck_assert_uint_eq(f.count, 1000);
	ck_assert_double_eq_tol(f.rmse, sqrt(sq / 1000), 1e-9 * sqrt(sq / 1000));
	ck_assert_double_eq_tol(f.mae, ab / 1000, 1e-9 * ab / 1000);
	ck_assert_double_eq_tol(f.nasa_score, nasa, 1e-9 * nasa);
	fb_window_free(w);
}
END_TEST

/* ---- group commit ---------------------------------------------------------------------- */

#define FS_THREADS 8
#define FS_PER_THREAD 50

/* What the hook saw: every item comes back once, from the writer thread. */
struct fs_hook {
	pthread_mutex_t lock;
	pthread_t writer;
	size_t calls;
	size_t groups;
	size_t largest;
	size_t failures;     /* items back with an error, or not scored */
	size_t other_thread; /* items handed back on a thread other than the first hook call's */
	bool seen;
};

struct fs_item {
	struct fb_commit_item item; /* first, as the plugin does */
	struct fb_record rec;
};

static void
fs_hook_fn(void *ud, struct fb_commit_item *const *items, size_t n, double seconds)
{
	struct fs_hook *h = ud;
	size_t i;

	pthread_mutex_lock(&h->lock);
	if (!h->seen)
		h->writer = pthread_self();
	h->seen = true;
	h->calls++;
	h->groups += n;
	if (n > h->largest)
		h->largest = n;
	for (i = 0; i < n; i++) {
		if (items[i]->group.status != 0 || items[i]->group.scored_count != 1 || seconds < 0)
			h->failures++;
		if (!pthread_equal(pthread_self(), h->writer))
			h->other_thread++;
		free(items[i]->group.scored);
		free(items[i]);
	}
	pthread_mutex_unlock(&h->lock);
}

struct fs_worker {
	struct fb_committer *c;
	int id;
	int failures;
};

/* Submit and go on: nothing waits for the commit, the hook gets every item back. */
static void *
fs_worker_main(void *arg)
{
	struct fs_worker *w = arg;
	int i;

	for (i = 0; i < FS_PER_THREAD; i++) {
		struct fs_item *it = calloc(1, sizeof(*it));

		if (it == NULL) {
			w->failures++;
			continue;
		}
		it->rec = fs_scored(w->id, i, 10, 11, "m");
		it->item.group.records = &it->rec;
		it->item.group.count = 1;
		if (fb_committer_submit(w->c, &it->item) != 0) {
			free(it);
			w->failures++;
		}
	}
	return NULL;
}

START_TEST(commit_every_acknowledged_record_is_stored)
{
	struct fs_hook hook = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fs_worker w[FS_THREADS];
	pthread_t t[FS_THREADS];
	struct fb_committer *c;
	struct fb_store *s = fs_open();
	int i, failures = 0;

	ck_assert_int_eq(fb_committer_new(&fb_store_sqlite, s, 0, fs_hook_fn, &hook, &c), 0);
	for (i = 0; i < FS_THREADS; i++) {
		w[i] = (struct fs_worker){ .c = c, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, fs_worker_main, &w[i]), 0);
	}
	for (i = 0; i < FS_THREADS; i++) {
		pthread_join(t[i], NULL);
		failures += w[i].failures;
	}
	fb_committer_free(c); /* commits what is still queued first */
	ck_assert_int_eq(failures, 0);
	ck_assert_uint_eq(hook.groups, FS_THREADS * FS_PER_THREAD);
	ck_assert_uint_eq(hook.failures, 0);
	ck_assert_uint_eq(hook.other_thread, 0);
	ck_assert_msg(!pthread_equal(hook.writer, pthread_self()), "hook ran on the submitter");
	ck_assert_uint_le(hook.calls, hook.groups);
	ck_assert_uint_eq(fs_totals(s).count, FS_THREADS * FS_PER_THREAD);
	fb_store_sqlite.close(s);
}
END_TEST

/* max_group bounds a transaction; stopping hands back, committed, all that was queued. */
START_TEST(commit_stop_drains_the_queue_in_bounded_groups)
{
	struct fs_hook hook = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fb_committer *c;
	struct fb_store *s = fs_open();
	int i;

	ck_assert_int_eq(fb_committer_new(&fb_store_sqlite, s, 3, fs_hook_fn, &hook, &c), 0);
	for (i = 0; i < 40; i++) {
		struct fs_item *it = calloc(1, sizeof(*it));

		ck_assert_ptr_nonnull(it);
		it->rec = fs_scored(99, i, 10, 12, "m");
		it->item.group.records = &it->rec;
		it->item.group.count = 1;
		ck_assert_int_eq(fb_committer_submit(c, &it->item), 0);
	}
	fb_committer_free(c);
	ck_assert_uint_eq(hook.groups, 40);
	ck_assert_uint_eq(hook.failures, 0);
	ck_assert_uint_le(hook.largest, 3);
	ck_assert_uint_eq(fs_totals(s).count, 40);
	fb_store_sqlite.close(s);
}
END_TEST

/* ---- prediction log ------------------------------------------------------------------- */

struct fs_logged_count {
	pthread_mutex_t lock;
	size_t written;
	size_t failed;
};

static void
fs_predlog_hook(void *ud, size_t n, int r)
{
	struct fs_logged_count *c = ud;

	pthread_mutex_lock(&c->lock);
	if (r == 0)
		c->written += n;
	else
		c->failed += n;
	pthread_mutex_unlock(&c->lock);
}

START_TEST(predlog_full_queue_drops_and_never_waits)
{
	struct fs_logged_count count = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rulsrv_prediction items[10];
	struct rulsrv_prediction_batch b = { .model = "m", .version = "2", .timestamp = 1e9,
					     .count = 10, .item_size = sizeof(items[0]), .items = items };
	struct fb_store *s = fs_open();
	struct fb_predlog *p;
	size_t dropped, n = 0;
	int i;

	for (i = 0; i < 10; i++)
		items[i] = (struct rulsrv_prediction){ .unit = 5, .cycle = i + 1, .rul = 50 - i };
	ck_assert_int_eq(fb_predlog_new(&fb_store_sqlite, s, 4, fs_predlog_hook, &count, &p), 0);
	dropped = fb_predlog_push(p, &b);
	/* the writer may already have taken some: at most 4 queued at once, never all 10 */
	ck_assert_uint_ge(dropped, 1);
	ck_assert_uint_le(dropped, 6);
	fb_predlog_free(p); /* writes what is queued */
	ck_assert_uint_eq(count.written, 10 - dropped);
	ck_assert_uint_eq(count.failed, 0);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 5, -1, fs_count_logged_v2, &n), 0);
	ck_assert_uint_eq(n, 10 - dropped);
	fb_store_sqlite.close(s);
}
END_TEST

/* A store that cannot take a chunk yet (-EAGAIN the first times: a database out of reach),
 * then can: the log tries the same chunk again, and every prediction is stored once. */
static atomic_int fs_refusals;

static int
fs_log_refusing(struct fb_store *s, const struct fb_logged *p, size_t n)
{
	if (atomic_fetch_sub(&fs_refusals, 1) > 0)
		return -EAGAIN;
	return fb_store_sqlite.log_predictions(s, p, n);
}

START_TEST(predlog_retries_a_chunk_the_store_could_not_take)
{
	struct fs_logged_count count = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rulsrv_prediction items[10];
	struct rulsrv_prediction_batch b = { .model = "m", .version = "2", .timestamp = 1e9,
					     .count = 10, .item_size = sizeof(items[0]), .items = items };
	struct fb_store_ops ops = fb_store_sqlite;
	struct fb_store *s = fs_open();
	struct fb_predlog *p;
	size_t n = 0, written = 0;
	int i;

	ops.log_predictions = fs_log_refusing;
	atomic_store(&fs_refusals, 3);
	for (i = 0; i < 10; i++)
		items[i] = (struct rulsrv_prediction){ .unit = 6, .cycle = i + 1, .rul = 50 - i };
	ck_assert_int_eq(fb_predlog_new(&ops, s, 1024, fs_predlog_hook, &count, &p), 0);
	ck_assert_uint_eq(fb_predlog_push(p, &b), 0);
	for (i = 0; i < 500 && written < 10; i++) {
		usleep(10000);
		pthread_mutex_lock(&count.lock);
		written = count.written;
		pthread_mutex_unlock(&count.lock);
	}
	ck_assert_uint_eq(written, 10);
	ck_assert_int_le(atomic_load(&fs_refusals), 0); /* it was refused three times */
	fb_predlog_free(p);
	ck_assert_uint_eq(count.failed, 0);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 6, -1, fs_count_logged_v2, &n), 0);
	ck_assert_uint_eq(n, 10);
	fb_store_sqlite.close(s);
}
END_TEST

/* A store with max_log_batch (PostgreSQL's 4096) is never given more per call: its
 * transaction, holding locks other daemons wait for, stays short. */
static atomic_size_t fs_largest_call;

static int
fs_log_sized(struct fb_store *s, const struct fb_logged *p, size_t n)
{
	size_t was = atomic_load(&fs_largest_call);

	while (n > was && !atomic_compare_exchange_weak(&fs_largest_call, &was, n))
		;
	return fb_store_sqlite.log_predictions(s, p, n);
}

START_TEST(predlog_keeps_to_the_stores_max_log_batch)
{
	struct fs_logged_count count = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rulsrv_prediction items[100];
	struct rulsrv_prediction_batch b = { .model = "m", .version = "2", .timestamp = 1e9,
					     .count = 100, .item_size = sizeof(items[0]), .items = items };
	struct fb_store_ops ops = fb_store_sqlite;
	struct fb_store *s = fs_open();
	struct fb_predlog *p;
	size_t n = 0;
	int i;

	ops.log_predictions = fs_log_sized;
	ops.max_log_batch = 7;
	atomic_store(&fs_largest_call, 0);
	for (i = 0; i < 100; i++)
		items[i] = (struct rulsrv_prediction){ .unit = 8, .cycle = i + 1, .rul = 50 - i };
	ck_assert_int_eq(fb_predlog_new(&ops, s, 1024, fs_predlog_hook, &count, &p), 0);
	ck_assert_uint_eq(fb_predlog_push(p, &b), 0);
	fb_predlog_free(p); /* writes what is queued */
	ck_assert_uint_eq(count.written, 100);
	ck_assert_uint_eq(atomic_load(&fs_largest_call), 7);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 8, -1, fs_count_logged_v2, &n), 0);
	ck_assert_uint_eq(n, 100);
	fb_store_sqlite.close(s);
}
END_TEST

/* ---- the built plugin ------------------------------------------------------------------ */

/* The daemon loads feedback.so with RTLD_NOW | RTLD_LOCAL: it must resolve alone and export
 * nothing but its descriptor. */
START_TEST(load_plugin_exports_only_its_descriptor)
{
	const struct rulsrv_plugin_descriptor *d;
	char path[512];
	void *h;

	snprintf(path, sizeof(path), "%s/plugins/feedback.so", RULSRV_BUILD_DIR);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
	d = dlsym(h, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_uint_eq(d->abi_minor, RULSRV_PLUGIN_ABI_MINOR);
	ck_assert_str_eq(d->name, "feedback");
	ck_assert_str_eq(d->kind, "feedback");
	ck_assert_ptr_nonnull(d->init);
	ck_assert_ptr_nonnull(d->fini);
	ck_assert_ptr_null(dlsym(h, "fb_parse"));
	ck_assert_ptr_null(dlsym(h, "fb_store_sqlite"));
	ck_assert_ptr_null(dlsym(h, "bundle_load")); /* rulsrv_lib stays inside */
	dlclose(h);
}
END_TEST

static int
fs_count_any(void *ud, const struct fb_logged *p)
{
	(*(size_t *)ud)++;
	return 0;
}

START_TEST(store_expire_deletes_old_predictions_in_chunks)
{
	struct fb_store *s = fs_open();
	size_t deleted, n = 0;
	int64_t c;

	for (c = 1; c <= 5; c++) /* five segments of unit 1, timestamp 1700000000 */
		fs_log(s, 1, c, c, 100, "m");
	ck_assert_int_eq(fb_store_sqlite.expire_predictions(s, 1700000000, 10, &deleted), 0);
	ck_assert_uint_eq(deleted, 0);
	ck_assert_int_eq(fb_store_sqlite.expire_predictions(s, 1700000001, 3, &deleted), 0);
	ck_assert_uint_eq(deleted, 3);
	ck_assert_int_eq(fb_store_sqlite.expire_predictions(s, 1700000001, 3, &deleted), 0);
	ck_assert_uint_eq(deleted, 2);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 1, -1, fs_count_any, &n), 0);
	ck_assert_uint_eq(n, 0);
	fb_store_sqlite.close(s);
}
END_TEST

START_TEST(predlog_retention_expires_old_predictions)
{
	struct fs_logged_count count = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rulsrv_prediction item = { .unit = 2, .cycle = 9, .rul = 42 };
	struct rulsrv_prediction_batch b = { .model = "m", .version = "2", .count = 1,
					     .item_size = sizeof(item), .items = &item };
	struct fb_store *s = fs_open();
	struct fb_predlog *p;
	size_t n = 0;

	b.timestamp = (double)time(NULL);
	fs_log(s, 2, 1, 5, 100, "m"); /* 2023: older than a day */
	ck_assert_int_eq(fb_predlog_new(&fb_store_sqlite, s, 16, fs_predlog_hook, &count, &p), 0);
	fb_predlog_set_retention(p, 86400);
	ck_assert_uint_eq(fb_predlog_push(p, &b), 0);
	fb_predlog_free(p);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 2, -1, fs_count_any, &n), 0);
	ck_assert_uint_eq(n, 1);
	fb_store_sqlite.close(s);
}
END_TEST

/* ---- schema 3: segments, and files of the row-per-prediction schema 2 -------------------- */

/* A prediction log file as schema 2 wrote it: one row per prediction. */
static const char fs_schema_2[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE predictions(id INTEGER PRIMARY KEY, unit INTEGER NOT NULL,"
	" cycle INTEGER NOT NULL, rul REAL NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,"
	" ts REAL NOT NULL, scored INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX predictions_unit_cycle ON predictions(unit, cycle);"
	"CREATE INDEX predictions_unscored ON predictions(unit, cycle) WHERE scored = 0;"
	"CREATE INDEX predictions_ts ON predictions(ts);"
	"CREATE TABLE feedback(id INTEGER PRIMARY KEY, unit INTEGER NOT NULL,"
	" cycle INTEGER NOT NULL, predicted REAL NOT NULL, actual REAL NOT NULL,"
	" model TEXT NOT NULL, source TEXT NOT NULL, prediction_id INTEGER, ts REAL NOT NULL);"
	"CREATE INDEX feedback_model ON feedback(model, id);"
	"CREATE INDEX feedback_late ON feedback(id) WHERE source = 'failure_late';"
	"CREATE TABLE failures(id INTEGER PRIMARY KEY, unit INTEGER NOT NULL,"
	" failed_at_cycle INTEGER NOT NULL, scored INTEGER NOT NULL, ts REAL NOT NULL,"
	" model TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX failures_unit ON failures(unit, id);"
	"CREATE TABLE totals(model TEXT PRIMARY KEY, count INTEGER NOT NULL,"
	" squared_error_sum REAL NOT NULL, abs_error_sum REAL NOT NULL, nasa_score REAL NOT NULL);"
	"INSERT INTO meta VALUES('schema_version', '2');"
	/* unit 3, cycles 1 to 4; cycle 2 was scored by a posted record (feedback row 1) */
	"INSERT INTO predictions VALUES(1, 3, 1, 40, 'm', '1', 1700000000, 0);"
	"INSERT INTO predictions VALUES(2, 3, 2, 39, 'm', '1', 1700000000, 1);"
	"INSERT INTO predictions VALUES(3, 3, 3, 38, 'm', '1', 1700000000, 0);"
	"INSERT INTO predictions VALUES(4, 3, 4, 37, 'm', '1', 1700000000, 0);"
	"INSERT INTO feedback VALUES(1, 3, 2, 39, 38, 'm', 'matched', 2, 1700000050);"
	"INSERT INTO totals VALUES('m', 1, 1, 1, 0.08);";

static int
fs_sum_rul(void *ud, const struct fb_logged *p)
{
	*(double *)ud += p->rul;
	return 0;
}

/* A file the old code wrote opens, keeps its predictions, and scores each exactly once. */
START_TEST(store_opens_and_scores_a_version_2_file)
{
	struct fb_record match = { .kind = FB_RECORD_MATCH, .unit = 3, .cycle = 4, .actual = 36 };
	struct fb_store *s;
	struct fb_group g;
	sqlite3_stmt *st;
	sqlite3 *db;
	double rul = 0;
	size_t n = 0;

	ck_assert_int_eq(sqlite3_open(fs_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, fs_schema_2, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = fs_open();
	ck_assert_int_eq(fs_schema_version(s), 3);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 3, -1, fs_count_any, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 3, 3, fs_sum_rul, &rul), 0);
	ck_assert_double_eq(rul, 38);
	/* the old feedback row names the same prediction in the new numbering */
	ck_assert_int_eq(sqlite3_prepare_v2(fb_sqlite_writer(s),
					    "SELECT prediction_id FROM feedback WHERE id = 1", -1,
					    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int64(st, 0), 2 * 1024);
	sqlite3_finalize(st);
	/* a match still finds an old prediction; the failure then scores cycles 1 and 3 only */
	ck_assert_int_eq(fs_apply(s, &match, 1, &g), 0);
	ck_assert_double_eq(g.scored[0].predicted, 37);
	free(g.scored);
	ck_assert_uint_eq(fs_fail(s, 3, 10, "", 1700000100), 2);
	ck_assert_uint_eq(fs_fail(s, 3, 10, "", 1700000200), 0);
	ck_assert_uint_eq(fs_totals(s).count, 4);
	/* new predictions land beside the old ones and are scored late, once */
	fs_log_at(s, 3, 5, 6, 40, "m", 1700000000);
	ck_assert_uint_eq(fs_totals(s).count, 6);
	n = 0;
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 3, -1, fs_count_any, &n), 0);
	ck_assert_uint_eq(n, 6);
	fb_store_sqlite.close(s);
	/* and the file opens again as it is */
	s = fs_open();
	ck_assert_uint_eq(fs_totals(s).count, 6);
	fb_store_sqlite.close(s);
}
END_TEST

#define FS_BURST_BATCHES 400 /* per thread, of 256 predictions: 204,800 in all */

struct fs_burst {
	struct fb_predlog *log;
	int64_t unit0;
	size_t dropped;
};

/* One predicting thread: as fast as it can, batches of 256 engines, one cycle each. */
static void *
fs_burst_main(void *arg)
{
	struct fs_burst *b = arg;
	struct rulsrv_prediction items[256];
	struct rulsrv_prediction_batch batch = { .model = "m", .version = "1",
						 .timestamp = 1700000000, .count = 256,
						 .item_size = sizeof(items[0]), .items = items };
	int i, k;

	for (i = 0; i < FS_BURST_BATCHES; i++) {
		for (k = 0; k < 256; k++)
			items[k] = (struct rulsrv_prediction){ .unit = b->unit0 + k, .cycle = i + 1,
							       .rul = 500 - i };
		b->dropped += fb_predlog_push(b->log, &batch);
	}
	return NULL;
}

/* Three times the old fixed queue of 65536 at once, from two threads: nothing is dropped, all
 * of it is stored, and a failure event scores each of a unit's predictions exactly once. */
START_TEST(predlog_burst_far_over_the_old_queue_drops_nothing)
{
	struct fs_logged_count count = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fs_burst b[2] = { { .unit0 = 1 }, { .unit0 = 1001 } };
	struct fb_store *s = fs_open();
	pthread_t t[2];
	size_t n = 0;
	int i;

	ck_assert_int_eq(fb_predlog_new(&fb_store_sqlite, s, 1u << 20, fs_predlog_hook, &count,
					&b[0].log), 0);
	b[1].log = b[0].log;
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fs_burst_main, &b[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	fb_predlog_free(b[0].log); /* writes what is queued */
	ck_assert_uint_eq(b[0].dropped + b[1].dropped, 0);
	ck_assert_uint_eq(count.written, 2 * FS_BURST_BATCHES * 256);
	ck_assert_uint_eq(count.failed, 0);
	ck_assert_int_eq(fb_store_sqlite.lookup(s, 1001, -1, fs_count_any, &n), 0);
	ck_assert_uint_eq(n, FS_BURST_BATCHES);
	/* unit 7 failed at cycle 300: its cycles 1 to 300, once */
	ck_assert_uint_eq(fs_fail(s, 7, 300, "", 1700000100), 300);
	ck_assert_uint_eq(fs_fail(s, 7, FS_BURST_BATCHES, "", 1700000200), FS_BURST_BATCHES - 300);
	ck_assert_uint_eq(fs_fail(s, 7, FS_BURST_BATCHES, "", 1700000300), 0);
	ck_assert_uint_eq(fs_totals(s).count, FS_BURST_BATCHES);
	fb_store_sqlite.close(s);
}
END_TEST

Suite *feedback_store_suite(void);

Suite *
feedback_store_suite(void)
{
	Suite *s = suite_create("feedback_store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, store_is_wal_with_full_sync);
	tcase_add_test(tc, store_missing_directory_is_one_clear_error);
	tcase_add_test(tc, store_refuses_a_file_that_is_no_database);
	tcase_add_test(tc, store_scored_records_persist_across_reopen);
	tcase_add_test(tc, store_unmatched_record_fails_its_whole_group_only);
	tcase_add_test(tc, store_match_takes_the_logged_prediction);
	tcase_add_test(tc, store_posted_prediction_takes_the_logged_model);
	tcase_add_test(tc, store_failure_scores_each_unscored_prediction_once);
	tcase_add_test(tc, store_prediction_logged_after_its_failure_is_scored_once);
	tcase_add_test(tc, store_prediction_made_after_the_failure_is_a_new_life);
	tcase_add_test(tc, store_late_scoring_keeps_to_the_event_model);
	tcase_add_test(tc, store_posted_record_marks_the_logged_prediction);
	tcase_add_test(tc, store_upgrades_a_version_1_file);
	tcase_add_test(tc, store_recent_returns_the_last_records_oldest_first);
	tcase_add_test(tc, store_lookup_finds_logged_predictions);
	tcase_add_test(tc, commit_every_acknowledged_record_is_stored);
	tcase_add_test(tc, commit_stop_drains_the_queue_in_bounded_groups);
	tcase_add_test(tc, predlog_full_queue_drops_and_never_waits);
	tcase_add_test(tc, predlog_retries_a_chunk_the_store_could_not_take);
	tcase_add_test(tc, predlog_keeps_to_the_stores_max_log_batch);
	tcase_add_test(tc, store_expire_deletes_old_predictions_in_chunks);
	tcase_add_test(tc, predlog_retention_expires_old_predictions);
	tcase_add_test(tc, store_opens_and_scores_a_version_2_file);
	tcase_add_test(tc, predlog_burst_far_over_the_old_queue_drops_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, parse_the_three_forms);
	tcase_add_test(tc, parse_errors_name_the_place);
	tcase_add_test(tc, parse_batch_over_the_limit_is_413);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, load_plugin_exports_only_its_descriptor);
	suite_add_tcase(s, tc);

	tc = tcase_create("accuracy");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, accuracy_terms_follow_spec_section_3);
	tcase_add_test(tc, accuracy_window_keeps_the_last_records);
	tcase_add_test(tc, accuracy_window_running_sums_do_not_drift);
	suite_add_tcase(s, tc);
	return s;
}
