/* hook.c — OCI hooks inside the container's namespaces (see hook.h). */
#define _GNU_SOURCE
#include "hook.h"

#include "events.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOOK_MAX_STRINGS 1024u
#define HOOK_OUTPUT_MAX 512u

static int is_arg(uint16_t code)
{
	return code == OP_HOOK_ARG || code == OP_START_HOOK_ARG;
}

static int is_env(uint16_t code)
{
	return code == OP_HOOK_ENV || code == OP_START_HOOK_ENV;
}

static int pause_tell = -1, pause_wait = -1;

void hook_set_pause(int tell_fd, int wait_fd)
{
	pause_tell = tell_fd;
	pause_wait = wait_fd;
}

int hook_pause_pending(void)
{
	return pause_wait >= 0;
}

void hook_pause(void)
{
	if (pause_wait < 0)
		return;
	char byte = 0;
	if (write(pause_tell, "H", 1) != 1)
		die_step(EXIT_CORDON, "wait for the runtime hooks", NULL, NULL, errno);
	ssize_t n;
	do
		n = read(pause_wait, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(EXIT_CORDON); /* a runtime hook failed: the runtime has said why */
	close(pause_wait);
	pause_wait = -1;
}

void hook_relay(pid_t pid, int read_fd, int write_fd, int hook_fd)
{
	char byte = 0;
	ssize_t n;
	do
		n = read(read_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || byte != 'H') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (n != 1)
			die_msg("the container exited before its runtime hooks");
		_exit(EXIT_CORDON); /* 'F': the sandbox has reported its failed step */
	}
	char line[32];
	int len = snprintf(line, sizeof line, "%d\n", (int)pid);
	if (write(hook_fd, line, (size_t)len) == len) {
		do
			n = read(hook_fd, &byte, 1);
		while (n < 0 && errno == EINTR);
	} else {
		n = -1;
	}
	if (n != 1 || byte != 'c') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		_exit(EXIT_CORDON); /* the runtime reports its failed hook itself */
	}
	close(hook_fd);
	if (write(write_fd, "c", 1) != 1)
		die_step(EXIT_CORDON, "release the sandbox after the runtime hooks", NULL, NULL,
			 errno);
	close(write_fd);
}

/* The state on stdin, through a pipe filled before the fork: the hook may never read it, and
 * the runner must not block on it. With HOOK_STATE_PID the caller's pid (in its pid namespace,
 * as runc's init reports it) goes first: {"pid":N, then the blob after its '{'. */
static int state_pipe(const struct plan_op_rec *op, const char *path, pid_t state_pid)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		die_step(EXIT_CORDON, "hook", path, NULL, errno);
	char head[40];
	size_t skip = 0;
	int n = 0;
	if (op->b & HOOK_STATE_PID) {
		n = snprintf(head, sizeof head, "{\"pid\":%d,", (int)state_pid);
		skip = 1; /* the blob's '{' (plan.c checks it is there) */
	}
	size_t body = op->blob_len - skip;
	int capacity = fcntl(fds[1], F_GETPIPE_SZ);
	if (capacity >= 0 && (size_t)n + body > (size_t)capacity)
		(void)fcntl(fds[1], F_SETPIPE_SZ, (int)((size_t)n + body)); /* plan.c: <= 64 KiB */
	if ((n && write(fds[1], head, (size_t)n) != n) ||
	    (body && write(fds[1], op->blob + skip, body) != (ssize_t)body))
		die_msg("hook %s: the container state (%zu bytes) does not fit in a pipe", path,
			(size_t)n + body);
	close(fds[1]);
	return fds[0];
}

static noreturn void child(const char *path, char **argv, char **envp, int in, int out, int root_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	umask(022);
	if (root_fd >= 0 && (fchdir(root_fd) || chroot(".")))
		_exit(125);
	if (chdir("/") || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(125);
	sys_close_range(3, ~0u, 0); /* the container's preserved fds are not the hook's */
	execve(path, argv, envp);
	dprintf(2, "exec %s: %s", path, strerror(errno));
	_exit(127);
}

void hook_run(const struct plan *p, size_t *i, int root_fd, pid_t state_pid)
{
	const struct plan_op_rec *op = &p->ops[*i];
	const char *path = op->s1;
	/* argv and envp from the records after the hook's; bounded by plan.c's record count. */
	size_t n_args = 0, n_env = 0, j = *i + 1;
	for (; j < p->n_ops && (is_arg(p->ops[j].code) || is_env(p->ops[j].code)); j++)
		is_arg(p->ops[j].code) ? n_args++ : n_env++;
	if (n_args + n_env > HOOK_MAX_STRINGS)
		die_msg("hook %s: more than %u arguments and variables", path, HOOK_MAX_STRINGS);
	char *argv[HOOK_MAX_STRINGS + 2], *envp[HOOK_MAX_STRINGS + 1];
	size_t a = 0, e = 0;
	for (size_t k = *i + 1; k < j; k++)
		if (is_arg(p->ops[k].code))
			argv[a++] = (char *)p->ops[k].s1;
		else
			envp[e++] = (char *)p->ops[k].s1;
	if (a == 0)
		argv[a++] = (char *)path;
	argv[a] = NULL;
	envp[e] = NULL;
	*i = j - 1;

	int in = state_pipe(op, path, state_pid), out[2];
	if (pipe2(out, O_CLOEXEC))
		die_step(EXIT_CORDON, "hook", path, NULL, errno);
	pid_t pid = fork();
	if (pid < 0)
		die_step(EXIT_CORDON, "hook", path, NULL, errno);
	if (pid == 0)
		child(path, argv, envp, in, out[1], root_fd);
	close(in);
	close(out[1]);
	if (fcntl(out[0], F_SETFL, O_NONBLOCK))
		die_step(EXIT_CORDON, "hook", path, NULL, errno);

	/* Polled rather than waited on with a pidfd or a signal: the command runs this under the
	 * container's seccomp filter, which may deny pidfd_open, and a createContainer hook's
	 * runner with its signals blocked. */
	char output[HOOK_OUTPUT_MAX + 1];
	size_t kept = 0;
	long long deadline = op->a ? now_ms() + (long long)op->a * 1000 : 0;
	int status = 0, timed_out = 0;
	for (;;) {
		char buf[256];
		ssize_t r;
		while ((r = read(out[0], buf, sizeof buf)) > 0) {
			size_t take = (size_t)r;
			if (take > HOOK_OUTPUT_MAX - kept)
				take = HOOK_OUTPUT_MAX - kept;
			memcpy(output + kept, buf, take);
			kept += take;
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			die_step(EXIT_CORDON, "hook", path, NULL, errno);
		if (deadline && now_ms() >= deadline && !timed_out) {
			timed_out = 1;
			kill(pid, SIGKILL);
		}
		struct timespec tick = { 0, 2000000L };
		nanosleep(&tick, NULL);
	}
	close(out[0]);
	while (kept && (output[kept - 1] == '\n' || output[kept - 1] == ' '))
		kept--;
	output[kept] = '\0';
	const char *kind = op->code == OP_HOOK ? "createContainer" : "startContainer";
	if (timed_out)
		die_msg("%s hook %s: killed after its timeout of %u s%s%s", kind, path, op->a,
			kept ? ": " : "", output);
	if (WIFSIGNALED(status))
		die_msg("%s hook %s: killed by signal %d%s%s", kind, path, WTERMSIG(status),
			kept ? ": " : "", output);
	if (WEXITSTATUS(status) != 0)
		die_msg("%s hook %s: exit status %d%s%s", kind, path, WEXITSTATUS(status),
			kept ? ": " : "", output);
}
