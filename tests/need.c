/* SPDX-License-Identifier: MIT */
/* need.c - the needs a test may declare, whether this machine meets them, test_skip's reasons. */
#include "need.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmapss.h"
#include "harness/harness.h"
#include "harness/pg_server.h"

static bool
cmapss_met(const char *need, char *why, size_t why_len)
{
	const char *env = getenv("CMAPSS_DIR");
	char dir[4096], cwd[4096];

	if (cmapss_find_dir(dir, sizeof(dir)) == 0)
		return true;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), ".");
	/* the places cmapss_find_dir looks, so that the reason says where to put the data */
	snprintf(why, why_len, "C-MAPSS data absent (looked in $CMAPSS_DIR%s%s%s, data/cmapss, "
		 "../shared/data/cmapss, in %s and up to 4 folders above)",
		 env != NULL ? "='" : " (unset)", env != NULL ? env : "", env != NULL ? "'" : "",
		 cwd);
	return false;
}

static bool
fd001_met(const char *need, char *why, size_t why_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/models/fd001/bundle.json", harness_source_dir());
	if (access(path, R_OK) == 0)
		return true;
	snprintf(why, why_len, "models/fd001 is not in the source tree (make models trains it on "
		 "the C-MAPSS data)");
	return false;
}

/* A program of that name, executable, in a folder of $PATH. */
static bool
program_met(const char *need, char *why, size_t why_len)
{
	const char *path = getenv("PATH");
	char file[4096];

	while (path != NULL && *path != '\0') {
		size_t len = strcspn(path, ":");

		snprintf(file, sizeof(file), "%.*s/%s", (int)len, len > 0 ? path : ".", need);
		if (access(file, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	snprintf(why, why_len, "%s is not installed (not on $PATH; make test-deps installs it)",
		 need);
	return false;
}

/* initdb, pg_ctl, postgres, psql (tests/harness/pg_server.h), for a throwaway cluster */
static bool
postgresql_met(const char *need, char *why, size_t why_len)
{
	(void)need;
	return pg_server_available(why, why_len);
}

static const struct need_kind {
	const char *name;
	bool (*met)(const char *need, char *why, size_t why_len);
} need_kinds[] = {
	{ "cmapss", cmapss_met },
	{ "fd001", fd001_met },
	{ "openssl", program_met },
	{ "promtool", program_met },
	{ "postgresql", postgresql_met },
};

static const struct need_kind *
need_kind(const char *need)
{
	size_t i;

	for (i = 0; i < sizeof(need_kinds) / sizeof(need_kinds[0]); i++)
		if (strcmp(need_kinds[i].name, need) == 0)
			return &need_kinds[i];
	return NULL;
}

bool
need_met(const char *need, char *why, size_t why_len)
{
	const struct need_kind *k = need_kind(need);

	if (k == NULL) {
		snprintf(why, why_len, "unknown need '%s'", need);
		return false;
	}
	return k->met(need, why, why_len);
}

/* ---- declarations -------------------------------------------------------------------------- */

static struct need_set declared;
static const TCase *declared_cases[NEED_MAX * 4];
static size_t declared_case_count;

void
need_declared_reset(void)
{
	memset(&declared, 0, sizeof(declared));
	declared_case_count = 0;
}

const struct need_set *
need_declared(void)
{
	return &declared;
}

/* A mistake in a test file's constructor: say so and stop, `--list` then fails loudly. */
static void
need_refuse(const char *what, const char *need)
{
	fprintf(stderr, "%s '%s': the needs are %s", what, need, need_kinds[0].name);
	for (size_t i = 1; i < sizeof(need_kinds) / sizeof(need_kinds[0]); i++)
		fprintf(stderr, ", %s", need_kinds[i].name);
	fprintf(stderr, " (tests/need.h)\n");
	abort();
}

static void
need_add(const char **set, size_t *count, const char *need)
{
	size_t i;

	if (need_kind(need) == NULL)
		need_refuse("unknown need", need);
	for (i = 0; i < *count; i++)
		if (strcmp(set[i], need) == 0)
			return;
	if (*count == NEED_MAX)
		need_refuse("too many needs, at", need);
	set[(*count)++] = need;
}

void
suite_needs(Suite *s, const char *need)
{
	(void)s;
	need_add(declared.suite, &declared.suite_count, need);
}

void
tcase_needs(TCase *tc, const char *need)
{
	size_t i;

	for (i = 0; i < declared_case_count; i++)
		if (declared_cases[i] == tc)
			need_refuse("a second need for one test case", need);
	if (declared_case_count == sizeof(declared_cases) / sizeof(declared_cases[0]))
		need_refuse("too many test cases with needs, at", need);
	need_add(declared.cases, &declared.cases_count, need);
	declared_cases[declared_case_count++] = tc;
	/* the runner selects and leaves out these test cases by Check's tags */
	tcase_set_tags(tc, need);
}

/* ---- test_skip ----------------------------------------------------------------------------- */

/*
 * Check runs each test in a child process: what the child writes into this anonymous shared
 * mapping, the runner reads after the child exits. Lines "test: reason\n", appended.
 */
struct skip_log {
	atomic_size_t len;
	char text[16384];
};

static struct skip_log *skips;

int
need_skips_open(void)
{
	void *p = mmap(NULL, sizeof(*skips), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	skips = p;
	atomic_init(&skips->len, 0);
	return 0;
}

void
need_skips_close(void)
{
	if (skips != NULL)
		munmap(skips, sizeof(*skips));
	skips = NULL;
}

void
test_skip(const char *fmt, ...)
{
	const char *name;
	char line[1024];
	size_t n, at;
	va_list ap;
	int len;

	name = tcase_name(); /* the running test's; NULL in a fixture */
	len = snprintf(line, sizeof(line), "%s: ", name != NULL ? name : "setup");
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - (size_t)len - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	if (skips == NULL) {
		fprintf(stderr, "SKIP: %.*s", (int)n, line);
		return;
	}
	at = atomic_fetch_add(&skips->len, n);
	if (at + n <= sizeof(skips->text))
		memcpy(skips->text + at, line, n);
}

size_t
need_skips_report(FILE *f, const char *entry)
{
	size_t len, at = 0, count = 0;

	if (skips == NULL)
		return 0;
	len = atomic_load(&skips->len);
	if (len > sizeof(skips->text))
		len = sizeof(skips->text);
	while (at < len) {
		const char *nl = memchr(skips->text + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - (skips->text + at)) : len - at;

		fprintf(f, "SKIP: %s: %.*s\n", entry, (int)n, skips->text + at);
		at += n + 1;
		count++;
	}
	return count;
}
