/* SPDX-License-Identifier: MIT */
/* test_router.c - routing and refusals through a real libmicrohttpd on 127.0.0.1 port 0. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "auth.h"
#include "clocks.h"
#include "config.h"
#include "harness/harness.h"
#include "http.h"
#include "metrics.h"
#include "need.h"
#include "plugin_loader.h"
#include "service.h"
#include "snapshot.h"

static char dir[64], conf_path[128];
static struct config *conf;
static struct service *svc;
static int port;

static const char *const conf_text =
	"plugin_dir = \"" RULSRV_BUILD_DIR "/tests/fixtures\";\n"
	"plugins = { echo = { file = \"echo.so\"; settings = { message = \"m1\"; }; };\n"
	"            echo2 = { file = \"echo.so\"; settings = { prefix = \"/two\"; }; }; };\n"
	"services = { web = { listen = \"127.0.0.1:0\"; plugins = [ \"echo\" ]; threads = 2;\n"
	"                     max_body_bytes = 1000; }; };\n";

/* Start service "web" from text plus overrides; returns the snapshot build result. */
static int
start(const char *const *overrides, size_t n)
{
	struct plugin_set *plugins;
	struct snapshot *snap;
	char err[2048];
	FILE *f;
	int r;

	snprintf(conf_path, sizeof(conf_path), "%s/rulsrv.conf", dir);
	f = fopen(conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf_text, f);
	fclose(f);
	ck_assert_msg(config_load(conf_path, overrides, n, &conf, err, sizeof(err)) == 0, "%s", err);
	svc = service_new(&conf->services[0], NULL, NULL);
	ck_assert_ptr_nonnull(svc);
	plugins = plugin_set_new();
	r = service_build(svc, conf, &conf->services[0], plugins, &snap);
	plugin_set_unref(plugins);
	if (r < 0)
		return r;
	service_swap(svc, snap);
	ck_assert_int_eq(service_listen(svc), 0);
	port = atoi(strrchr(service_bound(svc), ':') + 1);
	ck_assert_int_gt(port, 0);
	return 0;
}

static void
router_setup(void)
{
	strcpy(dir, "/tmp/rulsrv-router-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	conf = NULL;
	svc = NULL;
}

static void
router_teardown(void)
{
	char cmd[128];

	service_free(svc);
	config_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
request(const char *method, const char *path, const char *body, const char *const *headers,
	struct harness_response *r)
{
	ck_assert_int_eq(harness_http(port, method, path, NULL, body, body ? strlen(body) : 0, headers, r), 0);
}

/* One request and what its answer must be; a NULL expectation is not checked. */
struct exchange {
	const char *method, *path, *content_type, *body;
	const char *const *headers;
	long status;
	const char *body_is;    /* the whole body */
	const char *body_has;   /* a part of the body */
	const char *header_has; /* a part of the raw headers, any case */
};

/* Run the exchanges in order on the started service; a failure names METHOD PATH. */
static void
check_exchanges(const struct exchange *x, size_t n)
{
	struct harness_response r;
	size_t i;

	for (i = 0; i < n; i++, x++) {
		ck_assert_msg(harness_http(port, x->method, x->path, x->content_type, x->body,
					   x->body ? strlen(x->body) : 0, x->headers, &r) == 0,
			      "%s %s: no answer", x->method, x->path);
		ck_assert_msg(r.status == x->status, "%s %s: status %ld, want %ld", x->method,
			      x->path, r.status, x->status);
		ck_assert_msg(x->body_is == NULL || strcmp(r.body, x->body_is) == 0,
			      "%s %s: body '%s', want '%s'", x->method, x->path, r.body, x->body_is);
		ck_assert_msg(x->body_has == NULL || strstr(r.body, x->body_has) != NULL,
			      "%s %s: body '%s' without '%s'", x->method, x->path, r.body, x->body_has);
		ck_assert_msg(x->header_has == NULL || strcasestr(r.headers, x->header_has) != NULL,
			      "%s %s: headers '%s' without '%s'", x->method, x->path, r.headers,
			      x->header_has);
		harness_response_free(&r);
	}
}

#define N_EXCHANGES(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_health_and_plugin_route)
{
	static const struct exchange x[] = {
		{ "GET", "/healthz", .status = 200, .body_is = "{\"status\":\"ok\"}" },
		{ "GET", "/readyz", .status = 200 },
		{ "GET", "/echo/message", .status = 200, .body_is = "{\"message\":\"m1\"}" },
		{ "POST", "/echo", .body = "body with\nlines", .status = 200,
		  .body_is = "body with\nlines" },
		{ "HEAD", "/healthz", .status = 200 },
	};

	ck_assert_int_eq(start(NULL, 0), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

START_TEST(test_not_found)
{
	static const struct exchange x[] = {
		{ "GET", "/nope?x=1", .status = 404,
		  .body_is = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such endpoint: /nope\"}}",
		  .header_has = "Content-Type: application/json" },
		/* a body sent to an unknown path is read and the connection stays usable */
		{ "POST", "/nope", .body = "some body", .status = 404 },
	};

	ck_assert_int_eq(start(NULL, 0), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

START_TEST(test_method_not_allowed)
{
	static const struct exchange x[] = {
		{ "DELETE", "/healthz", .status = 405, .header_has = "\r\nAllow: GET\r\n",
		  .body_has = "\"code\":\"method_not_allowed\"" },
		{ "GET", "/-/reload", .status = 405, .header_has = "\r\nAllow: POST\r\n" },
		{ "GET", "/echo", .status = 405, .header_has = "\r\nAllow: POST\r\n" },
	};

	ck_assert_int_eq(start(NULL, 0), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

START_TEST(test_body_limit)
{
	struct harness_response r;
	char *big = malloc(5001);
	const char *const chunked[] = { "Transfer-Encoding: chunked", NULL };

	ck_assert_int_eq(start(NULL, 0), 0);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	/* over the limit by Content-Length: answered (never dropped) */
	request("POST", "/echo", big, NULL, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"payload_too_large\""));
	harness_response_free(&r);
	/* over the limit while streaming chunks */
	request("POST", "/echo", big, chunked, &r);
	ck_assert_int_eq(r.status, 413);
	harness_response_free(&r);
	/* exactly at the limit is fine */
	big[1000] = '\0';
	request("POST", "/echo", big, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 1000);
	harness_response_free(&r);
	free(big);
}
END_TEST

START_TEST(test_plugin_answers_415_and_headers)
{
	static const char *const probe[] = { "X-Probe: 42", NULL };
	static const struct exchange x[] = {
		{ "POST", "/echo", "application/xml; charset=utf-8", "<a/>", .status = 415 },
		{ "GET", "/echo/header?name=x-probe", .headers = probe, .status = 200,
		  .body_is = "{\"value\":\"42\"}", .header_has = "X-Echo: yes" },
	};

	ck_assert_int_eq(start(NULL, 0), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

START_TEST(test_not_ready)
{
	const char *const o[] = { "plugins.echo.settings.ready=false", "services.web.plugins=[echo,echo2]",
				  "plugins.echo2.settings.ready=false" };
	static const struct exchange x[] = {
		{ "GET", "/readyz", .status = 503,
		  .body_is = "{\"error\":{\"code\":\"not_ready\",\"message\":\"echo: echo was told not to be "
			     "ready; echo2: echo was told not to be ready\"}}" },
		{ "GET", "/healthz", .status = 200 },
	};

	ck_assert_int_eq(start(o, 3), 0);
	check_exchanges(x, N_EXCHANGES(x));
	service_quiesce(svc);
}
END_TEST

/* Write token to DIR/token with mode and start with admin_token_file naming it. */
static int
start_with_token_file(const char *token, mode_t mode)
{
	char path[160], opt[200];
	const char *o[1] = { opt };
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(token, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	snprintf(opt, sizeof(opt), "services.web.admin_token_file=%s", path);
	return start(o, 1);
}

START_TEST(test_admin_token)
{
	static const char *const good[] = { "Authorization: Bearer s3cret-token", NULL };
	static const char *const bad[] = { "Authorization: Bearer s3cret-tokem", NULL };
	static const struct exchange x[] = {
		{ "POST", "/echo/admin", .body = "", .status = 401,
		  .header_has = "WWW-Authenticate: Bearer" },
		{ "POST", "/echo/admin", .body = "", .headers = bad, .status = 401 },
		{ "POST", "/echo/admin", .body = "", .headers = good, .status = 200 },
		/* not an admin route: no token needed */
		{ "GET", "/echo/message", .status = 200 },
	};

	ck_assert_int_eq(start_with_token_file("s3cret-token\n", 0600), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

START_TEST(test_admin_token_file_must_be_private)
{
	/* logged: accessible by group or others */
	ck_assert_int_eq(start_with_token_file("s3cret\n", 0640), -EINVAL);
}
END_TEST

START_TEST(test_auth_rules)
{
	ck_assert_uint_eq(auth_check(NULL, NULL, true), 0);
	ck_assert_uint_eq(auth_check(NULL, NULL, false), 403);
	ck_assert_uint_eq(auth_check(NULL, "Bearer x", false), 403);
	ck_assert_uint_eq(auth_check("tok", NULL, true), 401);
	ck_assert_uint_eq(auth_check("tok", "Bearer tok", false), 0);
	ck_assert_uint_eq(auth_check("tok", "bearer tok", false), 0);
	ck_assert_uint_eq(auth_check("tok", "Bearer to", false), 401);
	ck_assert_uint_eq(auth_check("tok", "Bearer tokk", false), 401);
	ck_assert_uint_eq(auth_check("tok", "Bearer ", false), 401);
	ck_assert_uint_eq(auth_check("tok", "Basic tok", false), 401);
}
END_TEST

START_TEST(test_route_table)
{
	const struct snapshot_env env = { .service_name = "t" };
	const struct config_service sv = { .name = "t", .max_body_bytes = 10 };
	struct snapshot *snap;
	const struct route *rt;
	char allow[64];
	bool known;

	ck_assert_int_eq(snapshot_new(&env, &sv, &snap), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "/a", 0, (rulsrv_handler_fn)abort, NULL, NULL), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "POST", "/a", 0, (rulsrv_handler_fn)abort, NULL, NULL), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "/a", 0, (rulsrv_handler_fn)abort, NULL, NULL), -EEXIST);
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "relative", 0, (rulsrv_handler_fn)abort, NULL, NULL), -EINVAL);
	rt = snapshot_route_find(snap, "POST", "/a", &known, allow, sizeof(allow));
	ck_assert_ptr_nonnull(rt);
	ck_assert_str_eq(rt->method, "POST");
	rt = snapshot_route_find(snap, "PUT", "/a", &known, allow, sizeof(allow));
	ck_assert_ptr_null(rt);
	ck_assert(known);
	ck_assert_str_eq(allow, "GET, POST");
	rt = snapshot_route_find(snap, "GET", "/a/", &known, allow, sizeof(allow));
	ck_assert_ptr_null(rt);
	ck_assert(!known);
	ck_assert_str_eq(snapshot_known_path(snap, "/a"), "/a");
	ck_assert_str_eq(snapshot_known_path(snap, "/b"), "other");
	/* prefix routes (ABI 2.1), as fleet mode uses them: GET and DELETE /e/{unit} */
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "/e/*", 0, (rulsrv_handler_fn)abort, NULL,
					    NULL), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "DELETE", "/e/*", 0, (rulsrv_handler_fn)abort,
					    NULL, NULL), 0);
	rt = snapshot_route_find(snap, "GET", "/e/7", &known, allow, sizeof(allow));
	ck_assert_ptr_nonnull(rt);
	ck_assert_str_eq(rt->path, "/e/*");
	rt = snapshot_route_find(snap, "POST", "/e/7", &known, allow, sizeof(allow));
	ck_assert_ptr_null(rt);
	ck_assert(known);
	ck_assert_str_eq(allow, "GET, DELETE");
	ck_assert_ptr_null(snapshot_route_find(snap, "GET", "/ex/7", &known, allow, sizeof(allow)));
	ck_assert_str_eq(snapshot_known_path(snap, "/e/12"), "/e/*");
	/* timers: 0.01 to 86400 s */
	ck_assert_int_eq(snapshot_timer_add(snap, 0.009, (rulsrv_timer_fn)abort, NULL), -EINVAL);
	ck_assert_int_eq(snapshot_timer_add(snap, 86401, (rulsrv_timer_fn)abort, NULL), -EINVAL);
	ck_assert_int_eq(snapshot_timer_add(snap, NAN, (rulsrv_timer_fn)abort, NULL), -EINVAL);
	ck_assert_int_eq(snapshot_timer_add(snap, 0.01, (rulsrv_timer_fn)abort, NULL), 0);
	snapshot_unref(snap);
}
END_TEST

/* A path ending in a slash and "*" takes what no exact route takes under it (ABI 2.1). */
START_TEST(test_prefix_routes)
{
	const struct snapshot_env env = { .service_name = "t" };
	const struct config_service sv = { .name = "t", .max_body_bytes = 10 };
	struct snapshot *snap;
	const struct route *rt;
	char allow[64];
	bool known;

	ck_assert_int_eq(snapshot_new(&env, &sv, &snap), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "/m/*", 0, (rulsrv_handler_fn)abort, NULL, NULL), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "GET", "/m/x", 0, (rulsrv_handler_fn)abort, NULL, NULL), 0);
	ck_assert_int_eq(snapshot_route_add(snap, "POST", "/m/x/infer", 0, (rulsrv_handler_fn)abort, NULL, NULL), 0);
	/* the exact route wins, wherever it was added */
	rt = snapshot_route_find(snap, "GET", "/m/x", &known, allow, sizeof(allow));
	ck_assert_str_eq(rt->path, "/m/x");
	rt = snapshot_route_find(snap, "GET", "/m/y/versions/3", &known, allow, sizeof(allow));
	ck_assert_str_eq(rt->path, "/m/*");
	rt = snapshot_route_find(snap, "HEAD", "/m/y", &known, allow, sizeof(allow));
	ck_assert_str_eq(rt->path, "/m/*");
	/* POST /m/x/infer is exact; GET of it falls to the prefix route */
	rt = snapshot_route_find(snap, "GET", "/m/x/infer", &known, allow, sizeof(allow));
	ck_assert_str_eq(rt->path, "/m/*");
	/* another method under the prefix: 405 with the prefix route's method */
	rt = snapshot_route_find(snap, "PUT", "/m/z", &known, allow, sizeof(allow));
	ck_assert_ptr_null(rt);
	ck_assert(known);
	ck_assert_str_eq(allow, "GET");
	/* the prefix itself without its slash, and other paths, are not under it */
	ck_assert_ptr_null(snapshot_route_find(snap, "GET", "/m", &known, allow, sizeof(allow)));
	ck_assert(!known);
	ck_assert_ptr_null(snapshot_route_find(snap, "GET", "/mm/x", &known, allow, sizeof(allow)));
	/* one handler label for every path under it */
	ck_assert_str_eq(snapshot_known_path(snap, "/m/anything"), "/m/*");
	snapshot_unref(snap);
}
END_TEST

/* http_requests_total: handler is the route, "other" for unknown paths (bounded cardinality). */
struct find {
	const char *family, *l0, *l1;
	double value;
};

static int
find_sample(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct find *f = ud;

	if (s == NULL || strcmp(fam->name, f->family) != 0)
		return 0;
	if (fam->label_count == 2 && f->l1 != NULL && strcmp(s->label_values[0], f->l0) == 0 &&
	    strcmp(s->label_values[1], f->l1) == 0)
		f->value = s->value;
	if (fam->label_count == 1 && f->l1 == NULL && strcmp(s->label_values[0], f->l0) == 0)
		f->value = s->value;
	return 0;
}

/* The sum of http_request_duration_seconds{handler}. */
static int
find_duration(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct find *f = ud;

	if (s != NULL && strcmp(fam->name, "http_request_duration_seconds") == 0 &&
	    strcmp(s->label_values[0], f->l0) == 0)
		f->value = s->sum;
	return 0;
}

static double
http_duration_sum(const char *handler)
{
	struct find f = { NULL, handler, NULL, NAN };

	ck_assert_int_eq(metrics_collect(service_registry(svc), find_duration, &f), 0);
	return f.value;
}

START_TEST(test_request_metrics)
{
	struct find f = { "http_requests_total", "other", "404", NAN };
	struct harness_response r;
	int i;

	ck_assert_int_eq(start(NULL, 0), 0);
	for (i = 0; i < 3; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/random-%d", i);
		request("GET", path, NULL, NULL, &r);
		harness_response_free(&r);
	}
	request("GET", "/echo/message", NULL, NULL, &r);
	harness_response_free(&r);
	usleep(100000); /* completion callbacks run after the answer is sent */
	ck_assert_int_eq(metrics_collect(service_registry(svc), find_sample, &f), 0);
	ck_assert_double_eq(f.value, 3);
	f = (struct find){ "http_requests_total", "/echo/message", "200", NAN };
	ck_assert_int_eq(metrics_collect(service_registry(svc), find_sample, &f), 0);
	ck_assert_double_eq(f.value, 1);
	f = (struct find){ "echo_requests_total", "message", "", NAN };
	ck_assert_int_eq(metrics_collect(service_registry(svc), find_sample, &f), 0); /* one label */
}
END_TEST

/*
 * ABI 1.1: the core's own 413s on a plugin's route reach the plugin's refusal callback (the
 * echo fixture counts them), once each; refusals on other routes do not. The fixture's init
 * also checks that route_refusals refuses routes that are not its own (-ENOENT).
 */
START_TEST(test_core_refusals_reach_the_plugin)
{
	const char *const chunked[] = { "Transfer-Encoding: chunked", NULL };
	struct find f = { "echo_refusals_total", "413", "payload_too_large", NAN };
	struct harness_response r;
	char *big = malloc(5001);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	ck_assert_int_eq(start(NULL, 0), 0);
	request("POST", "/echo", big, NULL, &r);        /* refused on its Content-Length */
	ck_assert_int_eq(r.status, 413);
	harness_response_free(&r);
	request("POST", "/echo", big, chunked, &r);     /* refused while streaming */
	ck_assert_int_eq(r.status, 413);
	harness_response_free(&r);
	request("POST", "/echo/notify", big, NULL, &r); /* a route without a refusal callback */
	ck_assert_int_eq(r.status, 413);
	harness_response_free(&r);
	free(big);
	ck_assert_int_eq(metrics_collect(service_registry(svc), find_sample, &f), 0);
	ck_assert_double_eq(f.value, 2);
}
END_TEST

static size_t
sink(char *ptr, size_t size, size_t n, void *ud)
{
	return size * n;
}

static size_t
keep(char *ptr, size_t size, size_t n, void *ud)
{
	strncat(ud, ptr, size * n < 200 ? size * n : 200);
	return size * n;
}

/* HTTPS through libmicrohttpd with tls_cert_file / tls_key_file. */
START_TEST(test_tls)
{
	const char *const o[] = { "services.web.tls_cert_file=cert.pem", "services.web.tls_key_file=key.pem" };
	char cmd[512], url[128];
	long status = 0;
	CURLcode rc;
	CURL *c;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
		 "-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1", dir);
	ck_assert_msg(system(cmd) == 0, "openssl cannot make a test certificate");
	ck_assert_int_eq(start(o, 2), 0);
	c = curl_easy_init();
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s", curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 200);
	curl_easy_cleanup(c);
}
END_TEST

/* A plugin cannot take a route the core (or another plugin) has: its init fails. */
START_TEST(test_route_taken)
{
	const char *const o[] = { "plugins.echo.settings.prefix=/-/reload" };

	ck_assert_int_eq(start(o, 1), -EEXIST);
}
END_TEST

START_TEST(test_silent_handler_is_500)
{
	static const struct exchange x[] = {
		{ "GET", "/echo/silent", .status = 500,
		  .body_is = "{\"error\":{\"code\":\"internal\",\"message\":\"the handler produced no "
			     "answer\"}}" },
	};

	ck_assert_int_eq(start(NULL, 0), 0);
	check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

/* While draining, a connection still open is told "shutting down" by /readyz. */
START_TEST(test_readyz_while_draining)
{
	char url[128], body[256] = "";
	long status = 0;
	CURL *c;

	ck_assert_int_eq(start(NULL, 0), 0);
	c = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 200);
	service_quiesce(svc);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK); /* the same, kept-alive connection */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 503);
	ck_assert_str_eq(body, "{\"error\":{\"code\":\"not_ready\",\"message\":\"shutting down\"}}");
	curl_easy_cleanup(c);
}
END_TEST

/* ---- deferred answers and timers (ABI 2.0) ---- */

static double
metric(const char *family, const char *l0, const char *l1)
{
	struct find f = { family, l0, l1, NAN };

	ck_assert_int_eq(metrics_collect(service_registry(svc), find_sample, &f), 0);
	return f.value;
}

/* The value of an unlabelled gauge or counter. */
static int
find_plain(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct find *f = ud;

	if (s != NULL && fam->label_count == 0 && strcmp(fam->name, f->family) == 0)
		f->value = s->value;
	return 0;
}

static double
plain_metric(const char *family)
{
	struct find f = { family, NULL, NULL, NAN };

	ck_assert_int_eq(metrics_collect(service_registry(svc), find_plain, &f), 0);
	return f.value;
}

struct getter {
	pthread_t thread;
	const char *path;
	long status;
	char body[128];
	double took;
};

static void *
getter_run(void *ud)
{
	struct getter *g = ud;
	struct harness_response r;
	double t0 = clocks_monotonic();

	if (harness_get(port, g->path, &r) == 0) {
		g->status = r.status;
		snprintf(g->body, sizeof(g->body), "%s", r.body);
		harness_response_free(&r);
	}
	g->took = clocks_monotonic() - t0;
	return NULL;
}

/*
 * 40 requests deferred for 600 ms each on one worker thread: they are all answered in about
 * 600 ms, not 40 x 600, and the worker answers other requests meanwhile (it is not held).
 * While they wait they are in flight; once answered they are counted with their status and
 * their duration runs up to the answer.
 */
START_TEST(test_deferred_answers_free_the_worker)
{
	const char *const o[] = { "services.web.threads=1" };
	enum { N = 40 };
	static struct getter g[N];
	struct harness_response r;
	double t0, took, inflight = 0, sum;
	int i, waited;

	ck_assert_int_eq(start(o, 1), 0);
	t0 = clocks_monotonic();
	for (i = 0; i < N; i++) {
		g[i] = (struct getter){ .path = "/echo/defer?ms=600" };
		ck_assert_int_eq(pthread_create(&g[i].thread, NULL, getter_run, &g[i]), 0);
	}
	for (waited = 0; waited < 500 && inflight < N; waited += 10) {
		usleep(10000);
		inflight = plain_metric("http_requests_in_flight");
	}
	ck_assert_double_eq(inflight, N);
	request("GET", "/healthz", NULL, NULL, &r); /* the one worker is free */
	ck_assert_int_eq(r.status, 200);
	harness_response_free(&r);
	/* /healthz completes (and leaves the gauge) just after its answer was sent */
	for (waited = 0; waited < 100 && inflight != N; waited++) {
		usleep(5000);
		inflight = plain_metric("http_requests_in_flight");
	}
	ck_assert_double_eq(inflight, N);
	for (i = 0; i < N; i++) {
		pthread_join(g[i].thread, NULL);
		ck_assert_int_eq(g[i].status, 200);
		ck_assert_str_eq(g[i].body, "{\"deferred\":\"m1\"}");
		ck_assert_msg(g[i].took >= 0.55, "answered after %.3f s, deferred for 0.6", g[i].took);
	}
	took = clocks_monotonic() - t0;
	ck_assert_msg(took < 4.0, "%d deferred requests took %.3f s on one worker", N, took);
	for (waited = 0; waited < 200 && metric("http_requests_total", "/echo/defer", "200") < N;
	     waited++)
		usleep(10000); /* completion callbacks run after the answer is sent */
	ck_assert_double_eq(metric("http_requests_total", "/echo/defer", "200"), N);
	ck_assert_double_eq(plain_metric("http_requests_in_flight"), 0);
	sum = http_duration_sum("/echo/defer");
	ck_assert_msg(sum >= N * 0.55, "duration sum %.3f s for %d answers after 0.6 s", sum, N);
}
END_TEST

/* Deferred and answered before the handler returned: queued at once; a second defer is refused. */
START_TEST(test_deferred_answer_before_return)
{
	static const struct exchange x[] = {
		{ "GET", "/echo/defer-now", .status = 200, .body_is = "{\"first\":0,\"again\":-114}" },
		{ "GET", "/echo/defer?ms=0", .status = 200, .body_is = "{\"deferred\":\"m1\"}" },
		{ "GET", "/echo/defer-now", .status = 200 },
	};
	int i;

	ck_assert_int_eq(start(NULL, 0), 0);
	/* ms=0: the answer races the handler's return and the suspend */
	for (i = 0; i < 100; i++)
		check_exchanges(x, N_EXCHANGES(x));
}
END_TEST

/* A connection answered late is kept alive and serves the next request. */
START_TEST(test_deferred_keep_alive)
{
	char url[128], body[256] = "";
	long status = 0, connects = -1;
	CURL *c;

	ck_assert_int_eq(start(NULL, 0), 0);
	c = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo/defer?ms=100", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(body, "{\"deferred\":\"m1\"}");
	body[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo/message", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(body, "{\"message\":\"m1\"}");
	ck_assert_int_eq(connects, 0); /* the same connection */
	curl_easy_cleanup(c);
}
END_TEST

/* request_timeout_seconds does not cut a request whose body is in and whose answer is deferred. */
START_TEST(test_deferred_outlives_request_timeout)
{
	const char *const o[] = { "services.web.request_timeout_seconds=1" };
	static const struct exchange x[] = {
		{ "GET", "/echo/defer?ms=2200", .status = 200, .body_is = "{\"deferred\":\"m1\"}" },
		{ "GET", "/healthz", .status = 200 },
	};

	ck_assert_int_eq(start(o, 1), 0);
	check_exchanges(x, N_EXCHANGES(x));
	ck_assert_double_eq(metric("http_request_timeouts_total", "body", NULL), 0);
}
END_TEST

static long
ticks(int *late)
{
	struct harness_response r;
	long n = -1;

	request("GET", "/echo/ticks", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(sscanf(r.body, "{\"ticks\":%ld,\"late\":%d}", &n, late), 2);
	harness_response_free(&r);
	return n;
}

/* A timer's first call comes one interval after the start, then every interval. */
START_TEST(test_timer_ticks)
{
	const char *const o[] = { "plugins.echo.settings.tick_ms=400" };
	int late = 0;
	long n;

	ck_assert_int_eq(start(o, 1), 0);
	ck_assert_int_eq(ticks(&late), 0);
	ck_assert_int_eq(late, -EBUSY); /* init only */
	usleep(1300 * 1000);
	n = ticks(&late);
	ck_assert_msg(n >= 2 && n <= 4, "%ld ticks of 400 ms in 1.3 s", n);
}
END_TEST

/*
 * Error bodies stay JSON whatever the message quotes: well-formed UTF-8 is kept, every
 * malformed sequence (stray continuation, overlong, surrogate, beyond U+10FFFF, cut short
 * by the end of the string) becomes one U+FFFD per byte that starts none.
 */
START_TEST(test_error_body_utf8)
{
	static const struct {
		const char *message, *escaped;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\x80z", "a\\ufffdz" },
		{ "\xc0\xaf", "\\ufffd\\ufffd" },
		{ "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd" },
		{ "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" },
		{ "\xe2\x82", "\\ufffd\\ufffd" },
		{ "q\"\\\n", "q\\\"\\\\\\u000a" },
	};
	char want[256];
	size_t i, len;
	char *body;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = http_error_body("c", cases[i].message, &len);
		ck_assert_ptr_nonnull(body);
		snprintf(want, sizeof(want), "{\"error\":{\"code\":\"c\",\"message\":\"%s\"}}",
			 cases[i].escaped);
		ck_assert_str_eq(body, want);
		ck_assert_uint_eq(len, strlen(want));
		free(body);
	}
}
END_TEST

Suite *router_suite(void);

Suite *
router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");

	tcase_add_checked_fixture(tc, router_setup, router_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_health_and_plugin_route);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_body_limit);
	tcase_add_test(tc, test_plugin_answers_415_and_headers);
	tcase_add_test(tc, test_not_ready);
	tcase_add_test(tc, test_admin_token);
	tcase_add_test(tc, test_admin_token_file_must_be_private);
	tcase_add_test(tc, test_auth_rules);
	tcase_add_test(tc, test_route_table);
	tcase_add_test(tc, test_prefix_routes);
	tcase_add_test(tc, test_request_metrics);
	tcase_add_test(tc, test_core_refusals_reach_the_plugin);
	tcase_add_test(tc, test_silent_handler_is_500);
	tcase_add_test(tc, test_route_taken);
	tcase_add_test(tc, test_readyz_while_draining);
	tcase_add_test(tc, test_deferred_answers_free_the_worker);
	tcase_add_test(tc, test_deferred_answer_before_return);
	tcase_add_test(tc, test_deferred_keep_alive);
	tcase_add_test(tc, test_deferred_outlives_request_timeout);
	tcase_add_test(tc, test_timer_ticks);
	tcase_add_test(tc, test_error_body_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_needs(tc, "openssl");
	tcase_add_checked_fixture(tc, router_setup, router_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_tls);
	suite_add_tcase(s, tc);
	return s;
}
