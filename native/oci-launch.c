/* oci-launch.c — the launch helper of cordon-oci's `create` (protocol in oci-launch.h). */
#define _GNU_SOURCE
#include "oci-launch.h"
#include "forward-signal.h"
#include "oci-hook.h"
#include "oci-state.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The launcher's arguments are paths and flags, but a hooked launch carries the hooks' argv and
 * env and two states with the config's annotations, which the spec does not bound (64 KiB
 * failed a create the Node half ran): a request beyond this is not Node's (launch-helper.ts
 * MAX_REQUEST refuses one first). */
#define MAX_REQUEST (16 * 1024 * 1024)

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void reply(int fd, int32_t kind, int32_t value)
{
	unsigned char msg[8];
	put_le32(msg, (uint32_t)kind);
	put_le32(msg + 4, (uint32_t)value);
	/* Node gone (EPIPE, SIGPIPE ignored): nothing left to tell. */
	if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg) {
	}
}

/* The request's strings as a NULL-terminated array (pointers into buf; *n of them), or NULL
 * when they are malformed. */
static char **parse_strings(char *buf, size_t len, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < len; i++)
		*n += buf[i] == 0;
	if (len == 0 || buf[len - 1] != 0)
		return NULL;
	char **strs = calloc(*n + 1, sizeof *strs);
	if (!strs)
		return NULL;
	for (size_t i = 0, k = 0; i < len; i += strlen(buf + i) + 1)
		strs[k++] = buf + i;
	return strs;
}

/* The signal state Node's spawnSync gave the launcher (libuv resets it in the child): every
 * disposition default and nothing blocked. This process has the engine's, and ignored and
 * blocked signals survive execve: the launcher would pass them to the container's process
 * (command.c restores the mask it started with), which then ignores the SIGTERM of `docker
 * stop` or the SIGHUP of a shell's `nohup` where runc's does not. Blocked: FORWARD_SIGNAL
 * alone (`run`'s forwarding), which the launcher takes out of the mask it gives. */
static void reset_signals(void)
{
	sigset_t mask;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL); /* EINVAL for the few that cannot be set: fine */
	sigemptyset(&mask);
	sigaddset(&mask, FORWARD_SIGNAL);
	sigmask_raw(SIG_SETMASK, &mask, NULL); /* glibc's own two too, which the helper blocks */
}

/* The open files limit Node gave the launcher: Node raises its own soft limit at start-up
 * (node.cc PlatformInit, this very search) and its children inherit it, as runc's container
 * does runc's. This process has the engine's, often 1024: a container whose config sets no
 * RLIMIT_NOFILE would get that, and EMFILE where it ran under runc. */
static void raise_nofile(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) || lim.rlim_cur == lim.rlim_max)
		return;
	rlim_t min = lim.rlim_cur, max = (rlim_t)1 << 20;
	if (lim.rlim_max != RLIM_INFINITY)
		min = max = lim.rlim_max;
	else if (min >= max)
		return; /* above the search's ceiling already */
	do {
		lim.rlim_cur = min + (max - min) / 2;
		if (setrlimit(RLIMIT_NOFILE, &lim))
			max = lim.rlim_cur;
		else
			min = lim.rlim_cur;
	} while (min + 1 < max);
}

/* fd moved (close-on-exec) to at least min, so that the launcher's child can dup2 onto
 * numbers below it without clobbering it; -1 on failure (fd closed). */
static int above(int fd, int min)
{
	if (fd >= min)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, min);
	close(fd);
	return moved;
}

/* The runtime's hooks a hooked launch runs when the launcher reports the container's pid
 * (native/hook.h hook_relay), from REQ_LAUNCH_HOOKED's strings (oci-launch.h). */
struct hook_list {
	const char *state[2]; /* prestart's and createRuntime's state, without "pid" */
	char **s; /* the hooks' strings */
	size_t n;
};

/* The hook failure reported with LAUNCH_HOOK_FAILED. */
struct hook_failure {
	int index;
	struct oci_hook_result res;
};

/* LAUNCH_HOOK_FAILED and the hook's index, then its outcome and value (i32), its stderr's
 * length (u32) and that start of its stderr. */
static void reply_hook_failure(int fd, const struct hook_failure *f)
{
	unsigned char msg[20];
	put_le32(msg, LAUNCH_HOOK_FAILED);
	put_le32(msg + 4, (uint32_t)f->index);
	put_le32(msg + 8, (uint32_t)f->res.outcome);
	put_le32(msg + 12, (uint32_t)f->res.value);
	put_le32(msg + 16, (uint32_t)f->res.stderr_len);
	if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg ||
	    write(fd, f->res.stderr_text, f->res.stderr_len) != (ssize_t)f->res.stderr_len) {
	}
}

static int parse_count(const char *text, size_t max, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || !*text || *end || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Runs every hook in order with the container's pid in its state; returns -1 and fills *fail
 * at the first that fails. */
static int run_hooks(const struct hook_list *h, long pid, mode_t mask, struct hook_failure *fail)
{
	int index = 0;
	for (size_t i = 0; i < h->n; index++) {
		/* kind, path, timeout, nargs, args..., nenv, env... (checked by parse_hooks) */
		int kind = strcmp(h->s[i], "prestart") != 0;
		const char *path = h->s[i + 1];
		size_t timeout, nargs, nenv;
		parse_count(h->s[i + 2], UINT_MAX, &timeout);
		parse_count(h->s[i + 3], MAX_REQUEST, &nargs);
		char **args = h->s + i + 4;
		parse_count(h->s[i + 4 + nargs], MAX_REQUEST, &nenv);
		char **env = h->s + i + 5 + nargs;
		i += 5 + nargs + nenv;
		char *const path_only[] = { (char *)path, NULL };
		char **argv = nargs ? calloc(nargs + 1, sizeof *argv) : NULL;
		char **envp = calloc(nenv + 1, sizeof *envp);
		const char *base = h->state[kind];
		size_t base_len = strlen(base);
		char *state = malloc(base_len + 32);
		if ((nargs && !argv) || !envp || !state) {
			fail->index = index;
			fail->res.outcome = HOOK_NOT_RUN, fail->res.value = ENOMEM;
			free(argv), free(envp), free(state);
			return -1;
		}
		if (nargs)
			memcpy(argv, args, nargs * sizeof *argv);
		memcpy(envp, env, nenv * sizeof *envp);
		/* hooks.ts: { ...state, pid }: the pid last (parse_hooks: base ends in a '}' after a
		 * member). */
		memcpy(state, base, base_len - 1);
		int len = (int)(base_len - 1) + sprintf(state + base_len - 1, ",\"pid\":%ld}", pid);
		int r = oci_hook_run(path, nargs ? argv : path_only, envp, state, (size_t)len,
				     (unsigned)timeout, mask, &fail->res);
		free(argv), free(envp), free(state);
		if (r) {
			fail->index = index;
			return -1;
		}
	}
	return 0;
}

/* The launcher's pid line on the hook channel (hook_relay), or -1 at EOF: it failed first. */
static long read_pid_line(int fd)
{
	char line[32];
	size_t len = 0;
	while (len < sizeof line - 1) {
		ssize_t r = read(fd, line + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			return -1;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = 0;
	char *end;
	long pid = strtol(line, &end, 10);
	return len && !*end && pid > 0 ? pid : -1;
}

/* Runs the launcher as Node's spawnSync did (same environment, fds and working directory, the
 * umask Node set) and tells Node how it ended. With hooks (hook_fd >= 0), the launcher gets a
 * socket at hook_fd, as Node's spawn gave it, and the hooks run here when it reports the
 * container's pid: the container goes on on success, is killed by the launcher otherwise.
 * Returns 0 when it exited 0. */
static int launch(int sock, mode_t mask, int report_start, char **argv, int hook_fd,
		  const struct hook_list *hooks)
{
	int err[2], hs[2] = { -1, -1 };
	if (pipe2(err, O_CLOEXEC)) {
		reply(sock, LAUNCH_NOT_RUN, errno);
		return -1;
	}
	if (hook_fd >= 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hs) ||
		    (hs[0] = above(hs[0], hook_fd + 1)) < 0 ||
		    (err[1] = above(err[1], hook_fd + 1)) < 0) {
			reply(sock, LAUNCH_NOT_RUN, errno);
			return -1;
		}
	}
	pid_t pid = fork();
	if (pid < 0) {
		reply(sock, LAUNCH_NOT_RUN, errno);
		return -1;
	}
	if (pid == 0) {
		close(err[0]);
		reset_signals();
		raise_nofile();
		umask(mask);
		if (hook_fd >= 0 && dup2(hs[0], hook_fd) < 0) /* dup2: not close-on-exec */
			_exit(127);
		execv(argv[0], argv);
		int e = errno;
		if (write(err[1], &e, sizeof e) != (ssize_t)sizeof e) {
		}
		_exit(127);
	}
	close(err[1]);
	/* `run`: Node forwards its signals to the launcher until the answer below. The pid stays
	 * the launcher's until this process reaps it, which is after that answer. */
	if (report_start)
		reply(sock, LAUNCH_STARTED, pid);
	int e = 0;
	ssize_t r;
	do
		r = read(err[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(err[0]);
	struct hook_failure failure = { .index = -1 };
	if (hook_fd >= 0) {
		close(hs[0]);
		long cpid = r == (ssize_t)sizeof e ? -1 : read_pid_line(hs[1]);
		/* 'c' lets the container go on; closing without it makes the launcher kill it. */
		if (cpid > 0 && run_hooks(hooks, cpid, mask, &failure) == 0 &&
		    write(hs[1], "c", 1) != 1) {
		}
		close(hs[1]);
	}
	/* `run`: Node signals the launcher's pid until it has read the answer, so the launcher is
	 * left a zombie (WNOWAIT), its pid unused by another process, until Node closes the socket
	 * after it; reaped first, a signal in between could reach a process that reused the pid. */
	siginfo_t info;
	memset(&info, 0, sizeof info);
	while (waitid(P_PID, (id_t)pid, &info, WEXITED | (report_start ? WNOWAIT : 0)) < 0)
		if (errno != EINTR) {
			reply(sock, LAUNCH_NOT_RUN, errno);
			return -1;
		}
	int signaled = info.si_code != CLD_EXITED, code = info.si_status;
	if (failure.index >= 0)
		reply_hook_failure(sock, &failure);
	else if (r == (ssize_t)sizeof e)
		reply(sock, LAUNCH_NOT_RUN, e);
	else if (signaled)
		reply(sock, LAUNCH_SIGNALED, code);
	else
		reply(sock, LAUNCH_EXITED, code);
	if (report_start) {
		char c;
		ssize_t k;
		do
			k = read(sock, &c, 1);
		while (k > 0 || (k < 0 && errno == EINTR));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
	}
	return failure.index >= 0 || r == (ssize_t)sizeof e || signaled || code ? -1 : 0;
}

/* REQ_LAUNCH_HOOKED's strings after the hook fd: the launcher's argc and argv, the two states,
 * then the hooks. Checks every count and state; returns argv's start, or NULL. */
static char **parse_hooked(char **s, size_t n, int *hook_fd, struct hook_list *h)
{
	size_t fd, argc;
	if (n < 4 || parse_count(s[0], 1024, &fd) || fd < 3 || parse_count(s[1], n - 2, &argc) ||
	    argc == 0 || n < 2 + argc + 3)
		return NULL;
	char **argv = s + 2;
	for (int k = 0; k < 2; k++) {
		const char *st = s[2 + argc + k];
		size_t len = strlen(st);
		if (len < 3 || st[0] != '{' || st[len - 1] != '}')
			return NULL;
		h->state[k] = st;
	}
	h->s = s + 2 + argc + 2;
	h->n = n - (2 + argc + 2);
	for (size_t i = 0; i < h->n;) {
		size_t nargs, nenv, timeout;
		if (i + 5 > h->n ||
		    (strcmp(h->s[i], "prestart") && strcmp(h->s[i], "createRuntime")) ||
		    h->s[i + 1][0] != '/' || parse_count(h->s[i + 2], UINT_MAX, &timeout) ||
		    parse_count(h->s[i + 3], h->n, &nargs) || i + 5 + nargs > h->n ||
		    parse_count(h->s[i + 4 + nargs], h->n, &nenv) || i + 5 + nargs + nenv > h->n)
			return NULL;
		i += 5 + nargs + nenv;
	}
	*hook_fd = (int)fd;
	argv[argc] = NULL; /* the first state's slot: kept in h->state */
	return argv;
}

static const char *const SYSCTL_NS[] = { "net", "ipc", "uts" };

/* The sysctl file's path beneath /proc/sys as Node gave it (sysctl.ts resolveSysctls checked
 * it): relative, no "." or ".." component. Checked again: this process is root. */
static int sysctl_path_ok(const char *path)
{
	if (!*path || *path == '/')
		return 0;
	for (const char *c = path; *c;) {
		size_t len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += len + (c[len] == '/');
	}
	return 1;
}

/* Opens each namespace of pid that a sysctl names, checks that pid is still the process of
 * start_time (a pid reused meanwhile is never entered), enters it and writes the value. Returns
 * -1 when every write was made, else the index of the failed one with *err set. */
static int write_sysctls(long pid, const char *start_time, char **s, size_t n, int *err)
{
	struct stat own[3];
	for (size_t k = 0; k < 3; k++) {
		char path[32];
		snprintf(path, sizeof path, "/proc/self/ns/%s", SYSCTL_NS[k]);
		if (stat(path, &own[k]))
			return *err = errno, 0;
	}
	if (n % 3)
		return *err = EINVAL, (int)(n / 3);
	for (size_t i = 0; i < n; i += 3) {
		const int idx = (int)(i / 3);
		size_t k = 0;
		while (k < 3 && strcmp(s[i], SYSCTL_NS[k]))
			k++;
		if (k == 3 || !sysctl_path_ok(s[i + 1]))
			return *err = EINVAL, idx;
		char path[64], state[8], start[32];
		snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, SYSCTL_NS[k]);
		int ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			return *err = errno, idx;
		struct stat st;
		if (oci_proc_stat(pid, state, sizeof state, start, sizeof start) ||
		    strcmp(start, start_time) || fstat(ns, &st)) {
			close(ns);
			return *err = ESRCH, idx;
		}
		if (st.st_dev == own[k].st_dev && st.st_ino == own[k].st_ino) {
			close(ns);
			return *err = SYSCTL_OWN_NAMESPACE, idx;
		}
		int r = setns(ns, 0);
		close(ns);
		if (r)
			return *err = errno, idx;
		/* Looked up after setns: /proc/sys/net is the entered namespace's. */
		int dir = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
		int fd = dir < 0 ? -1
				 : sys_openat2(dir, s[i + 1], O_WRONLY | O_CLOEXEC,
					       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
						       RESOLVE_NO_MAGICLINKS);
		if (dir >= 0)
			close(dir);
		if (fd < 0)
			return *err = errno, idx;
		size_t len = strlen(s[i + 2]);
		ssize_t w = write(fd, s[i + 2], len);
		int e = errno;
		close(fd);
		if (w != (ssize_t)len)
			return *err = w < 0 ? e : EIO, idx;
	}
	return -1;
}

/* One request: its kind and payload (malloc'd, *len bytes), or -1 at EOF or a malformed one. */
static int next_request(int sock, char **payload, size_t *len)
{
	unsigned char head[4];
	if (read_full(sock, head, sizeof head))
		return -1;
	uint32_t n = le32(head);
	if (n < 8 || n > MAX_REQUEST)
		return -1;
	char *buf = malloc(n);
	if (!buf || read_full(sock, buf, n)) {
		free(buf);
		return -1;
	}
	*payload = buf;
	*len = n;
	return (int)le32((unsigned char *)buf);
}

/* `run` in the foreground: a terminal's ^C or ^\ reaches the whole process group, as does
 * systemd's stop (SIGTERM to the cgroup) or `kill -TERM -PGID`, and this process must outlive the
 * launcher to tell Node its status (Node forwards the signals it gets to the launcher; the
 * launcher's child resets them). Every one the launcher passes on (--all-signals), and a Ctrl-Z,
 * which stops the command: to `action`. SIGPIPE stays ignored whatever it is. */
static void job_signals(void (*action)(int))
{
	for (int sig = 1; sig < _NSIG; sig++)
		if ((forwarded_any(sig) || sig == SIGTSTP) && sig != SIGPIPE)
			signal(sig, action);
}

/* `caller_mask`: the caller's signal mask, to restore once the job's signals are ignored (a
 * foreground `run`), or NULL. */
static noreturn void serve(int sock, const sigset_t *caller_mask)
{
	signal(SIGPIPE, SIG_IGN);
	/* From the start, not from Node's request on: Node holds the job's signals from early in
	 * its start and passes them on once the launcher runs, and a job-wide one in between ended
	 * this process, and the run with it (helper-133). Blocked since before the fork (CI36: one
	 * right after it ended this process): setting SIG_IGN discards one pending. */
	if (caller_mask) {
		job_signals(SIG_IGN);
		/* glibc's own two, which glibc lets no one ignore: blocked for this process's life
		 * (forward-signal.h glibc_own; a job-wide 33 ended it, and left the container
		 * running with no one to report it). The launcher's start gives it them back. */
		sigset_t keep = *caller_mask;
		add_glibc_own(&keep);
		sigmask_raw(SIG_SETMASK, &keep, NULL);
	}
	char *buf;
	size_t len, n;
	/* EOF: Node took another path, failed, or ended. */
	int kind = next_request(sock, &buf, &len);
	if (kind != REQ_LAUNCH && kind != REQ_LAUNCH_HOOKED)
		_exit(0);
	uint32_t word = le32((unsigned char *)buf + 4),
		 mask = word & ~(uint32_t)LAUNCH_REPORT_START;
	int report_start = (word & LAUNCH_REPORT_START) != 0;
	job_signals(report_start ? SIG_IGN : SIG_DFL);
	char **argv = parse_strings(buf + 8, len - 8, &n);
	int hook_fd = -1;
	struct hook_list hooks = { 0 };
	if (argv && kind == REQ_LAUNCH_HOOKED)
		argv = parse_hooked(argv, n, &hook_fd, &hooks);
	if (!argv || n == 0 || mask > 0777) {
		reply(sock, LAUNCH_NOT_RUN, EINVAL);
		_exit(0);
	}
	unsetenv(LAUNCH_FD_ENV);
	if (launch(sock, (mode_t)mask, report_start, argv, hook_fd, &hooks))
		_exit(0);
	if (next_request(sock, &buf, &len) != REQ_SYSCTL)
		_exit(0);
	long pid = (long)le32((unsigned char *)buf + 4);
	char **s = parse_strings(buf + 8, len - 8, &n);
	int err = EINVAL, failed = 0;
	if (s && n > 0 && pid > 0)
		failed = write_sysctls(pid, s[0], s + 1, n - 1, &err);
	reply(sock, failed, failed < 0 ? 0 : err);
	_exit(0);
}

int launch_helper_start(int foreground)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	/* Node's end survives execve; above every fd the engine gave (those are open here). */
	int node_end = fcntl(sv[0], F_DUPFD, 3);
	close(sv[0]);
	if (node_end < 0) {
		close(sv[1]);
		return -1;
	}
	char value[16];
	snprintf(value, sizeof value, "%d", node_end);
	sigset_t all, mask;
	if (foreground) {
		sigfillset(&all);
		add_glibc_own(&all); /* which glibc leaves out of a filled set */
		sigmask_raw(SIG_BLOCK, &all, &mask);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(node_end);
		serve(sv[1], foreground ? &mask : NULL);
	}
	/* Here a signal blocked meanwhile takes its action now, as it would have before. */
	if (foreground)
		sigmask_raw(SIG_SETMASK, &mask, NULL);
	if (pid < 0) {
		close(node_end);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	if (setenv(LAUNCH_FD_ENV, value, 1)) {
		close(node_end);
		return -1;
	}
	return 0;
}
