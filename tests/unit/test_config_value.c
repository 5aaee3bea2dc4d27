/* SPDX-License-Identifier: MIT */
/* test_config_value.c - core/config_value.c: typed values, defaults, bounds and FILE:LINE errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "config_value.h"
#include "log.h"
#include "settings.h"

Suite *config_value_suite(void);

static char dir[64], path[128], err[2048];
static struct config *cfg;
static const config_setting_t *group;

/* Line 5 onwards of the file is the settings group, one setting a line. */
static const char conf_text[] =
	"plugins = {\n"
	"  a = {\n"
	"    file = \"a.so\";\n"
	"    settings = {\n"
	"      text = \"hello\";\n"  /* 5 */
	"      count = 5;\n"         /* 6 */
	"      big = 9000000000L;\n" /* 7 */
	"      ratio = 0.25;\n"      /* 8 */
	"      flag = true;\n"       /* 9 */
	"      where = \"rel/x\";\n" /* 10 */
	"      list = [1, 2];\n"     /* 11 */
	"    };\n"
	"  };\n"
	"};\n"
	"services = { s = { listen = \"127.0.0.1:0\"; }; };\n";

static void
setup(void)
{
	const char *const o[] = { "plugins.a.settings.port=8125" };
	FILE *f;

	strcpy(dir, "/tmp/rulsrv-config-value-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rulsrv.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf_text, f);
	fclose(f);
	ck_assert_msg(config_load(path, o, 1, &cfg, err, sizeof(err)) == 0, "%s", err);
	group = cfg->plugins[0].settings;
	err[0] = '\0';
}

static void
teardown(void)
{
	config_free(cfg);
	unlink(path);
	rmdir(dir);
}

static const config_setting_t *
member(const char *name)
{
	return config_setting_get_member(group, name);
}

/* err is exactly "PATH:LINE: setting 'plugins.a.settings.NAME': WHAT". */
static void
assert_err(int line, const char *name, const char *what)
{
	char want[512];

	snprintf(want, sizeof(want), "%s:%d: setting 'plugins.a.settings.%s': %s", path, line, name,
		 what);
	ck_assert_str_eq(err, want);
}

START_TEST(test_values_and_defaults)
{
	char *s;
	int64_t i;
	double d;
	bool b;

	ck_assert_int_eq(config_value_string(cfg, member("text"), "d", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "hello");
	free(s);
	ck_assert_int_eq(config_value_string(cfg, NULL, "d", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "d");
	free(s);
	ck_assert_int_eq(config_value_string(cfg, NULL, NULL, &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(config_value_int(cfg, member("count"), 1, 0, 10, &i, err, sizeof(err)), 0);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(config_value_int(cfg, member("big"), 1, 0, INT64_MAX, &i, err,
					  sizeof(err)), 0);
	ck_assert_int_eq(i, 9000000000LL);
	ck_assert_int_eq(config_value_int(cfg, NULL, 7, 0, 10, &i, err, sizeof(err)), 0);
	ck_assert_int_eq(i, 7);
	ck_assert_int_eq(config_value_double(cfg, member("ratio"), 1, 0, 1, &d, err, sizeof(err)), 0);
	ck_assert_double_eq(d, 0.25);
	/* An integer is a number. */
	ck_assert_int_eq(config_value_double(cfg, member("count"), 1, 0, 10, &d, err, sizeof(err)),
			 0);
	ck_assert_double_eq(d, 5);
	ck_assert_int_eq(config_value_bool(cfg, member("flag"), false, &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_int_eq(config_value_bool(cfg, NULL, true, &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_str_eq(err, "");
}
END_TEST

/* Relative paths are relative to the file's folder, absolute ones kept, absent ones NULL. */
START_TEST(test_paths)
{
	char *s = (char *)"x", want[256];

	ck_assert_int_eq(config_value_path(cfg, member("where"), NULL, &s, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/rel/x", dir);
	ck_assert_str_eq(s, want);
	free(s);
	ck_assert_int_eq(config_value_path(cfg, NULL, "/abs/y", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "/abs/y");
	free(s);
	s = (char *)"x";
	ck_assert_int_eq(config_value_path(cfg, NULL, NULL, &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(s);
}
END_TEST

/* -o took 8125 for an integer; read as a string it is the text that was typed. */
START_TEST(test_override_text_for_a_string)
{
	char *s;
	int64_t i;

	ck_assert_int_eq(config_value_string(cfg, member("port"), NULL, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "8125");
	free(s);
	ck_assert_int_eq(config_value_int(cfg, member("port"), 0, 0, 65535, &i, err, sizeof(err)),
			 0);
	ck_assert_int_eq(i, 8125);
	/* From the file, an integer is not a string. */
	ck_assert_int_eq(config_value_string(cfg, member("count"), NULL, &s, err, sizeof(err)),
			 -EINVAL);
	assert_err(6, "count", "expected a string, got an integer");
}
END_TEST

/* Each wrong type and each bound says where, which setting, what was wanted and what came. */
START_TEST(test_errors_name_file_line_and_setting)
{
	char *s;
	int64_t i;
	double d;
	bool b;

	ck_assert_int_eq(config_value_int(cfg, member("text"), 0, 0, 1, &i, err, sizeof(err)),
			 -EINVAL);
	assert_err(5, "text", "expected an integer, got a string");
	ck_assert_int_eq(config_value_int(cfg, member("ratio"), 0, 0, 1, &i, err, sizeof(err)),
			 -EINVAL);
	assert_err(8, "ratio", "expected an integer, got a float");
	ck_assert_int_eq(config_value_int(cfg, member("count"), 0, 6, 10, &i, err, sizeof(err)),
			 -EINVAL);
	assert_err(6, "count", "5 is out of range [6, 10]");
	ck_assert_int_eq(config_value_int(cfg, member("big"), 0, 0, INT32_MAX, &i, err, sizeof(err)),
			 -EINVAL);
	assert_err(7, "big", "9000000000 is out of range [0, 2147483647]");
	ck_assert_int_eq(config_value_double(cfg, member("flag"), 0, 0, 1, &d, err, sizeof(err)),
			 -EINVAL);
	assert_err(9, "flag", "expected a number, got a boolean");
	ck_assert_int_eq(config_value_double(cfg, member("ratio"), 0, 0.5, 1, &d, err, sizeof(err)),
			 -EINVAL);
	assert_err(8, "ratio", "0.25 is out of range [0.5, 1]");
	ck_assert_int_eq(config_value_bool(cfg, member("count"), false, &b, err, sizeof(err)),
			 -EINVAL);
	assert_err(6, "count", "expected true or false, got an integer");
	ck_assert_int_eq(config_value_string(cfg, member("list"), NULL, &s, err, sizeof(err)),
			 -EINVAL);
	assert_err(11, "list", "expected a string, got an array");
	ck_assert_int_eq(config_value_path(cfg, member("flag"), NULL, &s, err, sizeof(err)), -EINVAL);
	assert_err(9, "flag", "expected a string, got a boolean");
	ck_assert_ptr_null(s);
}
END_TEST

/* A setting -o made has no line: the error says "command line". */
START_TEST(test_override_error_says_command_line)
{
	bool b;

	ck_assert_int_eq(config_value_bool(cfg, member("port"), false, &b, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "command line: setting 'plugins.a.settings.port': expected true or "
			      "false, got an integer");
}
END_TEST

/* The plugin API says the same, through the log, under the name the plugin asked for. */
START_TEST(test_plugin_api_says_the_same)
{
	struct rulsrv_settings *s = settings_new(cfg, cfg->plugins[0].setting, group,
						 "plugins.a.settings");
	char captured[1024], want[512];
	double d;
	int64_t i;

	ck_assert_ptr_nonnull(s);
	log_capture_first_error(captured, sizeof(captured));
	ck_assert_int_eq(settings_double(s, "text", 1, 0, 2, &d), -EINVAL);
	log_capture_first_error(NULL, 0);
	snprintf(want, sizeof(want), "%s:5: setting 'plugins.a.settings.text': expected a number, "
		 "got a string", path);
	ck_assert_msg(strstr(captured, want) != NULL, "got '%s'", captured);
	settings_free(s);
	/* No settings at all: every getter gives its default. */
	ck_assert_int_eq(settings_int(NULL, "count", 3, 0, 10, &i), 0);
	ck_assert_int_eq(i, 3);
}
END_TEST

Suite *
config_value_suite(void)
{
	Suite *s = suite_create("config_value");
	TCase *tc = tcase_create("config_value");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values_and_defaults);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_override_text_for_a_string);
	tcase_add_test(tc, test_errors_name_file_line_and_setting);
	tcase_add_test(tc, test_override_error_says_command_line);
	tcase_add_test(tc, test_plugin_api_says_the_same);
	suite_add_tcase(s, tc);
	return s;
}
