/* SPDX-License-Identifier: MIT */
/* export_statsd.c - the exporter plugin: push the service's metrics as statsd lines over UDP. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rulsrv/plugin.h>

#include "statsd_format.h"

struct sd {
	struct rulsrv_host *host;
	const struct rulsrv_api *api;

	char *endpoint_host;
	int64_t port;
	int64_t interval_ms;
	bool tags;

	int fd;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool resolved;
	bool failing; /* the last send failed: logged once until one succeeds */

	struct statsd_format fmt;
	uint64_t dropped_counted; /* fmt.dropped already added to m_dropped */

	/* the exporter's own health, in the service's registry */
	struct rulsrv_series *m_sent;
	struct rulsrv_series *m_failed;
	struct rulsrv_series *m_dropped;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	bool thread_started;
	pthread_t thread;
};

static void
sd_free(struct sd *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	statsd_format_fini(&s->fmt);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->endpoint_host);
	free(s);
}

/* Resolved on the pusher thread, so a slow resolver never delays init or a request. */
static int
sd_resolve(struct sd *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	char port[16];
	int r;

	snprintf(port, sizeof(port), "%d", (int)s->port);
	r = getaddrinfo(s->endpoint_host, port, &hints, &res);
	if (r != 0) {
		if (!s->failing)
			s->api->log(s->host, RULSRV_LOG_WARNING, "cannot resolve statsd host '%s': %s",
				    s->endpoint_host, gai_strerror(r));
		s->failing = true;
		return -EHOSTUNREACH;
	}
	s->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		freeaddrinfo(res);
		return r;
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addr_len = res->ai_addrlen;
	s->resolved = true;
	freeaddrinfo(res);
	return 0;
}

/* Non-blocking and unconnected: a full buffer or a dead endpoint drops the datagram. */
static void
sd_send(void *ud, const char *data, size_t len)
{
	struct sd *s = ud;
	char err[128];

	if (sendto(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&s->addr,
		   s->addr_len) == (ssize_t)len) {
		s->failing = false;
		s->api->counter_add(s->m_sent, 1);
		return;
	}
	s->api->counter_add(s->m_failed, 1);
	if (!s->failing)
		s->api->log(s->host, RULSRV_LOG_WARNING, "cannot send to statsd '%s:%d': %s",
			    s->endpoint_host, (int)s->port, strerror_r(errno, err, sizeof(err)));
	s->failing = true;
}

static void
sd_push(struct sd *s, bool baseline)
{
	int r;

	if (!s->resolved && sd_resolve(s) < 0)
		return;
	s->fmt.baseline = baseline;
	r = s->api->metrics_collect(s->host, statsd_format_sample, &s->fmt);
	s->fmt.baseline = false;
	if (r < 0)
		s->api->log(s->host, RULSRV_LOG_WARNING, "cannot collect metrics: error %d", r);
	statsd_format_flush(&s->fmt);
	if (s->fmt.dropped > s->dropped_counted) {
		s->api->counter_add(s->m_dropped, (double)(s->fmt.dropped - s->dropped_counted));
		s->dropped_counted = s->fmt.dropped;
	}
}

/*
 * The first walk records where every counter stands (after a reload the registry keeps its
 * values, and only what happens from now on is this instance's to send); then one push per
 * interval. There is no last push from fini: the core runs fini while it tears the service's
 * snapshot down, and a walk then runs the core's collectors against that dying snapshot
 * (what changed since the last push, at most interval_ms, is not sent).
 */
static void *
sd_run(void *arg)
{
	struct sd *s = arg;
	struct timespec deadline;
	bool stop;

	sd_push(s, true);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	for (;;) {
		deadline.tv_sec += s->interval_ms / 1000;
		deadline.tv_nsec += (s->interval_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->lock);
		while (!s->stop &&
		       pthread_cond_timedwait(&s->wake, &s->lock, &deadline) != ETIMEDOUT)
			;
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			return NULL;
		sd_push(s, false);
	}
}

static int
sd_settings(struct sd *s, const struct rulsrv_settings *set, char **prefix, bool *service,
	    int64_t *max_packet)
{
	const struct rulsrv_api *api = s->api;
	size_t n;
	int r;

	if ((r = api->setting_string(set, "host", "127.0.0.1", &s->endpoint_host)) < 0 ||
	    (r = api->setting_int(set, "port", 8125, 1, 65535, &s->port)) < 0 ||
	    (r = api->setting_string(set, "prefix", "rulsrv", prefix)) < 0 ||
	    (r = api->setting_int(set, "interval_ms", 10000, 10, 3600000, &s->interval_ms)) < 0 ||
	    (r = api->setting_bool(set, "dogstatsd_tags", false, &s->tags)) < 0 ||
	    (r = api->setting_bool(set, "include_service", true, service)) < 0 ||
	    (r = api->setting_int(set, "max_packet", 1432, 64, 65507, max_packet)) < 0)
		return r;
	n = strlen(*prefix);
	while (n > 0 && (*prefix)[n - 1] == '.')
		(*prefix)[--n] = '\0';
	if (strpbrk(*prefix, ":|@#\n ") != NULL) {
		api->setting_error(set, "prefix", "must not contain ':', '|', '@', '#' or spaces");
		return -EINVAL;
	}
	return 0;
}

/* Get-or-create: after a reload the new instance counts on in the same series. */
static int
sd_metrics(struct sd *s)
{
	static const char *const result[] = {"result", NULL};
	static const char *const sent[] = {"sent", NULL}, *const failed[] = {"failed", NULL};
	struct rulsrv_metric *datagrams, *dropped;
	int r;

	r = s->api->metric_new(s->host, RULSRV_METRIC_COUNTER, "rulsrv_statsd_datagrams_total",
			       "Datagrams the statsd exporter sent, by result", result, NULL, 0,
			       &datagrams);
	if (r < 0)
		return r;
	r = s->api->metric_new(s->host, RULSRV_METRIC_COUNTER, "rulsrv_statsd_lines_dropped_total",
			       "statsd lines not sent: longer than max_packet or a key too long",
			       NULL, NULL, 0, &dropped);
	if (r < 0)
		return r;
	s->m_sent = s->api->series(datagrams, sent);
	s->m_failed = s->api->series(datagrams, failed);
	s->m_dropped = s->api->series(dropped, NULL);
	return s->m_sent != NULL && s->m_failed != NULL && s->m_dropped != NULL ? 0 : -ENOMEM;
}

static int
sd_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	const struct rulsrv_settings *settings, void **state)
{
	char *prefix = NULL;
	int64_t max_packet;
	bool service;
	struct sd *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->host = host;
	s->api = api;
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = sd_settings(s, settings, &prefix, &service, &max_packet);
	if (r < 0)
		goto out_free;
	r = statsd_format_init(&s->fmt, prefix, service ? api->service_name(host) : NULL, s->tags,
			       (size_t)max_packet, sd_send, s);
	if (r < 0)
		goto out_free;
	r = sd_metrics(s);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot register the statsd exporter's metrics: error %d",
			 r);
		goto out_free;
	}
	r = -pthread_create(&s->thread, NULL, sd_run, s);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot start the statsd thread: error %d", r);
		goto out_free;
	}
	s->thread_started = true;
	free(prefix);
	*state = s;
	return 0;
out_free:
	free(prefix);
	sd_free(s);
	return r;
}

static void
sd_fini(void *state)
{
	struct sd *s = state;

	if (s == NULL)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	sd_free(s);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "export_statsd",
	.kind = "exporter",
	.version = "1.0.0",
	.description = "push counters, gauges and timings to statsd over UDP",
	.init = sd_init,
	.ready = NULL,
	.fini = sd_fini,
};
