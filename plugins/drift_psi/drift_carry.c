/* SPDX-License-Identifier: MIT */
/* drift_carry.c - the window index and label a reload carries to the next instance. */
#include "drift.h"

#include <stdio.h>
#include <string.h>

/*
 * A reload builds a new instance beside the old one. The new one opens the next window under
 * the label the old one had, so that a reload mid-quarter keeps the quarter's label. Keyed by
 * "service/instance"; kept while the plugin stays loaded. Only an instance that serves (saw a
 * request) writes here: one whose start failed must not disturb its predecessor's state.
 */
#define DRIFT_CARRY_MAX 16

struct drift_carry {
	char key[160];
	uint64_t index;
	char label[DRIFT_LABEL_MAX];
};

static pthread_mutex_t drift_carry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct drift_carry drift_carry[DRIFT_CARRY_MAX];
static size_t drift_carry_count;

static struct drift_carry *
drift_carry_get_locked(const char *key, bool create)
{
	size_t i;

	for (i = 0; i < drift_carry_count; i++)
		if (strcmp(drift_carry[i].key, key) == 0)
			return &drift_carry[i];
	if (!create || drift_carry_count == DRIFT_CARRY_MAX)
		return NULL;
	snprintf(drift_carry[i].key, sizeof(drift_carry[i].key), "%s", key);
	drift_carry_count++;
	return &drift_carry[i];
}

bool
drift_carry_find(const char *key, uint64_t *index, char *label)
{
	struct drift_carry *c;

	pthread_mutex_lock(&drift_carry_lock);
	c = drift_carry_get_locked(key, false);
	if (c != NULL) {
		*index = c->index;
		memcpy(label, c->label, DRIFT_LABEL_MAX);
	}
	pthread_mutex_unlock(&drift_carry_lock);
	return c != NULL;
}

void
drift_carry_store(const struct drift *d)
{
	struct drift_carry *c;

	pthread_mutex_lock(&drift_carry_lock);
	c = drift_carry_get_locked(d->carry_key, true);
	if (c != NULL) {
		c->index = d->index;
		memcpy(c->label, d->label, DRIFT_LABEL_MAX);
	}
	pthread_mutex_unlock(&drift_carry_lock);
}
