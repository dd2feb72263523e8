/* cordon-probes: the escape test battery `cordon verify` runs inside a sandbox. Each probe
 * attempts one attack in its own forked child (a probe the filter kills takes nothing else
 * down) and prints one JSON line: the call it made, "blocked" or "escaped", and the errno or
 * signal that stopped it. Probes are built to be harmless when they succeed: privileged calls
 * get arguments that fail right after the permission check (reboot with a bad magic, swapon of
 * a missing file, kexec for a foreign arch), so "escaped" means "the kernel let it through".
 *
 * Usage: cordon-probes NAME[=ARG] ...   (cordon-probes --list prints the names) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kexec.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "attack.h"
#include "cn_proc_subscribe.h"

struct result fail_with(const char *call, int err)
{
	struct result r = { .call = call, .escaped = 0, .err = err };
	return r;
}

struct result untried(const char *call, int err)
{
	struct result r = { .call = call, .untried = 1, .err = err };
	snprintf(r.detail, sizeof r.detail,
		 "the probe's own %s failed (the policy refuses it?): the attack was not tried",
		 call);
	return r;
}

struct result escaped(const char *call, const char *detail)
{
	struct result r = { .call = call, .escaped = 1 };
	/* Cut to fit: the detail names what got through, for the report. */
	snprintf(r.detail, sizeof r.detail, "%.*s", (int)(sizeof r.detail - 1), detail);
	return r;
}

/* A call that returns >= 0 on success: escaped when it succeeded. */
static struct result check(const char *call, long ret, const char *detail)
{
	return ret >= 0 ? escaped(call, detail) : fail_with(call, errno);
}

/* A privileged call made to fail after its permission check: `ok_errno` means it passed it. */
static struct result privileged(const char *call, long ret, int ok_errno)
{
	if (ret >= 0 || errno == ok_errno)
		return escaped(call, "the permission check passed");
	return fail_with(call, errno);
}

/* A name of this process's own for `what` in $TMPDIR (the private temporary directory without
 * a mount namespace), else /tmp: a fixed name in a shared directory could be taken first by
 * anyone there, and the probe would fail on it (helper-154: /dev/shm/cordon-verify-exec, made
 * by another user, read as the exec refused). */
static void scratch_path(char *out, size_t len, const char *dir, const char *what)
{
	if (!dir) {
		const char *tmp = getenv("TMPDIR");
		dir = tmp && tmp[0] == '/' ? tmp : "/tmp";
	}
	/* The pid alone repeats from run to run in a pid namespace; the clock's nanoseconds (the
	 * vDSO's: no call a filter could refuse) do not, and no one else can guess them. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long tag = ((unsigned long)ts.tv_nsec << 16) ^ (unsigned long)ts.tv_sec ^
			    ((unsigned long)getpid() << 40);
	if (snprintf(out, len, "%s/cordon-verify-%s-%lx", dir, what, tag) >= (int)len)
		snprintf(out, len, "/tmp/cordon-verify-%s-%lx", what, tag);
}

/* A directory of the probe's own to aim a privileged call at, so that the call reaches its
 * permission check (a missing one fails with ENOENT before it: helper-154). */
static int scratch_dir(char *out, size_t len, const char *what)
{
	scratch_path(out, len, NULL, what);
	return mkdir(out, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static long parse_long(const char *arg)
{
	return arg ? strtol(arg, NULL, 10) : 0;
}

static struct result p_ptrace(const char *arg)
{
	pid_t pid = (pid_t)parse_long(arg);
	long r = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, pid, 0, 0);
	if (r == 0)
		syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, pid, 0, 0);
	return check("ptrace", r, "attached to a host process");
}

static struct result p_mount(const char *arg)
{
	(void)arg;
	char dir[PATH_MAX];
	int made = scratch_dir(dir, sizeof dir, "mnt") == 0;
	int mkdir_err = errno;
	long r = mount("none", dir, "tmpfs", 0, NULL);
	/* No directory: the call fails its lookup (ENOENT) before the capability check, and only a
	 * refusal before the lookup (the filter's) says anything. */
	if (!made && r < 0 && errno == ENOENT)
		return untried("mkdir", mkdir_err);
	if (r == 0)
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return check("mount", r, "mounted a tmpfs");
}

static struct result p_umount(const char *arg)
{
	(void)arg;
	/* Not a mount point: EINVAL, but only after the CAP_SYS_ADMIN check (the path is looked
	 * up first, so it must exist: a directory of its own, not /proc, which a view may lack). */
	char dir[PATH_MAX];
	int own = scratch_dir(dir, sizeof dir, "umount") == 0;
	int mkdir_err = errno;
	if (!own && access("/proc/self/fd", F_OK) == 0)
		snprintf(dir, sizeof dir, "/proc/self/fd");
	long ret = umount2(dir, 0);
	/* No directory: ENOENT from the lookup, before the capability check (see p_mount). */
	if (ret < 0 && errno == ENOENT && !own)
		return untried("mkdir", mkdir_err);
	int err = errno;
	if (own)
		rmdir(dir);
	errno = err;
	return privileged("umount2", ret, EINVAL);
}

static struct result p_userns(const char *arg)
{
	(void)arg;
	return check("unshare", unshare(CLONE_NEWUSER), "created a user namespace");
}

static struct result p_mountns(const char *arg)
{
	(void)arg;
	return check("unshare", unshare(CLONE_NEWNS), "created a mount namespace");
}

static struct result p_chroot(const char *arg)
{
	(void)arg;
	char dir[PATH_MAX];
	/* Where no directory can be made, chroot to / (harmless, and the same permission check). */
	if (scratch_dir(dir, sizeof dir, "root"))
		snprintf(dir, sizeof dir, "/");
	long r = chroot(dir);
	rmdir(dir);
	return check("chroot", r, "changed root");
}

static struct result p_pivot_root(const char *arg)
{
	(void)arg;
	return privileged(
		"pivot_root",
		syscall(SYS_pivot_root, "/nonexistent-cordon-new", "/nonexistent-cordon-old"),
		ENOENT);
}

/* Escaped when the file opened and gave bytes (a masked file is an empty device or refused). */
struct result p_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_with("openat", errno);
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	int err = errno;
	close(fd);
	if (n > 0)
		return escaped("read", path);
	return fail_with("read", n < 0 ? err : 0);
}

/* Whether name is one of the '/'-separated names in list (the directories the view made on
 * its way to a bind below the listed directory: the policy's, not the host's). */
static int listed(const char *name, const char *list)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* arg is DIR, or DIR//NAME/NAME…: the names the view itself puts in DIR. */
static struct result p_list(const char *arg)
{
	char path[PATH_MAX];
	const char *sep = strstr(arg, "//");
	size_t len = sep ? (size_t)(sep - arg) : strlen(arg);
	if (len == 0 || len >= sizeof path)
		return fail_with("openat", ENAMETOOLONG);
	memcpy(path, arg, len);
	path[len] = 0;
	const char *expected = sep ? sep + 2 : "";
	DIR *d = opendir(path);
	if (!d)
		return fail_with("openat", errno);
	struct dirent *e;
	int entries = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !listed(e->d_name, expected))
			entries++;
	closedir(d);
	if (entries > 0)
		return escaped("getdents64", path);
	return fail_with("getdents64", 0);
}

/* The file stays: `cordon verify` checks on the host whether it landed there, then removes it. */
static struct result p_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail_with("openat", errno);
	close(fd);
	return escaped("openat", path);
}

/* issue 18 (binds): the host's kernel interfaces a wide bind or a traced view could reach. */
static struct result open_any_for_write(const char *const *files, size_t count);
static int knob_found;
static char knob_path[120];

static int knob_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type != FTW_F || ftw->level > 8)
		return 0;
	const char *name = path + ftw->base;
	if (strcmp(name, "cgroup.procs") && strcmp(name, "pids.max") &&
	    strcmp(name, "memory.max") && strcmp(name, "memory.limit_in_bytes") &&
	    strcmp(name, "cgroup.subtree_control"))
		return 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	close(fd);
	snprintf(knob_path, sizeof knob_path, "%s", path);
	knob_found = 1;
	return 1; /* stop the walk */
}

/* Escaped when a sysfs or cgroupfs knob opens for writing (nothing is written): the cgroup
 * files of any group (moving itself out of its limits, raising pids.max), power state, the
 * kernel's hotplug helper. */
static struct result p_kernel_knobs(const char *arg)
{
	(void)arg;
	static const char *const files[] = { "/sys/power/state", "/sys/kernel/uevent_helper",
					     "/sys/kernel/mm/transparent_hugepage/enabled",
					     "/sys/fs/cgroup/cgroup.procs",
					     "/sys/fs/cgroup/pids/cgroup.procs" };
	struct result r = open_any_for_write(files, sizeof files / sizeof *files);
	if (r.escaped)
		return r;
	if (nftw("/sys/fs/cgroup", knob_visit, 16, FTW_PHYS) == 1 && knob_found)
		return escaped("openat", knob_path);
	return r;
}

/* A program written to the sandbox's temporary directory ($TMPDIR without a mount namespace,
 * else /tmp), run by execve and, refused that, mapped executable as ld.so maps what it runs
 * (`ld.so $TMPDIR/prog`): Landlock asks for execute at execve only, a noexec mount at both
 * (helper-137). */
static struct result copy_failed(int copied);

/* This program, for the probes that copy or run it: argv[0] when it is absolute (verify runs it
 * by its path in the sandbox), so that a view without /proc does not refuse the probe its own
 * file, which an attacker's program would not need. */
static const char *self_path = "/proc/self/exe";

/* Copies this program (self_path, about 1 MiB) into out: 0, or COPY_SOURCE when its own
 * file could not be read (no /proc in the view), COPY_ROOM when the copy did not fit (a small
 * tmpfs, RLIMIT_FSIZE) or COPY_WRITE when the write was refused, with errno set. Only the last
 * is the attack's path refused: an attacker's program can be a few bytes. */
enum { COPY_SOURCE = 1, COPY_ROOM, COPY_WRITE };
static int copy_self(int out)
{
	int in = open(self_path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return COPY_SOURCE;
	char buf[65536];
	ssize_t n;
	int bad = 0;
	while (!bad && (n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0)
			bad = COPY_SOURCE;
		else if (write(out, buf, (size_t)n) != n)
			bad = errno == ENOSPC || errno == EFBIG || errno == EDQUOT || errno == 0
				      ? COPY_ROOM
				      : COPY_WRITE;
	}
	int err = errno;
	close(in);
	errno = err;
	return bad;
}

/* Writes a copy of this program in dir (NULL: $TMPDIR, else /tmp) under a name of its own, which
 * it puts in copy: 0, or -1 with the probe's result in *why. */
static int write_copy(char *copy, size_t len, const char *dir, struct result *why)
{
	scratch_path(copy, len, dir, "exec");
	int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0) {
		*why = errno == EEXIST ? untried("openat", errno) : fail_with("openat", errno);
		return -1;
	}
	int copied = copy_self(out);
	int err = errno;
	close(out);
	if (copied) {
		unlink(copy);
		errno = err;
		*why = copy_failed(copied);
		return -1;
	}
	return 0;
}

static struct result p_exec_tmp(const char *arg)
{
	(void)arg;
	char copy[PATH_MAX];
	struct result why;
	if (write_copy(copy, sizeof copy, NULL, &why))
		return why;
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { copy, (char *)"--noop", NULL };
		execv(copy, argv);
		_exit(100 + errno);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		struct result r = untried(pid < 0 ? "fork" : "wait4", errno);
		unlink(copy);
		return r;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 42) {
		unlink(copy);
		return escaped("execve", "ran a program written to the temporary directory");
	}
	int exec_err =
		WIFEXITED(status) && WEXITSTATUS(status) >= 100 ? WEXITSTATUS(status) - 100 : 0;
	int fd = open(copy, O_RDONLY | O_CLOEXEC);
	void *map =
		fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	int map_err = errno;
	if (fd >= 0)
		close(fd);
	unlink(copy);
	if (map != MAP_FAILED) {
		munmap(map, 4096);
		return escaped("mmap",
			       "mapped a program written to the temporary directory executable, "
			       "as ld.so does to run it (execve was refused)");
	}
	return fail_with(exec_err ? "execve" : "mmap", exec_err ? exec_err : map_err);
}

/* Whether an exec by this process could grant capabilities at all: not under no_new_privs, and
 * only through a non-empty bounding set or inheritable or ambient ones (/proc/self/status).
 * 1 when it cannot tell. */
static int caps_grantable(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 1;
	char line[256];
	unsigned long long v, bnd = ~0ULL, inh = ~0ULL, amb = ~0ULL;
	int nnp = 0, seen = 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "NoNewPrivs: %llu", &v) == 1)
			nnp = v == 1, seen |= 1;
		else if (sscanf(line, "CapBnd: %llx", &v) == 1)
			bnd = v, seen |= 2;
		else if (sscanf(line, "CapInh: %llx", &v) == 1)
			inh = v, seen |= 4;
		else if (sscanf(line, "CapAmb: %llx", &v) == 1)
			amb = v, seen |= 8;
	}
	fclose(f);
	if ((seen & 1) && nnp)
		return 0;
	return !((seen & 14) == 14 && bnd == 0 && inh == 0 && amb == 0);
}

/* Capabilities after exec (root inside a user namespace gets them back at exec unless
 * no_new_privs or securebits stop it), or after exec of the setuid/setgid-root fixture given as
 * ARG (native/suid-fixture.c, which prints the same line as `--caps`): escaped when exec gave
 * capabilities or another user or group. */
static struct result p_exec_caps(const char *arg)
{
	int fds[2];
	if (pipe(fds))
		return untried("pipe", errno);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		char *self = arg ? (char *)arg : (char *)self_path;
		char *argv[] = { self, (char *)"--caps", NULL };
		execv(self, argv);
		_exit(100 + errno);
	}
	int fork_err = errno;
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return untried("fork", fork_err);
	}
	char buf[128] = { 0 };
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	int read_err = errno;
	close(fds[0]);
	int status = 0;
	/* A filter's errno(0) makes a call "succeed" without running: a wait that reaped nothing
	 * left status 0, a read that read nothing looked like an exec that printed nothing. */
	if (waitpid(pid, &status, 0) != pid)
		return untried("wait4", errno);
	if (n < 0 || (n == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) >= 100)))
		return untried("read", n < 0 ? read_err : 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 100)
		return fail_with("execve", WEXITSTATUS(status) - 100);
	if (n <= 0)
		return fail_with("execve", 0);
	unsigned long long eff = 0;
	unsigned euid = 0, uid = 0, egid = 0, gid = 0;
	char caps[24];
	if (sscanf(buf, "%23s %u %u %u %u", caps, &euid, &uid, &egid, &gid) != 5)
		return fail_with("execve", 0);
	if (strcmp(caps, "unknown") == 0) {
		/* The policy refuses capget, so the fixture could not say what exec gave it. Exec
		 * gives a setuid-root file no capability this process could not pass on: none
		 * under no_new_privs, none with an empty bounding set and no inheritable or
		 * ambient ones. Anything else stays an escape: unknown is never "blocked". */
		if (euid == uid && egid == gid && !caps_grantable())
			return fail_with("execve", 0);
		struct result r = escaped("execve", "");
		snprintf(r.detail, sizeof r.detail,
			 "CapEff unknown (the policy refuses capget), euid %u (uid %u), egid %u "
			 "(gid %u)",
			 euid, uid, egid, gid);
		return r;
	}
	char *end;
	errno = 0;
	eff = strtoull(caps, &end, 16);
	if (*end != '\0' || errno)
		return fail_with("execve", 0);
	if (eff != 0 || euid != uid || egid != gid) {
		struct result r = escaped("execve", "");
		snprintf(r.detail, sizeof r.detail,
			 "CapEff %llx, euid %u (uid %u), egid %u (gid %u)", eff, euid, uid, egid,
			 gid);
		return r;
	}
	return fail_with("execve", 0);
}

/* What a failed copy_self says, errno set: the copy's own failures prove nothing. */
static struct result copy_failed(int copied)
{
	if (copied == COPY_SOURCE)
		return untried("read of itself", errno);
	if (copied == COPY_ROOM)
		return untried("copy of itself (1 MiB)", errno);
	return fail_with("write", errno);
}

/* Exec from memory and from /dev/shm (issue 18, finding 8): the probe copies itself into a
 * memfd or /dev/shm and runs the copy with --noop (exit 42), where a noexec /tmp stops exec-tmp. */

/* Runs the copy at path, or at fd when path is NULL (execveat with AT_EMPTY_PATH). */
static struct result run_copy(const char *call, int fd, const char *path, const char *what)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)"cordon-verify-copy", (char *)"--noop", NULL };
		char *envp[] = { NULL };
		if (path)
			execve(path, argv, envp);
		else
			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(100 + errno);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return untried(pid < 0 ? "fork" : "wait4", errno);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 42)
		return escaped(call, what);
	return fail_with(call, WIFEXITED(status) && WEXITSTATUS(status) >= 100
				       ? WEXITSTATUS(status) - 100
				       : 0);
}

static struct result p_exec_memfd(const char *arg)
{
	(void)arg;
	/* MFD_EXEC (0x10, Linux 6.3) is what an attacker asks for; no flag is the same on older
	 * kernels or where vm.memfd_noexec is 0. Reported: the last attempt's outcome. */
	int fd = (int)syscall(SYS_memfd_create, "cordon-verify", 0x10u);
	if (fd < 0)
		fd = (int)syscall(SYS_memfd_create, "cordon-verify", 0u);
	if (fd < 0)
		return fail_with("memfd_create", errno);
	int copied = copy_self(fd);
	if (copied) {
		int err = errno;
		close(fd);
		errno = err;
		return copy_failed(copied);
	}
	struct result r = run_copy("execveat", fd, NULL, "ran a program from a memfd");
	close(fd);
	return r;
}

/* Writes a copy of the probe in dir and runs it. */
static struct result exec_copy_at(const char *dir, const char *what)
{
	char copy[PATH_MAX];
	struct result why;
	if (write_copy(copy, sizeof copy, dir, &why))
		return why;
	struct result r = run_copy("execve", -1, copy, what);
	unlink(copy);
	return r;
}

static struct result p_exec_devshm(const char *arg)
{
	(void)arg;
	return exec_copy_at("/dev/shm", "ran a program written to /dev/shm");
}

/* An OCI runtime's /dev is a tmpfs its root may write: it ran what was copied there (helper-141). */
static struct result p_exec_dev(const char *arg)
{
	(void)arg;
	return exec_copy_at("/dev", "ran a program written to /dev");
}

static struct result p_socket(const char *kind)
{
	int fd = strcmp(kind, "packet") == 0 ? socket(AF_PACKET, SOCK_RAW, htons(0x0003))
					     : socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd >= 0)
		close(fd);
	return check("socket", fd, kind);
}

static struct result p_connect(int type, const char *arg)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)parse_long(arg)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	long r;
	if (type == SOCK_STREAM) {
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	} else {
		/* Delivery is what counts: `cordon verify` listens on the host and says. */
		r = sendto(fd, "cordon-verify", 13, 0, (struct sockaddr *)&sa, sizeof sa);
	}
	int err = errno;
	close(fd);
	if (r < 0)
		return fail_with(type == SOCK_STREAM ? "connect" : "sendto", err);
	return escaped(type == SOCK_STREAM ? "connect" : "sendto", "reached the host's loopback");
}

static struct result p_abstract(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name ? name : "");
	if (len > sizeof sa.sun_path - 1)
		len = sizeof sa.sun_path - 1;
	memcpy(sa.sun_path + 1, name, len);
	/* The whole sun_path, zero-padded: how libuv (Node) names abstract sockets. */
	long r = connect(fd, (struct sockaddr *)&sa, (socklen_t)sizeof sa);
	int err = errno;
	close(fd);
	return r == 0 ? escaped("connect", "connected to a host abstract socket")
		      : fail_with("connect", err);
}

static struct result p_signal(const char *arg)
{
	return check("kill", kill((pid_t)parse_long(arg), SIGTERM), "signalled a host process");
}

/* Act on a host process by pid without a signal: read its limits, set its priority and CPUs to
 * what they already are (harmless if it gets through; prlimit64 with RLIMIT_CPU 0 would kill). */
static struct result p_process_control(const char *arg)
{
	pid_t pid = (pid_t)parse_long(arg);
	struct rlimit old;
	if (syscall(SYS_prlimit64, pid, RLIMIT_NOFILE, NULL, &old) == 0)
		return escaped("prlimit64", "read a host process's limits");
	int first = errno;
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, (id_t)pid);
	if (errno == 0 && setpriority(PRIO_PROCESS, (id_t)pid, nice) == 0)
		return escaped("setpriority", "set a host process's priority");
	cpu_set_t set;
	if (sched_getaffinity(pid, sizeof set, &set) == 0 &&
	    sched_setaffinity(pid, sizeof set, &set) == 0)
		return escaped("sched_setaffinity", "set a host process's CPUs");
	return fail_with("prlimit64", first);
}

static struct result p_tiocsti(const char *arg)
{
	(void)arg;
	char c = ' ';
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	int target = fd >= 0 ? fd : 0;
	long r = ioctl(target, TIOCSTI, &c);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (r == 0)
		return escaped("ioctl", "pushed a character into the terminal's input");
	return fail_with("ioctl", err);
}

/* The kernel's process-event connector reports every fork, exec and exit on the host: a
 * sandbox that can listen sees what runs outside it. Subscribe, start a child, and wait for
 * any event; a subscription the kernel ignores (from a user namespace) receives nothing. */
static struct result p_proc_connector(const char *arg)
{
	(void)arg;
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa))
		return fail_with("bind", errno);
	if (cn_proc_subscribe(fd, PROC_CN_MCAST_LISTEN))
		return fail_with("send", errno);
	/* A fork of its own, so that an event comes even on a quiet host. */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	if (child < 0)
		return untried("fork", errno);
	waitpid(child, NULL, 0);
	struct timeval tv = { 0, 300000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return fail_with("recv",
					 0); /* nothing came: the subscription was ignored */
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		if (NLMSG_OK(h, (size_t)n) &&
		    h->nlmsg_len >=
			    NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event))) {
			const struct proc_event *e =
				(const struct proc_event *)((const struct cn_msg *)NLMSG_DATA(h))
					->data;
			if (e->what != PROC_EVENT_NONE) /* NONE acknowledges the subscription */
				return escaped("recv", "received the host's process events");
		}
	}
}

static struct result p_keyctl(const char *arg)
{
	(void)arg;
	return check("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* SESSION */, 0),
		     "reached the kernel keyring");
}

static struct result p_bpf(const char *arg)
{
	(void)arg;
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
	if (fd >= 0)
		close((int)fd);
	return check("bpf", fd, "created a BPF map");
}

static struct result p_perf(const char *arg)
{
	(void)arg;
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.size = sizeof attr;
	attr.config = PERF_COUNT_SW_TASK_CLOCK;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd >= 0)
		close((int)fd);
	return check("perf_event_open", fd, "opened a perf event");
}

static struct result p_io_uring(const char *arg)
{
	(void)arg;
	struct io_uring_params params;
	memset(&params, 0, sizeof params);
	long fd = syscall(SYS_io_uring_setup, 1, &params);
	if (fd >= 0)
		close((int)fd);
	return check("io_uring_setup", fd, "created an io_uring");
}

static struct result p_userfaultfd(const char *arg)
{
	(void)arg;
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		close((int)fd);
	return check("userfaultfd", fd, "created a userfaultfd");
}

static struct result p_module(const char *arg)
{
	(void)arg;
	return privileged("finit_module", syscall(SYS_finit_module, -1, "", 0), EBADF);
}

static struct result p_init_module(const char *arg)
{
	(void)arg;
	long r = syscall(SYS_init_module, NULL, 0, "");
	if (r >= 0 || errno == EFAULT || errno == ENOEXEC || errno == EINVAL)
		return escaped("init_module", "the permission check passed");
	return fail_with("init_module", errno);
}

static struct result p_reboot(const char *arg)
{
	(void)arg;
	/* A wrong second magic: EINVAL, but only after the CAP_SYS_BOOT check. */
	return privileged("reboot",
			  syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0x12345678,
				  LINUX_REBOOT_CMD_CAD_OFF, NULL),
			  EINVAL);
}

static struct result p_clock(const char *arg)
{
	(void)arg;
	/* Both calls that set it, raw: glibc's adjtimex() is clock_adjtime, and a filter that
	 * refused only one passed for one that refused both (helper-154). A tick out of range
	 * is refused with EINVAL only after the CAP_SYS_TIME check: nothing is ever set. */
	struct timex set;
	memset(&set, 0, sizeof set);
	set.modes = ADJ_TICK;
	set.tick = 1;
	struct result r = privileged("adjtimex", syscall(SYS_adjtimex, &set), EINVAL);
	if (r.escaped)
		return r;
	memset(&set, 0, sizeof set);
	set.modes = ADJ_TICK;
	set.tick = 1;
	return privileged("clock_adjtime", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &set),
			  EINVAL);
}

static struct result p_swapon(const char *arg)
{
	(void)arg;
	return privileged("swapon", syscall(SYS_swapon, "/nonexistent-cordon-swap", 0), ENOENT);
}

static struct result p_kexec(const char *arg)
{
	(void)arg;
	/* A foreign architecture: EINVAL, but only after the CAP_SYS_BOOT check. */
	return privileged("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0x7fff0000UL), EINVAL);
}

/* Escaped when any of the files opens for writing (nothing is written); else the first errno. */
static struct result open_any_for_write(const char *const *files, size_t count)
{
	int err = 0;
	for (size_t i = 0; i < count; i++) {
		int fd = open(files[i], O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return escaped("openat", files[i]);
		}
		if (!err)
			err = errno;
	}
	return fail_with("openat", err);
}

static struct result p_proc_sys(const char *arg)
{
	(void)arg;
	static const char *const files[] = { "/proc/sys/kernel/core_pattern",
					     "/proc/sys/kernel/printk_ratelimit",
					     "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches" };
	return open_any_for_write(files, sizeof files / sizeof *files);
}

static struct result p_proc_exe(const char *arg)
{
	(void)arg;
	static const char *const files[] = { "/proc/self/exe", "/proc/1/exe" };
	return open_any_for_write(files, sizeof files / sizeof *files);
}

static struct result p_mknod(const char *arg)
{
	(void)arg;
	char node[PATH_MAX];
	scratch_path(node, sizeof node, NULL, "mem");
	/* Both entry points, raw (glibc's mknod() is mknodat): the result names the last tried. */
	const char *call = "mknodat";
	long made = syscall(SYS_mknodat, AT_FDCWD, node, S_IFCHR | 0600, makedev(1, 1));
#ifdef SYS_mknod
	if (made < 0) {
		call = "mknod";
		made = syscall(SYS_mknod, node, S_IFCHR | 0600, makedev(1, 1) /* /dev/mem */);
	}
#endif
	if (made < 0)
		return fail_with(call, errno);
	int fd = open(node, O_RDONLY | O_CLOEXEC);
	int err = errno;
	unlink(node);
	if (fd >= 0) {
		close(fd);
		return escaped(call, "created and opened /dev/mem");
	}
	return fail_with("openat", err); /* created, but nodev makes it useless */
}

/* No-namespace mode: what a sandbox reaches by the host's own paths (issue 18). */

/* A host process's /proc knob (oom_score_adj: raising it needs no privilege, and makes the
 * process the OOM killer's first victim), opened for writing; nothing is written. */
static struct result p_proc_host(const char *arg)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/oom_score_adj", parse_long(arg));
	const char *const files[] = { path };
	return open_any_for_write(files, 1);
}

/* A host device the policy does not list (another terminal, /dev/fuse, /dev/net/tun, /dev/kmsg):
 * opened only, never read (a terminal would wait for keystrokes), and never as its controller. */
static struct result p_host_device(const char *path)
{
	int fd = open(path ? path : "", O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail_with("openat", errno);
	close(fd);
	return escaped("openat", path);
}

/* A pathname UNIX socket listening on the host, outside every filesystem statement. */
static struct result p_unix_socket(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_with("socket", errno);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof sa.sun_path) {
		close(fd);
		return fail_with("connect", ENAMETOOLONG);
	}
	memcpy(sa.sun_path, path, strlen(path));
	long r = connect(fd, (struct sockaddr *)&sa, (socklen_t)sizeof sa);
	int err = errno;
	close(fd);
	return r == 0 ? escaped("connect", "connected to a host pathname socket")
		      : fail_with("connect", err);
}

#if defined(__x86_64__)
static long i386_syscall(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}
#endif

/* keyctl(GET_KEYRING_ID) through the i386 entry point: it succeeds wherever nothing filters it. */
static struct result p_i386(const char *arg)
{
	(void)arg;
#if defined(__x86_64__)
	long r = i386_syscall(288 /* i386 keyctl */, 0, -3, 0);
	if (r >= 0)
		return escaped("keyctl", "i386 entry point");
	return fail_with("keyctl", (int)-r);
#else
	return fail_with("keyctl", ENOSYS);
#endif
}

static struct result p_x32(const char *arg)
{
	(void)arg;
#if defined(__x86_64__)
	long r = syscall(0x40000000L | 39 /* getpid */);
	return check("getpid", r, "x32 entry point");
#else
	return fail_with("getpid", ENOSYS);
#endif
}

/* Forks sleepers until fork fails or CAP of them run. */
static struct result p_fork_bomb(const char *arg)
{
	long cap = arg ? parse_long(arg) : 2000;
	if (cap <= 0)
		cap = 2000;
	/* Each child is ended by its pid: under --direct the probe is not its own process group. */
	pid_t *pids = calloc((size_t)cap, sizeof *pids);
	if (!pids)
		return fail_with("calloc", ENOMEM);
	long n = 0;
	int err = 0;
	for (; n < cap; n++) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		pids[n] = pid;
	}
	for (long i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	free(pids);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	struct result r = n >= cap ? escaped("clone", "") : fail_with("clone", err);
	snprintf(r.detail, sizeof r.detail, "%ld processes", n);
	return r;
}

/* Touches memory 16 MiB at a time up to CAP MiB; a memory limit kills it first. */
static struct result p_memory(const char *arg)
{
	long cap = arg ? parse_long(arg) : 1024;
	long mib = 0;
	for (; mib < cap; mib += 16) {
		char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED)
			return fail_with("mmap", errno);
		/* Huge pages: one fault per 2 MiB, so gigabytes up to a limit take a second, not ten. */
		madvise(p, 16 << 20, MADV_HUGEPAGE);
		for (long off = 0; off < (16 << 20); off += 4096)
			p[off] = 1; /* in case populating stopped short */
	}
	struct result r = escaped("mmap", "");
	snprintf(r.detail, sizeof r.detail, "%ld MiB", mib);
	return r;
}

struct probe {
	const char *name;
	struct result (*run)(const char *arg);
	const char *fixed; /* the argument when the probe takes none from the caller */
};

static struct result p_tcp(const char *arg)
{
	return p_connect(SOCK_STREAM, arg);
}
static struct result p_udp(const char *arg)
{
	return p_connect(SOCK_DGRAM, arg);
}

static const struct probe PROBES[] = {
	{ "ptrace-host", p_ptrace, NULL },
	{ "mount", p_mount, NULL },
	{ "umount", p_umount, NULL },
	{ "unshare-user", p_userns, NULL },
	{ "unshare-mount", p_mountns, NULL },
	{ "chroot", p_chroot, NULL },
	{ "pivot-root", p_pivot_root, NULL },
	{ "read-shadow", p_read, "/etc/shadow" },
	{ "read-home", p_list, NULL },
	{ "write-outside", p_write, NULL },
	/* issue 18 (binds): kernel interfaces reached through a wide bind or a traced view */
	{ "kernel-knobs", p_kernel_knobs, NULL },
	{ "dev-write", p_write, NULL },
	{ "exec-tmp", p_exec_tmp, NULL },
	{ "exec-caps", p_exec_caps, NULL },
	/* exec from memory and from /dev/shm (issue 18, finding 8) */
	{ "exec-memfd", p_exec_memfd, NULL },
	{ "exec-devshm", p_exec_devshm, NULL },
	{ "exec-dev", p_exec_dev, NULL },
	{ "setuid", p_exec_caps, NULL },
	{ "raw-socket", p_socket, "raw" },
	{ "packet-socket", p_socket, "packet" },
	{ "tcp-host", p_tcp, NULL },
	{ "udp-host", p_udp, NULL },
	/* The port allowlist's and the namespace's side doors, the terminal guard's high bits (attack-net.c). */
	{ "tcp-fastopen", p_tcp_fastopen, NULL },
	{ "tcp-fastopen6", p_tcp_fastopen6, NULL },
	{ "tcp-fastopen-sendmsg", p_tcp_fastopen_sendmsg, NULL },
	{ "tcp-fastopen-sendmmsg", p_tcp_fastopen_sendmmsg, NULL },
	{ "tcp-fastopen-connect", p_tcp_fastopen_connect, NULL },
	{ "listen-autobind", p_listen_autobind, NULL },
	{ "mptcp-connect", p_mptcp_connect, NULL },
	{ "vsock", p_vsock, NULL },
	{ "net-families", p_net_families, NULL },
	{ "tiocsti-high-bits", p_tiocsti_high_bits, NULL },
	{ "abstract-unix", p_abstract, NULL },
	{ "signal-host", p_signal, NULL },
	{ "process-control", p_process_control, NULL },
	{ "tiocsti", p_tiocsti, NULL },
	{ "proc-connector", p_proc_connector, NULL },
	{ "keyctl", p_keyctl, NULL },
	{ "bpf", p_bpf, NULL },
	{ "perf-event", p_perf, NULL },
	{ "io-uring", p_io_uring, NULL },
	{ "userfaultfd", p_userfaultfd, NULL },
	{ "module-load", p_module, NULL },
	{ "init-module", p_init_module, NULL },
	{ "reboot", p_reboot, NULL },
	{ "clock-set", p_clock, NULL },
	{ "swapon", p_swapon, NULL },
	{ "kexec", p_kexec, NULL },
	{ "proc-sys-write", p_proc_sys, NULL },
	{ "proc-exe-write", p_proc_exe, NULL },
	{ "mknod", p_mknod, NULL },
	{ "setuid-plant", p_setuid_plant, NULL },
	{ "device-metadata", p_device_metadata, NULL },
	{ "root-only-read", p_read, NULL },
	/* No-namespace mode (issue 18). */
	{ "proc-host-write", p_proc_host, NULL },
	{ "host-device", p_host_device, NULL },
	{ "host-tmp-write", p_write, NULL },
	{ "unix-socket", p_unix_socket, NULL },
	{ "i386-entry", p_i386, NULL },
	{ "x32-entry", p_x32, NULL },
	{ "fork-bomb", p_fork_bomb, NULL },
	{ "memory", p_memory, NULL },
};

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void print_result(const char *label, const struct result *res, int status);

/* Runs one probe in a child; the child sends its result through a pipe, so a child killed by
 * the filter (SIGSYS) or the OOM killer (SIGKILL) is reported by its signal. */
static void run_probe(const struct probe *p, const char *arg, const char *label)
{
	int fds[2];
	if (pipe(fds)) {
		perror("cordon-probes: pipe");
		exit(1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		setpgid(0, 0);
		struct result r = p->run(p->fixed ? p->fixed : arg);
		if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	struct result r;
	memset(&r, 0, sizeof r);
	ssize_t n = pid > 0 ? read(fds[0], &r, sizeof r) : -1;
	close(fds[0]);
	int status = 0;
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	print_result(label, n == (ssize_t)sizeof r ? &r : NULL, status);
}

/* Runs one probe in this process. For a policy that refuses the harness what run_probe needs
 * (pipe2, clone, wait4): verify gives each probe a sandbox of its own, and reads a signal that
 * ended the probe from how that sandbox ended. */
static void run_direct(const struct probe *p, const char *arg, const char *label)
{
	/* Said first: a sandbox the filter ended after this line ended in the attack (or in
	 * printing its result, which calls nothing this line did not), never before it began. */
	printf("{\"probe\":");
	json_string(stdout, label);
	printf(",\"began\":true}\n");
	fflush(stdout);
	struct result r = p->run(p->fixed ? p->fixed : arg);
	print_result(label, &r, 0);
}

/* A probe's line: its result when it sent one, else how its process ended. */
static void print_result(const char *label, const struct result *res, int status)
{
	printf("{\"probe\":");
	json_string(stdout, label);
	if (res && res->untried) {
		printf(",\"outcome\":\"error\",\"untried\":true,\"call\":");
		json_string(stdout, res->call);
		printf(",\"errno\":%d,\"detail\":", res->err);
		json_string(stdout, res->detail);
	} else if (res) {
		printf(",\"outcome\":\"%s\",\"call\":", res->escaped ? "escaped" : "blocked");
		json_string(stdout, res->call);
		if (!res->escaped && res->err)
			printf(",\"errno\":%d", res->err);
		if (res->detail[0]) {
			printf(",\"detail\":");
			json_string(stdout, res->detail);
		}
	} else if (WIFSIGNALED(status)) {
		printf(",\"outcome\":\"blocked\",\"signal\":%d", WTERMSIG(status));
	} else {
		printf(",\"outcome\":\"error\",\"detail\":\"the probe ended without a result\"");
	}
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	/* Its probes take their targets from argv: never let it run with someone else's ids. The
	 * setuid probe uses native/suid-fixture.c, which takes no arguments. */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fputs("cordon-probes: refusing to run setuid or setgid\n", stderr);
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--noop") == 0)
		return 42;
	if (argc == 2 && strcmp(argv[1], "--caps") == 0) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		unsigned long long eff = 0;
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "CapEff: %llx", &eff) == 1)
				break;
		if (f)
			fclose(f);
		printf("%llx %u %u %u %u\n", eff, (unsigned)geteuid(), (unsigned)getuid(),
		       (unsigned)getegid(), (unsigned)getgid());
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof PROBES / sizeof *PROBES; i++)
			puts(PROBES[i].name);
		return 0;
	}
	if (argv[0] && argv[0][0] == '/')
		self_path = argv[0];
	int first = 1;
	int direct = argc > 1 && strcmp(argv[1], "--direct") == 0;
	if (direct)
		first = 2;
	if (argc <= first) {
		fprintf(stderr, "usage: cordon-probes [--direct] NAME[=ARG]... | --list\n");
		return 2;
	}
	for (int i = first; i < argc; i++) {
		char name[64];
		const char *eq = strchr(argv[i], '=');
		size_t len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		if (len >= sizeof name) {
			fprintf(stderr, "cordon-probes: probe name too long: %s\n", argv[i]);
			return 2;
		}
		memcpy(name, argv[i], len);
		name[len] = '\0';
		const struct probe *p = NULL;
		for (size_t k = 0; k < sizeof PROBES / sizeof *PROBES; k++)
			if (strcmp(PROBES[k].name, name) == 0)
				p = &PROBES[k];
		if (!p) {
			fprintf(stderr, "cordon-probes: unknown probe %s (see --list)\n", name);
			return 2;
		}
		if (direct)
			run_direct(p, eq ? eq + 1 : NULL, argv[i]);
		else
			run_probe(p, eq ? eq + 1 : NULL, argv[i]);
	}
	return 0;
}
