// Plans `cordon run` compiled, kept for its next start of the same command line (cli/run-fast.ts):
// one JSON file per key in the caller's state directory (state-dir.ts), which no sandbox sees
// (plan/state-mask.ts) and no other user can write. An entry is used only for exactly its key
// (cordon's build, the run's options, directory, identity and the environment the policy reads)
// and only while every host read its compile made still gets the same answer (host/reads.ts),
// which makes it exactly the plan a compile would give now; anything else is a miss, and the run
// compiles as before.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Limits } from '../cgroup/driver.js'
import type { HostRead } from '../host/reads.js'
import type { StatementStatus } from '../status/statements.js'
import { planIsWhole } from '../plan/encode.js'
import { replaceFile } from '../host/write-all.js'
import { callerUid, privateStateDir } from './state-dir.js'

export const CACHE_VERSION = 3

/** What a later run needs to start as the first did, without the policy. */
export interface CachedRun {
  version: typeof CACHE_VERSION
  key: string
  /** The host reads the compile made, each with its answer (host/reads.ts). */
  reads: HostRead[]
  /** The caller's login name the compile gave USER and LOGNAME (none: null). */
  login: string | null
  /** The policy's plan without the run's facts (its cgroups), encoded (plan/encode.ts), as
   * base64: its cgroups are placed into it at each start (insertOpsAfterFirst). */
  plan: string
  /** The plan mounts a devpts (a console), and what its resolution warned of. */
  devpts: boolean
  notes: string[]
  /** The policy's limits (the run's cgroup, and what the end says of them). */
  limits: Limits & { timeoutMs?: number }
  requireLimits: boolean
  /** Variables the policy passes: one whose value is not UTF-8 travels in the plan (a miss). */
  passed: string[]
  /** The statements' status the first run reported, and the Landlock and cgroup answers it
   * was for. */
  status: { abi: number; code?: string; cgroup: { ok: boolean; why: string }; statements: StatementStatus[] }
  /** The policy as JSON, for what only it can say (another status, a command not found): read
   * only then. */
  policy: string
}

const MAX_ENTRY = 8 << 20
/** Entries kept: the oldest go first. */
const MAX_ENTRIES = 64

/** FNV-1a, 64 bits, hex: a file name for a key (the entry holds the key itself, compared whole). */
function fileName(key: string): string {
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < key.length; i++) {
    h ^= BigInt(key.charCodeAt(i))
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return `${h.toString(16).padStart(16, '0')}.json`
}

/** The entry for key, when the caller's state directory holds one of the caller's, private,
 * written for exactly this key; undefined otherwise (never an error: a miss compiles). Its host
 * reads are not checked here (the caller does, sameHostReads). */
export function readCachedRun(key: string): CachedRun | undefined {
  let fd: number | undefined
  try {
    const file = join(privateStateDir('plans'), fileName(key))
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    const st = fstatSync(fd)
    if (!st.isFile() || st.uid !== callerUid() || st.mode & 0o077 || st.size > MAX_ENTRY) return undefined
    const buf = Buffer.allocUnsafe(st.size)
    let at = 0
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at)
      if (n === 0) return undefined
      at += n
    }
    const entry = JSON.parse(buf.toString('utf8')) as unknown
    return wellFormed(entry) && entry.key === key ? entry : undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Writes the entry (never through a planted file: O_EXCL, then rename), and keeps at most
 * MAX_ENTRIES. A failure is silent: the next run compiles. */
export function writeCachedRun(entry: CachedRun): void {
  try {
    const dir = privateStateDir('plans')
    if (replaceFile(join(dir, fileName(entry.key)), Buffer.from(JSON.stringify(entry)))) prune(dir)
  } catch {}
}

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'))
  if (names.length <= MAX_ENTRIES) return
  const aged = names
    .map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.t - b.t)
  for (const { n } of aged.slice(0, names.length - MAX_ENTRIES))
    try {
      unlinkSync(join(dir, n))
    } catch {}
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string')

/** An entry of the shape this build writes, its plan whole (plan/encode.ts planIsWhole): one
 * that is not (cut short, edited) is a miss before anything starts, never a launcher waiting
 * for the rest of a plan or a run failing once its command ran. */
function wellFormed(e: unknown): e is CachedRun {
  if (!isObject(e) || e.version !== CACHE_VERSION || typeof e.key !== 'string') return false
  // A compile reads the host (its view, /proc/self/mountinfo, the id ranges): none is no compile's.
  if (!Array.isArray(e.reads) || !e.reads.length) return false
  if (e.login !== null && typeof e.login !== 'string') return false
  if (!e.reads.every((r) => isObject(r) && typeof r.op === 'string')) return false
  if (typeof e.plan !== 'string' || !planIsWhole(Buffer.from(e.plan, 'base64'))) return false
  if (typeof e.devpts !== 'boolean' || !strings(e.notes) || !strings(e.passed)) return false
  if (!isObject(e.limits) || typeof e.requireLimits !== 'boolean' || typeof e.policy !== 'string')
    return false
  const st = e.status
  return (
    isObject(st) &&
    typeof st.abi === 'number' &&
    (st.code === undefined || typeof st.code === 'string') &&
    isObject(st.cgroup) &&
    Array.isArray(st.statements)
  )
}
