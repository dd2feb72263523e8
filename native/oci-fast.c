/* oci-fast.c — cordon-oci's entry point (bin/cordon-oci). An engine runs its runtime 3 to 5
 * times per container (create, start, state, kill, delete), and Node's own start-up alone
 * costs about runc's whole `run`. The subcommands that compile nothing — state, start, kill,
 * delete — are served here in C, exactly as src/oci-runtime/lifecycle.ts serves them (the same
 * output, messages, --log lines and exit codes). Everything else, and every case this file
 * does not fully know (a flag it does not parse, --debug, a record field it does not know, a
 * monitored container, hooks to run, a root that fails its check), is left to the TypeScript
 * runtime: exec'd with the same arguments before anything is changed, so it starts afresh.
 *
 * Signals go through pidfds opened before the process's identity (its start time, as
 * state.ts isAlive) is checked, so a pid reused meanwhile is never signalled. */
#define _GNU_SOURCE
#include "json.h"
#include "sys.h"
#include "oci-launch.h"
#include "oci-state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The Node that built the package (scripts/build-native.mjs); `node` from PATH otherwise. */
#ifndef CORDON_NODE
#define CORDON_NODE "node"
#endif

enum command { CMD_STATE, CMD_START, CMD_KILL, CMD_DELETE };

struct cli {
	char **argv;
	const char *root, *log, *id, *signal;
	int json_log, all, force;
	enum command cmd;
};

static const struct cli *current; /* for messages */

/* Runs the TypeScript runtime (bin/cordon-oci.cjs beside this binary's package: the bundle
 * compiled from its build-time code cache) with the same arguments. Only ever called before
 * this process changed anything.
 *
 * --v8-pool-size=1: V8's default is 4 worker threads (0 means one per core but one), started
 * at every launch and busy with concurrent compiles and GC work that a run this short never
 * needs; one costs less CPU for the same wall time (README, start-up). V8 flags that would
 * change the code cache's flag hash (--no-opt, --single-threaded, --lite-mode) are not used:
 * none cut CPU here, and each would make V8 refuse the cache. */
/* The subcommand argv names after runc's global flags (main.ts parseGlobal), or NULL. */
static const char *node_command(char **argv)
{
	static const char *const with_value[] = { "--root", "--log", "--log-format", "--rootless" };
	for (int i = 1; argv[i]; i++) {
		if (argv[i][0] != '-')
			return argv[i];
		if (strchr(argv[i], '='))
			continue;
		for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
			if (strcmp(argv[i], with_value[k]) == 0 && argv[i + 1])
				i++;
	}
	return NULL;
}

/* Whether `run` was asked to --detach (-d, runc's -detach): it then starts the container and
 * returns. Anywhere before "--": one the runtime takes otherwise (after the id) only means the
 * helper keeps its default actions until asked to launch, as before it ignored the job's. */
static int detached(char **argv)
{
	for (int i = 1; argv[i] && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--detach") == 0 ||
		    strcmp(argv[i], "-detach") == 0 || strncmp(argv[i], "--detach=", 9) == 0 ||
		    strncmp(argv[i], "-detach=", 8) == 0)
			return 1;
	return 0;
}

/* Node's own environment variables that would change how the runtime's Node starts or what it
 * loads: not the runtime's to take from the engine. NODE_EXTRA_CA_CERTS (set host-wide by some
 * distributions and proxies) makes Node parse a certificate bundle at start-up: ~3x `node -e 0`'s
 * CPU here, for a runtime that opens no TLS connection; NODE_OPTIONS may add V8 flags (the code
 * cache then no longer applies), preloads or an inspector. */
static void scrub_node_env(void)
{
	static const char *const names[] = { "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unsetenv(names[i]);
}

static noreturn void to_node(char **argv)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self);
	/* Never a script found from the working directory: without our own path, stop. */
	if (n <= 0 || (size_t)n >= sizeof self) {
		fprintf(stderr,
			"cordon-oci: cannot find its own package (readlink /proc/self/exe: %s); "
			"is /proc mounted?\n",
			n < 0 ? strerror(errno) : "path too long");
		exit(1);
	}
	self[n] = 0;
	/* PKG/build/native/cordon-oci → PKG */
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
	}
	char script[PATH_MAX + 32];
	snprintf(script, sizeof script, "%s/bin/cordon-oci.cjs", self);
	int argc = 0;
	while (argv[argc])
		argc++;
	char **args = calloc((size_t)argc + 3, sizeof *args);
	scrub_node_env();
	/* create and run start the launcher: through the helper, Node needs no
	 * node:child_process. */
	const char *command = node_command(argv);
	if (args && command && (strcmp(command, "create") == 0 || strcmp(command, "run") == 0))
		/* -1: no helper, and Node spawns the launcher itself */
		(void)launch_helper_start(strcmp(command, "run") == 0 && !detached(argv));
	if (args) {
		args[0] = "node";
		args[1] = "--v8-pool-size=1";
		args[2] = script;
		for (int i = 1; i < argc; i++)
			args[i + 2] = argv[i];
		execv(CORDON_NODE, args);
		execvp("node", args);
	}
	fprintf(stderr,
		"cordon-oci: cannot run the runtime with Node (%s: %s); is node installed?\n",
		script, strerror(errno));
	exit(1);
}

static void log_line(const char *msg)
{
	if (!current || !current->log)
		return;
	struct timespec ts;
	struct tm tm;
	char time[96];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ts.tv_nsec / 1000000));
	struct json_buf b = { 0 };
	if (current->json_log) {
		buf_puts(&b, "{\"level\":\"error\",\"msg\":");
		buf_put_json_string(&b, msg, strlen(msg));
		buf_puts(&b, ",\"time\":\"");
		buf_puts(&b, time);
		buf_puts(&b, "\"}\n");
	} else {
		buf_puts(&b, "time=\"");
		buf_puts(&b, time);
		buf_puts(&b, "\" level=error msg=");
		buf_put_json_string(&b, msg, strlen(msg));
		buf_puts(&b, "\n");
	}
	int fd = open(current->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0 && !b.failed && write(fd, b.data, b.len) < 0) {
		/* main.ts log(): a log that cannot be written is not an error of the command */
	}
	if (fd >= 0)
		close(fd);
	free(b.data);
}

/* The command failed: the message to --log and stderr, status 1 (main.ts main()). */
__attribute__((format(printf, 1, 2))) static noreturn void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_line(msg);
	fprintf(stderr, "cordon-oci: %s\n", msg);
	exit(1);
}

/* A system call failed after this process changed something: Node's message for it
 * (`ENOENT: no such file or directory, unlink 'PATH'`), as the TypeScript runtime would fail. */
static noreturn void fail_sys(const char *syscall_name, const char *path)
{
	static const struct {
		int err;
		const char *code, *text;
	} known[] = {
		{ ENOENT, "ENOENT", "no such file or directory" },
		{ EACCES, "EACCES", "permission denied" },
		{ EPERM, "EPERM", "operation not permitted" },
		{ EBUSY, "EBUSY", "resource busy or locked" },
		{ EROFS, "EROFS", "read-only file system" },
		{ EINVAL, "EINVAL", "invalid argument" },
		{ ENOTDIR, "ENOTDIR", "not a directory" },
		{ ENOTEMPTY, "ENOTEMPTY", "directory not empty" },
	};
	int err = errno;
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (known[i].err == err)
			fail("%s: %s, %s '%s'", known[i].code, known[i].text, syscall_name, path);
	fail("%s, %s '%s'", strerror(err), syscall_name, path);
}

/* main.ts parseFlags for a command whose flags are all booleans: 0, or -1 for anything else
 * (a value flag, --help, an unknown flag: main.ts answers those). rest gets the positionals. */
static int parse_flags(char **args, const char *const *bools, int *set, char ***rest)
{
	int i = 0;
	for (; args[i]; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !strcmp(a, "-"))
			break;
		if (strchr(a, '='))
			return -1;
		const char *name = a + 1 + (a[1] == '-');
		int known = 0;
		for (size_t b = 0; bools[b]; b++)
			if (!strcmp(name, bools[b])) {
				set[b] = 1;
				known = 1;
			}
		if (!known)
			return -1;
	}
	*rest = args + i;
	return 0;
}

/* state.ts containerDir's rule for an id. */
static int valid_id(const char *id)
{
	if (!id || !*id || !strcmp(id, ".") || !strcmp(id, ".."))
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_+.-", *p)))
			return 0;
	return 1;
}

/* main.ts parseGlobal and dispatch, for the four commands; -1 sends the command to Node. */
static int parse_cli(int argc, char **argv, struct cli *c)
{
	*c = (struct cli){ .argv = argv, .root = "/run/cordon-oci" };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (len == 6 && !strncmp(a, "--root", len) && value && *value)
			c->root = value;
		else if (len == 5 && !strncmp(a, "--log", len) && value)
			c->log = value;
		else if (len == 12 && !strncmp(a, "--log-format", len) && value &&
			 (!strcmp(value, "text") || !strcmp(value, "json")))
			c->json_log = !strcmp(value, "json");
		else if (!(len == 10 && !strncmp(a, "--rootless", len)))
			return -1; /* --debug, --help, --version, --systemd-cgroup, a typo */
	}
	if (i >= argc)
		return -1;
	static const char *const none[] = { NULL }, *const kill_flags[] = { "all", "a", NULL },
				 *const delete_flags[] = { "force", "f", NULL };
	static const char *const names[] = { "state", "start", "kill", "delete" };
	size_t cmd = 0;
	while (cmd < 4 && strcmp(argv[i], names[cmd]))
		cmd++;
	if (cmd == 4)
		return -1;
	c->cmd = (enum command)cmd;
	int set[2] = { 0, 0 };
	char **rest;
	const char *const *bools = c->cmd == CMD_KILL	  ? kill_flags
				   : c->cmd == CMD_DELETE ? delete_flags
							  : none;
	if (parse_flags(argv + i + 1, bools, set, &rest) || !valid_id(rest[0]))
		return -1;
	c->id = rest[0];
	c->signal = rest[1];
	c->all = c->cmd == CMD_KILL && (set[0] || set[1]);
	c->force = c->cmd == CMD_DELETE && (set[0] || set[1]);
	return 0;
}

/* lifecycle.ts parseSignal: a number, or a name with or without SIG (any case); -1 for what
 * it refuses or what process.kill() would refuse (main.ts says which). */
static int parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "SIGHUP", 1 },     { "SIGINT", 2 },	{ "SIGQUIT", 3 },    { "SIGILL", 4 },
		{ "SIGTRAP", 5 },    { "SIGABRT", 6 },	{ "SIGIOT", 6 },     { "SIGBUS", 7 },
		{ "SIGFPE", 8 },     { "SIGKILL", 9 },	{ "SIGUSR1", 10 },   { "SIGSEGV", 11 },
		{ "SIGUSR2", 12 },   { "SIGPIPE", 13 }, { "SIGALRM", 14 },   { "SIGTERM", 15 },
		{ "SIGSTKFLT", 16 }, { "SIGCHLD", 17 }, { "SIGCONT", 18 },   { "SIGSTOP", 19 },
		{ "SIGTSTP", 20 },   { "SIGTTIN", 21 }, { "SIGTTOU", 22 },   { "SIGURG", 23 },
		{ "SIGXCPU", 24 },   { "SIGXFSZ", 25 }, { "SIGVTALRM", 26 }, { "SIGPROF", 27 },
		{ "SIGWINCH", 28 },  { "SIGIO", 29 },	{ "SIGPOLL", 29 },   { "SIGPWR", 30 },
		{ "SIGSYS", 31 },
	};
	if (!s)
		return SIGTERM;
	size_t n = strlen(s);
	if (n && strspn(s, "0123456789") == n) {
		long v = n > 3 ? 999 : strtol(s, NULL, 10);
		return v <= 64 ? (int)v : -1;
	}
	char name[16] = "SIG";
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			return -1;
		name[3 + i] = ch;
	}
	const char *full = strncmp(name + 3, "SIG", 3) ? name : name + 3;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (!strcmp(full, sigs[i].name))
			return sigs[i].sig;
	return -1;
}

static int pidfd_open(long pid)
{
	return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

static int pidfd_send(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* Signals the container's init, if it still is the recorded process: the pidfd is opened
 * first, so the start time checked after it is the signalled process's. */
static void signal_init(const struct oci_record *r, int sig)
{
	int fd = pidfd_open(r->pid);
	if (fd < 0 && errno != ENOSYS)
		return; /* gone */
	if (oci_alive(r)) {
		if (fd >= 0)
			pidfd_send(fd, sig);
		else
			kill((pid_t)r->pid, sig);
	}
	if (fd >= 0)
		close(fd);
}

/* cgroups.ts cgroupPids: the pids in dir/cgroup.procs (*n of them; free the array). */
static long *group_pids(const char *dir, size_t *n)
{
	char path[PATH_MAX];
	*n = 0;
	if ((size_t)snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= sizeof path)
		return NULL;
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	long *pids = NULL, pid;
	size_t cap = 0;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (*n == cap) {
			long *more = realloc(pids, (cap = cap ? cap * 2 : 16) * sizeof *pids);
			if (!more)
				break;
			pids = more;
		}
		pids[(*n)++] = pid;
	}
	fclose(f);
	return pids;
}

/* lifecycle.ts pidsOf: the first of the container's groups that holds a process. */
static const char *busy_group(const struct oci_record *r)
{
	for (size_t i = 0; i < r->n_cgroup_dirs; i++) {
		size_t n;
		free(group_pids(r->cgroup_dirs[i], &n));
		if (n)
			return r->cgroup_dirs[i];
	}
	return NULL;
}

/* Pids pinned at a time: each holds a file descriptor, and a group can hold more processes than
 * the descriptor limit (a container of 1,100 processes under `ulimit -n 1024` was left whole). */
#define SIGNAL_BATCH 256

/* Signals every process of the container's group. A pid is signalled through a pidfd opened
 * while it was listed, and only if it is still listed afterwards: a pid that ended and was
 * reused outside the group in between is left alone. Pids are pinned in batches that leave a
 * descriptor for reading the listing again; a listing that cannot be read fails the command
 * rather than signalling nothing and answering 0. */
static void signal_group(const struct oci_record *r, int sig)
{
	const char *dir = busy_group(r);
	size_t n = 0;
	long *pids = dir ? group_pids(dir, &n) : NULL;
	for (size_t from = 0; from < n;) {
		int fds[SIGNAL_BATCH], nosys = 0;
		size_t k = 0, m = 0;
		while (k < SIGNAL_BATCH && from + k < n) {
			fds[k] = pidfd_open(pids[from + k]);
			if (fds[k] < 0 && (errno == EMFILE || errno == ENFILE)) {
				int err = errno;
				while (k > 0 && fds[k - 1] < 0)
					k--; /* pids already gone hold no descriptor */
				if (k == 0) {
					errno = err;
					fail_sys("pidfd_open", dir);
				}
				close(fds[--k]); /* room for the listing; that pid is pinned next round */
				break;
			}
			if (fds[k] < 0 && errno == ENOSYS)
				nosys = 1; /* before Linux 5.3: kill() by number, as lifecycle.ts */
			k++;
		}
		errno = 0;
		long *again = group_pids(dir, &m);
		if (!again && errno)
			fail_sys("open", dir);
		for (size_t i = 0; i < k; i++) {
			int listed = 0;
			for (size_t j = 0; j < m && !listed; j++)
				listed = again[j] == pids[from + i];
			if (listed && fds[i] >= 0)
				pidfd_send(fds[i], sig);
			else if (listed && nosys)
				kill((pid_t)pids[from + i], sig);
			if (fds[i] >= 0)
				close(fds[i]);
		}
		free(again);
		from += k;
	}
	free(pids);
}

/* cgroups.ts freeze(f, false); a failure is the command's, as there. */
static void thaw(const struct oci_record *r)
{
	char path[PATH_MAX];
	const char *v = r->freezer_v2 ? "0" : "THAWED";
	if ((size_t)snprintf(path, sizeof path, "%s/%s", r->freezer_dir,
			     r->freezer_v2 ? "cgroup.freeze" : "freezer.state") >= sizeof path) {
		errno = ENAMETOOLONG; /* a cut path names another file: never open it */
		fail_sys("open", r->freezer_dir);
	}
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		fail_sys("open", path);
	if (write(fd, v, strlen(v)) < 0)
		fail_sys("write", path);
	close(fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };
	nanosleep(&ts, NULL);
}

static int cmd_state(const struct cli *c, const char *dir, const struct oci_record *r)
{
	struct json_buf b = { 0 };
	oci_state_json(&b, r, oci_status_of(dir, r));
	buf_puts(&b, "\n");
	if (b.failed)
		to_node(c->argv);
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(1, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			fail_sys("write", "stdout");
		off += (size_t)w;
	}
	free(b.data);
	return 0;
}

/* lifecycle.ts start: read the byte the container writes to exec.fifo once opened, and the
 * container runs; a container that died meanwhile must not leave `start` waiting forever. */
static int cmd_start(const struct cli *c, const char *dir, const struct oci_record *r)
{
	enum oci_status s = oci_status_of(dir, r);
	if (s != ST_CREATED)
		fail("cannot start container \"%s\" in status %s", c->id, oci_status_name(s));
	/* a monitored container starts once its supervisor watches; poststart hooks run: Node */
	if (oci_annotation(r, "org.cordon.monitor") || r->poststart_hooks)
		to_node(c->argv);
	char fifo[PATH_MAX];
	snprintf(fifo, sizeof fifo, "%s/exec.fifo", dir);
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		to_node(c->argv); /* started or removed meanwhile: Node says which */
	int pidfd = pidfd_open(r->pid);
	for (;;) {
		char byte;
		ssize_t n = read(fd, &byte, 1);
		if (n == 1)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_sys("read", fifo);
		if (!oci_alive(r))
			fail("container \"%s\" exited before it started", c->id);
		/* woken by the byte, or by the init's end (its pidfd); the timeout bounds a miss */
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		if (poll(p, pidfd >= 0 ? 2 : 1, 10) > 0 && (p[0].revents & POLLHUP) &&
		    !(p[0].revents & POLLIN))
			sleep_ms(
				1); /* a writer came and went without the byte: wait as lifecycle.ts */
	}
	close(fd);
	if (pidfd >= 0)
		close(pidfd);
	if (unlink(fifo))
		fail_sys("unlink", fifo);
	return 0;
}

static int cmd_kill(const struct cli *c, const char *dir, const struct oci_record *r, int sig)
{
	enum oci_status s = oci_status_of(dir, r);
	if (s == ST_STOPPED && !c->all)
		fail("container not running");
	if (c->all)
		signal_group(r, sig);
	else
		signal_init(r, sig);
	/* a frozen group holds even SIGKILL on cgroup v1: thaw it so the signal lands */
	if (s == ST_PAUSED && sig == SIGKILL && r->freezer_dir)
		thaw(r);
	return 0;
}

/* encodeURIComponent(s), for cgroup-made.ts's marker names. */
static int uri_component(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (k + 4 > size)
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.!~*'()", *p))
			out[k++] = (char)*p;
		else {
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	out[k] = 0;
	return 0;
}

/* cgroup-made.ts ANCHOR: never a marker's name (each is an encoded absolute path, `%2F…`). */
#define MARKER_ANCHOR "@anchor"

static int marker(const char *root, const char *dir, char *path, size_t size)
{
	char name[PATH_MAX];
	if (uri_component(dir, name, sizeof name))
		return -1;
	return (size_t)snprintf(path, size, "%s/cgroups@made/%s", root, name) < size ? 0 : -1;
}

/* cgroup-made.ts forgetMarkers: the markers' directory goes once only the anchor (the file
 * each marker is a hard link of) is left in it. */
static void forget_markers(const char *dir)
{
	if (!rmdir(dir) || errno != ENOTEMPTY)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	int others = 0, anchor = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!strcmp(e->d_name, MARKER_ANCHOR))
			anchor = 1;
		else
			others = 1;
	}
	closedir(d);
	char path[PATH_MAX];
	if (!anchor || others ||
	    (size_t)snprintf(path, sizeof path, "%s/" MARKER_ANCHOR, dir) >= sizeof path)
		return;
	if (!unlink(path))
		rmdir(dir); /* a marker linked meanwhile keeps it */
}

/* cgroup-made.ts removeCgroups: the container's groups, then each parent cordon-oci made (a
 * marker says so) that is empty now. */
static void remove_groups(const char *root, const struct oci_record *r)
{
	char path[PATH_MAX * 2], at[PATH_MAX];
	struct stat st;
	for (size_t i = 0; i < r->n_cgroup_dirs; i++)
		if (!rmdir(r->cgroup_dirs[i]) &&
		    !marker(root, r->cgroup_dirs[i], path, sizeof path))
			unlink(path);
	for (size_t i = 0; i < r->n_cgroup_dirs; i++) {
		if (strlen(r->cgroup_dirs[i]) >= sizeof at)
			continue;
		strcpy(at, r->cgroup_dirs[i]);
		for (;;) {
			char *slash = strrchr(at, '/');
			if (!slash || slash == at)
				break;
			*slash = 0; /* dirname */
			if (strncmp(at, "/sys/fs/cgroup/",
				    15)) /* at.startsWith('/sys/fs/cgroup/') */
				break;
			if (marker(root, at, path, sizeof path) || stat(path, &st))
				break;
			if (rmdir(at) && errno != ENOENT)
				break;
			unlink(path);
		}
	}
	snprintf(path, sizeof path, "%s/cgroups@made", root);
	forget_markers(path);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		fail_sys(type == FTW_DP ? "rmdir" : "unlink", path);
	return 0;
}

/* lifecycle.ts remove (delete). */
static int cmd_delete(const struct cli *c, const char *dir, const struct oci_record *r)
{
	char ready[PATH_MAX];
	struct stat st;
	snprintf(ready, sizeof ready, "%s/monitor.ready", dir);
	/* a supervisor to stop first, poststop hooks to run: Node */
	if (!stat(ready, &st) || oci_annotation(r, "org.cordon.monitor") || r->poststop_hooks)
		to_node(c->argv);
	enum oci_status s = oci_status_of(dir, r);
	if (s != ST_STOPPED && s != ST_CREATED && !c->force)
		fail("cannot delete container \"%s\" in status %s", c->id, oci_status_name(s));
	if (s != ST_STOPPED) {
		signal_init(r, SIGKILL);
		signal_group(r, SIGKILL);
		if (r->freezer_dir)
			thaw(r);
	}
	for (int i = 0; i < 200 && busy_group(r); i++)
		sleep_ms(5);
	remove_groups(c->root, r);
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		fail_sys("rm", dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	int sig = 0;
	if (parse_cli(argc, argv, &c) || (c.cmd == CMD_KILL && (sig = parse_signal(c.signal)) < 0))
		to_node(argv);
	current = &c;
	char dir[PATH_MAX - 64]; /* room for the names in it */
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", c.root, c.id) >= sizeof dir)
		to_node(argv);
	/* A failing check: Node gives the message (or, for delete --force, says nothing). */
	if (oci_check_root(c.root))
		to_node(argv);
	struct oci_record r;
	switch (oci_load_record(dir, &r)) {
	case LOAD_MISSING:
		if (c.cmd == CMD_DELETE && c.force)
			return 0;
		fail("container \"%s\" does not exist", c.id);
	case LOAD_FALLBACK:
		to_node(argv);
	case LOAD_OK:
		break;
	}
	/* state.ts acts on the record's id; one that differs from its directory's is Node's */
	if (r.id.n != strlen(c.id) || memcmp(r.id.s, c.id, r.id.n))
		to_node(argv);
	int status = c.cmd == CMD_STATE	  ? cmd_state(&c, dir, &r)
		     : c.cmd == CMD_START ? cmd_start(&c, dir, &r)
		     : c.cmd == CMD_KILL  ? cmd_kill(&c, dir, &r, sig)
					  : cmd_delete(&c, dir, &r);
	oci_free_record(&r);
	return status;
}
