// config.json `mounts`, devices, masked and read-only paths → the plan's filesystem ops, in the
// spec's order (the launcher builds the view in plan order, then pivot_root).
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { CordonError } from '../errors.js'
import { type BindFlags, MS_PROPAGATION, type PlanOp } from '../plan/model.js'
import { invalid, type OciConfig, type OciMount, unsupported } from './spec.js'

/** MOUNT_ATTR_* (linux/mount.h). */
const ATTR = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  noatime: 0x10,
  strictatime: 0x20,
  nodiratime: 0x80,
}

/** Options that are mount flags; the rest are the filesystem's own (mode=, size=...). `features`
 * reports exactly these. */
export const FLAG_OPTIONS: ReadonlySet<string> = new Set([
  'ro',
  'rw',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'noexec',
  'exec',
  'bind',
  'rbind',
  'rro',
  'rrw',
  'relatime',
  'norelatime',
  'noatime',
  'strictatime',
  'nodiratime',
  'diratime',
  'atime',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
  'sync',
  'async',
])
/** Flags cordon's view cannot give: refused by name. */
const REFUSED_OPTIONS: Readonly<Record<string, string>> = {
  suid: 'cordon mounts everything nosuid',
  remount: 'not a mount of its own',
  tmpcopyup: 'not supported',
  idmap: 'idmapped mounts from config.json are not supported',
  ridmap: 'idmapped mounts from config.json are not supported',
  nosymfollow: 'not supported',
  mand: 'not supported',
  dirsync: 'not supported',
}

/** Filesystem types mounted fresh (OP_FSMOUNT); proc and bind have ops of their own. */
const FRESH_TYPES = new Set(['tmpfs', 'sysfs', 'mqueue', 'devpts', 'cgroup2'])

/** The spec's default devices (runtime-spec config-linux.md "Default Devices"). */
const DEFAULT_DEVICES: readonly (readonly [string, number, number])[] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
]

export interface ViewMount {
  dest: string
  readOnly: boolean
  /** A fresh tmpfs: the only filesystem the view makes device nodes on (deviceOps). */
  tmpfs?: boolean
}

interface Parsed {
  attrs: number
  fsOptions: string[]
  readOnly: boolean
  bind: boolean
  /** MS_* propagation flags of the mount (the last option given wins, as in runc). */
  propagation?: number
}

/** A propagation option (`shared`, `rslave`...) → mount(2) flags, or undefined for another option. */
export function propagationFlags(option: string): number | undefined {
  const rec = option.startsWith('r') && option !== 'r'
  const base = (rec ? option.slice(1) : option) as keyof typeof MS_PROPAGATION
  if (base === 'rec' || !Object.hasOwn(MS_PROPAGATION, base)) return undefined
  return MS_PROPAGATION[base] | (rec ? MS_PROPAGATION.rec : 0)
}

function parseOptions(m: OciMount, field: string): Parsed {
  let attrs = 0
  let readOnly = false
  let bind = m.type === 'bind'
  let propagation: number | undefined
  const fsOptions: string[] = []
  for (const o of m.options ?? []) {
    const refused = REFUSED_OPTIONS[o]
    if (refused) throw unsupported(`${field}.options "${o}"`, refused)
    if (!FLAG_OPTIONS.has(o)) {
      fsOptions.push(o)
      continue
    }
    const prop = propagationFlags(o)
    if (prop !== undefined) propagation = prop
    else if (o === 'ro' || o === 'rro') readOnly = true
    else if (o === 'rw' || o === 'rrw') readOnly = false
    else if (o === 'bind' || o === 'rbind') bind = true
    else if (
      o === 'nosuid' ||
      o === 'nodev' ||
      o === 'noexec' ||
      o === 'noatime' ||
      o === 'strictatime' ||
      o === 'nodiratime'
    )
      attrs |= ATTR[o]
    else if (o === 'dev') attrs &= ~ATTR.nodev
    else if (o === 'exec') attrs &= ~ATTR.noexec
  }
  if (readOnly) attrs |= ATTR.rdonly
  return { attrs, fsOptions, readOnly, bind, ...(propagation === undefined ? {} : { propagation }) }
}

function bindSource(source: string, bundle: string, field: string): string {
  const abs = isAbsolute(source) ? source : resolve(bundle, source)
  try {
    // The launcher opens sources with no symlink on the way (native/view.c open_source).
    return realpathSync(abs)
  } catch {
    throw invalid(`${field}.source`, 'an existing path', source)
  }
}

/** The host's cgroup v1 hierarchies as (mount point, name) pairs. */
export interface CgroupView {
  v1: { mount: string; name: string; dir: string }[]
  v2?: string
  /** A plain user's container, in no cgroup of its own (cgroups.ts userCgroups). */
  none?: boolean
}

function cgroupMount(m: OciMount, p: Parsed, cgroups: CgroupView, ops: PlanOp[], field: string): void {
  if (cgroups.none) {
    // No group of its own to show: an empty directory, rather than the caller's groups.
    ops.push({ op: 'tmpfs', dest: m.destination, size: 0, mode: 0o555, flags: {} })
    ops.push({ op: 'remount_ro', dest: m.destination })
    return
  }
  if (cgroups.v1.length === 0) {
    ops.push({ op: 'fsmount', fstype: 'cgroup2', dest: m.destination, attrs: p.attrs, options: [] })
    return
  }
  // A v1 or hybrid host: a tmpfs holding the container's own group of each hierarchy, as runc.
  ops.push({ op: 'tmpfs', dest: m.destination, size: 0, mode: 0o755, flags: {} })
  for (const h of cgroups.v1) {
    if (!existsSync(h.dir)) throw invalid(field, `cgroup ${h.dir} to exist`, h.dir)
    ops.push({ op: 'bind', src: h.dir, dest: `${m.destination}/${h.name}`, flags: { readOnly: p.readOnly } })
  }
  if (cgroups.v2)
    ops.push({
      op: 'bind',
      src: cgroups.v2,
      dest: `${m.destination}/unified`,
      flags: { readOnly: p.readOnly },
    })
  if (p.readOnly) ops.push({ op: 'remount_ro', dest: m.destination })
}

/** One `mounts` entry → ops (its propagation, set once the view is whole, into `late`); returns
 * what Landlock derives its rule from. */
function mountOps(
  m: OciMount,
  i: number,
  bundle: string,
  cgroups: CgroupView,
  ops: PlanOp[],
  late: PlanOp[],
): ViewMount {
  const field = `mounts[${i}]`
  if (typeof m.destination !== 'string' || !m.destination.startsWith('/'))
    throw invalid(`${field}.destination`, 'an absolute path', m.destination)
  if (m.uidMappings?.length || m.gidMappings?.length)
    throw unsupported(`${field}.uidMappings`, 'idmapped mounts are not supported')
  const p = parseOptions(m, field)
  const dest = m.destination
  if (p.propagation !== undefined) late.push({ op: 'propagation', dest, flags: p.propagation })
  if (p.bind) {
    if (!m.source) throw invalid(`${field}.source`, 'a bind source', m.source)
    const flags: BindFlags = {
      readOnly: p.readOnly,
      dev: !(p.attrs & ATTR.nodev),
      noexec: !!(p.attrs & ATTR.noexec),
      hostNames: true, // runc makes a nested mount's missing mount point in the bound directory
    }
    ops.push({ op: 'bind', src: bindSource(m.source, bundle, field), dest, flags })
    return { dest, readOnly: p.readOnly }
  }
  const type = m.type ?? ''
  // The source names the filesystem in mountinfo, which tools (runtime-tools) match on.
  const source = m.source ? [`source=${m.source}`] : []
  if (type === 'proc') {
    // Always nosuid,nodev,noexec (DESIGN.md); the host-wide knobs come from readonlyPaths.
    const attrs = p.attrs | ATTR.nosuid | ATTR.nodev | ATTR.noexec
    ops.push({ op: 'fsmount', fstype: 'proc', dest, attrs, options: [...source, ...p.fsOptions] })
  } else if (type === 'cgroup') {
    cgroupMount(m, p, cgroups, ops, field)
  } else if (FRESH_TYPES.has(type)) {
    ops.push({ op: 'fsmount', fstype: type, dest, attrs: p.attrs, options: [...source, ...p.fsOptions] })
    if (type === 'tmpfs') return { dest, readOnly: p.readOnly, tmpfs: true }
  } else {
    throw unsupported(
      `${field}.type "${type}"`,
      `cordon-oci mounts bind, proc, cgroup, ${[...FRESH_TYPES].join(', ')}`,
    )
  }
  return { dest, readOnly: p.readOnly }
}

/** S_IF* type of each `linux.devices` type ("u", unbuffered, is a character device). */
const NODE_TYPES: Readonly<Record<string, number>> = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 }

/** The view mount a path lies on: the last one in plan order at or above it (a later mount
 * covers an earlier one). */
function mountOf(path: string, mounts: readonly ViewMount[]): ViewMount | undefined {
  return mounts.findLast((m) => m.dest === '/' || path === m.dest || path.startsWith(`${m.dest}/`))
}

/** Device nodes: made (mknod) on a tmpfs of the view, as runc makes them; in a new user namespace
 * (where mknod is refused) or off a tmpfs, the host's own node of that number is bound
 * read-only. A node is never made on a host filesystem (the bundle's rootfs): it would outlive
 * the container. The read-only bind keeps the device usable (a mount's read-only state does not
 * stop writes to a device) but refuses chmod, chown and utimes, so that a container with
 * CAP_CHOWN or CAP_FOWNER (Docker's defaults), or a user namespace mapping the host's root,
 * cannot change the host's node (DESIGN.md). */
function deviceOps(config: OciConfig, mounts: readonly ViewMount[], newUserNs: boolean, ops: PlanOp[]): void {
  const node = (
    field: string,
    path: string,
    t: 'c' | 'b' | 'p',
    major: number,
    minor: number,
    perm: number,
    uid: number,
    gid: number,
    hostPath = `/dev/${t === 'b' ? 'block' : 'char'}/${major}:${minor}`,
  ) => {
    if (mountOf(path, mounts)?.tmpfs && !newUserNs) {
      ops.push({ op: 'mknod', dest: path, mode: NODE_TYPES[t]! | perm, major, minor, uid, gid })
      return
    }
    const where = newUserNs ? 'in a new user namespace' : `${path} is not on a tmpfs mount of the container`
    if (t === 'p')
      throw unsupported(field, `${where}, where cordon-oci makes no node; put it under a tmpfs such as /dev`)
    // The host's own node of that number, bound read-only.
    const host = hostPath
    let src: string
    try {
      src = realpathSync(host)
    } catch {
      throw unsupported(
        field,
        `${where}, so cordon-oci binds the host's node, and this host has no device ${major}:${minor} (${host})`,
      )
    }
    ops.push({ op: 'bind', src, dest: path, flags: { dev: true, readOnly: true } })
  }
  // runc's defaults: 0666, owned by root.
  for (const [name, major, minor] of DEFAULT_DEVICES)
    node(`the default device /dev/${name}`, `/dev/${name}`, 'c', major, minor, 0o666, 0, 0, `/dev/${name}`)
  const devices = config.linux?.devices ?? []
  devices.forEach((d, i) => {
    const field = `linux.devices[${i}]`
    if (NODE_TYPES[d.type] === undefined) throw invalid(`${field}.type`, 'c | b | u | p', d.type)
    if (typeof d.path !== 'string' || !d.path.startsWith('/'))
      throw invalid(`${field}.path`, 'an absolute path', d.path)
    const fifo = d.type === 'p'
    const [major, minor] = [d.major ?? 0, d.minor ?? 0]
    if (!fifo && (!Number.isInteger(major) || !Number.isInteger(minor) || major < 0 || minor < 0))
      throw invalid(`${field}.major`, 'the major and minor numbers of the device', `${d.major}:${d.minor}`)
    const t = d.type === 'u' ? 'c' : (d.type as 'c' | 'b' | 'p')
    node(field, d.path, t, major, minor, (d.fileMode ?? 0o666) & 0o777, d.uid ?? 0, d.gid ?? 0)
  })
  // The spec's /dev symlinks; a /dev/pts mount gives ptmx.
  for (const [dest, target] of [
    ['/dev/fd', '/proc/self/fd'],
    ['/dev/stdin', '/proc/self/fd/0'],
    ['/dev/stdout', '/proc/self/fd/1'],
    ['/dev/stderr', '/proc/self/fd/2'],
    ['/dev/ptmx', 'pts/ptmx'],
  ] as const)
    ops.push({ op: 'symlink', target, dest })
}

/** What a masked or read-only path is, judged on the host for /proc and /sys (fresh in the
 * view) and in the rootfs otherwise, component by component without following a symlink (one in
 * the rootfs would resolve on the host, not in the container); undefined when it does not exist
 * (the spec skips those). */
function kind(path: string, rootfs: string, field: string): 'dir' | 'file' | undefined {
  const onHost = path.startsWith('/proc/') || path.startsWith('/sys/')
  try {
    if (onHost) return statSync(path).isDirectory() ? 'dir' : 'file'
    let at = rootfs
    let st = lstatSync(at)
    for (const part of path.split('/').filter(Boolean)) {
      at = `${at}/${part}`
      st = lstatSync(at)
      if (st.isSymbolicLink())
        throw unsupported(
          field,
          `${path} passes through a symlink in the rootfs (${at.slice(rootfs.length)}); name the path it points to`,
        )
    }
    return st.isDirectory() ? 'dir' : 'file'
  } catch (e) {
    if (e instanceof CordonError) throw e
    return undefined
  }
}

const beneath = (path: string, dirs: readonly string[]) =>
  dirs.some((d) => path === d || path.startsWith(`${d}/`))

/** readonlyPaths, then maskedPaths, in order, as runc. A path beneath a directory masked earlier is
 * already hidden (empty tmpfs): runc finds nothing there and goes on, and so does the view. */
function maskOps(config: OciConfig, rootfs: string, ops: PlanOp[]): void {
  const absolute = (path: unknown, field: string) => {
    if (typeof path !== 'string' || !path.startsWith('/')) throw invalid(field, 'an absolute path', path)
    return path
  }
  ;(config.linux?.readonlyPaths ?? []).forEach((p, i) => {
    const field = `linux.readonlyPaths[${i}]`
    const path = absolute(p, field)
    if (!kind(path, rootfs, field)) return
    ops.push({ op: 'bind', src: path, dest: path, flags: { readOnly: true, inView: true, noexec: true } })
  })
  const maskedDirs: string[] = []
  ;(config.linux?.maskedPaths ?? []).forEach((p, i) => {
    const field = `linux.maskedPaths[${i}]`
    const path = absolute(p, field)
    if (beneath(path, maskedDirs)) return
    const k = kind(path, rootfs, field)
    if (k === 'dir') {
      ops.push({ op: 'tmpfs', dest: path, size: 0, mode: 0o755, flags: { readOnly: true } })
      maskedDirs.push(path)
    } else if (k === 'file')
      // Read-only: the view's /dev/null may be the host's node (deviceOps), never changed.
      ops.push({
        op: 'bind',
        src: '/dev/null',
        dest: path,
        flags: { inView: true, dev: true, readOnly: true },
      })
  })
}

/** linux.rootfsPropagation → flags for the view's root, or undefined when unset. */
function rootPropagation(config: OciConfig): number | undefined {
  const value = config.linux?.rootfsPropagation
  if (value === undefined || value === '') return undefined
  const flags = typeof value === 'string' ? propagationFlags(value) : undefined
  if (flags === undefined)
    throw invalid('linux.rootfsPropagation', '(r)private | (r)shared | (r)slave | (r)unbindable', value)
  return flags
}

/** The whole filesystem view: root, mounts, devices, masks, pivot_root; then (`late`, phase 2)
 * the propagation of the root and of each mount that names one. The view is cut from the host's
 * peer groups before its first mount (DESIGN.md: / is made private first), so propagation acts
 * within the container: a shared mount shares with its own copies there (a bind of it made
 * inside), never with the host, and a slave one has no master (as private). */
export function viewOps(
  config: OciConfig,
  bundle: string,
  cgroups: CgroupView,
  newUserNs: boolean,
): { ops: PlanOp[]; late: PlanOp[]; mounts: ViewMount[]; rootfs: string } {
  if (!config.root?.path) throw invalid('root.path', 'the rootfs directory', config.root?.path)
  const rootfs = bindSource(config.root.path, bundle, 'root')
  const ops: PlanOp[] = [
    { op: 'root', mode: 0o755 },
    { op: 'bind', src: rootfs, dest: '/', flags: { hostNames: true } },
  ]
  const late: PlanOp[] = []
  const root = rootPropagation(config)
  if (root !== undefined) late.push({ op: 'propagation', dest: '/', flags: root })
  const mounts: ViewMount[] = [{ dest: '/', readOnly: !!config.root.readonly }]
  ;(config.mounts ?? []).forEach((m, i) => mounts.push(mountOps(m, i, bundle, cgroups, ops, late)))
  deviceOps(config, mounts, newUserNs, ops)
  maskOps(config, rootfs, ops)
  if (config.root.readonly) ops.push({ op: 'remount_ro', dest: '/' })
  ops.push({ op: 'pivot_root' })
  return { ops, late, mounts, rootfs }
}
