/* SPDX-License-Identifier: MIT */
/* runner.c - the Check runner of one kind of tests: one ctest entry, or every suite for humans. */
#include "need.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

/* SUITES_KIND and suite_table[] { name, make }, generated from tests/<kind>/test_*.c */
#include SUITES_HEADER

#define N_SUITES (sizeof(suite_table) / sizeof(suite_table[0]))
#define EXIT_SKIP 77 /* SKIP_RETURN_CODE of every entry (tests/CMakeLists.txt) */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: %s_tests [SUITE | SUITE.NEED | --list]\n"
		"  (none)      every suite\n"
		"  SUITE       one suite, without its test cases that have a need of their own\n"
		"  SUITE.NEED  the test cases of SUITE that need NEED (tests/need.h)\n"
		"  --list      the entries above, one a line: ctest runs each as %s.ENTRY\n"
		"Exit 0 when every test ran and passed, 1 when one failed, 77 when none failed but\n"
		"some could not run (each says why on a line \"SKIP: ...\"). Check's CK_RUN_CASE,\n"
		"CK_INCLUDE_TAGS, CK_FORK, ... apply as usual.\n",
		SUITES_KIND, SUITES_KIND);
}

/* Build suite i; its declared needs are then need_declared(). */
static Suite *
make_suite(size_t i)
{
	need_declared_reset();
	return suite_table[i].make();
}

static void
free_suite(Suite *s)
{
	srunner_free(srunner_create(s));
}

static bool
in_set(const char *const *set, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(set[i], name) == 0)
			return true;
	return false;
}

/* "a b c": Check's form of a list of tags. NULL when empty (Check then reads its env). */
static const char *
tag_list(char *buf, size_t len, const char *const *set, size_t count)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < count && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i > 0 ? " " : "", set[i]);
	return count > 0 ? buf : NULL;
}

static int
list_entries(void)
{
	for (size_t i = 0; i < N_SUITES; i++) {
		Suite *s = make_suite(i);
		const struct need_set *d = need_declared();

		printf("%s\n", suite_table[i].name);
		for (size_t k = 0; k < d->cases_count; k++)
			printf("%s.%s\n", suite_table[i].name, d->cases[k]);
		free_suite(s);
	}
	return EXIT_SUCCESS;
}

/* The selection env vars of Check: with one set, running nothing is what was asked for. */
static bool
check_selects(void)
{
	return getenv("CK_RUN_SUITE") != NULL || getenv("CK_RUN_CASE") != NULL ||
	       getenv("CK_INCLUDE_TAGS") != NULL;
}

/* After the run: the test_skip reasons, and the exit status of the entry. */
static int
finish(SRunner *sr, const char *entry, size_t skipped)
{
	int ran = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
	size_t runtime = need_skips_report(stdout, entry);

	if (failed > 0)
		return EXIT_FAILURE;
	if (ran == 0 && skipped == 0 && !check_selects()) {
		printf("%s: no test ran: every test case of the suite has a need of its own "
		       "(tcase_needs); declare it for the suite with suite_needs (tests/need.h)\n",
		       entry);
		return EXIT_FAILURE;
	}
	if (runtime > 0)
		printf("%s: %zu of %d tests could not run, the others passed\n", entry, runtime, ran);
	return skipped + runtime > 0 ? EXIT_SKIP : EXIT_SUCCESS;
}

/* Print why the need is not met, if it is not. */
static bool
unmet(const char *entry, const char *need)
{
	char why[1024];

	if (need_met(need, why, sizeof(why)))
		return false;
	printf("SKIP: %s: %s\n", entry, why);
	return true;
}

/* One ctest entry: SUITE (without the test cases that need something of their own) or
 * SUITE.NEED (only those that need NEED). */
static int
run_entry(const char *arg)
{
	char name[128], entry[160], tags[256];
	const char *part = NULL, *exclude = NULL;
	const struct need_set *d;
	size_t i, k, skipped = 0;
	SRunner *sr;
	Suite *s;
	int status;

	snprintf(name, sizeof(name), "%s", arg);
	if (strchr(name, '.') != NULL) {
		part = strchr(arg, '.') + 1;
		*strchr(name, '.') = '\0';
	}
	for (i = 0; i < N_SUITES && strcmp(suite_table[i].name, name) != 0; i++)
		;
	if (i == N_SUITES) {
		fprintf(stderr, "%s_tests: no suite '%s' (--list lists them)\n", SUITES_KIND, name);
		return 2;
	}
	snprintf(entry, sizeof(entry), "%s.%s", SUITES_KIND, arg);
	s = make_suite(i);
	d = need_declared();
	if (part != NULL && !in_set(d->cases, d->cases_count, part)) {
		fprintf(stderr, "%s_tests: no test case of '%s' needs '%s' (--list lists them)\n",
			SUITES_KIND, name, part);
		free_suite(s);
		return 2;
	}
	for (k = 0; k < d->suite_count; k++)
		skipped += unmet(entry, d->suite[k]);
	if (part != NULL && skipped == 0)
		skipped += unmet(entry, part);
	sr = srunner_create(s);
	if (skipped > 0) {
		srunner_free(sr);
		return EXIT_SKIP;
	}
	if (part == NULL)
		exclude = tag_list(tags, sizeof(tags), d->cases, d->cases_count);
	fflush(stdout);
	srunner_run_tagged(sr, NULL, NULL, part, exclude, CK_NORMAL);
	status = finish(sr, entry, 0);
	srunner_free(sr);
	return status;
}

/* Every suite, for humans; what cannot run is named and left out. */
static int
run_all(void)
{
	const char *missing[NEED_MAX * 4];
	char entry[160], tags[512];
	size_t i, k, skipped = 0, missing_count = 0;
	SRunner *sr = srunner_create(NULL);
	int status;

	for (i = 0; i < N_SUITES; i++) {
		Suite *s = make_suite(i);
		const struct need_set *d = need_declared();
		bool runs = true;

		snprintf(entry, sizeof(entry), "%s.%s", SUITES_KIND, suite_table[i].name);
		for (k = 0; k < d->suite_count && runs; k++)
			runs = !unmet(entry, d->suite[k]);
		if (!runs) {
			skipped++;
			free_suite(s);
			continue;
		}
		srunner_add_suite(sr, s);
		for (k = 0; k < d->cases_count; k++) {
			snprintf(entry, sizeof(entry), "%s.%s.%s", SUITES_KIND, suite_table[i].name,
				 d->cases[k]);
			if (!unmet(entry, d->cases[k]))
				continue;
			skipped++;
			if (!in_set(missing, missing_count, d->cases[k]) &&
			    missing_count < sizeof(missing) / sizeof(missing[0]))
				missing[missing_count++] = d->cases[k];
		}
	}
	fflush(stdout);
	srunner_run_tagged(sr, NULL, NULL, NULL, tag_list(tags, sizeof(tags), missing,
							   missing_count), CK_NORMAL);
	status = finish(sr, SUITES_KIND, skipped);
	srunner_free(sr);
	return status;
}

int
main(int argc, char **argv)
{
	int status;

	if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
				       strcmp(argv[1], "--help") == 0))) {
		usage(argc > 2 ? stderr : stdout);
		return argc > 2 ? 2 : EXIT_SUCCESS;
	}
	if (argc == 2 && strcmp(argv[1], "--list") == 0)
		return list_entries();
	if (need_skips_open() < 0) {
		perror("mmap");
		return EXIT_FAILURE;
	}
	status = argc == 2 ? run_entry(argv[1]) : run_all();
	need_skips_close();
	return status;
}
