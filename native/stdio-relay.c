/* stdio-relay.c — see stdio-relay.h. */
#define _GNU_SOURCE
#include "stdio-relay.h"

#include "events.h"
#include "forward-signal.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <stdnoreturn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The launcher's words to a relay, one byte each down a pipe only the launcher holds the write
 * end of (made after the clone: no process of the sandbox ever had it). A signal would not do:
 * rt_sigqueueinfo lets any process that may signal the relay give any sender pid (helper-106).
 * The pipe's end (the launcher gone) ends a relay as RELAY_HURRY does. */
#define RELAY_END 'e' /* the sandbox ended */
#define RELAY_HURRY 'h' /* and the program died of a signal passed on to it: see out_loop */

/* Makes the control pipe: [0] the relay's, [1] the launcher's. */
static void control_pipe(int fds[2], const char *who)
{
	if (pipe2(fds, O_CLOEXEC))
		die_step(EXIT_CORDON, who, "a pipe", NULL, errno);
}

/* The caller's pipe and the write end of cordon's: the relay's alone once it runs. */
static int caller_in = -1, relay_w = -1;
static pid_t relay_pid = -1;
static int in_control[2] = { -1, -1 };

/* A pipe that holds one page: a full pipe wakes its writer when its reader empties it, which is
 * how the relay learns that the program has read all it was given. 0, or -1 with errno set. */
static int one_page_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	long page = sysconf(_SC_PAGESIZE);
	int set = page > 0 ? fcntl(fds[1], F_SETPIPE_SZ, (int)page) : -1;
	if (set >= 0 && fcntl(fds[1], F_GETPIPE_SZ) == page)
		return 0;
	/* The kernel's refusal, or a size other than asked for. */
	int e = set < 0 && page > 0 ? errno : EINVAL;
	close(fds[0]);
	close(fds[1]);
	errno = e;
	return -1;
}

/* One signal read from `forward` (a signalfd) passed on to `to` (a pidfd). */
static void forward_signal(int forward, int to)
{
	struct signalfd_siginfo si;
	if (read(forward, &si, sizeof si) == (ssize_t)sizeof si)
		sys_pidfd_send_signal(to, (int)si.ssi_signo);
}

/* A relay runs in the caller's job: a Ctrl-C (or a hang-up) the terminal sends the whole job
 * must not end it and take the program's input or last output with it. The launcher ends it
 * (its control pipe, SIGKILL), and so does the launcher's end (PR_SET_PDEATHSIG). */
static void ignore_job_signals(void)
{
	static const int ignored[] = { SIGINT,	SIGQUIT, SIGHUP,  SIGTERM,
				       SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE };
	for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
		signal(ignored[i], SIG_IGN);
}

/* One word read from the launcher's control pipe (RELAY_END, RELAY_HURRY, RELAY_HURRY for its
 * end), or -1 when none is there yet. */
static int from_launcher(int control)
{
	char word;
	ssize_t n = read(control, &word, 1);
	if (n < 0)
		return -1;
	return n == 0 ? RELAY_HURRY : word;
}

/* Whether the command (host uid `uid`) could open this FIFO again by name with the access the
 * `others` bits (of group and others) give: as its owner (a plain user's sandbox, and a
 * --host-root one, run as the user who made a pipe), as root, or by those bits. */
static int reopens(const struct stat *st, long uid, mode_t others)
{
	return S_ISFIFO(st->st_mode) &&
	       (uid == 0 || st->st_uid == (uid_t)uid || (st->st_mode & others));
}

/* Closes every fd but the `n` in `keep` (-1 entries are skipped). */
static void keep_only(const int *keep, int n)
{
	int sorted[8], k = 0;
	for (int i = 0; i < n && k < 8; i++)
		if (keep[i] >= 0)
			sorted[k++] = keep[i];
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	unsigned next = 0;
	for (int i = 0; i < k; i++) {
		if ((unsigned)sorted[i] > next)
			sys_close_range(next, (unsigned)sorted[i] - 1, 0);
		next = (unsigned)sorted[i] + 1;
	}
	sys_close_range(next, ~0u, 0);
}

void stdin_relay_prepare(long uid)
{
	struct stat st;
	if (uid < 0 || fstat(0, &st) || !S_ISFIFO(st.st_mode))
		return;
	/* A stdin open for writing too gives the program nothing more by name; one open for
	 * writing only is output_relay_prepare's. */
	int mode = fcntl(0, F_GETFL);
	if (mode < 0 || (mode & O_ACCMODE) != O_RDONLY)
		return;
	/* A root caller's pipes (root's, 0600) are closed to the sandbox's id range already; host
	 * root (--host-root) may keep capabilities that pass any mode. */
	if (!reopens(&st, uid, S_IWGRP | S_IWOTH))
		return;
	int fds[2];
	if (one_page_pipe(fds))
		die_step(EXIT_CORDON, "stdin relay", "a one-page pipe", NULL, errno);
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

/* The first n bytes at the front of the caller's pipe, copied without taking them (tee into a
 * scratch pipe, read back): n at most a page. -1 when they cannot be looked at. */
static ssize_t front(int scratch[2], char *buf, size_t n)
{
	ssize_t got = tee(caller_in, scratch[1], n, SPLICE_F_NONBLOCK);
	if (got <= 0)
		return got;
	ssize_t back = read(scratch[0], buf, (size_t)got);
	return back == got ? back : -1;
}

/* Takes n bytes from the front of the caller's pipe, which the program has read from cordon's,
 * when they are still the bytes it was given (`given`): another reader of the same pipe may
 * have taken them meanwhile, and taking what is there now would lose that reader's next bytes.
 * Returns whether they were. Spliced to /dev/null, never waiting. */
static int take(int null, int scratch[2], const char *given, size_t n)
{
	static char now[65536];
	if (n == 0)
		return 1;
	if (n > sizeof now || front(scratch, now, n) != (ssize_t)n || memcmp(now, given, n) != 0)
		return 0;
	while (n > 0) {
		ssize_t got = splice(caller_in, NULL, null, NULL, n, SPLICE_F_NONBLOCK);
		if (got <= 0 && !(got < 0 && errno == EINTR))
			return 0;
		if (got > 0)
			n -= (size_t)got;
	}
	return 1;
}

/* The relay's loop: copies the caller's pipe into cordon's a page at a time and takes from the
 * caller's what the program read, until `end` is readable (the launcher's control pipe, or the
 * wrapped program's pidfd: the sandbox ended, so what its program read is known), then takes
 * exactly that. Signals read from `forward` (a signalfd, or -1) go to `to` (a pidfd). */
static void relay_loop(int end, int end_is_control, int forward, int to)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int scratch[2];
	long page = sysconf(_SC_PAGESIZE);
	if (null < 0 || page <= 0 || page > 65536 || pipe2(scratch, O_CLOEXEC | O_NONBLOCK))
		return; /* the program's input ends: its pipe closes with this process */
	static char copy[65536]; /* what was given, to check the caller's front against */
	size_t given = 0; /* in cordon's pipe, and still at the front of the caller's */
	int idle = 0; /* the last pass moved nothing: wait a little before the next */
	for (;;) {
		/* The caller's pipe is looked at only with nothing given: its hang-up shows whatever
		 * the events asked, and would spin the loop while the program reads. After a pass
		 * that moved nothing (the program grew its pipe, or wrote into it), the pipes are
		 * left alone for 10 ms: they would show ready again at once. */
		struct pollfd f[4] = { { .fd = end, .events = POLLIN },
				       { .fd = given || idle ? -1 : caller_in, .events = POLLIN },
				       { .fd = relay_w, .events = given && !idle ? POLLOUT : 0 },
				       { .fd = forward, .events = POLLIN } };
		int ready = poll(f, 4, idle ? 10 : -1);
		if (ready < 0 && errno != EINTR)
			break;
		if ((f[0].revents & (POLLIN | POLLHUP)) &&
		    (!end_is_control || from_launcher(end) >= 0))
			break; /* the sandbox ended: what the program read is known now */
		if (f[3].revents & POLLIN)
			forward_signal(forward, to);
		if (f[2].revents & POLLERR)
			break; /* no reader left: the program's side is gone */
		idle = 0;
		if (ready <= 0 || !(f[1].revents || f[2].revents))
			continue;
		if (given) {
			int left = 1;
			if (!(f[2].revents & POLLOUT) || ioctl(relay_w, FIONREAD, &left) ||
			    left != 0) {
				idle = 1;
				continue;
			}
			if (!take(null, scratch, copy, given))
				break; /* another reader took them: stop, rather than lose its bytes */
			given = 0;
			continue;
		}
		if (!(f[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		/* One page at most (a pipe buffer holds no more), kept to check the front against. */
		ssize_t n = front(scratch, copy, (size_t)page);
		if (n > 0)
			n = tee(caller_in, relay_w, (size_t)n, SPLICE_F_NONBLOCK);
		if (n > 0)
			given = (size_t)n;
		else if (n == 0)
			break; /* the caller's pipe ended: so does the program's input */
		else if (errno == EAGAIN || errno == EINTR)
			idle = 1;
		else
			break;
	}
	int left = 0;
	if (given && ioctl(relay_w, FIONREAD, &left) == 0 && left >= 0 && (size_t)left <= given)
		take(null, scratch, copy, given - (size_t)left);
}

static noreturn void relay(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	ignore_job_signals();
	/* Nothing of the launcher's but the two pipes and its word: a channel held here would not
	 * end with it, nor would cordon's output pipes (fds 1 and 2 until output_relay_start). */
	keep_only((int[]){ caller_in, relay_w, in_control[0] }, 3);
	relay_loop(in_control[0], 1, -1, -1);
	_exit(0);
}

/* The signals a runtime's supervisor forwards to the runtime (backends/runtime.ts): the
 * wrapper passes each on to the program it wraps. */
static const int wrapper_forwarded[] = { SIGHUP,  SIGINT,   SIGQUIT, SIGTERM, SIGUSR1,
					 SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, SIGALRM };

int stdin_relay_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[0], "--") != 0) {
		fprintf(stderr, "usage: cordon-exec --stdin-relay -- PROGRAM [ARG...]\n");
		return EXIT_CORDON;
	}
	char **program = argv + 1;
	struct stat st;
	if (fstat(0, &st) || !S_ISFIFO(st.st_mode)) {
		/* Nothing to relay: the program takes fd 0 as it is. */
		execvp(program[0], program);
		fprintf(stderr, "cordon-exec: %s: %s\n", program[0], strerror(errno));
		return errno == ENOENT ? 127 : 126;
	}
	/* Gone with cordon, as Node's copy was: a SIGKILLed cordon left this process (reparented)
	 * feeding the program from the caller's pipe; now the program's input ends with cordon.
	 * The program itself is left to end as it did before (its child gets no such signal). */
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != parent)
		return EXIT_CORDON;
	int fds[2];
	if (one_page_pipe(fds) || (caller_in = fcntl(0, F_DUPFD_CLOEXEC, 3)) < 0) {
		fprintf(stderr, "cordon-exec: stdin relay: %s\n", strerror(errno));
		return EXIT_CORDON;
	}
	relay_w = fds[1];
	sigset_t forward, saved;
	sigemptyset(&forward);
	for (size_t i = 0; i < sizeof wrapper_forwarded / sizeof *wrapper_forwarded; i++)
		sigaddset(&forward, wrapper_forwarded[i]);
	sigprocmask(SIG_BLOCK, &forward, &saved);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "cordon-exec: stdin relay: fork: %s\n", strerror(errno));
		return EXIT_CORDON;
	}
	if (pid == 0) {
		/* The program's stdin is cordon's pipe; the caller's is not passed on (close-on-exec). */
		sigprocmask(SIG_SETMASK, &saved, NULL);
		if (dup2(fds[0], 0) < 0)
			_exit(EXIT_CORDON);
		execvp(program[0], program);
		fprintf(stderr, "cordon-exec: %s: %s\n", program[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int forward_fd = signalfd(-1, &forward, SFD_CLOEXEC);
	if (pidfd >= 0)
		relay_loop(pidfd, 0, forward_fd, pidfd);
	/* What the program read is taken; its input ends for whatever it left running. */
	close(relay_w);
	close(caller_in);
	/* The program may outlive its input (`echo | cordon run --backend gvisor -- sleep 60`):
	 * the signals this process gets still go to it until it ends. */
	while (pidfd >= 0 && forward_fd >= 0) {
		struct pollfd f[2] = { { .fd = pidfd, .events = POLLIN },
				       { .fd = forward_fd, .events = POLLIN } };
		if (poll(f, 2, -1) < 0 && errno != EINTR)
			break;
		if (f[0].revents)
			break;
		if (f[1].revents & POLLIN)
			forward_signal(forward_fd, pidfd);
	}
	/* Without a pidfd (a kernel before 5.3) nothing could forward: the signals act here. */
	if (pidfd < 0 || forward_fd < 0)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		/* As the program ended: its signal, default action, nothing blocked. */
		signal(WTERMSIG(status), SIG_DFL);
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_CORDON;
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
	control_pipe(in_control, "stdin relay");
	pid_t pid = fork();
	if (pid < 0)
		die_step(EXIT_CORDON, "stdin relay", NULL, NULL, errno);
	if (pid == 0)
		relay();
	relay_pid = pid;
	close(in_control[0]);
	in_control[0] = -1;
	close(relay_w);
	close(caller_in);
	relay_w = caller_in = -1;
}

pid_t stdin_relay_pid(void)
{
	return relay_pid > 0 ? relay_pid : 0;
}

void stdin_relay_finish(void)
{
	if (relay_pid <= 0)
		return;
	/* The sandbox ended: what its program read is known now. A relay that has not taken it
	 * within a second (it never should) is killed: the launcher must go on to end the run. */
	ssize_t unused = write(in_control[1], (char[]){ RELAY_END }, 1);
	(void)unused;
	close(in_control[1]);
	in_control[1] = -1;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (int waited = 0; waited < 1000; waited += 10) {
		pid_t w = waitpid(relay_pid, NULL, WNOHANG);
		if (w == relay_pid || (w < 0 && errno == ECHILD)) {
			relay_pid = -1;
			return;
		}
		nanosleep(&tick, NULL);
	}
	kill(relay_pid, SIGKILL);
	while (waitpid(relay_pid, NULL, 0) < 0 && errno == EINTR)
		;
	relay_pid = -1;
}

void stdin_relay_reaped(pid_t pid)
{
	if (pid == relay_pid)
		relay_pid = -1;
}

/* One relayed stream: cordon's read end and the caller's pipe it goes to, by way of two pipes of
 * the relay's own: `mid` takes all of cordon's pipe in one splice (one wake-up for the program,
 * not one a page), and `one`, a pipe of one slot, takes one buffer out of `mid`, which tells its
 * length. The bytes pending are in mid, in one, or in buf. */
struct out_stream {
	int from, to;
	int mid[2], one[2];
	int own_to; /* `to` is a description of the relay's own, non-blocking: a write never waits */
	int size; /* cordon's pipe's size as last seen: the program may change it */
	long mid_slots; /* what mid holds, in pages */
	long left; /* once the sandbox ended: the bytes still to hand over (-1 before) */
	size_t in_mid; /* bytes in mid */
	int mid_pages; /* ...all of them whole pages: handed on together */
	size_t in_one; /* bytes in one, spliced on whole (no_nowait) */
	int no_nowait; /* neither own_to nor RWF_NOWAIT: writes go by way of one */
	size_t have; /* bytes in buf, one buffer or whole pages, written on by one write(2) */
	int grown; /* make_room grew the caller's pipe */
	char buf[65536]; /* a page, on every page size Linux has */
};
static struct out_stream outs[3];
static int n_outs;
/* The launcher's own fds 0-2 as the caller gave them, replaced for the sandbox: back in place
 * after the clone. */
static int caller_fd[3] = { -1, -1, -1 };
static pid_t out_pid = -1;
static int out_pidfd = -1;
static int out_control[2] = { -1, -1 };
/* The signal that killed the relay before it handed everything over (reaped elsewhere). */
static int out_cut;

/* Each of fds 0-2 that is a FIFO the command could open again by name in a way its fd does not
 * give: open for writing only, and readable by name (stdout, stderr; a stdin given as a write
 * end), it is relayed; open for reading only, and writable by name (a stdout or stderr given as
 * a read end), it becomes /dev/null open for reading, which reads nothing and refuses writes as
 * that fd did. A stdin open for reading is stdin_relay_prepare's; an fd open both ways gives
 * nothing more by name. */
void output_relay_prepare(long uid)
{
	struct stat st[3];
	int relayed[3] = { -1, -1, -1 }; /* fd → its stream */
	if (uid < 0)
		return;
	for (int fd = 0; fd <= 2; fd++) {
		int mode = fcntl(fd, F_GETFL);
		if (mode < 0 || fstat(fd, &st[fd]))
			continue;
		int writes = (mode & O_ACCMODE) == O_WRONLY, reads = (mode & O_ACCMODE) == O_RDONLY;
		if (writes ? !reopens(&st[fd], uid, S_IRGRP | S_IROTH)
			   : !(reads && fd > 0 && reopens(&st[fd], uid, S_IWGRP | S_IWOTH)))
			continue;
		caller_fd[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (caller_fd[fd] < 0)
			die_step(EXIT_CORDON, "output relay", NULL, NULL, errno);
		if (reads) {
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (null < 0 || dup2(null, fd) < 0)
				die_step(EXIT_CORDON, "output relay", "/dev/null", NULL, errno);
			close(null);
			continue;
		}
		/* `2>&1`: one relay for both, so that their lines stay in the order written. */
		int shared = -1;
		for (int other = 0; other < fd; other++)
			if (relayed[other] >= 0 && st[other].st_dev == st[fd].st_dev &&
			    st[other].st_ino == st[fd].st_ino)
				shared = other;
		if (shared >= 0) {
			if (dup2(shared, fd) < 0)
				die_step(EXIT_CORDON, "output relay", NULL, NULL, errno);
			relayed[fd] = relayed[shared];
			continue;
		}
		/* The size of the caller's pipe, which the program sees (F_GETPIPE_SZ) and may
		 * change: the relay changes the caller's along. */
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) || dup2(fds[1], fd) < 0)
			die_step(EXIT_CORDON, "output relay", "a pipe", NULL, errno);
		int size = fcntl(caller_fd[fd], F_GETPIPE_SZ);
		if (size > 0 && fcntl(fds[1], F_GETPIPE_SZ) != size)
			fcntl(fds[1], F_SETPIPE_SZ, size); /* a refusal leaves the default */
		close(fds[1]);
		relayed[fd] = n_outs;
		outs[n_outs++] = (struct out_stream){ .from = fds[0],
						      .to = caller_fd[fd],
						      .mid = { -1, -1 },
						      .one = { -1, -1 },
						      .left = -1 };
	}
}

void output_relay_child(void)
{
	for (int i = 0; i < n_outs; i++)
		close(outs[i].from);
	for (int fd = 0; fd <= 2; fd++)
		if (caller_fd[fd] >= 0)
			close(caller_fd[fd]);
	n_outs = 0;
	caller_fd[0] = caller_fd[1] = caller_fd[2] = -1;
}

/* A stream is over: cordon's read end goes, so a program still writing gets EPIPE. */
static void out_done(struct out_stream *s, int *live)
{
	close(s->from);
	s->from = -1;
	(*live)--;
}

/* Bytes not handed over yet, in the relay's pipes and buf. */
static size_t out_pending(const struct out_stream *s)
{
	return s->in_mid + s->in_one + s->have;
}

/* Bytes in a pipe (FIONREAD), 0 when it cannot tell. */
static long pipe_bytes(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? n : 0;
}

/* mid made the size of cordon's pipe, so that one splice takes all of it, and the pages it then
 * holds counted (mid_slots). Only while mid is empty: it cannot be busy. */
static void size_mid(struct out_stream *s, int size, long page)
{
	s->size = size;
	if (size > 0)
		fcntl(s->mid[1], F_SETPIPE_SZ, size); /* a refusal leaves mid as it was */
	int mid = fcntl(s->mid[1], F_GETPIPE_SZ);
	s->mid_slots = mid > 0 ? mid / page : 0;
}

/* The program changed its pipe's size (F_SETPIPE_SZ on its stdout): the caller's pipe, which it
 * would have changed unsandboxed, changes along, and mid with it. Asked before each take. */
static void follow_size(struct out_stream *s, long page)
{
	int size = fcntl(s->from, F_GETPIPE_SZ);
	if (size <= 0 || size == s->size)
		return;
	size_mid(s, size, page);
	if (fcntl(s->to, F_GETPIPE_SZ) != size)
		fcntl(s->to, F_SETPIPE_SZ, size); /* as the program's own would: EBUSY, EPERM */
}

/* The command died of a signal passed on to it, and its reader may never read again: what is
 * left goes into the caller's pipe at once, made large enough for it (up to pipe-max-size
 * without CAP_SYS_RESOURCE), where the reader finds it whenever it reads, as it would have found
 * what the program wrote before it died. A slot for each buffer the relay may hold. */
static void make_room(struct out_stream *s, long page)
{
	int now = fcntl(s->to, F_GETPIPE_SZ);
	if (now <= 0)
		return;
	long want = now + (2 + s->mid_slots + (s->size > 0 ? s->size / page : 16)) * page;
	if (want > 1L << 30 || fcntl(s->to, F_SETPIPE_SZ, (int)want) >= 0)
		return;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
	long max = 0;
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (max > now && max < want)
		fcntl(s->to, F_SETPIPE_SZ, (int)max);
}

/* write(2) that never waits, through a description others share and whose flags stay theirs. */
static ssize_t nowait_write(int fd, const char *buf, size_t n)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = n };
	return pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
}

enum { OUT_WAIT_IN, OUT_WAIT_OUT, OUT_OVER };

/* Moves what goes now without waiting: takes all of cordon's pipe into mid once nothing is
 * pending, and hands it on by write(2) through the relay's non-blocking description of the
 * caller's pipe, a buffer of cordon's pipe at a time, so that a write of up to PIPE_BUF, which
 * the program's pipe keeps in one buffer, reaches the caller's whole among other writers' bytes,
 * and small writes share the caller's last page as the program's would have. When all of mid is
 * whole pages (a mid of n slots holding n pages) they go together, up to sizeof buf: a write of
 * whole pages fills whole pages, and one that goes in part stops at a page's end.
 *
 * Copied, never spliced on: a program that sets O_DIRECT on its stdout writes packets, which a
 * splice would carry into the caller's pipe among the relay's ordinary buffers, and a read that
 * runs from one into a packet it cannot hold whole loses the packet's rest (helper-110; the
 * caller's reader then gets ordinary bytes, the packets' bounds lost). Where the relay has no
 * description of its own (a FIFO it may not open: helper-112), by pwritev2(RWF_NOWAIT) on the
 * shared one; on a kernel without that for pipes, a page at a time written into `one` and
 * spliced on from there (a slot each).
 * Adds the bytes handed over to *moved; returns what the stream waits for. */
static int out_move(struct out_stream *s, long page, long *moved)
{
	for (;;) {
		ssize_t n;
		if (s->in_one) {
			n = splice(s->one[0], NULL, s->to, NULL, s->in_one, SPLICE_F_NONBLOCK);
		} else if (s->have && s->no_nowait) {
			/* A page at a time into one, then spliced on: an ordinary buffer of the
			 * relay's own, which cannot carry a packet's flag. */
			size_t k = s->have < (size_t)page ? s->have : (size_t)page;
			if (write(s->one[1], s->buf, k) != (ssize_t)k)
				return OUT_OVER;
			s->in_one = k;
			s->have -= k;
			memmove(s->buf, s->buf + k, s->have);
			continue;
		} else if (s->have) {
			n = s->own_to ? write(s->to, s->buf, s->have)
				      : nowait_write(s->to, s->buf, s->have);
			if (n < 0 && !s->own_to &&
			    (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
				s->no_nowait =
					1; /* a kernel without RWF_NOWAIT for pipes (before 6.x) */
				continue;
			}
		} else if (s->in_mid && s->mid_pages) {
			/* One read takes whole pages, a packet only its own: read on until full. */
			while (s->in_mid && s->have < sizeof s->buf) {
				size_t want = sizeof s->buf - s->have;
				n = read(s->mid[0], s->buf + s->have,
					 want < s->in_mid ? want : s->in_mid);
				if (n <= 0)
					return OUT_OVER; /* cannot happen: end rather than reorder */
				s->have += (size_t)n;
				s->in_mid -= (size_t)n;
			}
			continue;
		} else if (s->in_mid) {
			n = splice(s->mid[0], NULL, s->one[1], NULL, s->in_mid, SPLICE_F_NONBLOCK);
			if (n <= 0 || (size_t)n > s->in_mid ||
			    read(s->one[0], s->buf, (size_t)n) != n)
				return OUT_OVER; /* cannot happen: end rather than reorder */
			s->in_mid -= (size_t)n;
			s->have = (size_t)n;
			continue;
		} else {
			follow_size(s, page);
			n = splice(s->from, NULL, s->mid[1], NULL, 1 << 30, SPLICE_F_NONBLOCK);
			if (n == 0)
				return OUT_OVER; /* every writer is gone */
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? OUT_WAIT_IN : OUT_OVER;
			s->in_mid = (size_t)n;
			s->mid_pages = n == s->mid_slots * page;
			continue;
		}
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EINTR) ? OUT_WAIT_OUT
									    : OUT_OVER;
		*moved += n;
		if (s->in_one) {
			s->in_one -= (size_t)n;
		} else {
			/* All of it, but for whole pages (or a page of 64 KiB, past PIPE_BUF), which
			 * may go in part: up to a page's end. */
			s->have -= (size_t)n;
			memmove(s->buf, s->buf + n, s->have);
		}
	}
}

/* The relay's loop: moves each of cordon's pipes into the caller's until every writer of it is
 * gone, or, once `end` is readable (the launcher's RELAY_END: the sandbox ended), until what was
 * in it then has been handed over: a process left writing (without a pid namespace, before the
 * launcher kills it) cannot keep the run going.
 *
 * RELAY_HURRY: the program died of a signal passed on to it. It may have died where it would
 * have been blocked writing what is still in cordon's pipes, or caught the signal, written its
 * last words and raised it again (Python's KeyboardInterrupt, Node.js): make_room gives the
 * caller's pipe room for all of it. Where it cannot (pipes grown to pipe-max-size), the reader
 * gets what it takes within HURRY_MS, and the rest is dropped: a reader that never reads, or
 * one that takes a page now and then (helper-110: 26 s for `timeout 2`), does not hold
 * `timeout cordon run` for longer. It got what the pipe held, less what the relay's writes of
 * whole buffers left unused in its pages (helper-112: 983 KB of a 1 MiB pipe's 1024 KB). */
#define HURRY_MS 1000
static void out_loop(int end, long page)
{
	int live = n_outs, ending = 0, hurry = 0,
	    wait[3] = { OUT_WAIT_IN, OUT_WAIT_IN, OUT_WAIT_IN };
	long long hurried = 0; /* when the word came */
	while (live > 0) {
		struct pollfd f[7];
		for (int i = 0; i < n_outs; i++) {
			struct out_stream *s = &outs[i];
			/* The caller's side is always watched: POLLERR once it has no reader. */
			f[2 * i] = (struct pollfd){ .fd = s->from >= 0 && wait[i] == OUT_WAIT_IN
								  ? s->from
								  : -1,
						    .events = POLLIN };
			f[2 * i + 1] =
				(struct pollfd){ .fd = s->from >= 0 ? s->to : -1,
						 .events = wait[i] == OUT_WAIT_OUT ? POLLOUT : 0 };
		}
		/* Read after the ending too: a second word from the launcher may say hurry. */
		f[2 * n_outs] = (struct pollfd){ .fd = hurry ? -1 : end, .events = POLLIN };
		int ready = poll(f, (nfds_t)(2 * n_outs + 1), hurry ? HURRY_MS / 10 : -1);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		long long ms = now_ms();
		int word = (f[2 * n_outs].revents & (POLLIN | POLLHUP)) ? from_launcher(end) : -1;
		if (word >= 0 && !ending) {
			ending = 1;
			for (int i = 0; i < n_outs; i++)
				if (outs[i].from >= 0)
					outs[i].left = (long)out_pending(&outs[i]) +
						       pipe_bytes(outs[i].from);
		}
		if (word == RELAY_HURRY && !hurry) {
			hurry = 1;
			hurried = ms;
		}
		for (int i = 0; i < n_outs; i++) {
			struct out_stream *s = &outs[i];
			if (s->from < 0)
				continue;
			if (f[2 * i + 1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				out_done(s, &live); /* the caller's reader is gone */
				continue;
			}
			long moved = 0;
			if (s->left != 0)
				wait[i] = out_move(s, page, &moved);
			if (hurry && wait[i] == OUT_WAIT_OUT && !s->grown) {
				s->grown = 1; /* once: what is left fits, or never will */
				make_room(s, page);
				wait[i] = out_move(s, page, &moved);
			}
			if (moved > 0 && s->left > 0)
				s->left -= moved < s->left ? moved : s->left;
			/* Once the sandbox ended: done when what was in the pipe then went on, or when
			 * nothing is pending and the pipe reads empty (what a process the launcher is
			 * yet to kill read back out of it cannot leave this waiting for bytes that are
			 * gone). */
			if (wait[i] == OUT_OVER || s->left == 0 ||
			    (hurry && ms - hurried >= HURRY_MS) ||
			    (ending && !out_pending(s) && pipe_bytes(s->from) == 0))
				out_done(s, &live);
		}
	}
}

/* Gives each stream its two pipes and, where it can, a description of the caller's pipe of its
 * own, non-blocking (reopened by /proc/self/fd): a write never waits for room another writer
 * took after poll said there was some (helper-109), and the caller's own keeps its flags.
 * 0, or -1 when a pipe cannot be made. `page`: the page size, as out_loop's. */
static int out_setup(long page)
{
	for (int i = 0; i < n_outs; i++) {
		struct out_stream *s = &outs[i];
		if (one_page_pipe(s->one) || pipe2(s->mid, O_CLOEXEC))
			return -1;
		size_mid(s, fcntl(s->from, F_GETPIPE_SZ), page);
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", s->to);
		int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (own < 0)
			continue;
		if (dup3(own, s->to, O_CLOEXEC) >= 0)
			s->own_to = 1;
		close(own);
	}
	return 0;
}

static noreturn void out_relay(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	ignore_job_signals(); /* SIGPIPE too: a caller's pipe without a reader is EPIPE here */
	/* Nothing of the launcher's but the pipes and its word: a write end held here (fds 0-2
	 * are cordon's until the launcher puts the caller's back) would never let a stream end. */
	int keep[7] = { -1, -1, -1, -1, -1, -1, out_control[0] };
	for (int i = 0; i < n_outs; i++) {
		keep[2 * i] = outs[i].from;
		keep[2 * i + 1] = outs[i].to;
	}
	keep_only(keep, 7);
	/* Any other page size, or none known: the program's next write fails with EPIPE. */
	long page = sysconf(_SC_PAGESIZE);
	if (page > 0 && page <= (long)sizeof outs[0].buf && out_setup(page) == 0)
		out_loop(out_control[0], page);
	_exit(0);
}

void output_relay_start(void)
{
	if (n_outs > 0) {
		control_pipe(out_control, "output relay");
		pid_t pid = fork();
		if (pid < 0)
			die_step(EXIT_CORDON, "output relay", NULL, NULL, errno);
		if (pid == 0)
			out_relay();
		out_pid = pid;
		close(out_control[0]);
		out_control[0] = -1;
		/* Held by a pidfd: signalled and watched as that one process for good. */
		out_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (out_pidfd < 0)
			die_step(EXIT_CORDON, "output relay", "pidfd_open", NULL, errno);
		fcntl(out_pidfd, F_SETFD, FD_CLOEXEC);
	}
	for (int i = 0; i < n_outs; i++)
		close(outs[i].from);
	n_outs = 0;
	/* The launcher's own fds are the caller's again, and it holds no write end of cordon's
	 * pipes: they end with the sandbox. */
	for (int fd = 0; fd <= 2; fd++)
		if (caller_fd[fd] >= 0) {
			if (dup2(caller_fd[fd], fd) < 0)
				close(fd);
			close(caller_fd[fd]);
			caller_fd[fd] = -1;
		}
}

/* The signals that, forwarded to a command still writing into a full pipe, would have ended it:
 * they end the wait for the caller's reader too. */
static int ends_wait(int sig)
{
	/* Every one cordon passes on ends a program by default, but SIGWINCH, which is not in the
	 * set (helper-132: SIGALRM and the real-time ones waited for the reader). */
	return forwarded_any(sig);
}

static int out_reap(void)
{
	int status = 0;
	while (waitpid(out_pid, &status, 0) < 0 && errno == EINTR)
		;
	close(out_pidfd);
	close(out_control[1]);
	out_pid = out_pidfd = out_control[1] = -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

pid_t output_relay_pid(void)
{
	return out_pid > 0 ? out_pid : 0;
}

int output_relay_finish(int signal_fd, int parent_fd,
			int (*for_command)(struct signalfd_siginfo *si), int hurry)
{
	if (out_pid <= 0)
		return out_cut;
	/* Every writer of cordon's pipes is gone (or about to be): the relay hands over what is
	 * left, waiting for the caller's reader as the program would have waited, and ends. A
	 * signal that would have ended the program, or the supervisor's end, ends the wait.
	 * Hurried, it hands over only what fits. */
	ssize_t unused = write(out_control[1], (char[]){ hurry ? RELAY_HURRY : RELAY_END }, 1);
	(void)unused;
	for (;;) {
		struct pollfd f[3] = { { .fd = out_pidfd, .events = POLLIN },
				       { .fd = signal_fd, .events = POLLIN },
				       { .fd = parent_fd, .events = POLLIN } };
		if (poll(f, 3, -1) < 0 && errno != EINTR)
			break;
		if (f[0].revents)
			return out_reap();
		int cut = 0;
		if (f[2].revents)
			cut = SIGKILL;
		struct signalfd_siginfo si;
		if (!cut && (f[1].revents & POLLIN) &&
		    read(signal_fd, &si, sizeof si) == (ssize_t)sizeof si &&
		    (!for_command || for_command(&si)) && ends_wait((int)si.ssi_signo))
			cut = (int)si.ssi_signo;
		if (cut) {
			sys_pidfd_send_signal(out_pidfd, SIGKILL);
			out_reap();
			return cut;
		}
	}
	sys_pidfd_send_signal(out_pidfd, SIGKILL);
	return out_reap() ? SIGKILL : 0;
}

void output_relay_kill(void)
{
	if (out_pidfd >= 0)
		sys_pidfd_send_signal(out_pidfd, SIGKILL);
}

void output_relay_reaped(pid_t pid, int status)
{
	if (pid != out_pid)
		return;
	close(out_pidfd);
	close(out_control[1]);
	out_pid = out_pidfd = out_control[1] = -1;
	out_cut = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}
