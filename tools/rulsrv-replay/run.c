/* SPDX-License-Identifier: MIT */
/* run.c - the event loop of one quarter: schedule engines, post, score the answers. */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clocks.h"

enum run_tag {
	TAG_PREDICT,
	TAG_FAILURE,
	TAG_RESET, /* streaming: DELETE /v1/engines/UNIT where a life begins */
};

/* Failures in a row, with no success between, after which the replay stops. */
static size_t
failure_limit(const struct run *r)
{
	return 20 + 2 * r->fleet.size;
}

static void
report_failure(struct run *r, const char *what, const char *method, const struct engine *e,
	       int64_t cycle, const struct client_result *res)
{
	char msg[512], where[96];

	r->stats->errors++;
	r->failures_in_a_row++;
	if (cycle >= 0)
		snprintf(where, sizeof(where), "unit %" PRId64 ", cycle %" PRId64, e->unit, cycle);
	else
		snprintf(where, sizeof(where), "unit %" PRId64 " failed at cycle %" PRId64,
			 e->unit, e->last_cycle);
	if (res->curl_code != 0)
		snprintf(msg, sizeof(msg), "cannot reach '%s': %s", res->url, res->error);
	else if (res->status >= 200 && res->status <= 299)
		snprintf(msg, sizeof(msg), "%s service answered %ld without a prediction", what,
			 res->status);
	else {
		char body[400];

		payload_error_message(res->body, res->body_len, body, sizeof(body));
		snprintf(msg, sizeof(msg), "%s service refused %s %s: %ld %s", what, method,
			 res->url, res->status, body);
	}
	if (r->errors_shown < RUN_ERRORS_SHOWN) {
		progress_message(r->progress, "%s (%s)", msg, where);
		if (++r->errors_shown == RUN_ERRORS_SHOWN)
			progress_message(r->progress, "further failed requests are only counted");
	}
	if (!r->aborted && r->failures_in_a_row >= failure_limit(r)) {
		r->aborted = true;
		snprintf(r->abort_reason, sizeof(r->abort_reason),
			 "stopping after %zu failed requests in a row; the last: %s",
			 r->failures_in_a_row, msg);
	}
}

static void
on_predict(struct run *r, struct engine *e, const struct client_result *res)
{
	size_t at = engine_cycle_index(e, e->answered);
	int64_t cycle = r->q->table.cycle[e->first_row + at];
	double rul;

	e->in_flight = false;
	e->answered++;
	e->answered_at = clocks_monotonic();
	r->stats->requests++;
	if (res->curl_code == 0 && res->status >= 200 && res->status <= 299 &&
	    payload_parse_rul(res->body, res->body_len, &rul) == 0) {
		r->failures_in_a_row = 0;
		stats_score(r->stats, rul, (double)(e->last_cycle - cycle), r->cap);
		return;
	}
	report_failure(r, "prediction", "POST", e, cycle, res);
}

static void
on_failure_event(struct run *r, struct engine *e, const struct client_result *res)
{
	r->stats->engines_done++;
	fleet_retire(&r->fleet, e);
	if (res->curl_code == 0 && res->status >= 200 && res->status <= 299) {
		r->failures_in_a_row = 0;
		r->stats->feedback++;
		return;
	}
	report_failure(r, "feedback", "POST", e, -1, res);
}

/* The service forgot the engine (or never knew it: 404): its next cycle starts a life. */
static void
on_reset(struct run *r, struct engine *e, const struct client_result *res)
{
	size_t at = engine_cycle_index(e, e->sent);

	e->in_flight = false;
	if (res->curl_code == 0 && ((res->status >= 200 && res->status <= 299) ||
				    res->status == 404))
		return;
	report_failure(r, "prediction", "DELETE", e, r->q->table.cycle[e->first_row + at], res);
}

static void
on_done(void *arg, void *user, int tag, const struct client_result *res)
{
	struct run *r = arg;

	if (tag == TAG_PREDICT)
		on_predict(r, user, res);
	else if (tag == TAG_RESET)
		on_reset(r, user, res);
	else
		on_failure_event(r, user, res);
}

int
run_init(struct run *r, const struct replay_options *o, struct progress *p, size_t window,
	 double cap, volatile sig_atomic_t *stop)
{
	memset(r, 0, sizeof(*r));
	r->progress = p;
	r->window = window;
	r->fleet_size = o->fleet;
	r->failure_delay = o->failure_delay;
	r->cap = cap;
	r->stop = stop;
	snprintf(r->predict_url, sizeof(r->predict_url), "%s/v1/predict", o->predict_url);
	snprintf(r->feedback_url, sizeof(r->feedback_url), "%s/v1/feedback", o->feedback_url);
	snprintf(r->cycles_url, sizeof(r->cycles_url), "%s/v1/cycles", o->predict_url);
	snprintf(r->engines_url, sizeof(r->engines_url), "%s/v1/engines/", o->predict_url);
	r->streaming = !o->window_form;
	r->client = client_new(o->concurrency, o->rate, o->timeout, o->token, on_done, r);
	if (r->client == NULL)
		return -ENOMEM;
	client_set_retries(r->client, (unsigned)o->retries, 0.1);
	return 0;
}

void
run_free(struct run *r)
{
	if (r == NULL)
		return;
	client_free(r->client);
	buf_free(&r->body);
	fleet_free(&r->fleet);
	r->client = NULL;
}

/* Start the next due request: a failure event first, else an engine's next cycle. */
static int
submit_one(struct run *r, bool *submitted)
{
	struct engine *e;
	const char *url;
	size_t at, life;
	int rc;

	*submitted = false;
	e = fleet_next_failure(&r->fleet, clocks_monotonic(), r->failure_delay);
	if (e != NULL) {
		rc = payload_failure(&r->body, e);
		if (rc == 0)
			rc = client_post(r->client, r->feedback_url, r->body.data, r->body.len,
					 false, e, TAG_FAILURE);
		if (rc == 0)
			e->failure_sent = *submitted = true;
		return rc;
	}
	e = fleet_next_cycle(&r->fleet);
	if (e == NULL)
		return 0;
	at = engine_cycle_index(e, e->sent);
	life = engine_life_start(e, e->sent);
	if (r->streaming && at == life && e->reset != e->sent + 1) {
		/* a life begins: the service's window of the engine must start empty here, as
		 * the window form's does (and a replay stopped early may have left one) */
		char engine_url[4300];

		snprintf(engine_url, sizeof(engine_url), "%s%" PRId64, r->engines_url, e->unit);
		rc = client_delete(r->client, engine_url, true, e, TAG_RESET);
		if (rc == 0) {
			e->reset = e->sent + 1;
			e->in_flight = *submitted = true;
		}
		return rc;
	}
	if (r->streaming) {
		rc = payload_cycle(&r->body, r->q, e, at);
		url = r->cycles_url;
	} else {
		/* the engine's last cycles of this life: what the service keeps when streaming */
		size_t window = at + 1 - life < r->window ? at + 1 - life : r->window;

		rc = payload_predict(&r->body, r->q, e, at, window);
		url = r->predict_url;
	}
	if (rc == 0)
		rc = client_post(r->client, url, r->body.data, r->body.len, false, e, TAG_PREDICT);
	if (rc == 0) {
		e->sent++;
		e->in_flight = *submitted = true;
	}
	return rc;
}

int
run_quarter(struct run *r, struct quarter *q, struct quarter_stats *s)
{
	double start = clocks_monotonic();
	bool submitted = true;
	int rc;

	r->q = q;
	r->stats = s;
	fleet_free(&r->fleet);
	rc = fleet_init(&r->fleet, q, r->fleet_size);
	if (rc < 0)
		return rc;
	while (!fleet_done(&r->fleet) && !r->aborted && !*r->stop) {
		submitted = true;
		while (submitted && client_ready(r->client)) {
			rc = submit_one(r, &submitted);
			if (rc < 0)
				return rc;
		}
		/* Nothing in flight: engines wait out their failure delay, or the rate limit. */
		rc = client_poll(r->client, client_in_flight(r->client) ? 100 : 10);
		if (rc < 0)
			return rc;
		s->seconds = clocks_monotonic() - start;
		progress_update(r->progress, s, false);
	}
	while (client_in_flight(r->client) > 0) {
		rc = client_poll(r->client, 100);
		if (rc < 0)
			return rc;
	}
	if (*r->stop && !r->aborted) {
		r->aborted = true;
		snprintf(r->abort_reason, sizeof(r->abort_reason), "interrupted");
	}
	s->seconds = clocks_monotonic() - start;
	progress_update(r->progress, s, true);
	return 0;
}
