/* command.h — the last steps before execve, and the reaper that runs as pid 1. */
#ifndef CORDON_COMMAND_H
#define CORDON_COMMAND_H

#include "forward-signal.h"
#include "plan.h"

#include <signal.h>
#include <stdnoreturn.h>
#include <sys/types.h>

struct command {
	const struct plan *plan;
	size_t first_op; /* index of the first phase-3 record */
	char **argv; /* NULL-terminated; not owned */
	char **envp; /* NULL-terminated; not owned */
	sigset_t saved_mask;
	mode_t saved_umask;
	int exec_fd; /* written 'F' on failure; closes on successful exec */
	int notify_sock; /* to the launcher, for a listening seccomp filter (notify.h); else -1 */
	int on_init_mm; /* vforked by init: its dumpable flag is init's (command_exec clears it) */
	int guard_init; /* init is pid 1 of the sandbox's own pid namespace (init-guard.h) */
};

/* Runs phases 3..8 of the plan in order, then execve. Never returns: on failure it reports
 * the step and exits 125, or 126/127 when the command cannot be executed / found. */
noreturn void command_exec(const struct command *cmd);

/* A freeze request: cordon's supervisor sends it to the launcher, which writes a byte down a
 * pipe to the sandbox's init and sends init the signal to wake it. Init answers with
 * kill(-1, SIGSTOP), which the kernel delivers to every process of the namespace at once, a
 * fork in flight included. A sweep of SIGSTOPs from outside races a program that forks away
 * faster than a pass over /proc. The pipe, not the signal, is the request: a sandbox can queue
 * this signal to its own pid 1 (without Landlock's signal scope) but cannot write the pipe.
 * A real-time signal no program is sent by cordon otherwise; src/run/process-tree.ts holds
 * the same number. Blocked from the launcher on, so it never reaches a process with its
 * default action (termination). */
#define FREEZE_SIGNAL 62

/* The payload that makes FREEZE_SIGNAL a request (queued, SI_QUEUE; cordon-exec --signal 62
 * sends it so): any other 62 is a signal of the job's, passed on to the command. A job-wide
 * `kill -62` froze the sandbox for good once cordon passed 62 on (helper-132). */
#define FREEZE_REQUEST 0x66726565 /* "free" */

/* Requests that init signal the command itself with FORWARD_SIGNAL or FREEZE_SIGNAL, which
 * init keeps for itself when they come as signals ('0', '1'). */
#define INIT_CHILD_SIGNAL(sig) ('0' + (sig)-FORWARD_SIGNAL)

/* The other request down the same pipe: pass signal sig on to the command's process group,
 * not only to the command (the terminal's signals, launcher.c pass_on). One byte each, as a
 * freeze's 'f', so that no read splits a request. */
#define INIT_GROUP_SIGNAL(sig) (0x80 | (sig))

/* What init writes on spawns_fd every 50 ms while the namespace grows: the running total of
 * pids it handed out (read from ns_last_pid) and the tasks alive then (open_task_proc), or
 * SPAWN_LIVE_UNKNOWN without a proc to count them in. One write each, below PIPE_BUF. */
struct spawn_total {
	uint64_t total, live;
};
#define SPAWN_LIVE_UNKNOWN UINT64_MAX

/* A read-only proc of the caller's pid namespace holding only its process directories
 * (subset=pid), mounted nowhere: init counts the sandbox's tasks in it. Made while the
 * caller still has CAP_SYS_ADMIN over the namespace; -1 where the kernel refuses it. */
int open_task_proc(void);

/* pid 1 of the sandbox: reaps every child, forwards `forward` signals to `child` (to its
 * process group when the launcher asks, INIT_GROUP_SIGNAL; the terminal's own, which reach init
 * too while it shares the caller's process group, are the launcher's to pass on), and writes
 * the child's wait status (an int) to status_fd when it ends. With spawns_fd >= 0 it also
 * writes a struct spawn_total every 50 ms while the namespace grows, from lastpid_fd
 * (ns_last_pid) and proc_fd (open_task_proc, or -1); both fds are -1 otherwise. It stops the
 * namespace whenever it wakes to a byte on freeze_fd (non-blocking; -1: never). */
noreturn void init_run(pid_t child, int status_fd, const sigset_t *forward, int lastpid_fd,
		       int proc_fd, int spawns_fd, int freeze_fd);

/* Drops every capability not in keep from the bounding, ambient, inheritable, permitted and
 * effective sets. Returns 0 or an errno. */
int caps_drop(uint64_t keep);
/* The same, but the capabilities in hold (CAP_SYS_ADMIN only: OP_CAPS) stay effective and
 * permitted, outside the bounding, inheritable and ambient sets, so execve drops them: Landlock
 * and seccomp can then be applied without no_new_privs, as runc does for an OCI config with
 * noNewPrivileges false. */
int caps_drop_holding(uint64_t keep, uint64_t hold);

/* Empties the permitted, effective, inheritable and ambient sets of a process that never
 * execs (init's reaper); best effort, like the reaper's other hardening. */
void caps_clear(void);

#endif
