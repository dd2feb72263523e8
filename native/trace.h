/* trace.h — observation without an interruptible wait: learn and audit (OP_SECCOMP_TRACE).
 *
 * A call the filter returns USER_NOTIF for waits interruptibly until the launcher has taken
 * the notification: a signal with a handler installed without SA_RESTART that arrives in that
 * window fails the call with EINTR, which an open() of a regular file never returns
 * unobserved. A call the filter returns TRACE for stops in a ptrace-stop instead, which no
 * signal interrupts (signals queue until the tracer restarts the task), so observing it
 * cannot change what the program sees.
 *
 * The launcher seizes the command before its filter is installed (notify.h's handshake; a
 * RET_TRACE without a tracer fails the call with ENOSYS), with every fork, vfork and clone
 * traced too, and PTRACE_O_EXITKILL, so a launcher that dies takes the sandbox with it. At a
 * seccomp stop it runs the same responder on the same seccomp_data the listener would get
 * (PTRACE_GET_SYSCALL_INFO, 5.3+), reports the same event (notify_handle) and restarts the
 * task. It never changes a call: the kernel re-runs the filter after a tracer's stop anyway,
 * and RET_TRACE is only used for calls the mode lets through. Every other stop is made
 * invisible: a signal-delivery-stop re-injects the signal, a group-stop is left with
 * PTRACE_LISTEN so job control (SIGSTOP, SIGTSTP, SIGCONT, the real parent's WUNTRACED) works
 * as unobserved, event stops just continue. */
#ifndef CORDON_TRACE_H
#define CORDON_TRACE_H

/* The RET_TRACE data of cordon's own filter's stops (src/learn/trace.ts TRACER_DATA). A stop
 * with other data comes from a filter of the program's own, which unobserved no tracer takes:
 * the call fails with ENOSYS. */
#define CORDON_TRACE_DATA 0xc0d

#include "notify.h"

#include <sys/types.h>

/* Becomes pid's tracer; 0, or the errno (EPERM: Yama, an outer seccomp filter, no rights). */
int trace_seize(pid_t pid);
/* Reaps every pending wait status of the launcher's child and tracees (__WALL): stops are
 * restarted as above. Returns 1 and the status when `child` (the launcher's own child) ended. */
int trace_reap(struct notifier *nf, pid_t child, int *status);

#endif
