/* oci-launch.c — the launch helper of cordon-oci's `create` (protocol in oci-launch.h). */
#define _GNU_SOURCE
#include "oci-launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The launcher's arguments are paths and flags: a request beyond this is not Node's. */
#define MAX_REQUEST (64 * 1024)

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

/* The request's strings as an argv (pointers into buf), or NULL when it is malformed. */
static char **parse_args(char *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == 0;
	if (len == 0 || buf[len - 1] != 0 || n == 0)
		return NULL;
	char **argv = calloc(n + 1, sizeof *argv);
	if (!argv)
		return NULL;
	for (size_t i = 0, k = 0; i < len; i += strlen(buf + i) + 1)
		argv[k++] = buf + i;
	return argv;
}

/* Runs the launcher as Node's spawnSync did (same environment, fds and working directory, the
 * umask Node set) and tells Node how it ended. */
static void launch(int sock, mode_t mask, char **argv)
{
	int err[2];
	if (pipe2(err, O_CLOEXEC)) {
		reply(sock, LAUNCH_NOT_RUN, errno);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		reply(sock, LAUNCH_NOT_RUN, errno);
		return;
	}
	if (pid == 0) {
		close(err[0]);
		signal(SIGPIPE, SIG_DFL);
		umask(mask);
		execv(argv[0], argv);
		int e = errno;
		if (write(err[1], &e, sizeof e) != (ssize_t)sizeof e) {
		}
		_exit(127);
	}
	close(err[1]);
	int e = 0;
	ssize_t r;
	do
		r = read(err[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(err[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			reply(sock, LAUNCH_NOT_RUN, errno);
			return;
		}
	if (r == (ssize_t)sizeof e)
		reply(sock, LAUNCH_NOT_RUN, e);
	else if (WIFSIGNALED(status))
		reply(sock, LAUNCH_SIGNALED, WTERMSIG(status));
	else
		reply(sock, LAUNCH_EXITED, WEXITSTATUS(status));
}

static noreturn void serve(int sock)
{
	signal(SIGPIPE, SIG_IGN);
	unsigned char head[4];
	/* EOF: Node took another path, failed, or ended. */
	if (read_full(sock, head, sizeof head))
		_exit(0);
	uint32_t len = le32(head);
	if (len < 4 || len > MAX_REQUEST)
		_exit(0);
	char *buf = malloc(len);
	if (!buf || read_full(sock, buf, len))
		_exit(0);
	uint32_t mask = le32((unsigned char *)buf);
	char **argv = parse_args(buf + 4, len - 4);
	if (!argv || mask > 0777) {
		reply(sock, LAUNCH_NOT_RUN, EINVAL);
		_exit(0);
	}
	unsetenv(LAUNCH_FD_ENV);
	launch(sock, (mode_t)mask, argv);
	_exit(0);
}

int launch_helper_start(void)
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
	pid_t pid = fork();
	if (pid < 0) {
		close(node_end);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(node_end);
		serve(sv[1]);
	}
	close(sv[1]);
	if (setenv(LAUNCH_FD_ENV, value, 1)) {
		close(node_end);
		return -1;
	}
	return 0;
}
