// A container's record in the state directory (--root, 0700), and its status as runc reports it.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { isFrozen } from './cgroups.js'
import type { OciHook } from './spec.js'

export const OCI_VERSION = '1.2.0'

export interface ContainerRecord {
  id: string
  pid: number
  /** /proc/PID/stat start time, so a reused pid is never taken for the container. */
  startTime: string
  bundle: string
  rootfs: string
  created: string
  owner: string
  annotations: Record<string, string>
  cgroupDirs: string[]
  freezer: { dir: string; v2: boolean } | undefined
  hooks: { poststart: OciHook[]; poststop: OciHook[] }
}

export type Status = 'created' | 'running' | 'paused' | 'stopped'

export function containerDir(root: string, id: string): string {
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..')
    throw new CordonError('invalid_usage', `invalid container id "${id}": use letters, digits, _ + . -`)
  return `${root}/${id}`
}

export function ensureRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 })
}

export function loadRecord(root: string, id: string): ContainerRecord {
  const dir = containerDir(root, id)
  try {
    return JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as ContainerRecord
  } catch {
    throw new CordonError('not_found', `container "${id}" does not exist`)
  }
}

export function saveRecord(root: string, rec: ContainerRecord): void {
  const dir = containerDir(root, rec.id)
  writeFileSync(`${dir}/state.json.tmp`, JSON.stringify(rec), { mode: 0o600 })
  renameSync(`${dir}/state.json.tmp`, `${dir}/state.json`)
}

export function listIds(root: string): string[] {
  try {
    return readdirSync(root).filter((id) => existsSync(`${root}/${id}/state.json`))
  } catch {
    return []
  }
}

/** Field 22 (start time) and field 3 (state) of /proc/PID/stat, or undefined when gone. */
export function procStat(pid: number): { startTime: string; state: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', startTime: fields[19] ?? '' }
  } catch {
    return undefined
  }
}

export function isAlive(rec: ContainerRecord): boolean {
  if (rec.pid <= 0) return false
  const st = procStat(rec.pid)
  return !!st && st.startTime === rec.startTime && st.state !== 'Z' && st.state !== 'X'
}

export function statusOf(root: string, rec: ContainerRecord): Status {
  if (!isAlive(rec)) return 'stopped'
  if (existsSync(`${containerDir(root, rec.id)}/exec.fifo`)) return 'created'
  return isFrozen(rec.freezer) ? 'paused' : 'running'
}

/** The state as `runc state` prints it (runtime-spec runtime.md "State", runc's field order). */
export function ociState(
  root: string,
  rec: ContainerRecord,
  status = statusOf(root, rec),
): Record<string, unknown> {
  return {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    ...(Object.keys(rec.annotations).length ? { annotations: rec.annotations } : {}),
    owner: rec.owner,
  }
}
