/* landlock.c — see landlock.h. Struct layouts are the kernel's (uapi/linux/landlock.h), spelled
 * out here because build hosts' headers lag behind the kernels we run on. */
#define _GNU_SOURCE
#include "landlock.h"

#include "events.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
/* uapi/linux/landlock.h's filesystem rights the standard streams are given (allow_stdio). */
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_TRUNCATE (1ull << 14)
#define LL_FS_IOCTL_DEV (1ull << 15)

struct ll_ruleset_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t allowed_access, port;
};

static struct {
	int fd; /* ruleset; -1 when Landlock is skipped */
	long abi;
	uint64_t file_mask;
	struct landlock_row row;
} state = { .fd = -1 };

void landlock_begin(const struct plan_op_rec *op)
{
	char msg[160];
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 0) {
		int err = errno;
		if (op->b > 0)
			die_step(EXIT_CORDON, "landlock",
				 err == EOPNOTSUPP ? "disabled at boot (lsm=)"
						   : "not in this kernel",
				 NULL, err);
		ev_landlock(0, err);
		return;
	}
	if ((uint64_t)abi < op->b) {
		snprintf(msg, sizeof msg,
			 "the policy requires Landlock ABI %u, this kernel has ABI %ld", op->b,
			 abi);
		die_msg("%s", msg);
	}
	plan_landlock_row(op, (uint32_t)abi, &state.row);
	struct ll_ruleset_attr attr = { state.row.fs, state.row.net, state.row.scoped };
	state.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (state.fd < 0)
		die_step(EXIT_CORDON, "landlock create ruleset", NULL, NULL, errno);
	state.abi = abi;
	state.file_mask = op->x;
}

/* An absolute path opened without following any symlink (ELOOP on one): one openat2 where the
 * kernel lets us, else component by component (inside another cordon sandbox openat2 is ENOSYS). */
static int open_nofollow(const char *path)
{
	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	int fast = sys_openat2(AT_FDCWD, path, O_PATH | O_CLOEXEC,
			       RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fast >= 0 || (errno != ENOSYS && errno != EPERM))
		return fast;
	int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char name[256];
	for (const char *p = path; dir >= 0;) {
		while (*p == '/')
			p++;
		if (!*p)
			return dir;
		size_t len = strcspn(p, "/");
		if (len >= sizeof name || (len == 2 && p[0] == '.' && p[1] == '.')) {
			close(dir);
			errno = len >= sizeof name ? ENAMETOOLONG : EINVAL;
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		int next = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		struct stat st;
		if (next >= 0 && fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
			close(next);
			errno = ELOOP;
			return -1;
		}
		dir = next;
	}
	return -1;
}

void landlock_add_path(const struct plan_op_rec *op)
{
	if (state.fd < 0)
		return;
	/* A host path (no view) was resolved when the plan was made; a symlink swapped in since (a
	 * sandbox sharing the directory) must not redirect the rule: ELOOP instead. */
	int fd = (op->a & LL_RULE_NOFOLLOW) ? open_nofollow(op->s1)
					    : open(op->s1, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		/* An optional rule on a link (a split child such as /etc/localtime) is left out:
		 * Landlock judges the link's target by the rules on the target's own path. */
		if ((errno == ENOENT || (errno == ELOOP && (op->a & LL_RULE_NOFOLLOW))) &&
		    (op->a & LL_RULE_OPTIONAL))
			return;
		die_step(EXIT_CORDON, "landlock rule", op->s1, NULL, errno);
	}
	/* Directory-only rights are invalid on anything else (EINVAL): the rule is tried as the plan
	 * gives it, and only a refusal asks what the path is. Most rules are directories, or grant
	 * no directory-only right: one syscall each, where an fstat first cost every rule (~180 in
	 * the default profile, /etc split around its masks) one more. */
	uint64_t access = op->x & state.row.fs;
	struct ll_path_beneath_attr rule = { access, fd };
	if (access && syscall(SYS_landlock_add_rule, state.fd, LL_RULE_PATH_BENEATH, &rule, 0)) {
		struct stat st;
		int err = errno;
		if (err != EINVAL || fstat(fd, &st) || S_ISDIR(st.st_mode) ||
		    (access & ~state.file_mask) == 0)
			die_step(EXIT_CORDON, "landlock rule", op->s1, NULL, err);
		rule.allowed_access = access & state.file_mask;
		if (rule.allowed_access &&
		    syscall(SYS_landlock_add_rule, state.fd, LL_RULE_PATH_BENEATH, &rule, 0))
			die_step(EXIT_CORDON, "landlock rule", op->s1, NULL, errno);
	}
	close(fd);
}

void landlock_add_port(const struct plan_op_rec *op)
{
	uint64_t access = op->x & state.row.net;
	if (state.fd < 0 || access == 0)
		return; /* no network rights on this ABI: nothing is handled, nothing to allow */
	struct ll_net_port_attr rule = { access, op->y };
	if (syscall(SYS_landlock_add_rule, state.fd, LL_RULE_NET_PORT, &rule, 0)) {
		char port[16];
		snprintf(port, sizeof port, "%llu", (unsigned long long)op->y);
		die_step(EXIT_CORDON, "landlock port rule", port, NULL, errno);
	}
}

/* A device a stream may be that a second open reaches as the first did: the memory devices
 * (null, zero, full, random, urandom: not mem, kmem or port) and a pseudo-terminal's slave. Not
 * /dev/ptmx or /dev/tty, whose every open is another object (a new pty, the opener's own
 * terminal), nor anything else a caller could hand over (a clone device, a disk). */
static int same_on_reopen(dev_t rdev)
{
	unsigned ma = major(rdev), mi = minor(rdev);
	return (ma == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9)) ||
	       (ma >= 136 && ma <= 143);
}

/* The command's standard streams, reopened by name (`echo x > /dev/stderr`, `cat /dev/stdin`,
 * `tee /dev/stdout`: the kernel resolves /proc/self/fd/N to the file the caller gave), are
 * judged by the rules of that file's own path: a file the caller redirected to, or the host's
 * /dev/null, which the view shows elsewhere or not at all, so the reopen failed with EACCES
 * where it works unsandboxed. Each stream that is a regular file, or a device of
 * same_on_reopen's, gets a rule on its own inode with what its fd gives already: read for one
 * open for reading, write (and truncate, and a device's ioctls, which an fd opened before the
 * domain is not held to) for one open for writing. Nothing beyond the fd: another name of the
 * same inode reaches the same data. A pipe, a socket or a memfd has no path Landlock judges
 * (the kernel refuses a rule on one: EBADFD); a rule that fails leaves the stream as it was. */
static void allow_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int flags = fcntl(fd, F_GETFL);
		struct stat st;
		if (flags < 0 || (flags & O_PATH) || fstat(fd, &st) ||
		    !(S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) && same_on_reopen(st.st_rdev))))
			continue;
		int mode = flags & O_ACCMODE;
		uint64_t access = 0;
		if (mode == O_RDONLY || mode == O_RDWR)
			access |= LL_FS_READ_FILE;
		if (mode == O_WRONLY || mode == O_RDWR)
			access |= LL_FS_WRITE_FILE | (S_ISREG(st.st_mode) ? LL_FS_TRUNCATE : 0);
		if (S_ISCHR(st.st_mode))
			access |= LL_FS_IOCTL_DEV;
		struct ll_path_beneath_attr rule = { access & state.row.fs & state.file_mask, fd };
		if (rule.allowed_access)
			(void)syscall(SYS_landlock_add_rule, state.fd, LL_RULE_PATH_BENEATH, &rule,
				      0);
	}
}

void landlock_restrict(void)
{
	if (state.fd < 0)
		return;
	allow_stdio();
	if (syscall(SYS_landlock_restrict_self, state.fd, state.row.restrict_flags))
		die_step(EXIT_CORDON, "landlock restrict", NULL, NULL, errno);
	close(state.fd);
	state.fd = -1;
	ev_landlock(state.abi, 0);
}
