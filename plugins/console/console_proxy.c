/* SPDX-License-Identifier: MIT */
/* console_proxy.c - GET /console/feedback/stats: the feedback service's stats, same-origin. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "console.h"

/*
 * The page runs on the prediction service's origin and the feedback service listens on
 * another port, another origin: the plugin fetches its stats and answers them here. Requests
 * are deferred (no worker thread waits for the other service) and answered by one thread of
 * the instance's, which makes one fetch for every request that waits at that moment.
 */

#define CONSOLE_PROXY_MAX (1 << 20) /* a stats answer is a few hundred bytes */

struct console_wait {
	struct rulsrv_response *resp;
	struct console_wait *next;
};

struct console_body {
	char *data;
	size_t len;
	int overflow;
};

static size_t
console_body_write(char *ptr, size_t size, size_t n, void *ud)
{
	struct console_body *b = ud;
	size_t len = size * n;
	char *grown;

	if (b->len + len > CONSOLE_PROXY_MAX) {
		b->overflow = 1;
		return 0;
	}
	grown = realloc(b->data, b->len + len + 1);
	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, len);
	b->len += len;
	b->data[b->len] = 0;
	return len;
}

/* One fetch: the status (0 when none came) and body, or why in err. */
static long
console_fetch(const struct console *c, struct console_body *b, char *err, size_t err_len)
{
	char url[2048];
	long status = 0;
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (h == NULL) {
		snprintf(err, err_len, "out of memory");
		return 0;
	}
	snprintf(url, sizeof(url), "%s/v1/feedback/stats", c->feedback_url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* the feedback service, never a proxy's */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->proxy_timeout * 1000));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, console_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, err_len, "%.300s: %s", url,
			 b->overflow ? "answer larger than 1 MiB" : curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	return status;
}

/* Answer every waiting request with the fetch's result (a copy each: respond owns it). */
static void
console_answer(struct console *c, struct console_wait *w, long status,
	       const struct console_body *b, const char *err)
{
	const struct rulsrv_api *api = c->api;
	struct console_wait *next;
	char *copy;

	for (; w != NULL; w = next) {
		next = w->next;
		api->respond_header(w->resp, "Cache-Control", "no-store");
		if (status == 0) {
			api->respond_error(w->resp, 502, "feedback_unavailable",
					   "feedback service: %s", err);
		} else if ((copy = malloc(b->len + 1)) == NULL) {
			api->respond_error(w->resp, 503, "out_of_memory", "out of memory");
		} else {
			memcpy(copy, b->data != NULL ? b->data : "", b->len);
			copy[b->len] = 0;
			api->respond(w->resp, (unsigned)status, "application/json", copy, b->len);
		}
		free(w);
	}
}

static void *
console_proxy_main(void *ud)
{
	struct console *c = ud;
	struct console_wait *w;
	struct console_body b;
	char err[512];
	long status;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->waiting == NULL && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->waiting == NULL)
			break; /* stopping, and nobody waits */
		w = c->waiting;
		c->waiting = NULL;
		pthread_mutex_unlock(&c->lock);
		memset(&b, 0, sizeof(b));
		err[0] = 0;
		status = console_fetch(c, &b, err, sizeof(err));
		console_answer(c, w, status, &b, err);
		free(b.data);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
console_proxy_start(struct console *c)
{
	int r;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (c->feedback_url[0] == 0)
		return 0;
	r = pthread_create(&c->proxy, NULL, console_proxy_main, c);
	if (r != 0)
		return -r;
	c->proxy_started = true;
	return 0;
}

void
console_proxy_stop(struct console *c)
{
	if (c->proxy_started) {
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->proxy, NULL);
	}
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

void
console_feedback_stats(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct console *c = ud;
	struct console_wait *w;

	(void)req;
	if (c->feedback_url[0] == 0) {
		c->api->respond_error(resp, 404, "not_found",
				      "no feedback service is configured (console setting "
				      "feedback_url)");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		c->api->respond_error(resp, 503, "out_of_memory", "out of memory");
		return;
	}
	if (c->api->response_defer(resp) < 0) {
		free(w); /* answered already: nothing to do */
		return;
	}
	w->resp = resp;
	pthread_mutex_lock(&c->lock);
	w->next = c->waiting;
	c->waiting = w;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}
