/* probe.c — asks the kernel rather than guessing from version numbers: each namespace is
 * created for real in a throwaway child, each syscall is called with arguments it rejects. */
#define _GNU_SOURCE
#include "probe.h"
#include "proc_events.h"

#include "sys.h"

#include <errno.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static void print_errno_field(int err)
{
	const char *name = strerrorname_np(err);
	printf("\"errno\":%d,\"code\":\"%s\"", err, name ? name : "");
}

/* 0 when a child can unshare flags, else the errno it got. */
static int try_unshare(unsigned long flags)
{
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(unshare((int)flags) ? (errno & 0xff) : 0);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return EINVAL;
	return WEXITSTATUS(status);
}

static void print_namespaces(void)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} ns[] = {
		{ "user", CLONE_NEWUSER },     { "pid", CLONE_NEWPID },	  { "mount", CLONE_NEWNS },
		{ "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },	  { "net", CLONE_NEWNET },
		{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
	};
	int user_err = try_unshare(CLONE_NEWUSER);
	printf("\"namespaces\":{");
	for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
		/* Unprivileged callers get the others through a user namespace. */
		unsigned long flags = ns[i].flag | (user_err == 0 ? CLONE_NEWUSER : 0);
		int err = try_unshare(flags);
		printf("%s\"%s\":{\"ok\":%s", i ? "," : "", ns[i].name, err ? "false," : "true");
		if (err)
			print_errno_field(err);
		printf("}");
	}
	printf("}");
}

static void print_syscall(const char *name, long ret, int first)
{
	/* Called with invalid arguments: anything but ENOSYS means the syscall exists. */
	int present = !(ret < 0 && errno == ENOSYS);
	printf("%s\"%s\":%s", first ? "" : ",", name, present ? "true" : "false");
}

static void print_syscalls(void)
{
	printf("\"syscalls\":{");
	print_syscall("open_tree", syscall(SYS_open_tree, -1, "", 0), 1);
	print_syscall("move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0), 0);
	print_syscall("mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0), 0);
	print_syscall("fsopen", syscall(SYS_fsopen, NULL, 0), 0);
	print_syscall("openat2", syscall(SYS_openat2, -1, "", NULL, 0), 0);
	print_syscall("close_range", syscall(SYS_close_range, 1, 0, 0), 0);
	print_syscall("pidfd_open", syscall(SYS_pidfd_open, -1, 0), 0);
	printf("}");
}

static void print_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	printf("\"landlock\":{");
	if (abi >= 0)
		printf("\"abi\":%ld", abi);
	else {
		printf("\"abi\":0,");
		print_errno_field(errno);
	}
	printf("}");
}

static void print_seccomp(void)
{
	static const struct {
		const char *name;
		unsigned action;
	} actions[] = {
		{ "kill_process", SECCOMP_RET_KILL_PROCESS },
		{ "kill_thread", SECCOMP_RET_KILL_THREAD },
		{ "trap", SECCOMP_RET_TRAP },
		{ "errno", SECCOMP_RET_ERRNO },
		{ "user_notif", SECCOMP_RET_USER_NOTIF },
		{ "trace", SECCOMP_RET_TRACE },
		{ "log", SECCOMP_RET_LOG },
		{ "allow", SECCOMP_RET_ALLOW },
	};
	long ok = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &actions[7].action);
	printf("\"seccomp\":{\"filter\":%s,\"actions\":[", ok == 0 ? "true" : "false");
	int first = 1;
	for (size_t i = 0; ok == 0 && i < sizeof actions / sizeof *actions; i++) {
		if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &actions[i].action) == 0) {
			printf("%s\"%s\"", first ? "" : ",", actions[i].name);
			first = 0;
		}
	}
	printf("]}");
}

/* Audit on/off (AUDIT_GET needs CAP_AUDIT_CONTROL: others get the errno). */
static void print_audit(void)
{
	struct {
		struct nlmsghdr h;
	} req = { { NLMSG_HDRLEN, 1000 /* AUDIT_GET */, NLM_F_REQUEST, 1, 0 } };
	char buf[8192];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 9 /* NETLINK_AUDIT */);
	printf("\"audit\":{");
	if (fd < 0 || send(fd, &req, sizeof req, 0) < 0) {
		print_errno_field(errno);
		printf("}");
		if (fd >= 0)
			close(fd);
		return;
	}
	for (int i = 0; i < 4; i++) {
		struct timeval tv = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < (ssize_t)NLMSG_HDRLEN)
			break;
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		if (h->nlmsg_type == NLMSG_ERROR && n >= (ssize_t)(NLMSG_HDRLEN + sizeof(int))) {
			int err = -*(const int *)(buf + NLMSG_HDRLEN);
			if (err) {
				print_errno_field(err);
				break;
			}
			continue;
		}
		if (h->nlmsg_type == 1000 && n >= (ssize_t)(NLMSG_HDRLEN + 8)) {
			unsigned enabled;
			memcpy(&enabled, buf + NLMSG_HDRLEN + 4, sizeof enabled);
			printf("\"enabled\":%u", enabled);
			break;
		}
	}
	printf("}");
	close(fd);
}

/* Whether the i386 entry point (int 0x80) works for a 64-bit process: some kernels are built
 * without IA32 emulation or boot with it off (ia32_emulation=0), and then it faults. Tried in a
 * child, since the fault kills. null on other architectures. */
static void print_i386_entry(void)
{
#if defined(__x86_64__)
	pid_t child = fork();
	if (child == 0) {
		long ret;
		__asm__ volatile("int $0x80" : "=a"(ret) : "0"(20L) : "memory"); /* i386 getpid */
		_exit(ret == (long)getpid() ? 0 : 1);
	}
	int status = 0;
	int ok = child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
		 WEXITSTATUS(status) == 0;
	printf("\"i386Entry\":%s", ok ? "true" : "false");
#else
	printf("\"i386Entry\":null");
#endif
}

/* Whether the x32 ABI answers (CONFIG_X86_X32_ABI, and x32=on where the kernel has the switch):
 * getpid with the x32 bit. ENOSYS where it is absent. Tried in a child, since a seccomp filter
 * around us may kill x32 numbers (every cordon sandbox's does, so `cordon check` inside one
 * died of SIGSYS). null on other architectures. */
static void print_x32_entry(void)
{
#if defined(__x86_64__)
	pid_t child = fork();
	if (child == 0) {
		long ret = syscall(0x40000000L | 39L); /* __X32_SYSCALL_BIT | __NR_getpid */
		_exit(ret == (long)getpid() ? 0 : 1);
	}
	int status = 0;
	int ok = child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
		 WEXITSTATUS(status) == 0;
	printf("\"x32Entry\":%s", ok ? "true" : "false");
#else
	printf("\"x32Entry\":null");
#endif
}

int probe_print(void)
{
	printf("{\"version\":1,\"uid\":%u,", (unsigned)getuid());
	print_namespaces();
	printf(",");
	print_syscalls();
	printf(",");
	print_landlock();
	printf(",");
	print_seccomp();
	printf(",");
	print_audit();
	printf(",");
	print_i386_entry();
	printf(",");
	print_x32_entry();
	/* Process events carry exit codes and signals from the connector; polling has neither. */
	printf(",\"procConnector\":%s", proc_connector_usable() ? "true" : "false");
	printf("}\n");
	return fflush(stdout) ? 1 : 0;
}
