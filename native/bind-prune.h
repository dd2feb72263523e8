/* bind-prune.h — a read-only bind's tree cloned without the submounts a later op of the plan
 * covers (the host's /proc, /dev and /sys under `ro: /`, which the view mounts over with a fresh
 * proc, a private /dev and its own /sys). The kernel copies every submount of a recursive clone
 * and frees each again when the sandbox ends; a covered one is never seen, so it is not copied.
 * Launcher side only (view_send_idmapped): in the sandbox's own namespace the host's mounts are
 * locked together and a tree cannot be split. */
#ifndef CORDON_BIND_PRUNE_H
#define CORDON_BIND_PRUNE_H

#include "plan.h"

#include <stddef.h>

/* Whether an optional bind's source is there, and stays open for its bind (the caller's source
 * cache): only then does that bind cover what lies under its destination. */
typedef int (*prune_source_fn)(void *ctx, const char *path);

/* A detached clone of the host tree at `from` (an O_PATH fd on op i's source, a directory) with
 * its attributes not yet set and its propagation private, holding every submount a recursive
 * clone would, but those that later ops cover; `root` is the host root (O_PATH). Returns -1 with
 * nothing left open when pruning would save nothing or cannot be done on this kernel or tree:
 * the caller clones the whole tree as before. Does not take ownership of from or root. */
int prune_clone(const struct plan *p, size_t i, int from, int root, prune_source_fn exists,
		void *ctx);

#endif
