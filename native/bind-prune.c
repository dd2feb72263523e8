/* bind-prune.c — see bind-prune.h. A submount is left out only when the first later op of the
 * view that reaches its place (at it, above it or below it) mounts over it whole, so nothing of
 * the view can tell: no op before that one can have looked inside it. Only read-only trees are
 * pruned: an op that reached the left-out place another way (a symlink of the host's tree)
 * finds the parent's read-only directory there and fails, it never writes to the host. */
#define _GNU_SOURCE
#include "bind-prune.h"

#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The tree is split only when it saves this many mount copies per extra clone, each of which
 * costs a handful of syscalls (open, check, clone, propagation, attach, closes). */
#define COPIES_PER_PIECE 2

struct mnt {
	int id, parent;
	char *point; /* host path, unescaped */
	int odd; /* unbindable or nsfs: copied by rules of its own (copy_tree), never split off */
	int fate; /* FATE_* */
};

enum { FATE_NONE, FATE_DROP, FATE_WHOLE, FATE_SPLIT };

struct table {
	char *text;
	struct mnt *m;
	size_t n;
};

/* `/`-rooted with no empty, `.` or `..` component and no trailing slash: compared as strings. */
static int plain_path(const char *s)
{
	if (s[0] != '/')
		return 0;
	if (s[1] == '\0')
		return 1;
	for (const char *c = s; *c; c++) {
		if (*c != '/')
			continue;
		const char *n = c + 1;
		if (*n == '\0' || *n == '/' || (n[0] == '.' && (n[1] == '/' || n[1] == '\0')) ||
		    (n[0] == '.' && n[1] == '.' && (n[2] == '/' || n[2] == '\0')))
			return 0;
	}
	return 1;
}

/* a is b or lies below it. */
static int within(const char *a, const char *b)
{
	size_t n = strlen(b);
	if (n == 1)
		return 1; /* b is "/" */
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* The view path an op of phase 1 acts on, and in *mounts whether it mounts a whole filesystem or
 * tree there; NULL for an op after which nothing is known (a bind from the view, a hook). */
static const char *op_path(const struct plan_op_rec *op, int *mounts)
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

/* Whether view path v (a submount of op i's tree) is covered: the first later op reaching it
 * mounts at it or above it, and surely mounts (an optional bind only when its source is there).
 * Paths are compared as strings: the view resolves them through the same directories, which a
 * mount point's path (the kernel's, in mountinfo) names without a symlink. */
static int covered(const struct plan *p, size_t i, const char *v, prune_source_fn exists, void *ctx)
{
	for (size_t j = i + 1; j < p->n_ops && p->ops[j].code != OP_PIVOT; j++) {
		const struct plan_op_rec *op = &p->ops[j];
		int mounts;
		const char *at = op_path(op, &mounts);
		if (!at || !plain_path(at))
			return 0;
		if (mounts && within(v, at))
			return !(op->code == OP_BIND && (op->a & BIND_OPTIONAL)) ||
			       exists(ctx, op->s1);
		/* At it or inside it. Above it, an op that mounts nothing works on a directory
		 * the submount's place is below, which its presence does not change. */
		if (within(at, v))
			return 0;
	}
	return 0;
}

/* Some later mount lands strictly below dest: else nothing can be covered (no syscall made). */
static int mounts_below(const struct plan *p, size_t i, const char *dest)
{
	for (size_t j = 0; j < p->n_ops; j++)
		if (p->ops[j].code == OP_HOOK)
			return 0; /* a hook may unmount what covers a submount */
	for (size_t j = i + 1; j < p->n_ops && p->ops[j].code != OP_PIVOT; j++) {
		int mounts;
		const char *at = op_path(&p->ops[j], &mounts);
		if (at && mounts && within(at, dest) && strcmp(at, dest) != 0)
			return 1;
	}
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 8192, n = 0;
	char *buf = fd < 0 ? NULL : malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			char *grown = cap < (1u << 22) ? realloc(buf, cap *= 2) : NULL;
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		n += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* The launcher's mount table: id, parent, mount point and whether copy_tree treats it apart. */
static int read_table(struct table *t)
{
	t->m = NULL;
	t->n = 0;
	if (!(t->text = read_all("/proc/self/mountinfo")))
		return -1;
	size_t cap = 0;
	for (char *line = t->text, *next; *line; line = next) {
		char *end = strchr(line, '\n');
		next = end ? end + 1 : line + strlen(line);
		if (end)
			*end = '\0';
		/* id parent major:minor root mount-point options [optional...] - fstype ... */
		char *f[5], *save = NULL, *tok;
		for (int k = 0; k < 5; k++)
			if (!(f[k] = strtok_r(k ? NULL : line, " ", &save)))
				return -1;
		int odd = 0;
		while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
			odd |= strcmp(tok, "unbindable") == 0;
		tok = strtok_r(NULL, " ", &save); /* the filesystem type */
		if (!tok)
			return -1;
		odd |= strcmp(tok, "nsfs") == 0;
		if (t->n == cap) {
			struct mnt *grown =
				realloc(t->m, (cap = cap ? cap * 2 : 32) * sizeof *grown);
			if (!grown)
				return -1;
			t->m = grown;
		}
		unescape(f[4]);
		t->m[t->n++] = (struct mnt){
			.id = atoi(f[0]), .parent = atoi(f[1]), .point = f[4], .odd = odd
		};
	}
	return 0;
}

static void free_table(struct table *t)
{
	free(t->text);
	free(t->m);
}

struct walk {
	const struct plan *p;
	size_t i;
	const char *src, *dest;
	prune_source_fn exists;
	void *ctx;
	size_t dropped, pieces;
	int odd; /* a piece cannot be split off as a recursive clone would copy it */
};

/* The view path of host mount point `point` under the bind of src at dest. */
static int view_path(const struct walk *w, const char *point, char *out, size_t size)
{
	const char *rest = point + (strcmp(w->src, "/") == 0 ? 0 : strlen(w->src));
	int n = snprintf(out, size, "%s%s", strcmp(w->dest, "/") == 0 ? "" : w->dest, rest);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Decides the fate of mount k and below it; returns how many of them a later op covers. */
static size_t decide(struct walk *w, struct table *t, size_t k)
{
	char v[PATH_MAX];
	struct mnt *m = &t->m[k];
	size_t subtree = 1, dropped = 0;
	if (view_path(w, m->point, v, sizeof v) || !plain_path(v)) {
		w->odd = 1;
		return 0;
	}
	if (covered(w->p, w->i, v, w->exists, w->ctx)) {
		for (size_t c = 0; c < t->n; c++) /* it and every mount under it */
			if (c != k && within(t->m[c].point, m->point))
				subtree++;
		m->fate = FATE_DROP;
		return subtree;
	}
	for (size_t c = 0; c < t->n; c++)
		if (t->m[c].parent == m->id && c != k)
			dropped += decide(w, t, c);
	m->fate = dropped ? FATE_SPLIT : FATE_WHOLE;
	return dropped;
}

/* Counts the clones a fate needs past the top's: one per whole or split mount whose parent is
 * split (or the top). */
static void count_pieces(struct walk *w, struct table *t, int parent)
{
	for (size_t c = 0; c < t->n; c++) {
		struct mnt *m = &t->m[c];
		if (m->parent != parent || m->id == parent || m->fate == FATE_NONE ||
		    m->fate == FATE_DROP)
			continue;
		w->pieces++;
		w->odd |= m->odd;
		if (m->fate == FATE_SPLIT)
			count_pieces(w, t, m->id);
	}
}

static int mount_id_of(int fd, int *id, mode_t *mode)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_TYPE, &stx) ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return -1;
	*id = (int)stx.stx_mnt_id;
	if (mode)
		*mode = stx.stx_mode;
	return 0;
}

static int make_private(int tree, int recursive)
{
	struct cordon_mount_attr attr = { .propagation = MS_PRIVATE };
	return (int)syscall(SYS_mount_setattr, tree, "",
			    AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
}

/* Clones mount m (whole: with its submounts) from the host and attaches it in tree at its place.
 * Private before it is attached: a clone of a shared mount is the host mount's peer. */
static int attach_piece(const struct walk *w, int tree, int root, const struct mnt *m)
{
	int whole = m->fate == FATE_WHOLE, id, ok = -1;
	int at = -1, piece = -1;
	int host = sys_openat2(root, m->point, O_PATH | O_CLOEXEC,
			       RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	/* The mount found at its point must be it: not one stacked on it since. */
	if (host < 0 || mount_id_of(host, &id, NULL) || id != m->id)
		goto out;
	piece = sys_open_tree(host, "",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
				      (whole ? AT_RECURSIVE : 0));
	const char *rel = m->point + (strcmp(w->src, "/") == 0 ? 0 : strlen(w->src));
	while (*rel == '/')
		rel++;
	if (piece < 0 || make_private(piece, whole))
		goto out;
	at = sys_openat2(tree, rel, O_PATH | O_CLOEXEC,
			 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	/* Mounting on a detached tree: Linux 6.15+; before, EINVAL, and the caller clones whole. */
	if (at >= 0 && sys_move_mount(piece, "", at, "",
				      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
		ok = 0;
out:
	if (at >= 0)
		close(at);
	if (piece >= 0)
		close(piece);
	if (host >= 0)
		close(host);
	return ok;
}

/* Attaches the kept mounts under parent, parents first. */
static int attach_below(const struct walk *w, struct table *t, int tree, int root, int parent)
{
	for (size_t c = 0; c < t->n; c++) {
		const struct mnt *m = &t->m[c];
		if (m->parent != parent || m->id == parent || m->fate == FATE_NONE ||
		    m->fate == FATE_DROP)
			continue;
		if (attach_piece(w, tree, root, m) ||
		    (m->fate == FATE_SPLIT && attach_below(w, t, tree, root, m->id)))
			return -1;
	}
	return 0;
}

int prune_clone(const struct plan *p, size_t i, int from, int root, prune_source_fn exists,
		void *ctx)
{
	const struct plan_op_rec *op = &p->ops[i];
	struct walk w = {
		.p = p, .i = i, .src = op->s1, .dest = op->s2, .exists = exists, .ctx = ctx
	};
	if (op->code != OP_BIND || (op->a & (BIND_VIEW | BIND_IDMAP)) || !(op->a & BIND_RO) ||
	    !plain_path(w.src) || !plain_path(w.dest) || !mounts_below(p, i, w.dest))
		return -1;
	int top;
	mode_t mode;
	if (mount_id_of(from, &top, &mode) || !S_ISDIR(mode))
		return -1;
	struct table t;
	int tree = -1;
	if (read_table(&t))
		goto out;
	/* The top's submounts under src (those a recursive clone copies), and theirs. */
	for (size_t c = 0; c < t.n; c++) {
		struct mnt *m = &t.m[c];
		if (m->parent != top || m->id == top || !within(m->point, w.src))
			continue;
		if (strcmp(m->point, w.src) == 0) {
			w.odd = 1; /* stacked on the source itself */
			break;
		}
		w.dropped += decide(&w, &t, c);
	}
	count_pieces(&w, &t, top);
	if (w.odd || w.dropped < COPIES_PER_PIECE * (w.pieces ? w.pieces : 1))
		goto out;
	tree = sys_open_tree(from, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree >= 0 && (make_private(tree, 0) || attach_below(&w, &t, tree, root, top))) {
		close(tree);
		tree = -1;
	}
out:
	free_table(&t);
	return tree;
}
