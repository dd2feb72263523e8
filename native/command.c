/* command.c — the command's last steps (rlimits, cwd, session, ids, capabilities,
 * no_new_privs, seccomp, fds, execve) and the pid-1 reaper. */
#define _GNU_SOURCE
#include "command.h"

#include "hook.h"
#include "init-guard.h"
#include "console.h"

#include "events.h"
#include "landlock.h"
#include "notify.h"
#include "oci.h"
#include "proc_stat.h"
#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

int caps_drop(uint64_t keep)
{
	return caps_drop_holding(keep, 0);
}

int caps_drop_holding(uint64_t keep, uint64_t hold)
{
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &head, data))
		return errno;
	/* Raise effective to permitted: dropping from the bounding set needs CAP_SETPCAP. */
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &head, data))
		return errno;
	/* Without CAP_SETPCAP (an unprivileged caller outside any user namespace) the bounding set
	 * cannot shrink; it also cannot matter: with no_new_privs, execve grants no capability. */
	int can_drop = (data[0].permitted >> CAP_SETPCAP) & 1;
	/* One call per capability, no PR_CAPBSET_READ before each: the kernel answers EINVAL past
	 * its last capability, which ends the loop (half the calls of read-then-drop). */
	for (int cap = 0; can_drop && cap < 64; cap++) {
		if (keep & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			break;
		return errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return errno;
	for (int i = 0; i < 2; i++) {
		uint32_t bits = (uint32_t)(keep >> (32 * i));
		uint32_t held = (uint32_t)(hold >> (32 * i)) & data[i].permitted;
		if ((bits & data[i].permitted) != bits)
			return EPERM; /* asked to keep a capability we do not hold */
		data[i].permitted = data[i].effective = bits | held;
		data[i].inheritable = bits;
	}
	if (syscall(SYS_capset, &head, data))
		return errno;
	for (int cap = 0; cap < 64; cap++) {
		if ((keep & (1ull << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0))
			return errno;
	}
	return 0;
}

void caps_clear(void)
{
	/* Empty permitted, effective and inheritable sets (the ambient set empties with them). The
	 * bounding set only limits what an execve grants, and this process never execs: with
	 * no_new_privs set too, leaving it saves ~40 prctl calls per start. */
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	syscall(SYS_capset, &head, data);
}

static int setgroups_denied(void)
{
	char buf[8] = { 0 };
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 && strncmp(buf, "deny", 4) == 0;
}

static void set_ids(const struct plan_op_rec *op)
{
	gid_t groups[1 + IDS_GROUPS_MAX];
	size_t n = 1;
	groups[0] = op->b;
	for (uint32_t at = 0;
	     (op->c & IDS_GROUPS) && at + 4 <= op->blob_len && n < 1 + IDS_GROUPS_MAX; at += 4)
		groups[n++] = (gid_t)op->blob[at] | (gid_t)op->blob[at + 1] << 8 |
			      (gid_t)op->blob[at + 2] << 16 | (gid_t)op->blob[at + 3] << 24;
	if ((op->c & IDS_SETGROUPS) && setgroups(n, groups)) {
		/* A user namespace whose setgroups file says "deny" (an outer sandbox's, or one joined
		 * by path) refuses it: the groups were fixed by whoever made it and cannot change. Say
		 * so, with what the process keeps, rather than fail. */
		if (errno != EPERM || !setgroups_denied())
			die_step(EXIT_CORDON, "setgroups", NULL, NULL, errno);
		char msg[160];
		snprintf(msg, sizeof msg,
			 "this user namespace denies it (/proc/self/setgroups is \"deny\"): the "
			 "process keeps its %d "
			 "supplementary group(s)",
			 getgroups(0, NULL));
		ev_warning("setgroups", msg);
	}
	/* Keep the permitted set across the uid change; the caps step decides what stays. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die_step(EXIT_CORDON, "keepcaps", NULL, NULL, errno);
	if (setresgid(op->b, op->b, op->b))
		die_step(EXIT_CORDON, "setgid", NULL, NULL, errno);
	if (setresuid(op->a, op->a, op->a))
		die_step(EXIT_CORDON, "setuid", NULL, NULL, errno);
}

static void load_seccomp(const struct command *cmd, const struct plan_op_rec *op)
{
	struct sock_filter *filter = malloc(op->blob_len);
	if (!filter)
		die_step(EXIT_CORDON, "seccomp", NULL, NULL, ENOMEM);
	memcpy(filter, op->blob, op->blob_len);
	struct sock_fprog prog = { .len = (unsigned short)(op->blob_len / 8), .filter = filter };
	unsigned flags = op->a & ~SECCOMP_FLAG_GUARDS_INIT;
	if (flags & SECCOMP_FLAG_LISTENER)
		notify_install(cmd->notify_sock, &prog, flags, cmd->plan->trace);
	else if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog))
		die_step(EXIT_CORDON, "seccomp", NULL, NULL, errno);
	free(filter);
}

static void run_op(const struct command *cmd, const struct plan_op_rec *op)
{
	struct rlimit lim;
	int err;
	switch (op->code) {
	case OP_RLIMIT: {
		lim.rlim_cur = op->x == UINT64_MAX ? RLIM_INFINITY : op->x;
		lim.rlim_max = op->y == UINT64_MAX ? RLIM_INFINITY : op->y;
		/* A hard limit the caller already has below the policy's is stricter: kept, where
		 * raising it (EPERM without CAP_SYS_RESOURCE) failed every run of a plain user whose
		 * `ulimit -Hu` is under the default profile's 4096 tasks. */
		if (!setrlimit((int)op->a, &lim))
			break;
		err = errno;
		struct rlimit now;
		if (err == EPERM && !getrlimit((int)op->a, &now) && now.rlim_max != RLIM_INFINITY &&
		    (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > now.rlim_max)) {
			lim.rlim_max = now.rlim_max;
			if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > now.rlim_max)
				lim.rlim_cur = now.rlim_max;
			if (!setrlimit((int)op->a, &lim))
				break;
			err = errno;
		}
		die_step(EXIT_CORDON, "rlimit", NULL, NULL, err);
	}
	case OP_CHDIR:
		if (chdir(op->s1))
			die_step(EXIT_CORDON, "chdir", op->s1, NULL, errno);
		break;
	case OP_SETSID:
		if (setsid() < 0)
			die_step(EXIT_CORDON, "setsid", NULL, NULL, errno);
		console_attach(); /* a session leader can take a controlling terminal */
		break;
	case OP_IDS:
		set_ids(op);
		/* A credential change clears the parent-death signal: set it again. */
		if (cmd->plan->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
			die_step(EXIT_CORDON, "pdeathsig", NULL, NULL, errno);
		break;
	case OP_CAPS:
		if ((err = caps_drop_holding(op->x, op->y)) != 0)
			die_step(EXIT_CORDON, "drop capabilities", NULL, NULL, err);
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
			die_step(EXIT_CORDON, "keepcaps", NULL, NULL, errno);
		break;
	case OP_NO_NEW_PRIVS:
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			die_step(EXIT_CORDON, "no_new_privs", NULL, NULL, errno);
		break;
	case OP_LANDLOCK:
		landlock_begin(op);
		break;
	case OP_LANDLOCK_PATH:
		landlock_add_path(op);
		break;
	case OP_LANDLOCK_PORT:
		landlock_add_port(op);
		break;
	case OP_LANDLOCK_RESTRICT:
		landlock_restrict();
		break;
	case OP_SECCOMP:
		load_seccomp(cmd, op);
		break;
	case OP_SECCOMP_NOTIFY:
	case OP_SECCOMP_TRACE:
		break; /* the launcher's */
	default:
		die_msg("plan: %s is not a command step", plan_op_name(op->code));
	}
}

/* Every fd above 2 closes on exec unless the plan keeps it. */
static void mark_fds(const struct plan *p)
{
	if (sys_close_range(3, ~0u, CLOSE_RANGE_CLOEXEC)) {
		/* An OCI profile (cordon-oci) may deny close_range, as it runs before execve under
		 * the filter: mark each open fd instead. */
		if (errno != EPERM && errno != ENOSYS && errno != EINVAL)
			die_step(EXIT_CORDON, "close fds", NULL, NULL, errno);
		struct rlimit lim;
		long max = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
				   ? (long)lim.rlim_cur
				   : 65536;
		for (long fd = 3; fd < max && fd < (1L << 20); fd++)
			if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) && errno != EBADF)
				die_step(EXIT_CORDON, "close fds", NULL, NULL, errno);
	}
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code == OP_KEEP_FD && fcntl((int)p->ops[i].a, F_SETFD, 0))
			die_step(EXIT_CORDON, "keep fd", NULL, NULL, errno);
	}
}

static const char *env_path(char **envp)
{
	for (; *envp; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	}
	return DEFAULT_PATH;
}

/* execvp with the sandbox's PATH (glibc's execvpe searches the launcher's). */
static int exec_search(char **argv, char **envp)
{
	const char *name = argv[0];
	if (strchr(name, '/')) {
		execve(name, argv, envp);
		int err = errno;
		struct stat st;
		/* The kernel says EACCES for a directory too: name the case a person can fix. */
		if (err == EACCES && stat(name, &st) == 0 && S_ISDIR(st.st_mode))
			err = EISDIR;
		return err;
	}
	int seen_eacces = 0;
	char full[PATH_MAX];
	for (const char *dir = env_path(envp); dir;) {
		const char *end = strchr(dir, ':');
		size_t n = end ? (size_t)(end - dir) : strlen(dir);
		int len = snprintf(full, sizeof full, "%.*s%s%s", (int)n, dir, n ? "/" : "", name);
		if (len > 0 && (size_t)len < sizeof full) {
			execve(full, argv, envp);
			if (errno == EACCES)
				seen_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return errno;
		}
		dir = end ? end + 1 : NULL;
	}
	return seen_eacces ? EACCES : ENOENT;
}

/* The exec's state: fds marked, the caller's umask, SIGPIPE's default and the caller's mask.
 * Real-time signals at their default too: Node (and libuv's child_process) reset 1-31 only, so
 * one ignored by whoever started cordon stayed ignored in the command through a launcher that
 * child_process started (cordon-oci exec: a forwarded SIGRTMIN+3 was ignored; runc's
 * container has none ignored, nor has the addon's launcher; helper-131). */
static void exec_prepare(const struct command *cmd)
{
	mark_fds(cmd->plan);
	umask(cmd->saved_umask);
	signal(SIGPIPE, SIG_DFL);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_DFL);
	sigmask_raw(SIG_SETMASK, &cmd->saved_mask, NULL); /* glibc's own two as they were too */
}

noreturn void command_exec(const struct command *cmd)
{
	const struct plan *p = cmd->plan;
	oci_wait_start(cmd->exec_fd); /* create/start split: a no-op outside cordon-oci */
	/* Vforked, the command runs on init's memory, whose dumpable flag is init's: cleared before
	 * the first step, so no code of the command's runs while init is dumpable (launcher.c). Not
	 * before the fork: until an OCI start, init stays as open to the engine as it was. */
	if (cmd->on_init_mm && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		die_step(EXIT_CORDON, "dumpable", NULL, NULL, errno);
	/* The exec's own housekeeping goes before the first filter: a policy's filter that allows
	 * only what its program calls (default errno) refused close_range, fcntl and the signal
	 * mask to the launcher, which then died silently or left the program's signals blocked.
	 * The signals too when a startContainer hook follows: under a filter that refuses
	 * rt_sigprocmask the program started with the launcher's mask (SIGTERM, SIGCHLD...
	 * blocked). The hook's own runner needs neither (hook.c: its pipes are its own; the hook
	 * resets its signals), and a signal now ends the container's process during a hook, as it
	 * ends runc's init. The fds later steps open are close-on-exec by the kernel (a Landlock
	 * ruleset, a listener, a pidfd) or by the launcher (a hook's pipes). */
	int marked = 0;
	for (size_t i = cmd->first_op; i < p->n_ops; i++) {
		if (!marked && p->ops[i].code == OP_SECCOMP) {
			exec_prepare(cmd);
			marked = 1;
			if (cmd->guard_init)
				init_guard_install();
		}
		if (p->ops[i].code == OP_START_HOOK)
			hook_run(p, &i, -1, getpid());
		else
			run_op(cmd, &p->ops[i]);
	}
	if (!marked) {
		exec_prepare(cmd);
		if (cmd->guard_init)
			init_guard_install();
	}
	int err = exec_search(cmd->argv, cmd->envp);
	die_step(err == ENOENT ? 127 : 126, "exec", cmd->argv[0], NULL, err);
}

/* The tasks (processes and threads) alive in the namespace, counted in procs, a proc of the
 * namespace (open_task_proc): one directory read, and one stat per process, whose task
 * directory links one entry per thread beside its two (a zombie counts as one); -1 without
 * one. Taken only when a tick saw spawns, so a sandbox that forks nothing costs nothing, and a
 * shell loop of short commands a handful of stats. */
static long live_tasks(DIR *procs)
{
	long live = 0;
	if (!procs)
		return -1;
	rewinddir(procs);
	for (;;) {
		errno = 0; /* readdir's end and its failure differ only by errno */
		const struct dirent *d = readdir(procs);
		if (!d)
			return errno ? -1 : live;
		char task[32];
		struct stat st;
		snprintf(task, sizeof task, "%.20s/task", d->d_name);
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9' &&
		    !fstatat(dirfd(procs), task, &st, 0))
			live += st.st_nlink > 3 ? (long)st.st_nlink - 2
						: 1; /* else reaped meanwhile */
	}
}

/* How many pids the namespace handed out since the last call (processes and threads): the
 * count of spawns, taken without stopping any, and the tasks alive then. Sent as a running
 * total, so a write the full pipe refuses loses nothing; a wrap past pid_max counts from the
 * bottom (slightly low). */
struct spawn_count {
	int lastpid_fd, fd;
	DIR *procs;
	long last;
	uint64_t total, sent;
};

static void count_spawns(struct spawn_count *c)
{
	long now = proc_number_read(c->lastpid_fd);
	if (now < 0 || c->last < 0)
		return;
	c->total += (uint64_t)(now >= c->last ? now - c->last : now);
	c->last = now;
	if (c->total == c->sent)
		return;
	long live = live_tasks(c->procs);
	struct spawn_total rec = { .total = c->total,
				   .live = live < 0 ? SPAWN_LIVE_UNKNOWN : (uint64_t)live };
	if (write(c->fd, &rec, sizeof rec) == sizeof rec)
		c->sent = c->total;
}

int open_task_proc(void)
{
	int fs = sys_fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	/* Only the process directories: init's copy holds none of proc's knobs. */
	int mnt = -1;
	if (!sys_fsconfig(fs, FSCONFIG_SET_STRING, "subset", "pid", 0) &&
	    !sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC,
				  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					  MOUNT_ATTR_NOEXEC);
	close(fs);
	if (mnt < 0)
		return -1;
	int dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mnt);
	return dir;
}

#define SPAWN_TICK_NS 50000000L

/* Drains the launcher's requests (command.h): returns whether a freeze was among them, and
 * passes each group signal on to child's process group (to child alone before its setsid):
 * a forwarded one, or the job's stop and continue (launcher.c job_control). */
static int read_requests(int fd, pid_t child, const sigset_t *forward)
{
	unsigned char buf[64];
	int freeze = 0;
	for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;)
		for (ssize_t i = 0; i < n; i++) {
			int sig = buf[i] & 0x7f;
			if (buf[i] == 'f')
				freeze = 1;
			else if (buf[i] == INIT_CHILD_SIGNAL(FORWARD_SIGNAL) ||
				 buf[i] == INIT_CHILD_SIGNAL(FREEZE_SIGNAL))
				kill(child,
				     FORWARD_SIGNAL + (buf[i] - INIT_CHILD_SIGNAL(FORWARD_SIGNAL)));
			else if ((buf[i] & 0x80) && sig > 0 &&
				 (sigismember(forward, sig) == 1 || sig == SIGSTOP ||
				  sig == SIGCONT) &&
				 kill(-child, sig))
				kill(child, sig);
		}
	return freeze;
}

noreturn void init_run(pid_t child, int status_fd, const sigset_t *forward, int lastpid_fd,
		       int proc_fd, int spawns_fd, int freeze_fd)
{
	sigset_t wait_set = *forward;
	sigaddset(&wait_set, SIGCHLD);
	sigaddset(&wait_set, FREEZE_SIGNAL);
	/* The reaper runs no untrusted code, but shares the command's uid: it is untraceable
	 * already (non-dumpable before the command's first step, launcher.c); make it powerless. */
	caps_clear();
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	struct spawn_count spawns = { .lastpid_fd = lastpid_fd,
				      .fd = spawns_fd,
				      .procs = proc_fd >= 0 ? fdopendir(proc_fd) : NULL,
				      .last = -1 };
	/* The command's own pid is not a spawn: count from it. Not from a read of ns_last_pid
	 * here, which may come after the command's execve (always when it is vforked) and could
	 * already include its first children. */
	if (spawns_fd >= 0 && proc_number_read(lastpid_fd) >= 0)
		spawns.last = child;
	struct timespec tick = { 0, SPAWN_TICK_NS };
	for (;;) {
		siginfo_t info;
		int sig = spawns.last >= 0 ? sigtimedwait(&wait_set, &info, &tick)
					   : sigwaitinfo(&wait_set, &info);
		if (spawns.last >= 0)
			count_spawns(&spawns);
		/* The request is the pipe's byte, looked for at every wake-up, not the signal, which
		 * only wakes init: a sandbox without Landlock's signal scope can queue forged
		 * FREEZE_SIGNALs to its pid 1 faster than init takes them, and the real one waited
		 * behind them past the supervisor's patience. Only as pid 1, where kill(-1) means
		 * this namespace. */
		if (read_requests(freeze_fd, child, forward) && getpid() == 1)
			kill(-1, SIGSTOP);
		if (sig < 0 || sig == FREEZE_SIGNAL)
			continue;
		/* A terminal's signal came to init directly, being in the caller's process group:
		 * the launcher got the same and passes it on to the whole job (launcher.c pass_on). */
		if (sig != SIGCHLD && info.si_code != SI_KERNEL)
			kill(child, sig);
		if (sig != SIGCHLD)
			continue;
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == child) {
				if (spawns.last >= 0)
					count_spawns(&spawns);
				ssize_t unused = write(status_fd, &status, sizeof status);
				(void)unused;
				_exit(0);
			}
		}
	}
}
