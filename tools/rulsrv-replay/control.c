/* SPDX-License-Identifier: MIT */
/* control.c - blocking control-plane requests and the parsing of their answers. */
#include "control.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const cJSON *
member(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void
copy_string(const cJSON *s, char *out, size_t out_len)
{
	if (cJSON_IsString(s))
		snprintf(out, out_len, "%s", s->valuestring);
}

static void
consider(struct drift_report *d, const char *name, const cJSON *psi)
{
	if (name != NULL && d->feature_count < DRIFT_REPORT_FEATURES) {
		snprintf(d->feature[d->feature_count], sizeof(d->feature[0]), "%s", name);
		d->psi[d->feature_count++] = cJSON_IsNumber(psi) && isfinite(psi->valuedouble)
						     ? psi->valuedouble
						     : NAN;
	}
	if (name == NULL || !cJSON_IsNumber(psi) || !isfinite(psi->valuedouble))
		return;
	if (isnan(d->max_psi) || psi->valuedouble > d->max_psi) {
		d->max_psi = psi->valuedouble;
		snprintf(d->max_feature, sizeof(d->max_feature), "%s", name);
	}
}

/*
 * PSI per feature, in whichever of the natural shapes the service uses:
 * {"s9": 0.1, ...}, {"s9": {"psi": 0.1}, ...} or [{"feature"|"name": "s9", "psi": 0.1}, ...].
 */
static void
scan_psi(struct drift_report *d, const cJSON *features)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, features) {
		if (cJSON_IsNumber(f)) {
			consider(d, f->string, f);
		} else if (cJSON_IsObject(f)) {
			const cJSON *name = member(f, "feature");

			if (!cJSON_IsString(name))
				name = member(f, "name");
			consider(d, cJSON_IsString(name) ? name->valuestring : f->string,
				 member(f, "psi"));
		}
	}
}

int
drift_report_parse(const char *body, size_t len, struct drift_report *d)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *w, *v;

	memset(d, 0, sizeof(*d));
	d->window_index = -1;
	d->observations = -1;
	d->max_psi = NAN;
	d->warn = d->drift = NAN;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	w = member(root, "window");
	if (!cJSON_IsObject(w))
		w = root;
	v = member(w, "index");
	if (cJSON_IsNumber(v))
		d->window_index = (long)v->valuedouble;
	copy_string(member(w, "label"), d->label, sizeof(d->label));
	v = member(w, "observations");
	if (cJSON_IsNumber(v))
		d->observations = v->valuedouble;
	copy_string(member(root, "status"), d->status, sizeof(d->status));
	v = member(member(root, "thresholds"), "warn");
	if (cJSON_IsNumber(v))
		d->warn = v->valuedouble;
	v = member(member(root, "thresholds"), "drift");
	if (cJSON_IsNumber(v))
		d->drift = v->valuedouble;
	scan_psi(d, member(root, "psi"));
	scan_psi(d, member(root, "features"));
	cJSON_Delete(root);
	return 0;
}

int
model_info_parse(const char *body, size_t len, struct model_info *m)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *first = root;

	memset(m, 0, sizeof(*m));
	if (cJSON_IsObject(root) && cJSON_IsArray(member(root, "models")))
		first = cJSON_GetArrayItem(member(root, "models"), 0);
	else if (cJSON_IsArray(root))
		first = cJSON_GetArrayItem(root, 0);
	copy_string(member(first, "name"), m->name, sizeof(m->name));
	copy_string(member(first, "version"), m->version, sizeof(m->version));
	copy_string(member(first, "backend"), m->backend, sizeof(m->backend));
	cJSON_Delete(root);
	return m->name[0] ? 0 : -EINVAL;
}

/* One control request; a transport error or a non-2xx answer becomes a message naming it. */
static int
call(struct client *c, const char *method, const char *base, const char *path,
     const char *body, bool auth, struct client_result *r, char *err, size_t err_len)
{
	char url[4200], msg[512];
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	rc = client_request(c, method, url, body, auth, r);
	if (rc < 0) {
		snprintf(err, err_len, "%s %s: out of memory", method, url);
		return rc;
	}
	if (r->curl_code != 0) {
		snprintf(err, err_len, "cannot reach '%s': %s", url, r->error);
		return -EHOSTUNREACH;
	}
	if (r->status < 200 || r->status > 299) {
		payload_error_message(r->body, r->body_len, msg, sizeof(msg));
		snprintf(err, err_len, "%s %s refused: %ld %s", method, url, r->status, msg);
		return -EPROTO;
	}
	return 0;
}

int
control_check(struct client *c, const char *what, const char *base, char *err, size_t err_len)
{
	struct client_result r;
	char why[1024];
	int rc;

	rc = call(c, "GET", base, "/healthz", NULL, false, &r, why, sizeof(why));
	if (rc == -EHOSTUNREACH)
		snprintf(err, err_len, "cannot reach %s service '%s': %s", what, base, r.error);
	else if (rc < 0)
		snprintf(err, err_len, "%s service: %s", what, why);
	return rc;
}

int
control_fleet(struct client *c, const char *base, char *err, size_t err_len)
{
	struct client_result r;
	char why[1024];
	int rc;

	rc = call(c, "GET", base, "/v1/engines?limit=1", NULL, false, &r, why, sizeof(why));
	if (rc < 0)
		snprintf(err, err_len, "the prediction service does not stream cycles (%s): turn "
			 "on fleet mode (fleet = true in the model plugin's settings) or give "
			 "--window-form", why);
	return rc;
}

int
control_model(struct client *c, const char *base, struct model_info *m, char *err,
	      size_t err_len)
{
	struct client_result r;
	int rc;

	rc = call(c, "GET", base, "/v1/models", NULL, false, &r, err, err_len);
	if (rc < 0)
		return rc;
	if (model_info_parse(r.body, r.body_len, m) < 0) {
		snprintf(err, err_len, "GET %s/v1/models: no model in the answer", base);
		return -EPROTO;
	}
	return 0;
}

int
control_roll(struct client *c, const char *base, const char *label, char *err, size_t err_len)
{
	struct client_result r;
	struct buf body = { 0 };
	int rc;

	rc = payload_window(&body, label);
	if (rc == 0)
		rc = call(c, "POST", base, "/v1/drift/window", body.data, true, &r, err, err_len);
	buf_free(&body);
	return rc;
}

int
control_drift(struct client *c, const char *base, struct drift_report *d, char *err,
	      size_t err_len)
{
	struct client_result r;
	int rc;

	rc = call(c, "GET", base, "/v1/drift", NULL, false, &r, err, err_len);
	if (rc < 0)
		return rc;
	if (drift_report_parse(r.body, r.body_len, d) < 0) {
		snprintf(err, err_len, "GET %s/v1/drift: the answer is not a JSON object", base);
		return -EPROTO;
	}
	return 0;
}
