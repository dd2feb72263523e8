/* hook.h — OCI hooks that run inside the container's namespaces (cordon-oci, src/oci-runtime/
 * hooks.ts): createContainer (OP_HOOK, in the view before pivot_root, resolved in the runtime's
 * filesystem) and startContainer (OP_START_HOOK, in the command, after `start` and every
 * confinement step, right before execve). createRuntime, poststart and poststop run on the
 * host, in cordon-oci itself.
 *
 * A hook is one OP_HOOK / OP_START_HOOK record followed by its OP_*_HOOK_ARG and
 * OP_*_HOOK_ENV records. It runs with exactly that argv (its path alone when there is none) and
 * environment, the record's blob on stdin, fds 3 and up closed, and a timeout; a hook that
 * fails, is killed or outlives its timeout fails the step, quoting the start of its output. */
#ifndef CORDON_HOOK_H
#define CORDON_HOOK_H

#include "plan.h"

#include <stddef.h>
#include <sys/types.h>

/* Runs the hook whose OP_*HOOK record is at index *i, with root_fd (>= 0) as its root directory
 * or, with -1, the caller's; state_pid is the pid a HOOK_STATE_PID state reports. Leaves *i on
 * the hook's last record. Dies with the reason on failure. */
void hook_run(const struct plan *p, size_t *i, int root_fd, pid_t state_pid);

/* The createRuntime handshake (launcher --hook-fd): the runtime runs its prestart and
 * createRuntime hooks in its own namespaces while the sandbox waits, its view built but not yet
 * its root. The sandbox, at its first OP_HOOK or its OP_PIVOT, writes 'H' to tell_fd (its
 * failure pipe) and waits for a byte on wait_fd. The launcher, having released the sandbox,
 * reads that 'H' from read_fd, writes the sandbox's pid and a newline to hook_fd, waits for 'c'
 * on it, and passes it on through write_fd. Anything else (the sandbox failed and said why, or
 * the runtime's hook failed and it says why) kills the sandbox and exits EXIT_CORDON. */
void hook_set_pause(int tell_fd, int wait_fd);
void hook_pause(void);
/* The runtime's hooks are still to run (hook_pause will wait for them). */
int hook_pause_pending(void);
void hook_relay(pid_t pid, int read_fd, int write_fd, int hook_fd);

#endif
