// Running sandboxes register in the caller's private state directory (state-dir.ts) so other
// cordon processes can list, freeze, thaw and kill them. One JSON file per sandbox, written when
// it starts (O_EXCL, then renamed into place) and removed when it ends. A record is trusted only
// after checks: read without following a symlink, a regular file of the caller's, and naming a
// process that is still the one it registered (pid + start time + boot) and a cordon launcher of
// the caller's. Stale records are dropped; records failing the rest are ignored.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import type { CgroupRef } from '../cgroup/driver.js'
import { CordonError } from '../errors.js'
import { bootId, type ProcessInfo, processInfo } from '../host/process.js'
import { callerUid, privateStateDir, stateDirPath } from './state-dir.js'

export interface SandboxRecord {
  version: 2
  id: string
  /** Host pid of the launcher (killing it takes the sandbox down). */
  pid: number
  /** The launcher's start time (/proc/PID/stat field 22) and boot: with pid, one process. */
  startTime: number
  bootId: string
  command: string[]
  startedAt: string
  cgroup?: CgroupRef
  limits?: Record<string, unknown>
  /** Unix socket streaming the sandbox's events as JSON lines (`cordon monitor` reads it). */
  events?: string
  /** Syscalls the sandbox reports (its watch list). */
  watch?: string[]
}

/** The state directory's path (for help texts; not checked). */
export function stateDir(): string {
  return stateDirPath()
}

/** The checked state directory for a new sandbox, or undefined when the host has none to give
 * (the registry is a convenience: a sandbox runs without it). An unsafe one throws. */
export function openRegistry(): string | undefined {
  // Checked in full once per process; after that one lstat shows it is still the directory
  // that was checked (a directory, the caller's, writable by no one else): its parents were
  // checked to let no one else replace it. Saves each spawn() ~6 syscalls.
  if (checkedDir !== undefined)
    try {
      const st = lstatSync(checkedDir)
      if (st.isDirectory() && st.uid === callerUid() && !(st.mode & 0o7077)) return checkedDir
    } catch {}
  try {
    checkedDir = privateStateDir()
    return checkedDir
  } catch (e) {
    checkedDir = undefined
    if (e instanceof CordonError) throw e
    return undefined
  }
}
let checkedDir: string | undefined

/** Random bytes from the kernel, drawn in batches: node:crypto alone costs the CLI's start
 * ~3 ms to load, for 8 random hex digits. */
const pool = Buffer.alloc(64)
let poolUsed = pool.length
function randomHex(n: number): string {
  if (poolUsed + n > pool.length) {
    const fd = openSync('/dev/urandom', 'r')
    try {
      if (readSync(fd, pool, 0, pool.length, null) !== pool.length)
        throw new Error('short read of /dev/urandom')
    } finally {
      closeSync(fd)
    }
    poolUsed = 0
  }
  poolUsed += n
  return pool.toString('hex', poolUsed - n, poolUsed)
}

export function newId(): string {
  return randomHex(4)
}

const OPEN_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** Writes the record (never through a planted file: O_EXCL, then rename); returns its remover.
 * The launcher's start time is the caller's (host/signal.ts identify), read while its child
 * could not yet have been reaped: one read of /proc/PID/stat per spawn, not two. */
export function register(
  dir: string | undefined,
  record: Omit<SandboxRecord, 'version' | 'bootId'>,
): () => void {
  if (!dir) return () => {}
  const file = join(dir, `${record.id}.json`)
  const full: SandboxRecord = { version: 2, ...record, bootId: bootId() }
  const temp = join(dir, `.${record.id}.${randomHex(4)}`)
  try {
    const fd = openSync(temp, OPEN_NEW, 0o600)
    try {
      writeSync(fd, JSON.stringify(full))
    } finally {
      closeSync(fd)
    }
    renameSync(temp, file)
  } catch {
    try {
      unlinkSync(temp)
    } catch {}
    return () => {}
  }
  return () => {
    try {
      unlinkSync(file)
    } catch {}
  }
}

const MAX_RECORD = 1 << 16

/** The JSON in dir/name, when it is a regular file of the caller's that no one else can write,
 * at most max bytes; else undefined. Never follows a link, never waits on a FIFO. */
function readOwnJson(dir: string, name: string, max: number): unknown {
  let fd: number
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.uid !== callerUid() || st.mode & 0o022 || st.size > max) return undefined
    return JSON.parse(readFileSync(fd, 'utf8')) as unknown
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** The record in file, when it is a regular file of the caller's that no one else can write
 * and has the record's shape; else undefined. */
function readRecord(dir: string, name: string): SandboxRecord | undefined {
  const r = readOwnJson(dir, name, MAX_RECORD) as Partial<SandboxRecord> | undefined
  if (typeof r !== 'object' || r === null) return undefined
  const ok =
    r.version === 2 &&
    r.id === name.slice(0, -5) &&
    /^[0-9a-f]{8}$/.test(r.id) &&
    Number.isSafeInteger(r.pid) &&
    Number.isSafeInteger(r.startTime) &&
    typeof r.bootId === 'string' &&
    Array.isArray(r.command) &&
    typeof r.startedAt === 'string'
  return ok ? (r as SandboxRecord) : undefined
}

export type Check = { ok: true; launcher: ProcessInfo } | { ok: false; stale: boolean; why: string }

/** Whether the record's process is still the launcher it registered, and the caller's. */
export function checkRecord(record: SandboxRecord): Check {
  const p = processInfo(record.pid)
  if (!p || p.startTime !== record.startTime || record.bootId !== bootId())
    return { ok: false, stale: true, why: `its process ${record.pid} has ended (the record is stale)` }
  if (p.uid !== callerUid())
    return { ok: false, stale: false, why: `process ${record.pid} belongs to uid ${p.uid}, not you` }
  if (!p.exe || !basename(p.exe).startsWith('cordon-exec'))
    return {
      ok: false,
      stale: false,
      why: `process ${record.pid} is not a cordon launcher (${p.exe ?? 'unknown'})`,
    }
  return { ok: true, launcher: p }
}

/** The running sandboxes of this caller, oldest first. Throws when the state directory is
 * unsafe; drops records whose process has ended, ignores the untrustworthy. */
export function list(): SandboxRecord[] {
  let dir: string
  try {
    dir = privateStateDir()
  } catch (e) {
    if (e instanceof CordonError) throw e
    return [] // no state directory on this host: nothing registered
  }
  const names = readdirSync(dir)
  const out: SandboxRecord[] = []
  /** Sandboxes whose records were dropped here: their launchers have ended. */
  const ended = new Set<string>()
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const record = readRecord(dir, name)
    if (!record) continue
    const check = checkRecord(record)
    if (check.ok) out.push(record)
    else if (check.stale) {
      remove(dir, name)
      ended.add(name.slice(0, -'.json'.length))
    }
  }
  // Event sockets of sandboxes whose supervisor was killed before it could remove them (a
  // socket is made just before its record: young ones may be starting), at once for a record
  // dropped above. Likewise kill notes whose `cordon run` was gone before it could read them,
  // and records a writer was killed in the middle of (`.ID.HEX`, before their rename).
  for (const name of names) {
    const partial = PARTIAL.test(name)
    if (!partial && !name.endsWith('.sock') && !name.endsWith(KILLED)) continue
    const id = partial ? undefined : name.slice(0, name.lastIndexOf('.'))
    if (id !== undefined && ended.has(id)) remove(dir, name)
    else if (id === undefined || !names.includes(`${id}.json`))
      try {
        if (Date.now() - lstatSync(join(dir, name)).mtimeMs > 10_000) remove(dir, name)
      } catch {}
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}

function remove(dir: string, name: string): void {
  try {
    unlinkSync(join(dir, name))
  } catch {}
}

const KILLED = '.killed'
/** A record being written (register: `.ID.HEX`, renamed to ID.json once whole). */
const PARTIAL = /^\.[0-9a-f]+\.[0-9a-f]+$/

/** Notes, before `cordon kill` signals, who ended the sandbox, so that its `cordon run` can say
 * so (a program that SIGKILLs itself gets no such note). Best effort, like the registry. */
export function markKilled(record: SandboxRecord, by: string): () => void {
  let dir: string
  try {
    dir = privateStateDir()
  } catch {
    return () => {}
  }
  const file = join(dir, `${record.id}${KILLED}`)
  try {
    const fd = openSync(file, OPEN_NEW, 0o600)
    try {
      writeSync(fd, JSON.stringify({ by, pid: record.pid, startTime: record.startTime }))
    } finally {
      closeSync(fd)
    }
  } catch {
    return () => {}
  }
  return () => remove(dir, basename(file))
}

/** Who killed the sandbox id (whose launcher was pid), when cordon did; removes the note. Only
 * a regular file of the caller's naming that launcher counts. */
export function takeKilledMark(id: string, pid: number | undefined): string | undefined {
  if (!/^[0-9a-f]{8}$/.test(id)) return undefined
  let dir: string
  try {
    dir = privateStateDir()
  } catch {
    return undefined
  }
  const name = `${id}${KILLED}`
  const m = readOwnJson(dir, name, 4096) as { by?: unknown; pid?: unknown } | null | undefined
  remove(dir, name)
  return typeof m?.by === 'string' && pid !== undefined && m.pid === pid ? m.by : undefined
}

/** A running sandbox by id (or unique id prefix). */
export function find(id: string): SandboxRecord | undefined {
  const matches = list().filter((r) => r.id.startsWith(id))
  return matches.length === 1 ? matches[0] : undefined
}

/** The record's event socket, when it is where cordon makes it (the checked state directory)
 * and is a socket of the caller's; else undefined. */
export function eventSocket(record: SandboxRecord): string | undefined {
  if (!record.events) return undefined
  const path = join(privateStateDir(), `${record.id}.sock`)
  if (record.events !== path) return undefined
  try {
    const st = lstatSync(path)
    return st.isSocket() && st.uid === callerUid() ? path : undefined
  } catch {
    return undefined
  }
}
