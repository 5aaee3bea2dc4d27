/* SPDX-License-Identifier: MIT */
/* hello.c - a complete out-of-tree rulsrv plugin: one route, one counter, one setting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rulsrv/plugin.h>

struct hello {
	const struct rulsrv_api *api;
	char *greeting;
	struct rulsrv_series *greetings; /* hello_greetings_total */
};

static void
hello_free(struct hello *h)
{
	if (h == NULL)
		return;
	free(h->greeting);
	free(h);
}

/* GET /hello: answers {"greeting": "..."} and counts it. */
static void
hello_get(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct hello *h = ud;
	char *body;
	int n;

	(void)req; /* every request gets the same greeting */
	n = asprintf(&body, "{\"greeting\": \"%s\"}\n", h->greeting);
	if (n < 0) {
		h->api->respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	h->api->counter_add(h->greetings, 1);
	h->api->respond(resp, 200, "application/json", body, (size_t)n);
}

static int
hello_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	   const struct rulsrv_settings *settings, void **state)
{
	struct rulsrv_metric *family;
	struct hello *h;
	int r;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->api = api;
	r = api->setting_string(settings, "greeting", "hello from a drop-in plugin", &h->greeting);
	if (r < 0)
		goto out_free;
	if (strchr(h->greeting, '"') != NULL || strchr(h->greeting, '\\') != NULL) {
		api->setting_error(settings, "greeting", "must not contain quotes or backslashes");
		r = -EINVAL;
		goto out_free;
	}
	r = api->metric_new(host, RULSRV_METRIC_COUNTER, "hello_greetings_total",
			    "Greetings answered by the example plugin.", NULL, NULL, 0, &family);
	if (r < 0)
		goto out_free;
	h->greetings = api->series(family, NULL);
	if (h->greetings == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	r = api->route_add(host, "GET", "/hello", 0, hello_get, h);
	if (r < 0)
		goto out_free;
	*state = h;
	return 0;
out_free:
	hello_free(h);
	return r;
}

static void
hello_fini(void *state)
{
	hello_free(state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "hello",
	.kind = "other",
	.version = "1.0",
	.description = "example out-of-tree plugin: GET /hello",
	.init = hello_init,
	.ready = NULL,
	.fini = hello_fini,
};
