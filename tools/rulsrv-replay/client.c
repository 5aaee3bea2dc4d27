/* SPDX-License-Identifier: MIT */
/* client.c - libcurl multi: a pool of easy handles on kept-alive connections, a rate limiter. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clocks.h"

/* How far the rate limiter lets a late loop catch up, in seconds of requests. */
#define RATE_CATCH_UP 0.1
/* The longest wait before a retry, whatever Retry-After or the backoff says. */
#define RETRY_DELAY_MAX 5.0

struct slot {
	CURL *easy;
	struct buf body;
	struct buf response;
	char errbuf[CURL_ERROR_SIZE];
	char *url;
	void *user;
	int tag;
	unsigned attempt;  /* retries made so far of this request */
	double retry_at;   /* when waiting: the monotonic time to start it again */
	double retry_after; /* the Retry-After of the last answer, seconds; -1 when none */
};

struct client {
	CURLM *multi;
	struct slot *slots;
	size_t slot_count;
	struct slot **free_slots; /* stack */
	size_t free_count;
	struct slot **waiting;    /* requests waiting to be retried */
	size_t waiting_count;
	unsigned max_retries;
	double retry_delay;       /* seconds before the first retry; doubled for each next one */
	size_t retries;           /* retries made, all requests */
	double interval;          /* seconds between starts; 0 = no limit */
	double next_start;
	long timeout_ms;
	struct curl_slist *headers;
	struct curl_slist *auth_headers;
	client_done_fn done;
	void *arg;
	struct slot control;      /* the blocking control-plane request */
};

static size_t
on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct buf *b = userdata;

	return buf_append(b, data, size * n) == 0 ? size * n : 0;
}

/* "Retry-After: 2" (seconds; the HTTP-date form is not used by rulsrv) into s->retry_after. */
static size_t
on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct slot *s = userdata;
	size_t len = size * n;
	char v[32];

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0 && len - 12 < sizeof(v)) {
		memcpy(v, data + 12, len - 12);
		v[len - 12] = '\0';
		s->retry_after = strtod(v, NULL);
	}
	return len;
}

static int
slot_init(struct slot *s)
{
	s->easy = curl_easy_init();
	if (s->easy == NULL)
		return -ENOMEM;
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->response);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "rulsrv-replay/" REPLAY_VERSION);
	return 0;
}

static void
slot_free(struct slot *s)
{
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	buf_free(&s->body);
	buf_free(&s->response);
	free(s->url);
}

/* Headers: JSON, and no "Expect: 100-continue" round trip before a 7 KB body. */
static struct curl_slist *
make_headers(const char *token)
{
	struct curl_slist *h = NULL, *n;
	char auth[4200];

	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (h == NULL)
		return NULL;
	n = curl_slist_append(h, "Expect:");
	if (n == NULL)
		goto out_free;
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		n = curl_slist_append(h, auth);
		if (n == NULL)
			goto out_free;
	}
	return h;
out_free:
	curl_slist_free_all(h);
	return NULL;
}

struct client *
client_new(size_t concurrency, double rate, double timeout, const char *token,
	   client_done_fn done, void *arg)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->done = done;
	c->arg = arg;
	c->interval = rate > 0 ? 1.0 / rate : 0;
	c->next_start = clocks_monotonic();
	c->timeout_ms = (long)(timeout * 1000);
	c->multi = curl_multi_init();
	c->slots = calloc(concurrency, sizeof(*c->slots));
	c->free_slots = calloc(concurrency, sizeof(*c->free_slots));
	c->waiting = calloc(concurrency, sizeof(*c->waiting));
	c->headers = make_headers(NULL);
	c->auth_headers = make_headers(token);
	if (c->multi == NULL || c->slots == NULL || c->free_slots == NULL || c->waiting == NULL || c->headers == NULL ||
	    c->auth_headers == NULL || slot_init(&c->control) < 0)
		goto out_free;
	for (size_t i = 0; i < concurrency; i++) {
		if (slot_init(&c->slots[i]) < 0)
			goto out_free;
		c->slot_count++;
		c->free_slots[c->free_count++] = &c->slots[concurrency - 1 - i];
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)(2 * concurrency + 2));
	return c;
out_free:
	client_free(c);
	return NULL;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->slot_count; i++) {
		if (c->multi != NULL)
			curl_multi_remove_handle(c->multi, c->slots[i].easy);
		slot_free(&c->slots[i]);
	}
	slot_free(&c->control);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->headers);
	curl_slist_free_all(c->auth_headers);
	free(c->slots);
	free(c->free_slots);
	free(c->waiting);
	free(c);
}

bool
client_ready(struct client *c)
{
	return c->free_count > 0 && (c->interval == 0 || clocks_monotonic() >= c->next_start);
}

size_t
client_in_flight(const struct client *c)
{
	return c->slot_count - c->free_count;
}

void
client_set_retries(struct client *c, unsigned max_retries, double first_delay)
{
	c->max_retries = max_retries;
	c->retry_delay = first_delay;
}

size_t
client_retries(const struct client *c)
{
	return c->retries;
}

static int
slot_prepare(struct client *c, struct slot *s, const char *method, const char *url,
	     const char *body, size_t len, bool auth)
{
	int r = 0;

	buf_reset(&s->body);
	buf_reset(&s->response);
	s->errbuf[0] = '\0';
	s->attempt = 0;
	s->retry_after = -1;
	if (s->url == NULL || strcmp(s->url, url) != 0) {
		free(s->url);
		s->url = strdup(url);
		if (s->url == NULL)
			return -ENOMEM;
	}
	if (body != NULL)
		r = buf_append(&s->body, body, len);
	if (r < 0)
		return r;
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, auth ? c->auth_headers : c->headers);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data ? s->body.data : "");
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
	} else {
		curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
	}
	/* the handles are reused: a DELETE's method must not stay on the next request */
	curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST,
			 strcmp(method, "DELETE") == 0 ? "DELETE" : NULL);
	return 0;
}

static int
start(struct client *c, const char *method, const char *url, const char *body, size_t len,
      bool auth, void *user, int tag)
{
	struct slot *s;
	double now;
	int r;

	if (c->free_count == 0)
		return -EBUSY;
	s = c->free_slots[c->free_count - 1];
	r = slot_prepare(c, s, method, url, body, len, auth);
	if (r < 0)
		return r;
	s->user = user;
	s->tag = tag;
	if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
		return -ENOMEM;
	c->free_count--;
	if (c->interval > 0) {
		now = clocks_monotonic();
		if (c->next_start < now - RATE_CATCH_UP)
			c->next_start = now - RATE_CATCH_UP;
		c->next_start += c->interval;
	}
	return 0;
}

int
client_post(struct client *c, const char *url, const char *body, size_t len, bool auth,
	    void *user, int tag)
{
	return start(c, "POST", url, body, len, auth, user, tag);
}

int
client_delete(struct client *c, const char *url, bool auth, void *user, int tag)
{
	return start(c, "DELETE", url, NULL, 0, auth, user, tag);
}

static void
fill_result(struct slot *s, CURLcode code, struct client_result *r)
{
	memset(r, 0, sizeof(*r));
	r->curl_code = code;
	if (code == CURLE_OK)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
	r->error = code == CURLE_OK ? "" : s->errbuf[0] ? s->errbuf : curl_easy_strerror(code);
	r->url = s->url;
	r->body = s->response.data ? s->response.data : "";
	r->body_len = s->response.len;
}

/*
 * Worth another try: no answer came (the connection was refused, reset or timed out: an
 * instance died or restarts), or a proxy or the service said it is unavailable for now (502,
 * 503, 504). Every request the replay sends is safe to repeat: an exact repeat of an engine's
 * last cycle is answered with the same prediction and stores nothing new, a window-form
 * prediction changes no state but the prediction log, and a failure event scores only
 * predictions not scored yet (docs/FLEET.md, docs/FEEDBACK.md).
 */
static bool
retryable(CURLcode code, long status)
{
	switch (code) {
	case CURLE_OK:
		return status == 502 || status == 503 || status == 504;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

/* Put s aside to start again later: the server's Retry-After, else the backoff (doubling). */
static void
retry_later(struct client *c, struct slot *s)
{
	double delay = c->retry_delay;

	for (unsigned i = 0; i < s->attempt && delay < RETRY_DELAY_MAX; i++)
		delay *= 2;
	if (s->retry_after >= 0)
		delay = s->retry_after;
	if (delay > RETRY_DELAY_MAX)
		delay = RETRY_DELAY_MAX;
	s->attempt++;
	s->retry_at = clocks_monotonic() + delay;
	c->waiting[c->waiting_count++] = s;
	c->retries++;
}

/* Start again the waiting requests whose time has come. */
static void
restart_due(struct client *c)
{
	double now = clocks_monotonic();
	size_t i = 0;

	while (i < c->waiting_count) {
		struct slot *s = c->waiting[i];

		if (s->retry_at > now) {
			i++;
			continue;
		}
		buf_reset(&s->response);
		s->errbuf[0] = '\0';
		s->retry_after = -1;
		c->waiting[i] = c->waiting[--c->waiting_count];
		if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK) {
			struct client_result res;

			fill_result(s, CURLE_OUT_OF_MEMORY, &res);
			c->free_slots[c->free_count++] = s;
			c->done(c->arg, s->user, s->tag, &res);
		}
	}
}

/* Milliseconds until the next waiting request is due, capped at timeout_ms. */
static int
next_due_ms(const struct client *c, int timeout_ms)
{
	double now = clocks_monotonic();

	for (size_t i = 0; i < c->waiting_count; i++) {
		double ms = (c->waiting[i]->retry_at - now) * 1000;

		if (ms < timeout_ms)
			timeout_ms = ms > 0 ? (int)ms + 1 : 0;
	}
	return timeout_ms;
}

static void
collect(struct client *c)
{
	struct client_result res;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct slot *s = NULL;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(c->multi, s->easy);
		if (s->attempt < c->max_retries && retryable(m->data.result, status)) {
			retry_later(c, s);
			continue;
		}
		fill_result(s, m->data.result, &res);
		c->free_slots[c->free_count++] = s;
		c->done(c->arg, s->user, s->tag, &res);
	}
}

int
client_poll(struct client *c, int timeout_ms)
{
	int running;

	if (c->interval > 0 && c->free_count > 0) {
		double wait = (c->next_start - clocks_monotonic()) * 1000;

		if (wait < timeout_ms)
			timeout_ms = wait > 0 ? (int)wait + 1 : 0;
	}
	restart_due(c);
	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -EIO;
	collect(c);
	timeout_ms = next_due_ms(c, timeout_ms);
	if (curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
		return -EIO;
	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -EIO;
	collect(c);
	return 0;
}

int
client_request(struct client *c, const char *method, const char *url, const char *body,
	       bool auth, struct client_result *r)
{
	CURLcode code;
	int err;

	err = slot_prepare(c, &c->control, method, url, body, body ? strlen(body) : 0, auth);
	if (err < 0)
		return err;
	code = curl_easy_perform(c->control.easy);
	fill_result(&c->control, code, r);
	return 0;
}
