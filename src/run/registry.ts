// Running sandboxes register in a state directory so other cordon processes can list, freeze,
// thaw and kill them: /run/cordon for root, $XDG_RUNTIME_DIR/cordon otherwise. One JSON file per
// sandbox, written when it starts and removed when it ends; entries whose launcher is gone are
// stale and dropped by `list()`.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CgroupRef } from '../cgroup/driver.js'
import { processExists } from '../host/process.js'

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

export function list(): SandboxRecord[] {
  const dir = stateDir()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: SandboxRecord[] = []
  const live = new Set<string>()
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as SandboxRecord
      if (processExists(record.pid)) {
        out.push(record)
        live.add(record.id)
      } else unlinkSync(join(dir, name))
    } catch {}
  }
  // Event sockets of sandboxes whose supervisor was killed before it could remove them (a
  // socket is made just before its record: young ones may be starting).
  for (const name of names.filter((n) => n.endsWith('.sock')))
    if (!live.has(name.slice(0, -5)) && !names.includes(`${name.slice(0, -5)}.json`))
      try {
        if (Date.now() - statSync(join(dir, name)).mtimeMs > 10_000) unlinkSync(join(dir, name))
      } catch {}
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}

/** A running sandbox by id (or unique id prefix). */
export function find(id: string): SandboxRecord | undefined {
  const matches = list().filter((r) => r.id.startsWith(id))
  return matches.length === 1 ? matches[0] : undefined
}
