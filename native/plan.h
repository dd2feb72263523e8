/* plan.h — the binary plan: the only contract between the TypeScript compiler and the launcher.
 *
 * Layout (little-endian): header [magic "CRDN"][u16 version][u16 flags=0][u32 payload length]
 * followed by records [u16 op][u16 flags][u32 body length][body]. Body fields are u32, u64,
 * strings [u32 n][n bytes][NUL] and blobs [u32 n][n bytes]. The encoder lives in
 * src/plan/encode.ts; every change here is a version bump there.
 *
 * An op's phase is its code >> 4. Phases must not decrease through the plan, which is how the
 * launcher enforces the security-relevant order of the last steps:
 * ids → caps → no_new_privs → Landlock → seccomp → execve.
 */
#ifndef CORDON_PLAN_H
#define CORDON_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_MAGIC "CRDN"
#define PLAN_VERSION 6
#define PLAN_HEADER_SIZE 12
#define PLAN_MAX_SIZE (16u << 20)
#define PLAN_MAX_OPS 65536u
#define PLAN_MAX_STRING 4096u
/* An environment entry or an argument of the command: what execve takes of one string
 * (MAX_ARG_STRLEN, 32 pages). Both go to execve as they are (heap copies or pointers into the
 * plan), never into a buffer of PLAN_MAX_STRING. */
#define PLAN_MAX_EXEC_STRING 131072u
#define PLAN_CALLER_ID 0xffffffffu /* id map "outside" value: the launcher's own uid/gid */

enum plan_op {
	/* phase 0: process configuration, read before anything runs */
	OP_NAMESPACES = 0x01, /* u32 clone flags */
	OP_UID_MAP = 0x02, /* u32 inside, u32 outside, u32 count */
	OP_GID_MAP = 0x03, /* u32 inside, u32 outside, u32 count */
	OP_DIE_WITH_PARENT = 0x04,
	OP_INIT = 0x05, /* run a reaper as pid 1, the command as its child */
	OP_KEEP_FD = 0x06, /* u32 fd that survives into the command */
	OP_ENV_SET = 0x07, /* str "NAME=value" */
	OP_ENV_PASS = 0x08, /* str NAME, copied from the launcher's environment if set */
	OP_EXEC_ARG = 0x09, /* str: default argv, one record per argument */
	OP_CGROUP = 0x0a, /* str cgroup directory the launcher moves the sandbox into */
	OP_SETNS = 0x0b, /* u32 CLONE_NEW* type, str path: the launcher joins that namespace
	                          * before the clone (an OCI runtime's `namespaces[].path`, oci.h) */
	OP_CGROUP_DEVICES = 0x0c, /* str cgroup v2 directory, blob eBPF program (struct bpf_insn[]):
	                          * a BPF_PROG_TYPE_CGROUP_DEVICE program the launcher loads and
	                          * attaches there before the clone (OCI linux.resources.devices) */
	OP_ENTER_ROOT = 0x0d, /* str directory (a process's /proc/PID/root): once in its mount
	                          * namespace, the sandbox makes it its root (oci.h oci_join_mount) */
	/* phase 1: filesystem view, between OP_ROOT and OP_PIVOT */
	OP_ROOT = 0x10, /* u32 mode of the new root tmpfs */
	OP_BIND = 0x11, /* u32 bind flags, str src (host), str dest (sandbox) */
	OP_TMPFS = 0x12, /* u64 size (0 = default), u32 mode, u32 bind flags, str dest */
	OP_PROC = 0x13, /* str dest */
	OP_DEVPTS = 0x14, /* str dest */
	OP_MKDIR = 0x15, /* u32 mode, str dest */
	OP_SYMLINK = 0x16, /* str target, str dest */
	OP_FILE = 0x17, /* u32 mode, str dest, blob content: a read-only file */
	OP_REMOUNT_RO = 0x18, /* str dest */
	OP_PIVOT = 0x19,
	OP_FSMOUNT = 0x1a, /* u32 MOUNT_ATTR_* flags, str fstype, str dest, blob options
	                          * ("key=value\0" or "key\0" entries): a fresh filesystem (sysfs,
	                          * mqueue, cgroup2, tmpfs with options) from an OCI `mounts` entry */
	OP_MKNOD = 0x1b, /* u32 mode (S_IFCHR, S_IFBLK or S_IFIFO | permissions), u64 device,
	                          * u32 uid, u32 gid, str dest: a node of an OCI `linux.devices` entry,
	                          * only on a tmpfs of the view (never on a host filesystem) */
	OP_HOOK = 0x1c, /* u32 timeout in seconds (0 = none), u32 flags (HOOK_*), str path, blob
	                          * stdin: an OCI createContainer hook, run in the runtime's
	                          * filesystem inside the container's namespaces (hook.h) */
	OP_HOOK_ARG = 0x1d, /* str: the preceding hook's argv, one record per argument */
	OP_HOOK_ENV = 0x1e, /* str "NAME=value": the preceding hook's whole environment */
	/* phase 2: system identity, still privileged inside the namespaces */
	OP_HOSTNAME = 0x20, /* str */
	OP_LOOPBACK = 0x21,
	OP_PROPAGATION =
		0x22, /* u32 MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE [|MS_REC], str dest:
	                          * once the view is whole, within the sandbox's own mount namespace
	                          * (cut from the host's peer groups: view.c begin) */
	OP_LEAVE_MOUNT_NS = 0x23, /* the sandbox goes back to the launcher's mount namespace, its
	                          * root staying the view, cloned detached (open_tree): an OCI
	                          * container with no mount namespace of its own is in the runtime's
	                          * without a single mount made there (view.h view_leave) */
	/* phase 3: the command process */
	OP_RLIMIT = 0x30, /* u32 resource, u64 soft, u64 hard */
	OP_CHDIR = 0x31, /* str */
	OP_SETSID = 0x32,
	/* phase 4..8: the fixed tail */
	OP_IDS = 0x40, /* u32 uid, u32 gid, u32 flags (IDS_SETGROUPS: groups := {gid}; with
	                          * IDS_GROUPS, then blob of u32 gids: groups := {gid} + those) */
	OP_CAPS = 0x50, /* u64 capabilities kept (bounding, permitted, effective, ambient),
	                          * u64 held until execve (CAPS_HOLD_KNOWN only; command.h) */
	OP_NO_NEW_PRIVS = 0x60,
	OP_LANDLOCK = 0x70, /* u32 flags (LL_*), u32 required abi, u64 file rights mask,
	                          * u32 n, then n rows for ABI 1..n: u64 fs, u64 net, u64 scoped, u32 restrict flags */
	OP_LANDLOCK_PATH =
		0x71, /* u32 flags (LL_RULE_OPTIONAL), u64 access, str path (in the sandbox's view) */
	OP_LANDLOCK_PORT = 0x72, /* u64 access, u64 port */
	OP_LANDLOCK_RESTRICT = 0x73,
	OP_SECCOMP = 0x80, /* u32 flags, blob BPF program (struct sock_filter[]) */
	OP_SECCOMP_NOTIFY = 0x81, /* blob responder program for the launcher (notify.h); required
	                          * by, and only with, one seccomp record with SECCOMP_FLAG_LISTENER */
	OP_SECCOMP_TRACE = 0x82, /* the filter's RET_TRACE outcomes are the launcher's, as a tracer
	                          * (trace.h), answered with the responder; needs seccomp_notify */
	/* phase 9: after every confinement step, right before execve */
	OP_START_HOOK = 0x90, /* as OP_HOOK: an OCI startContainer hook, run by the command in
	                          * the container's view with its ids, caps, Landlock and seccomp */
	OP_START_HOOK_ARG = 0x91, /* as OP_HOOK_ARG */
	OP_START_HOOK_ENV = 0x92, /* as OP_HOOK_ENV */
};

#define HOOK_STATE_PID 1u /* stdin: {"pid":N, then the blob after its leading '{' */

#define SECCOMP_FLAG_LISTENER 8u /* SECCOMP_FILTER_FLAG_NEW_LISTENER */
/* cordon's own, never passed to seccomp(): the program refuses what init-guard.h's filter
 * refuses (the plan compiler's `init-guard` layer), so the command stacks no second filter. */
#define SECCOMP_FLAG_GUARDS_INIT 0x80000000u
#define SECCOMP_FLAGS_KNOWN                                                                        \
	0x3fu /* TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER, TSYNC_ESRCH, WAIT_KILLABLE_RECV */

enum bind_flag {
	BIND_RO = 1u << 0, /* read-only, recursively (mount_setattr) */
	BIND_OPTIONAL = 1u << 1, /* a missing source is skipped, not an error */
	BIND_DEV = 1u << 2, /* keep device nodes usable (no nodev) */
	BIND_NOEXEC = 1u << 3,
	BIND_IDMAP =
		1u << 4, /* the host's ids seen through the sandbox's user namespace (view.h) */
	BIND_VIEW = 1u << 5, /* the source is a path of the view being built, not of the host
	                          * (OCI readonlyPaths/maskedPaths under a fresh /proc) */
	BIND_HOST_NAMES = 1u << 6, /* mount points may be made in this bind's host directory, as
	                            * runc makes them in an OCI rootfs and its binds; elsewhere the
	                            * launcher makes names only on the view's own tmpfs (view.c) */
	BIND_SETTLED = 1u << 7, /* the destination's way had no symlink when the plan was made: what
	                         * is mounted on must be what it names without following one */
};
#define BIND_KNOWN                                                                                 \
	(BIND_RO | BIND_OPTIONAL | BIND_DEV | BIND_NOEXEC | BIND_IDMAP | BIND_VIEW |               \
	 BIND_HOST_NAMES | BIND_SETTLED)

/* OP_FSMOUNT attributes: RDONLY NOSUID NODEV NOEXEC, the atime mode (NOATIME, STRICTATIME), NODIRATIME */
#define FSMOUNT_ATTRS_KNOWN 0xbfu

#define CAPS_HOLD_KNOWN (1ull << 21) /* CAP_SYS_ADMIN */

#define IDS_SETGROUPS 1u
#define IDS_GROUPS 2u
#define IDS_GROUPS_MAX 64u

#define LL_ABI_ROWS_MAX 16u
#define LL_RULE_OPTIONAL 1u /* a missing path is skipped */
#define LL_RULE_NOFOLLOW 2u /* opened without following any symlink (host paths, no view) */

/* One decoded record. Strings and blobs point into the plan buffer, which must outlive it. */
struct plan_op_rec {
	uint16_t code;
	uint32_t a, b, c;
	uint64_t x, y;
	const char *s1, *s2;
	const uint8_t *blob;
	uint32_t blob_len;
};

/* One row of OP_LANDLOCK's table: what to handle on a kernel of that ABI. */
struct landlock_row {
	uint64_t fs, net, scoped;
	uint32_t restrict_flags;
};

struct plan {
	struct plan_op_rec *ops; /* owned; free with plan_free */
	size_t n_ops;
	uint32_t clone_flags; /* from OP_NAMESPACES, 0 if absent */
	int has_init, die_with_parent, has_root, has_userns_maps;
	int joins_mount; /* an OP_SETNS of CLONE_NEWNS: the view is built in that namespace */
	int leave_mount; /* OP_LEAVE_MOUNT_NS */
	const struct plan_op_rec *enter_root; /* OP_ENTER_ROOT, or NULL */
	const struct plan_op_rec *responder; /* OP_SECCOMP_NOTIFY, or NULL */
	int trace; /* OP_SECCOMP_TRACE */
	int guards_init; /* an OP_SECCOMP with SECCOMP_FLAG_GUARDS_INIT */
};

/* Decodes and validates buf. On failure returns -1 and writes a one-line reason to err. */
int plan_decode(const uint8_t *buf, size_t len, struct plan *out, char *err, size_t err_len);
void plan_free(struct plan *p);
const char *plan_op_name(uint16_t code);
/* The row of an OP_LANDLOCK table for a kernel of ABI abi (>= 1; rows past the table repeat
 * the last). */
void plan_landlock_row(const struct plan_op_rec *op, uint32_t abi, struct landlock_row *row);

#endif
