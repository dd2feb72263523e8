/* console.h — a terminal of the sandbox's own (`--console`), as a container runtime gives:
 * a pty pair in the view's private devpts, whose slave becomes the command's controlling
 * terminal and std streams, and whose master the launcher relays to the caller's terminal
 * (raw while the sandbox runs, restored after; window size followed on SIGWINCH).
 *
 * The host's terminal is then never the sandbox's: `tty` names /dev/pts/N of the view, job
 * control works (the command's session owns its terminal), and nothing the sandbox does to its
 * terminal (modes, TIOCSTI, which seccomp refuses anyway) reaches the caller's.
 *
 * Order: console_prepare (launcher, before the clone) → console_open_inside (sandbox, after the
 * view is built) → console_start (launcher) → console_attach (command, right after setsid) /
 * console_release (init) → console_finish (launcher, once the sandbox ended). State is this
 * file's; every function is a no-op when no console was asked for or stdin/stdout are not
 * terminals. */
#ifndef CORDON_CONSOLE_H
#define CORDON_CONSOLE_H

#include "plan.h"

#include <sys/types.h>

/* Launcher, before the clone: asked is --console. Makes the channel the master travels on
 * when the plan has a devpts of its own (else warns: the terminal stays shared). */
void console_prepare(const struct plan *p, int asked);
/* Launcher, before any namespace is joined or made: connects to an OCI --console-socket; the
 * sandbox then opens the pty pair as for --console (sized rows x cols when both are set) and
 * sends the master there (SCM_RIGHTS) instead of to a relay. */
void console_prepare_socket(const char *path, unsigned short rows, unsigned short cols);
/* Sandbox, after the view: opens the pty pair, copies the caller's terminal modes and size to
 * it, sends the master out and keeps the slave for console_attach. */
void console_open_inside(const struct plan *p);
/* Launcher, after releasing the sandbox: receives the master (or the end of the channel, when
 * the sandbox failed first) and starts the relay process. */
void console_start(void);
/* Command, right after setsid: the slave becomes its controlling terminal and replaces each
 * of fds 0-2 that was a terminal. */
void console_attach(void);
/* init, after forking the command: drops its copy of the slave so that the relay sees the end. */
void console_release(void);
/* Launcher: whether the relay runs, the sandbox's terminal its own (its keys and size). */
int console_active(void);
/* The relay's pid, or 0 when there is none. */
pid_t console_relay_pid(void);
/* Launcher, once the sandbox ended: lets the relay drain and restore the terminal. */
void console_finish(void);
/* The launcher reaped pid with a wait of its own (trace.h): when it was the relay, forget it. */
void console_reaped(pid_t pid);

#endif
