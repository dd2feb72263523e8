// config.json `mounts`, devices, masked and read-only paths → the plan's filesystem ops, in the
// spec's order (the launcher builds the view in plan order, then pivot_root).
import { existsSync, realpathSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { BindFlags, PlanOp } from '../plan/model.js'
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
  'sync',
  'async',
])
/** Propagation and flags cordon's view cannot give: refused by name. */
const REFUSED_OPTIONS: Readonly<Record<string, string>> = {
  shared: 'mounts in the view are private',
  rshared: 'mounts in the view are private',
  slave: 'mounts in the view are private',
  rslave: 'mounts in the view are private',
  unbindable: 'mounts in the view are private',
  runbindable: 'mounts in the view are private',
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
const DEFAULT_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty']

export interface ViewMount {
  dest: string
  readOnly: boolean
}

interface Parsed {
  attrs: number
  fsOptions: string[]
  readOnly: boolean
  bind: boolean
}

function parseOptions(m: OciMount, field: string): Parsed {
  let attrs = 0
  let readOnly = false
  let bind = m.type === 'bind'
  const fsOptions: string[] = []
  for (const o of m.options ?? []) {
    const refused = REFUSED_OPTIONS[o]
    if (refused) throw unsupported(`${field}.options "${o}"`, refused)
    if (!FLAG_OPTIONS.has(o)) {
      fsOptions.push(o)
      continue
    }
    if (o === 'ro' || o === 'rro') readOnly = true
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
  return { attrs, fsOptions, readOnly, bind }
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

/** One `mounts` entry → ops; returns what Landlock derives its rule from. */
function mountOps(m: OciMount, i: number, bundle: string, cgroups: CgroupView, ops: PlanOp[]): ViewMount {
  const field = `mounts[${i}]`
  if (typeof m.destination !== 'string' || !m.destination.startsWith('/'))
    throw invalid(`${field}.destination`, 'an absolute path', m.destination)
  if (m.uidMappings?.length || m.gidMappings?.length)
    throw unsupported(`${field}.uidMappings`, 'idmapped mounts are not supported')
  const p = parseOptions(m, field)
  const dest = m.destination
  if (p.bind) {
    if (!m.source) throw invalid(`${field}.source`, 'a bind source', m.source)
    const flags: BindFlags = {
      readOnly: p.readOnly,
      dev: !(p.attrs & ATTR.nodev),
      noexec: !!(p.attrs & ATTR.noexec),
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
  } else {
    throw unsupported(
      `${field}.type "${type}"`,
      `cordon-oci mounts bind, proc, cgroup, ${[...FRESH_TYPES].join(', ')}`,
    )
  }
  return { dest, readOnly: p.readOnly }
}

function deviceOps(config: OciConfig, ops: PlanOp[]): void {
  for (const name of DEFAULT_DEVICES)
    ops.push({ op: 'bind', src: `/dev/${name}`, dest: `/dev/${name}`, flags: { dev: true } })
  const devices = config.linux?.devices ?? []
  devices.forEach((d, i) => {
    const field = `linux.devices[${i}]`
    if (d.type !== 'c' && d.type !== 'b' && d.type !== 'u')
      throw unsupported(`${field}.type "${d.type}"`, 'only character and block devices are supported')
    // The host's own node of that number, bound: the view never creates device nodes.
    const host = `/dev/${d.type === 'b' ? 'block' : 'char'}/${d.major}:${d.minor}`
    let src: string
    try {
      src = realpathSync(host)
    } catch {
      throw unsupported(field, `this host has no device ${d.major}:${d.minor} (${host}) to bind`)
    }
    ops.push({ op: 'bind', src, dest: d.path, flags: { dev: true } })
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
 * view) and in the rootfs otherwise; undefined when it does not exist (the spec skips those). */
function kind(path: string, rootfs: string): 'dir' | 'file' | undefined {
  const onHost = path.startsWith('/proc/') || path.startsWith('/sys/')
  try {
    return statSync(onHost ? path : `${rootfs}${path}`).isDirectory() ? 'dir' : 'file'
  } catch {
    return undefined
  }
}

function maskOps(config: OciConfig, rootfs: string, ops: PlanOp[]): void {
  for (const path of config.linux?.readonlyPaths ?? []) {
    if (!kind(path, rootfs)) continue
    ops.push({ op: 'bind', src: path, dest: path, flags: { readOnly: true, inView: true, noexec: true } })
  }
  for (const path of config.linux?.maskedPaths ?? []) {
    const k = kind(path, rootfs)
    if (k === 'dir') ops.push({ op: 'tmpfs', dest: path, size: 0, mode: 0o755, flags: { readOnly: true } })
    else if (k === 'file')
      ops.push({ op: 'bind', src: '/dev/null', dest: path, flags: { inView: true, dev: true } })
  }
}

/** The whole filesystem view: root, mounts, devices, masks, pivot_root. */
export function viewOps(
  config: OciConfig,
  bundle: string,
  cgroups: CgroupView,
): { ops: PlanOp[]; mounts: ViewMount[]; rootfs: string } {
  if (!config.root?.path) throw invalid('root.path', 'the rootfs directory', config.root?.path)
  const rootfs = bindSource(config.root.path, bundle, 'root')
  const ops: PlanOp[] = [
    { op: 'root', mode: 0o755 },
    { op: 'bind', src: rootfs, dest: '/', flags: {} },
  ]
  const mounts: ViewMount[] = [{ dest: '/', readOnly: !!config.root.readonly }]
  ;(config.mounts ?? []).forEach((m, i) => mounts.push(mountOps(m, i, bundle, cgroups, ops)))
  deviceOps(config, ops)
  maskOps(config, rootfs, ops)
  if (config.root.readonly) ops.push({ op: 'remount_ro', dest: '/' })
  ops.push({ op: 'pivot_root' })
  return { ops, mounts, rootfs }
}
