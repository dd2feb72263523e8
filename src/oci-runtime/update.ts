// `update`: new linux.resources for a created or running container, with runc's flags
// (`--resources FILE|-`, as containerd and `docker update` use it, or one flag per limit).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { applyResources } from './cgroups.js'
import { loadExecContext } from './exec-context.js'
import { unsupported } from './spec.js'
import { containerDir, loadRecord, statusOf } from './state.js'

/** runc update's value flags and where each goes in linux.resources. */
export const UPDATE_FLAGS: Readonly<Record<string, readonly [string, string, 'number' | 'string']>> = {
  memory: ['memory', 'limit', 'number'],
  'memory-reservation': ['memory', 'reservation', 'number'],
  'memory-swap': ['memory', 'swap', 'number'],
  'kernel-memory': ['memory', 'kernel', 'number'],
  'kernel-memory-tcp': ['memory', 'kernelTCP', 'number'],
  'cpu-share': ['cpu', 'shares', 'number'],
  'cpu-quota': ['cpu', 'quota', 'number'],
  'cpu-period': ['cpu', 'period', 'number'],
  'cpu-rt-period': ['cpu', 'realtimePeriod', 'number'],
  'cpu-rt-runtime': ['cpu', 'realtimeRuntime', 'number'],
  'cpuset-cpus': ['cpu', 'cpus', 'string'],
  'cpuset-mems': ['cpu', 'mems', 'string'],
  'pids-limit': ['pids', 'limit', 'number'],
  'blkio-weight': ['blockIO', 'weight', 'number'],
}

/** runc's sizes: a number of bytes, or with a k/m/g suffix (binary units); -1 is unlimited. */
function parseValue(flag: string, v: string, kind: 'number' | 'string'): number | string {
  if (kind === 'string') return v
  const m = /^(-?\d+)([kmg]?)b?$/i.exec(v.trim())
  if (!m) throw new CordonError('invalid_usage', `update --${flag}: expected a number, got "${v}"`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Number(m[1]) * unit
}

export function resourcesFrom(file: string | undefined, flags: Map<string, string>): Record<string, unknown> {
  let r: Record<string, Record<string, unknown>> = {}
  if (file) {
    try {
      r = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as typeof r
    } catch (e) {
      throw new CordonError('invalid_policy', `update --resources ${file}: ${(e as Error).message}`)
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new CordonError('invalid_policy', `update --resources ${file}: expected a linux.resources object`)
  }
  for (const [flag, [section, field, kind]] of Object.entries(UPDATE_FLAGS)) {
    const v = flags.get(flag)
    if (v !== undefined) r[section] = { ...(r[section] ?? {}), [field]: parseValue(flag, v, kind) }
  }
  return r
}

/** The ceilings an org.cordon.policy set at create (memory bytes, pids, CPUs): `update` keeps
 * every later limit at or under them, so `docker update` cannot undo the policy. */
export interface Ceilings {
  memory?: number
  pids?: number
  cpus?: number
}

const CEILINGS = 'ceilings.json'

/** Saved at create, in the container's private directory (state.ts: 0700, root's). */
export function saveCeilings(dir: string, limits: Ceilings): void {
  const c: Ceilings = {
    ...(limits.memory !== undefined ? { memory: limits.memory } : {}),
    ...(limits.pids !== undefined ? { pids: limits.pids } : {}),
    ...(limits.cpus !== undefined ? { cpus: limits.cpus } : {}),
  }
  if (Object.keys(c).length) writeFileSync(`${dir}/${CEILINGS}`, JSON.stringify(c), { mode: 0o600 })
}

function loadCeilings(dir: string): Ceilings {
  const file = `${dir}/${CEILINGS}`
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Ceilings) : {}
}

/** The container's CFS quota and period now (v2 cpu.max, v1 cpu.cfs_*), for an update that
 * gives only one of them; undefined where there is no cpu group. */
function currentCpu(dirs: readonly string[]): { quota: number; period: number } | undefined {
  for (const d of dirs) {
    try {
      const [q, p] = readFileSync(`${d}/cpu.max`, 'utf8').trim().split(/\s+/)
      return { quota: q === 'max' ? -1 : Number(q), period: Number(p) }
    } catch {}
    try {
      return {
        quota: Number(readFileSync(`${d}/cpu.cfs_quota_us`, 'utf8')),
        period: Number(readFileSync(`${d}/cpu.cfs_period_us`, 'utf8')),
      }
    } catch {}
  }
  return undefined
}

const above = (field: string, value: string, ceiling: string) =>
  new CordonError(
    'invalid_policy',
    `update: ${field} ${value} is above the container's org.cordon.policy limit of ${ceiling}; ` +
      'give a value at or under it (the policy is fixed at create)',
    { step: field },
  )

/** Refuses any limit of resources that would lift the container over its policy's ceilings:
 * a larger value, or unlimited (-1, and 0 for pids, as runc reads them). */
export function checkCeilings(
  resources: Record<string, unknown>,
  c: Ceilings,
  dirs: readonly string[],
): void {
  const section = (k: string) => (resources[k] ?? {}) as Record<string, unknown>
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
  const memory = num(section('memory').limit)
  if (c.memory !== undefined && memory !== undefined && (memory <= 0 || memory > c.memory))
    throw above('memory.limit', memory <= 0 ? 'unlimited' : String(memory), `${c.memory} bytes`)
  const pids = num(section('pids').limit)
  if (c.pids !== undefined && pids !== undefined && (pids <= 0 || pids > c.pids))
    throw above('pids.limit', pids <= 0 ? 'unlimited' : String(pids), String(c.pids))
  const cpu = section('cpu')
  if (c.cpus !== undefined && (cpu.quota !== undefined || cpu.period !== undefined)) {
    const now = currentCpu(dirs)
    const quota = num(cpu.quota) ?? now?.quota ?? -1
    const period = num(cpu.period) ?? now?.period ?? 100_000
    if (quota <= 0 || quota / period > c.cpus + 1e-9)
      throw above(
        'cpu.quota',
        quota <= 0 ? 'unlimited' : `${quota}/${period} (${(quota / period).toFixed(2)} CPUs)`,
        `${c.cpus} CPUs`,
      )
  }
}

export function update(root: string, id: string, resources: Record<string, unknown>): void {
  const rec = loadRecord(root, id)
  const status = statusOf(root, rec)
  if (status === 'stopped')
    throw new CordonError('invalid_usage', `cannot update a stopped container "${id}"`)
  const dir = containerDir(root, id)
  checkCeilings(resources, loadCeilings(dir), rec.cgroupDirs)
  const ctx = loadExecContext(dir, id)
  const cg = { dirs: rec.cgroupDirs, view: ctx.cgroups, freezer: rec.freezer }
  const mem = resources.memory as { limit?: number; swap?: number } | undefined
  // cgroup v1 wants memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step: raising
  // both writes the swap total first, lowering both the limit first (applyResources' order).
  const memsw = cg.dirs.find((d) => d.includes('/memory/'))
  if (ctx.cgroups.v1.length && memsw && mem?.limit && mem.swap && mem.swap > 0)
    try {
      const now = Number(readFileSync(`${memsw}/memory.memsw.limit_in_bytes`, 'utf8'))
      if (mem.swap > now) writeFileSync(`${memsw}/memory.memsw.limit_in_bytes`, String(mem.swap))
    } catch {}
  const devices = resources.devices
  if (!ctx.cgroups.v1.length && !ctx.cgroups.none && Array.isArray(devices) && devices.length)
    throw unsupported(
      'linux.resources.devices',
      "on cgroup v2 the device rules are a program attached to the container's group at create, which update does not replace; leave them out of the update, or recreate the container",
    )
  applyResources(cg, resources)
}
