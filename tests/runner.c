/* SPDX-License-Identifier: MIT */
/* runner.c - the one Check runner; its suite table is generated from tests/<kind>/test_*.c. */
#include <stdlib.h>

#include <check.h>

#include SUITES_HEADER

/* Runs every suite; CK_RUN_SUITE=name and CK_RUN_CASE=name select one (Check's own). */
int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	size_t i;
	int failed;

	for (i = 0; i < sizeof(suite_table) / sizeof(suite_table[0]); i++)
		srunner_add_suite(sr, suite_table[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
