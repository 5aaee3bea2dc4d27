/* SPDX-License-Identifier: MIT */
/* service.c - a service: its listener, its metric registry and its current snapshot. */
#include "service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "snapshot.h"

#ifndef RULSRV_VERSION
#define RULSRV_VERSION "0.0.0"
#endif

static const double duration_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static void service_loaded(struct service *svc);

static const char *
kind_of(const struct rulsrv_host *h)
{
	return h->lib->desc->kind != NULL ? h->lib->desc->kind : "other";
}

static struct config_service *
conf_copy(const struct config_service *sv)
{
	struct config_service *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *sv;
	c->plugins = NULL;
	c->plugin_count = 0;
	c->name = strdup(sv->name);
	c->listen = strdup(sv->listen);
	c->admin_token_file = NULL;
	c->tls_cert_file = sv->tls_cert_file != NULL ? strdup(sv->tls_cert_file) : NULL;
	c->tls_key_file = sv->tls_key_file != NULL ? strdup(sv->tls_key_file) : NULL;
	return c;
}

static void
conf_free(struct config_service *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->listen);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c);
}

/*
 * rulsrv_plugin_up: refreshed right before every scrape from the plugins' ready(). It runs
 * inside a registry walk, so it must never drop the last reference of a snapshot: that would
 * run plugin fini inside the walk, and fini may join a thread (statsd) that is waiting for
 * the walk. It reads the current snapshot under the read lock instead, which keeps a swap
 * (and the release of the old snapshot) waiting until it is done.
 */
static void
service_collect_plugin_up(void *ud)
{
	struct service *svc = ud;
	struct snapshot *snap;
	size_t i, k;

	pthread_rwlock_rdlock(&svc->lock);
	snap = svc->current;

	for (i = 0; i < svc->seen_count; i++) {
		const char *labels[] = { svc->seen_instances[i], svc->seen_kinds[i] };
		double up = 0;

		for (k = 0; snap != NULL && k < snap->host_count; k++) {
			const struct rulsrv_host *h = snap->hosts[k];
			char why[64];

			if (strcmp(h->instance, labels[0]) == 0 && strcmp(kind_of(h), labels[1]) == 0)
				up = h->lib->desc->ready == NULL || h->lib->desc->ready(h->state, why, sizeof(why));
		}
		metrics_gauge_set(metrics_series(svc->m_plugin_up, labels), up);
	}
	pthread_rwlock_unlock(&svc->lock);
}

static int
service_core_metrics(struct service *svc)
{
	static const char *const hc[] = { "handler", "code", NULL };
	static const char *const h[] = { "handler", NULL };
	static const char *const version[] = { "version", NULL };
	static const char *const pk[] = { "plugin", "kind", NULL };
	static const char *const result[] = { "result", NULL };
	static const char *const stage[] = { "stage", NULL };
	struct metrics_registry *r = svc->registry;
	struct rulsrv_metric *build, *timeouts;
	const char *v[] = { RULSRV_VERSION };
	const char *ok[] = { "success" }, *failed[] = { "failure" };
	const char *headers[] = { "headers" }, *body[] = { "body" };
	int e;

	if ((e = metrics_family(r, RULSRV_METRIC_COUNTER, "http_requests_total",
				"HTTP requests answered, by route and status code", hc, NULL, 0,
				&svc->m_requests)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_HISTOGRAM, "http_request_duration_seconds",
				"Time from the request line to the queued answer, by route", h,
				duration_buckets, sizeof(duration_buckets) / sizeof(duration_buckets[0]),
				&svc->m_duration)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_GAUGE, "http_requests_in_flight",
				"Requests being received or handled", NULL, NULL, 0, &svc->m_inflight)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_GAUGE, "rulsrv_build_info",
				"Version of the running rulsrv (always 1)", version, NULL, 0, &build)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_GAUGE, "rulsrv_plugin_up",
				"Whether a plugin instance of the service is loaded and ready", pk, NULL, 0,
				&svc->m_plugin_up)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_GAUGE, "rulsrv_config_last_reload_successful",
				"Whether the last configuration reload succeeded", NULL, NULL, 0,
				&svc->m_reload_ok)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_GAUGE,
				"rulsrv_config_last_reload_success_timestamp_seconds",
				"When the configuration was last loaded successfully", NULL, NULL, 0,
				&svc->m_reload_ts)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_COUNTER, "rulsrv_config_reloads_total",
				"Configuration reloads, by result", result, NULL, 0, &svc->m_reloads)) < 0 ||
	    (e = metrics_family(r, RULSRV_METRIC_COUNTER, "http_request_timeouts_total",
				"Connections closed by request_timeout_seconds, by what they were "
				"still sending", stage, NULL, 0, &timeouts)) < 0)
		return e;
	svc->s_timeouts[0] = metrics_series(timeouts, headers);
	svc->s_timeouts[1] = metrics_series(timeouts, body);
	if (svc->s_timeouts[0] == NULL || svc->s_timeouts[1] == NULL)
		return -ENOMEM;
	metrics_counter_add(svc->s_timeouts[0], 0);
	metrics_counter_add(svc->s_timeouts[1], 0);
	svc->s_inflight = metrics_series(svc->m_inflight, NULL);
	if (svc->s_inflight == NULL)
		return -ENOMEM;
	metrics_gauge_set(metrics_series(build, v), 1);
	metrics_counter_add(metrics_series(svc->m_reloads, ok), 0);
	metrics_counter_add(metrics_series(svc->m_reloads, failed), 0);
	e = metrics_add_collector(r, service_collect_plugin_up, svc);
	if (e < 0)
		return e;
	return process_metrics_register(r);
}

struct service *
service_new(const struct config_service *sv, service_reload_fn reload, void *ud)
{
	struct service *svc = calloc(1, sizeof(*svc));
	int r;

	if (svc == NULL)
		goto out_nomem;
	pthread_rwlock_init(&svc->lock, NULL);
	atomic_init(&svc->draining, false);
	atomic_init(&svc->inflight, 0);
	svc->reload = reload;
	svc->reload_ud = ud;
	svc->name = strdup(sv->name);
	svc->conf = conf_copy(sv);
	svc->registry = metrics_registry_new();
	if (svc->name == NULL || svc->conf == NULL || svc->registry == NULL)
		goto out_nomem;
	r = service_core_metrics(svc);
	if (r < 0) {
		char buf[128];

		log_err("service '%s': cannot register the core metrics: %s", sv->name,
			strerror_r(-r, buf, sizeof(buf)));
		service_free(svc);
		return NULL;
	}
	service_loaded(svc);
	return svc;
out_nomem:
	log_err("service '%s': out of memory", sv->name);
	service_free(svc);
	return NULL;
}

void
service_free(struct service *svc)
{
	struct snapshot *snap;
	size_t i;

	if (svc == NULL)
		return;
	http_stop(svc);
	/* A plugin thread (statsd) may be walking the registry and acquire the snapshot right
	 * now: unpublish it under the lock first, so that it never takes a dying snapshot. */
	pthread_rwlock_wrlock(&svc->lock);
	snap = svc->current;
	svc->current = NULL;
	pthread_rwlock_unlock(&svc->lock);
	snapshot_unref(snap);
	metrics_registry_free(svc->registry);
	for (i = 0; i < svc->seen_count; i++) {
		free(svc->seen_instances[i]);
		free(svc->seen_kinds[i]);
	}
	free(svc->seen_instances);
	free(svc->seen_kinds);
	conf_free(svc->conf);
	pthread_rwlock_destroy(&svc->lock);
	free(svc->name);
	free(svc);
}

const char *
service_name(const struct service *svc)
{
	return svc->name;
}

struct metrics_registry *
service_registry(const struct service *svc)
{
	return svc->registry;
}

struct snapshot *
service_acquire(struct service *svc)
{
	struct snapshot *snap;

	pthread_rwlock_rdlock(&svc->lock);
	snap = svc->current != NULL ? snapshot_ref(svc->current) : NULL;
	pthread_rwlock_unlock(&svc->lock);
	return snap;
}

/* Remember every (instance, kind) ever published, so a removed one reports 0. */
static void
service_note_instances(struct service *svc, const struct snapshot *snap)
{
	size_t i, k;

	for (i = 0; i < snap->host_count; i++) {
		const struct rulsrv_host *h = snap->hosts[i];
		const char *kind = kind_of(h);
		char **ni, **nk;
		bool known = false;

		for (k = 0; k < svc->seen_count && !known; k++)
			known = strcmp(svc->seen_instances[k], h->instance) == 0 &&
				strcmp(svc->seen_kinds[k], kind) == 0;
		if (known)
			continue;
		ni = realloc(svc->seen_instances, (svc->seen_count + 1) * sizeof(*ni));
		if (ni != NULL)
			svc->seen_instances = ni;
		nk = realloc(svc->seen_kinds, (svc->seen_count + 1) * sizeof(*nk));
		if (nk != NULL)
			svc->seen_kinds = nk;
		if (ni == NULL || nk == NULL)
			return;
		ni[svc->seen_count] = strdup(h->instance);
		nk[svc->seen_count] = strdup(kind);
		if (ni[svc->seen_count] == NULL || nk[svc->seen_count] == NULL) {
			free(ni[svc->seen_count]);
			free(nk[svc->seen_count]);
			return;
		}
		svc->seen_count++;
	}
}

void
service_swap(struct service *svc, struct snapshot *snap)
{
	struct snapshot *old;

	pthread_rwlock_wrlock(&svc->lock);
	old = svc->current;
	svc->current = snap;
	service_note_instances(svc, snap);
	pthread_rwlock_unlock(&svc->lock);
	snapshot_unref(old);
}

static void
format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
}

int
service_listen(struct service *svc)
{
	const struct config_service *sv = svc->conf;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char err[512], ebuf[128];
	int fd, one = 1, r;

	fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto out_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sv->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&sv->addr, sv->addr_len) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		goto out_errno;
	format_addr(&bound, svc->bound, sizeof(svc->bound));
	svc->mhd = http_start(svc, fd, sv, err, sizeof(err));
	if (svc->mhd == NULL) {
		log_err("cannot start service '%s' on '%s': %s", svc->name, sv->listen, err);
		return -EIO;
	}
	return 0;
out_errno:
	r = -errno;
	log_err("cannot listen on '%s' for service '%s': %s", sv->listen, svc->name,
		strerror_r(-r, ebuf, sizeof(ebuf)));
	if (fd >= 0)
		close(fd);
	return r;
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool
service_listener_changed(const struct service *svc, const struct config_service *sv)
{
	const struct config_service *cur = svc->conf;
	const char *what = NULL;

	if (strcmp(cur->listen, sv->listen) != 0)
		what = "listen";
	else if (cur->threads != sv->threads)
		what = "threads";
	else if (cur->max_connections != sv->max_connections)
		what = "max_connections";
	else if (cur->connection_timeout != sv->connection_timeout)
		what = "connection_timeout_seconds";
	else if (cur->request_timeout != sv->request_timeout)
		what = "request_timeout_seconds";
	else if (str_differs(cur->tls_cert_file, sv->tls_cert_file) ||
		 str_differs(cur->tls_key_file, sv->tls_key_file))
		what = "tls_cert_file/tls_key_file";
	if (what == NULL)
		return false;
	log_warning("service '%s': setting '%s' changed: it needs a restart; the listener keeps its "
		    "old settings", svc->name, what);
	return true;
}

void
service_quiesce(struct service *svc)
{
	int fd;

	atomic_store(&svc->draining, true);
	if (svc->mhd == NULL)
		return;
	fd = MHD_quiesce_daemon(svc->mhd);
	if (fd >= 0)
		close(fd);
}

void
service_drain(struct service *svc, int timeout_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int waited = 0;

	while (atomic_load(&svc->inflight) > 0 && waited < timeout_ms) {
		nanosleep(&pause, NULL);
		waited += 10;
	}
	if (atomic_load(&svc->inflight) > 0)
		log_warning("service '%s': %ld requests still in flight after %d ms; stopping anyway",
			    svc->name, atomic_load(&svc->inflight), timeout_ms);
	http_stop(svc);
}

/* The configuration in use was loaded now. */
static void
service_loaded(struct service *svc)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	metrics_gauge_set(metrics_series(svc->m_reload_ok, NULL), 1);
	metrics_gauge_set(metrics_series(svc->m_reload_ts, NULL),
			  (double)now.tv_sec + (double)now.tv_nsec / 1e9);
}

void
service_reload_result(struct service *svc, bool ok)
{
	const char *result[] = { ok ? "success" : "failure" };

	if (ok)
		service_loaded(svc);
	else
		metrics_gauge_set(metrics_series(svc->m_reload_ok, NULL), 0);
	metrics_counter_add(metrics_series(svc->m_reloads, result), 1);
}
