/* SPDX-License-Identifier: MIT */
/* drift_ref.c - the drift reference: a bundle's bins, checked and flattened, with bin labels. */
#include "drift.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIFT_MAX_BINS 4096

/* Why the reference of input f cannot be used, or NULL when it can. */
static const char *
drift_ref_invalid(const struct drift_feature_ref *fr, size_t f)
{
	double sum = 0;
	size_t i;

	if (strcmp(fr->name, cmapss_input_name(f)) != 0)
		return "drift entry names another input";
	if (fr->bin_count == 0 || fr->expected == NULL)
		return "no drift reference";
	if (fr->bin_count > DRIFT_MAX_BINS)
		return "too many bins";
	if (fr->bin_count > 1 && fr->edges == NULL)
		return "no bin edges";
	for (i = 0; i + 1 < fr->bin_count; i++) {
		if (!isfinite(fr->edges[i]))
			return "bin edge not finite";
		if (i > 0 && !(fr->edges[i] > fr->edges[i - 1]))
			return "bin edges not strictly ascending";
	}
	for (i = 0; i < fr->bin_count; i++) {
		if (!(fr->expected[i] >= 0 && fr->expected[i] <= 1))
			return "expected proportion outside [0, 1]";
		sum += fr->expected[i];
	}
	if (fabs(sum - 1) > 1e-6)
		return "expected proportions do not sum to 1";
	return NULL;
}

/*
 * The shortest decimal that reads back as v, without an exponent when one is not needed
 * ("10", not "1e+01"): readable, and unique for distinct edges.
 */
static char *
drift_edge_label(double v)
{
	char buf[40];
	int p, pass;

	if (v == 0)
		v = fabs(v); /* label -0 as "0" */
	for (pass = 0; pass < 2; pass++) {
		for (p = 1; p <= 17; p++) {
			snprintf(buf, sizeof(buf), "%.*g", p, v);
			if (strtod(buf, NULL) == v && (pass == 1 || strchr(buf, 'e') == NULL))
				return strdup(buf);
		}
	}
	return strdup(buf);
}

static int
drift_ref_labels(struct drift_ref *ref)
{
	size_t f, b, k = 0;

	ref->bin_label = calloc(ref->total_bins, sizeof(*ref->bin_label));
	if (ref->bin_label == NULL)
		return -ENOMEM;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const struct drift_feature_ref *fr = &ref->bundle->drift[f];

		for (b = 0; b < fr->bin_count; b++, k++) {
			if (b + 1 == fr->bin_count)
				ref->bin_label[k] = strdup("+Inf");
			else
				ref->bin_label[k] = drift_edge_label(fr->edges[b]);
			if (ref->bin_label[k] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Edges padded with +Inf: as many as a power of two above every input's edge count. */
static int
drift_ref_search(struct drift_ref *ref)
{
	size_t f, j, len = 2;

	for (f = 0; f < CMAPSS_N_INPUTS; f++)
		while (len < ref->bundle->drift[f].bin_count) /* edges + 1 padding */
			len *= 2;
	ref->search = malloc(CMAPSS_N_INPUTS * len * sizeof(*ref->search));
	if (ref->search == NULL)
		return -ENOMEM;
	ref->search_len = len;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const struct drift_feature_ref *fr = &ref->bundle->drift[f];

		for (j = 0; j < len; j++)
			ref->search[f * len + j] = j + 1 < fr->bin_count ? fr->edges[j] : INFINITY;
	}
	return 0;
}

int
drift_ref_load(struct drift_ref *out, const char *dir, char *err, size_t err_len)
{
	size_t f;
	int r;

	memset(out, 0, sizeof(*out));
	r = bundle_load(dir, &out->bundle, err, err_len);
	if (r < 0)
		return r;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const char *why = drift_ref_invalid(&out->bundle->drift[f], f);

		if (why != NULL) {
			snprintf(err, err_len, "bundle '%s': input %zu ('%s'): %s", dir, f,
				 cmapss_input_name(f), why);
			r = -EINVAL;
			goto out_release;
		}
		out->offset[f] = out->total_bins;
		out->total_bins += out->bundle->drift[f].bin_count;
	}
	r = drift_ref_labels(out);
	if (r == 0)
		r = drift_ref_search(out);
	if (r < 0) {
		snprintf(err, err_len, "out of memory");
		goto out_release;
	}
	return 0;
out_release:
	drift_ref_release(out);
	return r;
}

/* "FD001,FD003": a bundle's training subsets, for messages. */
static void
drift_subsets(const struct bundle *b, char *out, size_t len)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < b->subset_count && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "",
					 b->subsets[i]);
}

/*
 * A model bundle other than the reference is comparable when it takes the same inputs under
 * the same names: the reference's bins are then about the values the model sees. When it was
 * trained on other subsets, note says so (PSI then measures drift from the reference's data,
 * not from the model's); else note is empty.
 */
int
drift_ref_check_model(const struct drift_ref *ref, const char *dir, char *note, size_t note_len,
		      char *err, size_t err_len)
{
	char mine[64], theirs[64];
	struct bundle *b = NULL;
	size_t f;
	int r;

	note[0] = '\0';
	if (strcmp(dir, ref->bundle->dir) == 0)
		return 0;
	r = bundle_load(dir, &b, err, err_len);
	if (r < 0)
		return r;
	for (f = 0; f < CMAPSS_N_INPUTS; f++) {
		const char *name = b->drift[f].name;

		if (name[0] != '\0' && strcmp(name, ref->bundle->drift[f].name) != 0) {
			snprintf(err, err_len,
				 "model bundle '%s' input %zu is '%s', the reference '%s' has '%s'",
				 dir, f, name, ref->bundle->dir, ref->bundle->drift[f].name);
			r = -EINVAL;
			break;
		}
	}
	drift_subsets(ref->bundle, mine, sizeof(mine));
	drift_subsets(b, theirs, sizeof(theirs));
	if (r == 0 && strcmp(mine, theirs) != 0)
		snprintf(note, note_len, "the reference was trained on %s, the model on %s", mine,
			 theirs);
	bundle_free(b);
	return r;
}

void
drift_ref_release(struct drift_ref *ref)
{
	size_t i;

	if (ref->bin_label != NULL) {
		for (i = 0; i < ref->total_bins; i++)
			free(ref->bin_label[i]);
		free(ref->bin_label);
	}
	free(ref->search);
	bundle_free(ref->bundle);
	memset(ref, 0, sizeof(*ref));
}
