/* oci-launch.h — the launch helper of cordon-oci's `create` (oci-launch.c): a small C process
 * the entry point forks before it execs Node, which runs the launcher when Node asks. Node then
 * never loads node:child_process (and net, streams, dgram with it) to start the launcher: ~5 ms
 * of CPU in each container's `create` (README, start-up).
 *
 * For the same reason it writes the container's sysctls (src/oci-runtime/sysctl.ts) from inside
 * its namespaces: Node would run nsenter and sysctl(8) for each (two processes, and
 * child_process loaded).
 *
 * Protocol, on a unix stream socket whose Node end is the fd named by CORDON_OCI_LAUNCH_FD
 * (src/oci-runtime/launch-helper.ts). Each request is a u32 length, then that many bytes: a u32
 * kind and its payload; strings are NUL-terminated, integers little-endian (as the plan's).
 *   REQ_LAUNCH  the umask (u32), then the launcher's argv (argv[0] is its path). Answer: two
 *               i32, LAUNCH_EXITED and the exit status, LAUNCH_SIGNALED and the signal, or
 *               LAUNCH_NOT_RUN and the errno of execve (or of fork).
 *   REQ_LAUNCH_HOOKED  a launch whose launcher relays the runtime's prestart and createRuntime
 *               hooks (--hook-fd, native/hook.h), which the helper runs (oci-hook.h) as
 *               hooks.ts runHooks: the umask (u32), then strings: the hook fd's number, the
 *               launcher's argc and argv, prestart's and createRuntime's state JSON (the
 *               pid, once known, goes last), then per hook in order its kind ("prestart" or
 *               "createRuntime"), path, timeout (s, 0: none), argc, argv, envc, env.
 *               Answer: as REQ_LAUNCH's, or LAUNCH_HOOK_FAILED and the failed hook's index,
 *               then its oci_hook_outcome and value (i32), and the length (u32) and bytes of
 *               the start of its stderr; the launcher then killed the container.
 *   REQ_SYSCTL  after a launch that exited 0: the container's pid (u32), then strings: its start
 *               time (/proc/PID/stat field 22), then per sysctl its namespace (net, ipc or uts),
 *               its file beneath /proc/sys and its value. Each is written after entering that
 *               namespace of the pid, which must still be the process of that start time.
 *               Answer: two i32, -1 and 0 when all were written, else the failed one's index
 *               and errno, or SYSCTL_OWN_NAMESPACE when its namespace is the helper's own (a
 *               container joined to the host's by path: the write would change the host).
 * The helper serves a launch (for `create`, or `run`: see LAUNCH_REPORT_START), then at most one
 * sysctl request, then exits; it exits at EOF too
 * (Node closed its end: another path, or an error). The launcher gets the helper's fds 0, 1, 2
 * and every fd the engine gave without O_CLOEXEC (the --preserve-fds ones): those Node would
 * have passed. */
#ifndef CORDON_OCI_LAUNCH_H
#define CORDON_OCI_LAUNCH_H

#define LAUNCH_FD_ENV "CORDON_OCI_LAUNCH_FD"

enum launch_request { REQ_LAUNCH = 0, REQ_SYSCTL = 1, REQ_LAUNCH_HOOKED = 2 };
enum launch_outcome {
	LAUNCH_EXITED = 0,
	LAUNCH_SIGNALED = 1,
	LAUNCH_NOT_RUN = 2,
	LAUNCH_HOOK_FAILED = 3,
	LAUNCH_STARTED = 4
};
/* In REQ_LAUNCH's or REQ_LAUNCH_HOOKED's umask word: `run` in the foreground. The helper first
 * answers LAUNCH_STARTED and the launcher's pid (Node forwards its signals there), then, once
 * the launcher ended, the answer as above; it ignores a terminal's SIGINT, SIGQUIT, SIGHUP and
 * SIGTSTP meanwhile. */
#define LAUNCH_REPORT_START 0x10000u
#define SYSCTL_OWN_NAMESPACE (-1)

/* Forks the helper and sets LAUNCH_FD_ENV to Node's end of the socket, which stays open across
 * execve; `foreground`: for `run` without --detach, whose job's signals it ignores from its
 * start. Returns 0, or -1 (errno) when no helper could be made: Node then starts the launcher
 * itself, as without this file. */
int launch_helper_start(int foreground);

#endif
