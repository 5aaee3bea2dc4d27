/* SPDX-License-Identifier: MIT */
/* test_feedback_store_pg.c - the PostgreSQL feedback store against a throwaway server. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "clocks.h"
#include "harness/pg_server.h"
#include "need.h"
#include "segment.h"
#include "store.h"

/* SQL: the predictions a segment holds are length(items) / FB_ITEM_BYTES */
#define SP_STR_(x) #x
#define SP_STR(x) SP_STR_(x)
#define FP_ITEM SP_STR(FB_ITEM_BYTES)

static struct pg_server sp_pg;

static void
sp_setup(void)
{
	char why[1024];

	ck_assert_msg(pg_server_start(&sp_pg, "feedback_store", why, sizeof(why)) == 0, "%s",
		      why);
}

static void
sp_teardown(void)
{
	pg_server_cleanup(&sp_pg);
}

static struct fb_store *
sp_open(void)
{
	struct fb_store_config cfg = { .rul_cap = 125, .timeout_ms = 2000 };
	struct fb_store *s = NULL;
	char err[512];

	ck_assert_msg(fb_store_pg.open(sp_pg.dsn, &cfg, &s, err, sizeof(err)) == 0, "%s", err);
	return s;
}

static void
sp_log(struct fb_store *s, int64_t unit, int64_t first, int64_t last, double ts)
{
	struct fb_logged p[512];
	int64_t c;
	size_t n = 0;

	for (c = first; c <= last; c++)
		p[n++] = (struct fb_logged){ .unit = unit, .cycle = c, .rul = 100.0 - (double)c,
					     .timestamp = ts, .model = "m", .version = "1" };
	ck_assert_int_eq(fb_store_pg.log_predictions(s, p, n), 0);
}

/* Applied now: received_at is the time of the event for the late rule. */
static int
sp_apply(struct fb_store *s, struct fb_record rec, size_t *scored)
{
	struct fb_group g = { .records = &rec, .count = 1, .received_at = clocks_realtime() };

	ck_assert_int_eq(fb_store_pg.apply(s, &g, 1), 0);
	*scored = g.scored_count;
	free(g.scored);
	return g.status;
}

static struct fb_record
sp_failure(int64_t unit, int64_t failed_at)
{
	return (struct fb_record){ .kind = FB_RECORD_FAILURE, .unit = unit, .failed_at = failed_at };
}

static int
sp_sum_totals(void *ud, const struct fb_totals *t)
{
	*(uint64_t *)ud += t->count;
	return 0;
}

static uint64_t
sp_count(struct fb_store *s)
{
	uint64_t n = 0;

	ck_assert_int_eq(fb_store_pg.totals(s, sp_sum_totals, &n), 0);
	return n;
}

static int
sp_count_scored(void *ud, const struct fb_scored *sc)
{
	(void)sc;
	(*(size_t *)ud)++;
	return 0;
}

/* A match, a failure event after it and a repeated event: each prediction counted once, the
 * late rule for predictions logged after their event, a new life of the unit left alone. */
START_TEST(pg_store_scores_each_prediction_once)
{
	struct fb_store *s = sp_open();
	double now = clocks_realtime();
	struct fb_record match = { .kind = FB_RECORD_MATCH, .unit = 1, .cycle = 3, .actual = 7 };
	size_t scored, late = 0;
	int64_t after = 0, last;

	sp_log(s, 1, 1, 5, now - 10);
	ck_assert_int_eq(sp_apply(s, match, &scored), 0);
	ck_assert_uint_eq(scored, 1);
	ck_assert_int_eq(sp_apply(s, sp_failure(1, 10), &scored), 0);
	ck_assert_uint_eq(scored, 4); /* cycles 1, 2, 4, 5 */
	ck_assert_int_eq(sp_apply(s, sp_failure(1, 10), &scored), 0);
	ck_assert_uint_eq(scored, 0);
	match.cycle = 99;
	ck_assert_int_eq(sp_apply(s, match, &scored), -ENOENT);
	/* unit 2: the event first, then predictions made before it arrived (late), and one made
	 * after it (a new life of the unit number: not scored) */
	ck_assert_int_eq(sp_apply(s, sp_failure(2, 50), &scored), 0);
	ck_assert_uint_eq(scored, 0);
	sp_log(s, 2, 40, 42, now - 3);
	sp_log(s, 2, 43, 43, clocks_realtime() + 1);
	ck_assert_int_eq(fb_store_pg.late(s, &after, 100, sp_count_scored, &late), 0);
	ck_assert_uint_eq(late, 3);
	ck_assert_uint_eq(sp_count(s), 8);
	ck_assert_int_eq(fb_store_pg.last_id(s, &last), 0);
	ck_assert_int_eq(last, after);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(unscored) FROM feedback_segments"), 1);
	fb_store_pg.close(s);
	/* reopened: the all-time figures are the store's */
	s = sp_open();
	ck_assert_uint_eq(sp_count(s), 8);
	fb_store_pg.close(s);
}
END_TEST

#define SP_UNITS 200
#define SP_CYCLES 20

struct sp_race {
	struct fb_store *s;
	double t0;
	int failed;
	int first_error;
};

/* "Daemon B": logs every unit's predictions, a unit at a time, as its events arrive on A. */
static void *
sp_race_log(void *arg)
{
	struct sp_race *r = arg;
	int64_t u;

	for (u = 0; u < SP_UNITS; u++) {
		struct fb_logged p[SP_CYCLES];
		int c;

		for (c = 0; c < SP_CYCLES; c++)
			p[c] = (struct fb_logged){ .unit = 1000 + u, .cycle = c + 1, .rul = 50,
						   .timestamp = r->t0, .model = "m", .version = "1" };
		int e = fb_store_pg.log_predictions(r->s, p, SP_CYCLES);

		if (e != 0) { /* once more, after the back-off: a client of a slow machine */
			usleep(600000);
			e = fb_store_pg.log_predictions(r->s, p, SP_CYCLES);
		}

		if (e != 0 && r->failed++ == 0)
			r->first_error = e;
	}
	return NULL;
}

/* A failure event that failed (a 503: on a loaded machine, out of time) is sent again, as
 * a client would; an event is safe to repeat. */
static int
sp_retry_apply(struct fb_store *s, struct fb_group *g)
{
	int e = 0, i;

	for (i = 0; i < 5; i++) {
		free(g->scored);
		g->scored = NULL;
		e = fb_store_pg.apply(s, g, 1);
		if (e == 0 && g->status == 0)
			return 0;
		usleep(600000);
	}
	return e != 0 ? e : g->status;
}

/* "Daemon A": the failure event of every unit, racing the log of B. */
static void *
sp_race_fail(void *arg)
{
	struct sp_race *r = arg;
	int64_t u;

	for (u = 0; u < SP_UNITS; u++) {
		struct fb_record rec = sp_failure(1000 + u, SP_CYCLES);
		struct fb_group g = { .records = &rec, .count = 1, .received_at = clocks_realtime() };

		int e = sp_retry_apply(r->s, &g);

		if (e != 0 && r->failed++ == 0)
			r->first_error = e;
		free(g.scored);
	}
	return NULL;
}

/* Two stores on one database (two daemons): predictions logged on one, failure events on the
 * other at the same moment. Every prediction is scored, and once. */
START_TEST(pg_store_two_daemons_score_exactly_once)
{
	struct sp_race a = { .s = sp_open(), .t0 = clocks_realtime() - 1 };
	struct sp_race b = { .s = sp_open(), .t0 = a.t0 };
	pthread_t ta, tb;
	double logged;

	pthread_create(&tb, NULL, sp_race_log, &b);
	pthread_create(&ta, NULL, sp_race_fail, &a);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_msg(a.failed + b.failed == 0, "failed: %d events (first %d), %d logs (first %d)",
		      a.failed, a.first_error, b.failed, b.first_error);
	/* a log write retried after its outcome was unknown may have logged twice: count
	 * against the rows there are */
	logged = pg_server_value(&sp_pg, "SELECT sum(length(items) / " FP_ITEM ")"
					 " FROM feedback_segments");
	ck_assert_double_ge(logged, SP_UNITS * SP_CYCLES);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(*) FROM feedback_records"),
			    logged);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(DISTINCT prediction_id)"
						    " FROM feedback_records"), logged);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(unscored) FROM feedback_segments"), 0);
	ck_assert_double_eq((double)sp_count(a.s), logged);
	ck_assert_double_eq((double)sp_count(b.s), logged);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(scored) FROM feedback_failures"),
			    logged);
	fb_store_pg.close(a.s);
	fb_store_pg.close(b.s);
}
END_TEST

/* Schema 1 as rulsrv wrote it (one row per prediction), with rows: unit 1 cycles 1 to 3 (the
 * second matched), unit 2 cycle 5, and 2,000 predictions of unit 9 that a failure event scored
 * (so that prediction id * 1024 of one is the old id of another). */
static const char sp_schema_1[] =
	"CREATE TABLE schema_version(component text PRIMARY KEY, version integer NOT NULL);"
	"INSERT INTO schema_version VALUES('feedback', 1);"
	"CREATE TABLE feedback_predictions(id bigserial PRIMARY KEY, unit bigint NOT NULL,"
	" cycle bigint NOT NULL, rul double precision NOT NULL, ts double precision NOT NULL,"
	" model text NOT NULL, version text NOT NULL, scored boolean NOT NULL DEFAULT false);"
	"CREATE INDEX feedback_predictions_unit ON feedback_predictions(unit, cycle, id);"
	"CREATE INDEX feedback_predictions_open ON feedback_predictions(unit, id) WHERE NOT scored;"
	"CREATE INDEX feedback_predictions_ts ON feedback_predictions(ts);"
	"CREATE TABLE feedback_records(id bigserial PRIMARY KEY, unit bigint NOT NULL,"
	" cycle bigint NOT NULL, predicted double precision NOT NULL,"
	" actual double precision NOT NULL, model text NOT NULL, source text NOT NULL,"
	" prediction_id bigint, ts double precision NOT NULL);"
	"CREATE INDEX feedback_records_model ON feedback_records(model, id);"
	"CREATE INDEX feedback_records_late ON feedback_records(id) WHERE source = 'failure_late';"
	"CREATE UNIQUE INDEX feedback_records_failure_once ON feedback_records(prediction_id)"
	" WHERE source IN ('failure', 'failure_late');"
	"CREATE TABLE feedback_failures(id bigserial PRIMARY KEY, unit bigint NOT NULL,"
	" failed_at_cycle bigint NOT NULL, scored bigint NOT NULL, ts double precision NOT NULL,"
	" model text NOT NULL DEFAULT '');"
	"CREATE INDEX feedback_failures_unit ON feedback_failures(unit, id);"
	"CREATE TABLE feedback_totals(model text PRIMARY KEY, count bigint NOT NULL,"
	" squared_error_sum double precision NOT NULL, abs_error_sum double precision NOT NULL,"
	" nasa_score double precision NOT NULL);"
	"INSERT INTO feedback_predictions(unit, cycle, rul, ts, model, version, scored) VALUES"
	" (1, 1, 99.5, 1000, 'm', '1', false), (1, 2, 98.25, 1000, 'm', '1', true),"
	" (1, 3, 97, 1001, 'm', '1', false), (2, 5, 60, 1002, 'm', '1', false);"
	"INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
	" prediction_id, ts) VALUES(1, 2, 98.25, 90, 'm', 'matched', 2, 1003);"
	"INSERT INTO feedback_predictions(unit, cycle, rul, ts, model, version, scored)"
	" SELECT 9, c, 50, 1004, 'm', '1', true FROM generate_series(1, 2000) AS c;"
	"INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source,"
	" prediction_id, ts) SELECT 9, cycle, rul, 2000 - cycle, 'm', 'failure', id, 1005"
	" FROM feedback_predictions WHERE unit = 9 ORDER BY id;"
	"INSERT INTO feedback_failures(unit, failed_at_cycle, scored, ts) VALUES(9, 2000, 2000,"
	" 1005);"
	"INSERT INTO feedback_totals VALUES('m', 2001, 0, 0, 0);";

struct sp_seen {
	size_t count;
	double rul_sum;
	int64_t last_cycle;
	bool in_order;
};

static int
sp_see(void *ud, const struct fb_logged *p)
{
	struct sp_seen *seen = ud;

	seen->in_order &= p->cycle > seen->last_cycle;
	seen->last_cycle = p->cycle;
	seen->count++;
	seen->rul_sum += p->rul;
	return 0;
}

/* A database of schema 1 is moved to segments when this rulsrv first opens it: every old
 * prediction is still there to read and to score, the scored ones stay scored (once), and the
 * records keep naming the predictions they scored. */
START_TEST(pg_store_migrates_the_rows_of_schema_1)
{
	struct fb_record match = { .kind = FB_RECORD_MATCH, .unit = 1, .cycle = 1, .actual = 80 };
	struct sp_seen seen = { .in_order = true };
	struct fb_store *s;
	size_t scored;

	ck_assert_int_eq(pg_server_sql(&sp_pg, sp_schema_1, NULL), 0);
	s = sp_open();
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT version FROM schema_version"
						    " WHERE component = 'feedback'"), 2);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(*) FROM pg_tables"
						    " WHERE tablename = 'feedback_predictions'"), 0);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(length(items) / " FP_ITEM ")"
						    " FROM feedback_segments"), 2004);
	ck_assert_int_eq(fb_store_pg.lookup(s, 1, -1, sp_see, &seen), 0);
	ck_assert_uint_eq(seen.count, 3);
	ck_assert_double_eq(seen.rul_sum, 99.5 + 98.25 + 97);
	ck_assert(seen.in_order);
	/* the record of old prediction 2 names it by its new id */
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT prediction_id FROM feedback_records"
						    " WHERE unit = 1 AND cycle = 2"), 2 * 1024);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(DISTINCT prediction_id)"
						    " FROM feedback_records WHERE unit = 9"), 2000);
	/* old predictions are matched and scored by a failure event; the scored ones are not
	 * scored again */
	ck_assert_int_eq(sp_apply(s, match, &scored), 0);
	ck_assert_uint_eq(scored, 1);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT prediction_id FROM feedback_records"
						    " WHERE unit = 1 AND cycle = 1"), 1 * 1024);
	ck_assert_int_eq(sp_apply(s, sp_failure(1, 10), &scored), 0);
	ck_assert_uint_eq(scored, 1); /* cycle 3 */
	ck_assert_int_eq(sp_apply(s, sp_failure(9, 3000), &scored), 0);
	ck_assert_uint_eq(scored, 0);
	/* a new prediction beside an old one of the same unit: both scored, by distinct ids */
	sp_log(s, 2, 6, 6, clocks_realtime() - 5);
	ck_assert_int_eq(sp_apply(s, sp_failure(2, 10), &scored), 0);
	ck_assert_uint_eq(scored, 2);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(DISTINCT prediction_id)"
						    " FROM feedback_records WHERE unit = 2"), 2);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT min(prediction_id) FROM"
						    " feedback_records WHERE unit = 2"), 4 * 1024);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(unscored) FROM feedback_segments"),
			    0);
	ck_assert_uint_eq(sp_count(s), 2001 + 4);
	fb_store_pg.close(s);
}
END_TEST

static int
sp_count_logged(void *ud, const struct fb_logged *p)
{
	(void)p;
	(*(size_t *)ud)++;
	return 0;
}

static size_t
sp_logged(struct fb_store *s, int64_t unit, int64_t cycle)
{
	size_t n = 0;

	ck_assert_int_eq(fb_store_pg.lookup(s, unit, cycle, sp_count_logged, &n), 0);
	return n;
}

/* One call of more than a segment holds, of two models, interleaved: each unit and model's
 * predictions are read back in the order logged, and each is scored once. */
START_TEST(pg_store_splits_a_batch_into_segments)
{
	static struct fb_logged p[900];
	struct fb_store *s = sp_open();
	struct fb_record match = { .kind = FB_RECORD_MATCH, .unit = 4, .cycle = 550, .actual = 5,
				   .model = "a" };
	double ts = clocks_realtime() - 10;
	size_t i, n = 0, scored;

	for (i = 0; i < 600; i++) {
		p[n++] = (struct fb_logged){ .unit = 4, .cycle = (int64_t)i + 1,
					     .rul = 600.0 - (double)i, .timestamp = ts, .model = "a",
					     .version = "1" };
		if (i % 2 == 0)
			p[n++] = (struct fb_logged){ .unit = 4, .cycle = (int64_t)i + 1, .rul = 1,
						     .timestamp = ts, .model = "b", .version = "1" };
	}
	ck_assert_int_eq(fb_store_pg.log_predictions(s, p, n), 0);
	/* a: 512 + 88, b: 300 */
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(*) FROM feedback_segments"), 3);
	ck_assert_uint_eq(sp_logged(s, 4, -1), 900);
	ck_assert_uint_eq(sp_logged(s, 4, 551), 2);
	/* model a's prediction of cycle 550, in its second segment: RUL 600 - 549 */
	ck_assert_int_eq(sp_apply(s, match, &scored), 0);
	ck_assert_uint_eq(scored, 1);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT predicted FROM feedback_records"
						    " WHERE cycle = 550"), 51);
	ck_assert_int_eq(sp_apply(s, sp_failure(4, 1000), &scored), 0);
	ck_assert_uint_eq(scored, 899);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT count(DISTINCT prediction_id)"
						    " FROM feedback_records"), 900);
	ck_assert_double_eq(pg_server_value(&sp_pg, "SELECT sum(unscored) FROM feedback_segments"),
			    0);
	fb_store_pg.close(s);
}
END_TEST

/* A repeat (store.h) is stored only when the log lacks its unit, cycle and model's prediction
 * with its RUL. */
START_TEST(pg_store_logs_a_repeat_once)
{
	struct fb_store *s = sp_open();
	double ts = clocks_realtime();
	struct fb_logged p = { .unit = 3, .cycle = 5, .rul = 40.25, .timestamp = ts, .model = "m",
			       .version = "1" };

	ck_assert_int_eq(fb_store_pg.log_predictions(s, &p, 1), 0);
	p.repeat = true;
	ck_assert_int_eq(fb_store_pg.log_predictions(s, &p, 1), 0); /* the same: dropped */
	ck_assert_uint_eq(sp_logged(s, 3, 5), 1);
	p.rul = 41;
	ck_assert_int_eq(fb_store_pg.log_predictions(s, &p, 1), 0); /* another RUL: kept */
	p.cycle = 6;
	ck_assert_int_eq(fb_store_pg.log_predictions(s, &p, 1), 0); /* never logged: kept */
	ck_assert_uint_eq(sp_logged(s, 3, -1), 3);
	fb_store_pg.close(s);
}
END_TEST

/* Expiry deletes a segment once all of its predictions are older, up to limit a call. */
START_TEST(pg_store_expires_whole_segments)
{
	struct fb_store *s = sp_open();
	struct fb_logged mixed[2] = {
		{ .unit = 2, .cycle = 1, .rul = 9, .timestamp = 1000, .model = "m", .version = "1" },
		{ .unit = 2, .cycle = 2, .rul = 8, .timestamp = 2000, .model = "m", .version = "1" },
	};
	size_t deleted;
	int64_t c;

	for (c = 1; c <= 3; c++) /* three segments of unit 1 */
		sp_log(s, 1, c, c, 1000);
	ck_assert_int_eq(fb_store_pg.log_predictions(s, mixed, 2), 0);
	ck_assert_int_eq(fb_store_pg.expire_predictions(s, 1000, 10, &deleted), 0);
	ck_assert_uint_eq(deleted, 0);
	ck_assert_int_eq(fb_store_pg.expire_predictions(s, 1500, 2, &deleted), 0);
	ck_assert_uint_eq(deleted, 2);
	ck_assert_int_eq(fb_store_pg.expire_predictions(s, 1500, 2, &deleted), 0);
	ck_assert_uint_eq(deleted, 1);
	ck_assert_int_eq(fb_store_pg.expire_predictions(s, 1500, 2, &deleted), 0);
	ck_assert_uint_eq(deleted, 0);
	ck_assert_uint_eq(sp_logged(s, 1, -1), 0);
	ck_assert_uint_eq(sp_logged(s, 2, -1), 2); /* one of its predictions is newer */
	fb_store_pg.close(s);
}
END_TEST

/* A database written by a newer rulsrv is refused, naming both versions. */
START_TEST(pg_store_refuses_a_newer_schema)
{
	struct fb_store_config cfg = { .rul_cap = 125, .timeout_ms = 2000 };
	struct fb_store *s = sp_open();
	char err[512];

	fb_store_pg.close(s);
	ck_assert_int_eq(pg_server_sql(&sp_pg, "UPDATE schema_version SET version = 7"
				       " WHERE component = 'feedback'", NULL), 0);
	s = NULL;
	ck_assert_int_eq(fb_store_pg.open(sp_pg.dsn, &cfg, &s, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "schema version 7") != NULL && strstr(err, "up to 2") != NULL,
		      "%s", err);
}
END_TEST

/* A password in the dsn is refused and not repeated in the error. */
START_TEST(pg_store_refuses_a_password_in_the_dsn)
{
	static const char *const dsns[] = {
		"host=127.0.0.1 dbname=x password=s3cr3t",
		"postgresql://user:s3cr3t@127.0.0.1/x",
	};
	struct fb_store_config cfg = { .rul_cap = 125, .timeout_ms = 2000 };
	struct fb_store *s = NULL;
	char err[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(fb_store_pg.open(dsns[i], &cfg, &s, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "password"));
		ck_assert_ptr_null(strstr(err, "s3cr3t"));
	}
}
END_TEST

/* The server stopped: calls fail within the timeout, nothing crashes; started again, the
 * store comes back by itself (after its back-off) with nothing acknowledged lost. */
START_TEST(pg_store_survives_an_outage)
{
	struct fb_store *s = sp_open();
	double now = clocks_realtime();
	char why[1024];
	size_t scored;
	int i, r = -1;

	sp_log(s, 5, 1, 3, now - 10);
	ck_assert_int_eq(sp_apply(s, sp_failure(5, 3), &scored), 0);
	ck_assert_int_eq(pg_server_stop(&sp_pg, true), 0);
	{
		struct fb_record rec = sp_failure(6, 3);
		struct fb_group g = { .records = &rec, .count = 1, .received_at = clocks_realtime() };

		ck_assert_int_lt(fb_store_pg.apply(s, &g, 1), 0);
		ck_assert_int_lt(g.status, 0);
	}
	ck_assert_int_lt(fb_store_pg.ping(s), 0);
	ck_assert_msg(pg_server_restart(&sp_pg, why, sizeof(why)) == 0, "%s", why);
	for (i = 0; i < 100 && r != 0; i++) {
		r = fb_store_pg.ping(s);
		if (r != 0)
			usleep(100000);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(sp_count(s), 3);
	fb_store_pg.close(s);
}
END_TEST

Suite *feedback_store_pg_suite(void);

Suite *
feedback_store_pg_suite(void)
{
	Suite *s = suite_create("feedback_store_pg");
	TCase *tc = tcase_create("store");

	suite_needs(s, "postgresql");
	tcase_add_checked_fixture(tc, sp_setup, sp_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pg_store_scores_each_prediction_once);
	tcase_add_test(tc, pg_store_two_daemons_score_exactly_once);
	tcase_add_test(tc, pg_store_migrates_the_rows_of_schema_1);
	tcase_add_test(tc, pg_store_splits_a_batch_into_segments);
	tcase_add_test(tc, pg_store_logs_a_repeat_once);
	tcase_add_test(tc, pg_store_expires_whole_segments);
	tcase_add_test(tc, pg_store_refuses_a_newer_schema);
	tcase_add_test(tc, pg_store_refuses_a_password_in_the_dsn);
	tcase_add_test(tc, pg_store_survives_an_outage);
	suite_add_tcase(s, tc);
	return s;
}
