// The seccomp layers the plan compiler appends to every policy's own (policy/effective.ts picks
// them): the network layers (network.ts), the host-network and outside-processes guards, and the
// set-id guard that every filter ends with.
import { NETWORK_LAYERS, NETWORK_NOTES } from './network.js'

const S_ISUID = 0o4000
const S_ISGID = 0o2000
const O_CREAT = 0o100
const O_TMPFILE = 0o20000000 // __O_TMPFILE: the same bit on x86, arm64 and riscv64

/** Rules refusing a mode argument with a set-id bit; with `flagsIndex`, only when the open flags
 * there create a file (O_CREAT or O_TMPFILE: without them the mode is ignored, often garbage). */
function setidRules(syscalls: string[], modeIndex: number, flagsIndex?: number) {
  const bitSet = (index: number, bit: number) => ({
    index,
    op: 'masked-eq' as const,
    mask: bit,
    value: bit,
    width: 32 as const,
  })
  return [S_ISUID, S_ISGID].flatMap((bit) =>
    flagsIndex === undefined
      ? [{ syscalls, action: 'errno(EPERM)', args: [bitSet(modeIndex, bit)] }]
      : [O_CREAT, O_TMPFILE].map((flag) => ({
          syscalls,
          action: 'errno(EPERM)',
          args: [bitSet(modeIndex, bit), bitSet(flagsIndex, flag)],
        })),
  )
}

/** No sandbox leaves a setuid or setgid file behind (DESIGN.md): on a writable bind a set-id
 * file outlives the sandbox, and whoever runs it on the host gets its owner's identity. The
 * kernel honours those bits in chmod, on create (open/openat/creat with O_CREAT or O_TMPFILE)
 * and in mknod; mkdir drops them itself. openat2 hides its mode behind a pointer, so it is
 * refused with ENOSYS (callers fall back to openat); io_uring performs opens the filter never
 * sees. The mount view's nosuid keeps them from working inside; this keeps them off the disk. */
export const NO_SETID = {
  origin: 'no set-id files',
  rules: [
    ...setidRules(['chmod', 'fchmod', 'creat', 'mknod'], 1),
    ...setidRules(['fchmodat', 'fchmodat2', 'mknodat'], 2),
    ...setidRules(['open'], 2, 1),
    ...setidRules(['openat'], 3, 2),
    { syscalls: ['openat2'], action: 'errno(ENOSYS)' },
    { syscalls: ['io_uring_setup'], action: 'errno(EPERM)' },
  ],
}

/** In the host's network namespace the kernel's proc connector is the host's: a sandbox could
 * subscribe and watch every process on the host start, exec and exit (the kernel no longer
 * ignores subscriptions from user namespaces; found by `cordon verify`'s proc-connector probe).
 * i386's socketcall hides its arguments from the filter, so it goes too. */
export const HOST_NETWORK_GUARD = {
  origin: 'host network',
  rules: [
    {
      syscalls: ['socket'],
      action: 'errno(EACCES)',
      args: [
        { index: 0, op: 'eq' as const, value: 16, width: 32 as const }, // AF_NETLINK
        { index: 2, op: 'eq' as const, value: 11, width: 32 as const }, // NETLINK_CONNECTOR
      ],
    },
    { syscalls: ['socketcall'], action: 'errno(ENOSYS)' },
  ],
}

/** Without a pid namespace the host's processes are in sight. Landlock's signal scope stops
 * kill(), but these calls act on another process by pid as well, for any process of the same
 * uid (a root caller's no-namespace sandboxes share the range's): its limits (prlimit64 with
 * RLIMIT_CPU 0 kills it), priority, CPUs, I/O class and memory placement. Each is refused for
 * any target but the caller itself (pid 0). */
const notSelf = (index: number) => [{ index, op: 'ne' as const, value: 0, width: 32 as const }]
export const OUTSIDE_PROCESSES = {
  origin: 'other processes (no pid namespace)',
  rules: [
    ...[
      'prlimit64',
      'sched_setaffinity',
      'sched_setparam',
      'sched_setscheduler',
      'sched_setattr',
      'migrate_pages',
      'move_pages',
    ].map((s) => ({
      syscalls: [s],
      action: 'errno(EPERM)',
      args: notSelf(0),
    })),
    // setpriority(which, who): only PRIO_PROCESS (0) of itself; ioprio_set: IOPRIO_WHO_PROCESS (1).
    { syscalls: ['setpriority'], action: 'errno(EPERM)', args: notSelf(0) },
    { syscalls: ['setpriority'], action: 'errno(EPERM)', args: notSelf(1) },
    {
      syscalls: ['ioprio_set'],
      action: 'errno(EPERM)',
      args: [{ index: 0, op: 'ne' as const, value: 1, width: 32 as const }],
    },
    { syscalls: ['ioprio_set'], action: 'errno(EPERM)', args: notSelf(1) },
  ],
}

/** Where init is pid 1 of the sandbox's own pid namespace (the native launcher's), it counts the
 * spawns the fork-storm rule weighs and carries out the freeze, and it shares the command's ids:
 * the kernel lets the command renice it to 19, make it SCHED_IDLE, pin it to one CPU or set its
 * limits, and a bomb that did so before each fork delayed its freeze by seconds. Refused as the
 * kernel refuses a process that may not: on pid 1, on process group 1 (init's alone: the command
 * leads a session of its own), and on a whole user (init shares the command's uid); reading
 * pid 1's limits stays allowed. In the policy's filter, not a second one, so that a monitor
 * watching these calls sees the refusals. Never exported: pid 1 there is the program, or a
 * runtime backend's cordon-init, which only reaps and passes signals on (native/container-init.c). */
const pidOne = (index: number) => ({ index, op: 'eq' as const, value: 1, width: 32 as const })
export const INIT_GUARD = {
  origin: "the sandbox's init",
  rules: [
    ...['sched_setscheduler', 'sched_setparam', 'sched_setattr', 'sched_setaffinity'].map((s) => ({
      syscalls: [s],
      action: 'errno(EPERM)',
      args: [pidOne(0)],
    })),
    {
      syscalls: ['prlimit64'],
      action: 'errno(EPERM)',
      args: [pidOne(0), { index: 2, op: 'ne' as const, value: 0, width: 64 as const }],
    },
    // setpriority(which, who): PRIO_USER is 2; ioprio_set(which, who): IOPRIO_WHO_USER is 3.
    { syscalls: ['setpriority'], action: 'errno(EPERM)', args: [pidOne(1)] },
    {
      syscalls: ['setpriority'],
      action: 'errno(EPERM)',
      args: [{ index: 0, op: 'eq' as const, value: 2, width: 32 as const }],
    },
    { syscalls: ['ioprio_set'], action: 'errno(EPERM)', args: [pidOne(1)] },
    {
      syscalls: ['ioprio_set'],
      action: 'errno(EPERM)',
      args: [{ index: 0, op: 'eq' as const, value: 3, width: 32 as const }],
    },
  ],
}

export const SECCOMP_EXTRAS = {
  ...NETWORK_LAYERS,
  'outside-processes': OUTSIDE_PROCESSES,
  'init-guard': INIT_GUARD,
  'host-network': HOST_NETWORK_GUARD,
  'no-setid': NO_SETID,
} as const
export type SeccompExtra = keyof typeof SECCOMP_EXTRAS
/** Every combination seccompExtras() gives with a pid namespace (cordon-oci's annotated
 * policies), and launcherSeccompExtras() (the native launcher's, with the init guard), in their
 * order: the build precompiles each one with every built-in profile
 * (scripts/precompile-seccomp.mjs). Without a pid namespace the filter has `outside-processes`
 * and is compiled at run time. */
export const PRECOMPILED_EXTRA_SETS: readonly (readonly SeccompExtra[])[] = (
  [[], ['tcp-only'], ['tcp-only', 'tcp-no-bind']] as const
).flatMap((tcp) =>
  (['host-network', 'net-families'] as const).flatMap((net) =>
    ([[], ['init-guard']] as const).map((guard): SeccompExtra[] => [
      ...tcp,
      ...(net === 'host-network' && !tcp.length ? [] : ['net-families' as const]),
      ...(net === 'host-network' ? ['host-network' as const] : []),
      ...guard,
      'no-setid',
    ]),
  ),
)
/** What each extra refuses, for the plan's notes. */
export const EXTRA_NOTES: Record<SeccompExtra, string> = {
  ...NETWORK_NOTES,
  'host-network': "the host's proc connector refused (no net namespace)",
  'outside-processes':
    'prlimit64, sched_set*, setpriority, ioprio_set, migrate_pages and move_pages refused on other processes (no pid namespace)',
  'init-guard':
    "the sandbox's init kept at its priority, CPUs and limits (setpriority, ioprio_set, sched_set*, prlimit64 on pid 1)",
  'no-setid': 'setuid/setgid modes refused (chmod, create, mknod; openat2 ENOSYS, io_uring refused)',
}
