/* SPDX-License-Identifier: MIT */
/* statsd_format.c - turn metric walks into statsd lines (deltas) packed into datagrams. */
#include "statsd_format.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv1a.h"

/* The previous value of one series, keyed by its rendered name and tags. */
struct statsd_prev {
	struct statsd_prev *next;
	uint64_t hash;
	double value;   /* counters: the total; histograms: the sum */
	uint64_t count; /* histograms */
	char key[];
};

static int
statsd_prev_grow(struct statsd_memory *m)
{
	size_t n = m->slot_count == 0 ? 64 : m->slot_count * 2, i;
	struct statsd_prev **slots, *p, *next;

	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	for (i = 0; i < m->slot_count; i++) {
		for (p = m->slots[i]; p != NULL; p = next) {
			next = p->next;
			p->next = slots[p->hash & (n - 1)];
			slots[p->hash & (n - 1)] = p;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->slot_count = n;
	return 0;
}

/* The entry for key, created with zero values (a new series starts from zero). */
static struct statsd_prev *
statsd_prev_get(struct statsd_memory *m, const char *key)
{
	uint64_t h = fnv1a64(key, strlen(key));
	struct statsd_prev *p;
	size_t len;

	if (m->slot_count > 0) {
		for (p = m->slots[h & (m->slot_count - 1)]; p != NULL; p = p->next)
			if (p->hash == h && strcmp(p->key, key) == 0)
				return p;
	}
	if (m->count >= m->slot_count && statsd_prev_grow(m) < 0)
		return NULL;
	len = strlen(key);
	p = calloc(1, sizeof(*p) + len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p->key, key, len + 1);
	p->hash = h;
	p->next = m->slots[h & (m->slot_count - 1)];
	m->slots[h & (m->slot_count - 1)] = p;
	m->count++;
	return p;
}

void
statsd_memory_clear(struct statsd_memory *m)
{
	struct statsd_prev *p, *next;
	size_t i;

	for (i = 0; i < m->slot_count; i++) {
		for (p = m->slots[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/*
 * The identity of a series in the memory: its family name and label values, each after a
 * 0x1f. Settings that change the rendered name (prefix, tags) do not restart the deltas.
 */
static int
statsd_series_id(char *out, size_t size, const struct rulsrv_family_info *fam,
		 const struct rulsrv_sample *s)
{
	size_t n = (size_t)snprintf(out, size, "%s", fam->name), i;

	for (i = 0; i < fam->label_count && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "\x1f%s", s->label_values[i]);
	return n < size ? 0 : -ENAMETOOLONG;
}

size_t
statsd_sanitize(char *out, size_t size, const char *s, bool tag_value)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	for (; *s != '\0' && n + 1 < size; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || (tag_value && (c == '.' || c == '/'));

		out[n++] = ok ? c : '_';
	}
	if (n == 0 && size > 1)
		out[n++] = '_'; /* an empty label value still takes a name component */
	out[n] = '\0';
	return n;
}

/* Integral values print as integers, others as the shortest %g that reads back exactly. */
static void
statsd_number(char *buf, size_t size, double v)
{
	int prec;

	if (fabs(v) < 1e15 && v == floor(v)) {
		snprintf(buf, size, "%.0f", v == 0 ? 0.0 : v);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, size, "%.17g", v);
}

/*
 * The sample rate that makes statsd count n events: 1/r must give back n exactly in doubles
 * (statsd adds 1/rate per line), which 1.0/n alone misses for about one n in ten. Written
 * in plain decimals: Etsy statsd reads the rate with /^@([\d.]+)/, so "1e-05" would be 1.
 */
static void
statsd_rate(char *buf, size_t size, uint64_t n)
{
	double r = 1.0 / (double)n, cand[3];
	size_t i;

	cand[0] = r;
	cand[1] = nextafter(r, 0);
	cand[2] = nextafter(r, 1);
	for (i = 0; i < 3; i++) {
		if (1.0 / cand[i] == (double)n) {
			r = cand[i];
			break;
		}
	}
	for (int prec = 1; prec <= 40; prec++) {
		snprintf(buf, size, "%.*f", prec, r);
		if (strtod(buf, NULL) == r)
			return;
	}
}

static void
statsd_send_packet(struct statsd_format *f)
{
	if (f->packet_len == 0)
		return;
	f->send(f->send_ud, f->packet, f->packet_len);
	f->datagrams++;
	f->packet_len = 0;
}

/* Lines never straddle datagrams; a line that cannot fit in one is dropped and counted. */
static void
statsd_emit(struct statsd_format *f, const char *line, size_t len)
{
	if (len > f->max_packet) {
		f->dropped++;
		return;
	}
	if (f->packet_len > 0 && f->packet_len + 1 + len > f->max_packet)
		statsd_send_packet(f);
	if (f->packet_len > 0)
		f->packet[f->packet_len++] = '\n';
	memcpy(f->packet + f->packet_len, line, len);
	f->packet_len += len;
	f->lines++;
}

/*
 * name: [prefix.][service.]metric[suffix][.value...] (values folded in unless tags are on);
 * tags: |#[service:NAME,]label:value,... A *_seconds histogram becomes *_ms (statsd timers
 * are milliseconds).
 */
static int
statsd_key(struct statsd_format *f, const struct rulsrv_sample *s, const char *suffix,
	   char *name, size_t nsize, char *tags, size_t tsize)
{
	const struct rulsrv_family_info *fam = f->family;
	size_t n = 0, t = 0, mlen = strlen(fam->name), i;
	bool ms = fam->type == RULSRV_METRIC_HISTOGRAM && mlen > 8 &&
		  strcmp(fam->name + mlen - 8, "_seconds") == 0;
	char part[256];

	tags[0] = '\0';
	if (f->prefix[0] != '\0')
		n += (size_t)snprintf(name + n, nsize - n, "%s.", f->prefix);
	if (f->service != NULL && !f->tags && n < nsize)
		n += (size_t)snprintf(name + n, nsize - n, "%s.", f->service);
	if (n < nsize)
		n += (size_t)snprintf(name + n, nsize - n, "%.*s%s%s", (int)(ms ? mlen - 8 : mlen),
				      fam->name, ms ? "_ms" : "", suffix);
	if (f->tags) {
		if (f->service != NULL) {
			statsd_sanitize(part, sizeof(part), f->service, true);
			t += (size_t)snprintf(tags + t, tsize - t, "|#service:%s", part);
		}
		for (i = 0; i < fam->label_count && t < tsize; i++) {
			statsd_sanitize(part, sizeof(part), s->label_values[i], true);
			t += (size_t)snprintf(tags + t, tsize - t, "%s%s:%s", t == 0 ? "|#" : ",",
					      fam->label_names[i], part);
		}
	} else {
		for (i = 0; i < fam->label_count && n < nsize; i++) {
			statsd_sanitize(part, sizeof(part), s->label_values[i], false);
			n += (size_t)snprintf(name + n, nsize - n, ".%s", part);
		}
	}
	return n < nsize && t < tsize ? 0 : -ENAMETOOLONG;
}

/* The delta of a counter since the last walk; a reset (restart of the series) sends it all. */
static void
statsd_counter(struct statsd_format *f, struct statsd_prev *p, const char *name,
	       const char *tags, double v)
{
	char line[STATSD_LINE_MAX], num[40];
	double delta = v >= p->value ? v - p->value : v;
	int n;

	p->value = v;
	if (f->baseline || delta == 0 || !isfinite(delta))
		return;
	statsd_number(num, sizeof(num), delta);
	n = snprintf(line, sizeof(line), "%s:%s|c%s", name, num, tags);
	if (n > 0 && (size_t)n < sizeof(line))
		statsd_emit(f, line, (size_t)n);
}

/* statsd reads a signed gauge as a change, so a negative value is set from zero first. */
static void
statsd_gauge(struct statsd_format *f, const char *name, const char *tags, double v)
{
	char line[STATSD_LINE_MAX], num[40];
	int n;

	if (f->baseline || !isfinite(v))
		return;
	statsd_number(num, sizeof(num), v);
	if (v < 0)
		n = snprintf(line, sizeof(line), "%s:0|g%s\n%s:%s|g%s", name, tags, name, num, tags);
	else
		n = snprintf(line, sizeof(line), "%s:%s|g%s", name, num, tags);
	if (n > 0 && (size_t)n < sizeof(line))
		statsd_emit(f, line, (size_t)n);
}

/*
 * Only bucket counts, a sum and a count exist, not the observations: the interval's mean
 * (sum delta / count delta) is sent as one timer line with sample rate 1/count, so statsd
 * counts every observation and its mean is exact (upper/lower/percentiles are the mean).
 * statsd refuses negative timings, so a histogram with negative buckets (residuals) is sent
 * as NAME_count (|c, the new observations) and NAME_mean (|g, their mean) instead.
 */
static void
statsd_histogram(struct statsd_format *f, struct statsd_prev *p, const char *name,
		 const char *tags, const struct rulsrv_sample *s)
{
	const struct rulsrv_family_info *fam = f->family;
	char line[STATSD_LINE_MAX], num[40], rate[64];
	char key[STATSD_LINE_MAX / 2], ktags[STATSD_LINE_MAX / 2];
	uint64_t dn = s->count >= p->count ? s->count - p->count : s->count;
	double ds = s->count >= p->count ? s->sum - p->value : s->sum;
	size_t mlen = strlen(fam->name);
	double mean;
	int n;

	p->count = s->count;
	p->value = s->sum;
	if (f->baseline || dn == 0)
		return;
	mean = ds / (double)dn;
	if (!isfinite(mean))
		return;
	if (fam->bucket_count > 0 && fam->bounds[0] < 0) {
		if (statsd_key(f, s, "_count", key, sizeof(key), ktags, sizeof(ktags)) < 0) {
			f->dropped++;
			return;
		}
		n = snprintf(line, sizeof(line), "%s:%llu|c%s", key, (unsigned long long)dn, ktags);
		if (n > 0 && (size_t)n < sizeof(line))
			statsd_emit(f, line, (size_t)n);
		if (statsd_key(f, s, "_mean", key, sizeof(key), ktags, sizeof(ktags)) < 0) {
			f->dropped++;
			return;
		}
		statsd_gauge(f, key, ktags, mean);
		return;
	}
	if (mlen > 8 && strcmp(fam->name + mlen - 8, "_seconds") == 0)
		mean *= 1000.0;
	statsd_number(num, sizeof(num), mean < 0 ? 0 : mean);
	if (dn == 1) {
		n = snprintf(line, sizeof(line), "%s:%s|ms%s", name, num, tags);
	} else {
		statsd_rate(rate, sizeof(rate), dn);
		n = snprintf(line, sizeof(line), "%s:%s|ms|@%s%s", name, num, rate, tags);
	}
	if (n > 0 && (size_t)n < sizeof(line))
		statsd_emit(f, line, (size_t)n);
}

int
statsd_format_sample(void *ud, const struct rulsrv_family_info *family,
		     const struct rulsrv_sample *sample)
{
	struct statsd_format *f = ud;
	char name[STATSD_LINE_MAX / 2], tags[STATSD_LINE_MAX / 2], key[STATSD_LINE_MAX];
	struct statsd_prev *p;

	if (sample == NULL) {
		f->family = family;
		return 0;
	}
	if (statsd_key(f, sample, "", name, sizeof(name), tags, sizeof(tags)) < 0) {
		f->dropped++;
		return 0;
	}
	if (family->type == RULSRV_METRIC_GAUGE) {
		statsd_gauge(f, name, tags, sample->value);
		return 0;
	}
	if (statsd_series_id(key, sizeof(key), family, sample) < 0) {
		f->dropped++;
		return 0;
	}
	p = statsd_prev_get(f->mem, key);
	if (p == NULL)
		return -ENOMEM;
	if (family->type == RULSRV_METRIC_COUNTER)
		statsd_counter(f, p, name, tags, sample->value);
	else
		statsd_histogram(f, p, name, tags, sample);
	return 0;
}

void
statsd_format_flush(struct statsd_format *f)
{
	statsd_send_packet(f);
}

int
statsd_format_init(struct statsd_format *f, const char *prefix, const char *service, bool tags,
		   size_t max_packet, statsd_send_fn send, void *send_ud)
{
	memset(f, 0, sizeof(*f));
	f->prefix = strdup(prefix != NULL ? prefix : "");
	f->service = service != NULL ? strdup(service) : NULL;
	f->packet = malloc(max_packet + 1);
	f->tags = tags;
	f->max_packet = max_packet;
	f->send = send;
	f->send_ud = send_ud;
	if (f->prefix == NULL || (service != NULL && f->service == NULL) || f->packet == NULL) {
		statsd_format_fini(f);
		return -ENOMEM;
	}
	return 0;
}

void
statsd_format_fini(struct statsd_format *f)
{
	free(f->packet);
	free(f->prefix);
	free(f->service);
	memset(f, 0, sizeof(*f));
}
