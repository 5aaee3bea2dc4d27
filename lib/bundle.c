/* SPDX-License-Identifier: MIT */
/* bundle.c - load, validate and save a model bundle's bundle.json. */
#include "bundle.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read_file.h"

#define BUNDLE_FORMAT 1
#define BUNDLE_MAX_JSON (64u * 1024 * 1024)
#define BUNDLE_MAX_BINS 64

static const char *const kind_names[] = {
	[DRIFT_BINS_QUANTILE] = "quantile",
	[DRIFT_BINS_DISCRETE] = "discrete",
	[DRIFT_BINS_CONSTANT] = "constant",
};

/* Every bundle of format 1 is trained on C-MAPSS rows: the 24 inputs of cmapss.h. */
size_t
bundle_input_count(const struct bundle *b)
{
	(void)b;
	return CMAPSS_N_INPUTS;
}

const char *const *
bundle_input_names(const struct bundle *b)
{
	(void)b;
	return cmapss_input_names();
}

size_t
drift_bin_index(const struct drift_feature_ref *ref, double x)
{
	size_t lo = 0, hi = ref->bin_count - 1; /* answer in [lo, hi] */

	/* The number of edges strictly less than x (NaN lands in bin 0). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ref->edges[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
bundle_free(struct bundle *b)
{
	size_t i;

	if (b == NULL)
		return;
	free(b->dir);
	free(b->name);
	free(b->version);
	for (i = 0; b->subsets != NULL && i < b->subset_count; i++)
		free(b->subsets[i]);
	free(b->subsets);
	free(b->model_path);
	feature_spec_free(b->features);
	for (i = 0; i < CMAPSS_N_INPUTS; i++) {
		free(b->drift[i].edges);
		free(b->drift[i].expected);
	}
	free(b->holdout_units);
	free(b->holdout_subset);
	cJSON_Delete(b->evaluation);
	free(b);
}

/* bundle.json into text: a directory or an oversized file there is a malformed bundle. */
static int
read_text(const char *path, char **out, char *err, size_t err_len)
{
	int r = read_file(path, BUNDLE_MAX_JSON, out, NULL);

	if (r == -EFBIG || r == -EISDIR) {
		snprintf(err, err_len, "%s: not a regular file of at most %u bytes", path,
			 BUNDLE_MAX_JSON);
		return -EINVAL;
	}
	if (r < 0)
		snprintf(err, err_len, "cannot open '%s': %s", path, strerror(-r));
	return r;
}

static int
get_string(const cJSON *root, const char *key, char **out, char *err, size_t err_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
		snprintf(err, err_len, "%s: expected a non-empty string", key);
		return -EINVAL;
	}
	*out = strdup(v->valuestring);
	if (*out == NULL) {
		snprintf(err, err_len, "%s: out of memory", key);
		return -ENOMEM;
	}
	return 0;
}

static bool
valid_subset(const char *s)
{
	return strlen(s) == 5 && strncmp(s, "FD00", 4) == 0 && s[4] >= '1' && s[4] <= '4';
}

static int
load_subsets(const cJSON *root, struct bundle *b, char *err, size_t err_len)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "subsets"), *v;
	int n = cJSON_GetArraySize(arr);

	if (!cJSON_IsArray(arr) || n < 1) {
		snprintf(err, err_len, "subsets: expected a non-empty array of names (\"FD001\")");
		return -EINVAL;
	}
	b->subsets = calloc((size_t)n, sizeof(char *));
	if (b->subsets == NULL)
		return -ENOMEM;
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsString(v) || !valid_subset(v->valuestring)) {
			snprintf(err, err_len, "subsets[%zu]: expected FD001..FD004", b->subset_count);
			return -EINVAL;
		}
		b->subsets[b->subset_count] = strdup(v->valuestring);
		if (b->subsets[b->subset_count++] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int
load_model_path(const cJSON *root, struct bundle *b, char *err, size_t err_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model");
	struct stat st;

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strchr(v->valuestring, '/') ||
	    strcmp(v->valuestring, "..") == 0 || strcmp(v->valuestring, ".") == 0) {
		snprintf(err, err_len, "model: expected a file name inside the bundle directory");
		return -EINVAL;
	}
	if (asprintf(&b->model_path, "%s/%s", b->dir, v->valuestring) < 0) {
		b->model_path = NULL;
		return -ENOMEM;
	}
	if (stat(b->model_path, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "model: '%s' is not a readable file", b->model_path);
		return -ENOENT;
	}
	return 0;
}

static int
load_doubles(const cJSON *arr, double **out, size_t *n, const char *what, size_t i, char *err,
	     size_t err_len)
{
	const cJSON *v;
	size_t k = 0;
	int len = cJSON_GetArraySize(arr);

	if (!cJSON_IsArray(arr) || len > BUNDLE_MAX_BINS) {
		snprintf(err, err_len, "drift[%zu].%s: expected an array of at most %d numbers", i,
			 what, BUNDLE_MAX_BINS);
		return -EINVAL;
	}
	*out = calloc((size_t)len + 1, sizeof(double));
	if (*out == NULL)
		return -ENOMEM;
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
			snprintf(err, err_len, "drift[%zu].%s[%zu]: expected a finite number", i, what,
				 k);
			return -EINVAL;
		}
		(*out)[k++] = v->valuedouble;
	}
	*n = k;
	return 0;
}

static int
load_drift_one(const cJSON *item, size_t i, struct drift_feature_ref *ref, char *err,
	       size_t err_len)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(item, "kind");
	size_t ne = 0, nx = 0, k;
	double sum = 0;
	int r;

	if (!cJSON_IsString(name) || strcmp(name->valuestring, cmapss_input_name(i)) != 0) {
		snprintf(err, err_len, "drift[%zu].name: expected \"%s\"", i, cmapss_input_name(i));
		return -EINVAL;
	}
	snprintf(ref->name, sizeof(ref->name), "%s", cmapss_input_name(i));
	for (k = 0; k < 3; k++)
		if (cJSON_IsString(kind) && strcmp(kind->valuestring, kind_names[k]) == 0)
			break;
	if (k == 3) {
		snprintf(err, err_len, "drift[%zu].kind: expected quantile, discrete or constant", i);
		return -EINVAL;
	}
	ref->kind = (enum drift_bin_kind)k;
	r = load_doubles(cJSON_GetObjectItemCaseSensitive(item, "edges"), &ref->edges, &ne, "edges",
			 i, err, err_len);
	if (r == 0)
		r = load_doubles(cJSON_GetObjectItemCaseSensitive(item, "expected"), &ref->expected,
				 &nx, "expected", i, err, err_len);
	if (r < 0)
		return r;
	if (nx != ne + 1) {
		snprintf(err, err_len, "drift[%zu] (%s): %zu edges need %zu expected proportions, got %zu",
			 i, cmapss_input_name(i), ne, ne + 1, nx);
		return -EINVAL;
	}
	if (ref->kind == DRIFT_BINS_CONSTANT && ne != 2) {
		snprintf(err, err_len, "drift[%zu] (%s): a constant input has 2 edges", i,
			 cmapss_input_name(i));
		return -EINVAL;
	}
	for (k = 1; k < ne; k++) {
		if (!(ref->edges[k - 1] < ref->edges[k])) {
			snprintf(err, err_len, "drift[%zu] (%s): edges must be strictly ascending", i,
				 cmapss_input_name(i));
			return -EINVAL;
		}
	}
	for (k = 0; k < nx; k++) {
		if (ref->expected[k] < 0 || ref->expected[k] > 1) {
			snprintf(err, err_len, "drift[%zu] (%s): expected[%zu] is outside 0..1", i,
				 cmapss_input_name(i), k);
			return -EINVAL;
		}
		sum += ref->expected[k];
	}
	if (fabs(sum - 1) > 1e-6) {
		snprintf(err, err_len, "drift[%zu] (%s): expected proportions sum to %g, not 1", i,
			 cmapss_input_name(i), sum);
		return -EINVAL;
	}
	ref->bin_count = nx;
	return 0;
}

static int
load_drift(const cJSON *root, struct bundle *b, char *err, size_t err_len)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "drift"), *item;
	size_t i = 0;
	int r;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != CMAPSS_N_INPUTS) {
		snprintf(err, err_len, "drift: expected an array of %d inputs (setting1..s21)",
			 CMAPSS_N_INPUTS);
		return -EINVAL;
	}
	cJSON_ArrayForEach(item, arr) {
		r = load_drift_one(item, i, &b->drift[i], err, err_len);
		if (r < 0)
			return r;
		i++;
	}
	return 0;
}

static int
load_holdout(const cJSON *root, struct bundle *b, char *err, size_t err_len)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "holdout"), *units, *v;
	int n;

	if (h == NULL || cJSON_IsNull(h))
		return 0;
	units = cJSON_GetObjectItemCaseSensitive(h, "units");
	n = cJSON_GetArraySize(units);
	if (!cJSON_IsObject(h) || !cJSON_IsArray(units)) {
		snprintf(err, err_len, "holdout: expected {\"subset\": \"FD00N\", \"units\": [...]}");
		return -EINVAL;
	}
	if (get_string(h, "subset", &b->holdout_subset, err, err_len) < 0 ||
	    !valid_subset(b->holdout_subset)) {
		snprintf(err, err_len, "holdout.subset: expected FD001..FD004");
		return -EINVAL;
	}
	b->holdout_units = calloc((size_t)n + 1, sizeof(int64_t));
	if (b->holdout_units == NULL)
		return -ENOMEM;
	cJSON_ArrayForEach(v, units) {
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		    v->valuedouble < 0 || v->valuedouble > 1e15) {
			snprintf(err, err_len, "holdout.units[%zu]: expected a unit number",
				 b->holdout_count);
			return -EINVAL;
		}
		b->holdout_units[b->holdout_count++] = (int64_t)v->valuedouble;
	}
	return 0;
}

static int
load_root(const cJSON *root, struct bundle *b, char *err, size_t err_len)
{
	const cJSON *v;
	char why[384];
	int r;

	v = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (!cJSON_IsNumber(v) || v->valuedouble != BUNDLE_FORMAT) {
		snprintf(err, err_len, "format: expected %d", BUNDLE_FORMAT);
		return -EINVAL;
	}
	r = get_string(root, "name", &b->name, err, err_len);
	if (r == 0)
		r = get_string(root, "version", &b->version, err, err_len);
	if (r == 0)
		r = load_subsets(root, b, err, err_len);
	if (r < 0)
		return r;
	v = cJSON_GetObjectItemCaseSensitive(root, "rul_cap");
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1e6)) {
		snprintf(err, err_len, "rul_cap: expected a positive number");
		return -EINVAL;
	}
	b->rul_cap = v->valuedouble;
	r = feature_spec_from_json(cJSON_GetObjectItemCaseSensitive(root, "features"), &b->features,
				   why, sizeof(why));
	if (r < 0) {
		snprintf(err, err_len, "%s", why);
		return r;
	}
	r = load_drift(root, b, err, err_len);
	if (r == 0)
		r = load_holdout(root, b, err, err_len);
	if (r == 0)
		r = load_model_path(root, b, err, err_len);
	if (r < 0)
		return r;
	v = cJSON_GetObjectItemCaseSensitive(root, "evaluation");
	if (v != NULL && !cJSON_IsNull(v)) {
		b->evaluation = cJSON_Duplicate(v, 1);
		if (b->evaluation == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
bundle_load(const char *dir, struct bundle **out, char *err, size_t err_len)
{
	struct bundle *b;
	cJSON *root = NULL;
	char *path = NULL, *text = NULL, why[512];
	int r;

	*out = NULL;
	if (asprintf(&path, "%s/%s", dir, BUNDLE_FILE) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->dir = strdup(dir)) == NULL) {
		snprintf(err, err_len, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = read_text(path, &text, err, err_len);
	if (r < 0)
		goto out;
	root = cJSON_Parse(text);
	if (root == NULL || !cJSON_IsObject(root)) {
		const char *at = cJSON_GetErrorPtr();
		size_t line = 1;

		for (const char *p = text; at != NULL && p < at && *p; p++)
			line += *p == '\n';
		snprintf(err, err_len, "%s:%zu: invalid JSON (expected an object)", path, line);
		r = -EINVAL;
		goto out;
	}
	why[0] = '\0';
	r = load_root(root, b, why, sizeof(why));
	if (r < 0) {
		snprintf(err, err_len, "%s: %s", path, why[0] ? why : strerror(-r));
		goto out;
	}
	*out = b;
	b = NULL;
out:
	bundle_free(b);
	cJSON_Delete(root);
	free(text);
	free(path);
	return r;
}

static cJSON *
drift_json(const struct drift_feature_ref *ref)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", ref->name);
	cJSON_AddStringToObject(o, "kind", kind_names[ref->kind]);
	cJSON_AddItemToObject(o, "edges",
			      cJSON_CreateDoubleArray(ref->edges, (int)(ref->bin_count - 1)));
	cJSON_AddItemToObject(o, "expected",
			      cJSON_CreateDoubleArray(ref->expected, (int)ref->bin_count));
	return o;
}

static cJSON *
bundle_json(const struct bundle *b)
{
	cJSON *root = cJSON_CreateObject(), *subsets, *drift, *h, *units;
	const char *model = strrchr(b->model_path ? b->model_path : "", '/');
	size_t i;

	if (root == NULL)
		return NULL;
	cJSON_AddNumberToObject(root, "format", BUNDLE_FORMAT);
	cJSON_AddStringToObject(root, "name", b->name);
	cJSON_AddStringToObject(root, "version", b->version);
	subsets = cJSON_AddArrayToObject(root, "subsets");
	for (i = 0; i < b->subset_count; i++)
		cJSON_AddItemToArray(subsets, cJSON_CreateString(b->subsets[i]));
	cJSON_AddStringToObject(root, "model",
				model ? model + 1 : (b->model_path ? b->model_path : BUNDLE_MODEL_FILE));
	cJSON_AddNumberToObject(root, "rul_cap", b->rul_cap);
	cJSON_AddItemToObject(root, "features", feature_spec_to_json(b->features));
	drift = cJSON_AddArrayToObject(root, "drift");
	for (i = 0; i < CMAPSS_N_INPUTS; i++)
		cJSON_AddItemToArray(drift, drift_json(&b->drift[i]));
	if (b->holdout_subset != NULL) {
		h = cJSON_AddObjectToObject(root, "holdout");
		cJSON_AddStringToObject(h, "subset", b->holdout_subset);
		units = cJSON_AddArrayToObject(h, "units");
		for (i = 0; i < b->holdout_count; i++)
			cJSON_AddItemToArray(units, cJSON_CreateNumber((double)b->holdout_units[i]));
	}
	if (b->evaluation != NULL)
		cJSON_AddItemToObject(root, "evaluation", cJSON_Duplicate(b->evaluation, 1));
	return root;
}

int
bundle_save(const struct bundle *b, const char *dir, char *err, size_t err_len)
{
	cJSON *root;
	char *text = NULL, *path = NULL, *tmp = NULL;
	FILE *f = NULL;
	int r = 0;

	if (b->features == NULL || b->name == NULL || b->version == NULL) {
		snprintf(err, err_len, "bundle: name, version and features are required");
		return -EINVAL;
	}
	root = bundle_json(b);
	if (root != NULL)
		text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL || asprintf(&path, "%s/%s", dir, BUNDLE_FILE) < 0 ||
	    asprintf(&tmp, "%s/.%s.tmp", dir, BUNDLE_FILE) < 0) {
		free(text);
		snprintf(err, err_len, "bundle: out of memory");
		return -ENOMEM;
	}
	/* Written beside, then renamed: a reader never sees half a bundle.json. */
	f = fopen(tmp, "w");
	if (f == NULL || fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) < 0) {
		r = errno ? -errno : -EIO;
		snprintf(err, err_len, "cannot write '%s': %s", tmp, strerror(-r));
	}
	if (f != NULL && fclose(f) != 0 && r == 0) {
		r = -errno;
		snprintf(err, err_len, "cannot write '%s': %s", tmp, strerror(-r));
	}
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot rename '%s' to '%s': %s", tmp, path, strerror(-r));
	}
	if (r < 0)
		unlink(tmp);
	free(text);
	free(path);
	free(tmp);
	return r;
}
