/* tree.c — signals by identity (tree.h). A pid names a process only until it is reaped; then the
 * kernel hands it out again. Each target is pinned first (pidfd_open: the pidfd names that one
 * process for good) and checked second, so what is signalled is what was meant. */
#define _GNU_SOURCE
#include "tree.h"
#include "command.h"
#include "proc_stat.h"
#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pidfd_open_pid(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* sig, queued with FREEZE_REQUEST when it is the freeze request (command.h). A queue the
 * user's RLIMIT_SIGPENDING refuses (a sandbox can fill it) sends it plain, which the kernel
 * then delivers without its sender (pid 0), and the launcher takes that as the request too. */
static int send_checked(int fd, pid_t pid, int sig)
{
	if (sig == FREEZE_SIGNAL) {
		siginfo_t si = queued_info(sig, FREEZE_REQUEST);
		long r = fd >= 0 ? syscall(SYS_pidfd_send_signal, fd, sig, &si, 0)
				 : syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
		if (r == 0 || errno != EAGAIN)
			return (int)r;
	}
	return fd >= 0 ? pidfd_signal(fd, sig) : kill(pid, sig);
}

/* The parent and the start time of pid, from /proc/PID/stat; -1 when it is gone. */
static int read_stat(pid_t pid, long *ppid, unsigned long long *start)
{
	struct proc_stat st;
	if (proc_stat_read(pid, &st))
		return -1;
	*ppid = st.ppid;
	*start = st.start;
	return 0;
}

struct node {
	pid_t pid;
	int fd; /* a pidfd, or -1 for the calling process itself */
};

struct walk {
	struct node *v;
	size_t n, cap;
	int sig, sent;
	pid_t spare; /* left alone, it and what it started (0: none) */
};

/* A child pid found under parent: pinned, then kept only if its parent is still parent and
 * parent is still unreaped (so that its pid was still its own when the child's was read). */
static void visit_child(struct walk *w, const struct node *parent, pid_t child)
{
	long ppid;
	unsigned long long start;
	if (child == w->spare)
		return;
	int fd = pidfd_open_pid(child);
	if (fd < 0)
		return; /* gone already */
	if (read_stat(child, &ppid, &start) || ppid != parent->pid ||
	    (parent->fd >= 0 && pidfd_signal(parent->fd, 0))) {
		close(fd);
		return;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct node *v = realloc(w->v, cap * sizeof *v);
		if (!v) {
			close(fd);
			return; /* the next pass takes the rest */
		}
		w->v = v;
		w->cap = cap;
	}
	if (pidfd_signal(fd, w->sig) == 0)
		w->sent++;
	w->v[w->n++] = (struct node){ .pid = child, .fd = fd };
}

/* Every child of w->v[i], from /proc/PID/task/TID/children of each of its threads. */
static void visit_children(struct walk *w, size_t i)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)w->v[i].pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char file[96];
		int len = snprintf(file, sizeof file, "%s/%.20s/children", path, e->d_name);
		FILE *f = len > 0 && (size_t)len < sizeof file ? fopen(file, "re") : NULL;
		for (long child; f && fscanf(f, "%ld", &child) == 1;)
			if (child > 0 && child <= INT_MAX)
				visit_child(w, &(struct node){ w->v[i].pid, w->v[i].fd },
					    (pid_t)child);
		if (f)
			fclose(f);
	}
	closedir(d);
}

static int signal_descendants_but(int sig, pid_t spare)
{
	struct walk w = { .sig = sig, .spare = spare };
	w.v = malloc(64 * sizeof *w.v);
	if (!w.v)
		return 0;
	w.cap = 64;
	w.v[w.n++] = (struct node){ .pid = getpid(), .fd = -1 };
	/* Breadth first; w.v grows while it is walked, so it is indexed, never pointed into. */
	for (size_t i = 0; i < w.n; i++)
		visit_children(&w, i);
	for (size_t i = 1; i < w.n; i++)
		close(w.v[i].fd);
	free(w.v);
	return w.sent;
}

int tree_signal_descendants(int sig)
{
	return signal_descendants_but(sig, 0);
}

void tree_kill_all(pid_t spare, void (*reaped)(pid_t pid, int status))
{
	long wait_ns = 1000000;
	for (;;) {
		/* Nothing but `spare` left to signal, and nothing left to reap: a dead process stays
		 * listed (and signalled) until it is reaped, and its orphans were handed to this
		 * one before it died, so none is missed. */
		int sent = signal_descendants_but(SIGKILL, spare);
		for (;;) {
			int status;
			pid_t r = waitpid(-1, &status, WNOHANG | __WALL);
			if (r > 0 && reaped)
				reaped(r, status);
			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			if (r < 0)
				return; /* ECHILD: no child, so no descendant, is left */
			break;
		}
		if (spare > 0 && sent == 0)
			return;
		/* Killed ones still dying, or orphans just adopted: look again shortly. */
		nanosleep(&(struct timespec){ .tv_nsec = wait_ns }, NULL);
		if (wait_ns < 50000000)
			wait_ns *= 2;
	}
}

static int parse_target(const char *s, pid_t *pid, unsigned long long *start)
{
	char *end;
	long p = strtol(s, &end, 10);
	if (end == s || *end != ':' || p <= 0 || p > INT_MAX)
		return -1;
	const char *t = end + 1;
	if (*t < '0' || *t > '9')
		return -1;
	errno = 0;
	*start = strtoull(t, &end, 10);
	if (*end != '\0' || errno)
		return -1;
	*pid = (pid_t)p;
	return 0;
}

int tree_main(int argc, char **argv)
{
	char *end;
	long sig = argc > 0 ? strtol(argv[0], &end, 10) : -1;
	if (argc < 1 || *argv[0] == '\0' || *end != '\0' || sig < 0 || sig > 64) {
		fprintf(stderr,
			"cordon-exec --signal: expected a signal number, then PID:START...\n");
		return 2;
	}
	int sent = 0;
	for (int i = 1; i < argc; i++) {
		pid_t pid;
		long ppid;
		unsigned long long want, start;
		if (parse_target(argv[i], &pid, &want)) {
			fprintf(stderr, "cordon-exec --signal: expected PID:START, got `%s`\n",
				argv[i]);
			return 2;
		}
		int fd = pidfd_open_pid(pid);
		/* Before Linux 5.3 there are no pidfds: the start time is checked right before a
		 * plain kill, which leaves a window of microseconds. */
		int nopidfd = fd < 0 && errno == ENOSYS;
		if (fd < 0 && !nopidfd)
			continue;
		if (read_stat(pid, &ppid, &start) == 0 && start == want &&
		    send_checked(fd, pid, (int)sig) == 0)
			sent++;
		if (fd >= 0)
			close(fd);
	}
	printf("%d\n", sent);
	return 0;
}
