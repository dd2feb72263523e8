/* landlock.c — see landlock.h. Struct layouts are the kernel's (uapi/linux/landlock.h), spelled
 * out here because build hosts' headers lag behind the kernels we run on. */
#define _GNU_SOURCE
#include "landlock.h"

#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

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

/* An absolute path opened component by component without following any symlink (ELOOP on
 * one): works where openat2 is refused too (inside another cordon sandbox it is ENOSYS). */
static int open_nofollow(const char *path)
{
	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
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

void landlock_restrict(void)
{
	if (state.fd < 0)
		return;
	if (syscall(SYS_landlock_restrict_self, state.fd, state.row.restrict_flags))
		die_step(EXIT_CORDON, "landlock restrict", NULL, NULL, errno);
	close(state.fd);
	state.fd = -1;
	ev_landlock(state.abi, 0);
}
