// The plan: a flat list of kernel operations the launcher performs in order. This is the only
// contract with native/plan.h. Every field here is encoded by encode.ts; adding an op means a
// new code in both files and a PLAN_VERSION bump.

export const PLAN_VERSION = 6

export interface BindFlags {
  readOnly?: boolean
  optional?: boolean
  /** Device nodes stay usable (no nodev). */
  dev?: boolean
  noexec?: boolean
  /** Host ids seen through the sandbox's user namespace (an idmapped mount made by the launcher):
   * a root caller's sandbox writes there as the host's root although it is not host root. */
  idmap?: boolean
  /** The source is a path of the view being built (a self-bind), not of the host. */
  inView?: boolean
  /** Mount points missing in this bind's tree may be made there, in the host directory, as runc
   * makes them in an OCI rootfs and its binds. Without it the launcher makes names only on the
   * view's own tmpfs, and refuses a plan whose host changed so that one would land on the host. */
  hostNames?: boolean
  /** The destination lies in a host directory (a bind holds its way) and had no symlink on its
   * way when the plan was made (policy/view-dests.ts): the launcher checks that what it mounts
   * on is what the path names without following one, so a link a sandbox sharing that directory
   * swapped in since fails the start instead of moving the mount. */
  settled?: boolean
}

export type PlanOp =
  // phase 0: process configuration
  | { op: 'namespaces'; flags: number }
  | { op: 'uid_map' | 'gid_map'; inside: number; outside: number | 'caller'; count: number }
  | { op: 'die_with_parent' }
  | { op: 'init' }
  | { op: 'keep_fd'; fd: number }
  | { op: 'env_set'; name: string; value: string }
  | { op: 'env_pass'; name: string }
  | { op: 'exec_arg'; arg: string }
  | { op: 'cgroup'; path: string }
  /** Join the namespace at path (one CLONE_FLAGS bit) before the clone: OCI `namespaces[].path`. */
  | { op: 'setns'; type: number; path: string }
  /** An eBPF BPF_PROG_TYPE_CGROUP_DEVICE program the launcher loads and attaches to the cgroup
   * v2 directory at path before the clone: OCI `linux.resources.devices` on cgroup v2. */
  | { op: 'cgroup_devices'; path: string; program: Uint8Array }
  /** After joining its mount namespace, the sandbox makes the directory at path (a process's
   * /proc/PID/root) its root: `exec` into a container whose root is a detached view. */
  | { op: 'enter_root'; path: string }
  // phase 1: filesystem view (root … pivot_root)
  | { op: 'root'; mode: number }
  | { op: 'bind'; src: string; dest: string; flags: BindFlags }
  | { op: 'tmpfs'; dest: string; size: number; mode: number; flags: BindFlags }
  | { op: 'proc' | 'devpts'; dest: string }
  | { op: 'mkdir'; dest: string; mode: number }
  | { op: 'symlink'; target: string; dest: string }
  | { op: 'file'; dest: string; mode: number; content: string }
  | { op: 'remount_ro'; dest: string }
  | { op: 'pivot_root' }
  /** A fresh filesystem (OCI `mounts`: sysfs, mqueue, cgroup2, tmpfs with options); attrs are
   * MOUNT_ATTR_* bits, options `key=value` or flag words passed to fsconfig. */
  | { op: 'fsmount'; fstype: string; dest: string; attrs: number; options: string[] }
  /** A device node or FIFO of an OCI `linux.devices` entry, made only on a tmpfs of the view
   * (native/view.c do_mknod refuses any other filesystem). `mode` holds the S_IF* type. */
  | { op: 'mknod'; dest: string; mode: number; major: number; minor: number; uid: number; gid: number }
  /** An OCI createContainer hook (native/hook.h): run in the host's filesystem inside the
   * container's namespaces, before pivot_root; `state` goes to its stdin, with the caller's pid
   * first when `statePid`. Its argv and environment follow as hook_arg / hook_env records. */
  | { op: 'hook' | 'start_hook'; path: string; timeout: number; state: string; statePid: boolean }
  | { op: 'hook_arg' | 'start_hook_arg'; arg: string }
  | { op: 'hook_env' | 'start_hook_env'; env: string }
  // phase 2: identity of the system
  | { op: 'hostname'; name: string }
  | { op: 'loopback' }
  /** MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE, with MS_REC for the tree below: set once
   * the view is whole, within the sandbox's own mount namespace (never linked to the host's). */
  | { op: 'propagation'; dest: string; flags: number }
  /** Back to the launcher's mount namespace, the view (cloned detached) staying the root: an
   * OCI container with no mount namespace of its own, without a mount in the host's. */
  | { op: 'leave_mount_ns' }
  // phase 3..8: the command's last steps, in this order
  | { op: 'rlimit'; resource: number; soft: bigint; hard: bigint }
  | { op: 'chdir'; path: string }
  | { op: 'setsid' }
  | { op: 'ids'; uid: number; gid: number; setgroups: boolean; groups?: number[] }
  /** hold: kept effective until execve drops it (CAP_SYS_ADMIN only), so that Landlock and
   * seccomp need no no_new_privs (cordon-oci with noNewPrivileges false). */
  | { op: 'caps'; keep: bigint; hold?: bigint }
  | { op: 'no_new_privs' }
  | { op: 'landlock'; required: number; fileRights: bigint; rows: LandlockRow[] }
  | { op: 'landlock_path'; path: string; access: bigint; optional: boolean; nofollow?: boolean }
  | { op: 'landlock_port'; access: bigint; port: number }
  | { op: 'landlock_restrict' }
  | { op: 'seccomp'; flags: number; program: Uint8Array }
  /** The launcher's answers to notified syscalls (native/notify.h); goes with a listening filter. */
  | { op: 'seccomp_notify'; program: Uint8Array }
  /** The filter's RET_TRACE outcomes are the launcher's, as the sandbox's tracer, answered with
   * the responder (native/trace.h): observation with no EINTR window. */
  | { op: 'seccomp_trace' }
// phase 9: startContainer hooks (start_hook*, above), in the confined command before execve

/** What to handle on a kernel of one Landlock ABI (row i is ABI i+1). */
export interface LandlockRow {
  fs: bigint
  net: bigint
  scoped: bigint
  restrictFlags: number
}

export type OpName = PlanOp['op']

/** Op codes shared with native/plan.h; the high nibble is the phase. */
export const OP_CODES: Record<OpName, number> = {
  namespaces: 0x01,
  uid_map: 0x02,
  gid_map: 0x03,
  die_with_parent: 0x04,
  init: 0x05,
  keep_fd: 0x06,
  env_set: 0x07,
  env_pass: 0x08,
  exec_arg: 0x09,
  cgroup: 0x0a,
  setns: 0x0b,
  cgroup_devices: 0x0c,
  enter_root: 0x0d,
  root: 0x10,
  bind: 0x11,
  tmpfs: 0x12,
  proc: 0x13,
  devpts: 0x14,
  mkdir: 0x15,
  symlink: 0x16,
  file: 0x17,
  remount_ro: 0x18,
  pivot_root: 0x19,
  fsmount: 0x1a,
  mknod: 0x1b,
  hook: 0x1c,
  hook_arg: 0x1d,
  hook_env: 0x1e,
  hostname: 0x20,
  loopback: 0x21,
  propagation: 0x22,
  leave_mount_ns: 0x23,
  rlimit: 0x30,
  chdir: 0x31,
  setsid: 0x32,
  ids: 0x40,
  caps: 0x50,
  no_new_privs: 0x60,
  landlock: 0x70,
  landlock_path: 0x71,
  landlock_port: 0x72,
  landlock_restrict: 0x73,
  seccomp: 0x80,
  seccomp_notify: 0x81,
  seccomp_trace: 0x82,
  start_hook: 0x90,
  start_hook_arg: 0x91,
  start_hook_env: 0x92,
}

/** SECCOMP_FILTER_FLAG_NEW_LISTENER: the filter's notifications go to the launcher. */
export const SECCOMP_FLAG_LISTENER = 8
/** cordon's own, never passed to seccomp(): the program refuses what native/init-guard.h does
 * (the `init-guard` layer), so the launcher stacks no guard of its own. */
export const SECCOMP_FLAG_GUARDS_INIT = 0x8000_0000

/** mount(2) propagation flags, for the `propagation` op. */
export const MS_PROPAGATION = {
  rec: 0x4000,
  unbindable: 0x20000,
  private: 0x40000,
  slave: 0x80000,
  shared: 0x100000,
} as const

/** clone(2) flags for each namespace. */
export const CLONE_FLAGS = {
  user: 0x10000000,
  pid: 0x20000000,
  mount: 0x00020000,
  ipc: 0x08000000,
  uts: 0x04000000,
  net: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
} as const

export interface Plan {
  ops: PlanOp[]
  /** Human notes for `cordon plan --explain`: why an op is there, what was skipped. */
  notes: string[]
}
