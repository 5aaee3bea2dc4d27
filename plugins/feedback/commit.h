/* SPDX-License-Identifier: MIT */
/* commit.h - group commit: request threads wait while one writer commits all that is queued. */
#ifndef FB_COMMIT_H
#define FB_COMMIT_H

#include <stddef.h>

#include "store.h"

struct fb_committer;

/*
 * Called on the writer thread after a transaction returned and before any of its submitters
 * wakes up, with every group of it (status set; scored filled for the ones that succeeded).
 * The hook updates what an acknowledged client may look at next (metrics, windows).
 */
typedef void (*fb_committed_fn)(void *ud, struct fb_group *const *groups, size_t n,
				double seconds);

/* Start the writer thread. Borrows ops and store, which must outlive the committer.
 * max_group bounds the requests one transaction takes (0: no bound). */
int fb_committer_new(const struct fb_store_ops *ops, struct fb_store *store, size_t max_group,
		     fb_committed_fn hook, void *ud, struct fb_committer **out);
/*
 * Queue the group and wait until the transaction holding it returned. Returns g->status:
 * 0 when the group is durably stored, a negative errno otherwise (nothing of it stored).
 * g->scored then belongs to the caller.
 */
int fb_committer_submit(struct fb_committer *c, struct fb_group *g);
/* Commit what is still queued, stop the writer, free. Accepts NULL. */
void fb_committer_free(struct fb_committer *c);

#endif
