/* view-plan.c — questions about a plan's view ops answered from the plan alone (no syscall):
 * which path an op acts on, and which binds the view can leave out. Both sides of the tree
 * socket (view.c) ask them, so they agree. */
#define _GNU_SOURCE
#include "view-plan.h"

#include <string.h>

/* a is b or lies below it (paths as the plan spells them). */
int view_path_within(const char *a, const char *b)
{
	size_t n = strlen(b);
	if (n == 1)
		return b[0] == '/'; /* b is "/" */
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* `/`-rooted, with no empty, `.` or `..` component and no trailing slash. */
int view_plain_path(const char *s)
{
	if (s[0] != '/')
		return 0;
	for (const char *c = s; s[1] && *c; c++) {
		const char *n = c + 1;
		if (*c == '/' &&
		    (*n == '\0' || *n == '/' || (n[0] == '.' && (n[1] == '/' || !n[1])) ||
		     (n[0] == '.' && n[1] == '.' && (n[2] == '/' || !n[2]))))
			return 0;
	}
	return 1;
}

/* The view path a phase-1 op acts on, and in *mounts whether it mounts there; NULL for one after
 * which the view is not known from the plan alone (a bind from the view, a hook). */
static const char *op_dest(const struct plan_op_rec *op, int *mounts)
{
	*mounts = 1;
	switch (op->code) {
	case OP_BIND:
		return op->a & BIND_VIEW ? NULL : op->s2;
	case OP_TMPFS:
	case OP_PROC:
	case OP_DEVPTS:
		return op->s1;
	case OP_FSMOUNT:
		return op->s2;
	case OP_SYMLINK:
		*mounts = 0;
		return op->s2;
	case OP_MKDIR:
	case OP_FILE:
	case OP_REMOUNT_RO:
	case OP_MKNOD:
		*mounts = 0;
		return op->s1;
	default:
		return NULL;
	}
}

/* An optional read-only bind that an earlier one already makes (`/sys`, optional, after `ro: /`):
 * the nearest earlier op reaching its place is a read-only bind with the same flags whose tree
 * holds the same host path there, which the kernel copied with it, submounts and all. Making it
 * again would stack an identical copy (13 mounts for /sys on a cgroup v1 host) on the first.
 * Optional, so a missing source was never an error; read-only, so a later remount finds the
 * same; no hook or propagation op, which could tell the two copies apart. Both sides of the
 * socket ask this, so they agree on which trees travel. */
int view_redundant_bind(const struct plan *p, size_t j)
{
	const struct plan_op_rec *op = &p->ops[j];
	const uint32_t same = BIND_RO | BIND_DEV | BIND_NOEXEC | BIND_IDMAP | BIND_VIEW;
	if (op->code != OP_BIND || (op->a & (BIND_VIEW | BIND_IDMAP)) ||
	    (op->a & (BIND_RO | BIND_OPTIONAL)) != (BIND_RO | BIND_OPTIONAL) ||
	    !view_plain_path(op->s1) || !view_plain_path(op->s2))
		return 0;
	for (size_t k = 0; k < p->n_ops; k++)
		if (p->ops[k].code == OP_HOOK || p->ops[k].code == OP_PROPAGATION)
			return 0;
	for (size_t k = j; k-- > 0 && p->ops[k].code != OP_ROOT;) {
		const struct plan_op_rec *o = &p->ops[k];
		int mounts;
		const char *at = op_dest(o, &mounts);
		if (!at || !view_plain_path(at))
			return 0;
		if (mounts && view_path_within(op->s2, at)) {
			/* The provider: its source's path below it, where op's dest is below its dest. */
			if (o->code != OP_BIND || (o->a & BIND_OPTIONAL) ||
			    (o->a & same) != (op->a & same) || !view_plain_path(o->s1) ||
			    !view_path_within(op->s1, o->s1))
				return 0;
			const char *rest = op->s1 + (strcmp(o->s1, "/") == 0 ? 0 : strlen(o->s1));
			const char *dest = strcmp(o->s2, "/") == 0 ? "" : o->s2;
			size_t n = strlen(dest);
			return strncmp(op->s2, dest, n) == 0 && strcmp(op->s2 + n, rest) == 0;
		}
		if (view_path_within(at, op->s2)) /* something at its place or inside it */
			return 0;
	}
	return 0;
}

int view_scratch_free(const struct plan *p, const char *scratch, int all_binds)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_BIND || (op->a & BIND_VIEW))
			continue;
		int launcher_made = (op->a & BIND_IDMAP) || all_binds;
		if (!view_plain_path(op->s1) || view_path_within(op->s1, scratch) ||
		    (!launcher_made && view_path_within(scratch, op->s1)))
			return 0;
	}
	return 1;
}
