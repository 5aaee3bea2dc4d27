/* SPDX-License-Identifier: MIT */
/* commit.h - group commit: one writer commits all that is queued, then hands every group back. */
#ifndef FB_COMMIT_H
#define FB_COMMIT_H

#include <stddef.h>

#include "store.h"

struct fb_committer;

/*
 * One request's records on their way through the committer. The submitter fills group (its
 * records must stay valid until the hook has the item back) and usually embeds the item as
 * the first member of a struct of its own, to find its request again in the hook.
 */
struct fb_commit_item {
	struct fb_group group;
	struct fb_commit_item *next; /* the committer's queue */
};

/*
 * Called on the writer thread with the items of one transaction once it returned (status
 * set; scored filled for the groups that succeeded) and seconds its duration; or with
 * seconds < 0 for items no transaction took (status -ENOMEM). Every submitted item comes
 * back exactly once, and is the hook's from then on: it updates what an acknowledged client
 * may look at next (metrics, windows), then answers the requests.
 */
typedef void (*fb_committed_fn)(void *ud, struct fb_commit_item *const *items, size_t n,
				double seconds);

/* Start the writer thread. Borrows ops and store, which must outlive the committer.
 * max_group bounds the requests one transaction takes (0: no bound). */
int fb_committer_new(const struct fb_store_ops *ops, struct fb_store *store, size_t max_group,
		     fb_committed_fn hook, void *ud, struct fb_committer **out);
/*
 * Queue the item and return without waiting: the hook gets it back on the writer thread,
 * possibly before this returns. 0, or -ESHUTDOWN when the committer is stopping (the item
 * then stays the caller's and never reaches the hook).
 */
int fb_committer_submit(struct fb_committer *c, struct fb_commit_item *it);
/* Commit what is still queued (the hook gets every item), stop the writer, free. Accepts
 * NULL. Not from the hook: the writer cannot join itself. */
void fb_committer_free(struct fb_committer *c);

#endif
