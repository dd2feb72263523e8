// Battery rows: host root's powers (setuid files, device nodes, root-only files) and what a
// sandbox without namespaces reaches by the host's own paths (issue 18).
import { existsSync } from 'node:fs'
import { holdsHostRoot } from '../../policy/effective.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { DEVICE_NODES, deviceSignature, plantedSetuid, unlistedDevices } from '../fixtures.js'
import {
  AT_FDCWD,
  O_CREAT_EXCL,
  O_READ,
  O_WRITE,
  openat,
  type ProbeContext,
  type ProbeSpec,
  OPEN_CALLS,
  CREATE_CALLS,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  socketThen,
} from '../probe-spec.js'

const SETID = 0o6000n // S_ISUID | S_ISGID
/** The calls that send to an address without connect(). */
const DATAGRAM_SENDS = ['sendto', 'sendmsg', 'sendmmsg']
const S_IFREG = 0o100000n
const O_CREAT = 0o100n

/** How host-device opens a device: O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC. */
const O_RDWR_DEVICE = 0o2004402n

/** Root-only kernel files a sandbox must not read (runc masks them): kernel memory layout and
 * addresses, timers of every host process, keys. Some are absent on newer kernels (ENOENT). */
const ROOT_ONLY_FILES = [
  '/proc/slabinfo',
  '/proc/timer_list',
  '/proc/vmallocinfo',
  '/proc/pagetypeinfo',
  '/proc/kcore',
  '/proc/keys',
  '/proc/sched_debug',
] as const

/** A root caller's sandbox without a mount namespace that holds host root's file permissions, as
 * its policy acknowledges (`acknowledge: [host-root]`, status/statements.ts): nothing keeps it off
 * the host's device nodes and the kernel's root-only tables, and the policy says so. */
const hostRootAcknowledged = (p: ResolvedPolicy, ctx: ProbeContext) =>
  ctx.uid === 0 &&
  ctx.backend === 'native' &&
  !p.namespaces.mount &&
  holdsHostRoot(p) &&
  p.acknowledge?.includes('host-root')
    ? 'the policy acknowledges host-root: without a mount namespace only not being root would stop it'
    : undefined

export const HOST_PROBES: readonly ProbeSpec[] = [
  {
    name: 'setuid-plant',
    calls: [['chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'open', 'openat', 'creat', 'mknod', 'mknodat']],
    targets: ({ paths, add }) => add(paths.plantDir, 'a writable bind of a host directory'),
    verdict: ({ fx, spec, kept }) => {
      const planted = plantedSetuid(fx)
      return kept(
        planted.length > 0,
        spec.layers.stripped,
        `setuid/setgid on the host: ${planted.join(', ')}`,
      )
    },
    attack: 'leave a setuid/setgid file on the host through a writable bind (chmod, create, mknod)',
    // Every entry point, each as the probe makes it (native/attack-files.c PLANTS); the attack
    // needs a set-id bit in the mode, and O_CREAT where an open creates.
    args: {
      fchmodat: [AT_FDCWD, 0n, 0o4755n],
      fchmodat2: [AT_FDCWD, 0n, 0o2755n],
      fchmod: [0n, 0o6755n],
      openat: [AT_FDCWD, 0n, O_CREAT_EXCL, 0o4755n],
      mknodat: [AT_FDCWD, 0n, S_IFREG | 0o4755n],
      chmod: [0n, 0o2755n],
      open: [0n, O_CREAT_EXCL, 0o2755n],
      creat: [0n, 0o4755n],
      mknod: [0n, S_IFREG | 0o2755n],
    },
    essential: {
      fchmodat: { 2: SETID },
      fchmodat2: { 2: SETID },
      fchmod: { 1: SETID },
      openat: { 2: O_CREAT, 3: SETID },
      mknodat: { 2: SETID },
      chmod: { 1: SETID },
      open: { 1: O_CREAT, 2: SETID },
      creat: { 1: SETID },
      mknod: { 1: SETID },
    },
    layers: {
      EPERM: 'kernel (not the owner)',
      EROFS: 'mount view (read-only)',
      EACCES: 'landlock or file permissions',
      ENOENT: 'mount view',
      stripped: 'kernel (no setuid/setgid bit reached the host)',
    },
  },
  {
    name: 'device-metadata',
    // Every call that changes a file's metadata: the xattrs carry its ACL, which sets its mode
    // too (helper-158: setxattr(system.posix_acl_access) turned the host's /dev/full 660).
    calls: [
      [
        ...['chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'fchownat', 'lchown'],
        ...['utimensat', 'utime', 'utimes', 'futimesat'],
        ...['setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat'],
        ...['removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat', 'file_setattr'],
      ],
    ],
    targets: ({ policy, ctx, spec, add, skip }) => {
      // Where the policy lets it through (host root acknowledged) the attack would really
      // change the host's /dev/null: it is not run, only reported.
      const allowed = spec.notExpected?.(policy, ctx, spec.name)
      if (allowed) skip(`${allowed}; not run, since it would change the host's device nodes`)
      else add(undefined, `host ${DEVICE_NODES.join(', ')}`)
    },
    verdict: ({ raw, fx, spec, kept }) => {
      // The sandbox changed a host node when a call got through and the node changed: a call
      // that got through on the sandbox's own nodes leaves the host's alone, and a change while
      // every call failed came from elsewhere on the host — neither claims an escape.
      const changed = DEVICE_NODES.filter((d) => deviceSignature(d) !== fx.devices.get(d))
      if (raw.outcome !== 'escaped' && changed.length)
        return {
          outcome: 'error',
          detail: `every call failed, yet ${changed.join(', ')} changed during the run: something else on the host changed it; run again`,
        }
      return kept(
        raw.outcome === 'escaped' && changed.length > 0,
        spec.layers.private,
        `changed on the host: ${changed.join(', ')}`,
      )
    },
    // Alone, so that its host stat brackets only its own milliseconds: on a busy host something
    // else may touch /dev/null.
    alone: 'bracketed',
    // The nodes as they were just before its run: what changed during it is the probe's doing.
    fixture: (fx) => {
      for (const d of DEVICE_NODES) fx.devices.set(d, deviceSignature(d))
      return { remove: () => {} }
    },
    attack: "change the host's device nodes (chmod, chown, utimensat on /dev/null, zero, full)",
    args: { fchmodat: [AT_FDCWD, 0n, 0o666n] },
    notExpected: (p, ctx) => hostRootAcknowledged(p, ctx),
    layers: {
      EPERM: 'user namespace (the host owns the nodes) or capabilities',
      EROFS: 'mount view (read-only)',
      EACCES: 'landlock',
      ENOENT: 'mount view',
      private: "mount view (the sandbox's own nodes: the host's are unchanged)",
    },
  },
  {
    name: 'root-only-read',
    calls: OPEN_CALLS,
    targets: ({ paths, add, skip }) => {
      if (paths.secret) add(paths.secret, 'a 0600 root-owned host file')
      else skip('preparing a root-only file needs root')
      for (const f of ROOT_ONLY_FILES) add(f, f)
    },
    attack: 'read a root-only host file or kernel table (/proc/slabinfo, kcore, keys…)',
    args: { openat: openat(O_READ) },
    // The kernel tables are masked everywhere; a root-only file is shut only to a sandbox that is
    // not host root (plan/compile.ts sandboxIdentity), which the status reports as partial.
    notExpected: (p, ctx, label) =>
      hostRootAcknowledged(p, ctx) ??
      (!p.namespaces.mount && ctx.backend === 'native' && label.endsWith('=/proc/keys')
        ? "no mount namespace: nothing masks /proc/keys, which lists the caller's own keys (the status: proc partial)"
        : undefined) ??
      (ctx.uid !== 0 || label.includes('=/proc/')
        ? undefined
        : p.user.hostRoot
          ? 'user.hostRoot: the sandbox holds host root\u2019s file permissions'
          : ctx.backend === 'gvisor'
            ? "gvisor runs a root caller's container as host root"
            : ctx.backend === 'runc'
              ? "runc runs a root caller's container as host root when it has writable binds (the battery's has one)"
              : undefined),
    layers: {
      EACCES: 'file permissions (not host root) or Landlock',
      EPERM: 'capabilities',
      ENOENT: 'mount view (or absent on this kernel)',
      none: 'mount view (masked) or nothing to read',
    },
  },
  // No-namespace mode: what a sandbox reaches by the host's own paths (issue 18).
  {
    name: 'proc-host-write',
    calls: OPEN_CALLS,
    targets: ({ fx, add }) => add(String(fx.sleeper.pid), `/proc/${fx.sleeper.pid}/oom_score_adj`),
    attack: "open a host process's /proc knob for writing (oom_score_adj)",
    args: { openat: openat(O_WRITE) },
    layers: {
      ENOENT: 'pid namespace',
      EACCES: 'Landlock (read-only /proc) or file permissions',
      EROFS: 'mount view (read-only)',
    },
  },
  {
    name: 'host-device',
    calls: OPEN_CALLS,
    targets: ({ add, unsupported }) => {
      const devices = unlistedDevices()
      for (const d of devices) add(d, d)
      if (!devices.length) unsupported('this host has none of the devices the probe tries')
    },
    // gVisor answers opens of its own /dev (fuse, tun) itself: no host device was opened.
    verdict: ({ backend, spec, kept }) => (backend === 'gvisor' ? kept(false, spec.layers.own) : undefined),
    attack: 'open a host device the policy does not list (another terminal, fuse, tun, kmsg)',
    args: { openat: openat(O_RDWR_DEVICE) },
    layers: {
      ENOENT: 'mount view',
      EACCES: 'Landlock (only the listed devices) or file permissions',
      EPERM: 'capabilities',
      ENXIO: 'kernel (no such device)',
      ENODEV: 'kernel (no such device)',
      own: "the sandbox kernel's own /dev (the host's devices are out of reach)",
    },
  },
  {
    name: 'host-tmp-write',
    calls: CREATE_CALLS,
    targets: ({ fx, add }) => add(fx.tmpTarget, '/tmp'),
    verdict: ({ fx, spec, kept }) => kept(existsSync(fx.tmpTarget), spec.layers.private),
    attack: "create a file in the host's /tmp",
    args: { openat: openat(O_CREAT_EXCL, 0o600n) },
    layers: {
      EACCES: "Landlock (the host's /tmp is out of reach)",
      EROFS: 'mount view (read-only)',
      private: 'mount view (a private tmpfs: nothing reached the host)',
    },
  },
  {
    name: 'unix-socket',
    calls: socketThen('connect', ...DATAGRAM_SENDS), // or a datagram sent to its path (helper-158)
    targets: ({ fx, add }) => add(fx.socketPath, fx.socketPath),
    attack: 'connect to a host pathname UNIX socket (docker.sock, D-Bus, another sandbox)',
    args: { socket: [1n, SOCK_STREAM | SOCK_CLOEXEC, 0n] },
    notExpected: (p) =>
      !p.namespaces.mount && p.acknowledge?.includes('no-view')
        ? 'the policy acknowledges no-view: without a mount namespace no layer refuses connect()'
        : undefined,
    layers: {
      ENOENT: 'mount view',
      EACCES: 'file permissions',
      ECONNREFUSED: 'mount view',
    },
  },
]
