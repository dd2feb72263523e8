/* Probes on files: can a sandbox leave a setuid/setgid file behind, or change a host device
 * node? Both are made harmless: a planted file holds a line of text, never a program, and a
 * device node is given the mode, owner and times it already has (a call that gets through
 * changes only its ctime, which is what `cordon verify` looks for on the host). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "attack.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

enum how { AT_PATH, BY_PATH, BY_FD, CREATE };

/* One way to get a setuid/setgid file: chmod-like calls change an existing plain file, create
 * calls make it with the bits. Each writes its own file, named after the call. */
struct plant {
	const char *call;
	long nr;
	enum how how;
	unsigned mode;
};

static const struct plant PLANTS[] = {
	{ "fchmodat", SYS_fchmodat, AT_PATH, 04755 },
	{ "fchmodat2", SYS_fchmodat2, AT_PATH, 02755 },
	{ "fchmod", SYS_fchmod, BY_FD, 06755 },
	{ "openat", SYS_openat, CREATE, 04755 },
	{ "mknodat", SYS_mknodat, CREATE, 04755 },
#ifdef SYS_chmod /* the legacy entry points a filter must cover too */
	{ "chmod", SYS_chmod, BY_PATH, 02755 },
	{ "open", SYS_open, CREATE, 02755 },
	{ "creat", SYS_creat, CREATE, 04755 },
	{ "mknod", SYS_mknod, CREATE, 02755 },
#endif
};

static const char TEXT[] = "cordon verify: a planted file, never a program\n";

static long plant_one(const struct plant *p, const char *path, int *err)
{
	long r = -1;
	if (p->how != CREATE) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			*err = errno;
			return -1;
		}
		if (write(fd, TEXT, sizeof TEXT - 1) < 0) {
			/* the content does not matter, only the mode */
		}
		r = p->how == BY_FD	? syscall(p->nr, fd, p->mode)
		    : p->how == BY_PATH ? syscall(p->nr, path, p->mode)
					: syscall(p->nr, AT_FDCWD, path, p->mode, 0);
		*err = errno;
		close(fd);
		return r;
	}
	unlink(path);
	if (p->nr == SYS_openat)
		r = syscall(p->nr, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    p->mode);
	else if (p->nr == SYS_mknodat)
		r = syscall(p->nr, AT_FDCWD, path, S_IFREG | p->mode, 0);
#ifdef SYS_chmod
	else if (p->nr == SYS_open)
		r = syscall(p->nr, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, p->mode);
	else if (p->nr == SYS_creat)
		r = syscall(p->nr, path, p->mode);
	else if (p->nr == SYS_mknod)
		r = syscall(p->nr, path, S_IFREG | p->mode, 0);
#endif
	*err = errno;
	if (r >= 0 && p->nr != SYS_mknodat && p->nr != SYS_mknod)
		close((int)r);
	return r;
}

/* Escaped (inside) when a call succeeded and the file kept a bit; `cordon verify` then checks
 * the host's copy, which decides. Blocked: the fchmodat attempt's errno. */
struct result p_setuid_plant(const char *dir)
{
	umask(022);
	struct result blocked = fail_with("fchmodat", 0);
	char kept[sizeof blocked.detail] = "";
	const char *first = NULL;
	for (size_t i = 0; i < sizeof PLANTS / sizeof *PLANTS; i++) {
		const struct plant *p = &PLANTS[i];
		char path[512];
		snprintf(path, sizeof path, "%s/plant-%s-%o", dir ? dir : ".", p->call, p->mode);
		int err = 0;
		long r = plant_one(p, path, &err);
		struct stat st;
		if (r >= 0 && stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
			first = first ? first : p->call;
			size_t used = strlen(kept);
			snprintf(kept + used, sizeof kept - used, "%s%s", used ? " " : "", p->call);
		} else if (i == 0) {
			blocked = fail_with(r < 0 && err ? p->call : "fchmodat", r < 0 ? err : 0);
		}
	}
	if (first) {
		struct result r = escaped(first, "");
		snprintf(r.detail, sizeof r.detail, "setuid/setgid files made by %s", kept);
		return r;
	}
	return blocked;
}

static long metadata_call(int k, const char *node, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	switch (k) {
	case 0:
		return syscall(SYS_fchmodat, AT_FDCWD, node, st->st_mode & 07777, 0);
	case 1:
		return syscall(SYS_fchownat, AT_FDCWD, node, st->st_uid, st->st_gid, 0);
	default:
		return syscall(SYS_utimensat, AT_FDCWD, node, times, 0);
	}
}

/* The host's device nodes, bound into the view: given the metadata they already have, so a
 * call the kernel lets through is visible on the host (ctime) and harms nothing. Escaped when
 * any call succeeded; blocked: the first failure's call and errno. */
struct result p_device_metadata(const char *arg)
{
	(void)arg;
	static const char *const nodes[] = { "/dev/null", "/dev/zero", "/dev/full" };
	static const char *const calls[] = { "fchmodat", "fchownat", "utimensat" };
	struct result blocked = fail_with("fchmodat", 0);
	int failed = 0, passed_calls = 0, passed_nodes = 0;
	for (int i = 0; i < 3; i++) {
		struct stat st;
		if (stat(nodes[i], &st)) {
			if (!failed++)
				blocked = fail_with("newfstatat", errno);
			continue;
		}
		for (int k = 0; k < 3; k++) {
			long r = metadata_call(k, nodes[i], &st);
			int err = errno;
			if (r == 0) {
				passed_calls |= 1 << k;
				passed_nodes |= 1 << i;
			} else if (!failed++) {
				blocked = fail_with(calls[k], err);
			}
		}
	}
	if (!passed_calls)
		return blocked;
	char detail[sizeof blocked.detail] = "";
	for (int k = 0; k < 3; k++)
		if (passed_calls & 1 << k)
			snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s ",
				 calls[k]);
	snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "passed on");
	for (int i = 0; i < 3; i++)
		if (passed_nodes & 1 << i)
			snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " %s",
				 nodes[i]);
	const char *first = calls[__builtin_ctz((unsigned)passed_calls)];
	return escaped(first, detail);
}
