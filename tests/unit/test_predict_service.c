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

/*
 * The fake host's table with every metric update checked: an update on a series of another
 * type (or a counter that would go down) returns -EINVAL and changes nothing in a release
 * build, so the service's tests count those and expect none.
 */
static int bad_updates;
static struct rulsrv_api api;

static int
check_update(int rc)
{
	if (rc != 0)
		bad_updates++;
	return rc;
}

static int
checked_counter_add(struct rulsrv_series *s, double v)
{
	return check_update(metrics_counter_add(s, v));
}

static int
checked_gauge_set(struct rulsrv_series *s, double v)
{
	return check_update(metrics_gauge_set(s, v));
}

static int
checked_gauge_add(struct rulsrv_series *s, double v)
{
	return check_update(metrics_gauge_add(s, v));
}

static int
checked_histogram_observe(struct rulsrv_series *s, double v)
{
	return check_update(metrics_histogram_observe(s, v));
}

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
	api = fake_api;
	api.counter_add = checked_counter_add;
	api.gauge_set = checked_gauge_set;
	api.gauge_add = checked_gauge_add;
	api.histogram_observe = checked_histogram_observe;
	bad_updates = 0;
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

struct family_count {
	const char *name;
	size_t series, nonzero;
};

static int
count_series(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct family_count *c = ud;

	if (s == NULL || strcmp(fam->name, c->name) != 0)
		return 0;
	c->series++;
	if (fam->type == RULSRV_METRIC_HISTOGRAM ? s->count != 0 : s->value != 0)
		c->nonzero++;
	return 0;
}

/* How many series family name exports; *nonzero: how many of them are not 0. */
static size_t
series_count(const char *name, size_t *nonzero)
{
	struct family_count c = { .name = name };

	metrics_collect(host.registry, count_series, &c);
	*nonzero = c.nonzero;
	return c.series;
}

/* What an observer of the service sees of each batch (rulsrv/plugin.h, ABI 2.0). */
struct seen {
	size_t batches, count, input_count, item_size;
	bool names_ok;
	int64_t unit[2], cycle[2];
	double rul[2], first_input[2], last_input[2];
};

static void
observe(void *ud, const struct rulsrv_prediction_batch *b)
{
	struct seen *w = ud;
	size_t i;

	w->batches++;
	w->count = b->count;
	w->input_count = b->input_count;
	w->item_size = b->item_size;
	w->names_ok = b->input_names != NULL;
	for (i = 0; w->names_ok && i < b->input_count; i++)
		w->names_ok = b->input_names[i] != NULL &&
			      strcmp(b->input_names[i], cmapss_input_name(i)) == 0;
	for (i = 0; i < b->count && i < 2; i++) {
		const struct rulsrv_prediction *p = rulsrv_prediction_at(b, i);

		w->unit[i] = p->unit;
		w->cycle[i] = p->cycle;
		w->rul[i] = p->rul;
		w->first_input[i] = p->inputs[0];
		w->last_input[i] = p->inputs[b->input_count - 1];
	}
}

START_TEST(test_init_failures)
{
	static const char *const missing_kv[] = { "bundle", "/nonexistent/bundle", NULL };
	struct rulsrv_settings none = { 0 }, missing = { 0 };
	void *state = NULL;

	fake_settings_set(&missing, missing_kv);
	ck_assert_int_lt(predict_service_init(&host, &api, &none, &forest_backend, &state), 0);
	ck_assert_int_eq(none.errors, 1);
	ck_assert_int_lt(predict_service_init(&host, &api, &missing, &forest_backend, &state),
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
	ck_assert_int_eq(predict_service_init(&host, &api, &s, &forest_backend, &state), 0);
	ck_assert(predict_service_ready(state, reason, sizeof(reason)));
	ck_assert(!predict_service_ready(NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "model not loaded");
	/* /v1 (2) and the Open Inference Protocol's (v2_service.h): /v2, its health (2), the
	 * model's metadata, ready and infer with and without its version (6), the 404s (2) */
	ck_assert_int_eq(host.route_count, 13);
	ck_assert_str_eq(host.routes[0].path, "/v1/predict");
	ck_assert_str_eq(host.routes[1].path, "/v1/models");
	ck_assert_str_eq(host.routes[2].path, "/v2");
	ck_assert_str_eq(host.routes[12].path, "/v2/models/*");
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
	ck_assert_int_eq(bad_updates, 0);
	bundle_free(b);
}
END_TEST

#define ENGINE(unit, s1, s21)                                                                   \
	"{\"unit\": " #unit ", \"cycles\": [{\"cycle\": 1, \"settings\": [0.1, 0.2, 100], "     \
	"\"sensors\": [518.67,642,1590,1400,14.62,21.61,554,2388,9050,1.3,47.5,521,2388,8130,"     \
	"8.4,0.03,392,2388,100,38.9,23.3]}, {\"cycle\": 2, \"settings\": [" #s1 ", 0, 100], "       \
	"\"sensors\": [518.67,642.5,1591,1401,14.62,21.61,553,2388.1,9051,1.3,47.4,522,2388,"      \
	"8131,8.42,0.03,393,2388,100,38.8," #s21 "]}]}"

/*
 * ABI 2.0 records: the batch declares the bundle's inputs (how many, their names) and the
 * record size, and each record, reached with rulsrv_prediction_at(), carries its engine's
 * last cycle, its RUL (the one answered) and that cycle's raw inputs.
 */
START_TEST(test_batch_records)
{
	const char *const kv[] = { "bundle", bundle_dir, NULL };
	struct rulsrv_settings s = { 0 };
	struct rulsrv_response resp;
	struct seen w = { 0 };
	const char *rul;
	void *state = NULL;
	size_t i;

	if (!have_bundle)
		return;
	fake_settings_set(&s, kv);
	ck_assert_int_eq(api.observer_add(&host, observe, &w), 0);
	ck_assert_int_eq(predict_service_init(&host, &api, &s, &forest_backend, &state), 0);
	call(0, "application/json",
	     "{\"instances\": [" ENGINE(7, -0.0007, 23.4) ", " ENGINE(3, 0.0042, 23.9) "]}", &resp);
	ck_assert_uint_eq(resp.status, 200);
	ck_assert_uint_eq(w.batches, 1);
	ck_assert_uint_eq(w.count, 2);
	ck_assert_uint_eq(w.input_count, 24);
	ck_assert_msg(w.names_ok, "input_names are not the bundle's (setting1 .. s21)");
	ck_assert_uint_ge(w.item_size, sizeof(struct rulsrv_prediction));
	ck_assert_int_eq(w.unit[0], 7);
	ck_assert_int_eq(w.unit[1], 3);
	ck_assert_int_eq(w.cycle[0], 2);
	ck_assert_int_eq(w.cycle[1], 2);
	ck_assert_double_eq(w.first_input[0], -0.0007);
	ck_assert_double_eq(w.first_input[1], 0.0042);
	ck_assert_double_eq(w.last_input[0], 23.4);
	ck_assert_double_eq(w.last_input[1], 23.9);
	/* the RUL each record carries is the one answered for its engine, in order */
	for (i = 0, rul = resp.body; i < 2; i++) {
		rul = strstr(rul, "\"rul\":");
		ck_assert_ptr_nonnull(rul);
		rul += 6;
		ck_assert_double_eq_tol(strtod(rul, NULL), w.rul[i], 1e-4);
	}
	free(resp.body);
	predict_service_fini(state);
	ck_assert_int_eq(bad_updates, 0);
}
END_TEST

/* Every series the service updates exists, at 0, as soon as init returns: one per status,
 * one per error reason, one each for the model's counters and histograms. */
START_TEST(test_metrics_from_start)
{
	static const char *const single[] = { "predictions_total", "prediction_latency_seconds",
					       "rul_prediction_value" };
	const char *const kv[] = { "bundle", bundle_dir, NULL };
	struct rulsrv_settings s = { 0 };
	void *state = NULL;
	size_t i, nonzero;

	if (!have_bundle)
		return;
	fake_settings_set(&s, kv);
	ck_assert_int_eq(predict_service_init(&host, &api, &s, &forest_backend, &state), 0);
	ck_assert_uint_eq(series_count("prediction_requests_total", &nonzero), 8);
	ck_assert_uint_eq(nonzero, 0);
	ck_assert_uint_eq(series_count("prediction_errors_total", &nonzero), 14);
	ck_assert_uint_eq(nonzero, 0);
	ck_assert_double_eq(sample("prediction_requests_total", "200"), 0);
	ck_assert_double_eq(sample("prediction_errors_total", "malformed_json"), 0);
	ck_assert_double_eq(sample("prediction_errors_total", "prediction_failed"), 0);
	for (i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		ck_assert_uint_eq(series_count(single[i], &nonzero), 1);
		ck_assert_uint_eq(nonzero, 0);
	}
	ck_assert_uint_eq(series_count("model_info", &nonzero), 1);
	ck_assert_uint_eq(nonzero, 1);
	predict_service_fini(state);
	ck_assert_int_eq(bad_updates, 0);
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
	ck_assert_int_eq(predict_service_init(&host, &api, &s, &forest_backend, &old), 0);
	memset(&next, 0, sizeof(next));
	next.registry = host.registry;
	ck_assert_int_eq(predict_service_init(&next, &api, &s, &forest_backend, &new), 0);
	predict_service_fini(old);
	ck_assert_double_eq(sample("model_info", b->version), 1);
	predict_service_fini(new);
	ck_assert_double_eq(sample("model_info", b->version), 0);
	ck_assert_int_eq(bad_updates, 0);
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
	tcase_add_test(tc, test_batch_records);
	tcase_add_test(tc, test_metrics_from_start);
	tcase_add_test(tc, test_model_info_across_reload);
	suite_add_tcase(s, tc);
	return s;
}
