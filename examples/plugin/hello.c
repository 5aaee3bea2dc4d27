/* SPDX-License-Identifier: MIT */
/* hello.c - a complete out-of-tree rulsrv plugin: a route, two metrics, a setting, a timer, a handoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rulsrv/plugin.h>

/* How often the timer refreshes hello_uptime_seconds. */
#define HELLO_TICK_S 1.0

/* Its address tells this build's states from another build's (see hello_handoff). */
static const char hello_object[] = "hello";

struct hello {
	const char *object; /* first member, in every version: hello_object */
	const struct rulsrv_api *api;
	char *greeting;
	double started; /* CLOCK_MONOTONIC seconds: when the first instance of the chain started */
	struct rulsrv_series *greetings; /* hello_greetings_total */
	struct rulsrv_series *uptime;    /* hello_uptime_seconds */
};

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
hello_free(struct hello *h)
{
	if (h == NULL)
		return;
	free(h->greeting);
	free(h);
}

/* GET /hello: answers {"greeting": "..."} and counts it; on any worker thread. */
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

/* Every HELLO_TICK_S on the service's timer thread: short, never blocking. */
static void
hello_tick(void *ud)
{
	struct hello *h = ud;

	h->api->gauge_set(h->uptime, mono_now() - h->started);
}

/* Both families in one table; each has no labels, so it comes with its one series. */
static int
hello_metrics(struct rulsrv_host *host, struct hello *h)
{
	struct rulsrv_metric *greetings, *uptime;
	const struct rulsrv_metric_def defs[] = {
		{
			.name = "hello_greetings_total",
			.type = RULSRV_METRIC_COUNTER,
			.help = "Greetings answered by the example plugin.",
			.out = &greetings,
			.series = &h->greetings,
		},
		{
			.name = "hello_uptime_seconds",
			.type = RULSRV_METRIC_GAUGE,
			.help = "Seconds since the example plugin started, across reloads.",
			.out = &uptime,
			.series = &h->uptime,
		},
	};

	return h->api->metrics_register(host, defs, sizeof(defs) / sizeof(defs[0]));
}

static int
hello_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	   const struct rulsrv_settings *settings, void **state)
{
	struct hello *h;
	int r;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->object = hello_object;
	h->api = api;
	h->started = mono_now(); /* a reload's handoff replaces it with the predecessor's */
	r = api->setting_string(settings, "greeting", "hello from a drop-in plugin", &h->greeting);
	if (r < 0)
		goto out_free;
	if (strchr(h->greeting, '"') != NULL || strchr(h->greeting, '\\') != NULL) {
		api->setting_error(settings, "greeting", "must not contain quotes or backslashes");
		r = -EINVAL;
		goto out_free;
	}
	r = hello_metrics(host, h);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot register the hello metrics: error %d", r);
		goto out_free;
	}
	/* Routes and timers are part of what the instance serves: init is the only time to add them. */
	r = api->route_add(host, "GET", "/hello", 0, hello_get, h);
	if (r == 0)
		r = api->timer_add(host, HELLO_TICK_S, hello_tick, h);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot add GET /hello and its timer: error %d", r);
		goto out_free;
	}
	*state = h;
	return 0;
out_free:
	hello_free(h);
	return r;
}

/*
 * A reload replaced the instance: keep the uptime of the first one. Runs before the new
 * instance serves (and before its timer starts), while the old one may still serve; the old
 * one never changes started, so reading it here is safe. The predecessor is found by the
 * descriptor's name: after a new hello.so was installed, old_state is the old build's, whose
 * layout may differ, so only its first member is read until it proves to be ours.
 */
static void
hello_handoff(void *state, void *old_state)
{
	struct hello *h = state;
	const struct hello *old = old_state;

	if (old->object == hello_object)
		h->started = old->started;
}

/* After the last request on this instance and after its timer stopped. */
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
	.version = "2.0",
	.description = "example out-of-tree plugin: GET /hello",
	.init = hello_init,
	.ready = NULL,
	.fini = hello_fini,
	.handoff = hello_handoff,
};
