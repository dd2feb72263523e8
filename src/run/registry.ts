// Running sandboxes register in a state directory so other cordon processes can list, freeze,
// thaw and kill them: /run/cordon for root, $XDG_RUNTIME_DIR/cordon otherwise. One JSON file per
// sandbox, written when it starts and removed when it ends; entries whose launcher is gone are
// stale and dropped by `list()`.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CgroupRef } from '../cgroup/driver.js'

export interface SandboxRecord {
  version: 1
  id: string
  /** Host pid of the launcher (killing it takes the sandbox down). */
  pid: number
  command: string[]
  startedAt: string
  cgroup?: CgroupRef
  limits?: Record<string, unknown>
  /** Unix socket streaming the sandbox's events as JSON lines (`cordon monitor` reads it). */
  events?: string
  /** Syscalls the sandbox reports (its watch list). */
  watch?: string[]
}

export function stateDir(): string {
  if (process.getuid?.() === 0) return '/run/cordon'
  return join(process.env.XDG_RUNTIME_DIR || `/tmp/cordon-${process.getuid?.() ?? 'user'}`, 'cordon')
}

export function newId(): string {
  return randomBytes(4).toString('hex')
}

export function register(record: SandboxRecord): () => void {
  const dir = stateDir()
  const file = join(dir, `${record.id}.json`)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeFileSync(file, JSON.stringify(record), { mode: 0o600 })
  } catch {
    return () => {} // the registry is a convenience: a sandbox runs without it
  }
  return () => {
    try {
      unlinkSync(file)
    } catch {}
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function list(): SandboxRecord[] {
  const dir = stateDir()
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const out: SandboxRecord[] = []
  for (const name of names) {
    try {
      const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as SandboxRecord
      if (alive(record.pid)) out.push(record)
      else unlinkSync(join(dir, name))
    } catch {}
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}

/** A running sandbox by id (or unique id prefix). */
export function find(id: string): SandboxRecord | undefined {
  const matches = list().filter((r) => r.id.startsWith(id))
  return matches.length === 1 ? matches[0] : undefined
}
