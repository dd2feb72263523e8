/* oci-hook.c — one OCI runtime hook for create's launch helper (see oci-hook.h). */
#define _GNU_SOURCE
#include "oci-hook.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* libuv's child side of spawnSync: signals default and unblocked, stdio, nothing else open. */
static noreturn void hook_child(const char *path, char *const argv[], char *const envp[], int in,
				int err, int report, mode_t mask)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	umask(mask);
	/* report (close-on-exec) tells the parent execve's errno; keep it above 2. */
	if (dup2(in, 0) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (report > 2)
		sys_close_range(3, (unsigned)report - 1, 0);
	sys_close_range((unsigned)report + 1, ~0u, 0);
	execve(path, argv, envp);
	int e = errno;
	if (write(report, &e, sizeof e) != (ssize_t)sizeof e) {
	}
	_exit(127);
}

/* Writes what stdin can take now; closes it when all is written or the hook closed its end. */
static void feed(int *in, const char *state, size_t len, size_t *sent)
{
	while (*in >= 0 && *sent < len) {
		ssize_t w = write(*in, state + *sent, len - *sent);
		if (w > 0) {
			*sent += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break; /* EPIPE: it exits without reading, judged by its status (hooks.ts) */
	}
	close(*in);
	*in = -1;
}

static void keep_stderr(int *fd, struct oci_hook_result *res)
{
	char buf[1024];
	ssize_t r;
	while ((r = read(*fd, buf, sizeof buf)) > 0) {
		size_t take = (size_t)r;
		if (take > OCI_HOOK_STDERR_MAX - res->stderr_len)
			take = OCI_HOOK_STDERR_MAX - res->stderr_len;
		memcpy(res->stderr_text + res->stderr_len, buf, take);
		res->stderr_len += take;
	}
	if (r == 0) {
		close(*fd);
		*fd = -1;
	}
}

int oci_hook_run(const char *path, char *const argv[], char *const envp[], const char *state,
		 size_t len, unsigned timeout, mode_t mask, struct oci_hook_result *res)
{
	memset(res, 0, offsetof(struct oci_hook_result, stderr_text));
	int in[2], err[2], report[2];
	if (pipe2(in, O_CLOEXEC)) {
		res->outcome = HOOK_NOT_RUN, res->value = errno;
		return -1;
	}
	if (pipe2(err, O_CLOEXEC)) {
		res->outcome = HOOK_NOT_RUN, res->value = errno;
		close(in[0]), close(in[1]);
		return -1;
	}
	if (pipe2(report, O_CLOEXEC)) {
		res->outcome = HOOK_NOT_RUN, res->value = errno;
		close(in[0]), close(in[1]), close(err[0]), close(err[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0)
		hook_child(path, argv, envp, in[0], err[1], report[1], mask);
	int fork_errno = errno;
	close(in[0]), close(err[1]), close(report[1]);
	if (pid < 0) {
		close(in[1]), close(err[0]), close(report[0]);
		res->outcome = HOOK_NOT_RUN, res->value = fork_errno;
		return -1;
	}
	int e = 0;
	ssize_t r;
	do
		r = read(report[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(report[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int in_fd = in[1], err_fd = err[0];
	size_t sent = 0;
	fcntl(in_fd, F_SETFL, O_NONBLOCK);
	fcntl(err_fd, F_SETFL, O_NONBLOCK);
	long long deadline = timeout ? now_ms() + (long long)timeout * 1000 : 0;
	int status = 0, timed_out = 0;
	for (;;) {
		feed(&in_fd, state, len, &sent);
		if (err_fd >= 0)
			keep_stderr(&err_fd, res);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		int wait_ms = 100;
		if (deadline && !timed_out) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				/* SIGKILL, as runc (Go's Process.Kill) and the launcher's hooks
				 * (hook.c): a hook may ignore SIGTERM and hold create forever. */
				timed_out = 1;
				kill(pid, SIGKILL);
			} else if (left < wait_ms) {
				wait_ms = (int)left;
			}
		}
		struct pollfd p[3];
		nfds_t n = 0;
		if (pidfd >= 0)
			p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		else
			wait_ms = 2;
		if (err_fd >= 0)
			p[n++] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
		if (in_fd >= 0)
			p[n++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
		(void)poll(p, n, wait_ms);
	}
	if (err_fd >= 0)
		keep_stderr(&err_fd, res);
	if (err_fd >= 0)
		close(err_fd);
	if (in_fd >= 0)
		close(in_fd);
	if (pidfd >= 0)
		close(pidfd);
	if (r == (ssize_t)sizeof e)
		res->outcome = HOOK_NOT_RUN, res->value = e;
	else if (timed_out)
		res->outcome = HOOK_TIMED_OUT;
	else if (WIFSIGNALED(status))
		res->outcome = HOOK_SIGNALED, res->value = WTERMSIG(status);
	else if (WEXITSTATUS(status))
		res->outcome = HOOK_EXITED, res->value = WEXITSTATUS(status);
	return res->outcome == HOOK_OK ? 0 : -1;
}
