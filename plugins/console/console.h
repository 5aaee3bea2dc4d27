/* SPDX-License-Identifier: MIT */
/* console.h - internals of the console plugin, shared by its source files only. */
#ifndef RULSRV_CONSOLE_H
#define RULSRV_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>

#include <rulsrv/plugin.h>

struct console_wait; /* a deferred GET /console/feedback/stats */

struct console {
	struct rulsrv_host *host;
	const struct rulsrv_api *api;
	char *feedback_url; /* base URL of the feedback service; "" when there is none */
	double proxy_timeout;

	/* The proxy's thread, started by init and joined by fini (by then every deferred
	 * request was answered: the core calls fini only after that). */
	pthread_t proxy;
	bool proxy_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct console_wait *waiting; /* requests for the next fetch */
};

int console_proxy_start(struct console *c);
void console_proxy_stop(struct console *c);

/* GET /console/metrics.json: the service's prediction and fleet families as JSON. */
void console_metrics(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp);

/* GET /console/feedback/stats: GET feedback_url/v1/feedback/stats, answered as it came. */
void console_feedback_stats(void *ud, const struct rulsrv_request *req,
			    struct rulsrv_response *resp);

#endif
