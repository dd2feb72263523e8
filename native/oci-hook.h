/* oci-hook.h — one OCI runtime hook (prestart, createRuntime) run by create's launch helper
 * (oci-launch.c) as src/oci-runtime/hooks.ts runHooks runs it with Node's spawnSync: exactly
 * its argv and environment, the container's state on stdin (a hook that exits without reading
 * it is judged by its exit status), its stdout the runtime's, its stderr kept for the failure
 * message, its timeout (then SIGTERM, as spawnSync's), the umask create set, every signal
 * default and unblocked, no fd above 2. */
#ifndef CORDON_OCI_HOOK_H
#define CORDON_OCI_HOOK_H

#include <stddef.h>
#include <sys/types.h>

/* How a hook ended (HOOK_OK: exit status 0). */
enum oci_hook_outcome {
	HOOK_OK = 0,
	HOOK_EXITED = 1, /* value: its nonzero exit status */
	HOOK_SIGNALED = 2, /* value: the signal */
	HOOK_TIMED_OUT = 3, /* killed after its timeout */
	HOOK_NOT_RUN = 4, /* value: the errno of execve, fork or a pipe */
};

/* The start of a hook's stderr kept for its failure message. */
#define OCI_HOOK_STDERR_MAX 4096

struct oci_hook_result {
	enum oci_hook_outcome outcome;
	int value;
	size_t stderr_len;
	char stderr_text[OCI_HOOK_STDERR_MAX];
};

/* Runs path with argv and envp (NULL-terminated), state (len bytes) on its stdin, a timeout in
 * seconds (0: none) and umask mask; fills *res. Returns 0 when the hook exited 0. */
int oci_hook_run(const char *path, char *const argv[], char *const envp[], const char *state,
		 size_t len, unsigned timeout, mode_t mask, struct oci_hook_result *res);

#endif
