/* SPDX-License-Identifier: MIT */
/* test_drift_psi.c - the drift_psi plugin, dlopen'ed, against the fake host of fake_host.h. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <rulsrv/plugin.h>

#include "bundle.h"
#include "cmapss.h"
#include "fake_host.h"
#include "metrics.h"
#include "need.h"
#include "synth.h"
#include "train_data.h"

/* ---- the plugin under test ------------------------------------------------------------------ */

static void *dt_handle;
static const struct rulsrv_plugin_descriptor *dt_desc;

static void
dt_load_plugin(void)
{
	dt_desc = fake_load("drift_psi.so", &dt_handle); /* says why on stderr */
	ck_assert_ptr_nonnull(dt_desc);
	ck_assert_uint_eq(dt_desc->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_str_eq(dt_desc->kind, "drift");
}

struct dt {
	struct rulsrv_host host;
	struct rulsrv_settings settings;
	void *state;
	bool borrowed_registry; /* a reload's successor: the predecessor's registry */
};

/* A fresh instance in a registry of its own (unique name: log lines tell them apart). */
static int
dt_start_model(struct dt *t, const char *const *kv, const char *model_bundle)
{
	static atomic_int serial;

	memset(t, 0, sizeof(*t));
	snprintf(t->host.instance, sizeof(t->host.instance), "drift%d", atomic_fetch_add(&serial, 1));
	t->host.registry = metrics_registry_new();
	ck_assert_ptr_nonnull(t->host.registry);
	fake_settings_set(&t->settings, kv);
	if (model_bundle != NULL)
		ck_assert_int_eq(fake_api.attribute_set(&t->host, "model.bundle", model_bundle), 0);
	if (dt_desc == NULL)
		dt_load_plugin();
	return dt_desc->init(&t->host, &fake_api, &t->settings, &t->state);
}

static int
dt_start(struct dt *t, const char *const *kv)
{
	return dt_start_model(t, kv, NULL);
}

/*
 * What a reload does: a new instance of the same name, beside prev, in prev's registry; then,
 * when the reload succeeded (handoff), the core hands prev's state to it before it serves.
 */
static int
dt_start_successor(struct dt *t, const struct dt *prev, const char *const *kv, bool handoff)
{
	int r;

	memset(t, 0, sizeof(*t));
	memcpy(t->host.instance, prev->host.instance, sizeof(t->host.instance));
	t->host.registry = prev->host.registry;
	t->borrowed_registry = true;
	fake_settings_set(&t->settings, kv);
	r = dt_desc->init(&t->host, &fake_api, &t->settings, &t->state);
	if (r == 0 && handoff) {
		ck_assert_ptr_nonnull(dt_desc->handoff);
		dt_desc->handoff(t->state, prev->state);
	}
	return r;
}

static void
dt_stop(struct dt *t)
{
	if (t->state != NULL)
		dt_desc->fini(t->state);
	t->state = NULL;
	if (!t->borrowed_registry)
		metrics_registry_free(t->host.registry);
}

static unsigned
dt_call(struct dt *t, const char *method, const char *path, const char *ctype, const char *body,
	cJSON **json)
{
	struct rulsrv_request req = { method, path, ctype, body ? body : "", body ? strlen(body) : 0,
				      true, 0 };
	struct rulsrv_response resp = { 0 };
	struct fake_route *route = fake_route_find(&t->host, method, path);

	ck_assert_msg(route != NULL, "no route %s %s", method, path);
	route->fn(route->ud, &req, &resp);
	if (json != NULL) {
		*json = resp.body != NULL ? cJSON_Parse(resp.body) : NULL;
		ck_assert_msg(resp.status != 200 || *json != NULL, "200 without a JSON body");
	}
	free(resp.body);
	return resp.status;
}

static cJSON *
dt_get(struct dt *t)
{
	cJSON *j;

	ck_assert_uint_eq(dt_call(t, "GET", "/v1/drift", NULL, NULL, &j), 200);
	return j;
}

static cJSON *
dt_roll(struct dt *t, const char *body)
{
	cJSON *j;

	ck_assert_uint_eq(dt_call(t, "POST", "/v1/drift/window", "application/json", body, &j), 200);
	return j;
}

/* Observe rows (CMAPSS_N_INPUTS values each) as predictions, batch rows per call. */
static void
dt_observe(struct dt *t, const double *rows, size_t n, size_t batch)
{
	struct rulsrv_prediction items[64];
	struct rulsrv_prediction_batch b = { .model = "m", .version = "1", .input_count = CMAPSS_N_INPUTS,
					     .item_size = sizeof(items[0]), .items = items };
	size_t i, k, o;

	for (i = 0; i < n; i += batch) {
		b.count = n - i < batch ? n - i : batch;
		for (k = 0; k < b.count; k++)
			items[k] = (struct rulsrv_prediction){ 1, (int64_t)(i + k), 100,
							       rows + (i + k) * CMAPSS_N_INPUTS, 0 };
		for (o = 0; o < t->host.observer_count; o++)
			t->host.observers[o](t->host.observer_ud[o], &b);
	}
}

struct dt_find {
	const char *name;
	const char *v0, *v1;
	double value;
	bool found;
	const struct rulsrv_family_info *family;
};

static int
dt_find_sample(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct dt_find *q = ud;

	if (s == NULL || strcmp(f->name, q->name) != 0)
		return 0;
	if (q->v0 != NULL && strcmp(s->label_values[0], q->v0) != 0)
		return 0;
	if (q->v1 != NULL && strcmp(s->label_values[1], q->v1) != 0)
		return 0;
	q->value = s->value;
	q->found = true;
	return 0;
}

/* Value of metric name{v0, v1}; NAN when absent. */
static double
dt_metric(struct dt *t, const char *name, const char *v0, const char *v1)
{
	struct dt_find q = { name, v0, v1, NAN, false, NULL };

	metrics_collect(t->host.registry, dt_find_sample, &q);
	return q.found ? q.value : NAN;
}

struct dt_sum {
	const char *name, *feature;
	double sum;
	size_t series;
};

static int
dt_sum_sample(void *ud, const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	struct dt_sum *q = ud;

	if (s != NULL && strcmp(f->name, q->name) == 0 &&
	    (q->feature == NULL || strcmp(s->label_values[0], q->feature) == 0)) {
		q->sum += s->value;
		q->series++;
	}
	return 0;
}

static double
dt_metric_sum(struct dt *t, const char *name, const char *feature, size_t *series)
{
	struct dt_sum q = { name, feature, 0, 0 };

	metrics_collect(t->host.registry, dt_sum_sample, &q);
	if (series != NULL)
		*series = q.series;
	return q.sum;
}

/*
 * Fire the instance's timers every 10 ms, as the core's timer thread would, until metric name
 * (summed over feature's bins when sum, else the unlabelled gauge) reaches at least want;
 * false after 10 s.
 */
static bool
dt_wait_metric(struct dt *t, const char *name, const char *feature, double want, bool sum)
{
	int i;

	for (i = 0; i < 1000; i++) {
		double v = sum ? dt_metric_sum(t, name, feature, NULL) : dt_metric(t, name, NULL, NULL);

		if (v >= want)
			return true;
		usleep(10 * 1000);
		fake_timers_fire(&t->host);
	}
	return false;
}

/* ---- hand-made reference bundles ----------------------------------------------------------- */

static char dt_dir_template[] = "/tmp/drift-test-XXXXXX";
static char *dt_dir;

static int
dt_remove(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void
dt_setup(void)
{
	strcpy(dt_dir_template, "/tmp/drift-test-XXXXXX");
	dt_dir = mkdtemp(dt_dir_template);
	ck_assert_ptr_nonnull(dt_dir);
}

/* The test's folder and everything in it (bundles, synthetic data), depth first. */
static void
dt_teardown(void)
{
	nftw(dt_dir, dt_remove, 8, FTW_DEPTH | FTW_PHYS);
}

/* Every input uniform on [0, 10) in the table the reference is built from. */
static double
dt_uniform(size_t i, size_t f)
{
	return (double)((i * 7 + f * 3) % 1000) / 100.0;
}

/* A feature spec fitted on a small made-up table: bundle_load needs a valid one. */
static struct feature_spec *
dt_spec(void)
{
	struct cmapss_table t = { 0 };
	struct feature_options o;
	struct feature_spec *spec = NULL;
	char err[256];
	size_t i, f;
	int r;

	t.rows = 200;
	t.unit = calloc(t.rows, sizeof(*t.unit));
	t.cycle = calloc(t.rows, sizeof(*t.cycle));
	t.values = calloc(t.rows * CMAPSS_N_INPUTS, sizeof(double));
	for (i = 0; i < t.rows; i++) {
		t.unit[i] = 1 + (int64_t)(i / 100);
		t.cycle[i] = 1 + (int64_t)(i % 100);
		for (f = 0; f < CMAPSS_N_INPUTS; f++)
			t.values[i * CMAPSS_N_INPUTS + f] =
				f < CMAPSS_N_SETTINGS ? 0 : dt_uniform(i, f) + (double)f;
	}
	feature_options_default(&o);
	r = feature_spec_fit(&t, NULL, NULL, &o, &spec, err, sizeof(err));
	ck_assert_msg(r == 0, "feature_spec_fit: %s", err);
	cmapss_table_free(&t);
	return spec;
}

/* Write bundle dir/b<n> with these references (NULL entries: 10 bins of 1 on [0, 10)). */
static const char *dt_subset = "FD001"; /* training subset of the next dt_bundle */

static char *
dt_bundle(int n, const struct drift_feature_ref *refs)
{
	const char *subsets[] = { dt_subset };
	static char dirs[8][512];
	struct bundle b = { 0 };
	double edges[9], expected[10];
	char err[512], path[600];
	size_t f;
	FILE *fp;
	int r, k;

	snprintf(dirs[n], sizeof(dirs[n]), "%s/b%d", dt_dir, n);
	mkdir(dirs[n], 0755);
	snprintf(path, sizeof(path), "%s/model.json", dirs[n]);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("{}\n", fp);
	fclose(fp);
	for (k = 0; k < 9; k++)
		edges[k] = k + 1;
	for (k = 0; k < 10; k++)
		expected[k] = 0.1;
	b.name = "drift-test";
	b.version = "1";
	b.subsets = (char **)subsets;
	b.subset_count = 1;
	b.model_path = path;
	b.rul_cap = 125;
	b.features = dt_spec();
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		if (refs != NULL && refs[f].bin_count != 0) {
			b.drift[f] = refs[f];
		} else {
			b.drift[f].kind = DRIFT_BINS_QUANTILE;
			b.drift[f].bin_count = 10;
			b.drift[f].edges = edges;
			b.drift[f].expected = expected;
		}
		snprintf(b.drift[f].name, sizeof(b.drift[f].name), "%s", cmapss_input_name(f));
	}
	r = bundle_save(&b, dirs[n], err, sizeof(err));
	ck_assert_msg(r == 0, "bundle_save: %s", err);
	feature_spec_free(b.features);
	return dirs[n];
}

/* n rows; input f of row i is gen(i, f). */
static double *
dt_rows(size_t n, double (*gen)(size_t, size_t))
{
	double *rows = malloc(n * CMAPSS_N_INPUTS * sizeof(double));
	size_t i, f;

	for (i = 0; i < n; i++)
		for (f = 0; f < CMAPSS_N_INPUTS; f++)
			rows[i * CMAPSS_N_INPUTS + f] = gen(i, f);
	return rows;
}

/* Start an instance with kv (it must start) and observe n rows of gen, batch per call. */
static void
dt_start_fed(struct dt *t, const char *const *kv, size_t n, double (*gen)(size_t, size_t),
	     size_t batch)
{
	double *rows = dt_rows(n, gen);

	ck_assert_int_eq(dt_start(t, kv), 0);
	dt_observe(t, rows, n, batch);
	free(rows);
}

static double
dt_feature_psi(const cJSON *state, const char *name)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, cJSON_GetObjectItem(state, "features")) {
		if (strcmp(cJSON_GetObjectItem(item, "name")->valuestring, name) == 0) {
			const cJSON *psi = cJSON_GetObjectItem(item, "psi");

			return cJSON_IsNumber(psi) ? psi->valuedouble : NAN;
		}
	}
	return NAN;
}

static const char *
dt_str(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *v = cJSON_GetObjectItem(o, path1);

	if (path2 != NULL)
		v = cJSON_GetObjectItem(v, path2);
	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double
dt_num(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *v = cJSON_GetObjectItem(o, path1);

	if (path2 != NULL)
		v = cJSON_GetObjectItem(v, path2);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- PSI ------------------------------------------------------------------------------------ */

/* Exactly 10 % of the rows in each of the default reference's bins. */
static double
dt_same(size_t i, size_t f)
{
	return (double)(i % 10) + 0.5;
}

/* Only the upper half of the range. */
static double
dt_upper(size_t i, size_t f)
{
	return 5.5 + (double)(i % 5);
}

static double
dt_bin0(size_t i, size_t f)
{
	return 0.25;
}

START_TEST(test_identical_distribution_is_ok)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv, 2000, dt_same, 16);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "ok");
	ck_assert_double_le(dt_num(j, "psi_max", NULL), 1e-12);
	ck_assert_double_eq(dt_num(j, "observations", NULL), 2000);
	ck_assert_double_eq(dt_num(j, "window", "observations"), 2000);
	ck_assert_double_le(dt_metric(&t, "drift_psi_max", NULL, NULL), 1e-12);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

/* Half the bins empty: exactly the clipped formula, far above the drift threshold. */
START_TEST(test_shifted_distribution_drifts)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	double want = 5 * (0.2 - 0.1) * log(2) + 5 * (1e-4 - 0.1) * log(1e-4 / 0.1);
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv, 1000, dt_upper, 7);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "drift");
	ck_assert_double_eq_tol(dt_feature_psi(j, "s7"), want, 1e-9);
	ck_assert_double_gt(dt_num(j, "psi_max", NULL), 1);
	ck_assert_double_eq_tol(dt_metric(&t, "drift_psi", "s7", NULL), want, 1e-9);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

/* Every value in one bin: the 9 empty bins cost what epsilon says, not infinity. */
START_TEST(test_clipping_at_epsilon)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual",
				   "epsilon", "0.001", NULL };
	double want = (1 - 0.1) * log(1 / 0.1) + 9 * (1e-3 - 0.1) * log(1e-3 / 0.1);
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv, 600, dt_bin0, 1);
	j = dt_get(&t);
	ck_assert(isfinite(dt_feature_psi(j, "setting1")));
	ck_assert_double_eq_tol(dt_feature_psi(j, "setting1"), want, 1e-9);
	ck_assert_double_eq_tol(dt_num(j, "epsilon", NULL), 1e-3, 1e-15);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

/* C-MAPSS-like inputs: setting3 and s1 constant, s17 integer, the rest continuous. */
static double
dt_cmapss_like(size_t i, size_t f)
{
	unsigned h = (unsigned)(i * 2654435761u) ^ (unsigned)(f * 40503u);

	h ^= h >> 13;
	h *= 0x5bd1e995u;
	h ^= h >> 15;
	if (f == 2)
		return 100;
	if (f == 3)
		return 518.67;
	if (f == 19)
		return 390 + (double)(h % 7 == 0 ? 3 : h % 5);
	return 600 + (double)(h % 100000) / 1000.0;
}

static double
dt_cmapss_like_later(size_t i, size_t f)
{
	return dt_cmapss_like(i + 1000003, f);
}

START_TEST(test_constant_and_discrete_do_not_alarm)
{
	struct drift_feature_ref refs[CMAPSS_N_INPUTS];
	struct cmapss_table tab = { 0 };
	double *rows;
	const char *dir;
	struct dt t;
	cJSON *j;
	size_t f;

	tab.rows = 20000;
	tab.values = dt_rows(tab.rows, dt_cmapss_like);
	ck_assert_int_eq(drift_ref_build(&tab, NULL, refs), 0);
	ck_assert_int_eq(refs[3].kind, DRIFT_BINS_CONSTANT);
	ck_assert_int_eq(refs[19].kind, DRIFT_BINS_DISCRETE);
	dir = dt_bundle(1, refs);
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		free(refs[f].edges);
		free(refs[f].expected);
	}
	free(tab.values);
	{
		const char *const kv[] = { "reference", dir, "window", "manual", NULL };

		ck_assert_int_eq(dt_start(&t, kv), 0);
	}
	rows = dt_rows(3000, dt_cmapss_like_later);
	dt_observe(&t, rows, 3000, 32);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "ok");
	ck_assert_double_lt(dt_feature_psi(j, "setting3"), 1e-9);
	ck_assert_double_lt(dt_feature_psi(j, "s1"), 1e-9);
	ck_assert_double_lt(dt_feature_psi(j, "s17"), 0.02);
	ck_assert_double_lt(dt_num(j, "psi_max", NULL), 0.1);
	cJSON_Delete(j);
	dt_stop(&t);
	free(rows);
}
END_TEST

struct dt_bins {
	const struct drift_feature_ref *refs;
	const double *want; /* input f, bin b at f * 64 + b */
	size_t checked;
};

/* Each drift_bin_observations_total series against want; its bin label reads back exactly
 * as the bin's upper edge. */
static int
dt_check_bin_sample(void *ud, const struct rulsrv_family_info *fam, const struct rulsrv_sample *s)
{
	struct dt_bins *q = ud;
	size_t f, b;

	if (s == NULL || strcmp(fam->name, "drift_bin_observations_total") != 0)
		return 0;
	for (f = 0; strcmp(cmapss_input_name(f), s->label_values[0]) != 0; f++)
		ck_assert_uint_lt(f, CMAPSS_N_INPUTS - 1);
	if (strcmp(s->label_values[1], "+Inf") == 0) {
		b = q->refs[f].bin_count - 1;
	} else {
		for (b = 0; b + 1 < q->refs[f].bin_count; b++)
			if (q->refs[f].edges[b] == strtod(s->label_values[1], NULL))
				break;
		ck_assert_msg(b + 1 < q->refs[f].bin_count, "%s: no edge reads as %s",
			      s->label_values[0], s->label_values[1]);
	}
	ck_assert_msg(s->value == q->want[f * 64 + b], "%s bin %s: %g, want %g",
		      s->label_values[0], s->label_values[1], s->value, q->want[f * 64 + b]);
	q->checked++;
	return 0;
}

static void
dt_check_bins(struct dt *t, const struct drift_feature_ref *refs, const double *want)
{
	struct dt_bins q = { refs, want, 0 };
	size_t f, total = 0;

	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		total += refs[f].bin_count;
	metrics_collect(t->host.registry, dt_check_bin_sample, &q);
	ck_assert_uint_eq(q.checked, total);
}

/* Values on, just below and just above every edge land where drift_bin_index says. */
/* Probes on, just below and just above every edge of bundle dir, and special values. */
static void
dt_probe_bins(const char *dir)
{
	static const double specials[] = { INFINITY, -INFINITY, NAN, -1e300, 1e300, 0 };
	const size_t nspecial = sizeof(specials) / sizeof(specials[0]);
	const struct drift_feature_ref *refs;
	struct bundle *loaded = NULL;
	double *want, *rows;
	size_t f, b, i, n = 0;
	char err[512];
	struct dt t;

	/* The edges as the plugin reads them (bundle.json need not keep the last bit). */
	ck_assert_msg(bundle_load(dir, &loaded, err, sizeof(err)) == 0, "%s", err);
	refs = loaded->drift;
	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		if (3 * (refs[f].bin_count - 1) + nspecial > n)
			n = 3 * (refs[f].bin_count - 1) + nspecial;
	rows = calloc(n * CMAPSS_N_INPUTS, sizeof(double));
	want = calloc(CMAPSS_N_INPUTS * 64, sizeof(double));
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		size_t k = 0;

		ck_assert_uint_le(refs[f].bin_count, 64);
		for (b = 0; b + 1 < refs[f].bin_count; b++) {
			double e = refs[f].edges[b];
			double probe[3] = { e, nextafter(e, -INFINITY), nextafter(e, INFINITY) };

			for (i = 0; i < 3; i++, k++)
				rows[k * CMAPSS_N_INPUTS + f] = probe[i];
		}
		for (i = 0; i < nspecial; i++, k++)
			rows[k * CMAPSS_N_INPUTS + f] = specials[i];
		/* Rows beyond this input's probes repeat its first probe. */
		for (; k < n; k++)
			rows[k * CMAPSS_N_INPUTS + f] = rows[f];
		for (i = 0; i < n; i++)
			want[f * 64 + drift_bin_index(&refs[f], rows[i * CMAPSS_N_INPUTS + f])]++;
	}
	{
		const char *const kv[] = { "reference", dir, "window", "manual", NULL };

		ck_assert_int_eq(dt_start(&t, kv), 0);
	}
	dt_observe(&t, rows, n, 5);
	cJSON_Delete(dt_get(&t));
	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		ck_assert_double_eq(dt_metric_sum(&t, "drift_bin_observations_total",
						  cmapss_input_name(f), NULL),
				    (double)n);
	dt_check_bins(&t, refs, want);
	dt_stop(&t);
	bundle_free(loaded);
	free(rows);
	free(want);
}

/* A reference where input f has n edges 0.25, 0.5, ... (the others the default). */
static const char *
dt_bundle_wide(int slot, size_t f, size_t n)
{
	struct drift_feature_ref refs[CMAPSS_N_INPUTS] = { 0 };
	double edges[64], expected[65];
	size_t k;

	for (k = 0; k < n; k++)
		edges[k] = 0.25 * (double)(k + 1);
	for (k = 0; k <= n; k++)
		expected[k] = 1.0 / (double)(n + 1);
	refs[f] = (struct drift_feature_ref){ "", DRIFT_BINS_DISCRETE, n + 1, edges, expected };
	return dt_bundle(slot, refs);
}

/*
 * Every edge, its neighbours and infinities land where drift_bin_index says, whatever the
 * search the plugin uses: up to 15 edges (C-MAPSS-like inputs), 16..31 and more.
 */
START_TEST(test_bins_match_drift_bin_index)
{
	struct drift_feature_ref built[CMAPSS_N_INPUTS];
	struct cmapss_table tab = { 0 };
	size_t f;

	tab.rows = 5000;
	tab.values = dt_rows(tab.rows, dt_cmapss_like);
	ck_assert_int_eq(drift_ref_build(&tab, NULL, built), 0);
	free(tab.values);
	dt_probe_bins(dt_bundle(1, built));
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		free(built[f].edges);
		free(built[f].expected);
	}
	dt_probe_bins(dt_bundle_wide(4, 5, 20));
	dt_probe_bins(dt_bundle_wide(5, 7, 40));
}
END_TEST

START_TEST(test_no_status_before_min_observations)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual",
				   "min_observations", "500", NULL };
	double *rows = dt_rows(500, dt_upper);
	struct dt t;
	cJSON *j;

	ck_assert_int_eq(dt_start(&t, kv), 0);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "insufficient_data");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "max_feature")));
	cJSON_Delete(j);
	dt_observe(&t, rows, 499, 1);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "insufficient_data");
	ck_assert(isnan(dt_metric(&t, "drift_psi_max", NULL, NULL)));
	ck_assert(isnan(dt_metric(&t, "drift_psi", "s3", NULL)));
	cJSON_Delete(j);
	dt_observe(&t, rows + 499 * CMAPSS_N_INPUTS, 1, 1);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "drift");
	ck_assert_double_gt(dt_metric(&t, "drift_psi_max", NULL, NULL), 1);
	cJSON_Delete(j);
	dt_stop(&t);
	free(rows);
}
END_TEST

/* Bins 0-4 hold 15 % each, bins 5-9 5 %: PSI = 0.25 ln 1.5 + 0.25 ln 2 = 0.2747. */
static double
dt_tilted(size_t i, size_t f)
{
	size_t k = i % 20;

	return (double)(k < 15 ? k / 3 : 5 + (k - 15)) + 0.5;
}

START_TEST(test_thresholds)
{
	const char *const kv_default[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	const char *const kv_custom[] = { "reference", dt_bundle(0, NULL), "window", "manual",
					  "warn_threshold", "0.2", "drift_threshold", "0.3", NULL };
	const char *const kv_bad[] = { "reference", dt_bundle(0, NULL), "warn_threshold", "0.3",
				       "drift_threshold", "0.2", NULL };
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv_default, 2000, dt_tilted, 8);
	j = dt_get(&t);
	ck_assert_double_eq_tol(dt_num(j, "psi_max", NULL), 0.25 * log(1.5) + 0.25 * log(2), 1e-9);
	ck_assert_str_eq(dt_str(j, "status", NULL), "drift");
	ck_assert_double_eq(dt_num(j, "thresholds", "warn"), 0.1);
	ck_assert_double_eq(dt_num(j, "thresholds", "drift"), 0.25);
	cJSON_Delete(j);
	dt_stop(&t);

	dt_start_fed(&t, kv_custom, 2000, dt_tilted, 8);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "status", NULL), "warn");
	cJSON_Delete(j);
	dt_stop(&t);

	ck_assert_int_eq(dt_start(&t, kv_bad), -EINVAL);
	dt_stop(&t);
}
END_TEST

/* ---- windows -------------------------------------------------------------------------------- */

START_TEST(test_count_windows_tumble)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window_size", "1000",
				   "min_observations", "100", NULL };
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv, 2500, dt_same, 10);
	j = dt_get(&t);
	ck_assert_double_eq(dt_num(j, "window", "index"), 3);
	ck_assert_double_eq(dt_num(j, "window", "observations"), 500);
	ck_assert_str_eq(dt_str(j, "window", "mode"), "count");
	ck_assert_double_eq(dt_num(j, "last_window", "index"), 2);
	ck_assert_double_eq(dt_num(j, "last_window", "observations"), 1000);
	ck_assert_str_eq(dt_str(j, "last_window", "status"), "ok");
	ck_assert_double_eq(dt_metric(&t, "drift_window_index", NULL, NULL), 3);
	ck_assert_double_eq(dt_metric(&t, "drift_window_observations", NULL, NULL), 500);
	/* Counters are cumulative over every window. */
	ck_assert_double_eq(dt_metric_sum(&t, "drift_bin_observations_total", "s9", NULL), 2500);
	ck_assert_double_eq(dt_metric(&t, "drift_bin_observations_total", "s9", "1"), 250);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

START_TEST(test_time_windows_tumble)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "time",
				   "window_seconds", "0.2", "update_interval", "0.05", NULL };
	struct dt t;
	cJSON *j;

	dt_start_fed(&t, kv, 100, dt_same, 10);
	/* The timer pushes counters and rolls without any GET. */
	ck_assert_msg(dt_wait_metric(&t, "drift_bin_observations_total", "s2", 100, true),
		      "counters not pushed by the timer");
	ck_assert_msg(dt_wait_metric(&t, "drift_window_index", NULL, 3, false),
		      "no time window rolled");
	j = dt_get(&t);
	ck_assert_double_ge(dt_num(j, "window", "index"), 3);
	ck_assert_double_eq(dt_num(j, "window", "seconds"), 0.2);
	ck_assert_double_eq(dt_num(j, "window", "observations"), 0);
	ck_assert_double_eq(dt_metric_sum(&t, "drift_bin_observations_total", "s2", NULL), 100);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

START_TEST(test_manual_window_and_labels)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual",
				   "label", "Q1 FD001", NULL };
	double *rows = dt_rows(700, dt_same);
	struct dt t;
	cJSON *j;

	ck_assert_int_eq(dt_start(&t, kv), 0);
	ck_assert_double_eq(dt_metric(&t, "drift_window_info", "Q1 FD001", NULL), 1);
	dt_observe(&t, rows, 700, 3);
	j = dt_roll(&t, "{\"label\": \"Q2 FD002\"}");
	ck_assert_double_eq(dt_num(j, "closed", "index"), 1);
	ck_assert_str_eq(dt_str(j, "closed", "label"), "Q1 FD001");
	ck_assert_double_eq(dt_num(j, "closed", "observations"), 700);
	ck_assert_str_eq(dt_str(j, "closed", "status"), "ok");
	ck_assert_double_eq(dt_num(j, "window", "index"), 2);
	ck_assert_str_eq(dt_str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	ck_assert_double_eq(dt_metric(&t, "drift_window_info", "Q1 FD001", NULL), 0);
	ck_assert_double_eq(dt_metric(&t, "drift_window_info", "Q2 FD002", NULL), 1);
	ck_assert_double_eq(dt_metric(&t, "drift_window_index", NULL, NULL), 2);
	ck_assert_double_eq(dt_metric(&t, "drift_window_observations", NULL, NULL), 0);

	/* No body: the label stays. */
	j = dt_roll(&t, NULL);
	ck_assert_double_eq(dt_num(j, "closed", "observations"), 0);
	ck_assert_str_eq(dt_str(j, "closed", "status"), "insufficient_data");
	ck_assert_str_eq(dt_str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	j = dt_get(&t);
	ck_assert_double_eq(dt_num(j, "window", "index"), 3);
	ck_assert_str_eq(dt_str(j, "last_window", "label"), "Q2 FD002");
	ck_assert_double_le(dt_num(j, "last_window", "end_timestamp"),
			    dt_num(j, "window", "start_timestamp"));
	cJSON_Delete(j);
	ck_assert_double_eq(dt_metric(&t, "drift_window_info", "Q2 FD002", NULL), 1);
	dt_stop(&t);
	free(rows);
}
END_TEST

START_TEST(test_window_body_errors)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	static const struct {
		const char *ctype, *body;
		unsigned status;
	} cases[] = {
		{ "application/json", "{\"label\": ", 400 },
		{ "application/json", "{\"label\": \"x\"} trailing", 400 },
		{ "application/json", "[\"x\"]", 422 },
		{ "application/json", "{\"label\": 5}", 422 },
		{ "application/json", "{\"label\": \"\"}", 422 },
		{ "application/json", "{\"lable\": \"Q2\"}", 422 },
		{ "application/json", "{\"label\": \"a\\u0001b\"}", 422 },
		{ "text/plain", "{\"label\": \"Q2\"}", 415 },
	};
	struct dt t;
	cJSON *j;
	size_t i;

	ck_assert_int_eq(dt_start(&t, kv), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(dt_call(&t, "POST", "/v1/drift/window", cases[i].ctype, cases[i].body,
				      NULL) == cases[i].status,
			      "case %zu: %s", i, cases[i].body);
	/* Nothing rolled. */
	j = dt_get(&t);
	ck_assert_double_eq(dt_num(j, "window", "index"), 1);
	cJSON_Delete(j);
	dt_stop(&t);
}
END_TEST

/* ---- concurrency: observers on many threads while windows roll ----------------------------- */

#define DT_THREADS 4
#define DT_PER_THREAD 20000

struct dt_worker {
	struct dt *t;
	size_t id;
	atomic_bool *done;
};

/* Row r of thread k: input f in bin (r + k + f) % 10 of the default reference. */
static double
dt_worker_value(size_t k, size_t r, size_t f)
{
	return (double)((r + k + f) % 10) + 0.5;
}

static void *
dt_observer_thread(void *arg)
{
	struct dt_worker *w = arg;
	double rows[8 * CMAPSS_N_INPUTS];
	size_t r = 0, k, f;

	while (r < DT_PER_THREAD) {
		size_t n = 1 + (r / 8) % 8;

		if (n > DT_PER_THREAD - r)
			n = DT_PER_THREAD - r;
		for (k = 0; k < n; k++)
			for (f = 0; f < CMAPSS_N_INPUTS; f++)
				rows[k * CMAPSS_N_INPUTS + f] = dt_worker_value(w->id, r + k, f);
		dt_observe(w->t, rows, n, n);
		r += n;
	}
	return NULL;
}

static void *
dt_roller_thread(void *arg)
{
	struct dt_worker *w = arg;
	struct rulsrv_request req = { "POST", "/v1/drift/window", NULL, "", 0, true, 0 };

	while (!atomic_load(w->done)) {
		struct rulsrv_response resp = { 0 };

		w->t->host.routes[1].fn(w->t->host.routes[1].ud, &req, &resp);
		ck_assert_uint_eq(resp.status, 200);
		free(resp.body);
		usleep(500);
	}
	return NULL;
}

START_TEST(test_concurrent_observers_exact_totals)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window_size", "997", NULL };
	struct dt_worker w[DT_THREADS + 1];
	pthread_t th[DT_THREADS + 1];
	atomic_bool done = false;
	char bin[8];
	size_t k, f, b;
	struct dt t;
	cJSON *j;

	ck_assert_int_eq(dt_start(&t, kv), 0);
	ck_assert_str_eq(t.host.routes[1].path, "/v1/drift/window");
	for (k = 0; k <= DT_THREADS; k++) {
		w[k] = (struct dt_worker){ &t, k, &done };
		ck_assert_int_eq(pthread_create(&th[k], NULL,
						k < DT_THREADS ? dt_observer_thread : dt_roller_thread,
						&w[k]),
				 0);
	}
	for (k = 0; k < DT_THREADS; k++)
		pthread_join(th[k], NULL);
	atomic_store(&done, true);
	pthread_join(th[DT_THREADS], NULL);

	j = dt_get(&t);
	/* Count rolls (observers) and manual rolls (the roller thread) both happened. */
	ck_assert_double_gt(dt_num(j, "window", "index"), 20);
	ck_assert_double_gt(dt_num(j, "last_window", "index"), 19);
	cJSON_Delete(j);
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		for (b = 0; b < 10; b++) {
			double want = 0, got;

			for (k = 0; k < DT_THREADS; k++) {
				size_t r;

				for (r = 0; r < DT_PER_THREAD; r++)
					want += (size_t)dt_worker_value(k, r, f) == b;
			}
			if (b == 9)
				snprintf(bin, sizeof(bin), "+Inf");
			else
				snprintf(bin, sizeof(bin), "%zu", b + 1);
			got = dt_metric(&t, "drift_bin_observations_total", cmapss_input_name(f), bin);
			ck_assert_msg(got == want, "%s bin %s: %g, want %g", cmapss_input_name(f), bin,
				      got, want);
		}
	}
	dt_stop(&t);
}
END_TEST

/* ---- reference, model bundle, settings, metrics -------------------------------------------- */

START_TEST(test_reference_and_model_bundle)
{
	const char *const none[] = { NULL };
	const char *b0 = dt_bundle(0, NULL), *b1, *b3;
	const char *const explicit[] = { "reference", b0, NULL };
	char missing[600];
	struct dt t;
	cJSON *j;

	b1 = dt_bundle(1, NULL);
	dt_subset = "FD002";
	b3 = dt_bundle(3, NULL);
	dt_subset = "FD001";

	/* Neither a reference nor a model: refused with a reason. */
	ck_assert_int_eq(dt_start(&t, none), -EINVAL);
	ck_assert_ptr_nonnull(strstr(t.host.last_log, "no drift reference"));
	dt_stop(&t);

	/* The model's bundle is the default reference. */
	ck_assert_int_eq(dt_start_model(&t, none, b1), 0);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "reference", "bundle"), b1);
	ck_assert_str_eq(dt_str(j, "reference", "name"), "drift-test");
	cJSON_Delete(j);
	dt_stop(&t);

	/* Another, comparable bundle as the reference. */
	ck_assert_int_eq(dt_start_model(&t, explicit, b1), 0);
	j = dt_get(&t);
	ck_assert_str_eq(dt_str(j, "reference", "bundle"), b0);
	cJSON_Delete(j);
	ck_assert_str_eq(t.host.last_warning, "");
	dt_stop(&t);

	/* A model trained on other data: served, with a warning saying what PSI compares. */
	ck_assert_int_eq(dt_start_model(&t, explicit, b3), 0);
	ck_assert_ptr_nonnull(strstr(t.host.last_warning, "trained on FD001, the model on FD002"));
	dt_stop(&t);

	/* A model bundle that cannot be read: init fails (a reload keeps the old state). */
	snprintf(missing, sizeof(missing), "%s/none", b0);
	ck_assert_int_eq(dt_start_model(&t, explicit, missing), -ENOENT);
	ck_assert_ptr_nonnull(strstr(t.host.last_log, "does not fit the served model"));
	dt_stop(&t);

	/* A reference that cannot be read. */
	{
		const char *const bad[] = { "reference", missing, NULL };

		ck_assert_int_lt(dt_start(&t, bad), 0);
		ck_assert_ptr_nonnull(strstr(t.host.last_log, "cannot load drift reference"));
		dt_stop(&t);
	}
}
END_TEST

/* Edges 2..10 instead of 1..9: a retrained reference. */
static struct drift_feature_ref *
dt_shifted_refs(void)
{
	static double edges[9], expected[10];
	static struct drift_feature_ref refs[CMAPSS_N_INPUTS];
	size_t f;
	int k;

	for (k = 0; k < 9; k++)
		edges[k] = k + 2;
	for (k = 0; k < 10; k++)
		expected[k] = 0.1;
	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		refs[f] = (struct drift_feature_ref){ "", DRIFT_BINS_QUANTILE, 10, edges, expected };
	return refs;
}

/*
 * A reload: the successor opens the next window under the old label; once it serves (its
 * first timer call), the window gauges are its own and the bins the new reference no longer
 * has stop counting as expected (proportion 0); the counters go on from where they were; the
 * predecessor's fini leaves the gauges alone.
 */
START_TEST(test_reload_takes_over)
{
	const char *const old_kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	const char *const new_kv[] = { "reference", dt_bundle(1, dt_shifted_refs()), "window",
				       "manual", "update_interval", "0.02", NULL };
	double *rows = dt_rows(100, dt_same);
	struct dt old, next;
	cJSON *j;

	ck_assert_int_eq(dt_start(&old, old_kv), 0);
	dt_observe(&old, rows, 100, 10);
	cJSON_Delete(dt_roll(&old, "{\"label\": \"Q2 FD002\"}"));
	dt_observe(&old, rows, 50, 10);
	ck_assert_double_eq(dt_metric(&old, "drift_reference_proportion", "s4", "1"), 0.1);

	ck_assert_int_eq(dt_start_successor(&next, &old, new_kv, true), 0);
	ck_assert_uint_eq(next.host.timer_count, 1);
	ck_assert_double_eq(next.host.timer_interval[0], 0.02);
	/* Handed over but not serving yet: the gauges are the predecessor's. */
	ck_assert_double_eq(dt_metric(&next, "drift_window_index", NULL, NULL), 2);
	ck_assert_double_eq(dt_metric(&next, "drift_reference_proportion", "s4", "1"), 0.1);
	j = dt_get(&next);
	ck_assert_double_eq(dt_num(j, "window", "index"), 3);
	ck_assert_str_eq(dt_str(j, "window", "label"), "Q2 FD002");
	cJSON_Delete(j);
	dt_observe(&next, rows, 100, 10);
	fake_timers_fire(&next.host);
	ck_assert_double_eq(dt_metric(&next, "drift_window_index", NULL, NULL), 3);
	ck_assert_double_eq(dt_metric(&next, "drift_window_info", "Q2 FD002", NULL), 1);
	/* Gone: the bin (0, 1]. Kept: (4, 5]. New: (9, 10]. */
	ck_assert_double_eq(dt_metric(&next, "drift_reference_proportion", "s4", "1"), 0);
	ck_assert_double_eq(dt_metric(&next, "drift_reference_proportion", "s4", "5"), 0.1);
	ck_assert_double_eq(dt_metric(&next, "drift_reference_proportion", "s4", "10"), 0.1);

	old.borrowed_registry = true; /* the service keeps it */
	dt_stop(&old);
	ck_assert_double_eq(dt_metric(&next, "drift_window_index", NULL, NULL), 3);
	cJSON_Delete(dt_get(&next));
	ck_assert_double_eq(dt_metric_sum(&next, "drift_bin_observations_total", "s4", NULL), 250);
	next.borrowed_registry = false;
	dt_stop(&next);
	free(rows);
}
END_TEST

/*
 * A reload that fails after the new instance's init: it is finished without a handoff and
 * without serving. The running instance's gauges and numbering are untouched, and the next
 * reload that succeeds continues from the running instance, as does the one after it.
 */
START_TEST(test_failed_reload_keeps_numbering)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual",
				   "label", "Q1", NULL };
	struct dt old, spare, next, last;
	cJSON *j;

	ck_assert_int_eq(dt_start(&old, kv), 0);
	cJSON_Delete(dt_roll(&old, "{\"label\": \"Q2\"}"));
	fake_timers_fire(&old.host);
	ck_assert_int_eq(dt_start_successor(&spare, &old, kv, false), 0);
	dt_stop(&spare);
	ck_assert_double_eq(dt_metric(&old, "drift_window_index", NULL, NULL), 2);
	ck_assert_double_eq(dt_metric(&old, "drift_window_info", "Q2", NULL), 1);
	ck_assert_double_eq(dt_metric(&old, "drift_window_info", "Q1", NULL), 0);

	ck_assert_int_eq(dt_start_successor(&next, &old, kv, true), 0);
	old.borrowed_registry = true;
	dt_stop(&old);
	j = dt_get(&next);
	ck_assert_double_eq(dt_num(j, "window", "index"), 3);
	ck_assert_str_eq(dt_str(j, "window", "label"), "Q2");
	cJSON_Delete(j);
	ck_assert_int_eq(dt_start_successor(&last, &next, kv, true), 0);
	dt_stop(&next);
	fake_timers_fire(&last.host);
	ck_assert_double_eq(dt_metric(&last, "drift_window_index", NULL, NULL), 4);
	ck_assert_double_eq(dt_metric(&last, "drift_window_info", "Q2", NULL), 1);
	last.borrowed_registry = false;
	dt_stop(&last);
}
END_TEST

/*
 * A replaced drift_psi.so loads as another object, whose instances may be laid out otherwise:
 * its handoff from an instance of the old object takes nothing over (windows start again).
 */
START_TEST(test_handoff_from_another_file)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual",
				   "label", "Q1", NULL };
	const struct rulsrv_plugin_descriptor *other;
	char src[1024], copy[600], cmd[2200];
	struct dt old, next;
	void *handle;
	cJSON *j;

	ck_assert_int_eq(dt_start(&old, kv), 0);
	cJSON_Delete(dt_roll(&old, "{\"label\": \"Q2\"}"));
	snprintf(src, sizeof(src), "%s/plugins/drift_psi.so", RULSRV_BUILD_DIR);
	snprintf(copy, sizeof(copy), "%s/drift_psi_copy.so", dt_dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, copy);
	ck_assert_int_eq(system(cmd), 0);
	handle = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(handle != NULL, "%s", dlerror());
	other = dlsym(handle, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(other);
	ck_assert_ptr_ne(other, dt_desc);

	memset(&next, 0, sizeof(next));
	memcpy(next.host.instance, old.host.instance, sizeof(next.host.instance));
	next.host.registry = old.host.registry;
	fake_settings_set(&next.settings, kv);
	ck_assert_int_eq(other->init(&next.host, &fake_api, &next.settings, &next.state), 0);
	other->handoff(next.state, old.state);
	ck_assert_ptr_nonnull(strstr(next.host.last_log, "another drift_psi.so"));
	old.borrowed_registry = true;
	dt_stop(&old);
	j = dt_get(&next);
	ck_assert_double_eq(dt_num(j, "window", "index"), 1);
	ck_assert_str_eq(dt_str(j, "window", "label"), "Q1");
	cJSON_Delete(j);
	other->fini(next.state);
	metrics_registry_free(next.host.registry);
	dlclose(handle);
}
END_TEST

/* Records of another input count than the reference's are skipped and said once. */
START_TEST(test_other_input_count_is_skipped)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	double *rows = dt_rows(10, dt_same);
	struct rulsrv_prediction items[10];
	struct rulsrv_prediction_batch b = { .model = "other", .version = "1",
					     .input_count = CMAPSS_N_INPUTS - 3, .count = 10,
					     .item_size = sizeof(items[0]), .items = items };
	char want[64];
	struct dt t;
	size_t i;
	cJSON *j;

	for (i = 0; i < 10; i++)
		items[i] = (struct rulsrv_prediction){ 1, (int64_t)i, 100,
						       rows + i * CMAPSS_N_INPUTS, 0 };
	ck_assert_int_eq(dt_start(&t, kv), 0);
	t.host.observers[0](t.host.observer_ud[0], &b);
	snprintf(want, sizeof(want), "with %d inputs", CMAPSS_N_INPUTS - 3);
	ck_assert_msg(strstr(t.host.last_warning, want) != NULL, "%s", t.host.last_warning);
	t.host.last_warning[0] = '\0';
	t.host.observers[0](t.host.observer_ud[0], &b);
	ck_assert_str_eq(t.host.last_warning, ""); /* once */
	dt_observe(&t, rows, 10, 10);
	j = dt_get(&t);
	ck_assert_double_eq(dt_num(j, "observations", NULL), 10);
	cJSON_Delete(j);
	ck_assert_double_eq(dt_metric_sum(&t, "drift_bin_observations_total", "s4", NULL), 10);
	dt_stop(&t);
	free(rows);
}
END_TEST

START_TEST(test_settings_are_checked)
{
	static const struct {
		const char *why;
		const char *kv[5]; /* after the reference, NULL-terminated */
	} refused[] = {
		{ "window_size in time mode", { "window", "time", "window_size", "10", NULL } },
		{ "window_seconds in count mode", { "window_seconds", "10", NULL } },
		{ "unknown window mode", { "window", "hourly", NULL } },
	};
	const char *b0 = dt_bundle(0, NULL);
	const char *const all[] = { "reference", b0, "window", "count", "window_size", "10",
				    "min_observations", "5", "warn_threshold", "0.2",
				    "drift_threshold", "0.5", "epsilon", "0.001",
				    "update_interval", "0.5", "label", "first", NULL };
	struct dt t;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *kv[2 + 5] = { "reference", b0 };

		memcpy(kv + 2, refused[i].kv, sizeof(refused[i].kv));
		rc = dt_start(&t, kv);
		ck_assert_msg(rc == -EINVAL, "%s: init returned %d, not -EINVAL", refused[i].why, rc);
		dt_stop(&t);
	}
	ck_assert_int_eq(dt_start(&t, all), 0);
	ck_assert_msg(fake_settings_all_read(&t.settings), "a setting was not read");
	dt_stop(&t);
}
END_TEST

/* Counters and reference proportions share {feature, bin}: a recording rule joins them. */
START_TEST(test_bin_metrics)
{
	const char *const kv[] = { "reference", dt_bundle(0, NULL), "window", "manual", NULL };
	double *rows = dt_rows(100, dt_upper);
	size_t series;
	struct dt t;
	cJSON *j;

	ck_assert_int_eq(dt_start(&t, kv), 0);
	ck_assert_double_eq(dt_metric(&t, "drift_reference_proportion", "s4", "1"), 0.1);
	ck_assert_double_eq(dt_metric(&t, "drift_reference_proportion", "s4", "+Inf"), 0.1);
	ck_assert_double_eq_tol(dt_metric_sum(&t, "drift_reference_proportion", "s4", &series), 1,
				1e-12);
	ck_assert_uint_eq(series, 10);
	dt_metric_sum(&t, "drift_bin_observations_total", NULL, &series);
	ck_assert_uint_eq(series, 10 * CMAPSS_N_INPUTS);
	dt_observe(&t, rows, 100, 5);
	j = dt_get(&t);
	cJSON_Delete(j);
	/* 5.5 is in (5, 6]: the bin labelled 6. */
	ck_assert_double_eq(dt_metric(&t, "drift_bin_observations_total", "s4", "6"), 20);
	ck_assert_double_eq(dt_metric(&t, "drift_bin_observations_total", "s4", "5"), 0);
	dt_stop(&t);
	free(rows);
}
END_TEST

/* ---- quarters on real and synthetic C-MAPSS data ------------------------------------------- */

struct dt_quarter {
	double psi_max;
	char status[32];
	char max_feature[16];
	double psi[CMAPSS_N_INPUTS];
};

static void
dt_read(const char *data, const char *file, struct cmapss_table *tab)
{
	char path[1024], err[512];

	ck_assert_int_eq(cmapss_path(data, file, path, sizeof(path)), 0);
	ck_assert_msg(cmapss_read(path, tab, err, sizeof(err)) == 0, "%s", err);
}

static bool
dt_is_holdout(const struct bundle *b, int64_t unit)
{
	size_t i;

	for (i = 0; i < b->holdout_count; i++)
		if (b->holdout_units[i] == unit)
			return true;
	return false;
}

/* Feed the rows of tab (only those where use[i], when use is given) as one labelled window. */
static void
dt_quarter(struct dt *t, const char *label, const struct cmapss_table *tab, const bool *use,
	   struct dt_quarter *q)
{
	char body[128];
	size_t i, f;
	cJSON *j;

	snprintf(body, sizeof(body), "{\"label\": \"%s\"}", label);
	cJSON_Delete(dt_roll(t, body));
	for (i = 0; i < tab->rows; i++)
		if (use == NULL || use[i])
			dt_observe(t, tab->values + i * CMAPSS_N_INPUTS, 1, 1);
	j = dt_get(t);
	q->psi_max = dt_num(j, "psi_max", NULL);
	snprintf(q->status, sizeof(q->status), "%s", dt_str(j, "status", NULL));
	snprintf(q->max_feature, sizeof(q->max_feature), "%s", dt_str(j, "max_feature", NULL));
	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		q->psi[f] = dt_feature_psi(j, cmapss_input_name(f));
	fprintf(stderr, "drift %-12s %7.0f obs  %-6s max psi %7.3f (%s)\n", label,
		dt_num(j, "observations", NULL), q->status, q->psi_max, q->max_feature);
	cJSON_Delete(j);
}

/*
 * The reference the test builds the way rulsrv-train builds it, from the FD001 training units
 * except every fifth one (held out: the unseen engines).
 */
static char *
dt_fd001_built(const struct cmapss_table *fd001, bool *holdout)
{
	struct drift_feature_ref refs[CMAPSS_N_INPUTS];
	bool *use = calloc(fd001->rows, sizeof(*use));
	char *dir;
	size_t i, f;

	for (i = 0; i < fd001->rows; i++) {
		holdout[i] = fd001->unit[i] % 5 == 0;
		use[i] = !holdout[i];
	}
	ck_assert_int_eq(drift_ref_build(fd001, use, refs), 0);
	free(use);
	dir = strdup(dt_bundle(2, refs));
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		free(refs[f].edges);
		free(refs[f].expected);
	}
	return dir;
}

/* The trained bundle models/fd001 and its held-out units; NULL when there is none. */
static char *
dt_fd001_trained(const struct cmapss_table *fd001, bool *holdout)
{
	struct bundle *b = NULL;
	char dir[1024], err[512];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/models/fd001", RULSRV_SOURCE_DIR);
	if (bundle_load(dir, &b, err, sizeof(err)) != 0 || b->holdout_count == 0 ||
	    b->holdout_subset == NULL || strcmp(b->holdout_subset, "FD001") != 0) {
		fprintf(stderr, "drift: no trained models/fd001 with held-out FD001 units (%s)\n",
			b == NULL ? err : "no holdout");
		bundle_free(b);
		return NULL;
	}
	for (i = 0; i < fd001->rows; i++)
		holdout[i] = dt_is_holdout(b, fd001->unit[i]);
	bundle_free(b);
	return strdup(dir);
}

static size_t
dt_input(const char *name)
{
	size_t f;

	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		if (strcmp(cmapss_input_name(f), name) == 0)
			return f;
	ck_abort_msg("no input %s", name);
	return 0;
}

/*
 * Q1 unseen FD001 engines, then FD002, FD003 and FD004 training engines, against the FD001
 * reference (trained: models/fd001, else one built here). false when there is no such
 * reference.
 */
static bool
dt_quarters(const char *data, bool trained, struct dt_quarter q[4])
{
	struct cmapss_table fd001 = { 0 }, other = { 0 };
	static const char *const files[] = { "train_FD002.txt", "train_FD003.txt",
					     "train_FD004.txt" };
	static const char *const labels[] = { "Q2 FD002", "Q3 FD003", "Q4 FD004" };
	bool *holdout;
	char *ref;
	struct dt t;
	size_t k;

	dt_read(data, "train_FD001.txt", &fd001);
	holdout = calloc(fd001.rows, sizeof(*holdout));
	ref = trained ? dt_fd001_trained(&fd001, holdout) : dt_fd001_built(&fd001, holdout);
	if (ref != NULL) {
		const char *const kv[] = { "reference", ref, "window", "manual", NULL };

		fprintf(stderr, "drift: reference %s\n", ref);
		ck_assert_int_eq(dt_start(&t, kv), 0);
		dt_quarter(&t, "Q1 FD001", &fd001, holdout, &q[0]);
		for (k = 0; k < 3; k++) {
			dt_read(data, files[k], &other);
			dt_quarter(&t, labels[k], &other, NULL, &q[k + 1]);
			cmapss_table_free(&other);
		}
		dt_stop(&t);
	}
	cmapss_table_free(&fd001);
	free(holdout);
	free(ref);
	return ref != NULL;
}

/* Other subsets drift: FD002/FD004 by their six regimes, FD003 by its fan fault alone. */
static void
dt_assert_shifts(const struct dt_quarter q[4])
{
	size_t f;

	ck_assert_str_eq(q[1].status, "drift");
	ck_assert_double_gt(q[1].psi_max, 1);
	ck_assert_str_eq(q[3].status, "drift");
	ck_assert_double_gt(q[3].psi_max, 1);
	ck_assert_str_eq(q[2].status, "drift");
	for (f = 0; f < CMAPSS_N_SETTINGS; f++)
		ck_assert_double_lt(q[2].psi[f], 0.1);
}

START_TEST(test_real_data_quarters)
{
	struct dt_quarter q[4];
	char data[1024];

	ck_assert_int_eq(cmapss_find_dir(data, sizeof(data)), 0); /* tcase_needs "cmapss" */
	ck_assert(dt_quarters(data, false, q));
	ck_assert_str_eq(q[0].status, "ok");
	ck_assert_double_lt(q[0].psi_max, 0.1);
	dt_assert_shifts(q);
	/* FD003's fan fault: bypass ratio and coolant bleed move, the operating point does not. */
	ck_assert_double_ge(q[2].psi[dt_input("s15")], 0.25);
	ck_assert_double_ge(q[2].psi[dt_input("s21")], 0.25);

	/*
	 * The trained bundle models/fd001 and its own held-out engines (0.06 for the committed
	 * one). Twenty engines are few: engine-to-engine offsets of s9 and s14 decide their PSI,
	 * 0.01 to 0.3 over random choices of 20, so a bundle retrained with another holdout can
	 * fail here without any change to drift_psi (see docs/DRIFT.md).
	 */
	if (dt_quarters(data, true, q)) {
		ck_assert_msg(q[0].psi_max < 0.1,
			      "models/fd001 held-out units: max PSI %.3f (%s): the holdout of "
			      "this bundle is not representative of FD001",
			      q[0].psi_max, q[0].max_feature);
		ck_assert_str_eq(q[0].status, "ok");
		dt_assert_shifts(q);
		ck_assert_double_ge(q[2].psi[dt_input("s15")], 0.25);
	}
}
END_TEST

START_TEST(test_synthetic_quarters)
{
	struct synth_options o;
	struct dt_quarter q[4];
	char data[600], err[512];

	snprintf(data, sizeof(data), "%s/synth", dt_dir);
	ck_assert_int_eq(mkdir(data, 0755), 0);
	synth_options_default(&o);
	o.seed = 7;
	ck_assert_msg(synth_write(data, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert(dt_quarters(data, false, q));
	ck_assert_str_eq(q[0].status, "ok");
	ck_assert_double_lt(q[0].psi_max, 0.1);
	dt_assert_shifts(q);
}
END_TEST

Suite *drift_psi_suite(void);

Suite *
drift_psi_suite(void)
{
	Suite *s = suite_create("drift_psi");
	TCase *psi = tcase_create("psi");
	TCase *win = tcase_create("windows");
	TCase *conf = tcase_create("config");
	TCase *data = tcase_create("data");
	TCase *real = tcase_create("real_data");

	tcase_add_checked_fixture(psi, dt_setup, dt_teardown);
	tcase_set_timeout(psi, 30);
	tcase_add_test(psi, test_identical_distribution_is_ok);
	tcase_add_test(psi, test_shifted_distribution_drifts);
	tcase_add_test(psi, test_clipping_at_epsilon);
	tcase_add_test(psi, test_constant_and_discrete_do_not_alarm);
	tcase_add_test(psi, test_bins_match_drift_bin_index);
	tcase_add_test(psi, test_no_status_before_min_observations);
	tcase_add_test(psi, test_thresholds);
	suite_add_tcase(s, psi);

	tcase_add_checked_fixture(win, dt_setup, dt_teardown);
	tcase_set_timeout(win, 60);
	tcase_add_test(win, test_count_windows_tumble);
	tcase_add_test(win, test_time_windows_tumble);
	tcase_add_test(win, test_manual_window_and_labels);
	tcase_add_test(win, test_window_body_errors);
	tcase_add_test(win, test_concurrent_observers_exact_totals);
	suite_add_tcase(s, win);

	tcase_add_checked_fixture(conf, dt_setup, dt_teardown);
	tcase_set_timeout(conf, 30);
	tcase_add_test(conf, test_reference_and_model_bundle);
	tcase_add_test(conf, test_settings_are_checked);
	tcase_add_test(conf, test_reload_takes_over);
	tcase_add_test(conf, test_failed_reload_keeps_numbering);
	tcase_add_test(conf, test_other_input_count_is_skipped);
	tcase_add_test(conf, test_handoff_from_another_file);
	tcase_add_test(conf, test_bin_metrics);
	suite_add_tcase(s, conf);

	tcase_add_checked_fixture(data, dt_setup, dt_teardown);
	tcase_set_timeout(data, 120);
	tcase_add_test(data, test_synthetic_quarters);
	suite_add_tcase(s, data);

	tcase_needs(real, "cmapss");
	tcase_add_checked_fixture(real, dt_setup, dt_teardown);
	tcase_set_timeout(real, 120);
	tcase_add_test(real, test_real_data_quarters);
	suite_add_tcase(s, real);
	return s;
}
