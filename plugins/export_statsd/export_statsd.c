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
#include <unistd.h>

#include <rulsrv/plugin.h>

#include "clocks.h"
#include "statsd_format.h"

/*
 * What has been sent of every counter and histogram (the deltas are taken against it),
 * shared by the instances that succeed each other across reloads: the registry outlives a
 * reload, and handoff gives the new instance a reference to its predecessor's memory, so it
 * sends exactly what the predecessor had not; no count is lost or sent twice, whatever the
 * two push while they overlap (one walk at a time, under push). The last instance to let go
 * sends what is left, if the memory is in service: a reload's new instance that the reload
 * discards (no handoff, no timer call) must not send what its predecessor goes on sending.
 * The socket is not carried: a reload may change the endpoint, and a socket is cheap.
 */
struct sd_carry {
	atomic_uint refs;
	atomic_bool served;       /* pushed on a timer, handed over, or first of its service */
	pthread_mutex_t push;     /* held across a walk: one delta computation at a time */
	bool started;             /* under push: the baseline was taken */
	struct statsd_memory mem; /* under push */
};

/* A failed resolution is retried at most this often: it runs on the service's timer thread. */
#define SD_RESOLVE_RETRY_S 30.0

struct sd {
	/* First in every version: the loaded plugin file that made the instance (the address of
	 * a static of its own), which handoff checks before it reads anything else of it. */
	const void *object;
	struct rulsrv_host *host;
	const struct rulsrv_api *api;

	char *endpoint_host;
	int64_t port;
	int64_t interval_ms;
	bool tags;

	/* the timer's (one call at a time), then fini's */
	int fd;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool resolved;
	double resolve_after; /* CLOCK_MONOTONIC: no resolution before */
	bool failing;         /* the last send or resolution failed: said once till one works */

	struct statsd_format fmt;
	struct sd_carry *carry;
	uint64_t dropped_counted; /* fmt.dropped already added to m_dropped */

	/* the exporter's own health, in the service's registry */
	struct rulsrv_series *m_sent;
	struct rulsrv_series *m_failed;
	struct rulsrv_series *m_dropped;
};

/* Its address tells this loaded file's instances from those of a replaced file's. */
static const char sd_object;

static struct sd_carry *
sd_carry_new(bool served)
{
	struct sd_carry *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	atomic_init(&c->served, served);
	pthread_mutex_init(&c->push, NULL);
	return c;
}

static void
sd_carry_free(struct sd_carry *c)
{
	statsd_memory_clear(&c->mem);
	pthread_mutex_destroy(&c->push);
	free(c);
}

/* Drop a reference; true when it was the last (the caller then may push, and frees c). */
static bool
sd_carry_put(struct sd_carry *c)
{
	return atomic_fetch_sub(&c->refs, 1) == 1;
}

static void
sd_free(struct sd *s)
{
	if (s == NULL)
		return;
	if (s->carry != NULL && sd_carry_put(s->carry))
		sd_carry_free(s->carry);
	if (s->fd >= 0)
		close(s->fd);
	statsd_format_fini(&s->fmt);
	free(s->endpoint_host);
	free(s);
}

/*
 * At init, and again from the timer while it fails (at most every SD_RESOLVE_RETRY_S: a host
 * name that does not resolve costs the timer thread a resolver timeout each time).
 */
static int
sd_resolve(struct sd *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	char port[16];
	int r;

	s->resolve_after = clocks_monotonic() + SD_RESOLVE_RETRY_S;
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
 * One walk of the registry against the carried memory: a baseline (asked for, or the first
 * walk of the memory) records where everything stands and sends nothing. A push without a
 * resolved endpoint leaves the memory alone, so what it would have sent goes with the next
 * push that can.
 */
static void
sd_push(struct sd *s, bool baseline)
{
	int r;

	if (!baseline && !s->resolved)
		return;
	pthread_mutex_lock(&s->carry->push);
	s->fmt.mem = &s->carry->mem;
	s->fmt.baseline = baseline || !s->carry->started;
	s->carry->started = true;
	r = s->api->metrics_collect(s->host, statsd_format_sample, &s->fmt);
	s->fmt.baseline = false;
	statsd_format_flush(&s->fmt);
	s->fmt.mem = NULL;
	pthread_mutex_unlock(&s->carry->push);
	if (r < 0)
		s->api->log(s->host, RULSRV_LOG_WARNING, "cannot collect metrics: error %d", r);
	if (s->fmt.dropped > s->dropped_counted) {
		s->api->counter_add(s->m_dropped, (double)(s->fmt.dropped - s->dropped_counted));
		s->dropped_counted = s->fmt.dropped;
	}
}

/*
 * Every interval_ms on the service's timer thread, which calls it only while the instance
 * serves: a walk and non-blocking sendto()s, nothing that waits.
 */
static void
sd_tick(void *ud)
{
	struct sd *s = ud;

	atomic_store(&s->carry->served, true);
	if (!s->resolved && clocks_monotonic() >= s->resolve_after)
		sd_resolve(s);
	sd_push(s, false);
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
	const struct rulsrv_metric_def defs[] = {
		{"rulsrv_statsd_datagrams_total", RULSRV_METRIC_COUNTER,
		 "Datagrams the statsd exporter sent, by result", result, NULL, 0, &datagrams, NULL},
		{"rulsrv_statsd_lines_dropped_total", RULSRV_METRIC_COUNTER,
		 "statsd lines not sent: longer than max_packet or a key too long", NULL, NULL, 0,
		 &dropped, &s->m_dropped},
	};
	int r;

	r = s->api->metrics_register(s->host, defs, sizeof(defs) / sizeof(defs[0]));
	if (r < 0)
		return r;
	s->m_sent = s->api->series(datagrams, sent);
	s->m_failed = s->api->series(datagrams, failed);
	return s->m_sent != NULL && s->m_failed != NULL ? 0 : -ENOMEM;
}

static int
sd_find_exporter(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	bool *found = ud;

	if (s != NULL || strcmp(fam->name, "rulsrv_statsd_datagrams_total") != 0)
		return 0;
	*found = true;
	return -ECANCELED; /* found: the rest of the registry is of no interest */
}

/*
 * Was there a statsd exporter in the service before this one? Its families outlive it in the
 * service's registry. Without one, no predecessor goes on sending what this instance counts
 * from its baseline on, even if it never serves: its memory is in service from the start.
 */
static bool
sd_first_of_service(struct sd *s)
{
	bool found = false;

	s->api->metrics_collect(s->host, sd_find_exporter, &found);
	return !found;
}

static int
sd_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	const struct rulsrv_settings *settings, void **state)
{
	char *prefix = NULL;
	int64_t max_packet;
	bool service, first;
	struct sd *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->object = &sd_object;
	s->host = host;
	s->api = api;
	s->fd = -1;
	r = sd_settings(s, settings, &prefix, &service, &max_packet);
	if (r < 0)
		goto out_free;
	r = statsd_format_init(&s->fmt, prefix, service ? api->service_name(host) : NULL, s->tags,
			       (size_t)max_packet, sd_send, s);
	if (r < 0)
		goto out_free;
	first = sd_first_of_service(s);
	r = sd_metrics(s);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot register the statsd exporter's metrics: error %d",
			 r);
		goto out_free;
	}
	s->carry = sd_carry_new(first);
	if (s->carry == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	r = api->timer_add(host, (double)s->interval_ms / 1000.0, sd_tick, s);
	if (r < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot start the statsd timer: error %d", r);
		goto out_free;
	}
	/* Resolved here, on the reloading thread, so that the timer does not wait for it. */
	sd_resolve(s);
	/* What is counted from now on is sent, even at start-up; a handoff replaces this. */
	sd_push(s, true);
	free(prefix);
	*state = s;
	return 0;
out_free:
	free(prefix);
	sd_free(s);
	return r;
}

/*
 * A reload that succeeded: go on with the predecessor's memory, which is in service from now
 * on, and drop the baseline init took. The predecessor's pushes until its timer stops and
 * this instance's from its first timer call share it, one walk at a time.
 */
static void
sd_handoff(void *state, void *old_state)
{
	struct sd *s = state, *old = old_state;

	/*
	 * A replaced plugin file loads afresh, and its instances' layout may be another: keep
	 * the baseline init took. The predecessor, last of its memory, sends what is left at
	 * its fini, so what was counted between this baseline and that fini goes twice.
	 */
	if (old->object != &sd_object) {
		atomic_store(&s->carry->served, true);
		s->api->log(s->host, RULSRV_LOG_NOTICE,
			    "the previous instance is of another export_statsd.so: deltas start from "
			    "this instance's baseline");
		return;
	}
	if (sd_carry_put(s->carry))
		sd_carry_free(s->carry);
	atomic_fetch_add(&old->carry->refs, 1);
	atomic_store(&old->carry->served, true);
	s->carry = old->carry;
}

/*
 * The last instance of a memory in service sends what is left: at shutdown the core stops the
 * HTTP daemon and unpublishes the snapshot before it finishes the plugins, and frees the
 * registry only after. An instance replaced by a reload leaves that to its successor. The
 * timer has stopped by now; fini may run on a request's thread, so it does not resolve.
 */
static void
sd_fini(void *state)
{
	struct sd *s = state;

	if (s == NULL)
		return;
	if (sd_carry_put(s->carry)) {
		if (atomic_load(&s->carry->served))
			sd_push(s, false);
		sd_carry_free(s->carry);
	}
	s->carry = NULL;
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
	.handoff = sd_handoff,
};
