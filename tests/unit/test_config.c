/* SPDX-License-Identifier: MIT */
/* test_config.c - rulsrv.conf parsing: defaults, every error kind with file:line:setting, -o. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "log.h"
#include "settings.h"

static char conf_dir[64];
static char conf_path[128];
static char err[2048];

static void
conf_setup(void)
{
	strcpy(conf_dir, "/tmp/rulsrv-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(conf_dir));
	snprintf(conf_path, sizeof(conf_path), "%s/rulsrv.conf", conf_dir);
}

static void
conf_teardown(void)
{
	unlink(conf_path);
	rmdir(conf_dir);
}

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int
load(const char *text, const char *const *overrides, size_t n, struct config **c)
{
	write_conf(text);
	return config_load(conf_path, overrides, n, c, err, sizeof(err));
}

/* The error must start with FILE:LINE and name the setting; name says which case failed. */
static void
assert_error(const char *name, int line, const char *setting, const char *what)
{
	char where[256];

	snprintf(where, sizeof(where), "%s:%d: setting '%s': ", conf_path, line, setting);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0,
		      "%s: error '%s' does not start with '%s'", name, err, where);
	ck_assert_msg(strstr(err, what) != NULL, "%s: error '%s' does not say '%s'", name, err,
		      what);
}

static const char *const minimal =
	"plugin_dir = \"plugins\";\n"
	"plugins = { a = { file = \"a.so\"; settings = { x = 1; }; }; };\n"
	"services = {\n"
	"  one = { listen = \"127.0.0.1:0\"; plugins = [ \"a\" ]; };\n"
	"};\n";

START_TEST(test_defaults)
{
	struct config *c;
	char want[256];

	ck_assert_int_eq(load(minimal, NULL, 0, &c), 0);
	ck_assert_uint_eq(c->service_count, 1);
	ck_assert_str_eq(c->services[0].name, "one");
	ck_assert_uint_eq(c->services[0].max_body_bytes, 4 * 1024 * 1024);
	ck_assert_uint_eq(c->services[0].max_inflight_body_bytes, 256 * 1024 * 1024);
	ck_assert_uint_eq(c->services[0].max_connections, 1024);
	ck_assert_uint_eq(c->services[0].connection_timeout, 30);
	ck_assert_uint_ge(c->services[0].threads, 1);
	ck_assert_ptr_null(c->services[0].admin_token_file);
	ck_assert_uint_eq(c->services[0].plugin_count, 1);
	ck_assert_int_eq(c->log_level, RULSRV_LOG_INFO);
	snprintf(want, sizeof(want), "%s/plugins/a.so", conf_dir);
	ck_assert_str_eq(c->plugins[0].file, want);
	config_free(c);
}
END_TEST

START_TEST(test_syntax_error)
{
	struct config *c;
	char where[256];

	ck_assert_int_eq(load("services = {\n one = { listen = ; };\n};\n", NULL, 0, &c), -EINVAL);
	ck_assert_ptr_null(c);
	snprintf(where, sizeof(where), "%s:2: ", conf_path);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "got '%s'", err);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config *c;

	ck_assert_int_lt(config_load("/nonexistent/rulsrv.conf", NULL, 0, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/rulsrv.conf"));
}
END_TEST

/*
 * Each refused file: load returns -EINVAL and the error starts with FILE:LINE: setting 'NAME':
 * and says what is wrong. Run as a loop test: one case per run, named in every message.
 */
static const struct {
	const char *name, *text;
	int line;
	const char *setting, *what;
} refused[] = {
	{ "unknown top-level setting",
	  "plugin_dir = \"p\";\n"
	  "bogus = 1;\n"
	  "services = { a = { listen = \"127.0.0.1:0\"; }; };\n",
	  2, "bogus", "unknown setting" },
	{ "unknown service setting",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n    thread = 4;\n  };\n};\n",
	  4, "services.a.thread", "unknown setting" },
	{ "string for an integer",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n    threads = \"four\";\n  };\n};\n",
	  4, "services.a.threads", "expected an integer" },
	{ "integer for a string",
	  "services = {\n  a = {\n    listen = 3000;\n  };\n};\n",
	  3, "services.a.listen", "expected a string" },
	{ "integer for a group",
	  "plugins = {\n  a = {\n    file = \"a.so\";\n    settings = 3;\n  };\n};\n"
	  "services = { s = { listen = \"127.0.0.1:0\"; }; };\n",
	  4, "plugins.a.settings", "expected a group" },
	{ "out of range",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n\n    max_connections = 0;\n  };\n};\n",
	  5, "services.a.max_connections", "out of range" },
	{ "zero max_inflight_body_bytes",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n    max_inflight_body_bytes = 0;\n"
	  "  };\n};\n",
	  4, "services.a.max_inflight_body_bytes", "0 is out of range [1, 17592186044416]" },
	{ "negative max_inflight_body_bytes",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n\n"
	  "    max_inflight_body_bytes = -1;\n  };\n};\n",
	  5, "services.a.max_inflight_body_bytes", "-1 is out of range" },
	{ "text for max_inflight_body_bytes",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n"
	  "    max_inflight_body_bytes = \"256M\";\n  };\n};\n",
	  4, "services.a.max_inflight_body_bytes", "expected an integer" },
	{ "unknown setting beside max_inflight_body_bytes",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n"
	  "    max_inflight_bytes = 1;\n  };\n};\n",
	  4, "services.a.max_inflight_bytes", "unknown setting" },
	{ "listen without a port",
	  "services = {\n  a = {\n    listen = \"localhost\";\n  };\n};\n",
	  3, "services.a.listen", "ADDR:PORT" },
	{ "listen port over 65535",
	  "services = {\n  a = {\n    listen = \"127.0.0.1:70000\";\n  };\n};\n",
	  3, "services.a.listen", "ADDR:PORT" },
	{ "no listen",
	  "services = {\n  a = {\n    plugins = [];\n  };\n};\n",
	  2, "services.a", "missing required setting 'listen'" },
	{ "unknown plugin instance",
	  "plugins = { m = { file = \"m.so\"; }; };\n"
	  "services = {\n  a = {\n    listen = \"127.0.0.1:0\";\n"
	  "    plugins = [ \"m\", \"nope\" ];\n  };\n};\n",
	  5, "services.a.plugins[1]", "no plugin instance 'nope'" },
	{ "unknown log level",
	  "log_level = \"loud\";\n"
	  "services = { a = { listen = \"127.0.0.1:0\"; }; };\n",
	  1, "log_level", "expected one of" },
};

START_TEST(test_refused_with_location)
{
	struct config *c;
	int rc;

	rc = load(refused[_i].text, NULL, 0, &c);
	ck_assert_msg(rc == -EINVAL, "%s: load returned %d, not -EINVAL", refused[_i].name, rc);
	assert_error(refused[_i].name, refused[_i].line, refused[_i].setting, refused[_i].what);
}
END_TEST

START_TEST(test_overrides)
{
	const char *const o[] = {
		"services.one.listen=127.0.0.1:4321",
		"services.one.threads=3",
		"plugins.a.settings.name=\"42\"",
		"plugins.a.settings.ratio=0.5",
		"plugins.a.settings.on=true",
		"log_level=debug",
	};
	const config_setting_t *g;
	struct config *c;

	ck_assert_int_eq(load(minimal, o, 6, &c), 0);
	ck_assert_str_eq(c->services[0].listen, "127.0.0.1:4321");
	ck_assert_uint_eq(c->services[0].threads, 3);
	ck_assert_int_eq(c->log_level, RULSRV_LOG_DEBUG);
	g = c->plugins[0].settings;
	ck_assert_int_eq(config_setting_type(config_setting_get_member(g, "name")), CONFIG_TYPE_STRING);
	ck_assert_str_eq(config_setting_get_string(config_setting_get_member(g, "name")), "42");
	ck_assert_int_eq(config_setting_type(config_setting_get_member(g, "ratio")), CONFIG_TYPE_FLOAT);
	ck_assert_int_eq(config_setting_type(config_setting_get_member(g, "on")), CONFIG_TYPE_BOOL);
	ck_assert_int_eq(config_setting_type(config_setting_get_member(g, "x")), CONFIG_TYPE_INT);
	config_free(c);
}
END_TEST

START_TEST(test_override_creates_and_lists)
{
	const char *const o[] = { "services.two.listen=127.0.0.1:0", "services.two.plugins=[a]" };
	struct config *c;

	ck_assert_int_eq(load(minimal, o, 2, &c), 0);
	ck_assert_uint_eq(c->service_count, 2);
	ck_assert_str_eq(c->services[1].name, "two");
	ck_assert_uint_eq(c->services[1].plugin_count, 1);
	ck_assert_str_eq(c->services[1].plugins[0], "a");
	config_free(c);
}
END_TEST

/* A refused -o says it came from the command line (no file or line) and what is wrong. */
START_TEST(test_override_errors)
{
	static const struct {
		const char *override, *says;
	} cases[] = {
		{ "services.one.bogus=1",
		  "command line: setting 'services.one.bogus': unknown setting" },
		{ "services.one.threads", "SETTING=VALUE" },
		{ "services.one.threads=many",
		  "command line: setting 'services.one.threads': expected an integer" },
	};
	struct config *c;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = load(minimal, &cases[i].override, 1, &c);
		ck_assert_msg(rc == -EINVAL, "-o '%s': load returned %d, not -EINVAL",
			      cases[i].override, rc);
		ck_assert_msg(strstr(err, cases[i].says) != NULL, "-o '%s': got '%s', not '%s'",
			      cases[i].override, err, cases[i].says);
	}
}
END_TEST

START_TEST(test_plugin_settings_api)
{
	const char *const o[] = { "plugins.a.settings.port=8125" };
	struct rulsrv_settings *s;
	struct config *c;
	char *str = NULL, captured[512];
	int64_t i;
	double d;
	bool b;

	ck_assert_int_eq(load("plugins = {\n  a = {\n    file = \"a.so\";\n    settings = {\n"
			      "      name = \"n\";\n      count = 5;\n      ratio = 2;\n      path = \"rel/x\";\n"
			      "      flag = 7;\n      extra = 1;\n    };\n  };\n};\n"
			      "services = { s = { listen = \"127.0.0.1:0\"; }; };\n", o, 1, &c), 0);
	s = settings_new(c, c->plugins[0].setting, c->plugins[0].settings, "plugins.a.settings");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(settings_string(s, "name", "d", &str), 0);
	ck_assert_str_eq(str, "n");
	free(str);
	ck_assert_int_eq(settings_string(s, "absent", "d", &str), 0);
	ck_assert_str_eq(str, "d");
	free(str);
	ck_assert_int_eq(settings_string(s, "port", NULL, &str), 0); /* -o port=8125 as a string */
	ck_assert_str_eq(str, "8125");
	free(str);
	ck_assert_int_eq(settings_int(s, "count", 1, 0, 10, &i), 0);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(settings_double(s, "ratio", 1, 0, 10, &d), 0);
	ck_assert_double_eq(d, 2);
	ck_assert_int_eq(settings_path(s, "path", NULL, &str), 0);
	ck_assert_str_eq(str + strlen(conf_dir), "/rel/x");
	free(str);
	log_set_level(RULSRV_LOG_DEBUG + 0);
	log_capture_first_error(captured, sizeof(captured));
	ck_assert_int_eq(settings_int(s, "count", 1, 6, 10, &i), -EINVAL);
	log_capture_first_error(NULL, 0);
	ck_assert_msg(strstr(captured, ":6: setting 'plugins.a.settings.count': 5 is out of range") != NULL,
		      "got '%s'", captured);
	log_capture_first_error(captured, sizeof(captured));
	ck_assert_int_eq(settings_bool(s, "flag", false, &b), -EINVAL);
	log_capture_first_error(NULL, 0);
	ck_assert_msg(strstr(captured, ":9: setting 'plugins.a.settings.flag': expected true or false") != NULL,
		      "got '%s'", captured);
	log_capture_first_error(captured, sizeof(captured));
	ck_assert_int_eq(settings_check_unread(s), -EINVAL);
	log_capture_first_error(NULL, 0);
	ck_assert_msg(strstr(captured, ":10: setting 'plugins.a.settings.extra': unknown setting") != NULL,
		      "got '%s'", captured);
	settings_free(s);
	config_free(c);
}
END_TEST

/*
 * Damaged files and odd overrides are refused with a message, never a crash or a leak.
 * The damaged text holds no string: libconfig 1.5 itself leaks its token buffer when a
 * syntax error comes right before a string, which would drown ours under the sanitizers.
 */
START_TEST(test_mutations_are_refused_cleanly)
{
	static const char *const odd[] = {
		"=", "a=", "=b", "..=1", "a..b=1", "services=1", "services.one=\"x\"",
		"services.one.listen=[a,b]", "plugins.a.settings.x.y=1", "x=\"", "y=[", "z=[]",
		"services.one.plugins=[\"a\",]", "log_level=\"\"", "plugin_dir=9e999",
	};
	static const char stringless[] =
		"plugins = { a = { settings = { x = 1; y = [ 1, 2 ]; z = 1.5; w = true; }; }; };\n"
		"services = {\n"
		"  one = { threads = 2; max_body_bytes = 10; plugins = [ ]; };\n"
		"  two = { max_connections = 5; connection_timeout_seconds = 1; };\n"
		"};\n";
	char text[1024];
	unsigned seed = 12345;
	struct config *c;
	size_t n = strlen(stringless), i;
	int round;

	for (round = 0; round < 400; round++) {
		memcpy(text, stringless, n + 1);
		for (i = 0; i < 1 + (size_t)(round % 4); i++) {
			seed = seed * 1103515245u + 12345u;
			text[(seed >> 8) % n] = (char)(" ;{}[]=\n,0a.:()"[(seed >> 20) % 16]);
		}
		if (load(text, NULL, 0, &c) == 0)
			config_free(c);
		else
			ck_assert_msg(err[0] != '\0', "an error without a message for: %s", text);
	}
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		if (load(minimal, &odd[i], 1, &c) == 0)
			config_free(c);
		else
			ck_assert_msg(err[0] != '\0', "no message for -o '%s'", odd[i]);
	}
}
END_TEST

START_TEST(test_shipped_config_parses)
{
	struct config *c;

	ck_assert_int_eq(config_load(RULSRV_SOURCE_DIR "/conf/rulsrv.conf", NULL, 0, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(config_service_find(c, "prediction"));
	ck_assert_ptr_nonnull(config_service_find(c, "feedback"));
	ck_assert_str_eq(config_service_find(c, "prediction")->listen, "127.0.0.1:3000");
	ck_assert_str_eq(config_service_find(c, "feedback")->listen, "127.0.0.1:3001");
	config_free(c);
}
END_TEST

Suite *config_suite(void);

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_missing_file);
	tcase_add_loop_test(tc, test_refused_with_location, 0,
			    (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_override_creates_and_lists);
	tcase_add_test(tc, test_override_errors);
	tcase_add_test(tc, test_plugin_settings_api);
	tcase_add_test(tc, test_shipped_config_parses);
	tcase_add_test(tc, test_mutations_are_refused_cleanly);
	suite_add_tcase(s, tc);
	return s;
}
