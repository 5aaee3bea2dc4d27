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

/*
 * What has been sent for one (service, instance), shared by the instances that succeed each
 * other across reloads. The registry outlives a reload and the plugin object stays loaded
 * while its file is unchanged, so the new instance takes the memory over and sends exactly
 * what its predecessor had not: no count is lost or sent twice. A reload's new instance is
 * created before the old one is finished, so the references never drop to zero in between;
 * when they do (statsd taken out of the service, or the daemon stopping), the last instance
 * sends what is left and the memory goes. A replaced plugin file loads as a new object with
 * an empty table: its first instance starts from a fresh baseline, and counts between that
 * baseline and the old instance's last push may then be sent by both.
 */
struct sd_shared {
	struct sd_shared *next;
	unsigned refs;            /* under sd_table_lock */
	pthread_mutex_t push;      /* held across a walk: one delta computation at a time */
	bool started;             /* under push: the baseline was taken */
	struct statsd_memory mem; /* under push */
	char key[];               /* service name, '\0', instance name */
};

static pthread_mutex_t sd_table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sd_shared *sd_table;

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
	struct sd_shared *shared;
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

/* The memory of (service, instance), created empty if none; *fresh says which. NULL: ENOMEM. */
static struct sd_shared *
sd_shared_get(const char *service, const char *instance, bool *fresh)
{
	size_t ls = strlen(service) + 1, li = strlen(instance) + 1;
	struct sd_shared *sh;

	pthread_mutex_lock(&sd_table_lock);
	for (sh = sd_table; sh != NULL; sh = sh->next)
		if (strcmp(sh->key, service) == 0 && strcmp(sh->key + ls, instance) == 0)
			break;
	*fresh = sh == NULL;
	if (sh == NULL && (sh = calloc(1, sizeof(*sh) + ls + li)) != NULL) {
		pthread_mutex_init(&sh->push, NULL);
		memcpy(sh->key, service, ls);
		memcpy(sh->key + ls, instance, li);
		sh->next = sd_table;
		sd_table = sh;
	}
	if (sh != NULL)
		sh->refs++;
	pthread_mutex_unlock(&sd_table_lock);
	return sh;
}

/* Drop a reference; true when it was the last (the caller then pushes and calls reap). */
static bool
sd_shared_put(struct sd_shared *sh)
{
	bool last;

	pthread_mutex_lock(&sd_table_lock);
	last = --sh->refs == 0;
	pthread_mutex_unlock(&sd_table_lock);
	return last;
}

/* Free sh unless an instance took it over meanwhile. */
static void
sd_shared_reap(struct sd_shared *sh)
{
	struct sd_shared **pp;

	pthread_mutex_lock(&sd_table_lock);
	if (sh->refs > 0) {
		pthread_mutex_unlock(&sd_table_lock);
		return;
	}
	for (pp = &sd_table; *pp != sh; pp = &(*pp)->next)
		;
	*pp = sh->next;
	pthread_mutex_unlock(&sd_table_lock);
	statsd_memory_clear(&sh->mem);
	pthread_mutex_destroy(&sh->push);
	free(sh);
}

static void
sd_free(struct sd *s)
{
	if (s == NULL)
		return;
	if (s->shared != NULL && !s->thread_started && sd_shared_put(s->shared))
		sd_shared_reap(s->shared);
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

/*
 * One walk of the registry against the shared memory: a baseline (asked for, or the first
 * walk of the memory) records where everything stands and sends nothing. A push that cannot resolve the endpoint leaves the memory alone,
 * so what it would have sent goes with the next push that can.
 */
static void
sd_push(struct sd *s, bool baseline)
{
	int r;

	if (!baseline && !s->resolved && sd_resolve(s) < 0)
		return;
	pthread_mutex_lock(&s->shared->push);
	s->fmt.mem = &s->shared->mem;
	s->fmt.baseline = baseline || !s->shared->started;
	s->shared->started = true;
	r = s->api->metrics_collect(s->host, statsd_format_sample, &s->fmt);
	s->fmt.baseline = false;
	statsd_format_flush(&s->fmt);
	s->fmt.mem = NULL;
	pthread_mutex_unlock(&s->shared->push);
	if (r < 0)
		s->api->log(s->host, RULSRV_LOG_WARNING, "cannot collect metrics: error %d", r);
	if (s->fmt.dropped > s->dropped_counted) {
		s->api->counter_add(s->m_dropped, (double)(s->fmt.dropped - s->dropped_counted));
		s->dropped_counted = s->fmt.dropped;
	}
}

/* One push per interval until fini; the baseline, when one is due, was taken by init. */
static void *
sd_run(void *arg)
{
	struct sd *s = arg;
	struct timespec deadline;
	bool stop;

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
	bool service, fresh;
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
	s->shared = sd_shared_get(api->service_name(host), api->instance_name(host), &fresh);
	if (s->shared == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	/* Here, not on the thread: what is counted from now on is sent, even at start-up. */
	if (fresh)
		sd_push(s, true);
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

/*
 * The last instance of (service, instance) sends what is left: at shutdown the core stops
 * the HTTP daemon and unpublishes the snapshot before it finishes the plugins, and frees the
 * registry only after. An instance replaced by a reload leaves that to its successor.
 */
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
	if (s->thread_started && sd_shared_put(s->shared)) {
		sd_push(s, false);
		sd_shared_reap(s->shared);
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
