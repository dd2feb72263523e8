/* events.h — how the launcher reports: newline-delimited JSON on an events fd when one is given
 * (the TypeScript supervisor reads it), otherwise one human line on stderr. Each line is written
 * with a single write(), short lines under PIPE_BUF, so lines from the launcher's processes never
 * interleave. */
#ifndef CORDON_EVENTS_H
#define CORDON_EVENTS_H

/* Why a sandbox inside another cannot report syscalls, and what to do (src/run/events.ts says
 * the same for runs started by Node). */
#define NESTED_LISTENER_HINT                                                                       \
	"a sandbox inside another cannot report syscalls (--monitor, --watch, --audit, learn): "   \
	"the "                                                                                     \
	"kernel allows one seccomp listener per process tree and cordon's default filter refuses " \
	"pidfd_getfd; monitor only the outer sandbox, or run the inner one without them"

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

struct notifier;

/* Exit status for cordon's own failures (the command's statuses pass through). */
#define EXIT_CORDON 125

void ev_init(int events_fd);
/* fd that receives one 'F' byte when this process dies before execve (-1: none). */
void ev_set_fail_fd(int fd);
/* The read end of another process's fail fd (-1: none). While it is set, a failure here that
 * comes after that process failed is not reported: that process has said why, and this one
 * failed because it is gone (the launcher's steps between its clone and the go). */
void ev_set_peer_fail_fd(int fd);
int ev_fd(void);
/* {"event":"started","pid":N} */
/* How the sandbox entered its cgroup ("clone3": CLONE_INTO_CGROUP, "write": cgroup.procs),
 * reported with `started`. Static string; not owned. */
void ev_set_cgroup_join(const char *how);
/* pid: the process the launcher cloned (the sandbox's init when it has one); command_pid: the
 * command's host pid, 0 when unknown. */
void ev_started(int pid, int command_pid);
/* {"event":"exit","code":N[,"signal":"SIGX"]} */
void ev_exit(int code, int signal);
/* A process of the sandbox ran a program / ended (proc_events.c); code -1: unknown. */
void ev_process_exec(int pid, int ppid, const char *exe, const char *source);
/* exe: the program it ran, "" when unknown. */
void ev_process_exit(int pid, int ppid, const char *exe, int code, int signal, const char *source);
/* count processes and threads the sandbox created since the last report, counted without
 * stopping any (the pid namespace's last pid, or the proc connector's forks), and live, the
 * tasks alive in it then (-1: unknown, left out):
 * {"event":"spawn","count":N,"pids":L,"source":S} */
void ev_process_spawns(long count, long live, const char *source);
/* A failed step: {"event":"error","step":S,"path":P[,"dest":D],"errno":E,"code":"ENAME","message":M} */
void ev_step_error(const char *step, const char *path, const char *dest, int err);
/* Landlock outcome: {"event":"landlock","abi":N} when enforced, or abi 0 with the errno that
 * made it unavailable (best effort). */
void ev_landlock(long abi, int err);
/* A denial reported by a layer: {"event":"denied","layer":L,"blockers":B,KIND:OBJECT,"pid":P,"exe":E} */
void ev_denied(const char *layer, const char *blockers, const char *kind, const char *object,
	       long pid, const char *exe);
/* What a path named: not there (present 0), or its device, inode and ctime. */
struct obj_state {
	int present;
	unsigned long long dev, ino;
	long long ctime_ns;
};
/* A recorded call's outcome facts (outcome.h): the state before it, and after it once settled. */
struct effect {
	unsigned checks;
	int settled; /* 0: the thread made no syscall after it; nothing below is known */
	struct obj_state was, now, was2, now2;
	long opened; /* the open flags of an fd the call left on the path's file; -1 none */
	int execed;
	int bound_before, bound, peer;
};
struct syscall_report {
	uint32_t arch;
	int nr;
	long pid;
	uint64_t args[6];
	int denied_errno; /* 0: it continued */
	const char *path, *path2; /* or NULL */
	long long ctime_ms; /* -1: not known */
	const char *exe; /* exec: the file it runs, symlinks followed (sandbox terms), or NULL */
	const uint8_t *data; /* captured struct, data_len bytes, or NULL */
	size_t data_len;
	int record; /* a new record: never dropped */
	const struct effect *effect; /* learn mode's outcome facts, or NULL */
	uint64_t record_hash; /* notify.c: the record's identity without its outcome */
	int sock_type, sock_proto; /* bind/connect of an IP socket: SO_TYPE, SO_PROTOCOL; 0 */
	int unreadable; /* an argument's memory the launcher may not read (EPERM) */
};
/* A notified syscall (droppable unless a record): {"event":"syscall","arch":A,"nr":N,"pid":P,
 * "args":["0x..",x6][,"errno":E when denied][,"path":S][,"path2":S][,"ctimeMs":T][,"exe":S][,"data":HEX]
 * [,"sockType":N,"sockProto":N][,"unreadable":true]
 * [,"record":true][,"effect":{"settled":B,"was":S,"now":S,"was2":S,"now2":S,"opened":F,"execed":B,
 * "boundBefore":B,"bound":B,"peer":B}] — a state S is "dev:ino:ctime_ns", "" when absent */
void ev_syscall(const struct syscall_report *r);
/* The exact per-syscall totals, dropped events included (see notify.h). */
void ev_syscall_counts(const struct notifier *nf);

/* Buffered mode, for the supervisor while syscalls are notified: lines queue in memory and the
 * fd turns non-blocking, so a slow reader never stalls the supervisor (and so never the
 * sandbox, whose notified syscalls wait for it). Past 1 MiB queued, droppable lines (syscall)
 * are dropped and counted; the counts line still has every syscall. */
void ev_buffer_start(void);
int ev_pending(void);
void ev_drain(void); /* writes what the fd takes now */
void ev_drain_all(void); /* blocking: everything, then back to direct writes */
unsigned long ev_dropped(void);

/* A non-fatal notice: {"event":"warning","step":S,"message":M} */
void ev_warning(const char *step, const char *message);

/* Report the failed step and exit with status (EXIT_CORDON for setup failures). */
noreturn void die_step(int status, const char *step, const char *path, const char *dest, int err);
noreturn void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
