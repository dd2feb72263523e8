// start, state, kill, delete, pause, resume, list, ps: the container after `create`.
import { closeSync, constants, openSync, readSync, rmSync, unlinkSync } from 'node:fs'
import { constants as os } from 'node:os'
import { signalMembers } from '../cgroup/fs.js'
import { CordonError } from '../errors.js'
import { signalProcesses } from '../host/signal.js'
import { removeCgroups } from './cgroup-made.js'
import { cgroupPids, freeze } from './cgroups.js'
import { runHooks } from './hooks.js'
import { awaitSupervisor, stopSupervisor } from './monitor.js'
import {
  type ContainerRecord,
  containerDir,
  isAlive,
  listIds,
  loadRecord,
  ociState,
  statusOf,
} from './state.js'

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

function notRunning(id: string, status: string, what: string): CordonError {
  return new CordonError('invalid_usage', `cannot ${what} container "${id}" in status ${status}`)
}

export function start(root: string, id: string, log: (msg: string) => void): void {
  const rec = loadRecord(root, id)
  const status = statusOf(root, rec)
  if (status !== 'created') throw notRunning(id, status, 'start')
  awaitSupervisor(root, rec)
  const fifo = `${containerDir(root, id)}/exec.fifo`
  // Non-blocking: a container that died meanwhile must not leave `start` waiting forever.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const buf = Buffer.alloc(1)
    for (;;) {
      let n = 0
      try {
        n = readSync(fd, buf, 0, 1, null)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e
      }
      if (n === 1) break
      if (!isAlive(rec)) throw new CordonError('setup_failed', `container "${id}" exited before it started`)
      sleep(1)
    }
  } finally {
    closeSync(fd)
  }
  unlinkSync(fifo)
  try {
    runHooks('poststart', rec.hooks.poststart, ociState(root, rec, 'running'))
  } catch (e) {
    log(`warning: ${(e as Error).message}`) // the spec: a failing poststart hook is only logged
  }
}

export function state(root: string, id: string): string {
  const rec = loadRecord(root, id)
  return JSON.stringify(ociState(root, rec), null, '  ')
}

export function parseSignal(s: string | undefined): number {
  if (s === undefined) return os.signals.SIGTERM
  if (/^\d+$/.test(s)) return Number(s)
  const name = (
    s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`
  ) as keyof typeof os.signals
  const n = os.signals[name]
  if (n === undefined) throw new CordonError('invalid_usage', `unknown signal "${s}"`)
  return n
}

function pidsOf(rec: ContainerRecord): number[] {
  const dir = rec.cgroupDirs.find((d) => cgroupPids(d).length > 0)
  return dir ? cgroupPids(dir) : []
}

/** The container's processes get signal by identity (host/signal.ts), never by a bare pid that
 * may have ended and been handed out again: its first process by its recorded start time, the
 * rest (all) as members of its first non-empty cgroup. */
function signalContainer(rec: ContainerRecord, signal: number, all: boolean): void {
  const dir = rec.cgroupDirs.find((d) => cgroupPids(d).length > 0)
  if (all) {
    if (dir) signalMembers([dir], signal)
    return
  }
  signalProcesses([{ pid: rec.pid, startTime: Number(rec.startTime) }], signal)
}

export function kill(root: string, id: string, signal: number, all: boolean): void {
  const rec = loadRecord(root, id)
  const status = statusOf(root, rec)
  if (status === 'stopped' && !all) throw new CordonError('invalid_usage', 'container not running')
  signalContainer(rec, signal, all)
  // A frozen group holds even SIGKILL on cgroup v1: thaw it so the signal lands.
  if (status === 'paused' && signal === os.signals.SIGKILL && rec.freezer) freeze(rec.freezer, false)
}

export function remove(root: string, id: string, force: boolean): void {
  let rec: ContainerRecord
  try {
    rec = loadRecord(root, id)
  } catch (e) {
    if (force) return
    throw e
  }
  const status = statusOf(root, rec)
  if (status !== 'stopped' && status !== 'created' && !force) throw notRunning(id, status, 'delete')
  stopSupervisor(root, id)
  if (status !== 'stopped') {
    signalContainer(rec, os.signals.SIGKILL, false)
    signalContainer(rec, os.signals.SIGKILL, true)
    if (rec.freezer) freeze(rec.freezer, false)
  }
  for (let i = 0; i < 200 && pidsOf(rec).length; i++) sleep(5)
  removeCgroups(root, rec.cgroupDirs)
  rmSync(containerDir(root, id), { recursive: true, force: true })
  try {
    runHooks('poststop', rec.hooks.poststop, ociState(root, rec, 'stopped'))
  } catch {}
}

export function pause(root: string, id: string, frozen: boolean): void {
  const rec = loadRecord(root, id)
  const status = statusOf(root, rec)
  if (frozen ? status !== 'running' : status !== 'paused')
    throw notRunning(id, status, frozen ? 'pause' : 'resume')
  if (!rec.freezer) throw new CordonError('setup_failed', 'this host has no cgroup freezer')
  freeze(rec.freezer, frozen)
}

export function list(root: string, format: string, quiet: boolean): string {
  const states = listIds(root).map((id) => ociState(root, loadRecord(root, id)))
  if (quiet) return states.map((s) => s.id).join('\n')
  if (format === 'json') return JSON.stringify(states)
  const rows = [
    ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...states.map((s) => [s.id, s.pid, s.status, s.bundle, s.created, s.owner].map(String)),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]! + 2))
        .join('')
        .trimEnd(),
    )
    .join('\n')
}

export function ps(root: string, id: string, format: string): string {
  const rec = loadRecord(root, id)
  const pids = pidsOf(rec)
  if (format === 'json') return JSON.stringify(pids)
  return ['PID', ...pids.map(String)].join('\n')
}
