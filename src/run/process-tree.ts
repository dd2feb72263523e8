// A process and its descendants, from /proc: how a sandbox without a cgroup is stopped and
// resumed (SIGSTOP/SIGCONT), which is weaker than the freezer (the processes can see it) but
// works for any user. Every process is named by its pid and start time, the launcher included,
// and signalled through host/signal.ts: a pid that ended during a sweep, and was handed to
// another process, is never signalled.
import { readdirSync, readFileSync } from 'node:fs'
import type { Cgroup } from '../cgroup/driver.js'
import { FREEZE_SIGNAL, type ProcessId, signalProcesses } from '../host/signal.js'

/** What a pass over /proc saw of one process. */
export interface Seen {
  state: string
  startTime: number
  ppid: number
}

/** Descendants of root (not root itself), parents before children; none when root's pid now
 * names another process than root. `seen` gets what /proc said of each process. */
export function descendants(root: ProcessId, seen: Map<number, Seen> = new Map()): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // The command name may hold spaces and parentheses: fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ppid = Number(fields[1])
    seen.set(Number(name), { state: fields[0] ?? '', startTime: Number(fields[19]), ppid })
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
  }
  if (seen.get(root.pid)?.startTime !== root.startTime) return []
  const out: number[] = []
  for (let queue = [root.pid]; queue.length;) {
    const next = children.get(queue.shift()!) ?? []
    out.push(...next)
    queue.push(...next)
  }
  return out
}

/** The identities of pids, as a pass saw them. */
function ids(pids: readonly number[], seen: Map<number, Seen>): ProcessId[] {
  return pids.map((pid) => ({ pid, startTime: seen.get(pid)?.startTime ?? -1 }))
}

/** Whether the sandbox below a launcher is stopped as `cordon freeze` leaves one that has no
 * cgroup: its first process (the sandbox's init, which its own processes cannot stop) or the
 * command, init's child, in state T. A program that stops one of its own children is not
 * frozen. The command counts too because init stays in the caller's process group, where a
 * SIGCONT for the group (`timeout` sends one after its signal) resumes init alone: a kill then
 * went to the still stopped command as a signal it could not act on, and the run hung. */
export function sandboxStopped(launcher: ProcessId | undefined): boolean {
  if (!launcher) return false
  const seen = new Map<number, Seen>()
  const all = descendants(launcher, seen)
  const init = all[0]
  if (init === undefined) return false
  const command = all.find((pid) => seen.get(pid)?.ppid === init)
  return [init, command].some((pid) => pid !== undefined && seen.get(pid)?.state === 'T')
}

/** Sends signal to every descendant of root; returns how many got it. */
export function signalDescendants(root: ProcessId, signal: NodeJS.Signals): number {
  const seen = new Map<number, Seen>()
  return signalProcesses(ids(descendants(root, seen), seen), signal)
}

export const FROZEN_BY_CGROUP = 'cgroup freezer'

/** Stops every process of a sandbox: its cgroup's freezer, else SIGSTOP to each descendant of
 * its launcher (the launcher itself keeps running: it answers notified syscalls). Returns how,
 * or undefined when there was no process to stop. */
export function freezeSandbox(
  group: Cgroup | undefined,
  launcher: ProcessId | undefined,
): string | undefined {
  if (group) {
    group.freeze()
    return FROZEN_BY_CGROUP
  }
  if (!launcher) return undefined
  askInitToStop(launcher)
  return stopDescendants(launcher) > 0 ? 'SIGSTOP (no cgroup)' : undefined
}

const INIT_WAIT_MS = 2000

/** Has the sandbox's own init (pid 1 of its pid namespace) stop every other process of the
 * namespace at once, and waits until it has: the kernel's kill(-1) reaches a fork in flight,
 * which no sweep from outside can (a program forking away faster than a pass over /proc
 * outruns every pass on a busy host). Without a pid namespace there is no such init, and the
 * sweep alone does what it can. Init itself keeps running until the sweep stops it. The
 * request goes to the launcher (its pid checked by the caller), never to init's pid read from
 * /proc: the signal alone is no request (a sandbox can queue it to its init), and the launcher
 * writes the one init trusts. */
function askInitToStop(launcher: ProcessId): void {
  const seen = new Map<number, Seen>()
  const [init, ...rest] = descendants(launcher, seen)
  const depth = init === undefined ? undefined : nsPids(init)
  if (depth === undefined || depth.length < 2 || depth.at(-1) !== '1' || rest.length === 0) return
  if (signalProcesses([launcher], FREEZE_SIGNAL) === 0) return
  const wait = new Int32Array(new SharedArrayBuffer(4))
  for (const end = Date.now() + INIT_WAIT_MS; Date.now() < end; Atomics.wait(wait, 0, 0, 2)) {
    seen.clear()
    // Only the processes of init's namespace (or of namespaces below it) are init's to stop:
    // the launcher's own helpers beside it (a console or stdin relay) are outside, and waiting
    // for them to stop held every freeze, kill and timeout for the full 2 s.
    const others = descendants(launcher, seen).filter(
      (pid) => pid !== init && (nsPids(pid)?.length ?? 0) >= depth.length,
    )
    if (others.every((pid) => stoppedOrDead(pid, seen.get(pid)?.state))) return
  }
}

/** pid's NSpid fields, its pid in each pid namespace from the outermost (/proc's) inward;
 * undefined when it is gone. */
function nsPids(pid: number): string[] | undefined {
  try {
    return /^NSpid:(.*)$/m
      .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
      ?.trim()
      .split(/\s+/)
  } catch {
    return undefined
  }
}

/** SIGSTOP to every descendant of root, again until a pass finds none running: one pass races
 * the processes it has not reached yet, and a process that forks as fast as it can (a new pid
 * each time, its parent exiting) is never among the ones a single pass saw, and sends SIGCONT
 * to the rest. Stopped processes make no more, so the passes end. Returns how many were found. */
/** States a pass leaves alone: stopped (by a signal or a tracer), a zombie, dead. */
const STOPPED_OR_DEAD = new Set(['T', 't', 'Z', 'X'])
const SIGSTOP_BIT = 1n << 18n // SIGSTOP is 19; bit n-1 of the pending masks

/** Whether a pass can leave pid alone. A process in an uninterruptible wait (D: a vfork parent
 * whose child never execs, a FUSE or NFS call) takes no SIGSTOP until the wait ends, and a
 * program can make that wait last for ever (vfork, then stop or pause in the child): with the
 * SIGSTOP pending it runs no instruction of its own before it stops, so it counts as stopped.
 * Counted running, it kept every freeze sweeping /proc for 1000 passes (18 s of a blocked
 * supervisor). A SIGCONT from a process still running clears the pending stop, and the next
 * pass sends another. */
function stoppedOrDead(pid: number, state: string | undefined): boolean {
  if (STOPPED_OR_DEAD.has(state ?? 'X')) return true
  if (state !== 'D') return false
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return ['SigPnd', 'ShdPnd'].some((field) => {
      const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1]
      return hex !== undefined && (BigInt(`0x${hex}`) & SIGSTOP_BIT) !== 0n
    })
  } catch {
    return true // gone
  }
}

function stopDescendants(root: ProcessId): number {
  let found = 0
  for (let pass = 0; pass < 1000; pass++) {
    const seen = new Map<number, Seen>()
    const all = descendants(root, seen)
    if (pass === 0) found = all.length
    const running = all.filter((pid) => !stoppedOrDead(pid, seen.get(pid)?.state))
    if (running.length === 0) break
    signalProcesses(ids(running, seen), 'SIGSTOP')
  }
  return found
}

export function thawSandbox(group: Cgroup | undefined, launcher: ProcessId | undefined): void {
  if (group) group.thaw()
  else if (launcher) signalDescendants(launcher, 'SIGCONT')
}

/** Kills a frozen sandbox: through its group (kill, then thaw so the signals land), else
 * SIGKILL to each descendant of its launcher (SIGKILL ends a stopped process too). */
export function killFrozen(group: Cgroup | undefined, launcher: ProcessId | undefined): void {
  if (group) {
    try {
      group.killAll()
      return
    } catch {} // the group went away meanwhile: fall back to the process tree
  }
  if (launcher) signalDescendants(launcher, 'SIGKILL')
}
