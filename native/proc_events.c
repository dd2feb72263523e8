/* proc_events.c — see proc_events.h. The connector reports every process of the host; the
 * sandbox's are found by following forks from its first process, so the subscription is made
 * before that process exists and events are read in order. */
#define _GNU_SOURCE
#include "proc_events.h"
#include "proc_stat.h"
#include "cn_proc_subscribe.h"
#include "events.h"

#include <dirent.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RCVBUF (4 << 20)

static ssize_t find(const struct proc_tracker *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->pids[i] == pid)
			return (ssize_t)i;
	return -1;
}

/* Tracks pid; its index, or -1 when it is tracked already or the table is full. */
static ssize_t add(struct proc_tracker *t, pid_t pid, pid_t ppid)
{
	if (find(t, pid) >= 0)
		return -1;
	if (t->n == PROC_TRACK_MAX) {
		t->untracked++;
		return -1;
	}
	t->pids[t->n] = pid;
	t->ppids[t->n] = ppid;
	t->threads[t->n] = 0;
	t->leader_gone[t->n] = 0;
	t->exes[t->n] = NULL;
	return (ssize_t)t->n++;
}

static void drop(struct proc_tracker *t, size_t i)
{
	free(t->exes[i]);
	t->pids[i] = t->pids[--t->n];
	t->ppids[i] = t->ppids[t->n];
	t->threads[i] = t->threads[t->n];
	t->leader_gone[i] = t->leader_gone[t->n];
	t->exes[i] = t->exes[t->n];
}

static void exe_of(pid_t pid, char *out, size_t len)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, out, len - 1);
	out[n > 0 ? n : 0] = '\0'; /* gone already, or not ours to read: no path */
}

/* Process i runs `exe` ("" when it could not be read: what it ran before is not it). */
static void set_exe(struct proc_tracker *t, size_t i, const char *exe)
{
	free(t->exes[i]);
	t->exes[i] = *exe ? strdup(exe) : NULL; /* out of memory: unnamed */
}

static const char *source_name(const struct proc_tracker *t)
{
	return t->source ? "polling" : "connector";
}

/* Polling sees a process's program once, when it finds it: a later exec is not its to know,
 * and the monitor's own (a watched execve) is newer. */
static void report_exit(struct proc_tracker *t, size_t i, int code, int sig)
{
	if (t->pids[i] == t->command)
		t->command_told = 1;
	ev_process_exit(t->pids[i], t->ppids[i], t->exes[i] && !t->source ? t->exes[i] : "", code,
			sig, source_name(t));
}

/* The kernel takes a subscription from a user namespace but sends it nothing: poll there. */
static int in_initial_user_namespace(void)
{
	FILE *f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return 0;
	unsigned long inside, outside, count;
	int ok = fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
		 outside == 0 && count == 4294967295UL;
	fclose(f);
	return ok;
}

/* Whether the kernel took the subscription: a refusal is no error of send() but the answer's
 * ack.err, and with no other listener there is no answer at all. The answer is queued before
 * send() returns (the connector's callback runs in it); what else is queued (other processes'
 * events, other listeners' answers) goes, the sandbox not being there yet. */
static int subscribed(int fd, __u32 ack)
{
	char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n <= 0)
			return 0;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_len <
			    NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event)))
				continue;
			const struct cn_msg *cn = NLMSG_DATA(h);
			/* Copied: the event follows the 20-byte cn_msg, off its 8-byte alignment. */
			struct proc_event e;
			memcpy(&e, cn->data, sizeof e);
			if (e.what == PROC_EVENT_NONE && cn->ack == ack + 1)
				return e.event_data.ack.err == 0;
		}
	}
}

/* A connector socket subscribed to every process's fork, exec and exit, or -1 where this
 * process may not have one. */
static int connector_open(void)
{
	if (!in_initial_user_namespace())
		return -1;
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return -1;
	int size = RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	/* EPERM without CAP_NET_ADMIN on kernels that keep the connector to root (some 6.x builds
	 * let any user listen, others do not): poll instead. */
	/* The answer carries ack + 1 (its seq is the kernel's own): this process's tag. */
	__u32 ack = ((__u32)getpid() << 8) ^ 0x636f7264u;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    cn_proc_subscribe_tagged(fd, PROC_CN_MCAST_LISTEN, 0, ack) || !subscribed(fd, ack)) {
		close(fd);
		return -1;
	}
	return fd;
}

int proc_connector_usable(void)
{
	int fd = connector_open();
	if (fd < 0)
		return 0;
	cn_proc_subscribe(fd, PROC_CN_MCAST_IGNORE);
	close(fd);
	return 1;
}

void proc_open(struct proc_tracker *t)
{
	t->n = t->n_helpers = 0;
	t->self = getpid();
	t->pids_fd = -1;
	t->untracked = t->lost = 0;
	t->fd = connector_open();
	t->source = t->fd < 0;
}

void proc_track(struct proc_tracker *t, pid_t root)
{
	t->root = root;
	t->command = 0;
	t->command_gone = 0;
	t->command_told = 0;
	add(t, root, t->self);
}

void proc_command(struct proc_tracker *t, pid_t pid)
{
	if (pid > 0)
		t->command = pid;
}

void proc_helper(struct proc_tracker *t, pid_t pid)
{
	if (pid > 0 && t->n_helpers < PROC_HELPERS_MAX)
		t->helpers[t->n_helpers++] = pid;
}

static ssize_t helper_of(const struct proc_tracker *t, pid_t pid)
{
	for (size_t i = 0; i < t->n_helpers; i++)
		if (t->helpers[i] == pid)
			return (ssize_t)i;
	return -1;
}

/* Whether a new process whose parent is `parent` is the sandbox's. The launcher's children are
 * its helpers and the first process, the rest it got from clone(CLONE_PARENT) in the sandbox. */
static int ours(const struct proc_tracker *t, pid_t pid, pid_t parent)
{
	if (find(t, parent) >= 0)
		return 1;
	return parent == t->self && pid != t->root && helper_of(t, pid) < 0;
}

static void on_event(struct proc_tracker *t, const struct proc_event *e)
{
	char exe[4096];
	switch (e->what) {
	case PROC_EVENT_FORK: {
		const struct fork_proc_event *f = &e->event_data.fork;
		/* A new process or thread of ours; processes are followed. The parent the kernel
		 * names is the new task's: a thread's is its process's parent, so a thread is ours
		 * when its process is. */
		int thread = f->child_pid != f->child_tgid;
		/* A pid handed out again was free: a process still tracked under it ended unseen
		 * (its events dropped with a batch), and the new task is not it. */
		ssize_t stale = f->child_pid == t->root ? -1 : find(t, f->child_pid);
		if (stale >= 0) {
			report_exit(t, (size_t)stale, -1, -1);
			drop(t, (size_t)stale);
		}
		ssize_t h = thread || f->parent_tgid != t->self ? -1 : helper_of(t, f->child_tgid);
		if (h >= 0) { /* its one fork: a pid the sandbox gets later is the sandbox's */
			t->helpers[h] = t->helpers[--t->n_helpers];
			break;
		}
		ssize_t owner = thread ? find(t, f->child_tgid) : -1;
		if (thread ? owner < 0 : !ours(t, f->child_tgid, f->parent_tgid))
			break;
		if (t->report_forks)
			ev_process_spawns(1, proc_number_read(t->pids_fd), source_name(t));
		if (thread) {
			t->threads[owner]++;
			break;
		}
		ssize_t i = add(t, f->child_tgid, f->parent_tgid);
		if (i >= 0) {
			exe_of(f->child_tgid, exe, sizeof exe);
			set_exe(t, (size_t)i, exe);
		}
		break;
	}
	case PROC_EVENT_EXEC: {
		ssize_t i = find(t, e->event_data.exec.process_tgid);
		if (i < 0)
			break;
		/* One thread is left, under the process's pid: an execve from another thread ended
		 * the first one (its exit came before this) and every other. */
		t->threads[i] = 0;
		t->leader_gone[i] = 0;
		exe_of(t->pids[i], exe, sizeof exe);
		set_exe(t, (size_t)i, exe);
		ev_process_exec(t->pids[i], t->ppids[i], exe, source_name(t));
		break;
	}
	case PROC_EVENT_EXIT: {
		const struct exit_proc_event *x = &e->event_data.exit;
		ssize_t i = find(t, x->process_tgid);
		if (i < 0)
			break;
		if (x->process_pid != x->process_tgid) {
			if (t->threads[i] > 0) /* 0: its fork was in a batch the socket dropped */
				t->threads[i]--;
			if (!t->leader_gone[i] || t->threads[i] > 0)
				break;
		} else if (t->threads[i] > 0 && !t->leader_gone[i]) {
			t->leader_gone[i] = 1; /* the process goes on in its other threads */
			break;
		} /* a second end under its pid: the thread whose execve took it died in the exec */
		/* exit_code is the wait status; the last thread's is the process's when it ended by
		 * exit_group or a signal, the usual ends of a threaded program */
		int status = (int)x->exit_code, sig = status & 0x7f;
		report_exit(t, (size_t)i, sig ? -1 : (status >> 8) & 0xff, sig);
		drop(t, (size_t)i);
		break;
	}
	default:
		break;
	}
}

void proc_read(struct proc_tracker *t)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = recv(t->fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == ENOBUFS) { /* the host made events faster than we read them */
				t->lost++;
				continue;
			}
			return; /* EAGAIN: all read */
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_DONE ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg)))
				continue;
			const struct cn_msg *cn = NLMSG_DATA(h);
			if (cn->id.idx != CN_IDX_PROC ||
			    NLMSG_LENGTH(sizeof *cn + cn->len) > h->nlmsg_len)
				continue;
			/* The kernel's union may be smaller or larger than these headers' (it grows
			 * with new events): copy what came, zero the rest, read only what we need. */
			struct proc_event e;
			memset(&e, 0, sizeof e);
			memcpy(&e, cn->data, cn->len < sizeof e ? cn->len : sizeof e);
			size_t need = offsetof(struct proc_event, event_data) +
				      (e.what == PROC_EVENT_EXIT ? sizeof e.event_data.exit
								 : sizeof e.event_data.fork);
			if (cn->len >= need)
				on_event(t, &e);
		}
	}
}

/* One scan of /proc: adds processes whose parent is tracked; returns how many. */
static int scan(struct proc_tracker *t)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int added = 0;
	for (struct dirent *de; (de = readdir(d));) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || find(t, (pid_t)pid) >= 0)
			continue;
		long ppid = proc_stat_parent(pid);
		if (ppid <= 0 || !ours(t, (pid_t)pid, (pid_t)ppid))
			continue;
		ssize_t i = add(t, (pid_t)pid, (pid_t)ppid);
		char exe[4096];
		exe_of((pid_t)pid, exe, sizeof exe);
		if (i >= 0)
			set_exe(t, (size_t)i, exe);
		ev_process_exec((int)pid, (int)ppid, exe, source_name(t));
		added++;
	}
	closedir(d);
	return added;
}

void proc_poll(struct proc_tracker *t)
{
	for (size_t i = 0; i < t->n;) {
		char path[32];
		snprintf(path, sizeof path, "/proc/%d", (int)t->pids[i]);
		if (access(path, F_OK)) {
			if (t->pids[i] == t->command) { /* its status comes at the end */
				t->command_gone = 1;
				t->command_ppid = t->ppids[i];
			} else {
				report_exit(t, i, -1, -1); /* status unknown when polling */
			}
			drop(t, i);
			continue;
		}
		i++;
	}
	/* A child listed before its parent was found waits for the next pass. */
	for (int pass = 0; pass < 8 && scan(t); pass++)
		;
}

void proc_finish(struct proc_tracker *t, int command_status)
{
	if (t->fd >= 0) {
		proc_read(t);
		cn_proc_subscribe(t->fd, PROC_CN_MCAST_IGNORE);
		close(t->fd);
		t->fd = -1;
	}
	/* Polling: everything still tracked ended with the sandbox, after the last scan. The
	 * command's end is told with the status the launcher has: polling never sees one, and a
	 * connector's batch dropped under load took it (the crash rule missed the command). */
	int sig = command_status >= 0 ? command_status & 0x7f : -1;
	int code = command_status < 0 ? -1 : sig ? -1 : (command_status >> 8) & 0xff;
	for (size_t i = 0; i < t->n; i++) {
		if (t->pids[i] == t->command)
			report_exit(t, i, code, sig);
		else if (t->source && t->pids[i] != t->root)
			report_exit(t, i, -1, -1);
		free(t->exes[i]);
	}
	t->n = 0;
	/* Polling saw it end, or never saw it at all (it ended before a scan: a crash at its
	 * start, helper-155): its parent is then the first process (its init), or the launcher. */
	if (t->command > 0 && !t->command_told)
		ev_process_exit(t->command,
				t->command_gone		? t->command_ppid
				: t->command == t->root ? t->self
							: t->root,
				"", code, sig, source_name(t));
	char msg[160];
	if (t->lost || t->untracked) {
		snprintf(msg, sizeof msg,
			 "%lu batches of process events lost, %lu processes not followed", t->lost,
			 t->untracked);
		ev_warning("process events", msg);
	}
}
