/* The escape battery's network side doors (src/seccomp/network.ts): connecting to a TCP port
 * without connect() (fast open), taking a port without bind() (listen), sockets the port rules
 * do not judge (MPTCP), families no net namespace holds (vsock, Bluetooth…), and the terminal
 * guard's comparison (an ioctl request with high bits set, which the kernel drops). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "attack.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char DATA[] = "cordon-verify";

/* The host's 127.0.0.1:PORT, for an AF_INET socket or (v4-mapped, ::ffff:127.0.0.1) an AF_INET6
 * one: the same host listener, reached through the IPv6 stack. */
static socklen_t loopback(int family, const char *arg, struct sockaddr_storage *ss)
{
	uint16_t port = htons((uint16_t)(arg ? strtol(arg, NULL, 10) : 0));
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = port;
		static const unsigned char mapped[16] = {
			[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1
		};
		memcpy(&sa->sin6_addr, mapped, sizeof mapped);
		return sizeof *sa;
	}
	struct sockaddr_in *sa = (struct sockaddr_in *)ss;
	sa->sin_family = AF_INET;
	sa->sin_port = port;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof *sa;
}

enum send_call { VIA_SENDTO, VIA_SENDMSG, VIA_SENDMMSG };

/* MSG_FASTOPEN connects inside the send: the kernel never calls the connect hook Landlock's
 * port rules listen on. */
static struct result fastopen(int family, enum send_call how, const char *arg)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, arg, &ss);
	struct iovec iov = { .iov_base = (void *)DATA, .iov_len = sizeof DATA - 1 };
	struct mmsghdr mm;
	memset(&mm, 0, sizeof mm);
	mm.msg_hdr.msg_name = &ss;
	mm.msg_hdr.msg_namelen = len;
	mm.msg_hdr.msg_iov = &iov;
	mm.msg_hdr.msg_iovlen = 1;
	const char *call = how == VIA_SENDTO	? "sendto"
			   : how == VIA_SENDMSG ? "sendmsg"
						: "sendmmsg";
	long r = how == VIA_SENDTO    ? sendto(fd, DATA, sizeof DATA - 1, MSG_FASTOPEN,
					       (struct sockaddr *)&ss, len)
		 : how == VIA_SENDMSG ? sendmsg(fd, &mm.msg_hdr, MSG_FASTOPEN)
				      : sendmmsg(fd, &mm, 1, MSG_FASTOPEN);
	int err = errno;
	close(fd);
	if (r < 0)
		return fail_with(call, err);
	return escaped(call, "connected to the host's loopback and sent data");
}

struct result p_tcp_fastopen(const char *arg)
{
	return fastopen(AF_INET, VIA_SENDTO, arg);
}
struct result p_tcp_fastopen6(const char *arg)
{
	return fastopen(AF_INET6, VIA_SENDTO, arg);
}
struct result p_tcp_fastopen_sendmsg(const char *arg)
{
	return fastopen(AF_INET, VIA_SENDMSG, arg);
}
struct result p_tcp_fastopen_sendmmsg(const char *arg)
{
	return fastopen(AF_INET6, VIA_SENDMMSG, arg);
}

/* TCP_FASTOPEN_CONNECT defers the connection to the first write. */
struct result p_tcp_fastopen_connect(const char *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	int on = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &on, sizeof on)) {
		int err = errno;
		close(fd);
		return fail_with("setsockopt", err);
	}
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, arg, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = errno;
		close(fd);
		return fail_with("connect", err);
	}
	long r = write(fd, DATA, sizeof DATA - 1);
	int err = errno;
	close(fd);
	return r < 0 ? fail_with("write", err)
		     : escaped("write", "connected to the host's loopback and sent data");
}

/* listen() on an unbound socket binds an ephemeral port itself, past Landlock's bind rule. */
struct result p_listen_autobind(const char *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	if (listen(fd, 1)) {
		int err = errno;
		close(fd);
		return fail_with("listen", err);
	}
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	struct result r = escaped("listen", "");
	snprintf(r.detail, sizeof r.detail, "listening on port %u without bind()",
		 ntohs(sa.sin_port));
	return r;
}

/* MPTCP is a protocol of its own (IPPROTO_MPTCP): Landlock's TCP port rules do not judge it. */
struct result p_mptcp_connect(const char *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, arg, &ss);
	long r = connect(fd, (struct sockaddr *)&ss, len);
	int err = errno;
	close(fd);
	return r < 0 ? fail_with("connect", err)
		     : escaped("connect", "connected to the host's loopback over MPTCP");
}

/* vsock is not network-namespaced: a socket in any sandbox talks to the hypervisor. */
struct result p_vsock(const char *arg)
{
	(void)arg;
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	close(fd);
	return escaped("socket",
		       "opened a vsock socket (not namespaced: it reaches the hypervisor)");
}

/* Families that are the host's only or large kernel surfaces (see KEPT_FAMILIES in
 * src/seccomp/network.ts): escaped when any of them opens. */
struct result p_net_families(const char *arg)
{
	(void)arg;
	static const struct {
		int family, type, protocol;
		const char *name;
	} tries[] = {
		{ 31, SOCK_SEQPACKET, 0, "bluetooth" },
		{ 29, SOCK_DGRAM, 2, "can" },
		{ 39, SOCK_SEQPACKET, 1, "nfc" },
		{ 42, SOCK_DGRAM, 0, "qipcrtr" },
		{ 36, SOCK_DGRAM, 0, "ieee802154" },
		{ 41, SOCK_DGRAM, 0, "kcm" },
		{ 30, SOCK_RDM, 0, "tipc" },
		{ 21, SOCK_SEQPACKET, 0, "rds" },
		{ 43, SOCK_STREAM, 0, "smc" },
		{ 45, SOCK_DGRAM, 0, "mctp" },
	};
	char opened[128] = "";
	int first_err = 0;
	for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
		int fd = socket(tries[i].family, tries[i].type | SOCK_CLOEXEC, tries[i].protocol);
		if (fd < 0) {
			if (i == 0)
				first_err = errno;
			continue;
		}
		close(fd);
		size_t used = strlen(opened);
		snprintf(opened + used, sizeof opened - used, "%s%s", used ? ", " : "",
			 tries[i].name);
	}
	if (!opened[0])
		return fail_with("socket", first_err);
	struct result r = escaped("socket", "");
	snprintf(r.detail, sizeof r.detail, "opened: %s", opened);
	return r;
}

/* TIOCSTI with bit 32 set: the kernel reads the request as an unsigned int, so a filter comparing
 * all 64 bits lets it pass. The target is a terminal of the probe's own (a new pty, made its
 * controlling terminal in a new session), so the kernel's own checks pass and a character
 * pushed lands nowhere but there. TIOCSTI reaches only the caller's controlling terminal (or
 * needs CAP_SYS_ADMIN), and a sandbox starts in a session of its own without one: a sandbox that
 * cannot open a pty has no terminal to push into. Both opens use the same flags (the master
 * never becomes a controlling terminal), so that verify asks the filter about either alike. */
struct result p_tiocsti_high_bits(const char *arg)
{
	(void)arg;
	int fds[2];
	if (pipe(fds))
		return untried("pipe", errno);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct result r;
		const char *name = NULL;
		int m = -1;
		if (setsid() < 0)
			r = untried("setsid", errno);
		else if ((m = open("/dev/ptmx", O_RDWR | O_CLOEXEC)) < 0)
			r = fail_with("openat", errno);
		else if (grantpt(m) || unlockpt(m) || !(name = ptsname(m)))
			r = untried("ioctl", errno); /* the pty's setup, not the attack */
		else {
			int s = open(name, O_RDWR | O_CLOEXEC); /* the controlling terminal */
			char c = ' ';
			long ret = s < 0 ? -1
					 : syscall(SYS_ioctl, s,
						   (unsigned long)(1UL << 32 | TIOCSTI), &c);
			r = s < 0      ? fail_with("openat", errno)
			    : ret == 0 ? escaped("ioctl",
						 "pushed a character with ioctl(1 << 32 | TIOCSTI)")
				       : fail_with("ioctl", errno);
		}
		if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	struct result r = untried("fork", errno);
	ssize_t n = pid > 0 ? read(fds[0], &r, sizeof r) : (ssize_t)sizeof r;
	if (n < 0)
		r = untried("read", errno);
	else if (n != (ssize_t)sizeof r) {
		/* The child died without a result: this probe dies of the same signal, for verify
		 * to judge as the harness judges a probe that died (helper-154: any death was a
		 * block); one that exited is untried. */
		int status = 0;
		if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status)) {
			signal(WTERMSIG(status), SIG_DFL);
			raise(WTERMSIG(status));
		}
		r = untried("child's report", 0);
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return r;
}
