/* SPDX-License-Identifier: MIT */
/* test_predict_service.c - the model-plugin service against the fake host of fake_host.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bundle.h"
#include "fake_host.h"
#include "forest.h"
#include "forest_backend.h"
#include "harness/harness.h"
#include "metrics.h"
#include "need.h"
#include "predict_service.h"

Suite *predict_service_suite(void);

/* ---- a bundle ------------------------------------------------------------------------------ */

static char bundle_dir[600];
static char work[128];

/* models/fd001, else one trained now (C-MAPSS, or cmapss-synth data); false: neither works. */
static bool
get_bundle(void)
{
	static const char *const args[] = { "--rounds", "20", NULL };
	char why[512] = "";

	snprintf(work, sizeof(work), "/tmp/rulsrv-predict-service-%d", (int)getpid());
	mkdir(work, 0700);
	if (harness_model_bundle(work, args, bundle_dir, sizeof(bundle_dir), why,
				 sizeof(why)) == 0)
		return true;
	test_skip("no bundle (%s)", why);
	return false;
}

static struct rulsrv_host host;
static bool have_bundle;

static void
suite_setup(void)
{
	struct bundle *b = NULL;
	char err[512];

	have_bundle = get_bundle();
	if (have_bundle && bundle_load(bundle_dir, &b, err, sizeof(err)) != 0) {
		test_skip("the trained bundle does not load: %s", err);
		have_bundle = false;
	}
	bundle_free(b);
}

static void
setup(void)
{
	memset(&host, 0, sizeof(host));
	host.registry = metrics_registry_new();
}

static void
teardown(void)
{
	metrics_registry_free(host.registry);
}

struct find {
	const char *name, *label;
	double value;
	int found;
};

static int
find_sample(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct find *f = ud;
	size_t i;

	if (s == NULL || strcmp(fam->name, f->name) != 0)
		return 0;
	for (i = 0; i < fam->label_count; i++)
		if (strcmp(s->label_values[i], f->label) == 0) {
			f->value = s->value;
			f->found++;
		}
	return 0;
}

/* The value of the series of family name that has a label equal to label. */
static double
sample(const char *name, const char *label)
{
	struct find f = { .name = name, .label = label, .value = NAN };

	metrics_collect(host.registry, find_sample, &f);
	return f.value;
}

START_TEST(test_init_failures)
{
	static const char *const missing_kv[] = { "bundle", "/nonexistent/bundle", NULL };
	struct rulsrv_settings none = { 0 }, missing = { 0 };
	void *state = NULL;

	fake_settings_set(&missing, missing_kv);
	ck_assert_int_lt(predict_service_init(&host, &fake_api, &none, &forest_backend, &state), 0);
	ck_assert_int_eq(none.errors, 1);
	ck_assert_int_lt(predict_service_init(&host, &fake_api, &missing, &forest_backend, &state),
			 0);
	ck_assert_msg(strstr(host.last_error, "cannot load model bundle '/nonexistent/bundle'") !=
		      NULL, "%s", host.last_error);
	ck_assert_int_eq(host.route_count, 0);
	ck_assert_int_eq(host.attr_count, 0);
}
END_TEST

static void
call(int route, const char *type, const char *body, struct rulsrv_response *resp)
{
	struct rulsrv_request req = {
		.method = host.routes[route].method,
		.path = host.routes[route].path,
		.content_type = type,
		.body = body,
		.body_len = strlen(body),
		.received_at = 1.0,
	};

	memset(resp, 0, sizeof(*resp));
	host.routes[route].fn(host.routes[route].ud, &req, resp);
}

START_TEST(test_predict_and_observe)
{
	const char *const kv[] = { "bundle", bundle_dir, NULL };
	struct rulsrv_settings s = { 0 };
	struct rulsrv_response resp;
	struct bundle *b = NULL;
	char err[256], reason[64], *rul;
	void *state = NULL;

	if (!have_bundle)
		return;
	fake_settings_set(&s, kv);
	ck_assert_msg(bundle_load(bundle_dir, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(predict_service_init(&host, &fake_api, &s, &forest_backend, &state), 0);
	ck_assert(predict_service_ready(state, reason, sizeof(reason)));
	ck_assert(!predict_service_ready(NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "model not loaded");
	ck_assert_int_eq(host.route_count, 2);
	ck_assert_str_eq(host.routes[0].path, "/v1/predict");
	ck_assert_str_eq(host.routes[1].path, "/v1/models");
	ck_assert_int_eq(host.attr_count, 3);
	ck_assert_str_eq(host.attr_key[0], "model.bundle");
	ck_assert_str_eq(host.attr_value[0], bundle_dir);
	ck_assert_str_eq(host.attr_value[1], b->name);
	ck_assert_str_eq(host.attr_value[2], b->version);
	ck_assert_double_eq(sample("model_info", b->version), 1);

	/* the observers see the last cycle's raw inputs and the answered RUL */
	call(0, "application/json",
	     "{\"unit\": 4, \"cycles\": [{\"cycle\": 8, \"settings\": [0.1, 0.2, 100], \"sensors\": "
	     "[518.67,642,1590,1400,14.62,21.61,554,2388,9050,1.3,47.5,521,2388,8130,8.4,0.03,392,"
	     "2388,100,38.9,23.3]}, {\"cycle\": 9, \"settings\": [-0.0007, -0.0004, 100], "
	     "\"sensors\": [518.67,642.5,1591,1401,14.62,21.61,553,2388.1,9051,1.3,47.4,522,2388,"
	     "8131,8.42,0.03,393,2388,100,38.8,23.4]}]}", &resp);
	ck_assert_uint_eq(resp.status, 200);
	ck_assert_uint_eq(host.observed, 1);
	ck_assert_int_eq(host.obs_unit, 4);
	ck_assert_int_eq(host.obs_cycle, 9);
	ck_assert_double_eq(host.obs_inputs[0], -0.0007);
	ck_assert_double_eq(host.obs_inputs[3], 518.67);
	ck_assert_double_eq(host.obs_inputs[23], 23.4);
	rul = strstr(resp.body, "\"rul\":");
	ck_assert_ptr_nonnull(rul);
	ck_assert_double_eq_tol(strtod(rul + 6, NULL), host.obs_rul, 1e-4);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"unit\":4,\"cycle\":9,"));
	free(resp.body);

	call(0, NULL, "{}", &resp);
	ck_assert_uint_eq(resp.status, 415);
	free(resp.body);
	call(0, "application/json", "{\"unit\": 4}", &resp);
	ck_assert_uint_eq(resp.status, 422);
	ck_assert_str_eq(resp.code, "invalid_shape");
	ck_assert_str_eq(resp.message, "body: missing field \"cycles\"");
	free(resp.body);
	ck_assert_double_eq(sample("prediction_requests_total", "415"), 1);
	ck_assert_double_eq(sample("prediction_requests_total", "422"), 1);
	ck_assert_double_eq(sample("prediction_errors_total", "invalid_shape"), 1);

	/* what the core refuses on /v1/predict before the handler (ABI 1.1) counts the same way */
	ck_assert_ptr_nonnull(host.routes[0].refusal);
	host.routes[0].refusal(host.routes[0].refusal_ud, 413, "payload_too_large");
	host.routes[0].refusal(host.routes[0].refusal_ud, 408, "request_timeout");
	ck_assert_double_eq(sample("prediction_requests_total", "413"), 1);
	ck_assert_double_eq(sample("prediction_requests_total", "408"), 1);
	ck_assert_double_eq(sample("prediction_errors_total", "payload_too_large"), 1);
	ck_assert_double_eq(sample("prediction_errors_total", "request_timeout"), 1);

	call(1, NULL, "", &resp);
	ck_assert_uint_eq(resp.status, 200);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"backend\":\"forest\""));
	free(resp.body);

	predict_service_fini(state);
	ck_assert_double_eq(sample("model_info", b->version), 0);
	bundle_free(b);
}
END_TEST

/*
 * A reload of the same version: the new instance starts before the old one is released, as
 * the core does it: a host table of its own (its own routes), the service's registry.
 */
START_TEST(test_model_info_across_reload)
{
	static struct rulsrv_host next;
	const char *const kv[] = { "bundle", bundle_dir, NULL };
	struct rulsrv_settings s = { 0 };
	struct bundle *b = NULL;
	void *old = NULL, *new = NULL;
	char err[256];

	if (!have_bundle)
		return;
	fake_settings_set(&s, kv);
	ck_assert_msg(bundle_load(bundle_dir, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(predict_service_init(&host, &fake_api, &s, &forest_backend, &old), 0);
	memset(&next, 0, sizeof(next));
	next.registry = host.registry;
	ck_assert_int_eq(predict_service_init(&next, &fake_api, &s, &forest_backend, &new), 0);
	predict_service_fini(old);
	ck_assert_double_eq(sample("model_info", b->version), 1);
	predict_service_fini(new);
	ck_assert_double_eq(sample("model_info", b->version), 0);
	bundle_free(b);
}
END_TEST

static void
suite_cleanup(void)
{
	char cmd[200];

	if (work[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
		if (system(cmd) != 0)
			fprintf(stderr, "predict_service: cannot remove %s\n", work);
	}
}

Suite *
predict_service_suite(void)
{
	Suite *s = suite_create("predict_service");
	TCase *tc = tcase_create("service");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_cleanup);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init_failures);
	tcase_add_test(tc, test_predict_and_observe);
	tcase_add_test(tc, test_model_info_across_reload);
	suite_add_tcase(s, tc);
	return s;
}
