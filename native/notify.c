/* notify.c — see notify.h. */
#define _GNU_SOURCE
#include "notify.h"

#include "bpf_eval.h"
#include "events.h"
#include "fdpass.h"
#include "outcome.h"
#include "sys.h"
#include "trace.h"

#include <errno.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV /* Linux 5.19 */
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define TAKE_TIMEOUT_NS 5000000000L
#define PATH_CAPTURE 512
/* A path the kernel takes (PATH_MAX with its NUL) and a byte more, to tell a longer one, which
 * the kernel refuses with ENAMETOOLONG. */
#define RECORD_PATH_MAX (PATH_MAX + 1)

/* No tracer after all: every RET_TRACE outcome becomes RET_USER_NOTIF, answered by the
 * listener instead (same calls, same responder). Only return instructions with a constant
 * are outcomes; nothing else in the program changes. */
static void untrace(const struct sock_fprog *prog)
{
	for (unsigned short i = 0; i < prog->len; i++) {
		struct sock_filter *f = &prog->filter[i];
		if (f->code == (BPF_RET | BPF_K) &&
		    (f->k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_TRACE)
			f->k = SECCOMP_RET_USER_NOTIF;
	}
}

void notify_install(int sock, const struct sock_fprog *prog, unsigned flags, int trace)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		die_step(EXIT_CORDON, "seccomp notify", "pidfd_open", NULL, errno);
	/* seccomp() returns the lowest free fd; nothing allocates one between here and there. */
	int32_t expected = fcntl(pidfd, F_DUPFD_CLOEXEC, 0);
	if (expected < 0 || close(expected))
		die_step(EXIT_CORDON, "seccomp notify", NULL, NULL, errno);
	if (!fd_send(sock, &expected, sizeof expected, pidfd))
		die_step(EXIT_CORDON, "seccomp notify", "send pidfd", NULL, errno);
	if (trace) {
		/* 't': the launcher traces us now (trace.h); 'n': it could not, it said why. */
		char traced = 0;
		if (read(sock, &traced, 1) != 1)
			_exit(EXIT_CORDON);
		if (traced != 't')
			untrace(prog);
	}
	/* Once the launcher has received a notification, the waiting task sleeps killable, not
	 * interruptible: a signal then waits for the answer instead of failing the call with EINTR
	 * (or making it start over and be notified twice). Kernels before 5.19 refuse the flag. */
	int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			      flags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, prog);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
	if (fd < 0) /* EBUSY: a filter of an outer sandbox already has a listener */
		die_step(EXIT_CORDON, errno == EBUSY ? "seccomp listener" : "seccomp", NULL, NULL,
			 errno);
	/* From here on every syscall may wait for the launcher; it is taking the listener. A
	 * mismatch cannot happen (single-threaded, no fd allocated in between) and, if it did,
	 * the launcher never finds a listener at `expected` and kills us when its wait ends. */
	char ack = 0;
	if (fd != expected || read(sock, &ack, 1) != 1 || ack != 'a')
		_exit(EXIT_CORDON);
}

void notify_init(struct notifier *nf, int sock, const uint8_t *responder, size_t len)
{
	memset(nf, 0, sizeof *nf);
	nf->sock = sock;
	nf->listener = -1;
	nf->responder = responder;
	nf->responder_len = len;
}

static int is_listener(int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "anon_inode:seccomp notify") == 0;
}

static int exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Waits for the listener to appear at `expected` in the command's fd table; -1 with errno. */
static int take_listener(int pidfd, int expected)
{
	int64_t deadline = now_ns() + TAKE_TIMEOUT_NS;
	while (now_ns() < deadline) {
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, expected, 0);
		if (fd >= 0) {
			if (is_listener(fd))
				return fd;
			close(fd); /* not there yet: the probe fd number is reused by seccomp() */
		} else if (errno != EBADF) {
			return -1;
		}
		if (exited(pidfd)) {
			errno = ESRCH;
			return -1;
		}
		struct timespec pause = { 0, 20000 };
		nanosleep(&pause, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* The pid (in our namespace) a pidfd refers to, from its fdinfo; -1 with errno. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	const char *p = strstr(buf, "\nPid:\t");
	long pid = p ? strtol(p + 6, NULL, 10) : -1;
	if (pid <= 0)
		errno = ESRCH;
	return pid > 0 ? (pid_t)pid : -1;
}

void notify_on_sock(struct notifier *nf)
{
	int32_t expected = -1;
	int pidfd = fd_recv(nf->sock, &expected, sizeof expected);
	if (pidfd < 0) {
		/* EOF: the command died before sending, and reports why itself. */
		close(nf->sock);
		nf->sock = -1;
		return;
	}
	if (nf->trace) {
		pid_t pid = pidfd_pid(pidfd);
		int err = pid > 0 ? trace_seize(pid) : errno;
		nf->traced = err == 0;
		/* A command that died meanwhile (a forwarded SIGTERM) cannot be traced, nor need it. */
		if (err && !exited(pidfd)) {
			char why[512];
			snprintf(why, sizeof why,
				 "the launcher cannot trace the sandbox (ptrace: %s%s): calls are "
				 "observed by seccomp "
				 "user notification instead, where a signal that arrives before "
				 "the launcher has "
				 "taken a call fails it with EINTR (README, cordon learn)",
				 strerror(err),
				 err == EPERM ? ": Yama ptrace_scope, another tracer or an outer "
						"seccomp filter"
					      : "");
			ev_warning("seccomp trace", why);
		}
		/* Fails only when the command is gone (EPIPE), which take_listener sees next. */
		ssize_t unused = write(nf->sock, nf->traced ? "t" : "n", 1);
		(void)unused;
	}
	nf->listener = take_listener(pidfd, expected);
	if (nf->listener < 0) {
		/* ESRCH: the command died after sending, and its own status says how: of a signal
		 * (a forwarded SIGTERM; it was reported as cordon's failure, exit 125, CI43), or of
		 * EBUSY from seccomp() under an outer listener, which it reported itself. EPERM: an
		 * outer sandbox's filter refuses pidfd_getfd; when that sandbox also has a listener
		 * the command is about to fail EBUSY and report it, so give it that moment instead
		 * of printing the same cause twice. */
		int err = errno;
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		if (err == EPERM && poll(&p, 1, 200) > 0)
			err = ESRCH;
		if (err != ESRCH) {
			if (err == EPERM)
				ev_step_error("seccomp listener", "pidfd_getfd", NULL, err);
			else
				ev_step_error("seccomp notify", "take listener", NULL, err);
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			nf->failed = 1;
		}
	} else if (write(nf->sock, "a", 1) != 1) {
		if (!exited(pidfd)) { /* it waits for the 'a' */
			ev_step_error("seccomp notify", "send ack", NULL, errno);
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			nf->failed = 1;
		}
	} else {
		/* With this (6.6+) the kernel hands the CPU straight back to the waiting task when we
		 * answer, instead of an ordinary wake-up: 3x faster per notified call here. Older
		 * kernels say EINVAL, and every answer is a plain wake-up. */
		ioctl(nf->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		      SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	}
	close(pidfd);
	close(nf->sock);
	nf->sock = -1;
}

static void count(struct notifier *nf, uint32_t arch, int nr)
{
	for (int i = 0; i < NOTIFY_ARCHES; i++) {
		if (nf->arches[i].arch == 0)
			nf->arches[i].arch = arch;
		if (nf->arches[i].arch != arch)
			continue;
		if (nr >= 0 && nr < NOTIFY_MAX_NR)
			nf->arches[i].count[nr]++;
		else
			nf->arches[i].other++;
		return;
	}
}

/* Reads the NUL-terminated string at addr in pid's memory; page by page, as
 * process_vm_readv stops at the first unmapped page. 0: read whole; 1: cut at size - 1 bytes
 * (or at an unreadable page); -1: nothing read. */
static int read_string(pid_t pid, uint64_t addr, char *out, size_t size)
{
	size_t got = 0;
	while (got < size - 1) {
		size_t page_left = 4096 - ((addr + got) & 4095);
		size_t want = size - 1 - got < page_left ? size - 1 - got : page_left;
		struct iovec local = { .iov_base = out + got, .iov_len = want };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)(addr + got),
					.iov_len = want };
		ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (n <= 0) {
			if (n == 0)
				errno = EFAULT;
			break;
		}
		if (memchr(out + got, '\0', (size_t)n))
			return 0;
		got += (size_t)n;
	}
	out[got] = '\0';
	return got ? 1 : -1;
}

/* The string at addr into out, or NULL; one the launcher may not read (EPERM: a plain user's
 * launcher and a non-dumpable program, a binary its user may not read or PR_SET_DUMPABLE 0)
 * marks rep unreadable. Said, not passed over: learn and audit cannot judge a call whose path
 * they never saw (helper-142). */
static const char *read_path(pid_t pid, uint64_t addr, char *out, size_t size,
			     struct syscall_report *rep, int *cut)
{
	int r = read_string(pid, addr, out, size);
	if (cut)
		*cut = r == 1;
	if (r >= 0)
		return out;
	if (errno == EPERM)
		rep->unreadable = 1;
	return NULL;
}

/* Makes a recorded relative path absolute, against the directory fd that goes with it or
 * the caller's cwd. readlink of another task's /proc entries names the path as seen from that
 * task's root, so the result is in the sandbox's terms. Leaves path unchanged when it cannot. */
static void absolutize(pid_t pid, int64_t dirfd, char *path, size_t size)
{
	if (path[0] == '/')
		return;
	char link[64], dir[RECORD_PATH_MAX];
	if ((int)dirfd == AT_FDCWD)
		snprintf(link, sizeof link, "/proc/%d/cwd", pid);
	else
		snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, (int)dirfd);
	ssize_t n = readlink(link, dir, sizeof dir - 1);
	if (n <= 0 || dir[0] != '/')
		return;
	dir[n] = '\0';
	size_t dl = (size_t)n, pl = strlen(path);
	if (dl + 1 + pl + 1 > size)
		return;
	memmove(path + dl + 1, path, pl + 1);
	memcpy(path, dir, dl);
	path[dl] = '/';
}

/* The file an exec will run, as the sandboxed process sees it: its ctime in ms (or -1) and, in
 * exe, its path in the sandbox's terms with every symlink followed — what /proc/PID/exe will
 * say ("/usr/bin/dash" for /tmp/innocent -> /bin/sh, "/memfd:x (deleted)" for a memfd), so
 * rules judge the program, not the name it was called by. The lookup happens in the process's
 * root: a relative path is first made absolute in the sandbox's terms (its cwd or the directory
 * fd), then opened beneath /proc/PID/root with RESOLVE_IN_ROOT, so neither an absolute symlink
 * nor ".." the sandbox planted can lead to a host file, and RESOLVE_NO_MAGICLINKS keeps links
 * under the sandbox's /proc from naming one either. The process's own magic links are followed
 * through the host's /proc/PID instead: an empty path with AT_EMPTY_PATH is the directory fd
 * itself (fexecve, a memfd), /proc/self/... and /proc/thread-self/... are the caller's. When
 * the file cannot be placed (a cwd outside its root), nothing is reported. */
static long long exec_target(pid_t pid, int64_t dirfd, const char *path, int empty_path, char *exe,
			     size_t size)
{
	char abs[RECORD_PATH_MAX], link[96];
	int fd = -1;
	exe[0] = '\0';
	size_t n = path ? strlen(path) : 0;
	if (n == 0 && empty_path && (int)dirfd != AT_FDCWD) {
		snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, (int)dirfd);
		fd = open(link, O_PATH | O_CLOEXEC);
	} else if (n > 0 && n < sizeof abs) {
		memcpy(abs, path, n + 1);
		absolutize(pid, dirfd, abs, sizeof abs);
		fd = outcome_open(pid, abs, 1);
	}
	if (fd < 0)
		return -1;
	struct stat st;
	int ok = fstat(fd, &st) == 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, exe, size - 1);
	exe[len > 0 ? len : 0] = '\0';
	close(fd);
	return ok ? (long long)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000 : -1;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* 1 when hash was not seen before (and remembers it); 1 also when memory runs out, so a
 * record is reported twice rather than never. */
static int first_sighting(struct notifier *nf, uint64_t hash)
{
	if (hash == 0)
		hash = 1;
	if (2 * (nf->seen_len + 1) > nf->seen_cap) {
		size_t cap = nf->seen_cap ? 2 * nf->seen_cap : 4096;
		uint64_t *grown = calloc(cap, sizeof *grown);
		if (!grown)
			return 1;
		for (size_t i = 0; i < nf->seen_cap; i++) {
			uint64_t h = nf->seen[i];
			if (!h)
				continue;
			size_t j = (size_t)h & (cap - 1);
			while (grown[j])
				j = (j + 1) & (cap - 1);
			grown[j] = h;
		}
		free(nf->seen);
		nf->seen = grown;
		nf->seen_cap = cap;
	}
	size_t j = (size_t)hash & (nf->seen_cap - 1);
	while (nf->seen[j]) {
		if (nf->seen[j] == hash)
			return 0;
		j = (j + 1) & (nf->seen_cap - 1);
	}
	nf->seen[j] = hash;
	nf->seen_len++;
	return 1;
}

/* Reads up to NOTIFY_STRUCT_MAX bytes at addr (the caller said how many); the count read. */
static size_t read_struct(pid_t pid, uint64_t addr, uint64_t len, uint8_t *out)
{
	size_t want = len < NOTIFY_STRUCT_MAX ? (size_t)len : NOTIFY_STRUCT_MAX;
	if (!addr || !want)
		return 0;
	struct iovec local = { .iov_base = out, .iov_len = want };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = want };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == 0)
		errno = EFAULT;
	return n > 0 ? (size_t)n : 0;
}

/* The record's identity: what makes it worth a line of its own. */
static uint64_t record_hash(const struct seccomp_data *d, const struct syscall_report *rep,
			    unsigned key)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv(h, &d->arch, sizeof d->arch);
	h = fnv(h, &d->nr, sizeof d->nr);
	h = fnv(h, &rep->denied_errno, sizeof rep->denied_errno);
	for (int i = 0; i < 6; i++)
		if (key & (1u << i))
			h = fnv(h, &d->args[i], sizeof d->args[i]);
	h = fnv(h, rep->path ? rep->path : "", rep->path ? strlen(rep->path) + 1 : 1);
	h = fnv(h, rep->path2 ? rep->path2 : "", rep->path2 ? strlen(rep->path2) + 1 : 1);
	if (rep->data)
		h = fnv(h, rep->data, rep->data_len);
	h = fnv(h, &rep->unreadable, sizeof rep->unreadable);
	h = fnv(h, &rep->sock_type, sizeof rep->sock_type);
	h = fnv(h, &rep->sock_proto, sizeof rep->sock_proto);
	return h;
}

/* What an outcome means, without the inode numbers and times that differ on every call: a
 * call that failed and then succeeded is two records. */
static uint64_t outcome_hash(uint64_t h, const struct effect *e)
{
	if (!e)
		return h;
	int sig[] = { e->settled,
		      e->was.present,
		      e->now.present,
		      e->was.ino == e->now.ino && e->was.dev == e->now.dev,
		      e->was.ctime_ns == e->now.ctime_ns,
		      e->was2.present,
		      e->now2.present,
		      e->was2.ino == e->now2.ino,
		      e->opened < 0 ? -1 : (int)(e->opened & 3),
		      e->execed,
		      e->bound_before,
		      e->bound,
		      e->peer };
	return fnv(h, sig, sizeof sig);
}

static void report_record(struct notifier *nf, struct syscall_report *rep)
{
	if (!first_sighting(nf, outcome_hash(rep->record_hash, rep->effect)))
		return;
	rep->record = 1;
	ev_syscall(rep);
}

/* The listener's answer: continue or an errno, by the notification's id. */
struct listener_answer {
	int listener;
	uint64_t id;
};

static int listener_valid(const void *ctx)
{
	const struct listener_answer *a = ctx;
	uint64_t id = a->id;
	return ioctl(a->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void listener_send(const void *ctx, unsigned kind, int err)
{
	const struct listener_answer *a = ctx;
	struct seccomp_notif_resp resp = { .id = a->id };
	if (kind == NOTIFY_KIND_CONTINUE)
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else
		resp.error = -err;
	ioctl(a->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); /* ENOENT: it died meanwhile */
}

void notify_on_listener(struct notifier *nf)
{
	struct seccomp_notif req;
	memset(&req, 0, sizeof req);
	if (ioctl(nf->listener, SECCOMP_IOCTL_NOTIF_RECV, &req))
		return; /* ENOENT: the task died or its syscall was interrupted */
	struct listener_answer la = { .listener = nf->listener, .id = req.id };
	struct notify_answer answer = { .still_valid = listener_valid,
					.send = listener_send,
					.ctx = &la };
	notify_handle(nf, (pid_t)req.pid, &req.data, &answer);
}

void notify_handle(struct notifier *nf, pid_t pid, const struct seccomp_data *d,
		   const struct notify_answer *answer)
{
	/* This thread's previous call has returned: its outcome can be read now. */
	struct syscall_report *earlier = outcome_settle(pid);
	if (earlier)
		report_record(nf, earlier);
	uint32_t r = bpf_run(nf->responder, nf->responder_len, (const uint8_t *)d);
	unsigned kind = r >> 30, key = (r >> 24) & 0x3f, record = (r >> 23) & 1,
		 sarg = (r >> 20) & 7, want_stat = (r >> 19) & 1, arg = (r >> 16) & 7,
		 arg2 = (r >> 13) & 7, at = (r >> 12) & 1;
	int err = kind == NOTIFY_KIND_DENY && (r & 0xfff) ? (int)(r & 0xfff) : EPERM;
	/* A call that goes on: the low bits say which outcome checks it gets (outcome.h). */
	unsigned checks = kind == NOTIFY_KIND_CONTINUE && record ? (r & OUTCOME_CHECKS) : 0;
	static char path[RECORD_PATH_MAX], path2[RECORD_PATH_MAX];
	/* An exec's whole path: cut, it named another file than the kernel runs, and the shell
	 * behind a 511-byte prefix ran as the link the prefix named (helper-151). */
	size_t cap = record || want_stat ? sizeof path : PATH_CAPTURE;
	int cut = 0;
	struct syscall_report rep = { .arch = d->arch,
				      .nr = d->nr,
				      .pid = (long)pid,
				      .denied_errno = kind == NOTIFY_KIND_CONTINUE ? 0 : err,
				      .ctime_ms = -1 };
	uint8_t data[NOTIFY_STRUCT_MAX];
	if (arg >= 1 && arg <= 6)
		rep.path = read_path(pid, d->args[arg - 1], path, cap, &rep, &cut);
	if (arg2 >= 1 && arg2 <= 6)
		rep.path2 = read_path(pid, d->args[arg2 - 1], path2, cap, &rep, NULL);
	if (sarg >= 1 && sarg <= 5) {
		rep.data_len = read_struct(pid, d->args[sarg - 1], d->args[sarg], data);
		rep.data = rep.data_len ? data : NULL;
		if (!rep.data_len && d->args[sarg - 1] && errno == EPERM)
			rep.unreadable = 1;
	}
	/* bind and connect (their address is argument 2, the socket argument 0): what kind of
	 * socket an IP address is for. Only TCP's ports are Landlock's to judge; a UDP socket is
	 * not a TCP port's business (audit.ts), and a UDP and a TCP connect are two records. */
	sa_family_t family = 0;
	if (record && sarg == 2 && rep.data_len >= sizeof family)
		memcpy(&family, data, sizeof family);
	if ((family == AF_INET || family == AF_INET6) &&
	    !outcome_socket_kind(pid, (int)d->args[0], &rep.sock_type, &rep.sock_proto))
		rep.sock_type = rep.sock_proto = 0;
	/* Still the same task (the pid was not reused) while we read its memory? */
	if ((rep.path || rep.path2 || rep.data) && answer->still_valid &&
	    !answer->still_valid(answer->ctx)) {
		rep.path = rep.path2 = NULL;
		rep.data = NULL;
		rep.sock_type = rep.sock_proto = 0;
	}
	if (record) {
		if (rep.path && arg >= 1)
			absolutize(pid, at && arg >= 2 ? (int64_t)d->args[arg - 2] : AT_FDCWD, path,
				   sizeof path);
		if (rep.path2 && arg2 >= 1)
			absolutize(pid, at && arg2 >= 2 ? (int64_t)d->args[arg2 - 2] : AT_FDCWD,
				   path2, sizeof path2);
	}
	static char exe[RECORD_PATH_MAX];
	if (want_stat) {
		/* execveat(fd, "", argv, envp, AT_EMPTY_PATH): the path argument is empty (not
		 * reported), the program is the fd. The flags follow the path, argv and envp. */
		int64_t dirfd = at && arg >= 2 ? (int64_t)d->args[arg - 2] : AT_FDCWD;
		int empty = at && arg >= 2 && arg + 2 <= 5 && (d->args[arg + 2] & AT_EMPTY_PATH);
		/* Cut at PATH_MAX: a path the kernel refuses, which runs nothing. */
		rep.ctime_ms =
			exec_target(pid, dirfd, cut ? NULL : rep.path, empty, exe, sizeof exe);
		rep.exe = exe[0] ? exe : NULL;
	}
	for (int i = 0; i < 6; i++)
		rep.args[i] = d->args[i];
	if (record)
		rep.record_hash = record_hash(d, &rep, key);
	/* The state before the call, taken while it still waits for our answer. */
	int deferred = checks && outcome_defer(pid, &rep, checks) == 0;
	answer->send(answer->ctx, kind, err);
	nf->handled++;
	count(nf, d->arch, d->nr);
	if (deferred)
		return;
	if (record) {
		/* Checks wanted but no room to wait for them: reported with an unknown outcome. */
		struct effect unknown = { .checks = checks, .opened = -1 };
		rep.effect = checks ? &unknown : NULL;
		report_record(nf, &rep);
		return;
	}
	ev_syscall(&rep);
}

void notify_report_leftovers(struct notifier *nf)
{
	for (struct syscall_report *rep; (rep = outcome_leftover()) != NULL;)
		report_record(nf, rep);
}

void notify_report_counts(struct notifier *nf, int force)
{
	if (!force && nf->handled == nf->counted_at_last_report)
		return;
	nf->counted_at_last_report = nf->handled;
	ev_syscall_counts(nf);
}
