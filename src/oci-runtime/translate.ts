// config.json → a cordon plan. Each field is carried out by a plan op, by cordon-oci around
// the launcher (hooks, cgroups, sysctls, oomScoreAdj), or refused by name (spec.ts).
import { statSync } from 'node:fs'
import { capabilityNumber } from '../policy/capabilities.js'
import { CLONE_FLAGS, MS_PROPAGATION, type Plan, type PlanOp } from '../plan/model.js'
import { deviceGuardOps, landlockOps, landlockWanted } from './landlock.js'
import type { ViewMount } from './mounts.js'
import { type CgroupView, viewOps } from './mounts.js'
import type { DeviceFilter } from './cgroups.js'
import { seccompOps } from './seccomp.js'
import type { CachedFilter } from './seccomp-cache.js'
import { HOOK_NAMES, invalid, type OciConfig, refuseUnknown, unsupported } from './spec.js'
import { hookOps, validateHooks } from './hooks.js'
import { resolveSysctls, type SysctlWrite } from './sysctl.js'

const NAMESPACES: Readonly<Record<string, number>> = {
  pid: CLONE_FLAGS.pid,
  network: CLONE_FLAGS.net,
  mount: CLONE_FLAGS.mount,
  ipc: CLONE_FLAGS.ipc,
  uts: CLONE_FLAGS.uts,
  user: CLONE_FLAGS.user,
  cgroup: CLONE_FLAGS.cgroup,
  time: CLONE_FLAGS.time,
}

const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
}

const TOP_KEYS = ['ociVersion', 'process', 'root', 'hostname', 'mounts', 'hooks', 'annotations', 'linux']
const PROCESS_KEYS = [
  'terminal',
  'consoleSize',
  'user',
  'args',
  'env',
  'cwd',
  'capabilities',
  'rlimits',
  'noNewPrivileges',
  'oomScoreAdj',
]
const LINUX_KEYS = [
  'namespaces',
  'uidMappings',
  'gidMappings',
  'devices',
  'cgroupsPath',
  'resources',
  'rootfsPropagation',
  'seccomp',
  'sysctl',
  'maskedPaths',
  'readonlyPaths',
]

export interface Translation {
  plan: Plan
  rootfs: string
  /** Host-side steps of cordon-oci around the launcher. */
  sysctl: SysctlWrite[]
  oomScoreAdj: number | undefined
  umask: number
  /** What the container gets differently from runc, for the runtime's --log. */
  warnings: string[]
}

export interface TranslateOptions {
  bundle: string
  cgroups: CgroupView
  /** cgroup directories the launcher moves the container into. */
  cgroupDirs: string[]
  /** cgroup v2: linux.resources.devices as a program the launcher attaches (cgroups.ts). */
  deviceFilter?: DeviceFilter
  /** fds the container keeps above 2 (--preserve-fds, LISTEN_FDS). */
  preserveFds: number
  /** --console-socket: the launcher sends the pty master there (process.terminal). */
  consoleSocket?: string
  /** The state createContainer and startContainer hooks read (hooks.ts hookState), without
   * the pid the launcher adds. */
  hookStates?: { createContainer: object; startContainer: object }
  /** linux.seccomp compiled (seccomp.ts seccompFilter, from the state root's cache or the
   * compiler); required when the config has linux.seccomp. */
  seccomp?: CachedFilter
  /** org.cordon.policy's layers (policy.ts, loaded only when the annotation is there). */
  policy?: {
    landlock(mounts: ViewMount[], notes: string[]): PlanOp[]
    seccomp(notes: string[]): PlanOp[]
  }
}

/** The namespace file at path is cordon-oci's own of that type (same nsfs inode as
 * /proc/self/ns/FILE). */
function isOwn(path: string, file: 'mnt' | 'uts'): boolean {
  try {
    const given = statSync(path)
    const own = statSync(`/proc/self/ns/${file}`)
    return own.dev === given.dev && own.ino === given.ino
  } catch {
    return false // a missing path fails in the launcher, naming it
  }
}

export interface Namespaces {
  ops: PlanOp[]
  /** Types the container gets new. */
  own: string[]
  /** It shares cordon-oci's mount namespace (none in the config): op leave_mount_ns. */
  leaveMount: boolean
  /** Its root is a detached view in a namespace it does not own (cordon-oci's, or one joined
   * by path): the view is built in a private copy, then op leave_mount_ns. */
  detachedRoot: boolean
}

function namespaceOps(config: OciConfig): Namespaces {
  let flags = 0
  const joins: PlanOp[] = []
  const own: string[] = []
  ;(config.linux?.namespaces ?? []).forEach((ns, i) => {
    const bit = NAMESPACES[ns.type]
    if (bit === undefined)
      throw invalid(`linux.namespaces[${i}].type`, Object.keys(NAMESPACES).join(' | '), ns.type)
    if (ns.path) joins.push({ op: 'setns', type: bit, path: ns.path })
    else {
      flags |= bit
      own.push(ns.type)
    }
  })
  // The user namespace first: the others may be owned by it (runc's order).
  joins.sort(
    (a, b) =>
      Number(b.op === 'setns' && b.type === CLONE_FLAGS.user) -
      Number(a.op === 'setns' && a.type === CLONE_FLAGS.user),
  )
  const joinsMount = joins.some((j) => j.op === 'setns' && j.type === CLONE_FLAGS.mount)
  // No mount namespace: the container is in cordon-oci's own, as the spec says. Its view is
  // built in a private one all the same, then cloned detached as its root while it goes back
  // (plan op leave_mount_ns): not a mount is made in the host's namespace, where runc mounts
  // and chroots.
  const leaveMount = !(flags & CLONE_FLAGS.mount) && !joinsMount
  if (leaveMount) {
    if (flags & CLONE_FLAGS.user)
      throw unsupported(
        'linux.namespaces',
        'a new "user" namespace without a "mount" namespace: the container could not go back to the runtime\'s mount namespace from it; add a "mount" namespace',
      )
    flags |= CLONE_FLAGS.mount
  }
  // A mount namespace joined by path may hold other processes (another container, the host's
  // own): the view is built in a private copy of it and the container goes back to it with the
  // view as a detached root, so its mounts, their propagation and its root stay as they were.
  if (joinsMount && flags & CLONE_FLAGS.user)
    throw unsupported(
      'linux.namespaces',
      'a new "user" namespace with a "mount" namespace joined by path: the container could not go back to the joined namespace from it (it has no privilege over it); join the user namespace that owns it, or give the container a new "mount" namespace',
    )
  for (const j of joins)
    if (j.op === 'setns' && j.type === CLONE_FLAGS.mount && isOwn(j.path, 'mnt'))
      throw unsupported(
        `linux.namespaces (mount, path ${j.path})`,
        "this is cordon-oci's own mount namespace, whose root the container's view would replace; leave the mount namespace out to share it, or give the container one of its own",
      )
  const ops: PlanOp[] = [{ op: 'namespaces', flags }, ...joins]
  if (flags & CLONE_FLAGS.user) {
    const maps = (kind: 'uid' | 'gid') => {
      const list = (kind === 'uid' ? config.linux?.uidMappings : config.linux?.gidMappings) ?? []
      if (!list.length) throw invalid(`linux.${kind}Mappings`, 'mappings for the new user namespace', list)
      // A plain user may write one line of their own id (no newuidmap): the launcher's own.
      const own = kind === 'uid' ? process.geteuid?.() : process.getegid?.()
      if (own !== undefined && process.geteuid?.() !== 0) {
        const m = list[0]!
        if (list.length !== 1 || m.size !== 1 || m.hostID !== own)
          throw unsupported(
            `linux.${kind}Mappings`,
            `as a plain user (${kind} ${own}) cordon-oci maps only your own ${kind}: one entry {"containerID": N, "hostID": ${own}, "size": 1} (runc spec --rootless writes it); wider maps need newuidmap, which cordon-oci does not use`,
          )
        return [{ op: `${kind}_map`, inside: m.containerID, outside: 'caller', count: 1 } as PlanOp]
      }
      return list.map((m): PlanOp => ({
        op: `${kind}_map`,
        inside: m.containerID,
        outside: m.hostID,
        count: m.size,
      }))
    }
    ops.push(...maps('uid'), ...maps('gid'))
  } else if (config.linux?.uidMappings?.length || config.linux?.gidMappings?.length) {
    throw unsupported('linux.uidMappings', 'mappings need a new user namespace')
  } else if (process.geteuid?.() !== 0) {
    throw unsupported(
      'linux.namespaces',
      `as a plain user (uid ${process.geteuid?.()}) cordon-oci needs a new "user" namespace mapping your own uid and gid (runc spec --rootless writes one), or run it as root`,
    )
  }
  return { ops, own, leaveMount, detachedRoot: leaveMount || joinsMount }
}

function capsMask(config: OciConfig): bigint {
  const caps = config.process?.capabilities ?? {}
  const mask = (set: 'bounding' | 'effective' | 'permitted' | 'ambient' | 'inheritable') => {
    let m = 0n
    for (const name of caps[set] ?? []) {
      const n = capabilityNumber(name)
      if (n === undefined)
        throw invalid(`process.capabilities.${set}`, 'capability names like CAP_CHOWN', name)
      m |= 1n << BigInt(n)
    }
    return m
  }
  const bounding = mask('bounding')
  const ambient = mask('ambient')
  const inheritable = mask('inheritable')
  // One set for all five (native/command.c caps_drop). A root process gets its bounding set at
  // execve whatever its effective set says; another uid keeps only what is ambient, so the
  // bounding set then shrinks to the ambient one (stricter than runc: no setuid binary inside
  // can regain more).
  const uid = config.process?.user.uid ?? 0
  const keep = uid === 0 ? bounding : ambient & bounding
  if (inheritable & ~keep)
    throw unsupported(
      'process.capabilities.inheritable',
      'must be within the kept set (bounding for root, ambient otherwise)',
    )
  return keep
}

function processOps(config: OciConfig, opts: TranslateOptions): PlanOp[] {
  const p = config.process
  if (!p) throw invalid('process', 'a process to run', p)
  refuseUnknown(p, PROCESS_KEYS, 'process', 'not supported by cordon-oci')
  if (p.terminal && !opts.consoleSocket)
    throw unsupported(
      'process.terminal',
      'a terminal needs --console-socket (the engine receives the pty master there, as from runc)',
    )
  if (!p.terminal && opts.consoleSocket)
    throw invalid(
      'process.terminal',
      'true with --console-socket (runc refuses a socket without a terminal)',
      false,
    )
  if (!p.args?.length) throw invalid('process.args', 'a non-empty argument list', p.args)
  if (!p.cwd?.startsWith('/')) throw invalid('process.cwd', 'an absolute path', p.cwd)
  const ops: PlanOp[] = []
  for (let fd = 3; fd < 3 + opts.preserveFds; fd++) ops.push({ op: 'keep_fd', fd })
  for (const e of p.env ?? []) {
    const eq = e.indexOf('=')
    if (eq <= 0) throw invalid('process.env', 'NAME=value entries', e)
    ops.push({ op: 'env_set', name: e.slice(0, eq), value: e.slice(eq + 1) })
  }
  for (const arg of p.args) ops.push({ op: 'exec_arg', arg })
  if (opts.deviceFilter)
    ops.push({ op: 'cgroup_devices', path: opts.deviceFilter.dir, program: opts.deviceFilter.program })
  for (const dir of opts.cgroupDirs) ops.push({ op: 'cgroup', path: dir })
  return ops
}

/** Landlock and seccomp need no_new_privs or CAP_SYS_ADMIN (the launcher's order is ids → caps →
 * no_new_privs → Landlock → seccomp, native/plan.h): with noNewPrivileges false, CAP_SYS_ADMIN
 * is held, outside every inheritable set, until execve drops it (command.h caps_drop_holding). */
function tailOps(
  config: OciConfig,
  hostname: PlanOp[],
  needsNnp: boolean,
  newUserNs: boolean,
  notes: string[],
): PlanOp[] {
  const p = config.process!
  const ops: PlanOp[] = [...hostname]
  ;(p.rlimits ?? []).forEach((r, i) => {
    const resource = RLIMITS[r.type]
    if (resource === undefined) throw invalid(`process.rlimits[${i}].type`, 'an RLIMIT_* name', r.type)
    ops.push({ op: 'rlimit', resource, soft: BigInt(r.soft), hard: BigInt(r.hard) })
  })
  ops.push({ op: 'chdir', path: p.cwd }, { op: 'setsid' })
  const groups = p.user.additionalGids ?? []
  if (groups.length > 64) throw invalid('process.user.additionalGids', 'at most 64 groups', groups.length)
  // A new user namespace gets "deny" in setgroups before its gid_map (DESIGN.md: no process
  // inside may drop a group that denies it access on the host), and the launcher empties the
  // groups before the clone: supplementary groups there cannot be honoured, so they are refused.
  if (newUserNs && groups.some((g) => g !== p.user.gid))
    throw unsupported(
      'process.user.additionalGids',
      `${JSON.stringify(groups)} cannot be set in a new user namespace: cordon-oci denies setgroups there before writing gid_map, so the process has no supplementary groups; remove them, or drop the "user" namespace`,
    )
  ops.push(
    newUserNs
      ? { op: 'ids', uid: p.user.uid, gid: p.user.gid, setgroups: false }
      : { op: 'ids', uid: p.user.uid, gid: p.user.gid, setgroups: true, groups },
  )
  const keep = capsMask(config)
  const SYS_ADMIN = 1n << 21n
  const hold = !p.noNewPrivileges && needsNnp && !(keep & SYS_ADMIN) ? SYS_ADMIN : 0n
  ops.push({ op: 'caps', keep, ...(hold ? { hold } : {}) })
  if (p.noNewPrivileges) ops.push({ op: 'no_new_privs' })
  if (hold)
    notes.push(
      'caps: CAP_SYS_ADMIN held until execve drops it, for Landlock and seccomp without no_new_privs',
    )
  return ops
}

/** Translates a bundle's config; throws a CordonError naming the first field it cannot carry out. */
export function translateConfig(config: OciConfig, opts: TranslateOptions): Translation {
  refuseUnknown(config, TOP_KEYS, '', 'not supported by cordon-oci')
  refuseUnknown(config.linux, LINUX_KEYS, 'linux', 'not supported by cordon-oci')
  for (const name of Object.keys(config.hooks ?? {}))
    if (!(HOOK_NAMES as readonly string[]).includes(name))
      throw invalid(`hooks.${name}`, HOOK_NAMES.join(' | '), name)
  validateHooks(config)
  const ns = namespaceOps(config)
  const hostname: PlanOp[] = []
  if (config.hostname) {
    const uts = config.linux?.namespaces?.find((n) => n.type === 'uts')
    if (!uts) throw unsupported('hostname', 'needs a uts namespace of the container (new or joined by path)')
    if (uts.path && isOwn(uts.path, 'uts'))
      throw unsupported(
        'hostname',
        `the uts namespace ${uts.path} is cordon-oci's own: the hostname would be the host's; leave the path out or name another`,
      )
    hostname.push({ op: 'hostname', name: config.hostname })
  }
  const view = viewOps(config, opts.bundle, opts.cgroups, ns.own.includes('user'))
  const notes: string[] = []
  const warnings: string[] = []
  if (
    view.late.some(
      (op) => op.op === 'propagation' && op.flags & (MS_PROPAGATION.shared | MS_PROPAGATION.slave),
    )
  )
    warnings.push(
      "shared or slave propagation acts within the container's mount namespace only (cut from the host's peer groups before its first mount): nothing propagates to or from the host",
    )
  notes.push(...warnings)
  const landlock = landlockWanted(config)
  const nnp = landlock || !!config.linux?.seccomp || !!opts.policy
  // createContainer hooks: the last steps of the view, before its pivot_root.
  const createHooks = hookOps(
    'createContainer',
    config.hooks?.createContainer ?? [],
    opts.hookStates?.createContainer ?? { status: 'creating' },
  )
  const pivot = view.ops.findIndex((op) => op.op === 'pivot_root')
  const viewOpsWithHooks = [...view.ops.slice(0, pivot), ...createHooks, ...view.ops.slice(pivot)]
  if (ns.leaveMount && capsMask(config) & (1n << 21n))
    throw unsupported(
      'process.capabilities',
      "CAP_SYS_ADMIN with no mount namespace of the container's own: it would mount over the host's paths in cordon-oci's namespace; drop it, or add a \"mount\" namespace",
    )
  const ops: PlanOp[] = [
    ...ns.ops,
    ...processOps(config, opts),
    ...viewOpsWithHooks,
    ...view.late,
    ...(ns.detachedRoot ? [{ op: 'leave_mount_ns' } as const] : []),
    ...tailOps(config, hostname, nnp, ns.own.includes('user'), notes),
  ]
  // A policy's Landlock rules replace the ones derived from the mounts (one ruleset per plan),
  // each narrowed to its mount's rights; its filter is loaded after the config's.
  if (opts.policy) ops.push(...opts.policy.landlock(view.mounts, notes))
  else if (landlock) ops.push(...landlockOps(view.mounts, notes))
  else ops.push(...deviceGuardOps(notes))
  ops.push(...seccompOps(config, notes, opts.seccomp))
  if (opts.policy) ops.push(...opts.policy.seccomp(notes))
  ops.push(
    ...hookOps(
      'startContainer',
      config.hooks?.startContainer ?? [],
      opts.hookStates?.startContainer ?? { status: 'created' },
    ),
  )
  const umask = config.process!.user.umask ?? 0o022
  return {
    plan: { ops: sortByPhase(ops), notes },
    rootfs: view.rootfs,
    sysctl: resolveSysctls(config),
    oomScoreAdj: config.process!.oomScoreAdj,
    umask,
    warnings,
  }
}

/** Phase 0 ops come from several sections; the launcher needs phases in order (stable sort). */
function sortByPhase(ops: PlanOp[]): PlanOp[] {
  const phase = (op: PlanOp) =>
    op.op === 'namespaces' ||
    op.op === 'setns' ||
    op.op.endsWith('_map') ||
    op.op === 'keep_fd' ||
    op.op.startsWith('env') ||
    op.op === 'exec_arg' ||
    op.op === 'cgroup' ||
    op.op === 'cgroup_devices'
      ? 0
      : 1
  return [...ops.filter((o) => phase(o) === 0), ...ops.filter((o) => phase(o) === 1)]
}
