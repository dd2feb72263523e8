/* oci.h — what cordon-oci (an OCI runtime, src/oci-runtime/) needs from the launcher beyond
 * the plan:
 *
 *   joining namespaces given by path (OP_SETNS), in the launcher before the clone (the mount
 *     namespace in the sandbox, after it: `exec` joins a running container's);
 *   the create/start split (--start-fifo PATH): the command, its view built and every step
 *     before its own done, reports ready and blocks opening the FIFO for writing until
 *     `cordon-oci start` opens it for reading, as runc's init blocks on exec.fifo;
 *   --pid-file without --detach: the pid is written once the container is cloned;
 *   a detached launcher (--detach): it waits for ready (or the failure), writes the command's
 *     pid to --pid-file and exits, so the command (pid 1 of the container) is reparented to
 *     the caller's subreaper, which reaps it (containerd's shim, conmon).
 *
 * State is this file's: the FIFO's O_PATH fd, opened on the host before the clone. */
#ifndef CORDON_OCI_H
#define CORDON_OCI_H

#include "plan.h"

#include <stdnoreturn.h>
#include <sys/types.h>

/* Launcher, before the clone and any join: loads each OP_CGROUP_DEVICES program and attaches it
 * to its cgroup v2 directory (BPF_F_ALLOW_MULTI), where it stays until the group is removed. */
void oci_attach_device_filters(const struct plan *p);
/* Launcher, before the clone: joins every OP_SETNS namespace but the mount one, in plan order. */
void oci_join_namespaces(const struct plan *p);
/* Sandbox, first thing after the go: joins an OP_SETNS mount namespace (`cordon-oci exec`).
 * Joined in the child, not before the clone, so that the launcher still resolves the cgroup
 * directories (and the console socket) in its own mount namespace. With a view and
 * OP_LEAVE_MOUNT_NS, it then unshares a private copy to build the view in, and comes back to the
 * joined namespace at OP_LEAVE_MOUNT_NS. With OP_ENTER_ROOT, it makes that directory (opened
 * before the join) its root. */
void oci_join_mount(const struct plan *p);
/* Launcher, before the clone: opens the FIFO (O_PATH) the command will wait on. */
void oci_open_fifo(const char *path);
/* Command, before its phase-3 steps: with a FIFO, writes 'R' to ready_fd, then blocks until the
 * FIFO is opened for reading, and writes one byte to it. No-op without --start-fifo. */
void oci_wait_start(int ready_fd);
/* Launcher, after releasing the sandbox: waits on exec_fd for 'R' (ready: writes pid to
 * pid_file, exits 0) or a failure (the sandbox has reported it: exits 125). With eof_ready (no
 * start FIFO: `cordon-oci exec --detach`) the end of exec_fd, closed by execve, is ready. */
noreturn void oci_detach(pid_t pid, int exec_fd, const char *pid_file, int eof_ready);
/* Writes pid to pid_file (no-op when NULL); kills pid and dies when it cannot. */
void oci_write_pid(pid_t pid, const char *pid_file);

#endif
