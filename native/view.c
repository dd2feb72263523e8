/* view.c — the filesystem view: a fresh tmpfs root assembled from host paths, then pivot_root.
 *
 * The launcher first makes a scratch tmpfs holding the new root its root (by chroot where the
 * plan allows, begin), and keeps the host root open, so that every source is resolved with
 * openat2(RESOLVE_IN_ROOT) under the host root and every destination under the
 * new root: absolute symlinks on either side resolve where they were meant to, and nothing a
 * destination path contains can reach back into the host. Bind sources come resolved to their
 * real paths and are opened with RESOLVE_NO_SYMLINKS too (open_source). Mounts are cloned detached
 * (open_tree), given their attributes recursively (mount_setattr), then attached (move_mount).
 */
#define _GNU_SOURCE
#include "view.h"

#include "hook.h"
#include "view-plan.h"

#include "events.h"
#include "fdpass.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#define SCRATCH "/tmp" /* host directory the scratch tmpfs covers, in our namespace only */
#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int old_fd = -1; /* host root, seen from the scratch tmpfs */
static int idmap_sock = -1; /* trees made by the launcher (view_send_idmapped) */
static int all_binds; /* every bind's tree comes from the launcher, not just idmapped ones */
static int new_fd = -1; /* root of the view being built */
static int root_own = -1; /* dir_is_own's answer for new_fd; -1 not asked yet */
/* Mount ids of the tmpfs mounts made here for the view: the only places a node is made on
 * (do_mknod). A host tmpfs bound into the view (/dev/shm, a /run directory) is a tmpfs too.
 * Taken only for a plan that makes nodes (two syscalls per mount saved for the others). */
static int track_tmpfs;
static uint64_t *own_tmpfs;
static size_t n_own_tmpfs;
static const char *root_src; /* host path bound at the view's "/" (an OCI bundle's rootfs) */
/* Filesystems (st_dev) the view may get new names on: the new root's tmpfs and each tmpfs
 * mounted for the view, plus the host filesystem of a BIND_HOST_NAMES bind (an OCI rootfs).
 * A name made anywhere else lands in a host directory and outlives the run: the compiler
 * refuses such views (src/plan/mount-points.ts), and a plan it made still meets one when the
 * host changed since (a directory now a bind of a host one, a file gone), so the launcher
 * refuses too (may_make). */
static dev_t *own_devs;
static size_t n_own_devs;

static noreturn void fail(const char *step, const char *path, const char *dest)
{
	die_step(EXIT_CORDON, step, path, dest, errno);
}

static int open_in(int root, const char *path, int flags)
{
	return sys_openat2(root, path, (uint64_t)(flags | O_PATH | O_CLOEXEC), RESOLVE_FLAGS);
}

/* A bind's source, under the host root. The compiler resolved it to its real path (src/policy/
 * bind-sources.ts), so no symlink is on its way: one found now was swapped in since, possibly
 * by a sandbox that can write there, and fails ELOOP rather than steer the bind. */
static int open_source(int root, const char *path)
{
	return sys_openat2(root, path, O_PATH | O_CLOEXEC, RESOLVE_FLAGS | RESOLVE_NO_SYMLINKS);
}

static void reopen_new_root(void)
{
	int fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail("root", "/", NULL);
	close(new_fd);
	new_fd = fd;
	root_own = -1;
}

/* The scratch tmpfs is the root by chroot while the view is built (one pivot_root a start, in
 * finish(), where there were two: each walks every thread on the host, chroot_fs_refs), or, as
 * before, by pivot_root, which moves it off the host's /tmp. */
static int chrooted;

/* Whether the scratch tmpfs may stay on the host's /tmp (a directory, not a symlink) while the
 * view is built: no bind source the sandbox opens under the host root is below it, or holds it
 * (a tree cloned here would copy it), and no tree the launcher makes is below it (a hook's view
 * goes back to its source, expose_view). The launcher's trees come from the host's own table. */
static int scratch_may_cover(const struct plan *p)
{
	struct stat st;
	return fstatat(AT_FDCWD, SCRATCH, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       view_scratch_free(p, SCRATCH, all_binds);
}

/* fd's filesystem is one the view may get new names on. */
static void add_own_dev(int fd, const char *step, const char *dest)
{
	struct stat st;
	dev_t *grown = realloc(own_devs, (n_own_devs + 1) * sizeof *own_devs);
	if (!grown)
		die_msg("out of memory");
	own_devs = grown;
	if (fstat(fd, &st))
		fail(step, dest, NULL);
	own_devs[n_own_devs++] = st.st_dev;
}

static void begin(const struct plan *p, mode_t mode)
{
	char opts[32];
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fail("make / private", "/", NULL);
	chrooted = scratch_may_cover(p);
	if (mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"))
		fail("mount scratch tmpfs", SCRATCH, NULL);
	if (mkdir(SCRATCH "/newroot", 0700) || (!chrooted && mkdir(SCRATCH "/oldroot", 0700)))
		fail("mkdir scratch", SCRATCH, NULL);
	snprintf(opts, sizeof opts, "mode=%04o", (unsigned)mode);
	if (mount("tmpfs", SCRATCH "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, opts))
		fail("mount root tmpfs", "/", NULL);
	if (chrooted) {
		old_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (old_fd < 0 || chdir(SCRATCH) || chroot(".") || chdir("/"))
			fail("chroot scratch", SCRATCH, NULL);
	} else {
		if (sys_pivot_root(SCRATCH, SCRATCH "/oldroot") || chdir("/"))
			fail("pivot_root scratch", SCRATCH, NULL);
		old_fd = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	new_fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old_fd < 0 || new_fd < 0)
		fail("open roots", "/", NULL);
	add_own_dev(new_fd, "mount root tmpfs", "/");
}

/* Back to the host's root (old_fd) from the chroot in the scratch tmpfs: pivot_root moves the
 * process's root mount, which must be the namespace's tree, not the scratch tmpfs on its /tmp. */
static void unchroot(const char *step)
{
	if (chrooted && (fchdir(old_fd) || chroot(".")))
		fail(step, "/", NULL);
}

/* Splits "/a/b/c" into the parent "a/b" (or "" for top level) and the name "c". */
static const char *split(const char *path, char *parent, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);
	while (*path == '/' && n > 0) {
		path++;
		n--;
	}
	if (n >= size)
		n = 0;
	memcpy(parent, path, n);
	parent[n] = '\0';
	return slash + 1;
}

/* The directory that holds the last new name, kept open: a view makes most of its new names in
 * one directory one after another (/dev's nodes, links and mount points), and each opened that
 * directory again. It stays right while no mount lands on it or above it: attach keeps it for a
 * mount on a name looked up through it, and every other mount forgets it (forget_parent), as
 * an fd opened before a mount on its directory would name what the mount covers. */
static char cached_parent[PATH_MAX];
static int cached_fd = -1;
static int cached_own = -1; /* may_make's answer for cached_fd; -1 not asked yet */

static void forget_parent(void)
{
	if (cached_fd >= 0)
		close(cached_fd);
	cached_fd = -1;
	cached_own = -1;
}

/* The directory that holds path in the new root, and its last component in *name; borrowed
 * (the view's root or the cached directory: not to be closed), -1 when it is missing. */
static int open_parent(const char *path, const char **name)
{
	char parent[PATH_MAX];
	*name = split(path, parent, sizeof parent);
	if (parent[0] == '\0')
		return new_fd;
	if (cached_fd >= 0 && strcmp(parent, cached_parent) == 0)
		return cached_fd;
	int fd = open_in(new_fd, parent, O_DIRECTORY);
	if (fd < 0)
		return -1;
	forget_parent();
	memcpy(cached_parent, parent, strlen(parent) + 1); /* split keeps it under PATH_MAX */
	cached_fd = fd;
	return fd;
}

/* dir (a directory of the view) lies on a filesystem the view may get names on. One fstat per
 * directory: the answer for the cached one is kept with it (a view makes most names in a few). */
static int dir_is_own(int dir)
{
	if (dir == cached_fd && cached_own >= 0)
		return cached_own;
	if (dir == new_fd && root_own >= 0)
		return root_own;
	struct stat st;
	int own = 0;
	if (fstat(dir, &st) == 0)
		for (size_t i = 0; i < n_own_devs && !own; i++)
			own = own_devs[i] == st.st_dev;
	if (dir == cached_fd)
		cached_own = own;
	if (dir == new_fd)
		root_own = own;
	return own;
}

/* Whether name may be made in dir: 1 when dir is on the view's own filesystems, 0 when it is not
 * but name is there already (nothing to make: the caller's EEXIST path). Otherwise the start
 * fails: the name would be made in a host directory and stay there after the run. The compiler
 * refused such a view, so the host changed since the plan was made (what the entry's path
 * leads through is now a bind of a host directory, or the name it stood on is gone). */
static int may_make(int dir, const char *name, const char *step, const char *path)
{
	struct stat st;
	if (dir_is_own(dir))
		return 1;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* Not missing but unreadable (`--ro /` shows /root, 0700, to a user namespace whose root
	 * is no owner of it): its own errno, not "would be made in a host directory". */
	int missing = errno == ENOENT, err = missing ? EXDEV : errno;
	char what[256];
	snprintf(what, sizeof what, "%s (%s)", step,
		 missing ? "its name would be made in a host directory, and stay there: the host "
			   "changed since the plan was compiled; compile it again"
			 : "its mount point cannot be looked up in the host directory that holds "
			   "it");
	errno = err;
	fail(what, path, NULL);
}

/* mkdir -p of path's ancestors inside the new root. */
static void make_parents(const char *path, const char *step)
{
	char prefix[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof prefix)
		die_step(EXIT_CORDON, step, path, NULL, ENAMETOOLONG);
	for (size_t i = 1; i < len; i++) {
		if (path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		const char *name;
		int dir = open_parent(prefix, &name);
		if (dir < 0)
			fail(step, prefix, NULL);
		if (may_make(dir, name, step, prefix) && mkdirat(dir, name, 0755) &&
		    errno != EEXIST)
			fail(step, prefix, NULL);
	}
}

/* The directory that holds path in the new root (borrowed, as open_parent's), its parents made
 * only when one is missing: most new names go in a directory the view already has (/dev/null in
 * the /dev tmpfs). */
static int open_parent_made(const char *path, const char **name, const char *step)
{
	int dir = open_parent(path, name);
	if (dir < 0) {
		make_parents(path, step);
		dir = open_parent(path, name);
	}
	if (dir < 0)
		fail(step, path, NULL);
	return dir;
}

enum dest_kind { DEST_DIR, DEST_FILE };

/* dest, looked up as name in dir (its directory) when name is neither a symlink nor `..`: what
 * resolving dest from the new root finds then. *in_cached: it was, and dir is the cached
 * directory. Otherwise from the new root, as before. */
static int lookup_dest(int dir, const char *name, const char *dest, int *in_cached)
{
	*in_cached = 0;
	if (dir >= 0 && *name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
		int fd = sys_openat2(dir, name, O_PATH | O_CLOEXEC,
				     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0 || errno == ENOENT) {
			*in_cached = fd >= 0 && dir == cached_fd;
			return fd;
		}
	}
	return open_in(new_fd, dest, 0);
}

/* Creates dest (and its parents) in the new root if missing; returns an O_PATH fd on it, and in
 * *in_cached whether it is a name in the cached directory (what a mount on it keeps valid). */
static int open_dest(const char *dest, enum dest_kind kind, mode_t mode, const char *step,
		     int *in_cached)
{
	*in_cached = 0;
	if (strcmp(dest, "/") == 0)
		return fcntl(new_fd, F_DUPFD_CLOEXEC, 3);
	const char *name;
	int parent = open_parent(dest, &name);
	int existing = lookup_dest(parent, name, dest, in_cached);
	if (existing >= 0)
		return existing; /* possibly inside a read-only bind: mounting on it needs no write */
	int dir = open_parent_made(dest, &name, step);
	if (!may_make(dir, name, step, dest)) {
		/* There already (a symlink lookup_dest would not follow): as when mkdirat finds it */
	} else if (kind == DEST_DIR) {
		if (mkdirat(dir, name, mode) && errno != EEXIST)
			fail(step, dest, NULL);
	} else {
		int f = openat(dir, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
		if (f < 0 && errno != EEXIST && errno != ELOOP && errno != EISDIR)
			fail(step, dest, NULL);
		if (f >= 0) {
			/* The file just made, with no symlink (O_NOFOLLOW) and nothing mounted on it
			 * yet: what opening dest again would find. */
			*in_cached = dir == cached_fd;
			return f;
		}
	}
	int fd = lookup_dest(dir, name, dest, in_cached);
	if (fd < 0)
		fail(step, dest, NULL);
	return fd;
}

/* The op being built is BIND_SETTLED: its destination's way passes through a host directory
 * and had no symlink on it when the plan was made (src/policy/view-dests.ts). */
static int way_settled;

/* What dest names without following any symlink is what `to` is: open_dest resolves as the
 * sandbox will (RESOLVE_IN_ROOT), so a link a sandbox sharing a host directory on the way
 * swapped in after the plan was made would move the mount (onto the view's root: hidden, and
 * its Landlock rule granting everything). ELOOP instead, whatever the entry's `optional`. */
static void check_way(int to, const char *dest, const char *step)
{
	struct stat named, got;
	int fd = sys_openat2(new_fd, dest, O_PATH | O_CLOEXEC,
			     RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd < 0 && errno != ELOOP)
		fail(step, dest, NULL);
	int same = fd >= 0 && fstat(fd, &named) == 0 && fstat(to, &got) == 0 &&
		   named.st_dev == got.st_dev && named.st_ino == got.st_ino;
	if (fd >= 0)
		close(fd);
	if (!same) {
		char what[160];
		snprintf(what, sizeof what,
			 "%s (a symlink is on the destination's way since the plan was made)",
			 step);
		errno = ELOOP;
		fail(what, dest, NULL);
	}
}

static void attach(int mnt, const char *dest, enum dest_kind kind, const char *step,
		   const char *src)
{
	int in_cached;
	int to = open_dest(dest, kind, 0755, step, &in_cached);
	if (way_settled)
		check_way(to, dest, step);
	if (sys_move_mount(mnt, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		/* The kernel says EINVAL for a file onto a directory (or the reverse): name it, so
		 * the message can say which side to change. */
		struct stat from_st, to_st;
		if (errno == EINVAL && fstat(mnt, &from_st) == 0 && fstat(to, &to_st) == 0 &&
		    S_ISDIR(from_st.st_mode) != S_ISDIR(to_st.st_mode))
			errno = S_ISDIR(to_st.st_mode) ? EISDIR : ENOTDIR;
		fail(step, src ? src : dest, src ? dest : NULL);
	}
	if (!in_cached) /* on the cached directory or above it, perhaps: it may be covered now */
		forget_parent();
	close(to);
	close(mnt);
	if (strcmp(dest, "/") == 0)
		reopen_new_root();
}

static uint64_t mount_attrs(uint32_t flags)
{
	return MOUNT_ATTR_NOSUID | (flags & BIND_RO ? MOUNT_ATTR_RDONLY : 0) |
	       (flags & BIND_DEV ? 0 : MOUNT_ATTR_NODEV) |
	       (flags & BIND_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
}

/* A tree travels with one byte, its root's kind: TREE_DIR or TREE_FILE (the launcher has the
 * stat, so the sandbox makes none on its way), TREE_NONE without a tree for a missing optional
 * source. */
#define TREE_DIR 'd'
#define TREE_FILE 'f'
#define TREE_NONE 'n'

/* One tree from the launcher and its kind, or -1 when none came (a missing optional source, or
 * the launcher failed and says why). */
static int recv_tree(char *kind)
{
	*kind = TREE_NONE;
	return idmap_sock < 0 ? -1 : fd_recv(idmap_sock, kind, 1);
}

/* Binds of one source with the same flags (/dev/null over each hidden /proc file): the first is
 * made as any bind, and when its tree is not a directory the others are clones of it, made here:
 * the launcher opens, sets up and sends one tree, not one per bind (a third of a start's
 * syscalls were these). A clone of the same mount, not recursive (a file has no submounts), with
 * its attributes and its private propagation: the same mount a tree of its own would give.
 * Directories are left alone: by a later bind a tree may hold more than it did. Both sides of
 * the socket ask this, so they agree on which trees travel. */
static long first_same_bind(const struct plan *p, size_t i)
{
	const struct plan_op_rec *op = &p->ops[i];
	if (op->code != OP_BIND || (op->a & (BIND_VIEW | BIND_IDMAP)))
		return -1;
	long first = -1;
	for (size_t j = 0; j < i; j++) {
		const struct plan_op_rec *o = &p->ops[j];
		if (o->code == OP_REMOUNT_RO)
			first = -1; /* it may have changed the first's attributes: a tree of its own */
		else if (first < 0 && o->code == OP_BIND && o->a == op->a &&
			 strcmp(o->s1, op->s1) == 0)
			first = (long)j;
	}
	return first;
}

static int has_later_same(const struct plan *p, size_t i)
{
	for (size_t k = i + 1; k < p->n_ops; k++)
		if (first_same_bind(p, k) == (long)i)
			return 1;
	return 0;
}

/* Per op index: the first bind's mount, kept to clone for the same binds after it; -1 if none. */
static int *kept;
static size_t n_kept;

static void keep_for_clones(const struct plan *p, size_t i, int tree, int is_dir)
{
	if (is_dir || !has_later_same(p, i))
		return;
	if (!kept) {
		if (!(kept = malloc(p->n_ops * sizeof *kept)))
			die_msg("out of memory");
		n_kept = p->n_ops;
		for (size_t k = 0; k < n_kept; k++)
			kept[k] = -1;
	}
	/* The fd follows its mount once attached; the sandbox's own then, so it can be cloned. */
	if ((kept[i] = fcntl(tree, F_DUPFD_CLOEXEC, 3)) < 0)
		fail("bind", p->ops[i].s1, p->ops[i].s2);
}

/* A clone of an earlier bind's mount when op i is the same bind again, else -1. */
static int clone_same(const struct plan *p, size_t i)
{
	long j = first_same_bind(p, i);
	if (j < 0 || !kept || kept[j] < 0)
		return -1;
	int tree = sys_open_tree(kept[j], "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		fail("bind", p->ops[i].s1, p->ops[i].s2);
	return tree;
}

static void drop_kept(void)
{
	for (size_t k = 0; kept && k < n_kept; k++)
		if (kept[k] >= 0)
			close(kept[k]);
	free(kept);
	kept = NULL;
	n_kept = 0;
}

static void do_bind(const struct plan *p, size_t i)
{
	const struct plan_op_rec *op = &p->ops[i];
	const char *src = op->s1, *dest = op->s2;
	struct stat st;
	if (strcmp(dest, "/") == 0)
		root_src = src;
	if (view_redundant_bind(p, i))
		return; /* the same mounts are there already */
	int same = clone_same(p, i);
	if (same >= 0) {
		attach(same, dest, DEST_FILE, "bind", src);
		return;
	}
	if (!(op->a & BIND_VIEW) && ((op->a & BIND_IDMAP) || all_binds)) {
		char kind;
		int tree = recv_tree(&kind); /* made and given its attributes by the launcher */
		if (tree < 0) {
			if (op->a & BIND_OPTIONAL)
				return; /* a missing optional source: the launcher sent an empty message */
			errno = EPROTO;
			fail("idmapped bind", src, dest);
		}
		keep_for_clones(p, i, tree, kind == TREE_DIR);
		if (op->a & BIND_HOST_NAMES)
			add_own_dev(tree, "idmapped bind", src);
		attach(tree, dest, kind == TREE_DIR ? DEST_DIR : DEST_FILE, "idmapped bind", src);
		return;
	}
	int from = open_source(op->a & BIND_VIEW ? new_fd : old_fd, src);
	if (from < 0) {
		if (errno == ENOENT && (op->a & BIND_OPTIONAL))
			return;
		fail("bind", src, dest);
	}
	if (fstat(from, &st))
		fail("bind", src, dest);
	int tree = sys_open_tree(
		from, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		fail("bind", src, dest);
	close(from);
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, mount_attrs(op->a)))
		fail(op->a & BIND_RO ? "bind read-only" : "bind", src, dest);
	keep_for_clones(p, i, tree, S_ISDIR(st.st_mode));
	if (op->a & BIND_HOST_NAMES)
		add_own_dev(tree, "bind", src);
	attach(tree, dest, S_ISDIR(st.st_mode) ? DEST_DIR : DEST_FILE, "bind", src);
}

static void send_tree(int sock, int tree, char kind, const char *src)
{
	if (!fd_send(sock, &kind, 1, tree))
		fail("idmapped bind", src, NULL);
}

/* The host path fd was opened at (for mountinfo), into buf; fallback when unknown. */
static const char *fd_path(int fd, char *buf, size_t size, const char *fallback)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, size - 1);
	if (n <= 0)
		return fallback;
	buf[n] = '\0';
	return buf;
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

/* The tree's attributes recursively, then the id mapping mount by mount (mountinfo names the
 * mounts at or below top): those whose filesystem refuses it keep the host's ids, which a
 * remapped sandbox sees as nobody's. The top mount must take it. */
static int idmap_each(int tree, const char *top, uint64_t attrs, int userns_fd)
{
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, attrs) ||
	    sys_mount_setattr_idmap(tree, AT_EMPTY_PATH, 0, userns_fd))
		return -1;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	size_t top_len = strcmp(top, "/") == 0 ? 0 : strlen(top);
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char point[PATH_MAX];
		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		unescape(point);
		if (strncmp(point, top, top_len) != 0 || point[top_len] != '/' ||
		    point[top_len + 1] == '\0')
			continue; /* not strictly below top (top itself is done) */
		int at = sys_openat2(tree, point + top_len + 1, O_PATH | O_CLOEXEC,
				     RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (at < 0)
			continue; /* covered by a later mount, or gone */
		int r = sys_mount_setattr_idmap(at, AT_EMPTY_PATH, 0, userns_fd);
		int err = errno;
		close(at);
		/* EINVAL: this filesystem cannot be idmapped, or it is not the root of a mount here. */
		if (r && err != EINVAL) {
			free(line);
			fclose(f);
			errno = err;
			return -1;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* Bind sources opened so far by view_send_idmapped: the first few distinct paths keep their
 * fd (a plan names few sources many times), the rest are opened and closed per bind. */
#define SOURCE_CACHE 8
struct source_cache {
	size_t n;
	const char *path[SOURCE_CACHE];
	int fd[SOURCE_CACHE];
};

static int source_cached(const struct source_cache *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->path[i], path) == 0)
			return c->fd[i];
	return -1;
}

/* Keeps fd for path when there is room; returns fd either way (-1 with errno kept). */
static int source_remember(struct source_cache *c, const char *path, int fd)
{
	if (fd >= 0 && c->n < SOURCE_CACHE) {
		c->path[c->n] = path;
		c->fd[c->n++] = fd;
	}
	return fd;
}

/* The tree's attributes and private propagation, recursively, in one call. */
static int set_attrs_private(int tree, uint64_t attrs)
{
	struct cordon_mount_attr attr = { .attr_set = attrs, .propagation = MS_PRIVATE };
	return (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			    sizeof attr);
}

size_t view_send_idmapped(const struct plan *p, int userns_fd, int sock, int all)
{
	size_t sent = 0;
	struct source_cache cache = { .n = 0 };
	/* Per op index: a tree that is not a directory went for it, which the sandbox clones for
	 * the same binds after it (first_same_bind): none is sent for those. */
	char *cloned = calloc(p->n_ops ? p->n_ops : 1, 1);
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || !cloned)
		fail("idmapped bind", "/", NULL);
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_BIND || (op->a & BIND_VIEW) || (!(op->a & BIND_IDMAP) && !all) ||
		    view_redundant_bind(p, i))
			continue;
		long first = first_same_bind(p, i);
		if (first >= 0 && cloned[first])
			continue;
		/* Under the host root, no symlinks on the way, as the sandbox opens its own sources.
		 * A source named again (/dev/null over each hidden /proc file and at /dev/null) is
		 * opened once: the same file for each of its binds. */
		int from = source_cached(&cache, op->s1);
		if (from < 0)
			from = source_remember(&cache, op->s1, open_source(root, op->s1));
		if (from < 0 && errno == ENOENT && (op->a & BIND_OPTIONAL)) {
			send_tree(sock, -1, TREE_NONE, op->s1);
			sent++;
			continue;
		}
		int tree = from < 0 ? -1
				    : sys_open_tree(from, "",
						    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
							    AT_RECURSIVE | AT_EMPTY_PATH);
		if (tree < 0) /* a missing source: events.c names the fix for a `bind` step */
			fail("bind", op->s1, op->s2);
		/* A clone keeps its source's peer group: a tree from a shared host mount would pass
		 * the sandbox's mounts to the host and the host's into a read-only bind. Cut it off,
		 * as begin() cuts the sandbox's own copy of the host's mounts: in the same call as
		 * the attributes, one walk of the tree. */
		if (!(op->a & BIND_IDMAP)) {
			if (set_attrs_private(tree, mount_attrs(op->a)))
				fail(op->a & BIND_RO ? "bind read-only" : "bind", op->s1, op->s2);
		} else {
			if (sys_mount_setattr_idmap(tree, AT_EMPTY_PATH | AT_RECURSIVE,
						    mount_attrs(op->a), userns_fd)) {
				/* EINVAL: a filesystem in the tree cannot be idmapped (proc, sysfs,
				 * NFS under a writable `/`): each mount that can be is, the rest
				 * keep host ids. */
				char top[PATH_MAX];
				if (errno != EINVAL ||
				    idmap_each(tree, fd_path(from, top, sizeof top, op->s1),
					       mount_attrs(op->a), userns_fd))
					die_step(EXIT_CORDON, "idmapped bind", op->s1, op->s2,
						 errno);
			}
			if (sys_mount_propagation(tree, AT_EMPTY_PATH | AT_RECURSIVE, MS_PRIVATE))
				fail("bind private", op->s1, op->s2);
		}
		if (source_cached(&cache, op->s1) != from)
			close(from);
		struct stat st;
		if (fstat(tree, &st))
			fail("idmapped bind", op->s1, op->s2);
		if (has_later_same(p, i))
			cloned[i] = !S_ISDIR(st.st_mode);
		send_tree(sock, tree, S_ISDIR(st.st_mode) ? TREE_DIR : TREE_FILE, op->s1);
		close(tree);
		sent++;
	}
	for (size_t i = 0; i < cache.n; i++)
		close(cache.fd[i]);
	close(root);
	free(cloned);
	return sent;
}

void view_set_idmap_sock(int sock, int all)
{
	idmap_sock = sock;
	all_binds = all;
}

/* The id of the mount fd lies on: statx (5.8+), else its fdinfo through the host's /proc. */
static int mount_id(int fd, uint64_t *id)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID)) {
		*id = stx.stx_mnt_id;
		return 0;
	}
	char path[64], buf[512];
	snprintf(path, sizeof path, "proc/thread-self/fdinfo/%d", fd);
	int info = openat(old_fd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n = info < 0 ? -1 : read(info, buf, sizeof buf - 1);
	if (info >= 0)
		close(info);
	const char *at = n > 0 ? (buf[n] = '\0', strstr(buf, "\nmnt_id:")) : NULL;
	char *end;
	unsigned long long v = at ? strtoull(at + 8, &end, 10) : 0;
	if (!at || end == at + 8)
		return errno = ENOSYS, -1;
	*id = v;
	return 0;
}

static int new_fs(const char *type, const char *step, const char *dest)
{
	int fs = sys_fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		fail(step, dest, NULL);
	return fs;
}

static void set_option(int fs, const char *key, const char *value, const char *step,
		       const char *dest)
{
	if (sys_fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0))
		fail(step, dest, NULL);
}

/* own: a tmpfs, whose new names stay in the view (add_own_dev). */
static void finish_fs(int fs, unsigned attrs, const char *dest, const char *step, int own)
{
	if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		fail(step, dest, NULL);
	int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		fail(step, dest, NULL);
	close(fs);
	struct statfs st;
	if (track_tmpfs && fstatfs(mnt, &st) == 0 && st.f_type == TMPFS_MAGIC) {
		uint64_t *grown = realloc(own_tmpfs, (n_own_tmpfs + 1) * sizeof *own_tmpfs);
		if (!grown || mount_id(mnt, &grown[n_own_tmpfs]))
			fail(step, dest, NULL);
		own_tmpfs = grown;
		n_own_tmpfs++;
	}
	if (own)
		add_own_dev(mnt, step, dest);
	attach(mnt, dest, DEST_DIR, step, NULL);
}

static void do_tmpfs(const struct plan_op_rec *op)
{
	char value[32];
	int fs = new_fs("tmpfs", "tmpfs", op->s1);
	snprintf(value, sizeof value, "%04o", (unsigned)op->a);
	set_option(fs, "mode", value, "tmpfs", op->s1);
	if (op->x) {
		snprintf(value, sizeof value, "%llu", (unsigned long long)op->x);
		set_option(fs, "size", value, "tmpfs size", op->s1);
	}
	finish_fs(fs, (unsigned)mount_attrs(op->b), op->s1, "tmpfs", 1);
}

/* Files of a fresh proc that act on the whole machine, not the sandbox's namespaces. Their
 * permission check is the owner's mode for uid 0 — no capability — so a sandbox whose uid 0 is
 * the host's root could write kernel.core_pattern: they are made read-only, as runc does. */
static const char *const PROC_HOST_KNOBS[] = { "sys", "sysrq-trigger", "irq", "bus", "fs" };

static void do_proc(const struct plan_op_rec *op)
{
	int fs = new_fs("proc", "proc", op->s1);
	finish_fs(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, op->s1, "proc", 0);
	for (size_t i = 0; i < sizeof PROC_HOST_KNOBS / sizeof *PROC_HOST_KNOBS; i++) {
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", op->s1, PROC_HOST_KNOBS[i]) >=
		    sizeof path)
			fail("proc read-only", op->s1, NULL);
		int at = open_in(new_fd, path, 0);
		if (at < 0) {
			if (errno == ENOENT)
				continue;
			fail("proc read-only", path, NULL);
		}
		int tree = sys_open_tree(
			at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
		if (tree < 0 ||
		    sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
				      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					      MOUNT_ATTR_NOEXEC) ||
		    sys_move_mount(tree, "", at, "",
				   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
			fail("proc read-only", path, NULL);
		close(tree);
		close(at);
	}
	forget_parent(); /* mounts made past attach */
}

static void do_devpts(const struct plan_op_rec *op)
{
	int fs = new_fs("devpts", "devpts", op->s1);
	set_option(fs, "ptmxmode", "0666", "devpts", op->s1);
	set_option(fs, "mode", "0620", "devpts", op->s1);
	finish_fs(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, op->s1, "devpts", 0);
}

/* An OCI `mounts` entry of a filesystem type of its own: each option is a key=value or a flag. */
static void do_fsmount(const struct plan_op_rec *op)
{
	int fs = new_fs(op->s1, "mount", op->s2);
	for (uint32_t at = 0; at < op->blob_len;) {
		const char *opt = (const char *)op->blob + at, *eq = strchr(opt, '=');
		at += (uint32_t)strlen(opt) + 1;
		if (*opt == '\0')
			continue;
		char key[256];
		size_t n = eq ? (size_t)(eq - opt) : strlen(opt);
		if (n >= sizeof key) {
			errno = ENAMETOOLONG;
			fail("mount option", op->s2, opt);
		}
		memcpy(key, opt, n);
		key[n] = '\0';
		if (eq)
			set_option(fs, key, eq + 1, "mount option", op->s2);
		else if (sys_fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0))
			fail("mount option", op->s2, opt);
	}
	finish_fs(fs, op->a, op->s2, "mount", strcmp(op->s1, "tmpfs") == 0);
}

static void do_symlink(const struct plan_op_rec *op)
{
	const char *name;
	int dir = open_parent_made(op->s2, &name, "symlink");
	int err = !may_make(dir, name, "symlink", op->s2) ? EEXIST
		  : symlinkat(op->s1, dir, name)	  ? errno
							  : 0;
	if (err) {
		char existing[PATH_MAX];
		ssize_t n = readlinkat(dir, name, existing, sizeof existing - 1);
		int same = n >= 0 && (existing[n] = '\0', strcmp(existing, op->s1) == 0);
		if (err != EEXIST || !same) {
			errno = EEXIST;
			fail("symlink", op->s2, NULL);
		}
	}
}

/* The content is written in the scratch tmpfs and bound read-only over dest, so a file can
 * replace one inside a read-only bind (/etc/motd under `ro: /etc`). */
static void do_file(const struct plan_op_rec *op)
{
	static unsigned counter;
	char scratch[64];
	snprintf(scratch, sizeof scratch, "/file-%u", counter++);
	int fd = open(scratch, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, op->a);
	if (fd < 0)
		fail("file", op->s1, NULL);
	for (uint32_t done = 0; done < op->blob_len;) {
		ssize_t n = write(fd, op->blob + done, op->blob_len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("file", op->s1, NULL);
		}
		done += (uint32_t)n;
	}
	if (fchmod(fd, op->a))
		fail("file", op->s1, NULL);
	close(fd);
	int tree = sys_open_tree(AT_FDCWD, scratch, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0 || sys_mount_setattr(tree, "", AT_EMPTY_PATH,
					  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV))
		fail("file", op->s1, NULL);
	attach(tree, op->s1, DEST_FILE, "file", NULL);
}

/* A node of an OCI `linux.devices` entry. Only on a tmpfs made here for the view (the compiler
 * places nodes only there, src/oci-runtime/mounts.ts): a node on a host filesystem (the bundle's
 * rootfs, a host tmpfs bound in) would outlive the sandbox and open that device to whoever
 * reaches its path. Told by the directory's mount id, not its filesystem type, and not by the
 * path the compiler judged: a `.` in it, or a symlink of the rootfs on a bind's way, can put a
 * bind of the host's /dev/shm where the compiler sees the view's tmpfs. */
static void do_mknod(const struct plan_op_rec *op)
{
	const char *name;
	uint64_t id;
	int dir = open_parent_made(op->s1, &name, "mknod");
	if (mount_id(dir, &id))
		fail("mknod", op->s1, NULL);
	size_t i = 0;
	while (i < n_own_tmpfs && own_tmpfs[i] != id)
		i++;
	if (i == n_own_tmpfs) {
		errno = EXDEV;
		fail("mknod (only on a tmpfs mount of the container, not a bind)", op->s1, NULL);
	}
	/* Reopened by name below: an O_PATH fd cannot be fchown'ed, and the name is ours (the
	 * sandbox has not run yet). An existing file is kept, as runc keeps it. */
	if (mknodat(dir, name, (mode_t)op->a, (dev_t)op->x)) {
		if (errno != EEXIST)
			fail("mknod", op->s1, NULL);
	} else if (fchownat(dir, name, (uid_t)op->b, (gid_t)op->c, AT_SYMLINK_NOFOLLOW) ||
		   fchmodat(dir, name, op->a & 0777, 0)) {
		fail("mknod owner", op->s1, NULL);
	}
}

static void do_remount_ro(const struct plan_op_rec *op)
{
	int fd = strcmp(op->s1, "/") == 0 ? fcntl(new_fd, F_DUPFD_CLOEXEC, 3)
					  : open_in(new_fd, op->s1, 0);
	if (fd < 0 || sys_mount_setattr(fd, "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY))
		fail("remount read-only", op->s1, NULL);
	close(fd);
}

/* Before the first hook: the namespace takes runc's layout at that step, so that a hook can
 * mount into the view where runc's hooks do, and whatever it mounts is there after the pivot.
 * The view (its "/" mount, with every mount on it) moves onto its rootfs's host path, and the
 * host's tree becomes the root again: a createContainer hook (its root the host's, old_fd) or a
 * prestart/createRuntime one entering this namespace (nsenter -m -t PID) mounting at
 * $bundle/rootfs/... mounts into the view. Only in this namespace (private since begin). */
static void expose_view(void)
{
	if (!root_src || old_fd < 0)
		return;
	forget_parent();
	int to = sys_openat2(old_fd, root_src, O_PATH | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_FLAGS | RESOLVE_NO_SYMLINKS);
	if (to < 0 ||
	    sys_move_mount(new_fd, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		fail("put the view at its rootfs for the hooks", root_src, NULL);
	close(to);
	root_src = NULL; /* once */
	/* The scratch root (and the /newroot tmpfs the view left) is dropped: every view op is done,
	 * and a file of OP_FILE keeps its own mount. */
	if (chrooted) {
		unchroot("make the host's tree the root for the hooks");
		if (umount2(SCRATCH, MNT_DETACH) || chdir("/"))
			fail("make the host's tree the root for the hooks", "/", NULL);
		chrooted = 0; /* finish() pivots from the host's root already */
	} else if (fchdir(old_fd) || sys_pivot_root(".", ".") || umount2(".", MNT_DETACH) ||
		   chdir("/")) {
		fail("make the host's tree the root for the hooks", "/", NULL);
	}
}

/* pivot_root(".", ".") stacks the root (the host's, or the scratch tmpfs pivoted onto it) on the
 * new one; the detach drops it and with it the whole host tree and the scratch tmpfs. */
static void finish(void)
{
	forget_parent();
	unchroot("pivot_root");
	if (fchdir(new_fd) || sys_pivot_root(".", ".") || umount2(".", MNT_DETACH) || chdir("/"))
		fail("pivot_root", "/", NULL);
	drop_kept();
	close(old_fd);
	close(new_fd);
	old_fd = new_fd = -1;
}

void view_build(const struct plan *p, size_t *i)
{
	for (; *i < p->n_ops; (*i)++) {
		const struct plan_op_rec *op = &p->ops[*i];
		/* proc and file ops come only from cordon's own view (src/plan/view.ts), every
		 * destination settled: checked always (two per plan), as they carry no flags. */
		way_settled = (op->code == OP_BIND && (op->a & BIND_SETTLED)) ||
			      (op->code == OP_TMPFS && (op->b & BIND_SETTLED)) ||
			      op->code == OP_PROC || op->code == OP_FILE;
		switch (op->code) {
		case OP_ROOT:
			for (size_t k = *i; k < p->n_ops && !track_tmpfs; k++)
				track_tmpfs = p->ops[k].code == OP_MKNOD;
			begin(p, op->a);
			break;
		case OP_BIND:
			do_bind(p, *i);
			break;
		case OP_TMPFS:
			do_tmpfs(op);
			break;
		case OP_PROC:
			do_proc(op);
			break;
		case OP_DEVPTS:
			do_devpts(op);
			break;
		case OP_MKDIR: {
			int in_cached;
			close(open_dest(op->s1, DEST_DIR, op->a, "mkdir", &in_cached));
			break;
		}
		case OP_SYMLINK:
			do_symlink(op);
			break;
		case OP_FILE:
			do_file(op);
			break;
		case OP_REMOUNT_RO:
			do_remount_ro(op);
			break;
		case OP_FSMOUNT:
			do_fsmount(op);
			break;
		case OP_MKNOD:
			do_mknod(op);
			break;
		case OP_HOOK:
			/* In the runtime's filesystem (the host's, under the scratch root), before the
			 * pivot, as runc's createContainer hooks: the view is not yet the root. */
			expose_view();
			hook_pause();
			hook_run(p, i, old_fd, getpid());
			forget_parent(); /* a hook may have mounted anywhere */
			break;
		case OP_PIVOT:
			if (hook_pause_pending())
				expose_view();
			hook_pause();
			finish();
			return;
		default:
			die_msg("plan: %s inside the filesystem view", plan_op_name(op->code));
		}
	}
}

static int return_ns = -1;

void view_open_return_ns(void)
{
	return_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (return_ns < 0)
		fail("open the launcher's mount namespace", "/proc/self/ns/mnt", NULL);
}

void view_set_return_ns(int fd)
{
	if (return_ns >= 0)
		close(return_ns);
	return_ns = fd;
}

void view_leave(void)
{
	int tree = sys_open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		fail("clone the view", "/", NULL);
	if (setns(return_ns, CLONE_NEWNS))
		fail("go back to the container's mount namespace", "/proc/self/ns/mnt", NULL);
	if (fchdir(tree) || chroot(".") || chdir("/"))
		fail("make the view the root", "/", NULL);
	close(tree);
	close(return_ns);
	return_ns = -1;
}

void view_propagate(const struct plan_op_rec *op)
{
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = root < 0 ? -1 : open_in(root, op->s1, 0);
	unsigned flags = AT_EMPTY_PATH | (op->a & MS_REC ? AT_RECURSIVE : 0);
	if (fd < 0 || sys_mount_propagation(fd, flags, op->a & ~(uint32_t)MS_REC))
		fail("mount propagation", op->s1, NULL);
	close(fd);
	close(root);
}
