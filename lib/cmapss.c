/* SPDX-License-Identifier: MIT */
/* cmapss.c - read C-MAPSS rows (plain or gzip files, or text in memory) into a table. */
#include "cmapss.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "number.h"

#define CMAPSS_COLUMNS (2 + CMAPSS_N_INPUTS)
#define CMAPSS_MAX_FILE (512u * 1024 * 1024)

static const char *const input_names[CMAPSS_N_INPUTS] = {
	"setting1", "setting2", "setting3", "s1",  "s2",  "s3",  "s4",  "s5",
	"s6",       "s7",       "s8",       "s9",  "s10", "s11", "s12", "s13",
	"s14",      "s15",      "s16",      "s17", "s18", "s19", "s20", "s21",
};

const char *
cmapss_input_name(size_t i)
{
	return i < CMAPSS_N_INPUTS ? input_names[i] : NULL;
}

/* Read a whole file through zlib, which passes plain files through unchanged. */
static int
read_all(const char *path, char **out, size_t *len, char *err, size_t err_len)
{
	gzFile f;
	char *buf = NULL, *nbuf;
	size_t cap = 0, used = 0;
	int n, r = 0;

	f = gzopen(path, "rb");
	if (f == NULL) {
		r = errno ? -errno : -ENOMEM;
		snprintf(err, err_len, "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	for (;;) {
		if (cap - used < 65536) {
			if (cap >= CMAPSS_MAX_FILE) {
				snprintf(err, err_len, "%s: file larger than %u bytes", path,
					 CMAPSS_MAX_FILE);
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 1u << 20;
			nbuf = realloc(buf, cap + 1);
			if (nbuf == NULL) {
				r = -ENOMEM;
				snprintf(err, err_len, "%s: out of memory", path);
				goto out;
			}
			buf = nbuf;
		}
		n = gzread(f, buf + used, (unsigned)(cap - used));
		if (n < 0) {
			int zerr;
			snprintf(err, err_len, "%s: read error: %s", path, gzerror(f, &zerr));
			r = -EIO;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	gzclose(f);
	return r;
}

static int
table_grow(struct cmapss_table *t, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	int64_t *u, *c;
	double *v;

	u = realloc(t->unit, ncap * sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	t->unit = u;
	c = realloc(t->cycle, ncap * sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	t->cycle = c;
	v = realloc(t->values, ncap * CMAPSS_N_INPUTS * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	t->values = v;
	*cap = ncap;
	return 0;
}

/* Copy a token for an error message, shortened so the message stays readable. */
static void
token_copy(char *dst, size_t dst_len, const char *s, size_t n)
{
	if (n > dst_len - 4) {
		memcpy(dst, s, dst_len - 4);
		memcpy(dst + dst_len - 4, "...", 4);
		return;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * The number a whole token of n (< 64) bytes spells, exactly as strtod reads it. The files
 * hold plain decimals, which number_parse converts to the same double several times
 * faster; anything else it does not take whole (a leading '+' or '.', "007", hex, "inf")
 * still goes to strtod through a NUL-terminated copy in num.
 */
static bool
token_number(const char *s, size_t n, char num[64], double *v)
{
	char *stop;

	if (number_parse(s, s + n, v) == n)
		return true;
	memcpy(num, s, n);
	num[n] = '\0';
	*v = strtod(num, &stop);
	return stop != num && *stop == '\0';
}

/* "column COL: [WHAT ]'TOKEN' REASON" into err, the token shortened; returns -EINVAL. */
static int
token_error(char *err, size_t err_len, int col, const char *what, const char *s, size_t n,
	    const char *reason)
{
	char tok[40];

	token_copy(tok, sizeof(tok), s, n);
	snprintf(err, err_len, "column %d: %s%s'%s' %s", col, what, *what != '\0' ? " " : "", tok,
		 reason);
	return -EINVAL;
}

/*
 * Parse one line [s, end) into vals. Returns 0, 1 for a blank line, or -EINVAL with the
 * reason written to err (the caller adds name and line).
 */
static int
parse_line(const char *s, const char *end, double *vals, char *err, size_t err_len)
{
	char num[64];
	int col = 0;

	for (;;) {
		const char *start;
		size_t n;
		double v;

		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s >= end)
			break;
		start = s;
		while (s < end && !isspace((unsigned char)*s))
			s++;
		n = (size_t)(s - start);
		col++;
		if (col > CMAPSS_COLUMNS) {
			snprintf(err, err_len, "column %d: too many columns (expected %d)", col,
				 CMAPSS_COLUMNS);
			return -EINVAL;
		}
		if (n >= sizeof(num) || !token_number(start, n, num, &v))
			return token_error(err, err_len, col, "", start, n, "is not a number");
		if (!isfinite(v))
			return token_error(err, err_len, col, "", start, n, "is not a finite number");
		if (col <= 2 && (v != floor(v) || v < 0 || v > 1e15))
			return token_error(err, err_len, col, col == 1 ? "unit" : "cycle", start, n,
					   "is not a non-negative integer");
		vals[col - 1] = v;
	}
	if (col == 0)
		return 1;
	if (col < CMAPSS_COLUMNS) {
		snprintf(err, err_len, "column %d: missing (expected %d columns, got %d)", col + 1,
			 CMAPSS_COLUMNS, col);
		return -EINVAL;
	}
	return 0;
}

int
cmapss_parse(const char *text, size_t len, const char *name, struct cmapss_table *out,
	     char *err, size_t err_len)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, line = 0;
	double vals[CMAPSS_COLUMNS];
	char why[160];
	int r;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		line++;
		r = parse_line(p, eol, vals, why, sizeof(why));
		p = eol + 1;
		if (r == 1)
			continue;
		if (r < 0) {
			snprintf(err, err_len, "%s:%zu: %s", name, line, why);
			return r;
		}
		if (out->rows == cap && table_grow(out, &cap) < 0) {
			snprintf(err, err_len, "%s: out of memory", name);
			return -ENOMEM;
		}
		out->unit[out->rows] = (int64_t)vals[0];
		out->cycle[out->rows] = (int64_t)vals[1];
		memcpy(out->values + out->rows * CMAPSS_N_INPUTS, vals + 2,
		       CMAPSS_N_INPUTS * sizeof(double));
		out->rows++;
	}
	return 0;
}

int
cmapss_read(const char *path, struct cmapss_table *out, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = read_all(path, &text, &len, err, err_len);
	if (r < 0)
		return r;
	r = cmapss_parse(text, len, path, out, err, err_len);
	free(text);
	return r;
}

void
cmapss_table_free(struct cmapss_table *t)
{
	if (t == NULL)
		return;
	free(t->unit);
	free(t->cycle);
	free(t->values);
	memset(t, 0, sizeof(*t));
}

int
cmapss_read_rul(const char *path, double **rul, size_t *count, char *err, size_t err_len)
{
	char *text = NULL, *p, *end;
	double *v = NULL, *nv;
	size_t n = 0, cap = 0, line = 0, len = 0;
	int r;

	*rul = NULL;
	*count = 0;
	r = read_all(path, &text, &len, err, err_len);
	if (r < 0)
		return r;
	end = text + len;
	for (p = text; p < end;) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *stop;
		double x;

		if (eol == NULL)
			eol = end;
		*eol = '\0';
		line++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0') {
			p = eol + 1;
			continue;
		}
		x = strtod(p, &stop);
		while (isspace((unsigned char)*stop))
			stop++;
		if (stop == p || *stop != '\0' || !isfinite(x) || x < 0) {
			snprintf(err, err_len, "%s:%zu: column 1: '%.30s' is not a non-negative number",
				 path, line, p);
			r = -EINVAL;
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				r = -ENOMEM;
				snprintf(err, err_len, "%s: out of memory", path);
				goto fail;
			}
			v = nv;
		}
		v[n++] = x;
		p = eol + 1;
	}
	free(text);
	*rul = v;
	*count = n;
	return 0;
fail:
	free(text);
	free(v);
	return r;
}

static bool
dir_has_data(const char *dir)
{
	char path[4096];

	return cmapss_path(dir, "train_FD001.txt", path, sizeof(path)) == 0;
}

/*
 * The relative candidates are tried from the working directory and from each of its parents
 * (up to four levels), so that programs and tests run inside a build tree find the data of
 * the repository they were built from.
 */
int
cmapss_find_dir(char *out, size_t out_len)
{
	static const char *const rel[] = { "data/cmapss", "../shared/data/cmapss" };
	const char *env = getenv("CMAPSS_DIR");
	char base[4096], cand[4096 + 64];
	size_t i;
	int up;

	if (env != NULL && *env != '\0' && dir_has_data(env)) {
		snprintf(out, out_len, "%s", env);
		return 0;
	}
	if (getcwd(base, sizeof(base)) == NULL)
		return -ENOENT;
	for (up = 0; up <= 4; up++) {
		char *slash;

		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s/%s", base, rel[i]);
			if (dir_has_data(cand)) {
				snprintf(out, out_len, "%s", cand);
				return 0;
			}
		}
		slash = strrchr(base, '/');
		if (slash == NULL || slash == base)
			break;
		*slash = '\0';
	}
	return -ENOENT;
}

int
cmapss_path(const char *dir, const char *file, char *out, size_t out_len)
{
	struct stat st;
	int n;

	n = snprintf(out, out_len, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= out_len)
		return -ENAMETOOLONG;
	if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	n = snprintf(out, out_len, "%s/%s.gz", dir, file);
	if (n < 0 || (size_t)n >= out_len)
		return -ENAMETOOLONG;
	if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	return -ENOENT;
}
