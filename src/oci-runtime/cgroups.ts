// linux.cgroupsPath and linux.resources → cgroup directories (cgroupfs layout, as runc without
// --systemd-cgroup) on every mounted hierarchy, v1 (hybrid hosts) and v2.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import type { CgroupView } from './mounts.js'
import { compileDeviceFilter } from './device-filter.js'
import { invalid, isEmpty, type OciDeviceRule, refuseUnknown, unsupported } from './spec.js'

export interface Hierarchy {
  mount: string
  /** v1: the controllers or name= of the hierarchy; v2: 'unified'. */
  name: string
  controllers: string[]
  v2: boolean
}

/** The host's mounted hierarchies, from /proc/self/mountinfo. */
export function hierarchies(): Hierarchy[] {
  const out: Hierarchy[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const mount = left.split(' ')[4] ?? ''
    const [fstype, , superOpts = ''] = right.split(' ')
    if (fstype === 'cgroup2') out.push({ mount, name: 'unified', controllers: [], v2: true })
    else if (fstype === 'cgroup') {
      const opts = superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro')
      out.push({ mount, name: mount.split('/').pop() ?? opts.join(','), controllers: opts, v2: false })
    }
  }
  return out
}

export interface ContainerCgroups {
  /** Directories the launcher joins (OP_CGROUP). */
  dirs: string[]
  view: CgroupView
  /** The group to read pids from and to freeze. */
  freezer: { dir: string; v2: boolean } | undefined
  /** Every directory cordon-oci made, deepest first: what delete removes once empty. */
  made: string[]
}

/** The relative path under each hierarchy (runc's cgroupfs rules); systemd's slice:prefix:name is refused. */
export function cgroupPath(given: string | undefined, id: string): string {
  if (!given) return `/cordon-oci/${id}`
  if (given.includes(':'))
    throw unsupported(
      'linux.cgroupsPath',
      `"${given}" is a systemd slice path; cordon-oci manages cgroupfs paths (run the engine with the cgroupfs driver)`,
    )
  if (given.split('/').includes('..')) throw invalid('linux.cgroupsPath', 'a path without ..', given)
  return given.startsWith('/') ? given : `/${given}`
}

/** Makes rel under the hierarchy, level by level; returns the directories it made, deepest
 * first, so that delete removes the empty parents it made too (runc's cgroupfs leaves them). A
 * parent that another container's delete removes meanwhile is made again. */
function makeDir(h: Hierarchy, rel: string): string[] {
  const made: string[] = []
  let at = h.mount
  for (const part of rel.split('/').filter(Boolean)) {
    const parent = at
    at = `${at}/${part}`
    for (let tries = 0; !existsSync(at); tries++)
      try {
        mkdirSync(at)
        made.unshift(at)
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if ((code !== 'ENOENT' && code !== 'EEXIST') || tries > 5) throw e
        if (code === 'ENOENT') mkdirSync(parent, { recursive: true })
      }
    // A new cpuset group has no cpus or mems: each level inherits its parent's.
    if (h.controllers.includes('cpuset'))
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        if (!readFileSync(`${at}/${f}`, 'utf8').trim())
          writeFileSync(`${at}/${f}`, readFileSync(`${parent}/${f}`, 'utf8'))
  }
  return made
}

/** The container's group `rel` on each of `hs` (the host's; the build's rehearsal passes a scratch
 * copy of them, create.ts rehearseCreate). */
export function createCgroups(rel: string, hs: readonly Hierarchy[] = hierarchies()): ContainerCgroups {
  const dirs: string[] = []
  const view: CgroupView = { v1: [] }
  let freezer: ContainerCgroups['freezer']
  const made: string[] = []
  for (const h of hs) {
    const dir = `${h.mount}${rel}`
    try {
      made.push(...makeDir(h, rel))
    } catch (e) {
      for (const d of made)
        try {
          rmdirSync(d)
        } catch {}
      throw e
    }
    dirs.push(dir)
    if (h.v2) {
      view.v2 = dir
      if (!hs.some((x) => !x.v2)) freezer = { dir, v2: true }
    } else {
      view.v1.push({ mount: h.mount, name: h.name, dir })
      if (h.controllers.includes('freezer')) freezer = { dir, v2: false }
    }
  }
  return { dirs, view, freezer, made }
}

/**
 * The container's groups; for a plain user who may not make them (no delegated hierarchy), no
 * group at all when the config sets no resources: the container stays in the caller's group,
 * with no limits, and `pause` is refused (no freezer). Resources it would need a group for
 * are refused with what to do, never dropped.
 */
export function containerCgroups(
  given: string | undefined,
  id: string,
  resources: Record<string, unknown> | undefined,
  hs?: readonly Hierarchy[],
): ContainerCgroups {
  const rel = cgroupPath(given, id)
  try {
    return createCgroups(rel, hs)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    const uid = process.geteuid?.() ?? 0
    if (uid === 0 || (err.code !== 'EACCES' && err.code !== 'EPERM' && err.code !== 'EROFS')) throw e
    // Deny rules alone need no group: the view holds only the nodes cordon-oci binds, and
    // Landlock (and the user namespace) deny making others.
    const { devices, ...rest } = resources ?? {}
    const denyOnly = Array.isArray(devices) && devices.every((d: OciDeviceRule) => !d.allow)
    if (!isEmpty(denyOnly ? rest : resources))
      throw unsupported(
        'linux.resources',
        `needs a cgroup of the container's own, and uid ${uid} may not make ${err.path ?? rel} (${err.code}): run cordon-oci as root, or leave linux.resources out (a plain user's container then runs in the caller's cgroup, without limits)`,
      )
    return { dirs: [], view: { v1: [], none: true }, freezer: undefined, made: [] }
  }
}

/** The container's `file`, in the first of its groups that has it. */
function fileIn(dirs: string[], file: string, field: string): string {
  const dir = dirs.find((d) => existsSync(`${d}/${file}`))
  if (!dir) throw unsupported(field, `this host has no cgroup file ${file}`)
  return `${dir}/${file}`
}

/** Writes value to path (a fileIn() result), naming the field the kernel refused. */
function write(path: string, value: string | number, field: string): void {
  try {
    writeFileSync(path, String(value))
  } catch (e) {
    const file = path.slice(path.lastIndexOf('/') + 1)
    throw invalid(
      field,
      `a value the kernel accepts for ${file}`,
      `${value} (${(e as NodeJS.ErrnoException).code})`,
    )
  }
}

function set(dirs: string[], file: string, value: string | number, field: string): void {
  write(fileIn(dirs, file, field), value, field)
}

const ALLOWED_DEVICES = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:8 rwm',
  'c 1:7 rwm',
  'c 5:0 rwm',
  'c 1:5 rwm',
  'c 1:9 rwm',
  'c 136:* rwm',
  'c 5:2 rwm',
  'c 10:200 rwm',
]

function deviceRule(r: OciDeviceRule): string {
  const n = (v: number | null | undefined) => (v === undefined || v === null || v < 0 ? '*' : String(v))
  return `${r.type ?? 'a'} ${n(r.major)}:${n(r.minor)} ${r.access ?? 'rwm'}`
}

/** The device program of a cgroup v2 container, for the launcher to attach (op cgroup_devices). */
export interface DeviceFilter {
  dir: string
  program: Uint8Array
}

/** runc's "c 1:3 rwm" form as a rule. */
function parseRule(text: string): OciDeviceRule {
  const [type, nums = '', access] = text.split(' ')
  const [major, minor] = nums.split(':').map((n) => (n === '*' ? -1 : Number(n)))
  return { allow: true, type: type!, major: major!, minor: minor!, access: access! }
}

/** Writes linux.resources; every field it cannot write is refused by name. On cgroup v2,
 * returns the device rules' program, which only the launcher can attach. */
export function applyResources(
  cg: Pick<ContainerCgroups, 'dirs' | 'view'>,
  resources: Record<string, unknown> | undefined,
  /** A new group (create): the device rules start from deny-all. An update adds to the live
   * group's rules instead, as before, with no moment where every device is denied. */
  fresh = false,
  /** Says what the container runs without (runc's default device rules where none can apply). */
  warn?: (msg: string) => void,
): DeviceFilter | undefined {
  const r = (resources ?? {}) as Record<string, Record<string, unknown> | unknown[] | undefined>
  refuseUnknown(
    r,
    ['memory', 'cpu', 'pids', 'devices', 'blockIO'],
    'linux.resources',
    'not supported by cordon-oci',
  )
  const v2 = cg.view.v1.length === 0
  const mem = (r.memory ?? {}) as Record<string, number | boolean | undefined>
  refuseUnknown(
    mem,
    ['limit', 'reservation', 'swap', 'swappiness', 'disableOOMKiller'],
    'linux.resources.memory',
    'not supported by cordon-oci',
  )
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined)
  if (num(mem.limit))
    set(cg.dirs, v2 ? 'memory.max' : 'memory.limit_in_bytes', num(mem.limit)!, 'linux.resources.memory.limit')
  if (num(mem.reservation))
    set(
      cg.dirs,
      v2 ? 'memory.low' : 'memory.soft_limit_in_bytes',
      num(mem.reservation)!,
      'linux.resources.memory.reservation',
    )
  if (num(mem.swap))
    set(
      cg.dirs,
      v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes',
      v2 ? Math.max(0, num(mem.swap)! - (num(mem.limit) ?? 0)) : num(mem.swap)!,
      'linux.resources.memory.swap',
    )
  if (typeof mem.swappiness === 'number' && mem.swappiness >= 0 && mem.swappiness <= 100 && !v2)
    set(cg.dirs, 'memory.swappiness', mem.swappiness, 'linux.resources.memory.swappiness')
  if (mem.disableOOMKiller) set(cg.dirs, 'memory.oom_control', 1, 'linux.resources.memory.disableOOMKiller')
  const cpu = (r.cpu ?? {}) as Record<string, number | string | undefined>
  refuseUnknown(
    cpu,
    ['shares', 'quota', 'period', 'cpus', 'mems'],
    'linux.resources.cpu',
    'not supported by cordon-oci',
  )
  if (num(cpu.shares))
    set(
      cg.dirs,
      v2 ? 'cpu.weight' : 'cpu.shares',
      v2 ? Math.round(1 + ((num(cpu.shares)! - 2) * 9999) / 262142) : num(cpu.shares)!,
      'linux.resources.cpu.shares',
    )
  if (v2 && (num(cpu.quota) || num(cpu.period)))
    set(
      cg.dirs,
      'cpu.max',
      `${num(cpu.quota) ?? 'max'} ${num(cpu.period) ?? 100000}`,
      'linux.resources.cpu.quota',
    )
  if (!v2 && num(cpu.period))
    set(cg.dirs, 'cpu.cfs_period_us', num(cpu.period)!, 'linux.resources.cpu.period')
  if (!v2 && num(cpu.quota)) set(cg.dirs, 'cpu.cfs_quota_us', num(cpu.quota)!, 'linux.resources.cpu.quota')
  if (cpu.cpus) set(cg.dirs, 'cpuset.cpus', String(cpu.cpus), 'linux.resources.cpu.cpus')
  if (cpu.mems) set(cg.dirs, 'cpuset.mems', String(cpu.mems), 'linux.resources.cpu.mems')
  const pids = (r.pids ?? {}) as Record<string, number | undefined>
  if (typeof pids.limit === 'number' && pids.limit !== 0)
    set(cg.dirs, 'pids.max', pids.limit < 0 ? 'max' : pids.limit, 'linux.resources.pids.limit')
  const blk = (r.blockIO ?? {}) as Record<string, unknown>
  refuseUnknown(blk, ['weight'], 'linux.resources.blockIO', 'not supported by cordon-oci')
  if (num(blk.weight))
    set(cg.dirs, v2 ? 'io.weight' : 'blkio.weight', num(blk.weight)!, 'linux.resources.blockIO.weight')
  return applyDevices(cg, (r.devices ?? []) as OciDeviceRule[], fresh, warn)
}

/**
 * The device rules: the spec's, then runc's defaults (ALLOWED_DEVICES), from "deny every device".
 * A spec with none still gets the defaults at create, as under runc (libcontainer/specconv
 * CreateCgroupConfig), not every device. Where nothing can enforce them (no group of the
 * container's own; on cgroup v2 a caller that cannot load the program: a plain user's delegated
 * group), the container runs without them and says so; the devices it can open are then the
 * nodes its view holds (linux.devices and the defaults, which cordon-oci binds: no host node is
 * writable through them) and no other (Landlock, or the device guard, denies mknod).
 */
function applyDevices(
  cg: Pick<ContainerCgroups, 'dirs' | 'view'>,
  devices: OciDeviceRule[],
  fresh: boolean,
  warn: ((msg: string) => void) | undefined,
): DeviceFilter | undefined {
  if (!devices.length && !fresh) return undefined // an update without rules keeps the group's
  const defaults = !devices.length
  const unenforced = (why: string): undefined => {
    warn?.(
      `linux.resources.devices: runc's default device rules are not enforced (${why}); the container opens only the device nodes of its view`,
    )
    return undefined
  }
  if (cg.view.v1.length === 0) {
    // No devices controller: the rules (and runc's defaults after them) become an eBPF program
    // the launcher attaches to the group before the container joins it.
    // A plain user's container in no group of its own: containerCgroups let only deny rules
    // through, and its view holds only the nodes cordon-oci binds, which the user may open anyway.
    if (!cg.view.v2) return defaults ? unenforced('the container has no cgroup of its own') : undefined
    // Loading a cgroup device program needs CAP_SYS_ADMIN (or CAP_BPF): rules the spec gives are
    // the launcher's to refuse by name; the defaults no spec asked for are left out, as rootless
    // runc leaves them out.
    if (defaults && (process.geteuid?.() ?? 0) !== 0)
      return unenforced('cgroup v2 device programs need CAP_SYS_ADMIN, which a plain user lacks')
    return {
      dir: cg.view.v2,
      program: compileDeviceFilter(
        [...devices, ...ALLOWED_DEVICES.map(parseRule)],
        'linux.resources.devices',
      ),
    }
  }
  if (defaults && !cg.dirs.some((d) => existsSync(`${d}/devices.deny`)))
    return unenforced('this host has no cgroup v1 devices controller')
  // runc (and the v2 program) start from "deny every device", not from a new group's "allow
  // every device": rules without a deny-all of their own must not leave the rest open.
  // Each file looked up once (a create writes ~20 rules: a stat per group and rule before).
  const files = { allow: '', deny: '' }
  const file = (allow: boolean, field: string): string =>
    (files[allow ? 'allow' : 'deny'] ||= fileIn(cg.dirs, allow ? 'devices.allow' : 'devices.deny', field))
  if (fresh) write(file(false, 'linux.resources.devices'), 'a *:* rwm', 'linux.resources.devices')
  for (const [i, d] of devices.entries()) {
    const field = `linux.resources.devices[${i}]`
    write(file(!!d.allow, field), deviceRule(d), field)
  }
  // runc appends these after the spec's rules (libcontainer/specconv AllowedDevices); engines
  // rely on them: mknod of any node (Landlock still denies it), the default devices, ptys, tun.
  for (const rule of ALLOWED_DEVICES)
    write(file(true, 'linux.resources.devices'), rule, 'linux.resources.devices')
  return undefined
}

export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

export function freeze(f: { dir: string; v2: boolean }, frozen: boolean): void {
  writeFileSync(
    `${f.dir}/${f.v2 ? 'cgroup.freeze' : 'freezer.state'}`,
    f.v2 ? (frozen ? '1' : '0') : frozen ? 'FROZEN' : 'THAWED',
  )
}

export function isFrozen(f: { dir: string; v2: boolean } | undefined): boolean {
  if (!f) return false
  try {
    const s = readFileSync(`${f.dir}/${f.v2 ? 'cgroup.freeze' : 'freezer.state'}`, 'utf8').trim()
    return f.v2 ? s === '1' : s === 'FROZEN'
  } catch {
    return false
  }
}
