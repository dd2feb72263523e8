// What a traced run saw, in a form that merges across runs and serializes as JSON (the
// `.learn.json` file next to a learned policy, which `cordon learn --merge` adds runs to).
import type { SandboxEvent, SyscallEffect, SyscallEvent } from '../run/events.js'
import { CAPTURE } from '../seccomp/notify.js'
import { refusedByTracer } from './trace.js'

/** How a path was used. `lookup`: only named (stat, access, readlink, chdir). */
export type FileAccess = 'read' | 'write' | 'exec' | 'list' | 'create' | 'delete' | 'lookup'

export interface Endpoint {
  family: 'inet' | 'inet6' | 'unix'
  /** Numeric address, or the socket path (`@name` for abstract UNIX sockets). */
  address: string
  port?: number
}

export interface SyscallUse {
  count: number
  /** The most calls seen within about one second (the launcher reports totals every 250 ms):
   * what a monitor baseline `from` this file treats as normal. */
  peakPerSecond?: number
  /** Set when the base policy refused the call during learning: the errno it got. */
  refused?: number
  /** Set when the tracer's own rules refused the call while learning (learn/trace.ts
   * refusedByTracer: clone with CLONE_UNTRACED, clone3), not the base: the errno it got. */
  tracerRefused?: number
  /** Argument index → distinct values seen (hex), for the arguments worth narrowing on. */
  values?: Record<string, string[]>
}

export interface Observation {
  version: 1
  arch: string
  runs: { command: string[]; cwd: string; at: string; durationMs: number; exit: number }[]
  syscalls: Record<string, SyscallUse>
  files: Record<string, FileAccess[]>
  net: { bind: Endpoint[]; connect: Endpoint[]; send: Endpoint[] }
  peaks: { memoryBytes?: number | undefined; pids?: number | undefined }
  /** Processes and threads the runs created (spawn events: process creation is counted, never
   * stopped), with the most within about a second. Absent in files written before it existed. */
  spawns?: { count: number; peakPerSecond?: number }
  /** What the run tried that did not succeed (refused, or no trace of it afterwards): listed
   * in the learned policy, never granted. Absent in files written before it existed. */
  failed?: Attempts
}

export interface Attempts {
  files: Record<string, FileAccess[]>
  bind: Endpoint[]
  connect: Endpoint[]
}

export function emptyObservation(arch: string): Observation {
  return {
    version: 1,
    arch,
    runs: [],
    syscalls: {},
    files: {},
    net: { bind: [], connect: [], send: [] },
    peaks: {},
    failed: { files: {}, bind: [], connect: [] },
  }
}

const O_WRONLY = 1
const O_RDWR = 2
const O_CREAT = 0o100
const O_TRUNC = 0o1000
const O_DIRECTORY = 0o200000
const O_PATH = 0o10000000

function openAccess(flags: bigint): FileAccess[] {
  const f = Number(flags & 0xffffffffn)
  if (f & O_PATH) return ['lookup']
  const out: FileAccess[] = []
  const mode = f & 3
  if (mode !== O_WRONLY) out.push(f & O_DIRECTORY ? 'list' : 'read')
  if (mode === O_WRONLY || mode === O_RDWR || f & O_TRUNC) out.push('write')
  if (f & O_CREAT) out.push('create')
  return out
}

const le64 = (hex: string, at: number): bigint =>
  hex.length >= (at + 8) * 2 ? Buffer.from(hex.slice(at * 2, (at + 8) * 2), 'hex').readBigUInt64LE() : 0n

/** AF_INET, AF_INET6 and AF_UNIX socket addresses; others are not endpoints we grant. */
export function parseSockaddr(hex: string): Endpoint | undefined {
  const b = Buffer.from(hex, 'hex')
  if (b.length < 2) return undefined
  const family = b.readUInt16LE(0)
  // AF_UNSPEC with a sockaddr_in's length: the kernel binds an IPv4 socket with it as AF_INET
  // (INADDR_ANY), and Landlock judges its port (helper-140: audit missed one, learn left it out).
  if ((family === 2 || family === 0) && b.length >= 16)
    return { family: 'inet', address: [...b.subarray(4, 8)].join('.'), port: b.readUInt16BE(2) }
  if (family === 2 && b.length >= 8)
    return { family: 'inet', address: [...b.subarray(4, 8)].join('.'), port: b.readUInt16BE(2) }
  if (family === 10 && b.length >= 24) {
    const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(8 + 2 * i).toString(16))
    return {
      family: 'inet6',
      address: words.join(':').replace(/(^|:)(0(:|$)){2,}/, '::'),
      port: b.readUInt16BE(2),
    }
  }
  if (family === 1 && b.length > 2) {
    const raw = b.subarray(2)
    if (raw[0] === 0)
      return { family: 'unix', address: `@${raw.subarray(1).toString('latin1').replace(/\0+$/, '')}` }
    return { family: 'unix', address: raw.toString('utf8').replace(/\0.*$/s, '') }
  }
  return undefined
}

/** The object a state names (`dev:ino`), without its ctime; "" when nothing was there. */
const objectOf = (state?: string) => (state ? state.split(':').slice(0, 2).join(':') : '')
/** A new object under the name: created, or replaced (rename over it). */
const appeared = (was?: string, now?: string) => !!now && objectOf(now) !== objectOf(was)
/** The object that was there went (unlinked, renamed away). */
const went = (was?: string, now?: string) => !!was && objectOf(now) !== objectOf(was)
/** Still there, and its ctime moved (chmod, chown, utimes, truncate, xattrs). */
const changed = (was?: string, now?: string) => !!now && now !== was

/**
 * Whether a call did what it asked, from the launcher's look before and after it (learn mode,
 * native/outcome.h): `true`/`false` for each named path, `undefined` where nothing tells (an
 * unchecked lookup, or an event without an outcome: monitor mode). A refused call failed; one
 * whose thread made no syscall after it is not known to have succeeded, so it counts as failed.
 */
function outcomeOf(ev: SyscallEvent): { first?: boolean; second?: boolean; created?: boolean } {
  if (ev.errno) return { first: false, second: false }
  const e: SyscallEffect | undefined = ev.effect
  if (!e || CAPTURE[ev.syscall]?.check === undefined) return {}
  if (!e.settled) return { first: false, second: false }
  switch (ev.syscall) {
    case 'execve':
    case 'execveat':
      return { first: e.execed === true }
    case 'open':
    case 'openat':
    case 'openat2':
    case 'creat':
      return { first: (e.opened ?? -1) >= 0, created: appeared(e.was, e.now) }
    case 'unlink':
    case 'unlinkat':
    case 'rmdir':
      return { first: went(e.was, e.now) }
    case 'rename':
    case 'renameat':
    case 'renameat2':
      return { first: went(e.was, e.now), second: appeared(e.was2, e.now2) }
    case 'link':
    case 'linkat':
      return { second: appeared(e.was2, e.now2), first: appeared(e.was2, e.now2) }
    case 'mkdir':
    case 'mkdirat':
    case 'mknod':
    case 'mknodat':
    case 'symlink':
    case 'symlinkat':
      return { first: appeared(e.was, e.now) }
    case 'connect':
      return { first: e.peer === true }
    case 'bind':
      return { first: e.boundBefore === false && e.bound === true }
    default:
      return { first: changed(e.was, e.now) }
  }
}

/** The file accesses one recorded call stands for: [path, accesses, succeeded] triples, where
 * succeeded is undefined when nothing tells (see outcomeOf). */
export function fileAccesses(ev: SyscallEvent): [string, FileAccess[], boolean | undefined][] {
  const p = ev.path
  const p2 = ev.path2
  const out: [string, FileAccess[], boolean | undefined][] = []
  const result = outcomeOf(ev)
  const add = (path: string | undefined, access: FileAccess[], ok = result.first) => {
    if (path !== undefined) out.push([path, access, ok])
  }
  /** An open that succeeded without making the file did not create it: the name was there. */
  const opened = (access: FileAccess[]) =>
    result.first && result.created === false ? access.filter((a) => a !== 'create') : access
  switch (ev.syscall) {
    case 'execve':
    case 'execveat':
      add(p, ['exec'])
      break
    case 'open':
      add(p, opened(openAccess(ev.args[1] ?? 0n)))
      break
    case 'openat':
      add(p, opened(openAccess(ev.args[2] ?? 0n)))
      break
    case 'openat2':
      add(p, opened(openAccess(ev.data ? le64(ev.data, 0) : BigInt(O_RDWR))))
      break
    case 'creat':
      add(p, opened(['write', 'create']))
      break
    case 'unlink':
    case 'rmdir':
    case 'unlinkat':
      add(p, ['delete'])
      break
    case 'rename':
    case 'renameat':
    case 'renameat2':
      add(p, ['delete'])
      add(p2, ['create'], result.second)
      break
    case 'link':
    case 'linkat':
      add(p, ['lookup'])
      add(p2, ['create'], result.second)
      break
    case 'mkdir':
    case 'mkdirat':
    case 'mknod':
    case 'mknodat':
    case 'symlink':
    case 'symlinkat':
      add(p, ['create'])
      break
    case 'truncate':
    case 'chmod':
    case 'fchmodat':
    case 'fchmodat2':
    case 'chown':
    case 'lchown':
    case 'fchownat':
    case 'utime':
    case 'utimes':
    case 'utimensat':
    case 'setxattr':
    case 'lsetxattr':
    case 'removexattr':
    case 'lremovexattr':
      add(p, ['write'])
      break
    case 'connect':
    case 'bind': {
      const ep = ev.data ? parseSockaddr(ev.data) : undefined
      if (ep?.family === 'unix' && !ep.address.startsWith('@'))
        add(ep.address, ev.syscall === 'bind' ? ['create'] : ['read'])
      break
    }
    default:
      add(p, ['lookup'])
  }
  return out
}

/** Whether a connect or bind call succeeded; undefined when nothing tells. */
export const endpointSucceeded = (ev: SyscallEvent): boolean | undefined => outcomeOf(ev).first

/** Folds events into an observation as they arrive. */
export class Recorder {
  readonly observation: Observation
  /** Counts from earlier runs (merged): this run's exact totals add to them. */
  private readonly base: Map<string, number>
  /** This run's totals at the start and at each report since the newest one ≥ 1 s old. */
  private readonly reports: { at: number; counts: Record<string, number> }[]
  private readonly now: () => number
  /** This run's spawn events within the last second: [time, count]. */
  private readonly spawnWindow: [number, number][] = []

  /** The run was traced (learn, audit): refusals of the tracer's own rules are told apart. */
  private readonly traced: boolean

  constructor(observation: Observation, now: () => number = Date.now, traced = false) {
    this.observation = observation
    this.traced = traced
    this.base = new Map(Object.entries(observation.syscalls).map(([k, v]) => [k, v.count]))
    this.now = now
    this.reports = [{ at: now(), counts: {} }]
  }

  /** Calls since the newest report at least a second old (or the start): the launcher reports
   * only while counts change, so a quiet gap before a burst adds nothing to it. */
  private notePeaks(counts: Record<string, number>): void {
    const at = this.now()
    while (this.reports.length > 1 && this.reports[1]!.at <= at - 1000) this.reports.shift()
    const base = this.reports[0]!.counts
    for (const [name, n] of Object.entries(counts)) {
      const use = this.observation.syscalls[name]!
      use.peakPerSecond = Math.max(use.peakPerSecond ?? 0, n - (base[name] ?? 0))
    }
    this.reports.push({ at, counts: { ...counts } })
  }

  add(ev: SandboxEvent): void {
    const o = this.observation
    if (ev.event === 'stats') {
      o.peaks.memoryBytes = Math.max(o.peaks.memoryBytes ?? 0, ev.memoryBytes)
      o.peaks.pids = Math.max(o.peaks.pids ?? 0, ev.pids)
      return
    }
    if (ev.event === 'syscall-counts') {
      // This run's exact totals so far (the last report is final).
      for (const [name, n] of Object.entries(ev.counts)) {
        const use = (o.syscalls[name] ??= { count: 0 })
        use.count = (this.base.get(name) ?? 0) + n
      }
      this.notePeaks(ev.counts)
      return
    }
    if (ev.event === 'spawn') {
      const at = this.now()
      const w = this.spawnWindow
      w.push([at, ev.count])
      while (w[0]![0] <= at - 1000) w.shift()
      const spawns = (o.spawns ??= { count: 0 })
      spawns.count += ev.count
      spawns.peakPerSecond = Math.max(
        spawns.peakPerSecond ?? 0,
        w.reduce((t, [, n]) => t + n, 0),
      )
      return
    }
    if (ev.event !== 'syscall') return
    const use = (o.syscalls[ev.syscall] ??= { count: 0 })
    if (ev.errno && this.traced && refusedByTracer(ev.syscall, ev.args)) use.tracerRefused = ev.errno
    else if (ev.errno) use.refused = ev.errno
    // Only what succeeded is learned; the rest is kept apart, to be listed and never granted.
    const failed = (o.failed ??= { files: {}, bind: [], connect: [] })
    for (const [path, access, ok] of fileAccesses(ev)) {
      const into = ok === false ? failed.files : o.files
      into[path] = [...new Set([...(into[path] ?? []), ...access])].sort()
    }
    if (ev.syscall === 'connect' || ev.syscall === 'bind' || ev.syscall === 'sendto') {
      const ep = ev.data ? parseSockaddr(ev.data) : undefined
      const ok = ev.syscall === 'sendto' ? !ev.errno : endpointSucceeded(ev) !== false
      const kind = ev.syscall === 'bind' ? 'bind' : ev.syscall === 'connect' ? 'connect' : 'send'
      const list = ok ? o.net[kind] : kind === 'send' ? undefined : failed[kind]
      if (ep && list && !list.some((e) => sameEndpoint(e, ep))) list.push(ep)
    }
    const keys = NARROW[ev.syscall]
    if (keys) {
      use.values ??= {}
      for (const i of keys) {
        const v = `0x${(ev.args[i] ?? 0n).toString(16)}`
        const seen = (use.values[i] ??= [])
        if (!seen.includes(v)) seen.push(v)
      }
    }
  }
}

/** The argument (0-based) a learned policy narrows each of these on: only the values seen. */
export const NARROW_ON: Readonly<Record<string, number>> = { socket: 0, ioctl: 1, prctl: 0 }

/** Arguments whose values records keep (NARROW_ON's, and socket types for the tcp section). */
export const NARROW: Readonly<Record<string, readonly number[]>> = {
  // The protocol (MPTCP), send flags (MSG_FASTOPEN) and socket options (TCP_FASTOPEN_CONNECT):
  // what a tcp section refuses of a TCP program (carried.ts writeTcp).
  socket: [0, 1, 2],
  setsockopt: [1, 2],
  sendto: [3],
  sendmsg: [2],
  sendmmsg: [3],
  socketpair: [0],
  ioctl: [1],
  prctl: [0],
}

const sameEndpoint = (a: Endpoint, b: Endpoint) =>
  a.family === b.family && a.address === b.address && a.port === b.port

/** a + b: runs, counts and values added, files and endpoints united, peaks maxed. */
export function mergeObservations(a: Observation, b: Observation): Observation {
  const out: Observation = JSON.parse(JSON.stringify(a)) as Observation
  out.runs.push(...b.runs)
  for (const [name, use] of Object.entries(b.syscalls)) {
    const mine = (out.syscalls[name] ??= { count: 0 })
    mine.count += use.count
    if (use.peakPerSecond !== undefined)
      mine.peakPerSecond = Math.max(mine.peakPerSecond ?? 0, use.peakPerSecond)
    if (use.refused) mine.refused = use.refused
    if (use.tracerRefused) mine.tracerRefused = use.tracerRefused
    for (const [i, vs] of Object.entries(use.values ?? {})) {
      mine.values ??= {}
      mine.values[i] = [...new Set([...(mine.values[i] ?? []), ...vs])]
    }
  }
  for (const [path, access] of Object.entries(b.files))
    out.files[path] = [...new Set([...(out.files[path] ?? []), ...access])].sort()
  const failed = (out.failed ??= { files: {}, bind: [], connect: [] })
  for (const [path, access] of Object.entries(b.failed?.files ?? {}))
    failed.files[path] = [...new Set([...(failed.files[path] ?? []), ...access])].sort()
  for (const kind of ['bind', 'connect'] as const)
    for (const ep of b.failed?.[kind] ?? [])
      if (!failed[kind].some((e) => sameEndpoint(e, ep))) failed[kind].push(ep)
  for (const kind of ['bind', 'connect', 'send'] as const)
    for (const ep of b.net[kind]) if (!out.net[kind].some((e) => sameEndpoint(e, ep))) out.net[kind].push(ep)
  const max = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.max(x, y))
  out.peaks = {
    memoryBytes: max(a.peaks.memoryBytes, b.peaks.memoryBytes),
    pids: max(a.peaks.pids, b.peaks.pids),
  }
  return out
}
