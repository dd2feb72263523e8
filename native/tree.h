/* tree.h — signals to processes named by identity, never by a bare pid: a pid is signalled only
 * through a pidfd opened on it and checked afterwards (its start time, or its parent), so a pid
 * the kernel handed to another process meanwhile is never signalled. Node has no
 * pidfd_send_signal: cordon's supervisor signals through `cordon-exec --signal` (tree_main). */
#ifndef CORDON_TREE_H
#define CORDON_TREE_H

#include <sys/types.h>

/* Sends sig to every descendant of the calling process, checked through pidfds (a child's
 * parent, read after its pidfd was opened, must be the process it was found under, still
 * unreaped). Returns how many got it. */
int tree_signal_descendants(int sig);

/* SIGKILL to every descendant but `spare` (0: none; the output relay, which hands over what
 * they wrote), pass after pass, reaping them (each reaped one told to `reaped`, if given),
 * until no child but `spare` is left. Without a pid namespace the launcher is the sandbox's
 * subreaper, so every orphan comes back to it and is killed by the next pass. */
void tree_kill_all(pid_t spare, void (*reaped)(pid_t pid, int status));

/* `cordon-exec --signal SIG PID:START...`: sends SIG to each PID whose start time (field 22 of
 * /proc/PID/stat) is still START once a pidfd pins it. Prints how many got it; exits 0, or 2
 * on bad arguments. */
int tree_main(int argc, char **argv);

#endif
