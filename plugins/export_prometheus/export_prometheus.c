/* SPDX-License-Identifier: MIT */
/* export_prometheus.c - the exporter plugin: GET /metrics in Prometheus text format 0.0.4. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rulsrv/plugin.h>

#include "prom_render.h"

struct prom {
	struct rulsrv_host *host;
	const struct rulsrv_api *api;
	char *path;
	_Atomic size_t last_size; /* the previous scrape's size: the next buffer's first size */
};

static void
prom_free(struct prom *p)
{
	if (p == NULL)
		return;
	free(p->path);
	free(p);
}

/*
 * Scrapes may run concurrently on the service's workers, and respond() takes ownership of
 * the body, so each scrape renders into its own buffer, allocated once at the size of the
 * previous scrape (no regrowth in the steady state) and handed over without a copy.
 */
static void
prom_handle(void *ud, const struct rulsrv_request *req, struct rulsrv_response *resp)
{
	struct prom *p = ud;
	struct prom_render r = {0};
	char *body;
	size_t len;
	int ret;

	ret = prom_render_begin(&r, atomic_load_explicit(&p->last_size, memory_order_relaxed));
	if (ret == 0)
		ret = p->api->metrics_collect(p->host, prom_render_sample, &r);
	if (ret == 0 && r.error < 0)
		ret = r.error;
	body = ret == 0 ? prom_render_take(&r, &len) : NULL;
	prom_render_free(&r);
	if (body == NULL) {
		p->api->respond_error(resp, 500, "internal", "cannot render metrics: error %d", ret);
		return;
	}
	atomic_store_explicit(&p->last_size, len, memory_order_relaxed);
	p->api->respond(resp, 200, PROM_CONTENT_TYPE, body, len);
}

static int
prom_init(struct rulsrv_host *host, const struct rulsrv_api *api,
	  const struct rulsrv_settings *settings, void **state)
{
	struct prom *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->host = host;
	p->api = api;
	atomic_init(&p->last_size, 0);
	ret = api->setting_string(settings, "path", "/metrics", &p->path);
	if (ret < 0)
		goto out_free;
	if (p->path[0] != '/') {
		api->setting_error(settings, "path", "must start with '/'");
		ret = -EINVAL;
		goto out_free;
	}
	ret = api->route_add(host, "GET", p->path, 0, prom_handle, p);
	if (ret < 0) {
		api->log(host, RULSRV_LOG_ERR, "cannot register route 'GET %s': error %d", p->path,
			 ret);
		goto out_free;
	}
	*state = p;
	return 0;
out_free:
	prom_free(p);
	return ret;
}

static void
prom_fini(void *state)
{
	prom_free(state);
}

RULSRV_PLUGIN_DECLARE = {
	.abi_major = RULSRV_PLUGIN_ABI_MAJOR,
	.abi_minor = RULSRV_PLUGIN_ABI_MINOR,
	.name = "export_prometheus",
	.kind = "exporter",
	.version = "1.0.0",
	.description = "GET /metrics in Prometheus text exposition format 0.0.4",
	.init = prom_init,
	.ready = NULL,
	.fini = prom_fini,
};
