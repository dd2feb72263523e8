/* oci-launch.h — the launch helper of cordon-oci's `create` (oci-launch.c): a small C process
 * the entry point forks before it execs Node, which runs the launcher when Node asks. Node then
 * never loads node:child_process (and net, streams, dgram with it) to start the launcher: ~5 ms
 * of CPU in each container's `create` (README, start-up).
 *
 * Protocol, on a unix stream socket whose Node end is the fd named by CORDON_OCI_LAUNCH_FD
 * (src/oci-runtime/launch-helper.ts):
 *   Node → helper: u32 length, then that many bytes: the umask (u32), then the launcher's argv
 *                  (argv[0] is its path), each string NUL-terminated. Integers are
 *                  little-endian (as the plan's).
 *   helper → Node: two i32: LAUNCH_EXITED and the exit status, LAUNCH_SIGNALED and the signal,
 *                  or LAUNCH_NOT_RUN and the errno of execve (or of fork).
 * The helper serves one request, or none (Node closes its end: another path, or an error),
 * then exits. The launcher gets the helper's fds 0, 1, 2 and every fd the engine gave without
 * O_CLOEXEC (the --preserve-fds ones): those Node would have passed. */
#ifndef CORDON_OCI_LAUNCH_H
#define CORDON_OCI_LAUNCH_H

#define LAUNCH_FD_ENV "CORDON_OCI_LAUNCH_FD"

enum launch_outcome { LAUNCH_EXITED = 0, LAUNCH_SIGNALED = 1, LAUNCH_NOT_RUN = 2 };

/* Forks the helper and sets LAUNCH_FD_ENV to Node's end of the socket, which stays open across
 * execve. Returns 0, or -1 (errno) when no helper could be made: Node then starts the launcher
 * itself, as without this file. */
int launch_helper_start(void);

#endif
