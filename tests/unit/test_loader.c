/* SPDX-License-Identifier: MIT */
/* test_loader.c - the plugin loader: every refusal, with its fixture, names file and reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "plugin_loader.h"

#define FIXTURES RULSRV_BUILD_DIR "/tests/fixtures"

static char tmp_dir[64];
static char err[2048];
static struct plugin_set *set;

static void
loader_setup(void)
{
	strcpy(tmp_dir, "/tmp/rulsrv-loader-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	set = plugin_set_new();
	ck_assert_ptr_nonnull(set);
}

static void
loader_teardown(void)
{
	char cmd[128];

	plugin_set_unref(set);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Copy a fixture into the temporary directory with an exact mode (the build's umask varies). */
static const char *
fixture(const char *name, mode_t mode)
{
	static char path[2][256];
	static int which;
	char src[256], buf[65536];
	ssize_t n;
	int in, out;

	which ^= 1;
	snprintf(src, sizeof(src), "%s/%s", FIXTURES, name);
	snprintf(path[which], sizeof(path[which]), "%s/%s", tmp_dir, name);
	in = open(src, O_RDONLY);
	ck_assert_msg(in >= 0, "fixture %s is not built (build the fixture_* targets)", src);
	out = open(path[which], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	ck_assert_int_eq(chmod(path[which], mode), 0);
	return path[which];
}

static void
assert_says(const char *what)
{
	ck_assert_msg(strstr(err, what) != NULL, "message '%s' does not say '%s'", err, what);
}

START_TEST(test_loads_and_reuses)
{
	const char *path = fixture("echo.so", 0755);
	const struct plugin_lib *a, *b;

	ck_assert_int_eq(plugin_set_load(set, path, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a->desc->name, "echo");
	ck_assert_uint_eq(a->desc->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_int_eq(plugin_set_load(set, path, &b, err, sizeof(err)), 0);
	ck_assert_ptr_eq(a, b);
}
END_TEST

START_TEST(test_other_major)
{
	const char *path = fixture("abi_major.so", 0755);
	const struct plugin_lib *lib;
	char both[64];

	/* Its init aborts: refusing it proves the check runs before any callback. */
	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -EPROTO);
	assert_says(path);
	snprintf(both, sizeof(both), "ABI %d.0", RULSRV_PLUGIN_ABI_MAJOR + 1);
	assert_says(both);
	snprintf(both, sizeof(both), "ABI %d.%d", RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR);
	assert_says(both);
}
END_TEST

/* A plugin built before 2.0 is refused with its file and both versions, before its code runs. */
START_TEST(test_abi_1x_refused)
{
	const char *path = fixture("abi_v1.so", 0755);
	const struct plugin_lib *lib;
	char both[64];

	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -EPROTO);
	assert_says(path);
	assert_says("built for plugin ABI 1.1");
	snprintf(both, sizeof(both), "ABI %d.%d", RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR);
	assert_says(both);
	ck_assert_int_eq(RULSRV_PLUGIN_ABI_MAJOR, 2);
}
END_TEST

START_TEST(test_newer_minor)
{
	const char *path = fixture("abi_minor.so", 0755);
	const struct plugin_lib *lib;
	char want[64];

	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -EPROTO);
	assert_says(path);
	snprintf(want, sizeof(want), "ABI %d.%d, newer", RULSRV_PLUGIN_ABI_MAJOR, RULSRV_PLUGIN_ABI_MINOR + 1);
	assert_says(want);
}
END_TEST

START_TEST(test_missing_descriptor)
{
	const char *path = fixture("no_descriptor.so", 0755);
	const struct plugin_lib *lib;

	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -ENOENT);
	assert_says(path);
	assert_says("no 'rulsrv_plugin' descriptor symbol");
}
END_TEST

START_TEST(test_duplicate_name)
{
	const char *echo = fixture("echo.so", 0755);
	const char *dup = fixture("dup_name.so", 0755);
	const struct plugin_lib *lib;

	ck_assert_int_eq(plugin_set_load(set, echo, &lib, err, sizeof(err)), 0);
	ck_assert_int_eq(plugin_set_load(set, dup, &lib, err, sizeof(err)), -EEXIST);
	assert_says(dup);
	assert_says(echo);
	assert_says("name 'echo' is already used");
}
END_TEST

START_TEST(test_writable_refused)
{
	const struct plugin_lib *lib;
	const char *path;

	path = fixture("echo.so", 0775);
	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -EPERM);
	assert_says(path);
	assert_says("group- or world-writable");
	path = fixture("echo.so", 0757);
	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -EPERM);
	assert_says("group- or world-writable");
}
END_TEST

START_TEST(test_dlopen_failure)
{
	const struct plugin_lib *lib;
	const char *path;
	char garbage[128];
	FILE *f;

	path = fixture("undefined_symbol.so", 0755);
	ck_assert_int_eq(plugin_set_load(set, path, &lib, err, sizeof(err)), -ENOEXEC);
	assert_says(path);
	assert_says("undefined symbol: rulsrv_fixture_missing_function"); /* dlerror() text */
	snprintf(garbage, sizeof(garbage), "%s/garbage.so", tmp_dir);
	f = fopen(garbage, "w");
	fputs("this is not an ELF file\n", f);
	fclose(f);
	chmod(garbage, 0644);
	ck_assert_int_eq(plugin_set_load(set, garbage, &lib, err, sizeof(err)), -ENOEXEC);
	assert_says(garbage);
}
END_TEST

START_TEST(test_missing_file)
{
	const struct plugin_lib *lib;

	ck_assert_int_eq(plugin_set_load(set, "/nonexistent/x.so", &lib, err, sizeof(err)), -ENOENT);
	assert_says("/nonexistent/x.so");
	assert_says("No such file");
}
END_TEST

Suite *loader_suite(void);

Suite *
loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");

	tcase_add_checked_fixture(tc, loader_setup, loader_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_loads_and_reuses);
	tcase_add_test(tc, test_other_major);
	tcase_add_test(tc, test_abi_1x_refused);
	tcase_add_test(tc, test_newer_minor);
	tcase_add_test(tc, test_missing_descriptor);
	tcase_add_test(tc, test_duplicate_name);
	tcase_add_test(tc, test_writable_refused);
	tcase_add_test(tc, test_dlopen_failure);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	return s;
}
