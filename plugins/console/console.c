/* SPDX-License-Identifier: MIT */
/* console.c - the console plugin: GET / serves a web page of the prediction service. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rulsrv/plugin.h>

#include "console.h"
#include "console_assets.h"

/*
 * The page (ui/index.html, console.css, console.js, compiled in) reads the service's own
 * JSON APIs with fetch(): /v1/models, /v1/drift, /v1/engines, and two of the plugin's:
 * /console/metrics.json (the registry's prediction families, for rates and latency) and
 * /console/feedback/stats (the feedback service's GET /v1/feedback/stats, fetched by the
 * plugin: the page stays same-origin, see docs/MONITORING.md). It calls no admin endpoint.
 *
 * Settings (rulsrv.conf(5), plugin `console.so`):
 *   feedback_url           string  "http://127.0.0.1:3001"  the feedback service; "" for none
 *   proxy_timeout_seconds  number  2     how long /console/feedback/stats waits for it
 */

/* Content-Security-Policy: everything from this origin, nothing from anywhere else, no
 * inline script or style: the page works only as it was shipped. */
#define CONSOLE_CSP                                                                         \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "     \
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct console_page {
	struct console *console;
	const struct console_asset *asset;
	const char *content_type;
};

struct console_state {
	struct console c;
	bool proxy_inited;
	struct console_page pages[8];
};

static const struct {
	const char *asset;
	const char *path;
	const char *content_type;
} console_routes[] = {
	{ "index.html", "/", "text/html; charset=utf-8" },
	{ "console.css", "/console/console.css", "text/css; charset=utf-8" },
	{ "console.js", "/console/console.js", "text/javascript; charset=utf-8" },
};

#define CONSOLE_N(a) (sizeof(a) / sizeof((a)[0]))

static void
console_page(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	const struct console_page *p = ud;
	const struct rulsrv_api *api = p->console->api;
	char *body = malloc(p->asset->size + 1);

	(void)req;
	if (body == NULL) {
		api->respond_error(resp, 503, "out_of_memory", "out of memory");
		return;
	}
	memcpy(body, p->asset->data, p->asset->size + 1);
	/* a new rulsrv may ship another page: the browser asks again rather than mix versions */
	api->respond_header(resp, "Cache-Control", "no-cache");
	api->respond_header(resp, "Content-Security-Policy", CONSOLE_CSP);
	api->respond_header(resp, "X-Content-Type-Options", "nosniff");
	api->respond_header(resp, "Referrer-Policy", "no-referrer");
	api->respond(resp, 200, p->content_type, body, p->asset->size);
}

static const struct console_asset *
console_asset(const char *name)
{
	const struct console_asset *a;

	for (a = console_assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static void
console_free(struct console_state *s)
{
	if (s == NULL)
		return;
	if (s->proxy_inited)
		console_proxy_stop(&s->c);
	free(s->c.feedback_url);
	free(s);
}

static int
console_settings(struct console *c, const struct rulsrv_settings *settings)
{
	const struct rulsrv_api *api = c->api;
	const char *u;
	int r = 0;

	r |= api->setting_string(settings, "feedback_url", "http://127.0.0.1:3001",
				 &c->feedback_url);
	r |= api->setting_double(settings, "proxy_timeout_seconds", 2, 0.1, 60, &c->proxy_timeout);
	if (r != 0)
		return -EINVAL;
	u = c->feedback_url;
	if (u[0] != 0 && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
		api->setting_error(settings, "feedback_url",
				   "expected \"\" or a URL that starts with http:// or https://, "
				   "got \"%s\"", u);
		return -EINVAL;
	}
	/* "http://host:3001/" and "http://host:3001" name the same service */
	while (strlen(u) > 8 && u[strlen(u) - 1] == '/')
		c->feedback_url[strlen(u) - 1] = 0;
	return 0;
}

static int
console_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	     const struct rulsrv_settings *settings, void **state)
{
	struct console_state *s = calloc(1, sizeof(*s));
	size_t i;
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->c.host = host;
	s->c.api = api;
	r = console_settings(&s->c, settings);
	if (r == 0) {
		r = console_proxy_start(&s->c);
		s->proxy_inited = true;
	}
	for (i = 0; i < CONSOLE_N(console_routes) && r == 0; i++) {
		struct console_page *p = &s->pages[i];

		p->console = &s->c;
		p->asset = console_asset(console_routes[i].asset);
		p->content_type = console_routes[i].content_type;
		if (p->asset == NULL) {
			api->log(host, RULSRV_LOG_ERR, "the page's %s is not compiled in",
				 console_routes[i].asset);
			r = -ENOENT;
			break;
		}
		r = api->route_add(host, "GET", console_routes[i].path, 0, console_page, p);
		if (r < 0)
			api->log(host, RULSRV_LOG_ERR, "cannot add GET %s: error %d",
				 console_routes[i].path, r);
	}
	if (r == 0)
		r = api->route_add(host, "GET", "/console/metrics.json", 0, console_metrics, &s->c);
	if (r == 0)
		r = api->route_add(host, "GET", "/console/feedback/stats", 0,
				   console_feedback_stats, &s->c);
	if (r < 0) {
		console_free(s);
		return r;
	}
	api->log(host, RULSRV_LOG_INFO, "console at GET /, feedback from %s",
		 s->c.feedback_url[0] ? s->c.feedback_url : "(none)");
	*state = s;
	return 0;
}

static void
console_fini(void *state)
{
	console_free(state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "console",
	.kind = "other",
	.version = "0.1.0",
	.description = "a web page of the model, traffic, drift, accuracy and fleet at GET /",
	.init = console_init,
	.ready = NULL,
	.fini = console_fini,
};
