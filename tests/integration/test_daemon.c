/* SPDX-License-Identifier: MIT */
/* test_daemon.c - the real rulsrv binary: start, serve, reload, drain, -t, -s, -o, failures. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <check.h>

#include "harness/harness.h"
#include "need.h"

/* Two services, each with its own instance of the echo fixture. MESSAGE and EXTRA vary. */
#define CONF(MESSAGE, EXTRA)                                                                   \
	"plugin_dir = \"@BUILD@/tests/fixtures\";\n"                                         \
	"log_level = \"info\";\n"                                                              \
	"plugins = {\n"                                                                        \
	"  e = {\n"                                                                            \
	"    file = \"echo.so\";\n"                                                            \
	"    settings = { message = \"" MESSAGE "\"; slow_ms = 700; fini_file = \"fini.log\"; " \
	EXTRA " };\n"                                                                          \
	"  };\n"                                                                               \
	"};\n"                                                                                 \
	"services = {\n"                                                                       \
	"  a = { listen = \"127.0.0.1:0\"; plugins = [ \"e\" ]; threads = 2; };\n"             \
	"  b = { listen = \"127.0.0.1:0\"; plugins = [ \"e\" ]; threads = 1; };\n"             \
	"};\n"

static struct harness_server srv;

/*
 * harness_start returns once the services it has seen so far answer; the daemon logs its
 * listeners one line at a time, so wait for the line of every service this test expects.
 */
static void
learn_ports(size_t expected)
{
	char line[1024];
	int waited;
	FILE *f;

	for (waited = 0; srv.service_count < expected && waited < 5000; waited += 10) {
		usleep(10000);
		f = fopen(srv.log, "r");
		ck_assert_ptr_nonnull(f);
		srv.service_count = 0;
		while (fgets(line, sizeof(line), f) != NULL && srv.service_count < HARNESS_MAX_SERVICES) {
			char *p = strstr(line, "service '"), *q;

			if (p == NULL || strstr(p, "' listening on ") == NULL || strchr(line, '\n') == NULL)
				continue;
			p += strlen("service '");
			q = strchr(p, '\'');
			snprintf(srv.services[srv.service_count].name, sizeof(srv.services[0].name), "%.*s",
				 (int)(q - p), p);
			srv.services[srv.service_count++].port = atoi(strrchr(line, ':') + 1);
		}
		fclose(f);
	}
	ck_assert_uint_eq(srv.service_count, expected);
}

static int
start_conf(const char *text, const char *const *args, size_t expected)
{
	if (harness_prepare(&srv, text) < 0 || harness_start(&srv, args) < 0)
		return -1;
	learn_ports(expected);
	return 0;
}

static void
daemon_teardown(void)
{
	harness_cleanup(&srv);
}

static void
rewrite_conf(const char *text)
{
	struct harness_server tmp;
	char cmd[1024], *copy, *at;

	/* @DIR@ is this server's directory, not the scratch one harness_prepare makes */
	copy = malloc(strlen(text) + 8 * sizeof(srv.dir) + 1);
	ck_assert_ptr_nonnull(copy);
	copy[0] = '\0';
	while ((at = strstr(text, "@DIR@")) != NULL) {
		strncat(copy, text, (size_t)(at - text));
		strcat(copy, srv.dir);
		text = at + 5;
	}
	strcat(copy, text);
	/* harness_prepare substitutes @BUILD@; move its file over ours */
	ck_assert_int_eq(harness_prepare(&tmp, copy), 0);
	free(copy);
	snprintf(cmd, sizeof(cmd), "mv '%s' '%s' && rm -rf '%s'", tmp.conf, srv.conf, tmp.dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *
get_body(int port, const char *path, long *status)
{
	struct harness_response r;
	char *body;

	ck_assert_int_eq(harness_get(port, path, &r), 0);
	*status = r.status;
	body = r.body;
	r.body = NULL;
	harness_response_free(&r);
	return body;
}

static void
assert_message(int port, const char *want)
{
	char expect[128];
	long status;
	char *body = get_body(port, "/echo/message", &status);

	snprintf(expect, sizeof(expect), "{\"message\":\"%s\"}", want);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(body, expect);
	free(body);
}

/* Wait until the daemon's log holds needle (reloads are asynchronous to the signal). */
static bool
wait_log(const char *needle, int timeout_ms)
{
	int waited;

	for (waited = 0; waited < timeout_ms; waited += 20) {
		if (harness_log_contains(&srv, needle))
			return true;
		usleep(20000);
	}
	return false;
}

static int
count_lines(const char *path, const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* count_lines once it reaches want, or what it is after timeout_ms: fini runs when the last
 * request on an old snapshot completes, which a loaded machine may take a while to get to. */
static int
wait_lines(const char *path, const char *needle, int want, int timeout_ms)
{
	int n = count_lines(path, needle);

	for (; n < want && timeout_ms > 0; timeout_ms -= 20) {
		usleep(20000);
		n = count_lines(path, needle);
	}
	return n;
}

static const char *
fini_log(void)
{
	static char path[320];

	snprintf(path, sizeof(path), "%s/fini.log", srv.dir);
	return path;
}

struct slow {
	int port;
	long status;
	char *body;
};

static void *
slow_request(void *ud)
{
	struct slow *s = ud;

	s->body = get_body(s->port, "/echo/slow", &s->status);
	return NULL;
}

static void *
deferred_request(void *ud)
{
	struct slow *s = ud;

	s->body = get_body(s->port, "/echo/defer?ms=1500", &s->status);
	return NULL;
}

/* The number N in {"NAME":N} of GET path. */
static long
get_number(int port, const char *path, const char *name)
{
	char key[64], *at, *end;
	long status, n;
	char *body = get_body(port, path, &status);

	ck_assert_int_eq(status, 200);
	snprintf(key, sizeof(key), "\"%s\":", name);
	at = strstr(body, key);
	ck_assert_msg(at != NULL, "%s: %s", path, body);
	n = strtol(at + strlen(key), &end, 10);
	ck_assert_msg(end != at + strlen(key), "%s: %s", path, body);
	free(body);
	return n;
}

START_TEST(test_serves_every_service)
{
	char *body;
	long status;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	ck_assert_uint_eq(srv.service_count, 2);
	ck_assert_int_gt(harness_port(&srv, "a"), 0);
	ck_assert_int_ne(harness_port(&srv, "a"), harness_port(&srv, "b"));
	body = get_body(harness_port(&srv, "b"), "/readyz", &status);
	ck_assert_int_eq(status, 200);
	free(body);
	assert_message(harness_port(&srv, "a"), "m1");
	assert_message(harness_port(&srv, "b"), "m1");
	body = get_body(harness_port(&srv, "a"), "/missing", &status);
	ck_assert_int_eq(status, 404);
	free(body);
	/* each service has its own instance: the instance name prefixes the plugin's lines */
	ck_assert(harness_log_contains(&srv, "e: echo ready on /echo in service 'a'"));
	ck_assert(harness_log_contains(&srv, "e: echo ready on /echo in service 'b'"));
	ck_assert_int_eq(harness_stop(&srv), 0);
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 2);
}
END_TEST

START_TEST(test_observers_and_attributes)
{
	struct harness_response r;
	int a;
	char *body;
	long status;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	a = harness_port(&srv, "a");
	ck_assert_int_eq(harness_post_json(a, "/echo/notify", "{}", &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	body = get_body(a, "/echo/observed", &status);
	ck_assert_str_eq(body, "{\"observed\":1}");
	free(body);
	body = get_body(harness_port(&srv, "b"), "/echo/observed", &status);
	ck_assert_str_eq(body, "{\"observed\":0}"); /* observers are per service */
	free(body);
	body = get_body(a, "/echo/attr?key=echo.e", &status);
	ck_assert_str_eq(body, "{\"value\":\"m1\"}");
	free(body);
}
END_TEST

START_TEST(test_sighup_swaps_state)
{
	int a;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	a = harness_port(&srv, "a");
	rewrite_conf(CONF("m2", ""));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	assert_message(a, "m2");
	assert_message(harness_port(&srv, "b"), "m2");
	/* the old instances were finalised once nothing used them */
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 2);
	ck_assert_int_eq(count_lines(fini_log(), "fini m2"), 0);
	/* the listener kept its port */
	assert_message(a, "m2");
}
END_TEST

/* A reload applies the body limit at once; a listener change waits for a restart. */
START_TEST(test_reload_limits_and_listener)
{
	static const char changed[] =
		"plugin_dir = \"@BUILD@/tests/fixtures\";\n"
		"plugins = { e = { file = \"echo.so\"; }; };\n"
		"services = {\n"
		"  a = { listen = \"127.0.0.1:0\"; plugins = [ \"e\" ]; threads = 2; max_body_bytes = 8; };\n"
		"  b = { listen = \"127.0.0.2:0\"; plugins = [ \"e\" ]; threads = 1; };\n"
		"};\n";
	struct harness_response r;
	int a, b;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	a = harness_port(&srv, "a");
	b = harness_port(&srv, "b");
	ck_assert_int_eq(harness_http(a, "POST", "/echo", "text/plain", "0123456789", 10, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	rewrite_conf(changed);
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	ck_assert(harness_log_contains(&srv, "service 'b': setting 'listen' changed: it needs a restart"));
	ck_assert_int_eq(harness_http(a, "POST", "/echo", "text/plain", "0123456789", 10, NULL, &r), 0);
	ck_assert_int_eq(r.status, 413);
	harness_response_free(&r);
	assert_message(b, "hello"); /* still on its old address, with the new state */
}
END_TEST

/* Upgrading a plugin file to one the loader refuses: the reload fails, the old code serves. */
START_TEST(test_refused_plugin_upgrade_keeps_serving)
{
	static const char conf[] =
		"plugin_dir = \"@DIR@\";\n"
		"plugins = { e = { file = \"e.so\"; settings = { message = \"old code\"; }; }; };\n"
		"services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"e\" ]; }; };\n";
	char cmd[1200];
	struct harness_response r;
	int a;

	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	snprintf(cmd, sizeof(cmd), "install -m 0755 '%s/tests/fixtures/echo.so' '%s/e.so'",
		 harness_build_dir(), srv.dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	learn_ports(1);
	a = harness_port(&srv, "a");
	/* install(1) writes a new file and renames it: a new inode, as package managers do */
	snprintf(cmd, sizeof(cmd), "install -m 0755 '%s/tests/fixtures/abi_major.so' '%s/e.so'",
		 harness_build_dir(), srv.dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body, "e.so': built for plugin ABI 3.0"));
	harness_response_free(&r);
	assert_message(a, "old code");
	/* a good upgrade is loaded afresh (dup_name.so is an "echo" without routes or settings) */
	rewrite_conf("plugin_dir = \"@DIR@\";\n"
		     "plugins = { e = { file = \"e.so\"; }; };\n"
		     "services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"e\" ]; }; };\n");
	snprintf(cmd, sizeof(cmd), "install -m 0755 '%s/tests/fixtures/dup_name.so' '%s/e.so'",
		 harness_build_dir(), srv.dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_msg(r.status == 200, "%s", r.body);
	harness_response_free(&r);
	ck_assert_int_eq(harness_get(a, "/echo/message", &r), 0);
	ck_assert_int_eq(r.status, 404);
	harness_response_free(&r);
}
END_TEST

START_TEST(test_broken_reload_keeps_state)
{
	struct harness_response r;
	int a;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	a = harness_port(&srv, "a");
	rewrite_conf(CONF("m2", "colour = \"red\";"));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("reload failed, still serving the previous configuration", 5000));
	ck_assert(harness_log_contains(&srv, "setting 'plugins.e.settings.colour': unknown setting"));
	assert_message(a, "m1");
	/* the half-built instance (a's; b was never built) was finalised, nothing else */
	ck_assert_int_eq(count_lines(fini_log(), "fini m2"), 1);
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 0);
	/* the same through the endpoint: 500 with the reason, old state still serving */
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"reload_failed\""));
	ck_assert_ptr_nonnull(strstr(r.body, "setting 'plugins.e.settings.colour': unknown setting"));
	harness_response_free(&r);
	assert_message(a, "m1");
	rewrite_conf(CONF("m3", ""));
	ck_assert_int_eq(harness_http(harness_port(&srv, "b"), "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"reloaded\"}");
	harness_response_free(&r);
	assert_message(a, "m3");
	assert_message(harness_port(&srv, "b"), "m3");
}
END_TEST

START_TEST(test_inflight_request_finishes_on_old_state)
{
	const char *const slow_args[] = { "-o", "plugins.e.settings.slow_ms=3000", NULL };
	struct slow s = { 0 };
	pthread_t t;

	/* long enough that the reload surely ends while the request still runs */
	ck_assert_int_eq(start_conf(CONF("m1", ""), slow_args, 2), 0);
	s.port = harness_port(&srv, "a");
	ck_assert_int_eq(pthread_create(&t, NULL, slow_request, &s), 0);
	usleep(200000);
	rewrite_conf(CONF("m2", ""));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	assert_message(s.port, "m2");
	/* b's old instance is gone already; a's is still held by the slow request */
	ck_assert_int_eq(wait_lines(fini_log(), "fini m1", 1, 2000), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.status, 200);
	ck_assert_str_eq(s.body, "{\"slept\":\"m1\"}");
	free(s.body);
	ck_assert_int_eq(wait_lines(fini_log(), "fini m1", 2, 5000), 2);
}
END_TEST

START_TEST(test_sigterm_drains_and_exits_0)
{
	struct slow s = { 0 };
	pthread_t t;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	s.port = harness_port(&srv, "a");
	ck_assert_int_eq(pthread_create(&t, NULL, slow_request, &s), 0);
	usleep(200000);
	ck_assert_int_eq(harness_signal(&srv, SIGTERM), 0);
	ck_assert_int_eq(harness_wait(&srv, 10000), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.status, 200); /* answered, not cut off */
	ck_assert_str_eq(s.body, "{\"slept\":\"m1\"}");
	free(s.body);
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 2); /* plugins finalised (flushed) */
	ck_assert(harness_log_contains(&srv, "draining and shutting down"));
}
END_TEST

/* SIGTERM waits for deferred answers too (on a one-thread service, so no worker holds them). */
START_TEST(test_sigterm_waits_for_deferred_answers)
{
	struct slow s[4] = { 0 };
	pthread_t t[4];
	int i;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	for (i = 0; i < 4; i++) {
		s[i].port = harness_port(&srv, "b");
		ck_assert_int_eq(pthread_create(&t[i], NULL, deferred_request, &s[i]), 0);
	}
	usleep(400000);
	ck_assert_int_eq(harness_signal(&srv, SIGTERM), 0);
	ck_assert_int_eq(harness_wait(&srv, 10000), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(s[i].status, 200);
		ck_assert_str_eq(s[i].body, "{\"deferred\":\"m1\"}");
		free(s[i].body);
	}
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 2);
	ck_assert(!harness_log_contains(&srv, "still in flight"));
}
END_TEST

/*
 * descriptor.handoff: every reload that succeeds hands each instance over to its successor of
 * the same name and plugin (the echo fixture counts the generations); a failed reload hands
 * nothing over (the old state goes on), a renamed instance starts afresh.
 */
START_TEST(test_reload_hands_instances_over)
{
	static const char renamed[] =
		"plugin_dir = \"@BUILD@/tests/fixtures\";\n"
		"plugins = { f = { file = \"echo.so\"; }; };\n"
		"services = {\n"
		"  a = { listen = \"127.0.0.1:0\"; plugins = [ \"f\" ]; threads = 2; };\n"
		"  b = { listen = \"127.0.0.1:0\"; plugins = [ \"f\" ]; threads = 1; };\n"
		"};\n";
	struct harness_response r;
	int a, b;

	ck_assert_int_eq(start_conf(CONF("m1", ""), NULL, 2), 0);
	a = harness_port(&srv, "a");
	b = harness_port(&srv, "b");
	ck_assert_int_eq(get_number(a, "/echo/generation", "generation"), 1);
	rewrite_conf(CONF("m2", ""));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	assert_message(a, "m2");
	ck_assert_int_eq(get_number(a, "/echo/generation", "generation"), 2);
	ck_assert_int_eq(get_number(b, "/echo/generation", "generation"), 2);
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_int_eq(get_number(a, "/echo/generation", "generation"), 3);
	/* a failed reload: no handoff, the old instance (generation 3) goes on */
	rewrite_conf(CONF("m4", "colour = \"red\";"));
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 500);
	harness_response_free(&r);
	ck_assert_int_eq(get_number(a, "/echo/generation", "generation"), 3);
	assert_message(a, "m2");
	/* another instance name: nothing to take over */
	rewrite_conf(renamed);
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_int_eq(get_number(a, "/echo/generation", "generation"), 1);
}
END_TEST

/*
 * Timers run while their instance serves: a reload stops the old instance's timers before
 * it is replaced (its count stays where it was, its fini comes after) and starts the new
 * one's, which counts from one interval after the swap.
 */
START_TEST(test_timers_across_reload)
{
	long before, after, later;
	int a;

	ck_assert_int_eq(start_conf(CONF("m1", "tick_ms = 100;"), NULL, 2), 0);
	a = harness_port(&srv, "a");
	usleep(700000);
	before = get_number(a, "/echo/ticks", "ticks");
	ck_assert_msg(before >= 3, "%ld ticks of 100 ms in 0.7 s", before);
	rewrite_conf(CONF("m2", "tick_ms = 300;"));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	after = get_number(a, "/echo/ticks", "ticks");
	ck_assert_msg(after <= 1, "the new instance has %ld ticks at once", after);
	usleep(1000000);
	later = get_number(a, "/echo/ticks", "ticks");
	ck_assert_msg(later >= 2 && later <= 4, "%ld ticks of 300 ms in 1 s", later);
	ck_assert_int_eq(wait_lines(fini_log(), "fini m1", 2, 5000), 2);
	ck_assert_int_eq(harness_stop(&srv), 0);
	ck_assert_int_eq(count_lines(fini_log(), "fini m2"), 2);
}
END_TEST

static int
run_rulsrv(const char *const *args, char **out)
{
	const char *argv[16];
	char bin[512];
	size_t n = 0;
	int status = -1;

	snprintf(bin, sizeof(bin), "%s/bin/rulsrv", harness_build_dir());
	argv[n++] = bin;
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(harness_run(argv, out, &status), 0);
	return status;
}

static int
count_error_lines(const char *out)
{
	const char *p;
	int n = 0;

	for (p = out; (p = strstr(p, "[error]")) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_check_mode)
{
	char *out;
	char want[400];

	ck_assert_int_eq(harness_prepare(&srv, CONF("m1", "")), 0);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "configuration OK\n"));
	ck_assert_ptr_nonnull(strstr(out, "echo ready")); /* init ran */
	free(out);
	/* fini ran for both instances */
	ck_assert_int_eq(count_lines(fini_log(), "fini m1"), 2);

	rewrite_conf(CONF("m1", "ready = \"soon\";"));
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 78);
	snprintf(want, sizeof(want), "%s:6: setting 'plugins.e.settings.ready': expected true or false", srv.conf);
	ck_assert_msg(strstr(out, want) != NULL, "output: %s", out);
	ck_assert_ptr_null(strstr(out, "configuration OK"));
	free(out);

	rewrite_conf("services = {\n  a = { listen = \"127.0.0.1:0\"; colour = 1; };\n};\n");
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 78);
	snprintf(want, sizeof(want), "%s:2: setting 'services.a.colour': unknown setting", srv.conf);
	ck_assert_msg(strstr(out, want) != NULL, "output: %s", out);
	free(out);
}
END_TEST

START_TEST(test_check_refuses_bad_plugins)
{
	static const char *const bad[][2] = {
		{ "abi_major.so", "(the major versions differ)" },
		{ "abi_minor.so", "newer than this rulsrv's ABI" },
		{ "no_descriptor.so", "no 'rulsrv_plugin' descriptor symbol" },
		{ "undefined_symbol.so", "undefined symbol: rulsrv_fixture_missing_function" },
		{ "absent.so", "No such file or directory" },
	};
	char conf[1024], *out;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(conf, sizeof(conf),
			 "plugin_dir = \"@BUILD@/tests/fixtures\";\n"
			 "plugins = { x = { file = \"%s\"; }; };\n"
			 "services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"x\" ]; }; };\n",
			 bad[i][0]);
		ck_assert_int_eq(harness_prepare(&srv, conf), 0);
		ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 78);
		ck_assert_msg(strstr(out, bad[i][0]) != NULL && strstr(out, bad[i][1]) != NULL,
			      "for %s: %s", bad[i][0], out);
		free(out);
		harness_cleanup(&srv);
	}
	/* two files, one name */
	ck_assert_int_eq(harness_prepare(&srv,
		"plugin_dir = \"@BUILD@/tests/fixtures\";\n"
		"plugins = { x = { file = \"echo.so\"; }; y = { file = \"dup_name.so\"; }; };\n"
		"services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"x\", \"y\" ]; }; };\n"), 0);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 78);
	ck_assert_msg(strstr(out, "dup_name.so': name 'echo' is already used by plugin") != NULL, "%s", out);
	free(out);
}
END_TEST

START_TEST(test_only_one_service)
{
	const char *const only_b[] = { "-s", "b", NULL };
	char *out;

	ck_assert_int_eq(start_conf(CONF("m1", ""), only_b, 1), 0);
	ck_assert_uint_eq(srv.service_count, 1);
	ck_assert_str_eq(srv.services[0].name, "b");
	ck_assert(!harness_log_contains(&srv, "service 'a' listening"));
	ck_assert(!harness_log_contains(&srv, "in service 'a'"));
	ck_assert_int_eq(harness_stop(&srv), 0);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-c", srv.conf, "-s", "nope", NULL }, &out), 78);
	ck_assert_ptr_nonnull(strstr(out, "setting 'services.nope': no such service"));
	free(out);
}
END_TEST

START_TEST(test_override_from_command_line)
{
	const char *const args[] = { "-o", "plugins.e.settings.message=from-cli", "-o", "services.b.threads=3", NULL };

	ck_assert_int_eq(start_conf(CONF("m1", ""), args, 2), 0);
	assert_message(harness_port(&srv, "a"), "from-cli");
	/* the overrides stay in force across reloads */
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("configuration reloaded", 5000));
	assert_message(harness_port(&srv, "b"), "from-cli");
}
END_TEST

START_TEST(test_port_in_use)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char conf[1024], *out;
	int fd, status;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(conf, sizeof(conf),
		 "plugin_dir = \"@BUILD@/tests/fixtures\";\n"
		 "plugins = { e = { file = \"echo.so\"; }; };\n"
		 "services = { a = { listen = \"127.0.0.1:%u\"; plugins = [ \"e\" ]; }; };\n",
		 ntohs(sa.sin_port));
	ck_assert_int_eq(harness_prepare(&srv, conf), 0);
	status = run_rulsrv((const char *[]){ "-c", srv.conf, NULL }, &out);
	close(fd);
	ck_assert_int_ne(status, 0);
	ck_assert_msg(strstr(out, "cannot listen on '127.0.0.1:") != NULL &&
		      strstr(out, "Address already in use") != NULL, "%s", out);
	ck_assert_int_eq(count_error_lines(out), 1);
	free(out);
}
END_TEST

START_TEST(test_failing_init_is_one_error_line)
{
	char *out;

	ck_assert_int_eq(harness_prepare(&srv, CONF("m1", "fail_init = true;")), 0);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-c", srv.conf, NULL }, &out), 78);
	ck_assert_msg(strstr(out, "setting 'plugins.e.settings.fail_init': told to fail") != NULL, "%s", out);
	ck_assert_int_eq(count_error_lines(out), 1);
	free(out);
}
END_TEST

/* A plugin that cannot start for a reason other than its settings: exit 1, one line. */
START_TEST(test_failing_start_is_exit_1)
{
	char *out;

	ck_assert_int_eq(harness_prepare(&srv, CONF("m1", "fail_errno = 5;")), 0);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-c", srv.conf, NULL }, &out), 1);
	ck_assert_msg(strstr(out, "e: cannot open the echo chamber: error 5") != NULL, "%s", out);
	ck_assert_int_eq(count_error_lines(out), 1);
	free(out);
	/* -t calls every failure a configuration error */
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-t", "-c", srv.conf, NULL }, &out), 78);
	free(out);
}
END_TEST

START_TEST(test_version_and_help)
{
	char *out;

	ck_assert_int_eq(run_rulsrv((const char *[]){ "-V", NULL }, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "rulsrv "));
	ck_assert_ptr_nonnull(strstr(out, "plugin ABI 2.2"));
	free(out);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-h", NULL }, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "Usage: rulsrv [-c FILE] [-s SERVICE]... [-o SETTING=VALUE]... [-t] [-V] [-h]"));
	free(out);
	ck_assert_int_eq(run_rulsrv((const char *[]){ "-x", NULL }, &out), 64);
	free(out);
}
END_TEST

/* stderr is the journal when JOURNAL_STREAM names it: lines start with <priority>. */
START_TEST(test_journal_priority_prefix)
{
	char stream[64];
	struct stat st;
	int fd;

	ck_assert_int_eq(harness_prepare(&srv, CONF("m1", "")), 0);
	fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	unsetenv("JOURNAL_STREAM");
	learn_ports(2);
	ck_assert(harness_log_contains(&srv, "\n<6>service 'a' listening on 127.0.0.1:"));
	ck_assert(harness_log_contains(&srv, "<6>e: echo ready"));
	ck_assert(harness_log_contains(&srv, "<5>rulsrv "));
	ck_assert_int_eq(harness_stop(&srv), 0);
}
END_TEST

static bool
notify_wait(int fd, const char *want)
{
	char buf[256];
	int tries;

	for (tries = 0; tries < 500; tries++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, want) != NULL)
				return true;
			continue;
		}
		usleep(10000);
	}
	return false;
}

/* systemd Type=notify: READY=1 once serving, RELOADING=1 then READY=1, STOPPING=1. */
START_TEST(test_sd_notify)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	ck_assert_int_eq(harness_prepare(&srv, CONF("m1", "")), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/notify", srv.dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	ck_assert_int_eq(harness_start(&srv, NULL), 0);
	unsetenv("NOTIFY_SOCKET");
	learn_ports(2);
	ck_assert(notify_wait(fd, "READY=1"));
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(notify_wait(fd, "RELOADING=1"));
	ck_assert(notify_wait(fd, "READY=1"));
	ck_assert_int_eq(harness_signal(&srv, SIGTERM), 0);
	ck_assert(notify_wait(fd, "STOPPING=1"));
	ck_assert_int_eq(harness_wait(&srv, 10000), 0);
	close(fd);
}
END_TEST

static bool
have_plugin(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/plugins/%s", harness_build_dir(), name);
	return access(path, R_OK) == 0;
}

/* The core's metrics, read through the Prometheus exporter when it is built. */
START_TEST(test_core_metrics_and_failed_reload)
{
	static const char conf[] =
		"plugin_dir = \"@BUILD@/plugins\";\n"
		"plugins = {\n"
		"  e = { file = \"@BUILD@/tests/fixtures/echo.so\"; settings = { message = \"m1\"; }; };\n"
		"  prom = { file = \"export_prometheus.so\"; };\n"
		"};\n"
		"services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"e\", \"prom\" ]; }; };\n";
	struct harness_response r;
	int a, i;

	if (!have_plugin("export_prometheus.so")) {
		test_skip("export_prometheus.so is not built");
		return;
	}
	ck_assert_int_eq(start_conf(conf, NULL, 1), 0);
	a = harness_port(&srv, "a");
	for (i = 0; i < 3; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/no/such/%d", i);
		ck_assert_int_eq(harness_get(a, path, &r), 0);
		harness_response_free(&r);
	}
	assert_message(a, "m1");
	ck_assert_double_eq(harness_scrape(a, "http_requests_total{handler=\"other\",code=\"404\"}"), 3);
	ck_assert_double_eq(harness_scrape(a, "http_requests_total{handler=\"/echo/message\",code=\"200\"}"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_build_info{version=\"" RULSRV_VERSION "\"}"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_plugin_up{plugin=\"e\",kind=\"other\"}"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_last_reload_successful"), 1);
	/* the scrape itself; a previous request may still be completing on its own connection */
	ck_assert_double_ge(harness_scrape(a, "http_requests_in_flight"), 1);
	ck_assert_double_gt(harness_scrape(a, "process_resident_memory_bytes"), 0);

	/* a broken reload: old state kept, the metrics say so */
	rewrite_conf("services = { a = { listen = \"127.0.0.1:0\"; bogus = 1; }; };\n");
	ck_assert_int_eq(harness_signal(&srv, SIGHUP), 0);
	ck_assert(wait_log("reload failed", 5000));
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_last_reload_successful"), 0);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_reloads_total{result=\"failure\"}"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_reloads_total{result=\"success\"}"), 0);
	/* the registry survived: counts go on */
	ck_assert_double_eq(harness_scrape(a, "http_requests_total{handler=\"other\",code=\"404\"}"), 3);

	/* a good reload, with the echo instance removed: its up metric drops to 0 */
	rewrite_conf("plugin_dir = \"@BUILD@/plugins\";\n"
		     "plugins = { prom = { file = \"export_prometheus.so\"; }; };\n"
		     "services = { a = { listen = \"127.0.0.1:0\"; plugins = [ \"prom\" ]; }; };\n");
	ck_assert_int_eq(harness_http(a, "POST", "/-/reload", NULL, "", 0, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_last_reload_successful"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_config_reloads_total{result=\"success\"}"), 1);
	ck_assert_double_eq(harness_scrape(a, "rulsrv_plugin_up{plugin=\"e\",kind=\"other\"}"), 0);
	ck_assert_double_eq(harness_scrape(a, "http_requests_total{handler=\"/-/reload\",code=\"200\"}"), 1);
	ck_assert_int_eq(harness_get(a, "/echo/message", &r), 0);
	ck_assert_int_eq(r.status, 404);
	harness_response_free(&r);
}
END_TEST

Suite *daemon_suite(void);

Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("daemon");

	tcase_add_checked_fixture(tc, NULL, daemon_teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_serves_every_service);
	tcase_add_test(tc, test_observers_and_attributes);
	tcase_add_test(tc, test_sighup_swaps_state);
	tcase_add_test(tc, test_broken_reload_keeps_state);
	tcase_add_test(tc, test_refused_plugin_upgrade_keeps_serving);
	tcase_add_test(tc, test_reload_limits_and_listener);
	tcase_add_test(tc, test_inflight_request_finishes_on_old_state);
	tcase_add_test(tc, test_sigterm_drains_and_exits_0);
	tcase_add_test(tc, test_sigterm_waits_for_deferred_answers);
	tcase_add_test(tc, test_reload_hands_instances_over);
	tcase_add_test(tc, test_timers_across_reload);
	tcase_add_test(tc, test_check_mode);
	tcase_add_test(tc, test_check_refuses_bad_plugins);
	tcase_add_test(tc, test_only_one_service);
	tcase_add_test(tc, test_override_from_command_line);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_failing_init_is_one_error_line);
	tcase_add_test(tc, test_version_and_help);
	tcase_add_test(tc, test_failing_start_is_exit_1);
	tcase_add_test(tc, test_journal_priority_prefix);
	tcase_add_test(tc, test_sd_notify);
	tcase_add_test(tc, test_core_metrics_and_failed_reload);
	suite_add_tcase(s, tc);
	return s;
}
