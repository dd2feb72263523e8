// Small, synchronous helpers for cgroup files (they are tiny and live in kernel memory).
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { selfId, stillRunning } from '../host/self-id.js'
import { identify, signalProcesses } from '../host/signal.js'

export function read(path: string): string {
  return readFileSync(path, 'utf8').trim()
}

export function readNumber(path: string): number {
  try {
    const v = read(path)
    return v === 'max' ? Number.POSITIVE_INFINITY : Number(v)
  } catch {
    return 0
  }
}

/** A whitespace-separated list (cgroup.controllers, cgroup.subtree_control); [] if unreadable. */
export function readWords(path: string): string[] {
  try {
    return read(path).split(/\s+/).filter(Boolean)
  } catch {
    return []
  }
}

/** "key value" lines (memory.events, pids.events, cpu.stat, memory.oom_control). */
export function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {}
  try {
    for (const line of read(path).split('\n')) {
      const [k, v] = line.split(/\s+/)
      if (k && v !== undefined) out[k] = Number(v)
    }
  } catch {}
  return out
}

export function write(path: string, value: string | number): void {
  writeFileSync(path, String(value))
}

/** Writes a cpuset; the kernel's ERANGE or EINVAL (CPUs this host lacks) becomes an error that
 * names the limit and the CPUs there are. */
export function writeCpuset(path: string, cpus: string): void {
  try {
    write(path, cpus)
  } catch (e) {
    let online = 'unknown'
    try {
      online = read('/sys/devices/system/cpu/online')
    } catch {}
    throw new CordonError(
      'invalid_policy',
      `limits.cpuset (--cpuset) ${cpus}: the kernel refused it (${(e as NodeJS.ErrnoException).code ?? 'error'}); ` +
        `this host's CPUs are ${online}`,
    )
  }
}

export function procs(dir: string): number[] {
  try {
    return read(`${dir}/cgroup.procs`).split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Sends signal to every process of the groups, by identity (host/signal.ts): each pid of
 * cgroup.procs with its start time, kept only if the groups still list it once that was read.
 * A pid that left and was handed to a process outside (a dying process reaped by the host's
 * init, its pid reused) is never signalled, root's sweep of an orphaned group included. */
export function signalMembers(dirs: readonly string[], signal: NodeJS.Signals | number): number {
  const listed = () => new Set(dirs.flatMap(procs))
  const ids = identify(listed())
  const still = listed()
  return signalProcesses(
    ids.filter((id) => still.has(id.pid)),
    signal,
  )
}

/** Waits for a condition by polling, at most `ms` (cgroup state changes are asynchronous). */
export function waitFor(condition: () => boolean, ms: number): boolean {
  const end = Date.now() + ms
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  while (!condition()) {
    if (Date.now() > end) return false
    Atomics.wait(sleeper, 0, 0, 5)
  }
  return true
}

/** Removes an empty group: true when it is gone (or was), false while it holds processes
 * (EBUSY), which the caller then kills. Most runs end with their group empty, and this costs them
 * one rmdir where reading every cgroup.procs first cost an open, reads and a close apiece. */
export function removeIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir)
    return true
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return true
    if (code === 'EBUSY') return false
    throw e
  }
}

export function removeDir(dir: string): void {
  try {
    rmdirSync(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
}

/** The name of a sandbox's group: the supervising process's pid first (test and `cordon kill`
 * find a run's groups by it), then its pid namespace and start time, for removeOrphans
 * (host/self-id.ts). Where /proc is not our pid namespace's, a random tag instead: no sweep
 * takes that group for a dead run's. */
export function groupName(seq: number): string {
  const me = selfId()
  const tag = me ? `n${me.pidns}s${me.start}` : `u${Math.random().toString(36).slice(2, 10)}`
  return `run-${process.pid}-${seq}-${Date.now()}-${tag}`
}

/** groupName's shape: pid, sequence, milliseconds, then pid namespace and start time. */
const GROUP = /^run-(\d{1,10})-\d{1,10}-\d{1,16}-n(\d{1,20})s(\d{1,20})$/

/**
 * Clears the groups under `parent` whose supervisor is gone. A supervisor killed with SIGKILL
 * cannot remove its group; its sandbox dies with it (PR_SET_PDEATHSIG) unless the sandbox was
 * frozen, in which case the pending SIGKILL waits (cgroup v1 freezes even fatal signals), in D
 * state, for good. So the next cordon command kills what is left and thaws the group, letting
 * the processes die, then removes it. Only groups made in this pid namespace are judged: a pid
 * of another (a container sharing the host's cgroup tree, or the host seen from one) names some
 * unrelated process here, and its live sandbox was killed. A group whose creator's pid still
 * runs with the start time the name gives is left alone; so is every group named otherwise
 * (an older cordon's `run-PID-SEQ-MS`, whose namespace is unknown).
 */
export function removeOrphans(parent: string): void {
  const me = selfId()
  if (!me) return
  let names: string[]
  try {
    names = readdirSync(parent)
  } catch {
    return
  }
  for (const name of names) {
    const m = GROUP.exec(name)
    if (!m || m[2] !== me.pidns) continue
    const creator = Number(m[1])
    if (creator === process.pid || stillRunning(creator, Number(m[3]))) continue
    const dir = `${parent}/${name}`
    killFrozenOrphan([dir])
    // A process killed with its supervisor may still be leaving the group (EBUSY, though
    // cgroup.procs no longer lists it: seen in CI under load, the group left for a later run),
    // so a little while for it; ENOENT or another error: someone else's, or nothing to do. A
    // group with groups of its own inside is EBUSY for good: not waited for (helper-120: 500 ms
    // of every run, per such group).
    const removed = () => {
      try {
        return removeIfEmpty(dir)
      } catch {
        return true
      }
    }
    if (!removed() && !hasChildGroups(dir)) waitFor(removed, 500)
  }
}

function hasChildGroups(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((d) => d.isDirectory())
  } catch {
    return false
  }
}

/** SIGKILL to every process of an orphaned group (its directories in each hierarchy), then
 * thaw it (v1 freezer.state, v2 cgroup.freeze) so the signals land; waits a bounded time for
 * the group to empty. */
export function killFrozenOrphan(dirs: readonly string[]): void {
  const members = () => dirs.some((d) => procs(d).length)
  for (let round = 0; round < 5 && members(); round++) {
    signalMembers(dirs, 'SIGKILL')
    for (const dir of dirs)
      for (const [file, thawed] of [
        ['freezer.state', 'THAWED'],
        ['cgroup.freeze', '0'],
      ] as const)
        try {
          write(`${dir}/${file}`, thawed)
        } catch {} // not this hierarchy's file
    waitFor(() => !members(), 200)
  }
}

/** Applies limits to a new group, removing the group if the kernel refuses one of them. */
export function withLimits<G extends { apply(l: L): void; remove(): void }, L>(group: G, limits: L): G {
  try {
    group.apply(limits)
  } catch (e) {
    group.remove()
    throw e
  }
  return group
}
