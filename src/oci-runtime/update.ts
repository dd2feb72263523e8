// `update`: new linux.resources for a created or running container, with runc's flags
// (`--resources FILE|-`, as containerd and `docker update` use it, or one flag per limit).
import { readFileSync, writeFileSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { applyResources } from './cgroups.js'
import { loadExecContext } from './exec-context.js'
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

export function update(root: string, id: string, resources: Record<string, unknown>): void {
  const rec = loadRecord(root, id)
  const status = statusOf(root, rec)
  if (status === 'stopped')
    throw new CordonError('invalid_usage', `cannot update a stopped container "${id}"`)
  const ctx = loadExecContext(containerDir(root, id), id)
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
  applyResources(cg, resources)
}
