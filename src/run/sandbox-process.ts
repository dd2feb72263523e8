// What spawn() returns: a ChildProcess-like EventEmitter over one sandbox, and how its ending is
// told (the exit status and the reason). spawn.ts builds it; this file holds its shape.
import { EventEmitter } from 'node:events'
import { constants } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import type { Cgroup, Events, Stats } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import type { EventStream } from './event-stream.js'
import type { EventOf, SandboxEvent, SignalName } from './events.js'
import type { LauncherProcess } from './launcher-process.js'

export type ExitReason = 'exited' | 'signal' | 'oom' | 'pids' | 'timeout' | 'aborted' | 'setup'

export interface ExitResult {
  /** The command's status (128+N for signal N); 125 when cordon failed; 126/127 not executable/found. */
  code: number
  /** The signal that ended the command, by name (Node's, or `SIGRTMIN+6`-style for the rest). */
  signal: SignalName | undefined
  /** Why it ended: exited, signal, oom (memory limit), pids (limit hit), timeout, aborted (the
   * `signal` option), setup (the command never ran: a setup step failed, or it was not found
   * or not executable; `error` says which). */
  reason: ExitReason
  /** Usage from the sandbox's cgroup, when it had one. */
  stats?: Stats
  /** OOM kills and refused forks counted by the sandbox's cgroup, when it had one. */
  counters?: Events
  /** The failed setup step, when the sandbox could not start. */
  error: EventOf<'error'> | undefined
  durationMs: number
}

/** spawn()'s events, as child_process's plus the sandbox's own. */
export interface SandboxProcessEvents {
  /** The command's exec succeeded: `pid` is known from here on. */
  spawn: []
  /** Each event of the launcher and the cgroup, as `events` yields them. */
  event: [event: SandboxEvent]
  /** The command ended: its status, or the signal that ended it (then code is null). */
  exit: [code: number | null, signal: NodeJS.Signals | null]
  /** After `exit`, once the stdio streams have closed. */
  close: [code: number | null, signal: NodeJS.Signals | null]
  /** The command could not start (a SandboxError-like CordonError: not found, a setup step), the
   * launcher could not, or `signal` aborted the run (an AbortError). Emitted only to listeners:
   * unlike child_process, an unheard `error` does not throw, since `exited` reports it too. */
  error: [error: Error]
}

export interface SandboxProcess extends EventEmitter<SandboxProcessEvents> {
  /** The sandbox's id in the registry (`cordon ps`, `cordon freeze ID`). */
  readonly id: string
  /** Host pid of the command, from the `spawn` event on (undefined before, or when it ended
   * before its start was seen). Before 0.2 this was the launcher's: see `launcherPid`. */
  readonly pid: number | undefined
  /** Host pid of the launcher (cordon-exec), what `cordon ps` lists. */
  readonly launcherPid: number | undefined
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  readonly stdio: readonly [Writable | null, Readable | null, Readable | null]
  /** The command's status once it exited (null while it runs, or when a signal ended it). */
  readonly exitCode: number | null
  /** The signal that ended the command (null while it runs, or when it exited). */
  readonly signalCode: NodeJS.Signals | null
  /** Whether kill() delivered a signal. */
  readonly killed: boolean
  readonly events: AsyncIterable<SandboxEvent>
  readonly exited: Promise<ExitResult>
  /** Sends a signal to the command (through the launcher and the sandbox's init). A frozen
   * sandbox cannot act on a signal (it would wait, frozen, for good), so it is killed through
   * its group instead: a frozen sandbox is one the monitor or its owner stopped for a reason,
   * and is not resumed to run its handlers. */
  kill(signal?: NodeJS.Signals | number): boolean
  /** The sandbox's cgroup when it has limits: freeze(), thaw(), stats(), events(). */
  readonly cgroup: Cgroup | undefined
  /** Whether this caller could have a cgroup, as decided for this run (when it has limits or
   * asked for one): what its limit statements are judged against. */
  readonly cgroupAccess: CgroupAccess | undefined
  /** Stops every process of the sandbox (cgroup freezer, else SIGSTOP to each); returns which. */
  freeze(): string
  thaw(): void
  /** The launcher's process (cordon-exec): a ChildProcess, or as much of one as this lists
   * where cordon's addon started it. */
  readonly child: LauncherProcess
}

/** How SandboxChild acts on its sandbox (spawn() knows the launcher and the cgroup). */
export interface Control {
  kill(signal: NodeJS.Signals | number): boolean
  forward(signal: NodeJS.Signals): boolean
  freeze(): string
  thaw(): void
}

export class SandboxChild extends EventEmitter<SandboxProcessEvents> implements SandboxProcess {
  pid: number | undefined = undefined
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  killed = false
  exited!: Promise<ExitResult>
  constructor(
    readonly id: string,
    readonly child: LauncherProcess,
    readonly events: AsyncIterable<SandboxEvent>,
    readonly cgroup: Cgroup | undefined,
    readonly cgroupAccess: CgroupAccess | undefined,
    private readonly control: Control,
  ) {
    super()
  }
  get launcherPid() {
    return this.child.pid
  }
  get stdin() {
    return this.child.stdin
  }
  get stdout() {
    return this.child.stdout
  }
  get stderr() {
    return this.child.stderr
  }
  get stdio() {
    return [this.child.stdin, this.child.stdout, this.child.stderr] as const
  }
  kill(signal: NodeJS.Signals | number = 'SIGTERM') {
    const sent = this.control.kill(signal)
    if (sent) this.killed = true
    return sent
  }
  /** Passes on to the command a signal this process got as one of its job's (the CLI's
   * forwarding, with StartHooks.forwardsSignals): the launcher, which gets a job-wide one
   * directly too, passes on one of the two. Not part of the library's API. */
  forward(signal: NodeJS.Signals) {
    const sent = this.control.forward(signal)
    if (sent) this.killed = true
    return sent
  }
  freeze() {
    return this.control.freeze()
  }
  thaw() {
    this.control.thaw()
  }
  /** An error goes to listeners only (see SandboxProcessEvents.error). */
  fail(error: Error) {
    if (this.listenerCount('error')) this.emit('error', error)
  }
}

function reasonFor(
  code: number,
  signal: SignalName | undefined,
  killedFor: 'timeout' | 'aborted' | undefined,
  events: Events | undefined,
  error: EventOf<'error'> | undefined,
  started: boolean,
): ExitReason {
  if (killedFor) return killedFor
  // A limit is the reason only when it is what ended the command: a shell whose child was
  // OOM-killed, or which got a refused fork, and then exited on its own simply exited.
  if (events?.oomKills && signal === 'SIGKILL') return 'oom'
  if (events?.pidsMax && (signal || code !== 0)) return 'pids'
  if (signal) return 'signal'
  // The command never ran (a step failed, or exec: 127 not found, 126 not executable), or the
  // supervisor failed it (125 after a start).
  return error && (!started || code === 125) ? 'setup' : 'exited'
}

/** How the run ended: the launcher's own exit report when it wrote one, else the launcher's
 * status, and why. */
export function exitResult(
  stream: EventStream,
  code: number | null,
  signal: NodeJS.Signals | null,
  killedFor: 'timeout' | 'aborted' | undefined,
  durationMs: number,
  events: Events | undefined,
  stats: Stats | undefined,
): ExitResult {
  const out = stream.exitEvent
    ? { code: stream.exitEvent.code, signal: stream.exitEvent.signal }
    : signal
      ? { code: 128 + signalNumber(signal), signal }
      : { code: code ?? 125, signal: undefined }
  // A kill that came as the command ended on its own (the timer fired as it exited, helper-114)
  // is not why it ended: the launcher's report says the command was not killed.
  const killed = killedFor && (!stream.exitEvent || out.signal === 'SIGKILL') ? killedFor : undefined
  return {
    ...out,
    reason: reasonFor(out.code, out.signal, killed, events, stream.lastError, stream.started),
    ...(stats ? { stats } : {}),
    ...(events ? { counters: events } : {}),
    error: stream.lastError,
    durationMs,
  }
}

/** signal when Node has a name for it (what ChildProcess's `signalCode` may hold), else
 * undefined: a real-time signal's status is its 128+N alone, as child_process's. */
export function nodeSignal(signal: SignalName | undefined): NodeJS.Signals | undefined {
  return signal !== undefined && signal in constants.signals ? (signal as NodeJS.Signals) : undefined
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0
}
