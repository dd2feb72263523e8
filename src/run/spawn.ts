// spawn(): compile a policy and run a command under it through the launcher, as a
// ChildProcess-like EventEmitter that also streams the sandbox's events. The plan goes over
// fd 3, events come back on fd 4.
import { type ChildProcess, type StdioOptions, spawn as spawnChild } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { join, resolve } from 'node:path'
import { constants } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import { CordonError } from '../errors.js'
import { type CompileContext } from '../plan/compile.js'
import { callerContext } from '../host/caller.js'
import { encodePlan } from '../plan/encode.js'
import { hasEscapedBytes } from '../host/path-bytes.js'
import type { Cgroup, Events, Stats } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import { SPAWN_SYSCALLS } from '../seccomp/notify.js'
import type { EventOf, SandboxEvent } from './events.js'
import { EventStream } from './event-stream.js'
import { describeStepError, isStep } from './launcher-steps.js'
import type { Plan } from '../plan/model.js'
import { launcherPath } from '../host/launcher.js'
import { checkOptions, type PolicyInput, prepareRun, type SandboxInput, tagInput } from './prepare.js'
import { publish } from './publish.js'
import { sandboxStopped, freezeSandbox, killFrozen, thawSandbox } from './process-tree.js'
import { newId, openRegistry, register } from './registry.js'

export type { PolicyInput, SandboxInput } from './prepare.js'

export interface SpawnOptions {
  /** stdio for the command, as child_process: 'inherit' (default), 'pipe', 'ignore' or a 3-array. */
  stdio?: 'inherit' | 'pipe' | 'ignore' | [StdioOptions, StdioOptions, StdioOptions] | StdioOptions[]
  /** Variables set in the sandbox's environment, over the policy's own (`env.set`, `env.pass`,
   * `HOME`, `TMPDIR`…); a value of undefined is skipped. Before 0.2, `env` meant `hostEnv`. */
  env?: Readonly<Record<string, string | undefined>>
  /** The environment the policy's `env.pass` reads from (default: process.env). */
  hostEnv?: NodeJS.ProcessEnv
  /** The directory to start in, as if cordon were started there: the `default` profile's
   * project directory, and where relative policy paths resolve (default: process.cwd()). The
   * command starts there when the view shows it, else in `/`; a policy's `cwd` wins. */
  cwd?: string
  /** Milliseconds before the whole sandbox is killed (reason `timeout`); the shorter of this and
   * the policy's `limits.timeout` applies. */
  timeout?: number
  /** Aborting it kills the whole sandbox (reason `aborted`) and emits an AbortError `error`. */
  signal?: AbortSignal
  /** Overrides for the compile context (cwd, uid, gid). */
  context?: Partial<CompileContext>
  /** With a cgroup: how often to sample it for `stats`, `oom` and `pids-limit` events (ms; 0: never). */
  statsIntervalMs?: number
  /** Syscalls to report as `syscall` events (their outcome unchanged): what monitor rules watch. */
  watch?: readonly string[]
  /** Report every exec and exit of the sandbox's processes as `process` events. */
  processEvents?: boolean
  /** Give the sandbox a cgroup even without limits, when the host allows, so it can be frozen. */
  cgroup?: boolean
  /** Which cgroup hierarchy, instead of cordon's choice (v2 when it holds the controllers). */
  cgroupVersion?: 1 | 2
  /** Stream the events on a unix socket in the state directory for `cordon monitor`. */
  publish?: boolean
  /** With stdin and stdout inherited and terminals: give the command a terminal of its own in
   * the view's devpts, relayed to this one (default true; false shares this terminal). */
  console?: boolean
}

export type ExitReason = 'exited' | 'signal' | 'oom' | 'pids' | 'timeout' | 'aborted' | 'setup'

export interface ExitResult {
  /** The command's status (128+N for signal N); 125 when cordon failed; 126/127 not executable/found. */
  code: number
  signal: NodeJS.Signals | undefined
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
  readonly child: ChildProcess
}

interface Control {
  kill(signal: NodeJS.Signals | number): boolean
  freeze(): string
  thaw(): void
}

class SandboxChild extends EventEmitter<SandboxProcessEvents> implements SandboxProcess {
  pid: number | undefined = undefined
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  killed = false
  exited!: Promise<ExitResult>
  constructor(
    readonly id: string,
    readonly child: ChildProcess,
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
  signal: NodeJS.Signals | undefined,
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

/** Starts command under the policy (tagged, or a Policy, ResolvedPolicy or Plan as before).
 * Throws CordonError for invalid policies and options. */
export function spawn(
  input: SandboxInput | PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): SandboxProcess {
  checkOptions(options)
  const ctx = {
    ...callerContext(),
    ...(options.cwd !== undefined ? { cwd: resolve(options.cwd) } : {}),
    ...options.context,
    ...(options.watch ? { watch: options.watch } : {}),
  }
  // Bytes that are not UTF-8 cannot cross child_process (it encodes strings as UTF-8): such a
  // command line travels in the plan, and so do such values of passed variables.
  const argvInPlan = [command, ...args].some(hasEscapedBytes)
  const prepared = prepareRun(tagInput(input), ctx, {
    ...(argvInPlan ? { argv: [command, ...args] } : {}),
    ...(options.hostEnv ? { hostEnv: options.hostEnv } : {}),
    ...(options.env ? { env: options.env } : {}),
    cgroup: options.cgroup === true,
    ...(options.cgroupVersion ? { cgroupVersion: options.cgroupVersion } : {}),
  })
  const { cgroup, plan, access } = prepared
  const bytes = encodePlan(plan)
  // Checked before the launcher starts: an unsafe state directory is refused, not used.
  let registry: string | undefined
  let child: ChildProcess
  const started = performance.now()
  try {
    registry = openRegistry()
    child = startLauncher(plan, [command, ...args], argvInPlan, options)
  } catch (e) {
    prepared.remove()
    throw e
  }
  const id = newId()
  const publisher =
    options.publish && registry && child.pid ? publish(join(registry, `${id}.sock`)) : undefined
  const unregister = child.pid
    ? register(registry, {
        id,
        pid: child.pid,
        command: [command, ...args],
        startedAt: new Date().toISOString(),
        ...(cgroup ? { cgroup: cgroup.ref(), limits: { ...prepared.limits } } : {}),
        ...(publisher ? { events: publisher.path } : {}),
        ...(options.watch?.length ? { watch: [...options.watch] } : {}),
      })
    : () => {}
  // Why cordon killed the whole sandbox itself, if it did.
  let killedFor: 'timeout' | 'aborted' | undefined
  const killAll = (why: 'timeout' | 'aborted') => {
    killedFor ??= why
    // The whole group, grandchildren included. Without a cgroup the launcher's death takes
    // only what its pid namespace holds: with none (--no-namespaces) the command's children
    // lived on, so every descendant (the launcher adopts orphans) is stopped, then killed.
    if (cgroup) cgroup.killAll()
    else if (child.pid) {
      freezeSandbox(undefined, child.pid)
      killFrozen(undefined, child.pid)
    }
    child.kill('SIGKILL')
  }
  const timeoutMs = Math.min(prepared.limits.timeoutMs ?? Infinity, options.timeout ?? Infinity)
  const timer = Number.isFinite(timeoutMs) ? setTimeout(() => killAll('timeout'), timeoutMs) : undefined
  const abortSignal = options.signal
  const onAbort = () => {
    killAll('aborted')
    const error = new Error('The sandbox was aborted: its `signal` option fired', {
      cause: abortSignal?.reason,
    })
    sandbox.fail(Object.assign(error, { name: 'AbortError', code: 'ABORT_ERR' }))
  }
  if (abortSignal?.aborted) process.nextTick(onAbort)
  else abortSignal?.addEventListener('abort', onAbort, { once: true })
  const planPipe = child.stdio[3] as Writable
  planPipe.on('error', () => {}) // the launcher may exit before reading all of it; exited reports why
  planPipe.end(bytes)

  const stream = new EventStream((ev, line) => {
    publisher?.send(line ?? JSON.stringify(ev), ev.event === 'started')
    sandbox.emit('event', ev)
    if (ev.event === 'started') {
      sandbox.pid = ev.commandPid
      sandbox.emit('spawn')
    }
  })
  // With a cgroup, sample it: usage as `stats`, and OOM kills or refused forks as they happen.
  const interval = options.statsIntervalMs ?? 500
  const stopSampling = cgroup && interval > 0 ? stream.sample(cgroup, interval) : undefined
  const linesClosed = stream.read(child.stdio[4] as Readable)

  /** Whether the sandbox is frozen now; false once it has ended (its group is gone). */
  const isFrozen = () => {
    if (stream.ended) return false
    try {
      return cgroup ? cgroup.frozen() : sandboxStopped(child.pid)
    } catch {
      return false
    }
  }
  const sandbox = new SandboxChild(id, child, stream, cgroup, access, {
    kill: (signal) => {
      if (isFrozen()) {
        killFrozen(cgroup, child.pid)
        return child.kill('SIGKILL')
      }
      return child.kill(signal)
    },
    freeze: () => freezeSandbox(cgroup, child.pid) ?? 'SIGSTOP (no cgroup)',
    thaw: () => thawSandbox(cgroup, child.pid),
  })

  sandbox.exited = new Promise<ExitResult>((resolve, reject) => {
    child.once('error', (cause) => {
      const error = new CordonError('setup_failed', `Cannot start the launcher: ${cause.message}`, { cause })
      sandbox.fail(error)
      reject(error)
    })
    // An error after the await would otherwise be an unhandled rejection that never settles
    // `exited` (no-misused-promises): it rejects `exited` instead.
    const onExit = async (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer)
      stopSampling?.()
      abortSignal?.removeEventListener('abort', onAbort)
      await linesClosed
      stream.end()
      const durationMs = performance.now() - started
      const events = cgroup?.events()
      const stats = cgroup?.stats()
      prepared.remove()
      unregister()
      publisher?.close()
      const result = exitResult(stream, code, signal, killedFor, durationMs, events, stats)
      resolve(result)
      sandbox.exitCode = result.signal ? null : result.code
      sandbox.signalCode = result.signal ?? null
      if (result.reason === 'setup' && result.error)
        sandbox.fail(
          new CordonError(
            isStep(result.error.step, 'exec') && result.error.code === 'ENOENT'
              ? 'not_found'
              : 'setup_failed',
            `spawn(): ${command} could not start: ${describeStepError(result.error)}`,
            { step: result.error.step },
          ),
        )
      sandbox.emit('exit', sandbox.exitCode, sandbox.signalCode)
    }
    child.once('exit', (code, signal) => void onExit(code, signal).catch(reject))
  })
  // child_process's `close` waits for the stdio streams too; ours also waits for `exited`.
  child.once('close', () => {
    sandbox.exited.then(
      () => sandbox.emit('close', sandbox.exitCode, sandbox.signalCode),
      () => sandbox.emit('close', null, null),
    )
  })
  return sandbox
}

/** The launcher's process: the plan on fd 3, events on fd 4, the command line after `--`
 * unless it travels in the plan. */
function startLauncher(
  plan: Plan,
  argv: readonly string[],
  argvInPlan: boolean,
  options: SpawnOptions,
): ChildProcess {
  const stdio = options.stdio ?? 'inherit'
  const base: StdioOptions[] = Array.isArray(stdio) ? stdio.slice(0, 3) : [stdio, stdio, stdio]
  // Watching a call that makes processes is served by process events: such calls are never
  // stopped (seccomp/notify.ts SPAWN_SYSCALLS).
  const processEvents = options.processEvents || options.watch?.some((n) => SPAWN_SYSCALLS.includes(n))
  // A console needs the view's own devpts; the launcher makes one only when fds 0 and 1 are
  // terminals.
  const console =
    options.console !== false &&
    base[0] === 'inherit' &&
    base[1] === 'inherit' &&
    plan.ops.some((op) => op.op === 'devpts')
  const flags = [
    '--plan-fd',
    '3',
    '--events-fd',
    '4',
    ...(processEvents ? ['--proc-events'] : []),
    ...(console ? ['--console'] : []),
  ]
  return spawnChild(launcherPath(), argvInPlan ? flags : [...flags, '--', ...argv], {
    stdio: [...base, 'pipe', 'pipe'] as StdioOptions,
    env: options.hostEnv ?? process.env,
  })
}

/** How the run ended: the launcher's own exit report when it wrote one, else the launcher's
 * status, and why. */
function exitResult(
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
  return {
    ...out,
    reason: reasonFor(out.code, out.signal, killedFor, events, stream.lastError, stream.started),
    ...(stats ? { stats } : {}),
    ...(events ? { counters: events } : {}),
    error: stream.lastError,
    durationMs,
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0
}
