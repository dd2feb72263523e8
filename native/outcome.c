/* outcome.c — see outcome.h. Every look happens in the sandbox's terms: paths beneath
 * /proc/TID/root with RESOLVE_IN_ROOT (as notify.c's ctime lookup), fds through /proc/TID/fd
 * and pidfd_getfd. Nothing here changes what the program sees: only stat, readlink and
 * read-only socket queries, on our own copies of its fds. */
#define _GNU_SOURCE
#include "outcome.h"

#include "sys.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define SLOTS 256
#define SKIP_FDS 8
#define AUXV_MAX 512

struct slot {
	pid_t tid; /* 0: free */
	struct syscall_report rep;
	struct effect effect;
	char *path, *path2, *exe;
	uint8_t *data;
	int skip[SKIP_FDS]; /* fds already open on the path's file before the call */
	int n_skip;
	unsigned long long exe_dev, exe_ino;
	uint64_t auxv_hash;
	pid_t tgid; /* an exec's: the process the calling thread was in */
	int superseded; /* an exec's: another exec of its process succeeded (exec_moved) */
};

static struct slot slots[SLOTS];
static int used;
static struct slot *handed; /* what the last settle/leftover returned: freed on the next call */

static void release(struct slot *s)
{
	free(s->path);
	free(s->path2);
	free(s->exe);
	free(s->data);
	memset(s, 0, sizeof *s);
	used--;
}

static void release_handed(void)
{
	if (handed)
		release(handed);
	handed = NULL;
}

/* tid's process and thread ids in its innermost pid namespace (NStgid, NSpid), or 0. */
static void inner_ids(pid_t tid, long *tgid, long *id)
{
	char name[64], text[2048];
	*tgid = *id = 0;
	snprintf(name, sizeof name, "/proc/%d/status", tid);
	int f = open(name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	ssize_t n = read(f, text, sizeof text - 1);
	close(f);
	if (n <= 0)
		return;
	text[n] = '\0';
	const char *keys[] = { "\nNStgid:", "\nNSpid:" };
	long *out[] = { tgid, id };
	for (int k = 0; k < 2; k++) {
		const char *p = strstr(text, keys[k]);
		if (!p)
			continue;
		p += strlen(keys[k]);
		const char *end = strchr(p, '\n');
		for (char *next; p && (!end || p < end);) { /* the last number on the line */
			long v = strtol(p, &next, 10);
			if (next == p)
				break;
			*out[k] = v;
			p = next;
		}
	}
}

static int in_root(pid_t tid, const char *abs, int nofollow)
{
	char root[64];
	snprintf(root, sizeof root, "/proc/%d/root", tid);
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -1;
	int fd = sys_openat2(rfd, abs, O_PATH | O_CLOEXEC | nofollow,
			     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	int err = errno;
	close(rfd);
	errno = err;
	return fd;
}

static int open_direct(pid_t tid, const char *abs, int nofollow)
{
	const char *own = NULL;
	int thread = 0;
	if (strncmp(abs, "/proc/self/", 11) == 0)
		own = abs + 11;
	else if (strncmp(abs, "/proc/thread-self/", 18) == 0)
		own = abs + 18, thread = 1;
	if (!own)
		return in_root(tid, abs, nofollow);
	/* The caller's own proc entries: in the sandbox's proc under the ids it has there (the
	 * same files its fds are on), and magic links (fd/N, exe, cwd) through the host's /proc. */
	char path[PATH_MAX];
	long tgid, id;
	inner_ids(tid, &tgid, &id);
	if (tgid > 0) {
		int len =
			thread ? snprintf(path, sizeof path, "/proc/%ld/task/%ld/%s", tgid, id, own)
			       : snprintf(path, sizeof path, "/proc/%ld/%s", tgid, own);
		if (len > 0 && (size_t)len < sizeof path) {
			int fd = in_root(tid, path, nofollow);
			if (fd >= 0 || errno != ELOOP)
				return fd;
		}
	}
	if ((size_t)snprintf(path, sizeof path, "/proc/%d/%s", tid, own) >= sizeof path)
		return -1;
	return open(path, O_PATH | O_CLOEXEC | nofollow);
}

/* Appends "/name" (len bytes) to path; 0 when it does not fit. */
static int append(char *path, size_t size, const char *name, size_t len)
{
	size_t n = strlen(path);
	if (n + 1 + len >= size)
		return 0;
	path[n] = '/';
	memcpy(path + n + 1, name, len);
	path[n + 1 + len] = '\0';
	return 1;
}

/* abs walked component by component in tid's root, each symlink's target read and spliced in,
 * so that a link leading into /proc/self or /proc/thread-self (/etc/mtab -> ../proc/self/mounts,
 * /dev/fd -> /proc/self/fd, /dev/stdin) reaches the caller's own entries: the kernel resolves
 * those as whoever follows them, and the launcher is not the caller. The directories walked so
 * far are real (their links were spliced), so a ".." drops the last one. -1 on failure. */
static int open_walked(pid_t tid, const char *abs, int nofollow)
{
	char done[PATH_MAX] = "", todo[PATH_MAX], target[PATH_MAX];
	if (strlen(abs) >= sizeof todo)
		return -1;
	strcpy(todo, abs);
	for (int hops = 0; hops < 40;) {
		char *p = todo;
		while (*p == '/')
			p++;
		if (!*p)
			return open_direct(tid, done[0] ? done : "/", nofollow);
		size_t len = strcspn(p, "/");
		char *rest = p + len; /* "" or "/..." */
		if (len == 1 && p[0] == '.') {
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(done, '/');
			if (slash)
				*slash = '\0';
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		char next[PATH_MAX];
		strcpy(next, done);
		if (!append(next, sizeof next, p, len))
			return -1;
		if (strcmp(next, "/proc/self") == 0 || strcmp(next, "/proc/thread-self") == 0) {
			if (strlen(next) + strlen(rest) >= sizeof next)
				return -1;
			strcat(next, rest);
			return open_direct(tid, next, nofollow);
		}
		int fd = in_root(tid, next, O_NOFOLLOW);
		if (fd < 0)
			return -1;
		struct stat st;
		int link = fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) && (*rest || !nofollow);
		ssize_t n = link ? readlinkat(fd, "", target, sizeof target - 1) : 0;
		close(fd);
		if (!link) {
			strcpy(done, next);
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		if (n <= 0 || strlen(rest) + (size_t)n + 2 >= sizeof todo)
			return -1;
		target[n] = '\0';
		hops++;
		if (target[0] == '/')
			done[0] = '\0';
		/* rest is within todo: moved up behind the target (lengths checked above). */
		size_t rl = strlen(rest);
		memmove(todo + 1 + (size_t)n, rest, rl + 1);
		todo[0] = '/';
		memcpy(todo + 1, target, (size_t)n);
	}
	errno = ELOOP;
	return -1;
}

int outcome_open(pid_t tid, const char *abs, int follow)
{
	if (!abs || abs[0] != '/')
		return -1;
	int nofollow = follow ? 0 : O_NOFOLLOW;
	int fd = open_direct(tid, abs, nofollow);
	/* The common case costs one lookup: only a path that failed, or that landed in a proc
	 * other than by /proc itself (a link into /proc/self, as the launcher resolves it), is
	 * walked again. */
	struct statfs fs;
	if (fd >= 0 && (strncmp(abs, "/proc/", 6) == 0 || fstatfs(fd, &fs) != 0 ||
			fs.f_type != PROC_SUPER_MAGIC))
		return fd;
	int err = errno;
	int walked = open_walked(tid, abs, nofollow);
	if (walked >= 0) {
		if (fd >= 0)
			close(fd);
		return walked;
	}
	errno = fd >= 0 ? errno : err;
	return fd;
}

/* The file at abs (absolute, in the sandbox's terms) as tid sees it; follow: the last
 * component too. */
static void sandbox_state(pid_t tid, const char *abs, int follow, struct obj_state *out)
{
	memset(out, 0, sizeof *out);
	int fd = outcome_open(tid, abs, follow);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		out->present = 1;
		out->dev = st.st_dev;
		out->ino = st.st_ino;
		out->ctime_ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	}
	if (fd >= 0)
		close(fd);
}

/* The open flags of fd in tid's table (fdinfo "flags:" is octal), -1 when unknown. */
static long fd_flags(pid_t tid, int fd)
{
	char name[64], text[256];
	snprintf(name, sizeof name, "/proc/%d/fdinfo/%d", tid, fd);
	int f = open(name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, text, sizeof text - 1);
	close(f);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	const char *p = strstr(text, "flags:");
	return p ? strtol(p + 6, NULL, 8) : -1;
}

/* Calls fn for each fd of tid open on file (dev, ino); stops when fn returns nonzero. */
static void each_fd_on(pid_t tid, const struct obj_state *file, int (*fn)(void *, int), void *ctx)
{
	if (!file->present)
		return;
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", tid);
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char link[96];
		struct stat st;
		int fd = atoi(de->d_name);
		snprintf(link, sizeof link, "%s/%d", dir, fd);
		if (stat(link, &st) || st.st_dev != file->dev || st.st_ino != file->ino)
			continue;
		if (fn(ctx, fd))
			break;
	}
	closedir(d);
}

static int note_skip(void *ctx, int fd)
{
	struct slot *s = ctx;
	if (s->n_skip < SKIP_FDS)
		s->skip[s->n_skip++] = fd;
	return s->n_skip == SKIP_FDS;
}

struct found {
	struct slot *s;
	pid_t tid;
	long flags;
};

static int note_new(void *ctx, int fd)
{
	struct found *f = ctx;
	for (int i = 0; i < f->s->n_skip; i++)
		if (f->s->skip[i] == fd)
			return 0;
	f->flags = fd_flags(f->tid, fd);
	return f->flags >= 0;
}

/* The process (thread group) tid is a thread of, from /proc/TID/status; 0 when unknown. */
static pid_t thread_group(pid_t tid)
{
	char name[64], buf[1024];
	snprintf(name, sizeof name, "/proc/%d/status", tid);
	int f = open(name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	buf[n > 0 ? n : 0] = '\0';
	const char *p = strstr(buf, "\nTgid:\t");
	return p ? (pid_t)strtol(p + 7, NULL, 10) : 0;
}

/* The program image: the exe's inode and a hash of the auxiliary vector (new on each exec). */
static void image(pid_t tid, unsigned long long *dev, unsigned long long *ino, uint64_t *hash)
{
	char name[64];
	struct stat st;
	snprintf(name, sizeof name, "/proc/%d/exe", tid);
	*dev = *ino = 0;
	if (stat(name, &st) == 0)
		*dev = st.st_dev, *ino = st.st_ino;
	*hash = 0xcbf29ce484222325ULL;
	snprintf(name, sizeof name, "/proc/%d/auxv", tid);
	int f = open(name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	uint8_t buf[AUXV_MAX];
	ssize_t n = read(f, buf, sizeof buf);
	close(f);
	for (ssize_t i = 0; i < n; i++)
		*hash = (*hash ^ buf[i]) * 0x100000001b3ULL;
}

/* Our own copy of the socket at fd in tid's table, or -1. */
static int socket_copy(pid_t tid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (pidfd < 0 && errno == EINVAL) /* not a thread-group leader: a thread pidfd (6.9+) */
		pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pidfd < 0)
		return -1;
	int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	return copy;
}

int outcome_socket_kind(pid_t tid, int fd, int *type, int *protocol)
{
	int s = socket_copy(tid, fd);
	if (s < 0)
		return 0;
	socklen_t tl = sizeof *type, pl = sizeof *protocol;
	int ok = getsockopt(s, SOL_SOCKET, SO_TYPE, type, &tl) == 0 &&
		 getsockopt(s, SOL_SOCKET, SO_PROTOCOL, protocol, &pl) == 0;
	close(s);
	return ok;
}

static void socket_state(pid_t tid, int fd, int *bound, int *peer)
{
	*bound = *peer = 0;
	int s = socket_copy(tid, fd);
	if (s < 0)
		return;
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	if (getsockname(s, (struct sockaddr *)&a, &len) == 0) {
		if (a.ss_family == AF_INET)
			*bound = ((struct sockaddr_in *)&a)->sin_port != 0;
		else if (a.ss_family == AF_INET6)
			*bound = ((struct sockaddr_in6 *)&a)->sin6_port != 0;
		else if (a.ss_family == AF_UNIX)
			*bound = len > offsetof(struct sockaddr_un, sun_path);
	}
	len = sizeof a;
	if (getpeername(s, (struct sockaddr *)&a, &len) == 0) {
		*peer = 1;
	} else {
		/* A non-blocking connect still under way was let through: it counts. */
		struct tcp_info info;
		socklen_t il = sizeof info;
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &il) == 0 &&
		    info.tcpi_state == 2 /* SYN_SENT */)
			*peer = 1;
	}
	close(s);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int outcome_defer(pid_t tid, const struct syscall_report *rep, unsigned checks)
{
	release_handed();
	if (used == SLOTS)
		return -1;
	struct slot *s = NULL;
	for (int i = 0; i < SLOTS && !s; i++)
		if (slots[i].tid == 0)
			s = &slots[i];
	if (!s)
		return -1;
	memset(s, 0, sizeof *s);
	s->path = dup_or_null(rep->path);
	s->path2 = dup_or_null(rep->path2);
	s->exe = dup_or_null(rep->exe);
	if (rep->data && rep->data_len && (s->data = malloc(rep->data_len)) != NULL)
		memcpy(s->data, rep->data, rep->data_len);
	if ((rep->path && !s->path) || (rep->path2 && !s->path2) || (rep->exe && !s->exe) ||
	    (rep->data && rep->data_len && !s->data)) {
		free(s->path);
		free(s->path2);
		free(s->exe);
		free(s->data);
		return -1;
	}
	s->tid = tid;
	used++;
	s->rep = *rep;
	s->rep.path = s->path;
	s->rep.path2 = s->path2;
	s->rep.exe = s->exe;
	s->rep.data = s->data;
	s->effect.checks = checks;
	s->effect.opened = -1;
	if (checks & OUTCOME_PATHS) {
		sandbox_state(tid, s->path, 0, &s->effect.was);
		sandbox_state(tid, s->path2, 0, &s->effect.was2);
	}
	if (checks & OUTCOME_FDS) {
		struct obj_state file;
		sandbox_state(tid, s->path, 1, &file);
		each_fd_on(tid, &file, note_skip, s);
	}
	if (checks & OUTCOME_EXEC) {
		image(tid, &s->exe_dev, &s->exe_ino, &s->auxv_hash);
		s->tgid = thread_group(tid);
	}
	if (checks & OUTCOME_SOCKET) {
		int peer;
		socket_state(tid, (int)rep->args[0], &s->effect.bound_before, &peer);
	}
	return 0;
}

/* An exec by a thread other than the leader succeeds as the leader: the kernel gives the thread
 * the process's id, and its old id is gone, so that id's next call never comes. The new
 * program's first call comes from the process's id: the exec is settled then, or it stayed
 * unknown and learn took it for failed (Go's syscall.Exec from a locked thread, helper-142). */
static struct slot *exec_moved(pid_t tid)
{
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[i];
		if (s->tid && s->tid != tid && s->tgid == tid &&
		    (s->effect.checks & OUTCOME_EXEC) && !s->superseded &&
		    syscall(SYS_tgkill, tid, s->tid, 0) < 0 && errno == ESRCH)
			return s;
	}
	return NULL;
}

/* An exec of process tgid succeeded: its other threads died in it, so an exec another of them
 * had pending failed (or never finished). Not to be taken for moved later: a thread's refused
 * exec, then the leader's own, was learned as the thread's (helper-143). They stay unknown. */
static void supersede_execs(pid_t tgid, const struct slot *done)
{
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[i];
		if (s != done && s->tid && s->tgid == tgid && (s->effect.checks & OUTCOME_EXEC))
			s->superseded = 1;
	}
}

struct syscall_report *outcome_settle(pid_t tid)
{
	release_handed();
	if (!used)
		return NULL;
	struct slot *s = NULL;
	for (int i = 0; i < SLOTS && !s; i++)
		if (slots[i].tid == tid)
			s = &slots[i];
	if (!s)
		s = exec_moved(tid);
	if (!s)
		return NULL;
	struct effect *e = &s->effect;
	e->settled = 1;
	if (e->checks & OUTCOME_PATHS) {
		sandbox_state(tid, s->path, 0, &e->now);
		sandbox_state(tid, s->path2, 0, &e->now2);
	}
	if (e->checks & OUTCOME_FDS) {
		struct obj_state file;
		struct found f = { s, tid, -1 };
		sandbox_state(tid, s->path, 1, &file);
		each_fd_on(tid, &file, note_new, &f);
		e->opened = f.flags;
	}
	if (e->checks & OUTCOME_EXEC) {
		unsigned long long dev, ino;
		uint64_t hash;
		image(tid, &dev, &ino, &hash);
		e->execed = dev != s->exe_dev || ino != s->exe_ino || hash != s->auxv_hash;
		if (e->execed && s->tgid)
			supersede_execs(s->tgid, s);
	}
	if (e->checks & OUTCOME_SOCKET)
		socket_state(tid, (int)s->rep.args[0], &e->bound, &e->peer);
	s->rep.effect = e;
	handed = s;
	return &s->rep;
}

struct syscall_report *outcome_leftover(void)
{
	release_handed();
	for (int i = 0; i < SLOTS && used; i++) {
		if (slots[i].tid == 0)
			continue;
		slots[i].rep.effect = &slots[i].effect; /* settled 0: the outcome is unknown */
		handed = &slots[i];
		return &slots[i].rep;
	}
	return NULL;
}
