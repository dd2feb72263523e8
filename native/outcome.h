/* outcome.h — what a recorded call did, for learn mode: a learned policy grants only what
 * succeeded. Seccomp notification cannot see a syscall's return value (the launcher answers
 * "continue" before the call runs), so the launcher notes the state of what the call names
 * before it continues, and looks again when the same thread makes its next notified syscall
 * (in learn mode every syscall is notified, so the earlier one has returned by then). The
 * report carries both states; TypeScript decides, per syscall, whether that means success.
 *
 * Checks (the responder's low bits for a "continue" answer, record mode only):
 *   OUTCOME_PATHS   the path (and path2) named, not followed: present, dev:ino and ctime
 *   OUTCOME_FDS     an fd the call left open on the path's file, and its open flags
 *   OUTCOME_EXEC    whether the thread's program image changed
 *   OUTCOME_SOCKET  whether the socket in argument 0 got bound, or a peer (connecting counts) */
#ifndef CORDON_OUTCOME_H
#define CORDON_OUTCOME_H

#include "events.h"

#include <sys/types.h>

#define OUTCOME_PATHS 1u
#define OUTCOME_FDS 2u
#define OUTCOME_EXEC 4u
#define OUTCOME_SOCKET 8u
#define OUTCOME_CHECKS 0xfu

/* Opens abs (absolute, in the sandbox's terms) as tid sees it, O_PATH, the last component
 * followed or not: beneath /proc/TID/root with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so
 * nothing the sandbox planted leads to a host file. The caller's own /proc/self/... and
 * /proc/thread-self/... are its entries in the sandbox's proc; where they pass a magic link
 * (fd/N, exe, cwd), the host's /proc/TID follows it. -1 with errno when it cannot. */
int outcome_open(pid_t tid, const char *abs, int follow);
/* Notes the state before the call of rep (its path fields already absolute, in the sandbox's
 * terms) and keeps a copy of it; 0 when deferred, -1 when it cannot be (table full, no memory):
 * report it at once, without an outcome. Does not take ownership of rep's pointers. */
int outcome_defer(pid_t tid, const struct syscall_report *rep, unsigned checks);
/* The report deferred for tid, with its outcome filled in, or NULL. Valid until the next call
 * of outcome_settle or outcome_leftover. */
struct syscall_report *outcome_settle(pid_t tid);
/* A report still deferred (the thread made no syscall after it: killed, or exec'd from a
 * thread that was not the leader), without an outcome; NULL when none is left. */
struct syscall_report *outcome_leftover(void);
/* The type and protocol (SO_TYPE, SO_PROTOCOL) of the socket at fd in tid's table; 0 when it
 * cannot tell (no such socket, or not ours to copy). */
int outcome_socket_kind(pid_t tid, int fd, int *type, int *protocol);

#endif
