/* launcher.c — cordon-exec: reads a compiled plan, creates the namespaces, and supervises the
 * sandbox from outside. It decides nothing: every choice is in the plan (see plan.h).
 *
 *   launcher (host side) ── clone(namespaces) ──► setup (pid 1 inside)
 *     writes id maps, joins cgroup                 view, hostname, loopback
 *     forwards signals, reports events             └─ fork ─► command: ids, caps, nnp,
 *     answers notified syscalls (notify.h)                     seccomp, execve
 *     exits with the command's status
 */
#define _GNU_SOURCE
#include "audit.h"
#include "command.h"
#include "forward-signal.h"
#include "console.h"
#include "events.h"
#include "hook.h"
#include "notify.h"
#include "oci.h"
#include "proc_events.h"
#include "proc_stat.h"
#include "plan.h"
#include "probe.h"
#include "stdio-relay.h"
#include "sys.h"
#include "trace.h"
#include "tree.h"
#include "view.h"

#include <errno.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define CORDON_VERSION "0.2.0"

extern char **environ;

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* The namespaces the sandbox's first process unshares as its first step, not made by the clone:
 * the user and pid namespaces must come with the process (the id maps are written for it; a pid
 * namespace's first process is new), these need not, and making them there overlaps their cost
 * (the network namespace's ~0.5 ms of loopback and sysctls) with the launcher writing the id
 * maps and sending the view's trees. Owned by the same user namespace either way. The time and
 * cgroup namespaces come later still (sandbox_main). */
#define UNSHARED_FIRST (CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

struct options {
	const char *plan_path;
	int plan_fd, events_fd;
	int hook_fd; /* OCI: the runtime's createRuntime hooks (hook.h), or -1 */
	int go_fd; /* the command waits for a 'g' read from it (spawn(): the plan's socket), or -1 */
	int proc_events; /* report the sandbox's execs and exits (proc_events.h) */
	int console; /* a terminal of the sandbox's own when stdin and stdout are terminals */
	int detach; /* exit once the command is ready (oci.h) */
	const char *start_fifo, *pid_file;
	const char *console_socket; /* OCI: the pty master goes to this unix socket (console.h) */
	unsigned short console_rows, console_cols;
	char **argv; /* command after "--", or NULL */
};

/* --forwarded-signals: the parent passes on the job's signals it gets (is_copy). */
static int forwarded_by_parent;
/* --forwarded-by PID: as --forwarded-signals, by PID, which is not the parent (cordon-oci's Node
 * behind its launch helper): its plain signals are forwards too. 0: the parent only. */
static pid_t forwarder;
/* --all-signals: every signal of forward-signal.h's forwarded_all, and of forwarded_sent when
 * sent, is the command's too, as runc's container gets every signal sent to `runc run`
 * (cordon's commands, whose addon handler passes them on, and cordon-oci run and exec). */
static int all_signals;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: cordon-exec [--events-fd N [--proc-events]] [--go-fd N] [--console]\n"
		"                   (PLAN | --plan-fd N) [-- COMMAND [ARG...]]\n"
		"       cordon-exec --probe\n"
		"       cordon-exec --signal SIG PID:START...\n\n"
		"Runs COMMAND inside the sandbox described by a plan compiled with `cordon "
		"compile`.\n"
		"Without COMMAND, the plan's own command runs. Exit status: the command's (128+N "
		"for\n"
		"signal N), 125 when the sandbox could not be set up, 126 not executable, 127 not "
		"found.\n\n"
		"  --plan-fd N    read the plan from fd N instead of a file (to end of file)\n"
		"  --events-fd N  write JSON-lines events to fd N instead of messages to stderr\n"
		"                 (it may be the plan's: a socket, read to the plan's length)\n"
		"  --go-fd N      set the sandbox up, then run nothing of the command until\n"
		"                 one byte 'g' is read from fd N (after the plan when it is the\n"
		"                 plan's); end of file or another byte: exit 125, nothing run\n"
		"  --proc-events  also report every exec and exit of the sandbox's processes\n"
		"  --forwarded-signals  the parent passes on the job's signals it gets (as signal\n"
		"                 61 queued with the signal's number, or as itself): a copy of\n"
		"                 one already passed on is not passed on again\n"
		"  --forwarded-by PID  the same, by process PID rather than the parent\n"
		"  --all-signals  pass on every signal but job control: SIGALRM, SIGPWR, the\n"
		"                 real-time ones, and SIGSEGV, SIGPIPE and the like when sent\n"
		"                 (a fault, a limit or a pipe of the receiver's own is not)\n"
		"  --console      when stdin and stdout are terminals, give the command a terminal "
		"of\n"
		"                 its own in the view's devpts (a tty name, job control), relayed "
		"here\n"
		"  --start-fifo F the command waits, ready, until FIFO F is opened for reading "
		"(OCI create)\n"
		"  --detach       exit 0 once the command is ready (with --pid-file P: its pid "
		"written there)\n"
		"  --console-socket S  OCI terminal: a pty of the sandbox's devpts is the "
		"command's, and its\n"
		"                 master is sent to unix socket S (SCM_RIGHTS), as runc does\n"
		"  --console-size RxC  that terminal's size (OCI process.consoleSize)\n"
		"  --hook-fd N    OCI createRuntime hooks: before its pivot_root the sandbox waits "
		"while\n"
		"                 its pid is written to socket N, until 'c' is read back\n"
		"  --probe        print what this kernel supports as JSON and exit\n"
		"  --signal       send signal number SIG to each PID still started at START "
		"(field 22\n"
		"                 of /proc/PID/stat), through a pidfd; print how many got it\n"
		"  --stdin-relay -- PROGRAM [ARG...]  run PROGRAM (an OCI runtime) with a pipe of\n"
		"                 cordon's as stdin, fed from ours without reading ahead of it\n"
		"  --version      print the version and the plan format version\n");
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > INT_MAX)
		die_msg("expected a file descriptor number, got `%s`", s);
	return (int)v;
}

static pid_t parse_pid(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0 || v > INT_MAX)
		die_msg("expected a process id, got `%s`", s);
	return (pid_t)v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	o->plan_fd = o->events_fd = o->hook_fd = o->go_fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			o->argv = i + 1 < argc ? argv + i + 1 : NULL;
			return;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--version") == 0) {
			printf("cordon-exec %s (plan format %d)\n", CORDON_VERSION, PLAN_VERSION);
			exit(0);
		} else if (strcmp(a, "--probe") == 0) {
			exit(probe_print());
		} else if (strcmp(a, "--signal") == 0 && i == 1) {
			exit(tree_main(argc - 2, argv + 2));
		} else if (strcmp(a, "--stdin-relay") == 0 && i == 1) {
			exit(stdin_relay_main(argc - 2, argv + 2));
		} else if (strcmp(a, "--proc-events") == 0) {
			o->proc_events = 1;
		} else if (strcmp(a, "--console") == 0) {
			o->console = 1;
		} else if (strcmp(a, "--forwarded-signals") == 0) {
			forwarded_by_parent = 1;
		} else if (strcmp(a, "--forwarded-by") == 0 && i + 1 < argc) {
			forwarded_by_parent = 1;
			forwarder = parse_pid(argv[++i]);
		} else if (strcmp(a, "--all-signals") == 0) {
			all_signals = 1;
		} else if (strcmp(a, "--detach") == 0) {
			o->detach = 1;
		} else if ((strcmp(a, "--start-fifo") == 0 || strcmp(a, "--pid-file") == 0) &&
			   i + 1 < argc) {
			*(a[2] == 's' ? &o->start_fifo : &o->pid_file) = argv[++i];
		} else if (strcmp(a, "--hook-fd") == 0 && i + 1 < argc) {
			o->hook_fd = parse_fd(argv[++i]);
		} else if (strcmp(a, "--go-fd") == 0 && i + 1 < argc) {
			o->go_fd = parse_fd(argv[++i]);
		} else if (strcmp(a, "--console-socket") == 0 && i + 1 < argc) {
			o->console_socket = argv[++i];
		} else if (strcmp(a, "--console-size") == 0 && i + 1 < argc) {
			unsigned rows, cols;
			char extra;
			if (sscanf(argv[++i], "%ux%u%c", &rows, &cols, &extra) != 2 ||
			    rows > 65535 || cols > 65535)
				die_msg("--console-size: expected ROWSxCOLS, got `%s`", argv[i]);
			o->console_rows = (unsigned short)rows;
			o->console_cols = (unsigned short)cols;
		} else if ((strcmp(a, "--plan-fd") == 0 || strcmp(a, "--events-fd") == 0) &&
			   i + 1 < argc) {
			int fd = parse_fd(argv[++i]);
			*(a[2] == 'p' ? &o->plan_fd : &o->events_fd) = fd;
			if (a[2] == 'e')
				ev_init(fd);
		} else if (a[0] == '-') {
			usage(stderr);
			die_msg("unknown or incomplete option `%s`", a);
		} else if (!o->plan_path) {
			o->plan_path = a;
		} else {
			die_msg("unexpected argument `%s`: put the command after `--`", a);
		}
	}
}

static uint8_t *read_plan(const struct options *o, size_t *len)
{
	int fd = o->plan_fd;
	if (o->plan_path) {
		fd = open(o->plan_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_step(EXIT_CORDON, "read plan", o->plan_path, NULL, errno);
	} else if (fd < 0) {
		usage(stderr);
		die_msg("no plan: give a plan file or --plan-fd");
	}
	/* On a socket that also carries the events (spawn()'s), the plan ends where its header
	 * says, so the launcher starts without waiting for the writer's shutdown (Node sends it on
	 * its event loop's next turn, after the supervisor's own bookkeeping). Nothing past the
	 * plan is read. A writer that stops short still gives end of file first, and plan_decode
	 * refuses what came. Elsewhere the plan is read to end of file. */
	int shared = fd == o->events_fd, sized = 0;
	size_t want = shared ? PLAN_HEADER_SIZE : SIZE_MAX;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf)
			die_msg("out of memory reading the plan");
		if (shared && !sized && n >= PLAN_HEADER_SIZE) {
			/* Bytes 8-11: the payload's length, little-endian; a bad magic stops here. */
			uint32_t payload = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 |
					   (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
			sized = 1;
			if (memcmp(buf, PLAN_MAGIC, 4) != 0)
				want = n;
			else if (payload > PLAN_MAX_SIZE - PLAN_HEADER_SIZE)
				die_msg("plan larger than %u bytes", PLAN_MAX_SIZE);
			else
				want = PLAN_HEADER_SIZE + payload;
		}
		if (n >= want)
			break;
		if (n == cap) {
			if (cap >= PLAN_MAX_SIZE)
				die_msg("plan larger than %u bytes", PLAN_MAX_SIZE);
			cap *= 2;
			buf = realloc(buf, cap);
			continue;
		}
		size_t room = cap - n < want - n ? cap - n : want - n;
		ssize_t r = read(fd, buf + n, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die_step(EXIT_CORDON, "read plan", o->plan_path ? o->plan_path : "fd", NULL,
				 errno);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	/* One socket may carry both (spawn(): the plan in, then the events out): it stays open
	 * for them. */
	if (fd != o->events_fd)
		close(fd);
	*len = n;
	return buf;
}

/* NAME=value entries from OP_ENV_SET / OP_ENV_PASS; a later entry replaces an earlier one.
 * The caller owns the array and every entry (free_strv). */
static char **build_env(const struct plan *p)
{
	char **env = calloc(p->n_ops + 1, sizeof *env);
	size_t n = 0;
	if (!env)
		die_msg("out of memory");
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		char *entry = NULL;
		if (op->code == OP_ENV_SET) {
			if (!(entry = strdup(op->s1)))
				die_msg("out of memory");
		} else if (op->code == OP_ENV_PASS) {
			const char *v = getenv(op->s1);
			if (!v || asprintf(&entry, "%s=%s", op->s1, v) < 0)
				continue;
		} else {
			continue;
		}
		size_t name_len = (size_t)(strchr(entry, '=') - entry) + 1;
		size_t j = 0;
		while (j < n && strncmp(env[j], entry, name_len) != 0)
			j++;
		free(env[j]); /* NULL when appending */
		env[j] = entry;
		if (j == n)
			n++;
	}
	return env;
}

static void free_strv(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* The plan's default command; entries point into the plan, only the array is owned. */
static char **plan_argv(const struct plan *p)
{
	char **argv = calloc(p->n_ops + 1, sizeof *argv);
	size_t n = 0;
	if (!argv)
		die_msg("out of memory");
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code == OP_EXEC_ARG)
			argv[n++] = (char *)p->ops[i].s1;
	}
	if (n == 0)
		die_msg("no command: the plan has none, give one after `--`");
	return argv;
}

/* Best effort: 0, or -1 with errno. name is under dir (the sandbox's /proc directory,
 * open_proc_dir), or a path from the current directory with AT_FDCWD. */
static int write_proc_file(int dir, const char *name, const char *data)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int write_file(const char *path, const char *data)
{
	return write_proc_file(AT_FDCWD, path, data);
}

/* Whether /proc is of the launcher's own pid namespace. Its NSpid line (4.1+) lists the
 * launcher's pid in each namespace from the one /proc was mounted for down to the launcher's:
 * one number, equal to getpid(), only when that is the launcher's own. Not the number of
 * /proc/self alone, which another namespace can give it too (guessing there would write the
 * id maps into another process's user namespace). No NSpid, or no /proc/self (the launcher has
 * no number in that namespace): not known, so not its own. */
static int own_proc(void)
{
	char buf[8192]; /* past a long Groups line; a line cut off reads as no answer */
	size_t n = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	for (ssize_t r = 1; fd >= 0 && r > 0 && n < sizeof buf - 1; n += (size_t)r)
		if ((r = read(fd, buf + n, sizeof buf - 1 - n)) < 0)
			r = 0;
	if (fd >= 0)
		close(fd);
	buf[n] = '\0';
	const char *at = strstr(buf, "\nNSpid:");
	if (!at)
		return 0;
	char *end;
	long nr = strtol(at + 7, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	return end != at + 7 && *end == '\n' && nr == (long)getpid();
}

/* The sandbox's directory in /proc, for its setgroups, id maps and ns/user. The pid the clone
 * returned is of the launcher's pid namespace; /proc may show another one (cordon run inside
 * `unshare -p -f` without --mount-proc, or `nsenter -m` into a container), where that number
 * names another process or none. A pidfd's fdinfo gives the child's pid in the namespace of the
 * /proc it is read from (5.10+); without it (an older kernel, or a /proc where the launcher has
 * no number, so no /proc/self) the pid is used only where /proc is the launcher's own: root's
 * maps written into another process's user namespace would hand it the sandbox's host ids. */
static int open_proc_dir(pid_t pid)
{
	char path[64], buf[512];
	long nr = 0;
	const char *at = NULL;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		at = n > 0 ? (buf[n] = '\0', strstr(buf, "\nPid:")) : NULL;
		if (at) /* 0: not in this /proc's namespace; -1: the child has ended */
			nr = strtol(at + 5, NULL, 10);
		if (fd >= 0)
			close(fd);
		close(pidfd);
	}
	if (!at)
		nr = own_proc() ? pid : 0;
	if (nr <= 0) {
		snprintf(path, sizeof path, "/proc/%d", pid);
		die_step(EXIT_CORDON,
			 "find the sandbox in /proc (it belongs to a pid namespace that "
			 "does not hold the launcher's: mount a /proc of its own, "
			 "`unshare --mount-proc`)",
			 path, NULL, ESRCH);
	}
	snprintf(path, sizeof path, "/proc/%ld", nr);
	int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		die_step(EXIT_CORDON, "open the sandbox's /proc directory", path, NULL, errno);
	return dir;
}

static void write_map(const struct plan *p, int dir, uint16_t code, unsigned caller)
{
	char map[4096];
	size_t len = 0;
	map[0] = '\0';
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != code)
			continue;
		unsigned outside = op->b == PLAN_CALLER_ID ? caller : op->b;
		int w = snprintf(map + len, sizeof map - len, "%u %u %u\n", op->a, outside, op->c);
		if (w < 0 || (size_t)w >= sizeof map - len)
			die_msg("plan: id map too long");
		len += (size_t)w;
	}
	const char *file = code == OP_UID_MAP ? "uid_map" : "gid_map";
	if (len && write_proc_file(dir, file, map))
		die_step(EXIT_CORDON, file, map, NULL, errno);
}

/* A map that does not hold the caller's own uid (a root caller's sandbox remapped to an
 * unprivileged range) leaves the sandbox's first process with ids its namespace cannot name:
 * it must become one of the mapped ids, and carry none of the caller's groups. Returns the
 * first mapped inside uid and gid then, else 0 with *inside_uid = -1. */
static int remapped_ids(const struct plan *p, long *inside_uid, long *inside_gid)
{
	*inside_uid = *inside_gid = -1;
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_UID_MAP && op->code != OP_GID_MAP)
			continue;
		if (op->b == PLAN_CALLER_ID)
			return 0;
		long *slot = op->code == OP_UID_MAP ? inside_uid : inside_gid;
		if (*slot < 0)
			*slot = op->a;
	}
	return *inside_uid >= 0 && *inside_gid >= 0;
}

/* The host uid the command runs as: the plan's last ids step (else a remapped sandbox's first
 * mapped id, else the caller's own), through the uid map when it has a user namespace; -1 when
 * the map does not name it. */
static long command_host_uid(const struct plan *p, long remap_uid)
{
	long uid = -1;
	for (size_t i = 0; i < p->n_ops; i++)
		if (p->ops[i].code == OP_IDS)
			uid = p->ops[i].a;
	if (uid < 0)
		uid = remap_uid >= 0 ? remap_uid : (long)getuid();
	if (!(p->clone_flags & CLONE_NEWUSER))
		return uid;
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_UID_MAP || uid < (long)op->a || uid - (long)op->a >= (long)op->c)
			continue;
		long outside = op->b == PLAN_CALLER_ID ? (long)getuid() : (long)op->b;
		return outside + (uid - (long)op->a);
	}
	return -1;
}

static int has_hooks(const struct plan *p)
{
	for (size_t i = 0; i < p->n_ops; i++)
		if (p->ops[i].code == OP_HOOK)
			return 1;
	return 0;
}

/* Whether the sandbox may build its view before its cgroup join is done (the 'g', then the
 * 'c'): not with OCI hooks, whose pause channel is the same pipe (createRuntime, prestart), nor
 * with createContainer hooks, which run in the sandbox during the view's build and must be in
 * the container's groups, as runc puts them (helper-124). */
static int joins_during_view(const struct plan *p, int hook_fd)
{
	return hook_fd < 0 && !has_hooks(p);
}

static int has_idmapped_binds(const struct plan *p)
{
	for (size_t i = 0; i < p->n_ops; i++)
		if (p->ops[i].code == OP_BIND && (p->ops[i].a & BIND_IDMAP))
			return 1;
	return 0;
}

/* After the id maps: the sandbox's user namespace is what the idmapped trees are seen through. */
static void send_idmapped_binds(const struct plan *p, int dir, int sock, int all)
{
	int userns = openat(dir, "ns/user", O_RDONLY | O_CLOEXEC);
	if (userns < 0)
		die_step(EXIT_CORDON, "idmapped bind", "ns/user", NULL, errno);
	view_send_idmapped(p, userns, sock, all);
	close(userns);
	close(sock);
}

static void setup_user_namespace(const struct plan *p, int dir)
{
	/* setgroups must be denied before gid_map is written: an unprivileged map requires it,
	 * and it stops the sandbox from dropping groups that deny it access on the host. */
	if (write_proc_file(dir, "setgroups", "deny") && errno != ENOENT)
		die_step(EXIT_CORDON, "setgroups deny", NULL, NULL, errno);
	write_map(p, dir, OP_GID_MAP, (unsigned)getgid());
	write_map(p, dir, OP_UID_MAP, (unsigned)getuid());
}

/* The plan's cgroup when it is one cgroup v2 directory, opened for CLONE_INTO_CGROUP; else -1
 * (v1 hierarchies take the pid in each cgroup.procs instead). An O_PATH fd is not accepted. */
static int cgroup2_target(const struct plan *p)
{
	const char *dir = NULL;
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code != OP_CGROUP)
			continue;
		if (dir)
			return -1;
		dir = p->ops[i].s1;
	}
	if (!dir)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs st;
	if (fd >= 0 && (fstatfs(fd, &st) || st.f_type != CGROUP2_SUPER_MAGIC)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A real-time caller (`chrt -r 1 cordon run`) is not a real-time sandbox: RLIMIT_RTPRIO 0 only
 * stops a task from choosing SCHED_FIFO/RR, not from keeping it, and a real-time command runs
 * before every normal task, past its CPU quota and past init (helper-147); on a v1 cpu hierarchy
 * with real-time group scheduling it could not even join its group (EINVAL). The launcher keeps
 * its own policy and has the kernel give its children the default one (and a nice below 0
 * back to 0). A SCHED_DEADLINE caller is not handled: it cannot fork at all, and Node, which
 * starts the launcher, fails first (helper-149). */
static void no_realtime_children(void)
{
	int policy = sched_getscheduler(0);
	struct sched_param param;
	if ((policy == SCHED_FIFO || policy == SCHED_RR) && sched_getparam(0, &param) == 0 &&
	    sched_setscheduler(0, policy | SCHED_RESET_ON_FORK, &param))
		die_step(EXIT_CORDON, "reset the real-time policy", NULL, NULL, errno);
}

/* clone3 straight into the cgroup when there is one v2 directory (5.7+), so the sandbox is
 * counted from its first instruction; otherwise, or when clone3 refuses, clone and a write. */
static pid_t clone_sandbox(unsigned long flags, int cgroup_fd, int *joined)
{
	*joined = 0;
	if (cgroup_fd >= 0) {
		struct clone_args a;
		memset(&a, 0, sizeof a);
		a.flags = flags | CLONE_INTO_CGROUP;
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)cgroup_fd;
		long pid = syscall(SYS_clone3, &a, sizeof a);
		if (pid >= 0) {
			*joined = 1;
			return (pid_t)pid;
		}
	}
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Returns how many groups the sandbox joined. */
static int join_cgroups(const struct plan *p, pid_t pid)
{
	char path[PATH_MAX], num[32];
	int joined = 0;
	snprintf(num, sizeof num, "%d", pid);
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code != OP_CGROUP)
			continue;
		joined++;
		snprintf(path, sizeof path, "%s/cgroup.procs", p->ops[i].s1);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, num, strlen(num)) < 0) {
			/* The sandbox may be building its view meanwhile: it must not go on (an OCI
			 * plan has no parent-death signal) to fail a step of its own or outlive the run. */
			int e = errno;
			kill(pid, SIGKILL);
			die_step(EXIT_CORDON, "join cgroup", p->ops[i].s1, NULL, e);
		}
		close(fd);
	}
	return joined;
}

static void bring_up_loopback(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		die_step(EXIT_CORDON, "loopback", "lo", NULL, errno);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		die_step(EXIT_CORDON, "loopback", "lo", NULL, errno);
	close(s);
}

struct pipes {
	int sync[2]; /* launcher → sandbox: id maps written, go */
	int idmap[2]; /* launcher → sandbox: idmapped trees (view.h), or -1 */
	int exec[2]; /* sandbox → launcher: 'F' on failure, EOF on execve */
	int status[2]; /* init → launcher: the command's wait status */
	int spawns[2]; /* init → launcher: pids handed out so far (command.h), or -1 */
	int freeze[2]; /* launcher → init: freeze requests (command.h FREEZE_SIGNAL), or -1 */
	int pid[2]; /* command → launcher: one datagram, whose sender's pid the kernel gives in
	             * the launcher's pid namespace (command_host_pid), or -1 */
	int lastpid; /* /proc/sys/kernel/ns_last_pid for init to read, or -1 */
	int task_proc; /* sandbox: init's proc to count tasks in (open_task_proc), or -1 */
	int pids_current; /* the sandbox's pids.current: its tasks, counted by the kernel, or -1 */
	int hook_fd; /* --hook-fd: the runtime's hooks before the pivot (hook.h), or -1 */
	int go_fd; /* --go-fd: the command's release (await_go), or -1 */
};

/* spawn()'s go (--go-fd): the supervisor sends the plan first and proves it meanwhile (a reused
 * plan's host reads, the registry record); the sandbox is set up in parallel and waits here, at
 * the last point before anything of the command runs: init forks it, or this process execs it,
 * only after the byte. Everything before is the launcher's own work in the sandbox's fresh
 * namespaces (the view is a new tmpfs root, / private), which a stale plan's abort throws away
 * whole. End of file (the supervisor closed the socket, or died) or another byte: nothing of
 * the command runs. Reported as a failed step, so that the launcher reports no `started`. */
static void await_go(int fd)
{
	char go = 0;
	ssize_t n;
	while ((n = read(fd, &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || go != 'g')
		die_step(EXIT_CORDON, "wait for go", NULL, NULL, n < 0 ? errno : ECANCELED);
	if (fd != ev_fd())
		close(fd);
}

/* The launcher's 'c': the sandbox is in the plan's cgroups (or the launcher failed, and said
 * why). */
static void await_cgroup_join(int fd)
{
	char c = 0;
	if (read(fd, &c, 1) != 1 || c != 'c')
		_exit(EXIT_CORDON);
}

/* Inside the namespaces: phases 1-2, then init + command or the command alone. */
static noreturn void sandbox_main(const struct plan *p, struct command *cmd, struct pipes *pp,
				  const sigset_t *forward)
{
	char go = 0;
	close(pp->sync[1]);
	close(pp->exec[0]);
	close(pp->status[0]);
	if (pp->spawns[0] >= 0)
		close(pp->spawns[0]);
	if (pp->freeze[1] >= 0)
		close(pp->freeze[1]);
	if (pp->pid[0] >= 0)
		close(pp->pid[0]);
	int tasks_counted = pp->pids_current >= 0;
	if (tasks_counted)
		close(pp->pids_current);
	long inside_uid, inside_gid;
	int remapped =
		(p->clone_flags & CLONE_NEWUSER) && remapped_ids(p, &inside_uid, &inside_gid);
	if (pp->idmap[0] >= 0) {
		close(pp->idmap[0]);
		view_set_idmap_sock(pp->idmap[1], remapped);
	}
	ev_set_fail_fd(pp->exec[1]);
	if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		die_step(EXIT_CORDON, "pdeathsig", NULL, NULL, errno);
	if ((p->clone_flags & UNSHARED_FIRST) && unshare((int)(p->clone_flags & UNSHARED_FIRST)))
		die_step(EXIT_CORDON, "clone namespaces", NULL, NULL, errno);
	if (read(pp->sync[0], &go, 1) != 1 || go != 'g')
		_exit(EXIT_CORDON); /* the launcher died or failed: it has reported why */
	/* With OCI hooks the launcher joined the cgroup before the 'g' (its 'c' follows at once):
	 * the pipe is the hooks' pause channel after this. */
	int join_awaited = !joins_during_view(p, pp->hook_fd);
	if (join_awaited)
		await_cgroup_join(pp->sync[0]);
	if (pp->hook_fd >= 0) {
		close(pp->hook_fd);
		hook_set_pause(pp->exec[1], pp->sync[0]); /* closed once they have run */
	} else if (join_awaited) {
		close(pp->sync[0]);
	}
	/* Init counts the tasks only where no pids cgroup does (the launcher reads that, from
	 * outside the sandbox's cgroup, where a storm does not starve it). Before the ids change: a
	 * user namespace's mapped uid has no capability left to mount it with. In the pid namespace
	 * already (cloned into it), and before the view, whose /proc a policy may leave out or
	 * mask. */
	if (pp->spawns[1] >= 0 && !tasks_counted)
		pp->task_proc = open_task_proc();
	if (remapped) {
		if (setresgid((gid_t)inside_gid, (gid_t)inside_gid, (gid_t)inside_gid) ||
		    setresuid((uid_t)inside_uid, (uid_t)inside_uid, (uid_t)inside_uid))
			die_step(EXIT_CORDON, "become the mapped ids", NULL, NULL, errno);
		/* A change of credentials clears the parent-death signal: set it again. */
		if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
			die_step(EXIT_CORDON, "pdeathsig", NULL, NULL, errno);
	}
	oci_join_mount(p);
	cmd->saved_umask = umask(0);
	size_t i = 0;
	for (; i < p->n_ops && (p->ops[i].code >> 4) < 3; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code == OP_ROOT)
			view_build(p, &i);
		else if (op->code == OP_HOSTNAME && sethostname(op->s1, strlen(op->s1)))
			die_step(EXIT_CORDON, "hostname", op->s1, NULL, errno);
		else if (op->code == OP_LOOPBACK)
			bring_up_loopback();
		else if (op->code == OP_PROPAGATION)
			view_propagate(op);
		else if (op->code == OP_LEAVE_MOUNT_NS)
			view_leave();
	}
	cmd->first_op = i;
	/* The launcher joined the cgroup while the view was built: done before anything here forks
	 * (a child would stay outside) and before the cgroup namespace, whose root it is. */
	if (!join_awaited) {
		await_cgroup_join(pp->sync[0]);
		close(pp->sync[0]);
	}
	if ((p->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP))
		die_step(EXIT_CORDON, "unshare cgroup namespace", NULL, NULL, errno);
	console_open_inside(p);
	if (pp->idmap[1] >= 0)
		close(pp->idmap[1]);
	if ((p->clone_flags & CLONE_NEWTIME) && unshare(CLONE_NEWTIME))
		die_step(EXIT_CORDON, "unshare time namespace", NULL, NULL, errno);
	if (pp->go_fd >= 0)
		await_go(pp->go_fd);
	if (!p->has_init)
		command_exec(cmd);
	/* Init holds the launcher's channels (the status and freeze pipes, the events) and shares
	 * the command's ids: only its dumpability keeps a command that has no Landlock domain and
	 * keeps init's capabilities out of /proc/1/fd, pidfd_getfd and ptrace. It must be
	 * non-dumpable before the command's first instruction, not once the fork returns, when the
	 * command already runs (init_run).
	 *
	 * vfork: the command borrows init's memory until its execve (or _exit) instead of a copy:
	 * no page tables copied, no copy-on-write faults in either process. Init is suspended
	 * until then, and the command's steps write nothing init reads afterwards (console_attach
	 * leaves init's slave fd number for console_release). Its fd table, credentials, Landlock
	 * domain and seccomp filter are its own: only the memory is shared, and with it the
	 * dumpable flag, which the command clears for both before its first step (command_exec).
	 * With a seccomp responder the launcher reads the command before its execve (pidfd_getfd
	 * of the listener, the notified calls' memory), which a plain user may not do to a
	 * non-dumpable mm: init clears its own flag and forks a copy, which sets its flag again. */
	cmd->on_init_mm = !p->responder;
	cmd->guard_init = (p->clone_flags & CLONE_NEWPID) && !p->guards_init;
	if (p->responder && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		die_step(EXIT_CORDON, "dumpable", NULL, NULL, errno);
	/* Forked, the command runs beside init, whose copy of the exec pipe's write end keeps the
	 * launcher from seeing the command's exec until init closes it: descheduled right after
	 * the fork, init let the command's first notified call reach the launcher first, which took
	 * it for the command's own exec (`initial`; CI39: a shell exec'd at once went unreported).
	 * The command waits for init's close: the end of this pipe. Vforked, init is suspended
	 * until the exec, and a run without a responder has no notified call to order. */
	int closed[2] = { -1, -1 };
	if (p->responder && pipe2(closed, O_CLOEXEC))
		die_step(EXIT_CORDON, "pipe", NULL, NULL, errno);
	pid_t child = p->responder ? fork() : vfork();
	if (child < 0)
		die_step(EXIT_CORDON, "fork command", NULL, NULL, errno);
	if (child == 0) {
		if (p->responder && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			die_step(EXIT_CORDON, "dumpable", NULL, NULL, errno);
		if (closed[0] >= 0) {
			char byte;
			close(closed[1]);
			while (read(closed[0], &byte, 1) < 0 && errno == EINTR)
				;
			close(closed[0]);
		}
		close(pp->status[1]);
		if (pp->spawns[1] >= 0)
			close(pp->spawns[1]);
		if (pp->lastpid >= 0)
			close(pp->lastpid);
		if (pp->task_proc >= 0)
			close(pp->task_proc);
		if (pp->freeze[0] >= 0)
			close(pp->freeze[0]);
		if (pp->pid[1] >= 0) {
			/* Before anything of the command runs: the launcher takes its pid from it. */
			if (send(pp->pid[1], "p", 1, MSG_DONTWAIT) != 1)
				die_step(EXIT_CORDON, "send the command's pid", NULL, NULL, errno);
			close(pp->pid[1]);
		}
		command_exec(cmd);
	}
	if (pp->pid[1] >= 0)
		close(pp->pid[1]);
	close(pp->exec[1]);
	if (closed[0] >= 0) {
		close(closed[1]); /* the command goes on */
		close(closed[0]);
	}
	console_release();
	ev_set_fail_fd(-1);
	init_run(child, pp->status[1], forward, pp->lastpid, pp->task_proc, pp->spawns[1],
		 pp->freeze[0]);
}

/* The command's pid in the launcher's pid namespace, which is its caller's: the one the caller
 * can signal and find in its /proc. The command sent one datagram before its execve, and the
 * kernel gives a datagram's sender pid (SCM_CREDENTIALS) in the receiver's namespace. Not read
 * from /proc, whose numbers are those of the namespace it was mounted for: another one when
 * cordon runs inside `unshare -p -f` without --mount-proc, where /proc/PID named another process
 * or none. 0 when none came (the command failed before it). */
static int command_host_pid(int sock)
{
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	if (sock < 0 || recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS)
		return 0;
	struct ucred cred;
	memcpy(&cred, CMSG_DATA(c), sizeof cred);
	return cred.pid > 0 ? cred.pid : 0;
}

/* Reaps every child of the launcher that ended: the sandbox's first process, the console's
 * relay, and, without a pid namespace, the sandbox's orphans it adopted as their subreaper
 * (main). 1 when pid was among them, with its status. */
static int reap_children(pid_t pid, int *status)
{
	int ended = 0, st;
	for (;;) {
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ended;
		if (w == pid) {
			*status = st;
			ended = 1;
		} else {
			console_reaped(w);
			stdin_relay_reaped(w);
			output_relay_reaped(w, st);
		}
	}
}

static int exit_code(int status, int *sig)
{
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return *sig ? 128 + *sig : WEXITSTATUS(status);
}

enum {
	FD_SIGNAL,
	FD_AUDIT,
	FD_EXEC,
	FD_NOTIFY_SOCK,
	FD_LISTENER,
	FD_EVENTS,
	FD_PROC,
	FD_SPAWNS,
	FD_PARENT,
	N_FDS
};

#define COUNTS_INTERVAL_MS 250

/* The sandbox's pids.current, where the plan puts it in a pids cgroup; -1. */
static int open_pids_current(const struct plan *p)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code != OP_CGROUP ||
		    (size_t)snprintf(path, sizeof path, "%s/pids.current", p->ops[i].s1) >=
			    sizeof path)
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

/* Init at nice -20 under the normal policy: whether it is (only a caller with CAP_SYS_NICE may
 * raise it). Init shares the command's uid, so the command may lower it again (renice, chrt -i,
 * setpriority(PRIO_USER)): the launcher puts it back at every tick. */
static int raise_init(pid_t init)
{
	struct sched_param normal = { 0 };
	if (getpriority(PRIO_PROCESS, (id_t)init) == -20 && sched_getscheduler(init) == SCHED_OTHER)
		return 1;
	return !sched_setscheduler(init, SCHED_OTHER, &normal) &&
	       !setpriority(PRIO_PROCESS, (id_t)init, -20);
}

/* Reads init's running totals (command.h) and reports what they grew by, with the tasks alive
 * (the cgroup's count when pids_fd is one, else init's); 0 at EOF. */
static int read_spawns(int fd, int pids_fd, uint64_t *reported)
{
	struct spawn_total totals[32];
	ssize_t n = read(fd, totals, sizeof totals);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return 0;
	if (n >= (ssize_t)sizeof *totals) {
		const struct spawn_total *last = &totals[(size_t)n / sizeof *totals - 1];
		long live = proc_number_read(pids_fd);
		if (pids_fd < 0 && last->live != SPAWN_LIVE_UNKNOWN)
			live = (long)last->live;
		static int said;
		if (live < 0 && !said++)
			ev_warning(
				"process events",
				"the tasks alive are not counted (no pids cgroup, and the kernel "
				"refused init a proc of the sandbox's pid namespace): spawn events "
				"carry no pids, and fork-storm weighs the rate alone");
		if (last->total > *reported)
			ev_process_spawns((long)(last->total - *reported), live, "pid-namespace");
		*reported = last->total;
	}
	return 1;
}

/* The supervisor died (SIGKILL, a crash) while the sandbox runs. Every process of it is killed
 * and its cgroups thawed, so that a sandbox the supervisor froze does not stay frozen for good
 * (cgroup v1 holds even SIGKILL in a frozen group). The launcher itself is never in the
 * sandbox's cgroup, so it is never frozen and always gets here. Last, every descendant is
 * killed until none is left: without a pid namespace or a cgroup (a plain user's
 * --no-namespaces run) that is the only way to reach the command's children, a double-forked
 * daemon or a setsid one included, which the launcher adopts as their subreaper. */
static noreturn void end_orphaned(const struct plan *p, pid_t pid)
{
	kill(pid, SIGKILL); /* init: the kernel then kills its whole pid namespace */
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code != OP_CGROUP)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/cgroup.procs", p->ops[i].s1);
		FILE *f = fopen(path, "re");
		for (long member; f && fscanf(f, "%ld", &member) == 1;)
			kill((pid_t)member, SIGKILL);
		if (f)
			fclose(f);
		/* Thawed after the kill, so the SIGKILLs land at once and nothing runs again. Each
		 * hierarchy has one of the two files; the other write fails harmlessly. */
		snprintf(path, sizeof path, "%s/freezer.state", p->ops[i].s1);
		write_file(path, "THAWED");
		snprintf(path, sizeof path, "%s/cgroup.freeze", p->ops[i].s1);
		write_file(path, "0");
	}
	/* The console's relay restores the caller's terminal once the sandbox's side is gone: let it
	 * (a SIGKILLed cordon left the shell raw, echo off, when the relay went with the tree). */
	console_finish();
	stdin_relay_finish();
	output_relay_kill();
	tree_kill_all(0, NULL);
	_exit(EXIT_CORDON);
}

/* The last signal passed on to the command: what a command killed by it died of. */
static int forwarded_last;
/* When it was passed on (now_ms). */
static long long forwarded_at;

/* How soon after a SIGINT, SIGTERM or SIGQUIT a command that ends is taken to have ended because
 * of it: a graceful stop. Later, it survived the signal (a REPL's Ctrl-C) and ended on its own,
 * and its last writes are waited for as they would have been (helper-115 lost a megabyte). */
#define ASKED_MS 2000

/* Whether the command ended where it might have been blocked writing what is still in cordon's
 * pipes, and would have ended all the same: killed by the signal passed on to it last, or ended
 * in any way soon after it was asked to end (SIGINT, SIGTERM, SIGQUIT passed on; not SIGHUP,
 * which servers take as "reload"), as a program that handles SIGTERM by exiting does. The
 * relay is then hurried (output_relay_finish): else it waited for a reader that may never read,
 * and a `timeout` around cordon never returned. */
static int ended_when_asked(int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == forwarded_last)
		return 1;
	return (forwarded_last == SIGINT || forwarded_last == SIGTERM ||
		forwarded_last == SIGQUIT) &&
	       now_ms() - forwarded_at < ASKED_MS;
}

/* A signal sent to the whole job reaches the launcher twice: directly (the terminal's Ctrl-C,
 * `kill -- -PGID`, timeout(1)) and through cordon, which passes on what it gets
 * (--forwarded-signals: the CLI does, as FORWARD_SIGNAL; a library caller of spawn() passes on
 * nothing, and every signal is then the command's). The first of the two is passed on and the
 * other is its copy: unsandboxed the program gets one. A copy comes within COPY_MS, and may
 * come as a burst: timeout(1) signals its child, then the group, and a cordon that ran its
 * handler in between passes on two, milliseconds apart, where unsandboxed the two land
 * microseconds apart as one pending signal (a handler that writes its summary and raises the
 * signal again wrote it twice). So copies from the other source are dropped while each comes
 * within BURST_MS of the one before. One from the same source starts anew: a signal sent twice
 * by either (a second Ctrl-C) is never a copy; nor is one sent to cordon alone a second later
 * (helper-126: a window of 3 s for every copy dropped a `kill <cordon>` after a Ctrl-C). Sent
 * as the plain signal, cordon's copy and the direct one, pending together, were merged by the
 * kernel into one, and a signal from cordon's side in the second after was taken for the copy
 * (helper-127, on a loaded host): a forward as FORWARD_SIGNAL is queued on its own. */
#define COPY_MS 1000
#define BURST_MS 250
static struct {
	int from_parent;
	long long at; /* when it was passed on; 0: never */
	long long copy_at; /* when its last copy was dropped; 0: none yet */
} passed[_NSIG];

static int is_forwarded(int sig)
{
	if (all_signals && (forwarded_any(sig) || glibc_own(sig)))
		return 1;
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		if (forwarded[i] == sig)
			return 1;
	return 0;
}

/* si, a FORWARD_SIGNAL, made into the signal it carries (its ssi_code stays SI_QUEUE, which
 * marks it as cordon's); 0 for one that carries none of the forwarded signals. */
static int unwrap_forward(struct signalfd_siginfo *si)
{
	if (si->ssi_code != SI_QUEUE || !is_forwarded(si->ssi_int))
		return 0;
	si->ssi_signo = (uint32_t)si->ssi_int;
	return 1;
}

/* Whether si comes from the supervisor that passes the job's signals on (as itself). */
static int from_forwarder(const struct signalfd_siginfo *si)
{
	pid_t by = (pid_t)si->ssi_pid;
	return forwarded_by_parent && si->ssi_code == SI_USER &&
	       (by == getppid() || (forwarder && by == forwarder));
}

/* Whether si came without its sender: over the user's RLIMIT_SIGPENDING the kernel keeps a
 * legacy signal queued by sigqueue or tgkill (and any real-time one sent by kill) but not who
 * sent it, and delivers it as SI_USER from pid 0. */
static int sender_lost(const struct signalfd_siginfo *si)
{
	return si->ssi_code == SI_USER && si->ssi_pid == 0;
}

/* Whether si is a copy of a signal already passed on (above). Else it is remembered as one. */
static int is_copy(const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;
	if (!forwarded_by_parent || !is_forwarded(sig))
		return 0;
	/* The plain signal from the parent (or --forwarded-by's) too: a supervisor that passes its
	 * signals on with kill (child_process's launcher, CORDON_SPAWN=child_process; a forward that
	 * RLIMIT_SIGPENDING refused to queue). */
	int from_parent = si->ssi_code == SI_QUEUE || from_forwarder(si);
	/* Over the user's RLIMIT_SIGPENDING the kernel delivers a signal without its sender (pid 0):
	 * from either side, so a copy of the one passed on just before (helper-132: a job-wide
	 * real-time signal reached the command twice once the sandbox had filled the limit). */
	if (sender_lost(si))
		from_parent = !passed[sig].from_parent;
	long long now = now_ms();
	/* cordon forwards what it got after the direct one was sent: a direct signal that follows a
	 * forward is its copy only in timeout(1)'s burst (its child, then its group), never a Ctrl-C
	 * half a second after a `kill <cordon>`, which then reached the command alone and not its
	 * group (helper-128). */
	long long window = passed[sig].from_parent && !from_parent ? BURST_MS : COPY_MS;
	if (passed[sig].at && from_parent != passed[sig].from_parent &&
	    (passed[sig].copy_at ? now - passed[sig].copy_at < BURST_MS
				 : now - passed[sig].at < window)) {
		passed[sig].copy_at = now;
		return 1;
	}
	passed[sig].from_parent = from_parent;
	passed[sig].at = now;
	passed[sig].copy_at = 0;
	return 0;
}

/* Whether si is `cordon freeze`'s request to the sandbox's init (command.h FREEZE_REQUEST):
 * queued with its payload, or, over the user's RLIMIT_SIGPENDING (which a sandbox flooding its
 * init fills), plain and delivered without a sender (tree.c send_checked). A job-wide 62 then
 * looks the same, and freezes: the request must hold against the flood (freeze-flood test). */
static int is_freeze_request(const struct signalfd_siginfo *si)
{
	return si->ssi_signo == FREEZE_SIGNAL &&
	       ((si->ssi_code == SI_QUEUE && si->ssi_int == FREEZE_REQUEST) || sender_lost(si));
}

/* Whether si (unwrapped, if a forward) is a signal for the command: not a copy of one passed on
 * already, nor a FORWARD_SIGNAL carrying no signal cordon forwards, nor a freeze request.
 * Under --all-signals a plain FORWARD_SIGNAL from the supervisor is the job's own signal 61,
 * passed on as itself where the launcher was started without it blocked (child_process:
 * cordon-oci exec, the Node half's run; helper-131 found it lost). */
static int for_command(struct signalfd_siginfo *si)
{
	/* The launcher's own (its write to a closed pipe, ignored: EPIPE) stays its own. */
	if (forwarded_sent((int)si->ssi_signo) && !sent_by_other(si->ssi_code, (pid_t)si->ssi_pid))
		return 0;
	if ((si->ssi_signo == FORWARD_SIGNAL && !unwrap_forward(si) &&
	     !(all_signals && from_forwarder(si))) ||
	    is_freeze_request(si))
		return 0;
	return !is_copy(si);
}

/* Passes sig on to the command. The terminal's signals (Ctrl-C, Ctrl-\, a resize, a hangup:
 * ssi_code SI_KERNEL) reach the whole foreground process group of a job. The command leads a
 * session and group of its own, without that terminal, so its group gets them from here, as it
 * would unsandboxed: a shell waits for its child, and a child the signal never reached kept it
 * waiting. Under a console the sandbox's own terminal sends a resize's SIGWINCH itself. */
static void pass_on(const struct plan *p, pid_t pid, const struct pipes *pp,
		    const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;
	if (sig != SIGWINCH) { /* the one that does not end a program by default */
		forwarded_last = sig;
		forwarded_at = now_ms();
	}
	/* Init keeps these two for itself (a forward, a wake-up): it is asked down its pipe to
	 * send them on (helper-132: they stayed pending in init). */
	if (p->has_init && (sig == FORWARD_SIGNAL || sig == FREEZE_SIGNAL)) {
		unsigned char ask = (unsigned char)INIT_CHILD_SIGNAL(sig);
		if (write(pp->freeze[1], &ask, 1) == 1)
			kill(pid, FREEZE_SIGNAL);
		return;
	}
	if (si->ssi_code != SI_KERNEL) {
		kill(pid, sig);
		return;
	}
	if (console_active()) {
		if (sig != SIGWINCH)
			kill(pid, sig);
		return;
	}
	/* init does it inside, asked down the pipe only the launcher writes (command.h). */
	unsigned char ask = (unsigned char)INIT_GROUP_SIGNAL(sig);
	if (p->has_init ? write(pp->freeze[1], &ask, 1) == 1 && kill(pid, FREEZE_SIGNAL) == 0
			: kill(-pid, sig) == 0)
		return;
	kill(pid, sig); /* no group yet (before the command's setsid), or a full pipe */
}

/* Job control without the caller's terminal: the command leads a process group in a session of
 * its own, an orphaned one, where the kernel drops a SIGTSTP left at its default action, so a
 * Ctrl-Z (or `kill -TSTP -PGID`) of the caller's job stopped cordon and not the command, which
 * ran on while the shell said "Stopped". The job's SIGTSTP stops the command's whole group
 * with SIGSTOP instead, and its SIGCONT (`fg`, `bg`) continues it. */
static void job_control(const struct plan *p, pid_t pid, const struct pipes *pp, int sig)
{
	/* Only a stop of its own is continued: a SIGCONT to the job (`timeout` sends one after its
	 * SIGTERM) thawed a sandbox `cordon freeze` had stopped with SIGSTOP (helper-115). */
	static int stopped;
	if (sig == SIGCONT && !stopped)
		return;
	stopped = sig == SIGTSTP;
	int to = sig == SIGTSTP ? SIGSTOP : SIGCONT;
	unsigned char ask = (unsigned char)INIT_GROUP_SIGNAL(to);
	if (p->has_init ? write(pp->freeze[1], &ask, 1) == 1 && kill(pid, FREEZE_SIGNAL) == 0
			: kill(-pid, to) == 0)
		return;
	kill(pid, to);
}

/* Outside: forward signals, notice execve, answer notified syscalls, collect the status. */
static int supervise(const struct plan *p, pid_t pid, struct pipes *pp, const sigset_t *mask,
		     int audit_fd, struct notifier *nf, struct proc_tracker *pt, int parent_fd)
{
	int sfd = signalfd(-1, mask, SFD_CLOEXEC);
	if (sfd < 0)
		die_step(EXIT_CORDON, "signalfd", NULL, NULL, errno);
	struct pollfd fds[N_FDS] = {
		[FD_SIGNAL] = { .fd = sfd, .events = POLLIN },
		[FD_AUDIT] = { .fd = audit_fd, .events = POLLIN },
		[FD_EXEC] = { .fd = pp->exec[0], .events = POLLIN },
		[FD_NOTIFY_SOCK] = { .fd = nf ? nf->sock : -1, .events = POLLIN },
		[FD_LISTENER] = { .fd = -1, .events = POLLIN },
		[FD_EVENTS] = { .fd = -1, .events = POLLOUT },
		[FD_PROC] = { .fd = pt ? pt->fd : -1, .events = POLLIN },
		[FD_SPAWNS] = { .fd = pp->spawns[0], .events = POLLIN },
		[FD_PARENT] = { .fd = parent_fd, .events = POLLIN },
	};
	uint64_t spawned = 0;
	int init_raised = 0;
	int polling = pt && pt->fd < 0;
	/* Counts and the /proc poll run on a timer of their own: a busy poll (the host-wide proc
	 * connector, a stream of notifications) must not starve them, so the deadline is kept
	 * across wake-ups rather than waiting for a quiet interval. */
	long long next_tick = now_ms() + COUNTS_INTERVAL_MS;
	for (;;) {
		fds[FD_EVENTS].fd = ev_pending() ? ev_fd() : -1;
		int ticking = (nf && nf->listener >= 0) || polling || init_raised;
		long long left = next_tick - now_ms();
		int timeout = !ticking ? -1 : left < 0 ? 0 : (int)left;
		int ready = poll(fds, N_FDS, timeout);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			die_step(EXIT_CORDON, "poll", NULL, NULL, errno);
		}
		if (ticking && now_ms() >= next_tick) {
			next_tick = now_ms() + COUNTS_INTERVAL_MS;
			if (init_raised)
				raise_init(pid);
			if (nf)
				notify_report_counts(nf, 0);
			if (polling)
				proc_poll(pt);
		}
		if (fds[FD_PROC].fd >= 0 && fds[FD_PROC].revents)
			proc_read(pt);
		if (fds[FD_SPAWNS].fd >= 0 && fds[FD_SPAWNS].revents &&
		    !read_spawns(pp->spawns[0], pp->pids_current, &spawned))
			fds[FD_SPAWNS].fd = -1;
		if (fds[FD_PARENT].fd >= 0 && fds[FD_PARENT].revents)
			end_orphaned(p, pid); /* never returns */
		/* Before the listener: the command's exec closes this pipe before its first
		 * instruction, so a call it makes at once (an execve of a shell) can be waiting on the
		 * listener in the same pass, and reported first it passed for the launcher's own exec
		 * (the monitor's `initial`), and shell-exec missed it. */
		if (fds[FD_EXEC].fd >= 0 && fds[FD_EXEC].revents) {
			char byte;
			/* The command's pid is read from /proc only for an events reader. */
			ssize_t got = read(pp->exec[0], &byte, 1);
			if (got == 0 && !(nf && nf->failed) && ev_fd() >= 0) {
				int command = p->has_init ? command_host_pid(pp->pid[0]) : pid;
				ev_started(pid, command);
				if (pt)
					proc_command(pt, command);
			}
			/* Init counts the spawns from inside the sandbox's cgroup, one task among a
			 * bomb's thousands: at nice 0 a bomb of 4096 spinning forks kept it off the CPU
			 * for over a minute, and no rule saw a spawn. Raised once the command is forked
			 * (the pipe's end: init's copy closed), so that nothing of the command inherits
			 * it. Only a caller with CAP_SYS_NICE may; others' hosts share the starvation. */
			if (got == 0 && fds[FD_SPAWNS].fd >= 0)
				init_raised = raise_init(pid);
			close(pp->exec[0]);
			if (pp->pid[0] >= 0)
				close(pp->pid[0]);
			pp->pid[0] = -1;
			fds[FD_EXEC].fd = -1;
		}
		if (fds[FD_LISTENER].fd >= 0 && fds[FD_LISTENER].revents) {
			if (fds[FD_LISTENER].revents & POLLIN)
				notify_on_listener(nf);
			else /* POLLHUP: no task uses the filter any more */
				fds[FD_LISTENER].fd = -1;
		}
		if (fds[FD_NOTIFY_SOCK].fd >= 0 && fds[FD_NOTIFY_SOCK].revents) {
			notify_on_sock(nf);
			fds[FD_NOTIFY_SOCK].fd = -1;
			fds[FD_LISTENER].fd = nf->listener;
			if (nf->listener >= 0)
				ev_buffer_start();
		}
		if (fds[FD_EVENTS].fd >= 0 && fds[FD_EVENTS].revents)
			ev_drain();
		if (audit_fd >= 0 && fds[FD_AUDIT].revents)
			audit_read(audit_fd, pid);
		if (!(fds[FD_SIGNAL].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		/* Any other 62 is the job's own under --all-signals, sent or forwarded: a job-wide
		 * one froze the sandbox for good (helper-132), and without an init it was lost
		 * (helper-131). */
		if (si.ssi_signo == FREEZE_SIGNAL && (is_freeze_request(&si) || !all_signals)) {
			/* The request itself goes down a pipe only the launcher writes; the signal
			 * only wakes init, which reads the pipe whenever it wakes (command.h). Only an
			 * init answers it; the command would die of it. */
			if (p->has_init && (write(pp->freeze[1], "f", 1) == 1 || errno == EAGAIN))
				kill(pid, FREEZE_SIGNAL);
			continue;
		}
		if (si.ssi_signo == SIGTSTP || si.ssi_signo == SIGCONT) {
			job_control(p, pid, pp, (int)si.ssi_signo);
			continue;
		}
		if (si.ssi_signo != SIGCHLD) {
			if (for_command(&si))
				pass_on(p, pid, pp, &si);
			continue;
		}
		int status;
		if (nf && nf->traced) {
			/* Tracees' stops come as SIGCHLD too: restart them all, and see whether the
			 * child itself ended (trace.h). */
			if (!trace_reap(nf, pid, &status))
				continue;
		} else if (!reap_children(pid, &status)) {
			continue;
		}
		int inner;
		if (p->has_init && read(pp->status[0], &inner, sizeof inner) == sizeof inner)
			status = inner;
		if (audit_fd >= 0)
			audit_finish(audit_fd,
				     pid); /* the kernel delivers records asynchronously */
		if (pt)
			proc_finish(pt, status);
		if (fds[FD_SPAWNS].fd >= 0)
			read_spawns(pp->spawns[0], pp->pids_current, &spawned);
		if (nf) {
			while (fds[FD_LISTENER].fd >= 0 && poll(&fds[FD_LISTENER], 1, 0) > 0 &&
			       (fds[FD_LISTENER].revents & POLLIN))
				notify_on_listener(nf);
			notify_report_leftovers(nf);
			if (nf->listener >= 0)
				notify_report_counts(nf, 1);
		}
		console_finish();
		stdin_relay_finish();
		/* The sandbox ends with its command, in every mode: a pid namespace dies with its
		 * init, a cgroup is emptied when the supervisor removes it. Without either, what the
		 * command left running (a daemon, a double fork) would outlive the run, its timeout
		 * and its monitor: the launcher, their subreaper, kills every descendant first, all
		 * but the output relay, which hands over what they wrote (a pipe keeps its bytes). */
		if (!(p->clone_flags & CLONE_NEWPID))
			tree_kill_all(output_relay_pid(), output_relay_reaped);
		/* What the command wrote reaches the caller's pipes before its exit is told. A wait
		 * for the caller's reader that a signal or the supervisor's end cut short reports the
		 * run ended by that signal: the program would have been, blocked in its write. One
		 * that ended when asked to hurries the relay (ended_when_asked). */
		int cut =
			output_relay_finish(sfd, parent_fd, for_command, ended_when_asked(status));
		ev_drain_all();
		int sig, code = exit_code(status, &sig);
		if (cut)
			code = 128 + cut, sig = cut;
		if (nf && nf->failed)
			code = EXIT_CORDON, sig = 0;
		ev_exit(code, sig);
		return code;
	}
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct plan p;
	char err[512];
	size_t len;

	parse_args(argc, argv, &o);
	if (o.start_fifo && !o.detach)
		die_msg("--start-fifo goes with --detach");
	uint8_t *buf = read_plan(&o, &len);
	if (plan_decode(buf, len, &p, err, sizeof err))
		die_msg("%s", err);
	if (o.events_fd >= 0 && fcntl(o.events_fd, F_SETFD, FD_CLOEXEC))
		die_step(EXIT_CORDON, "events fd", NULL, NULL, errno);
	if (o.hook_fd >= 0 && (fcntl(o.hook_fd, F_SETFD, FD_CLOEXEC) || !p.has_root))
		die_msg("--hook-fd: needs an open fd and a plan with a filesystem view, where "
			"the sandbox waits before its pivot_root");
	if (o.go_fd >= 0 &&
	    (fcntl(o.go_fd, F_SETFD, FD_CLOEXEC) || o.hook_fd >= 0 || has_hooks(&p)))
		die_msg("--go-fd: needs an open fd and a plan without OCI hooks (they would run "
			"before the go)");

	char **default_argv = o.argv ? NULL : plan_argv(&p);
	struct command cmd = { .plan = &p,
			       .argv = o.argv ? o.argv : default_argv,
			       .envp = build_env(&p) };
	/* A dead supervisor's event pipe must not kill the launcher before it cleans up. */
	signal(SIGPIPE, SIG_IGN);
	int parent_fd = -1;
	if (p.die_with_parent) {
		/* Watched through a pidfd rather than killed by PDEATHSIG, so that the launcher outlives
		 * its parent long enough to kill and thaw a sandbox the parent froze (end_orphaned).
		 * PDEATHSIG stays the fallback where pidfds are missing (before 5.3). */
		pid_t parent = getppid();
		parent_fd = (int)syscall(SYS_pidfd_open, parent, 0);
		if (parent_fd >= 0 && fcntl(parent_fd, F_SETFD, FD_CLOEXEC)) {
			close(parent_fd);
			parent_fd = -1;
		}
		if (parent_fd < 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
			die_step(EXIT_CORDON, "pdeathsig", NULL, NULL, errno);
		if (getppid() != parent)
			die_msg("parent exited during start-up");
	}
	/* Without a pid namespace a process of the sandbox whose parent exits (a double fork, a
	 * daemon) would be adopted by the host's init or a subreaper of the caller, outside the
	 * launcher's tree, out of reach of cordon kill, freeze and the timeout: they walk that tree
	 * when there is no cgroup. As the subreaper the launcher adopts (and reaps) them. Children
	 * do not inherit it. */
	if (!(p.clone_flags & CLONE_NEWPID) && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		die_step(EXIT_CORDON, "subreaper", NULL, NULL, errno);
	sigset_t mask, forward;
	sigemptyset(&forward);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		sigaddset(&forward, forwarded[i]);
	/* FORWARD_SIGNAL and FREEZE_SIGNAL stay the launcher's own (below): both come as the
	 * payload of a forward when the caller's side sends them. */
	for (int sig = 1; all_signals && sig < _NSIG; sig++)
		if (forwarded_any(sig) && sig != FORWARD_SIGNAL && sig != FREEZE_SIGNAL)
			sigaddset(&forward, sig);
	if (all_signals)
		add_glibc_own(&forward);
	mask = forward;
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, FREEZE_SIGNAL); /* init's (command.h); the command gets saved_mask back */
	sigaddset(&mask, SIGTSTP); /* job_control: the launcher itself is not stopped */
	sigaddset(&mask, SIGCONT);
	sigaddset(&mask, FORWARD_SIGNAL);
	sigmask_raw(SIG_BLOCK, &mask, &cmd.saved_mask);
	sigdelset(&cmd.saved_mask, FORWARD_SIGNAL); /* blocked from the start (forward-signal.h) */

	int audit_fd = -1;
	for (size_t i = 0; i < p.n_ops && o.events_fd >= 0; i++)
		if (p.ops[i].code == OP_LANDLOCK)
			audit_fd =
				audit_open(); /* before the sandbox exists, so no denial is missed */

	/* Large (PROC_TRACK_MAX pids): static, not on the stack. */
	static struct proc_tracker tracker;
	struct proc_tracker *pt = NULL;
	if (o.proc_events && o.events_fd >= 0) {
		proc_open(&tracker); /* before the sandbox exists, so no fork is missed */
		pt = &tracker;
	}

	struct pipes pp;
	if (pipe2(pp.sync, O_CLOEXEC) || pipe2(pp.exec, O_CLOEXEC) || pipe2(pp.status, O_CLOEXEC))
		die_step(EXIT_CORDON, "pipe", NULL, NULL, errno);
	pp.idmap[0] = pp.idmap[1] = -1;
	pp.spawns[0] = pp.spawns[1] = pp.lastpid = pp.task_proc = pp.pids_current = -1;
	pp.freeze[0] = pp.freeze[1] = -1;
	pp.pid[0] = pp.pid[1] = -1;
	/* The command's pid for the `started` event (command_host_pid): asked for only by an events
	 * reader. The credentials are attached at the send when the receiver asks for them. */
	if (p.has_init && o.events_fd >= 0 &&
	    (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pp.pid) ||
	     setsockopt(pp.pid[0], SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int))))
		die_step(EXIT_CORDON, "socketpair", NULL, NULL, errno);
	pp.hook_fd = o.hook_fd;
	pp.go_fd = o.go_fd;
	if (p.has_init && pipe2(pp.freeze, O_CLOEXEC | O_NONBLOCK))
		die_step(EXIT_CORDON, "pipe", NULL, NULL, errno);
	/* Spawns are counted by init, inside the pid namespace, from the last pid it handed out:
	 * nothing the sandbox does is stopped for it (see the README, "Observation"). Without a
	 * pid namespace the proc connector's forks are counted instead, when it is available. */
	if (pt && p.has_init && (p.clone_flags & CLONE_NEWPID)) {
		pp.lastpid = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
		if (pp.lastpid >= 0 && pipe2(pp.spawns, O_CLOEXEC))
			die_step(EXIT_CORDON, "pipe", NULL, NULL, errno);
		if (pp.spawns[1] >= 0 && fcntl(pp.spawns[1], F_SETFL, O_NONBLOCK))
			die_step(EXIT_CORDON, "pipe", NULL, NULL, errno);
	}
	/* Where a cgroup counts the tasks, the launcher reads it: outside the sandbox's group,
	 * which a storm does not starve, and exact where the connector's view is not (zombies,
	 * threads outliving their leader). */
	if (pt && (pp.spawns[1] >= 0 || pt->fd >= 0))
		pp.pids_current = open_pids_current(&p);
	if (pt && pp.lastpid < 0) {
		pt->report_forks = pt->fd >= 0;
		pt->pids_fd = pp.pids_current;
		if (pt->fd < 0)
			ev_warning("process events",
				   "process creation is not counted (no pid namespace, and the "
				   "proc connector needs "
				   "root): rules on spawns, such as fork-storm, cannot fire");
	}
	long remap_uid, remap_gid;
	int remapped = (p.clone_flags & CLONE_NEWUSER) && remapped_ids(&p, &remap_uid, &remap_gid);
	if (has_idmapped_binds(&p) || (remapped && (p.clone_flags & CLONE_NEWNS))) {
		if (!(p.clone_flags & CLONE_NEWUSER) || !(p.clone_flags & CLONE_NEWNS))
			die_msg("plan: idmapped binds need a user and a mount namespace");
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pp.idmap))
			die_step(EXIT_CORDON, "socketpair", NULL, NULL, errno);
	}
	cmd.exec_fd = pp.exec[1];
	int notify_pair[2] = { -1, -1 };
	if (p.responder && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notify_pair))
		die_step(EXIT_CORDON, "socketpair", NULL, NULL, errno);
	cmd.notify_sock = notify_pair[1];
	if (o.console_socket)
		console_prepare_socket(o.console_socket, o.console_rows, o.console_cols);
	else
		console_prepare(&p, o.console);

	/* A remapped sandbox must not carry the caller's supplementary groups (host gid 0...): its
	 * namespace denies setgroups, so they are dropped here, before the clone. */
	if (remapped && setgroups(0, NULL))
		die_step(EXIT_CORDON, "drop supplementary groups", NULL, NULL, errno);
	/* An OCI container's streams are its engine's (runc's rules), and a detached one outlives
	 * the launcher that would relay them. */
	if (!o.detach && !o.console_socket && !o.start_fifo) {
		long uid = command_host_uid(&p, remapped ? remap_uid : -1);
		stdin_relay_prepare(uid);
		output_relay_prepare(uid);
	}

	/* The time and cgroup namespaces are unshared inside: time only applies to children,
	 * cgroup must come after the cgroup join; the others but user and pid too, at once
	 * (UNSHARED_FIRST). */
	unsigned long flags =
		p.clone_flags & ~(unsigned long)(CLONE_NEWTIME | CLONE_NEWCGROUP | UNSHARED_FIRST);
	if (o.start_fifo)
		oci_open_fifo(o.start_fifo);
	if (p.leave_mount)
		view_open_return_ns();
	oci_attach_device_filters(&p); /* before a joined user namespace takes the host's caps */
	/* Joining namespaces others live in (`cordon-oci exec`): the sandbox shows up in their pid
	 * namespace, of their user namespace and ids, while it is still in the host's mount
	 * namespace and root, with every capability and no Landlock domain. Dumpable, it lets a
	 * process there with CAP_SYS_PTRACE in its user namespace (or all of the sandbox's
	 * capabilities) reach the host's root through /proc/PID/root and ptrace it: non-dumpable
	 * before the joins, as runc's init. Not with a new user namespace, whose id maps the
	 * launcher writes in the sandbox's /proc, which a non-dumpable one gives to root. */
	for (size_t i = 0; i < p.n_ops && !(flags & CLONE_NEWUSER); i++)
		if (p.ops[i].code == OP_SETNS) {
			if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
				die_step(EXIT_CORDON, "dumpable", NULL, NULL, errno);
			break;
		}
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer checks at exit from a task it clones, which quits unless it sees the
	 * launcher as its parent: in a joined pid namespace it cannot (getppid() is 0), and the
	 * exit spins on sched_yield for good. So such a launcher is checked here, before it joins. */
	for (size_t i = 0; i < p.n_ops; i++)
		if (p.ops[i].code == OP_SETNS && p.ops[i].a == CLONE_NEWPID) {
			__lsan_do_leak_check();
			break;
		}
#endif
	oci_join_namespaces(&p);
	no_realtime_children();
	int cgroup_fd = cgroup2_target(&p), joined;
	pid_t pid = clone_sandbox(flags, cgroup_fd, &joined);
	if (pid < 0)
		die_step(EXIT_CORDON, "clone namespaces", NULL, NULL, errno);
	if (pid == 0) {
		/* init leaves the caller's process group: what is sent to the whole job (the
		 * terminal's Ctrl-C, `kill -- -PGID`) reaches the launcher, which passes it on once,
		 * and not init as well, which passed it on a second time (command.h init_run). The
		 * command itself makes a session of its own (OP_SETSID). Both sides call it, as a
		 * shell does for a job, so that no signal finds init between the clone and here. */
		if (p.has_init)
			setpgid(0, 0);
		stdin_relay_child();
		output_relay_child();
		if (parent_fd >= 0)
			close(parent_fd);
		if (audit_fd >= 0)
			close(audit_fd);
		if (pt && pt->fd >= 0)
			close(pt->fd);
		if (notify_pair[0] >= 0)
			close(notify_pair[0]);
		if (cgroup_fd >= 0)
			close(cgroup_fd);
		sandbox_main(&p, &cmd, &pp, &forward);
	}
	if (p.has_init)
		setpgid(pid, pid);
	stdin_relay_start();
	output_relay_start();
	if (pt) {
		proc_helper(pt, stdin_relay_pid());
		proc_helper(pt, output_relay_pid());
	}
	/* Until the go, a step that fails here because the sandbox's process failed first (and
	 * said why: its unshare) is not reported again. */
	ev_set_peer_fail_fd(pp.exec[0]);
	if (pt)
		proc_track(pt, pid);
	struct notifier notifier, *nf = NULL;
	if (p.responder) {
		close(notify_pair[1]);
		notify_init(&notifier, notify_pair[0], p.responder->blob,
			    p.responder->blob_len / 8);
		notifier.trace = p.trace;
		nf = &notifier;
	}

	close(pp.sync[0]);
	close(pp.exec[1]);
	close(pp.status[1]);
	if (pp.spawns[1] >= 0)
		close(pp.spawns[1]);
	if (pp.lastpid >= 0)
		close(pp.lastpid);
	if (pp.freeze[0] >= 0)
		close(pp.freeze[0]);
	if (pp.pid[1] >= 0)
		close(pp.pid[1]);
	int proc_dir = p.clone_flags & CLONE_NEWUSER ? open_proc_dir(pid) : -1;
	if (p.clone_flags & CLONE_NEWUSER)
		setup_user_namespace(&p, proc_dir);
	if (pp.idmap[0] >= 0) {
		close(pp.idmap[1]);
		send_idmapped_binds(&p, proc_dir, pp.idmap[0], remapped);
	}
	if (proc_dir >= 0)
		close(proc_dir);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	/* 'g': the ids are mapped and the view can be built. A cgroup join by write is a migration,
	 * which waits for an RCU grace period on a kernel without favordynmods (0.4-20 ms measured
	 * on one VM, by the kernel's state): it runs while the sandbox builds its view, which hides
	 * that much of it, and 'c' says it is done.
	 * With OCI hooks both are sent together after the join (joins_during_view). */
	int late = joins_during_view(&p, pp.hook_fd);
	if (late && write(pp.sync[1], "g", 1) != 1)
		die_step(EXIT_CORDON, "start sandbox", NULL, NULL, errno);
	if (joined)
		ev_set_cgroup_join("clone3");
	else if (join_cgroups(&p, pid))
		ev_set_cgroup_join("write");
	if (write(pp.sync[1], late ? "c" : "gc", late ? 1 : 2) != (late ? 1 : 2)) {
		int e = errno;
		kill(pid, SIGKILL);
		die_step(EXIT_CORDON, "start sandbox", NULL, NULL, e);
	}
	ev_set_peer_fail_fd(-1);
	if (pp.hook_fd >= 0)
		hook_relay(pid, pp.exec[0], pp.sync[1], pp.hook_fd);
	else
		close(pp.sync[1]);
	if (o.detach)
		oci_detach(pid, pp.exec[0], o.pid_file, !o.start_fifo);
	oci_write_pid(pid, o.pid_file);
	console_start();
	if (pt)
		proc_helper(pt, console_relay_pid());
	int code = supervise(&p, pid, &pp, &mask, audit_fd, nf, pt, parent_fd);
	free_strv(cmd.envp);
	free(default_argv);
	plan_free(&p);
	free(buf);
	return code;
}
