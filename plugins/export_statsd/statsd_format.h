/* SPDX-License-Identifier: MIT */
/* statsd_format.h - turn metric walks into statsd lines (deltas) packed into datagrams. */
#ifndef STATSD_FORMAT_H
#define STATSD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rulsrv/plugin.h>

#define STATSD_LINE_MAX 2048

/* Called with each full datagram (len <= max_packet, lines separated by '\n'). */
typedef void (*statsd_send_fn)(void *ud, const char *data, size_t len);

struct statsd_prev; /* last value sent of one series */

/*
 * What has been sent of every counter and histogram, keyed by the series itself (family name
 * and label values, not the rendered statsd name): deltas are taken against it. Several
 * formatters may share one in turn (the caller serialises the walks), so that a successor
 * continues exactly where its predecessor stopped.
 */
struct statsd_memory {
	struct statsd_prev **slots;
	size_t slot_count;
	size_t count;
};

struct statsd_format {
	/* configuration */
	char *prefix;      /* "" for none; no trailing dot */
	char *service;     /* NULL: not named in the output */
	bool tags;         /* DogStatsD |#k:v tags instead of values folded into the name */
	size_t max_packet; /* bytes per datagram */
	statsd_send_fn send;
	void *send_ud;

	/* state of the walk */
	bool baseline;              /* this walk only records values, it sends nothing */
	struct statsd_memory *mem; /* borrowed: set by the caller before every walk */
	const struct rulsrv_family_info *family;
	char *packet;
	size_t packet_len;

	/* totals, for tests and logs */
	uint64_t lines;
	uint64_t datagrams;
	uint64_t dropped; /* lines longer than max_packet */
};

/* Free every entry of m (not m itself); m may be half-built or empty. */
void statsd_memory_clear(struct statsd_memory *m);

/* Set up f; prefix/service are copied; f->mem must be set before a walk. 0 or -ENOMEM. */
int statsd_format_init(struct statsd_format *f, const char *prefix, const char *service,
		       bool tags, size_t max_packet, statsd_send_fn send, void *send_ud);
void statsd_format_fini(struct statsd_format *f);
/* The rulsrv_sample_fn of a walk; ud is f. Call statsd_format_flush after the walk. */
int statsd_format_sample(void *ud, const struct rulsrv_family_info *family,
			 const struct rulsrv_sample *sample);
/* Send what is left in the current datagram. */
void statsd_format_flush(struct statsd_format *f);

/* Key-safe copy of s into out ([A-Za-z0-9_-], others become '_'); returns the length. */
size_t statsd_sanitize(char *out, size_t size, const char *s, bool tag_value);

#endif
