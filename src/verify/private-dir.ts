// verify's host fixtures that must stay private to its caller — the setuid-root fixture, the
// writable directory a sandbox tries to plant setuid files in, a root-only secret — live in
// one directory per run, /tmp/cordon-verify-fixture-PID-XXXXXX, mode 0700, owned by the caller.
// The sandbox reaches each piece only through a bind mount of that piece (never of the
// directory), so no other host user can reach, list or execute anything in it at any moment.
//
// Why /tmp and not os.tmpdir(): /tmp is root-owned and sticky, so no other user can rename or
// replace our entry between the checks below and the removal; a TMPDIR elsewhere may not be.
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

export const FIXTURE_BASE = '/tmp'
const PREFIX = 'cordon-verify-fixture-'
// mkdtemp's six random characters after PREFIX and the owner's pid.
const NAME = /^cordon-verify-fixture-(\d+)-[A-Za-z0-9]{6}$/

/** Why the private directory cannot be made safely here, or undefined when it can. */
export function unsafeBase(base = FIXTURE_BASE): string | undefined {
  const st = lstatSync(base, { throwIfNoEntry: false })
  if (!st?.isDirectory()) return `${base} is not a directory`
  if (st.uid !== 0 || (st.mode & 0o1002) === 0o0002)
    return `${base} must be owned by root and sticky when world-writable`
  return undefined
}

/** Makes this run's directory: 0700 (mkdtemp's mode), owned by the caller. */
export function makePrivateDir(base = FIXTURE_BASE): string {
  return mkdtempSync(join(base, `${PREFIX}${process.pid}-`))
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the directories a killed run (SIGKILL, power loss) left: only entries with our name,
 * owned by the caller, that are real directories (lstat: a symlink is never followed), whose
 * run is gone. Returns what it removed. */
export function sweepStale(base = FIXTURE_BASE, uid = process.getuid?.() ?? 0): string[] {
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(base)
  } catch {
    return removed
  }
  for (const name of names) {
    const m = NAME.exec(name)
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue
    const path = join(base, name)
    const st = lstatSync(path, { throwIfNoEntry: false })
    if (!st?.isDirectory() || st.uid !== uid) continue
    removePrivateDir(path)
    removed.push(path)
  }
  return removed
}

/** Removes the directory and what it holds (rm does not follow symlinks inside it). */
export function removePrivateDir(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true })
  } catch {}
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Runs `cleanup` once, on whichever way out comes first: the returned release (normal end or a
 * thrown error, from a finally), SIGINT, SIGTERM, SIGHUP, or process.exit(). After a signal the
 * process still ends by it (128+N), unless someone else listens for that signal. */
export function cleanupOnExit(cleanup: () => void): () => void {
  let done = false
  const once = () => {
    if (done) return
    done = true
    cleanup()
  }
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      once()
      const others = process.listenerCount(signal) > 1
      release()
      if (!others) process.kill(process.pid, signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  process.on('exit', once)
  const release = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler)
    process.off('exit', once)
    once()
  }
  return release
}
