/* SPDX-License-Identifier: MIT */
/* prom_render.c - render a metric walk as Prometheus text exposition format 0.0.4. */
#include "prom_render.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define PROM_MIN_BUFFER 4096
/* Per line, beyond name and labels: suffix, braces, le="<=31 bytes", a value of <= 39 bytes. */
#define PROM_LINE_SLACK 96

static bool
prom_reserve(struct prom_render *r, size_t n)
{
	size_t cap;
	char *p;

	if (r->len + n <= r->cap)
		return true;
	cap = r->cap * 2;
	if (cap < r->len + n)
		cap = r->len + n;
	if (cap < PROM_MIN_BUFFER)
		cap = PROM_MIN_BUFFER;
	p = realloc(r->data, cap);
	if (p == NULL) {
		r->error = -ENOMEM;
		return false;
	}
	r->data = p;
	r->cap = cap;
	return true;
}

/* Callers reserve first; these only copy. */
static inline void
prom_put(struct prom_render *r, const char *s, size_t n)
{
	memcpy(r->data + r->len, s, n);
	r->len += n;
}

static inline void
prom_putc(struct prom_render *r, char c)
{
	r->data[r->len++] = c;
}

static size_t
prom_format_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

/*
 * Integral values below 2^53 print as integers (counters are mostly that, and "1e+06" is
 * noise in a scrape); other values take the shortest of %.15g/%.16g/%.17g that reads back
 * exactly, like Go's strconv.FormatFloat(v, 'g', -1, 64) that Prometheus clients use.
 */
size_t
prom_format_double(char *buf, size_t size, double v)
{
	int prec, n = 0;

	if (isnan(v))
		return (size_t)snprintf(buf, size, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	if (size >= 32 && fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
		if (v < 0) {
			buf[0] = '-';
			return 1 + prom_format_u64(buf + 1, (uint64_t)(-(int64_t)v));
		}
		return prom_format_u64(buf, (uint64_t)(int64_t)v);
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	return n < 0 ? 0 : (size_t)n;
}

/*
 * Label values escape \ " and newline; HELP escapes \ and newline (format 0.0.4). Prometheus
 * rejects a whole scrape over one invalid UTF-8 byte (a label value can come from a client,
 * e.g. a drift window label), so such bytes become U+FFFD. Room: 3 bytes per input byte.
 */
static void
prom_put_escaped(struct prom_render *r, const char *s, bool quote)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i, n;

	for (i = 0; i < len; i++) {
		if (u[i] >= 0x80) {
			n = utf8_seq_len(u + i, len - i);
			if (n == 0) {
				prom_put(r, "\xEF\xBF\xBD", 3);
			} else {
				prom_put(r, s + i, n);
				i += n - 1;
			}
			continue;
		}
		switch (s[i]) {
		case '\\':
			prom_put(r, "\\\\", 2);
			break;
		case '\n':
			prom_put(r, "\\n", 2);
			break;
		case '"':
			if (quote) {
				prom_put(r, "\\\"", 2);
				break;
			}
			/* fall through */
		default:
			prom_putc(r, s[i]);
		}
	}
}

static const char *
prom_type_name(enum rulsrv_metric_type t)
{
	switch (t) {
	case RULSRV_METRIC_COUNTER:
		return "counter";
	case RULSRV_METRIC_GAUGE:
		return "gauge";
	case RULSRV_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static int
prom_family_begin(struct prom_render *r, const struct rulsrv_family_info *f)
{
	size_t nlen = strlen(f->name), i;
	const char *type = prom_type_name(f->type);

	r->family = f;
	r->name_len = nlen;
	if (f->type == RULSRV_METRIC_HISTOGRAM && f->bucket_count + 1 > r->le_cap) {
		void *p = realloc(r->le, (f->bucket_count + 1) * sizeof(r->le[0]));

		if (p == NULL)
			return r->error = -ENOMEM;
		r->le = p;
		r->le_cap = f->bucket_count + 1;
	}
	if (f->type == RULSRV_METRIC_HISTOGRAM) {
		for (i = 0; i < f->bucket_count; i++)
			prom_format_double(r->le[i], sizeof(r->le[i]), f->bounds[i]);
		strcpy(r->le[f->bucket_count], "+Inf");
	}
	if (!prom_reserve(r, 2 * nlen + 3 * strlen(f->help) + strlen(type) + 24))
		return r->error;
	prom_put(r, "# HELP ", 7);
	prom_put(r, f->name, nlen);
	prom_putc(r, ' ');
	prom_put_escaped(r, f->help, false);
	prom_put(r, "\n# TYPE ", 8);
	prom_put(r, f->name, nlen);
	prom_putc(r, ' ');
	prom_put(r, type, strlen(type));
	prom_putc(r, '\n');
	return 0;
}

/* Room needed for the label pairs of one sample, escaped, with an extra le pair. */
static size_t
prom_labels_size(const struct rulsrv_family_info *f, const struct rulsrv_sample *s)
{
	size_t n = 16, i;

	for (i = 0; i < f->label_count; i++)
		n += strlen(f->label_names[i]) + 3 * strlen(s->label_values[i]) + 4;
	return n;
}

/* The label pairs of a sample, escaped, without braces: a="x",b="y". */
static void
prom_put_labels(struct prom_render *r, const struct rulsrv_sample *s)
{
	const struct rulsrv_family_info *f = r->family;
	size_t i;

	for (i = 0; i < f->label_count; i++) {
		if (i > 0)
			prom_putc(r, ',');
		prom_put(r, f->label_names[i], strlen(f->label_names[i]));
		prom_put(r, "=\"", 2);
		prom_put_escaped(r, s->label_values[i], true);
		prom_putc(r, '"');
	}
}

/*
 * name+suffix{labels[,le="..."]} value\n, where labels (already rendered, lab_len bytes at
 * offset lab in the output) is copied rather than escaped again: a histogram series has
 * bucket_count + 3 lines with the same labels. The caller reserved room for the line.
 */
static void
prom_put_line(struct prom_render *r, const char *suffix, size_t suffix_len, size_t lab,
	      size_t lab_len, const char *le, const char *value, size_t value_len)
{
	prom_put(r, r->family->name, r->name_len);
	prom_put(r, suffix, suffix_len);
	if (lab_len > 0 || le != NULL) {
		prom_putc(r, '{');
		memmove(r->data + r->len, r->data + lab, lab_len); /* the same bytes in line 1 */
		r->len += lab_len;
		if (le != NULL) {
			if (lab_len > 0)
				prom_putc(r, ',');
			prom_put(r, "le=\"", 4);
			prom_put(r, le, strlen(le));
			prom_putc(r, '"');
		}
		prom_putc(r, '}');
	}
	prom_putc(r, ' ');
	prom_put(r, value, value_len);
	prom_putc(r, '\n');
}

/*
 * Render the labels once, right after the first line's "name_bucket{", and copy them from
 * there into the other lines. One reservation covers the whole series, so the buffer does not
 * move while it is read from.
 */
static int
prom_histogram(struct prom_render *r, const struct rulsrv_sample *s, size_t line)
{
	const struct rulsrv_family_info *f = r->family;
	size_t i, n, lab, lab_len;
	char num[40];

	if (!prom_reserve(r, (f->bucket_count + 3) * (line + PROM_LINE_SLACK)))
		return r->error;
	prom_put(r, f->name, r->name_len);
	prom_put(r, "_bucket{", 8);
	lab = r->len;
	prom_put_labels(r, s);
	lab_len = r->len - lab;
	r->len = lab - 8 - r->name_len; /* the first line is written again, in full, below */
	for (i = 0; i <= f->bucket_count; i++) {
		n = prom_format_u64(num, s->buckets[i]);
		prom_put_line(r, "_bucket", 7, lab, lab_len, r->le[i], num, n);
	}
	n = prom_format_double(num, sizeof(num), s->sum);
	prom_put_line(r, "_sum", 4, lab, lab_len, NULL, num, n);
	n = prom_format_u64(num, s->count);
	prom_put_line(r, "_count", 6, lab, lab_len, NULL, num, n);
	return 0;
}

int
prom_render_sample(void *ud, const struct rulsrv_family_info *family,
		   const struct rulsrv_sample *sample)
{
	struct prom_render *r = ud;
	char num[40];
	size_t line, n;

	if (r->error < 0)
		return r->error;
	if (sample == NULL)
		return prom_family_begin(r, family);
	line = r->name_len + prom_labels_size(family, sample);
	if (family->type == RULSRV_METRIC_HISTOGRAM)
		return prom_histogram(r, sample, line);
	if (!prom_reserve(r, line + PROM_LINE_SLACK))
		return r->error;
	prom_put(r, family->name, r->name_len);
	if (family->label_count > 0) {
		prom_putc(r, '{');
		prom_put_labels(r, sample);
		prom_putc(r, '}');
	}
	prom_putc(r, ' ');
	n = prom_format_double(num, sizeof(num), sample->value);
	prom_put(r, num, n);
	prom_putc(r, '\n');
	return 0;
}

int
prom_render_begin(struct prom_render *r, size_t hint)
{
	r->len = 0;
	r->error = 0;
	r->family = NULL;
	if (!prom_reserve(r, hint + hint / 8))
		return r->error;
	return 0;
}

char *
prom_render_take(struct prom_render *r, size_t *len)
{
	char *p;

	if (!prom_reserve(r, 1))
		return NULL;
	r->data[r->len] = '\0';
	p = r->data;
	*len = r->len;
	r->data = NULL;
	r->len = 0;
	r->cap = 0;
	return p;
}

void
prom_render_free(struct prom_render *r)
{
	if (r == NULL)
		return;
	free(r->data);
	free(r->le);
	r->data = NULL;
	r->le = NULL;
	r->len = r->cap = r->le_cap = 0;
}
