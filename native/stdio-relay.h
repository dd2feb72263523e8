/* stdio-relay.h — the command's stdin, when it is a pipe the sandbox could open again by name
 * for writing, becomes a pipe of cordon's own, fed from the caller's.
 *
 * A pipe reopened through /proc/self/fd/0 (`echo CMD > /dev/stdin`) opens either end, whichever
 * end the fd is, and Landlock does not judge pipes: only the pipe's owner and mode do. A plain
 * user's sandbox runs as the user who made the pipe, so it could write into the pipe a shell
 * reads its script from (`cat install.sh | sh`, a step of which runs cordon) or a `while read`
 * loop its lines from, and those run outside any sandbox. Given cordon's pipe instead, the
 * sandbox can only write into its own input.
 *
 * The relay never reads the caller's pipe ahead of the program: it copies the pipe's first
 * buffer into cordon's (tee(2), which leaves it in the caller's), and takes it from the caller's
 * only once the program has read all of it; when the sandbox ends, it takes exactly what the
 * program read. So a loop around cordon keeps every line the program did not read, as it does
 * unsandboxed. cordon's pipe holds one buffer: the program's reads return at most a page.
 *
 * Order: stdin_relay_prepare (launcher, before the clone) → stdin_relay_child (the sandbox's
 * process, first thing) → stdin_relay_start (launcher, after the clone) → stdin_relay_finish
 * (launcher, once the sandbox ended). A no-op unless prepare made a relay. */
#ifndef CORDON_STDIO_RELAY_H
#define CORDON_STDIO_RELAY_H

#include <sys/signalfd.h>
#include <sys/types.h>

/* Launcher: when fd 0 is a pipe or FIFO the command (host uid `uid`) could open for writing
 * (its owner, or group or others may write), fd 0 becomes the read end of cordon's pipe. */
void stdin_relay_prepare(long uid);
/* The sandbox's first process: drops the relay's fds (init never execs). */
void stdin_relay_child(void);
/* Launcher, after the clone: starts the relay process, and lets go of its copy of fd 0. */
void stdin_relay_start(void);
/* The relay's pid, or 0 when there is none. */
pid_t stdin_relay_pid(void);
/* Launcher, once the sandbox ended: waits for the relay to take what the program read. */
void stdin_relay_finish(void);
/* The launcher reaped pid with a wait of its own: when it was the relay, forget it. */
void stdin_relay_reaped(pid_t pid);

/* `cordon-exec --stdin-relay -- PROGRAM [ARG...]`: PROGRAM (an OCI runtime, which passes its
 * stdin to the container it runs) with cordon's one-page pipe as its stdin when fd 0 is a pipe,
 * fed by the relay above in this process until PROGRAM exits: the runtime backends' stdin, which
 * Node's stream read ahead of the command (a `while read` loop around `cordon run --backend runc`
 * lost the lines the first run never read). Signals this process gets go to PROGRAM; it ends
 * as PROGRAM did (its status, or its signal). */
int stdin_relay_main(int argc, char **argv);

/* The command's stdout and stderr, when they are pipes it could open again by name for reading
 * (a pipe reopened through /proc/self/fd/1 opens either end), become pipes of cordon's, carried
 * into the caller's: given the caller's, a plain user's sandbox could read what other processes
 * write into that pipe while it runs (`{ producer & cordon run …; } | consumer`), and take it
 * from the consumer. The same for any of fds 0-2 open for writing only (a stdin given as a
 * write end); one open for reading only that could be opened for writing by name (a stdout
 * given as a read end) becomes /dev/null open for reading. A stream into the same pipe as an
 * earlier one (`2>&1`) shares its relay, so their order is kept. The relay takes all of cordon's
 * pipe at once and hands it on by write(2), a whole buffer at a time (or whole pages together),
 * so a write of up to PIPE_BUF bytes reaches the caller's pipe as it was written,
 * never split among other writers' bytes, and small writes share the caller's pages as they
 * would have; cordon's pipe has the caller's pipe's size, and a change the program makes to it
 * is made to the caller's; when the caller's pipe loses its reader, cordon's loses its own, and
 * the program's next write fails with EPIPE as it would have.
 *
 * Order: output_relay_prepare (launcher, before the clone) → output_relay_child (the sandbox's
 * process, first thing) → output_relay_start (launcher, after the clone) → output_relay_finish
 * (launcher, once the sandbox ended and what it left was killed). No-ops unless prepare made a
 * relay. */
void output_relay_prepare(long uid);
void output_relay_child(void);
void output_relay_start(void);
/* The relay hands over what the sandbox left in cordon's pipes, waiting for the caller's reader
 * as the program would have waited, and ends. A signal read from `signal_fd` that would have
 * ended a program blocked in that write (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2)
 * and that `for_command` takes as the command's (it unwraps cordon's forward, and drops a copy
 * of one the program already got), or `parent_fd` (the supervisor's
 * pidfd) readable, ends the wait: the relay is killed. With `hurry` (the program ended when it
 * was asked to, by a signal passed on to it) the caller's pipe is grown to hold the rest, and
 * where it cannot be, what the reader has not taken within a second is dropped. Returns 0 when
 * everything was handed over, else the signal the run is to be reported ended by. */
int output_relay_finish(int signal_fd, int parent_fd,
			int (*for_command)(struct signalfd_siginfo *si), int hurry);
/* The relay's pid while it runs (0: none): what the launcher's last kill spares. */
pid_t output_relay_pid(void);
/* The supervisor is gone: the relay goes at once. */
void output_relay_kill(void);
/* The launcher reaped pid with a wait of its own (status as waitpid gives it). */
void output_relay_reaped(pid_t pid, int status);
#endif
