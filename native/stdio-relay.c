/* stdio-relay.c — see stdio-relay.h. */
#define _GNU_SOURCE
#include "stdio-relay.h"

#include "events.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The caller's pipe and the write end of cordon's: the relay's alone once it runs. */
static int caller_in = -1, relay_w = -1;
static pid_t relay_pid = -1;
static volatile sig_atomic_t stopping;

void stdin_relay_prepare(long uid)
{
	struct stat st;
	if (uid < 0 || fstat(0, &st) || !S_ISFIFO(st.st_mode))
		return;
	/* A root caller's pipes (root's, 0600) are closed to the sandbox's id range already. */
	if (st.st_uid != (uid_t)uid && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		die_step(EXIT_CORDON, "stdin relay", NULL, NULL, errno);
	/* One buffer: a full pipe wakes its writer when its reader empties it, which is how the
	 * relay learns that the program has read all it was given. */
	if (fcntl(fds[1], F_SETPIPE_SZ, 4096) < 0 || fcntl(fds[1], F_GETPIPE_SZ) != 4096)
		die_step(EXIT_CORDON, "stdin relay", "a one-page pipe", NULL,
			 errno ? errno : EINVAL);
	caller_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
	if (caller_in < 0 || dup2(fds[0], 0) < 0)
		die_step(EXIT_CORDON, "stdin relay", NULL, NULL, errno);
	close(fds[0]);
	relay_w = fds[1];
}

void stdin_relay_child(void)
{
	if (relay_w < 0)
		return;
	close(relay_w);
	close(caller_in);
	relay_w = caller_in = -1;
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Takes n bytes from the front of the caller's pipe, which the program has read from cordon's:
 * spliced to /dev/null, never waiting (another reader of the caller's pipe may have taken
 * them first). */
static void take(int null, size_t n)
{
	while (n > 0) {
		ssize_t got = splice(caller_in, NULL, null, NULL, n, SPLICE_F_NONBLOCK);
		if (got <= 0 && !(got < 0 && errno == EINTR))
			return;
		if (got > 0)
			n -= (size_t)got;
	}
}

static noreturn void relay(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* SIGTERM (stdin_relay_finish) is taken only while waiting, so that none is lost between
	 * a look at `stopping` and the wait. */
	struct sigaction sa = { .sa_handler = on_term };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigset_t term, waiting;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &waiting);
	sigdelset(&waiting, SIGTERM);
	/* Nothing of the launcher's but the two pipes: a channel held here would not end with it. */
	int lo = caller_in < relay_w ? caller_in : relay_w, hi = caller_in ^ relay_w ^ lo;
	close(0); /* cordon's read end, the launcher's copy: the program's side must go with it */
	if (lo > 3)
		sys_close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		sys_close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	sys_close_range((unsigned)hi + 1, ~0u, 0);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	size_t given = 0; /* in cordon's pipe, and still at the front of the caller's */
	while (!stopping) {
		/* The caller's pipe is looked at only with nothing given: its hang-up shows whatever
		 * the events asked, and would spin the loop while the program reads. */
		struct pollfd f[2] = { { .fd = given ? -1 : caller_in, .events = POLLIN },
				       { .fd = relay_w, .events = given ? POLLOUT : 0 } };
		if (ppoll(f, 2, NULL, &waiting) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (f[1].revents & POLLERR)
			break; /* no reader left: the program's side is gone */
		if (given) {
			int left = 1;
			if ((f[1].revents & POLLOUT) && ioctl(relay_w, FIONREAD, &left) == 0 &&
			    left == 0) {
				take(null, given);
				given = 0;
			}
			continue;
		}
		if (!(f[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = tee(caller_in, relay_w, 1 << 20, SPLICE_F_NONBLOCK);
		if (n > 0)
			given = (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break; /* the caller's pipe ended (or failed): so does the program's input */
	}
	int left = 0;
	if (given && ioctl(relay_w, FIONREAD, &left) == 0 && left >= 0 && (size_t)left <= given)
		take(null, given - (size_t)left);
	_exit(0);
}

void stdin_relay_start(void)
{
	if (relay_w < 0)
		return;
	/* The launcher's copy of cordon's read end goes: the relay must see the program's go. */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0)
		close(0);
	if (null > 0)
		close(null);
	pid_t pid = fork();
	if (pid < 0)
		die_step(EXIT_CORDON, "stdin relay", NULL, NULL, errno);
	if (pid == 0)
		relay();
	relay_pid = pid;
	close(relay_w);
	close(caller_in);
	relay_w = caller_in = -1;
}

void stdin_relay_finish(void)
{
	if (relay_pid <= 0)
		return;
	/* The sandbox ended: what its program read is known now. */
	kill(relay_pid, SIGTERM);
	while (waitpid(relay_pid, NULL, 0) < 0 && errno == EINTR)
		;
	relay_pid = -1;
}

void stdin_relay_reaped(pid_t pid)
{
	if (pid == relay_pid)
		relay_pid = -1;
}
