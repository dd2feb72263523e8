/* console.c — the sandbox's own terminal (console.h). */
#define _GNU_SOURCE
#include "console.h"

#include "events.h"
#include "sys.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* How long the launcher lets the relay drain after the sandbox ended: the slave stays open only
 * while a process of the sandbox lives on (no pid namespace), which must not hold cordon. */
#define DRAIN_MS 1000

static int chan[2] = { -1, -1 }; /* [0] launcher, [1] sandbox */
static int tty_fds; /* bit n: fd n was a terminal when the console was asked for */
static int slave = -1; /* sandbox side, until console_attach/console_release */
static pid_t relay_pid = -1;
static int oci_socket; /* chan[1] is an OCI --console-socket: no relay */
static unsigned short oci_rows, oci_cols; /* its process.consoleSize, 0 when not given */

void console_prepare(const struct plan *p, int asked)
{
	if (!asked || !isatty(0) || !isatty(1))
		return;
	int devpts = 0;
	for (size_t i = 0; i < p->n_ops; i++)
		devpts |= p->ops[i].code == OP_DEVPTS;
	if (!devpts) {
		/* The host's devpts would do, but would show the sandbox the host's terminals. */
		ev_warning("console", "the plan mounts no devpts of its own: the command shares "
				      "the caller's terminal");
		return;
	}
	for (int fd = 0; fd < 3; fd++)
		tty_fds |= isatty(fd) << fd;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan))
		die_step(EXIT_CORDON, "console", NULL, NULL, errno);
}

void console_prepare_socket(const char *path, unsigned short rows, unsigned short cols)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof addr.sun_path)
		die_msg("--console-socket: path too long (at most %zu bytes): %s",
			sizeof addr.sun_path - 1, path);
	strcpy(addr.sun_path, path);
	/* Connected by the launcher, on the host, before any namespace is joined or made: the
	 * socket is the caller's, never a path the container's view could redirect. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
		die_step(EXIT_CORDON, "console socket", path, NULL, errno);
	chan[1] = fd;
	oci_socket = 1;
	oci_rows = rows;
	oci_cols = cols;
	tty_fds = 7; /* the terminal replaces all three std streams, as runc's */
}

/* The command's ids (the plan's ids op), so that its terminal is its own, as login gives. */
static void own_slave(const struct plan *p, int fd)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code == OP_IDS && fchown(fd, (uid_t)p->ops[i].a, (gid_t)p->ops[i].b))
			ev_warning(
				"console",
				"cannot give the terminal to the command's ids; it stays root's");
	}
}

static void send_fd(int sock, int fd)
{
	char data = 'm';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		die_step(EXIT_CORDON, "console", "send the terminal to the launcher", NULL, errno);
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1; /* the sandbox failed before its console: it has reported why */
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

void console_open_inside(const struct plan *p)
{
	if (chan[1] < 0)
		return;
	if (chan[0] >= 0)
		close(chan[0]);
	/* The view's /dev/ptmx: the sandbox's own devpts instance, never the host's. */
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		die_step(EXIT_CORDON, "console", "/dev/ptmx", NULL, errno);
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock))
		die_step(EXIT_CORDON, "console", "unlock the terminal", NULL, errno);
	/* The peer by fd, not by a path the view could have changed. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		die_step(EXIT_CORDON, "console", "open the terminal's peer", NULL, errno);
	/* The caller's modes and size, so the command starts where the caller's terminal is; fd 0
	 * is still the caller's terminal here, and the relay has not made it raw yet. */
	struct termios modes;
	struct winsize size = { .ws_row = oci_rows, .ws_col = oci_cols };
	if (oci_socket) {
		if (oci_rows && oci_cols)
			ioctl(slave, TIOCSWINSZ, &size);
	} else {
		if (tcgetattr(0, &modes) == 0)
			tcsetattr(slave, TCSANOW, &modes);
		if (ioctl(0, TIOCGWINSZ, &size) == 0)
			ioctl(slave, TIOCSWINSZ, &size);
	}
	own_slave(p, slave);
	send_fd(chan[1], master);
	close(master);
	close(chan[1]);
	chan[1] = -1;
	/* An engine's std streams are pipes it reads to their end (containerd's shim waits for
	 * `create` to close them): from here on the terminal is the sandbox's only stdio, as
	 * runc's init takes it before waiting for `start`. Failures still reach the launcher. */
	for (int fd = 0; oci_socket && fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			die_step(EXIT_CORDON, "console", "std streams", NULL, errno);
}

void console_attach(void)
{
	if (slave < 0)
		return;
	if (ioctl(slave, TIOCSCTTY, 0))
		die_step(EXIT_CORDON, "console", "make the terminal the command's", NULL, errno);
	for (int fd = 0; fd < 3; fd++) {
		if ((tty_fds >> fd & 1) && dup2(slave, fd) < 0)
			die_step(EXIT_CORDON, "console", "std streams", NULL, errno);
	}
	/* slave keeps its number: the command runs vforked from init (launcher.c), so this
	 * memory is init's too, and init closes its own copy of the fd in console_release. */
	close(slave);
}

void console_release(void)
{
	if (slave >= 0)
		close(slave);
	slave = -1;
}

static volatile sig_atomic_t resized, stopping;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stopping = 1;
}

static void copy_size(int master)
{
	struct winsize size;
	if (ioctl(0, TIOCGWINSZ, &size) == 0)
		ioctl(master, TIOCSWINSZ, &size);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies what the sandbox printed until its terminal has no reader left (EIO) or, when
 * stopping, until nothing more is ready. */
static int pump_out(int master, char *buf, size_t size)
{
	ssize_t n = read(master, buf, size);
	if (n > 0)
		return write_all(1, buf, (size_t)n);
	return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

/* The relay: the caller's terminal raw (every key, ^C and ^Z included, is the sandbox's), bytes
 * both ways, the size followed; the caller's modes restored however it ends (the end of the
 * sandbox's terminal, SIGTERM from console_finish, or the launcher's death). */
static noreturn void relay(int master)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT };
	sigset_t unblock;
	sigemptyset(&unblock);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&unblock, sigs[i]);
	}
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	struct termios saved, raw;
	int restore = tcgetattr(0, &saved) == 0;
	if (restore) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	copy_size(master);
	char out[8192], in[4096];
	size_t in_len = 0, in_off = 0;
	struct pollfd fds[2] = { { .fd = 0, .events = POLLIN },
				 { .fd = master, .events = POLLIN } };
	while (!stopping) {
		if (resized) {
			resized = 0;
			copy_size(master);
		}
		/* Read the caller's keys only when the last ones are written: a sandbox that stops
		 * reading holds its input back, never its output. */
		fds[0].events = in_len ? 0 : POLLIN;
		fds[1].events = POLLIN | (in_len ? POLLOUT : 0);
		if (poll(fds, 2, -1) < 0)
			continue; /* EINTR: a signal to look at */
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump_out(master, out, sizeof out))
				break; /* EIO: every process of the sandbox has let its terminal go */
		}
		if (in_len && (fds[1].revents & POLLOUT)) {
			ssize_t n = write(master, in + in_off, in_len);
			if (n > 0)
				in_off += (size_t)n, in_len -= (size_t)n;
		}
		if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(0, in, sizeof in);
			if (n > 0)
				in_len = (size_t)n, in_off = 0;
			else if (n == 0 || errno != EINTR)
				fds[0].fd =
					-1; /* the caller's terminal went away: output still flows */
		}
	}
	while (stopping && pump_out(master, out, sizeof out) == 0 && poll(&fds[1], 1, 0) > 0)
		; /* what is ready now, then stop */
	/* Its supervisor killed, the caller's shell takes the terminal back, and the relay's group is
	 * then a background one: restoring the modes would stop it (SIGTTOU) or fail (EIO). Only the
	 * restore goes past that: the raw modes above still wait for the foreground, as any job's. */
	signal(SIGTTOU, SIG_IGN);
	if (restore)
		tcsetattr(0, TCSADRAIN, &saved);
	_exit(0);
}

void console_start(void)
{
	if (oci_socket && chan[1] >= 0) {
		close(chan[1]); /* the sandbox has its own copy; the receiver sees the end with it */
		chan[1] = -1;
	}
	if (chan[0] < 0)
		return;
	close(chan[1]);
	chan[1] = -1;
	int master = recv_fd(chan[0]);
	close(chan[0]);
	chan[0] = -1;
	if (master < 0)
		return;
	relay_pid = fork();
	if (relay_pid < 0)
		die_step(EXIT_CORDON, "console", "start the relay", NULL, errno);
	if (relay_pid == 0) {
		/* The launcher's other fds (events, audit, plan) are not the relay's to hold open. */
		if (master > 3)
			sys_close_range(3, (unsigned)master - 1, 0);
		sys_close_range((unsigned)master + 1, ~0u, 0);
		if (master < 3)
			_exit(EXIT_CORDON); /* fds 0-2 are terminals here: cannot happen */
		relay(master);
	}
	close(master);
}

void console_reaped(pid_t pid)
{
	if (pid == relay_pid)
		relay_pid = 0;
}

pid_t console_relay_pid(void)
{
	return relay_pid > 0 ? relay_pid : 0;
}

int console_active(void)
{
	return relay_pid > 0;
}

void console_finish(void)
{
	if (relay_pid <= 0)
		return;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (int waited = 0; waited < DRAIN_MS; waited += 10) {
		if (waitpid(relay_pid, NULL, WNOHANG) == relay_pid)
			return;
		nanosleep(&tick, NULL);
	}
	kill(relay_pid, SIGTERM);
	while (waitpid(relay_pid, NULL, 0) < 0 && errno == EINTR)
		;
}
