// An OCI runtime bundle (config.json + rootfs/) for runc, crun and runsc: the policy's view
// becomes mounts over an empty read-only root, its namespaces, identity, capabilities,
// no_new_privs, rlimits, cgroup resources and seccomp profile the runtime-spec fields of the
// same meaning. runtime-spec 1.0.2: what Debian's runc 1.1 and runsc read.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { withInit } from './container-init.js'
import { sandboxIdentity } from '../plan/compile.js'
import { runscConfig } from './gvisor.js'
import { cgroupAccess } from '../cgroup/select.js'
import { blkioWeight, cpuShares } from '../cgroup/v1.js'
import { DEVICES, execGranted, noexecWhere, procMaskedPaths, realHostFs } from '../plan/view.js'
import { rlimitsFor } from '../policy/effective.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { hostPathIn, isLinkBind, latestAtEachPlace } from '../policy/view-paths.js'
import { hostKernelMounts, readOnlySubmounts } from '../policy/wide-binds.js'
import { type OciProfile, stringifyOci } from '../seccomp/oci.js'
import {
  binds,
  type Exported,
  type ExportFile,
  type ExportOptions,
  exportIdentity,
  type Gap,
  isDirectory,
  keptCapabilities,
  ownDevNeeded,
  landlockGap,
  seccompProfile,
} from './model.js'
import { fsPath } from '../host/path-bytes.js'

export interface OciMount {
  destination: string
  type: string
  source: string
  options?: string[]
}

export interface OciConfig {
  ociVersion: string
  process: {
    terminal: boolean
    user: { uid: number; gid: number }
    args: string[]
    env: string[]
    cwd: string
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>
    rlimits?: { type: string; hard: number; soft: number }[]
    noNewPrivileges: boolean
  }
  root: { path: string; readonly: boolean }
  hostname?: string
  mounts: OciMount[]
  linux: {
    namespaces: { type: string }[]
    uidMappings?: { containerID: number; hostID: number; size: number }[]
    gidMappings?: { containerID: number; hostID: number; size: number }[]
    resources?: Record<string, unknown>
    cgroupsPath?: string
    seccomp?: OciProfile
    maskedPaths: string[]
    readonlyPaths: string[]
  }
}

const NAMESPACE_TYPES: Record<string, string> = {
  pid: 'pid',
  mount: 'mount',
  ipc: 'ipc',
  uts: 'uts',
  net: 'network',
  cgroup: 'cgroup',
  user: 'user',
  time: 'time',
}

/** What cordon's own proc mount hides (plan/view.ts), and /sys/firmware as runc does. */
const MASKED = [...procMaskedPaths(), '/sys/firmware']
/** The same /proc files cordon's own proc mount makes read-only (native/view.c do_proc). */
const READ_ONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

/** The empty file masked files are bound to (see `mask` below). */
const MASK_FILE = 'files/masked'
/** The bundle's copy of cordon's container init. */
const INIT_FILE = 'files/cordon-init'

const isSysfsRoot = (path: string) => hostKernelMounts().some((m) => m.type === 'sysfs' && m.point === path)

/**
 * A `mkdir:` or `symlink:` entry beneath a tmpfs is a name in the bundle's rootfs, which runc
 * then covers with the tmpfs: the launcher makes them in the tmpfs, after mounting it, and under
 * runc they were gone (a learned policy's working directory too), the tmpfs's mode replaced by
 * the mkdir'd parent's (runc gives a tmpfs the mode of a mount point that existed). runc's
 * `tmpcopyup` copies the rootfs's names into the tmpfs, and the mount point is made with the
 * tmpfs's mode. Only on a mount point of the bundle's own (beneath the rootfs or another tmpfs):
 * beneath a bind it would copy the host's directory. runsc ignores `tmpcopyup` (README).
 */
function copyUpOwnNames(view: readonly ViewEntry[], mounts: OciMount[], rootfsEntries: ExportFile[]): void {
  const inside = (path: string, dir: string) => path.startsWith(dir === '/' ? '/' : `${dir}/`)
  for (const e of view) {
    if (e.kind !== 'tmpfs') continue
    const names = rootfsEntries.filter((f) => inside(f.path.slice('rootfs'.length), e.dest))
    if (!names.length) continue
    const holder = mounts
      .filter((m) => m.destination !== e.dest && inside(e.dest, m.destination))
      .reduce<OciMount | undefined>(
        (a, m) => (!a || m.destination.length >= a.destination.length ? m : a),
        undefined,
      )
    if (holder && holder.type !== 'tmpfs') continue
    const mount = mounts.findLast((m) => m.destination === e.dest && m.type === 'tmpfs')
    if (!mount) continue
    mount.options = [...(mount.options ?? []), 'tmpcopyup']
    rootfsEntries.unshift({ kind: 'dir', path: `rootfs${e.dest}`, mode: e.mode })
  }
}

/**
 * runc 1.1 gives a tmpfs the mode of the mount point it covers when one was there (it stats the
 * destination, mounts, then chmods the tmpfs's root to what it saw), not its `mode=`: a
 * `--tmpfs ./sub` over a host directory of mode 0700 under a bind was 0700 where cordon's own
 * launcher makes it 1777, and a non-root `user:` could not write it. A bind of an empty directory
 * of the bundle's own with the tmpfs's mode goes first, at the same place: runc sees that mode
 * there, and the tmpfs, mounted over it, hides it. Only where a host directory of another mode
 * is the mount point; runsc takes `mode=` as it is, and the bind is harmless there.
 */
function modeUnder(
  e: ViewEntry & { kind: 'tmpfs' },
  view: readonly ViewEntry[],
  mounts: OciMount[],
  files: ExportFile[],
) {
  const host = hostPathIn(view, e.dest, e)
  const st = host === undefined ? undefined : statSync(fsPath(host), { throwIfNoEntry: false })
  if (!st?.isDirectory() || (st.mode & 0o7777) === e.mode) return
  // The directory is world-writable (1777): `modes` is closed to everyone but the container's
  // root (backends/runtime.ts gives it to a remapped root), or any local user could fill it and
  // race the bundle's removal (helper-126).
  if (!files.some((f) => f.path === 'modes')) files.push({ kind: 'dir', path: 'modes', mode: 0o700 })
  const dir = `modes/${e.mode.toString(8)}`
  if (!files.some((f) => f.path === dir)) files.push({ kind: 'dir', path: dir, mode: e.mode })
  mounts.push({
    destination: e.dest,
    type: 'bind',
    source: dir,
    options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
  })
}

/** The config; `files/` holds the contents of `file` entries, bound read-only. */
export function ociConfig(
  policy: ResolvedPolicy,
  options: ExportOptions,
): { config: OciConfig; files: ExportFile[]; gaps: Gap[] } {
  const gaps: Gap[] = []
  const files: ExportFile[] = []
  const ns = policy.namespaces
  const { uid, gid } = exportIdentity(policy, options)
  const mounts: OciMount[] = []
  const rootfsEntries: ExportFile[] = []
  const present = new Set(binds(policy)) // optional sources missing here are left out
  // An entry at a place a later one takes is not mounted, as compileView leaves it out: the
  // runtime would still have made its mount point, and shown what the policy replaced.
  const view = latestAtEachPlace(policy.filesystem)
  // Where Landlock's missing execute would not stop ld.so (plan/view.ts noexecWhere); runc and
  // gVisor apply no Landlock, so this is the only layer there.
  const exec = { execGranted: execGranted(policy) }
  const noexec = (e: ViewEntry) => (noexecWhere(e, exec) ? ['noexec'] : [])
  for (const e of view) {
    switch (e.kind) {
      case 'bind':
        // A same-path bind of a host link (/bin -> usr/bin on merged-/usr hosts) is the link, as
        // the launcher's view makes it (plan/view.ts): runc binding its target there left a
        // second copy of /usr/bin that an entry settled at /usr/bin/su (policy/view-dests.ts)
        // did not cover.
        if (isLinkBind(e, realHostFs)) {
          rootfsEntries.push({ kind: 'symlink', path: `rootfs${e.dest}`, target: realHostFs.readlink(e.src) })
          break
        }
        if (present.has(e) && e.readOnly && isSysfsRoot(e.src)) {
          // The view keeps the host's /sys read-only from a wide bind (policy/wide-binds.ts):
          // runc's own read-only sysfs and cgroupfs, as in its default spec, do that here.
          mounts.push(
            {
              destination: e.dest,
              type: 'sysfs',
              source: 'sysfs',
              options: ['nosuid', 'noexec', 'nodev', 'ro'],
            },
            {
              destination: `${e.dest}/fs/cgroup`,
              type: 'cgroup',
              source: 'cgroup',
              options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
            },
          )
          break
        }
        if (present.has(e))
          mounts.push({
            destination: e.dest,
            type: 'bind',
            source: e.src,
            options: ['rbind', e.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev', ...noexec(e)],
          })
        // `ro` reaches only the top of an rbind in runc 1.1: each mount below, again (issue 18);
        // so does `noexec`, the one layer runc has for it (helper-139: a tmpfs mounted inside a
        // writable bind without execute ran its programs).
        if (present.has(e) && (e.readOnly || noexec(e).length))
          for (const sub of readOnlySubmounts(view, e))
            mounts.push({
              destination: sub.dest,
              type: 'bind',
              source: sub.src,
              options: ['bind', e.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev', ...noexec(e)],
            })
        break
      case 'tmpfs':
        modeUnder(e, policy.filesystem, mounts, files)
        mounts.push({
          destination: e.dest,
          type: 'tmpfs',
          source: 'tmpfs',
          options: [
            'nosuid',
            'nodev',
            ...noexec(e),
            `mode=${e.mode.toString(8)}`,
            ...(e.size ? [`size=${e.size}`] : []),
          ],
        })
        break
      case 'proc':
        mounts.push({
          destination: e.dest,
          type: 'proc',
          source: 'proc',
          options: ['nosuid', 'nodev', 'noexec'],
        })
        break
      case 'dev':
        // runc fills a tmpfs /dev with null, zero, full, random, urandom, tty and the pts links.
        // noexec, as cordon's own /dev: it is the container root's to write, so a program copied
        // there ran, by execve and by ld.so (helper-141). Not nodev: runc's nodes are in it.
        mounts.push(
          {
            destination: e.dest,
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'noexec', 'strictatime', 'mode=755', 'size=65536k'],
          },
          {
            destination: `${e.dest}/pts`,
            type: 'devpts',
            source: 'devpts',
            options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
          },
          {
            destination: `${e.dest}/shm`,
            type: 'tmpfs',
            source: 'shm',
            options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
          },
        )
        break
      case 'mask': {
        // Mounts, not maskedPaths: gVisor ignores maskedPaths. A directory becomes an empty
        // read-only tmpfs; a file a read-only bind of an empty file of the bundle's, which
        // reads as /dev/null does. Never the host's /dev/null: no host device node is handed
        // to a runtime (runsc's gofer opens bind sources on the host as root).
        // What it hides is the host path `host` names when a bind shows it elsewhere (`--ro
        // /etc:/cfg` moves /etc/shadow's mask to /cfg/shadow): judged there, mounted at dest.
        if (!existsSync(fsPath(e.host ?? e.dest))) break
        if (isDirectory(e.host ?? e.dest)) {
          mounts.push({
            destination: e.dest,
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['ro', 'nosuid', 'nodev', 'noexec', 'size=4k', 'mode=755'],
          })
          break
        }
        if (!files.some((f) => f.path === MASK_FILE))
          files.push({ kind: 'file', path: MASK_FILE, content: '', mode: 0o444 })
        mounts.push({
          destination: e.dest,
          type: 'bind',
          source: MASK_FILE,
          options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
        })
        break
      }
      case 'symlink':
        rootfsEntries.push({ kind: 'symlink', path: `rootfs${e.dest}`, target: e.target })
        break
      case 'mkdir':
        rootfsEntries.push({ kind: 'dir', path: `rootfs${e.dest}` })
        break
      case 'file': {
        const stored = `files/${files.length}-${basename(e.dest)}`
        files.push({ kind: 'file', path: stored, content: e.content, mode: e.mode })
        mounts.push({ destination: e.dest, type: 'bind', source: stored, options: ['bind', 'ro'] })
        break
      }
    }
  }
  copyUpOwnNames(view, mounts, rootfsEntries)
  // Without a /dev of the view's own, runc makes its device nodes and links in the rootfs's
  // /dev, which a bind holding it (`rw: DIR:/`) makes the host's directory: a tmpfs there.
  if (ownDevNeeded(policy))
    mounts.push({
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'noexec', 'strictatime', 'mode=755', 'size=65536k'],
    })
  if (!ns.mount)
    gaps.push({
      statement: 'no mount namespace',
      why: 'an OCI container always has one; the export mounts the view anyway',
    })
  const caps = keptCapabilities(policy)
  const seccomp = seccompProfile(policy, options.arch)
  gaps.push(...seccomp.gaps, ...landlockGap(policy, 'the OCI runtime-spec'))
  if (policy.tcp && policy.network !== 'none')
    gaps.push({
      statement: 'tcp ports',
      why: 'only Landlock restricts ports; seccomp still refuses non-TCP sockets, fast open and (with no bind port) listen()',
    })
  if (policy.limits.timeoutMs !== undefined)
    gaps.push({
      statement: 'limits.timeout',
      why: 'runtimes have no wall-clock limit; use `timeout` around the runtime',
    })
  // runc (since 1.0: specconv adds a "loopback" network to a new network namespace) and runsc
  // (its netstack's own loopback) bring `lo` up: cordon's loopback as is, but up under `none`.
  if (policy.network === 'none')
    gaps.push({
      statement: 'network none',
      why: 'runc and runsc bring the loopback interface up (cordon leaves it down): the command reaches its own 127.0.0.1 listeners, nothing outside',
    })
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] }
  const l = policy.limits
  if (l.memory !== undefined)
    resources.memory = { limit: l.memory, ...(l.swap !== undefined ? { swap: l.memory + l.swap } : {}) }
  if (l.pids !== undefined) resources.pids = { limit: l.pids }
  const cpu: Record<string, unknown> = {}
  if (l.cpus !== undefined) Object.assign(cpu, { quota: Math.round(l.cpus * 100_000), period: 100_000 })
  if (l.cpuWeight !== undefined) cpu.shares = cpuShares(l.cpuWeight)
  if (l.cpuset !== undefined) cpu.cpus = l.cpuset
  if (Object.keys(cpu).length) resources.cpu = cpu
  if (l.ioWeight !== undefined) resources.blockIO = { weight: blkioWeight(l.ioWeight) }
  // Inside a user namespace, RLIMIT_NPROC counts that namespace's processes: the pids limit
  // for callers without a cgroup, as in cordon's own run.
  const rlimits = rlimitsFor(policy, options.uid)
  const env = Object.entries(policy.env.set).map(([k, v]) => `${k}=${v}`)
  for (const name of policy.env.pass)
    if (process.env[name] !== undefined && !(name in policy.env.set)) env.push(`${name}=${process.env[name]}`)
  const viewShows = (path: string) =>
    mounts.some((m) => m.type === 'bind' && (path === m.destination || path.startsWith(`${m.destination}/`)))
  const config: OciConfig = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid, gid },
      args: options.command,
      env,
      cwd: policy.cwd ?? (viewShows(options.cwd) ? options.cwd : '/'),
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: caps },
      ...(Object.keys(rlimits).length
        ? {
            rlimits: Object.entries(rlimits).map(([r, v]) => ({
              type: `RLIMIT_${r.toUpperCase()}`,
              hard: v,
              soft: v,
            })),
          }
        : {}),
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    ...(ns.uts && policy.hostname !== undefined ? { hostname: policy.hostname } : {}),
    // Parents before children, as cordon's view orders them (stable within a depth).
    mounts: mounts
      .map((m, i) => ({ m, i }))
      .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
      .map(({ m }) => m),
    linux: {
      namespaces: Object.entries(NAMESPACE_TYPES)
        .filter(([n]) =>
          n === 'net' ? policy.network !== 'host' : ns[n as keyof typeof ns] || n === 'mount',
        )
        .map(([, type]) => ({ type })),
      ...(ns.user
        ? {
            uidMappings: idMappings(uid, options.uid),
            gidMappings: idMappings(gid, options.gid),
          }
        : {}),
      resources,
      seccomp: seccomp.profile,
      maskedPaths: MASKED,
      // In a user namespace runc binds the host's device nodes: read-only, so a container whose
      // root is the host's cannot chmod, chown or touch them (issue 17), as cordon's own view.
      readonlyPaths: [
        ...READ_ONLY,
        ...policy.filesystem.flatMap((e) => (e.kind === 'dev' ? DEVICES.map((d) => `${e.dest}/${d}`) : [])),
      ],
    },
  }
  return { config, files: [...rootfsEntries, ...files], gaps }
}

export function exportOciBundle(policy: ResolvedPolicy, options: ExportOptions): Exported {
  const { config, files, gaps } = ociConfig(policy, options)
  // Without a user namespace a root caller's sandbox runs as the first id of its unprivileged
  // range, as cordon's own run does (plan/compile.ts sandboxIdentity, which also refuses kept
  // capabilities there): the bundle's command ran as host root and killed host root's processes
  // (helper-141). (--backend runc maps container root to that range in a user namespace.)
  if (!policy.namespaces.user && options.uid === 0) {
    const { uid, gid } = config.process.user
    const id = sandboxIdentity(policy, options, uid, gid)
    config.process.user = { uid: id.uid, gid: id.gid }
  }
  const rootless = options.uid !== 0 && config.linux.uidMappings !== undefined
  if (rootless) {
    // A plain caller runs the bundle as itself: rootless runc maps that one id alone, and its
    // setup inside needs it to be 0, so the command is uid 0 of its user namespace, without
    // capabilities, as under `--backend runc` (backends/runtime.ts backendConfig). Mapped as
    // for root (host 0 beside the caller's id) it failed: `fchown fd 7: operation not permitted`.
    config.process.user = { uid: 0, gid: 0 }
    config.linux.uidMappings = [{ containerID: 0, hostID: options.uid, size: 1 }]
    config.linux.gidMappings = [{ containerID: 0, hostID: options.gid, size: 1 }]
    // Without a cgroup of its own, rootless runc refuses any resource ("cannot set memory
    // limit"); the pids limit is RLIMIT_NPROC then (rlimitsFor), as in cordon's own run.
    const limited = Object.entries(policy.limits).some(([k, v]) => k !== 'timeoutMs' && v !== undefined)
    const noCgroup = !cgroupAccess(options.uid).ok
    if (noCgroup) delete config.linux.resources
    if (noCgroup && limited) {
      gaps.push({
        statement: 'limits',
        why: `uid ${options.uid} has no cgroup here, and rootless runc refuses resources without one: only the pids limit holds (RLIMIT_NPROC); export as root for a bundle with cgroup limits`,
      })
    }
  }
  // The scopes hold only through the namespace that stands in for each (no Landlock in a
  // runtime): said each, as `run --backend runc` refuses them (backends/status.ts).
  const scopes = policy.landlock.scopes
  if (scopes.includes('signal') && !config.linux.namespaces.some((n) => n.type === 'pid'))
    gaps.push({
      statement: 'scope signal',
      why: "no pid namespace and no Landlock under runc: the command signals every process of its uid (a root caller's: every root-started cordon sandbox, which runs as the same id); runsc keeps its own processes",
    })
  if (scopes.includes('abstract-unix-socket') && !config.linux.namespaces.some((n) => n.type === 'network'))
    gaps.push({
      statement: 'scope abstract-unix-socket',
      why: "the host's network and no Landlock under runc: every host abstract socket (X11, D-Bus) connects; runsc keeps its own",
    })
  if (options.uid === 0 && !policy.namespaces.user && config.process.user.uid === 0)
    gaps.push({
      statement: 'identity',
      why: "no user namespace and user.hostRoot: the container's command is host root, with host root's file powers",
    })
  if (options.uid === 0 && config.linux.uidMappings?.some((m) => m.hostID === 0))
    gaps.push({
      statement: 'identity',
      why:
        "the container's root is host root: cordon's own run maps a root caller's sandbox to an " +
        'unprivileged host id range (and --backend runc does when no bind is writable); a runtime run ' +
        'as root with this bundle reads and writes as host root. Export and run it as a plain user ' +
        '(rootless), or set linux.uidMappings/gidMappings to an unprivileged range',
    })
  // The runtimes' pid 1 as under `--backend` (backends/container-init.ts), a copy in the bundle:
  // where both runc and runsc can take it (the bundle's own root), and the config has a pid
  // namespace (runsc makes one anyway; runc without one leaves the command's pid as it is).
  const init = config.linux.namespaces.some((n) => n.type === 'pid')
    ? withInit(config, policy.filesystem, 'gvisor', INIT_FILE)
    : undefined
  if (init) files.push({ kind: 'file', path: INIT_FILE, content: readFileSync(init), mode: 0o555 })
  for (const m of config.mounts)
    if (m.type === 'bind' && !/^(files|modes)\//.test(m.source) && !isDirectory(m.source))
      gaps.push({
        statement: `bind ${m.source}`,
        why: 'not a directory on this host: the runtime binds it as a file',
      })
  const gvisor = runscConfig(config, policy, options.arch)
  return {
    format: 'oci-bundle',
    files: [
      { kind: 'file', path: 'config.json', content: `${stringifyOci(config)}\n` },
      { kind: 'file', path: 'gvisor/config.json', content: `${stringifyOci(gvisor)}\n` },
      { kind: 'dir', path: 'rootfs' },
      ...files,
    ],
    gaps,
    usage: [
      rootless
        ? `runc run --bundle DIR NAME      (rootless, as uid ${options.uid}: its state in $XDG_RUNTIME_DIR/runc, or give --root DIR)`
        : 'runc run --bundle DIR NAME      (as root; rootless runc needs the user namespace mapping as is)',
      // runsc's default network (`sandbox`) copies the namespace's interfaces, and runsc 2022
      // refuses it on kernels where net.core.rmem_default is per namespace (--backend gvisor's
      // globalFlags); `none` is gVisor's own loopback, as the export's network namespace has.
      // Unprivileged, runsc cannot start its gofer here (backends/runtime.ts backendAvailable):
      // the line said nothing of it, and failed on cgroups, then newuidmap (helper-138).
      // --oci-seccomp: without it runsc loads no profile at all (helper-141), and its own
      // config (DIR/gvisor) has the profile as gVisor's kernel takes it.
      `runsc --rootless=false --network=${policy.network === 'host' ? 'host' : 'none'} --oci-seccomp run --bundle DIR/gvisor NAME   (gVisor: its own kernel, the same view${rootless ? '; as root: unprivileged, runsc cannot start its gofer' : ''})`,
    ],
  }
}

/** The user namespace's map for a sandbox id: runc sets the container up as its root, so
 * container id 0 must be mapped too ("no user mapping found" otherwise). The sandbox id is the
 * caller's, or for a root caller itself (root's sandbox as --uid 65534 is host 65534, never
 * host root); container root is then the host's, as runc's own setup runs as host root. */
function idMappings(id: number, caller: number): { containerID: number; hostID: number; size: number }[] {
  if (id === 0) return [{ containerID: 0, hostID: caller, size: 1 }]
  return [
    { containerID: 0, hostID: 0, size: 1 },
    { containerID: id, hostID: caller === 0 ? id : caller, size: 1 },
  ]
}

const depth = (path: string) => (path === '/' ? 0 : path.split('/').length - 1)
