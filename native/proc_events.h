/* proc_events.h — the sandbox's processes as events: every exec and exit of a process the
 * sandbox started, from the kernel's proc connector (root in the initial namespaces) or, when
 * that is refused, by polling /proc for the sandbox's descendants:
 *   {"event":"process","action":"exec","pid":N,"ppid":N,"exe":"/usr/bin/id","source":"connector"}
 *   {"event":"process","action":"exit","pid":N,"ppid":N,"exe":"/usr/bin/id","code":0,"signal":0,
 *    "source":"connector"}
 * and, when report_forks is set, each process or thread it creates as a spawn event (count 1,
 * with the tasks its cgroup holds as pids when pids_fd is its pids.current: the connector's own
 * view misses zombies and threads that outlive their leader, and names a thread's grandparent).
 * Polling sees a process only if it lives across a poll, and not its exit status.
 *
 * The sandbox's processes are the first one's descendants, and the children the launcher has
 * but did not make itself: a process the first one clones with CLONE_PARENT (or a thread) is the
 * launcher's child in the kernel's eyes. The launcher names the helpers it makes (relays). */
#ifndef CORDON_PROC_EVENTS_H
#define CORDON_PROC_EVENTS_H

#include <sys/types.h>

#define PROC_TRACK_MAX 16384 /* tracked processes at once; more are counted, not followed */
#define PROC_HELPERS_MAX 4 /* the launcher's own children: stdin, output and console relays */

struct proc_tracker {
	int fd; /* the connector socket, or -1 when polling */
	int source; /* 0 connector, 1 polling */
	pid_t pids[PROC_TRACK_MAX];
	pid_t ppids[PROC_TRACK_MAX];
	/* Its threads besides the first, from the connector's thread forks and exits: a process
	 * whose first thread ended (exit, or another thread's execve) lives on while they do. */
	unsigned threads[PROC_TRACK_MAX];
	unsigned char leader_gone[PROC_TRACK_MAX];
	/* Its program, read at its fork (a fork runs its creator's, which the connector does not
	 * name: a CLONE_PARENT child's parent is its creator's) and at each exec; malloc'd, or NULL
	 * where it ended before it could be read. Its exit names it. */
	char *exes[PROC_TRACK_MAX];
	size_t n;
	pid_t root; /* the sandbox's first process: its end is the sandbox's `exit` event */
	/* The command (the root itself without an init), once known: the launcher has its wait
	 * status at the end, which polling never sees and a batch the connector dropped loses.
	 * Polling holds its exit back until then (command_gone, its parent in command_ppid). */
	pid_t command;
	pid_t command_ppid;
	int command_gone;
	int command_told; /* its exit was reported */
	pid_t self; /* the launcher, the first process's parent */
	pid_t helpers[PROC_HELPERS_MAX]; /* children of the launcher that are not the sandbox's */
	size_t n_helpers;
	int report_forks; /* connector: report each fork of the sandbox as a spawn (no pid-namespace count) */
	int pids_fd; /* the sandbox cgroup's pids.current, or -1 (set after proc_open) */
	unsigned long untracked, lost; /* beyond PROC_TRACK_MAX; events the socket dropped */
};

/* Whether this process could listen to the connector (the probe's procConnector fact). */
int proc_connector_usable(void);
/* Subscribes before the sandbox exists, so no fork is missed; falls back to polling. */
void proc_open(struct proc_tracker *t);
/* The sandbox's first process: what is tracked from now on descends from it. */
void proc_track(struct proc_tracker *t, pid_t root);
/* The command's host pid (> 0), when it started. */
void proc_command(struct proc_tracker *t, pid_t pid);
/* A child the launcher made for itself (pid > 0), right after its fork: not the sandbox's. */
void proc_helper(struct proc_tracker *t, pid_t pid);
/* Connector: reads what is pending on t->fd. */
void proc_read(struct proc_tracker *t);
/* Polling: one pass over the tracked processes' children. */
void proc_poll(struct proc_tracker *t);
/* After the sandbox ended: the exits not reported yet (the command's with its wait status,
 * command_status, or -1 when unknown), and a warning if events were lost. */
void proc_finish(struct proc_tracker *t, int command_status);

#endif
