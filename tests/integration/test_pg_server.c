/* SPDX-License-Identifier: MIT */
/* test_pg_server.c - the throwaway PostgreSQL of tests/harness/pg_server.h does what it says. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/pg_server.h"
#include "need.h"

/* A row committed before an immediate stop (a crash, for the server) is there after the
 * restart: the cluster runs with fsync on, and the harness's stop, restart and SQL work. */
START_TEST(pg_server_keeps_a_commit_across_an_immediate_stop)
{
	struct pg_server pg;
	char why[1024];

	ck_assert_msg(pg_server_start(&pg, NULL, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_nonnull(strstr(pg.dsn, "host=127.0.0.1"));
	ck_assert_int_eq(pg_server_sql(&pg, "CREATE TABLE t(v int); INSERT INTO t VALUES (42);",
				       NULL), 0);
	{
		char *out = NULL;

		ck_assert_int_eq(pg_server_sql(&pg, "SHOW fsync", &out), 0);
		ck_assert_str_eq(out, "on\n");
		free(out);
	}
	ck_assert_int_eq(pg_server_stop(&pg, true), 0);
	ck_assert(isnan(pg_server_value(&pg, "SELECT v FROM t")));
	ck_assert_msg(pg_server_restart(&pg, why, sizeof(why)) == 0, "%s", why);
	ck_assert_double_eq(pg_server_value(&pg, "SELECT v FROM t"), 42);
	ck_assert_int_eq(pg_server_stop(&pg, false), 0);
	ck_assert_msg(pg_server_restart(&pg, why, sizeof(why)) == 0, "%s", why);
	ck_assert_double_eq(pg_server_value(&pg, "SELECT count(*) FROM t"), 1);
	pg_server_cleanup(&pg);
}
END_TEST

Suite *pg_server_suite(void);

Suite *
pg_server_suite(void)
{
	Suite *s = suite_create("pg_server");
	TCase *tc = tcase_create("cluster");

	suite_needs(s, "postgresql");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pg_server_keeps_a_commit_across_an_immediate_stop);
	suite_add_tcase(s, tc);
	return s;
}
