// The sandbox's start from a run made ready (its plan's bytes, what was made on the host for
// it): the launcher started with the plan, the registry record and the event socket, the go,
// the events read, the timeout and the abort signal, and how the run ended. spawn() (spawn.ts)
// reaches it after compiling; `cordon run`'s lean path (cli/run-fast.ts) with a plan a run of the
// same command line compiled before. Nothing here loads the compiler, the policy or the
// syscall tables.
import { join } from 'node:path'
import { constants } from 'node:os'
import { CordonError, outOfFds, RAISE_FD_LIMIT } from '../errors.js'
import { EventStream } from './event-stream.js'
import { eventJson, type SyscallNamer } from './event-parse.js'
import type { SandboxEvent } from './event-types.js'
import { describeStepError, isStep } from './launcher-steps.js'
import { launcherPath } from '../host/launcher.js'
import {
  type LauncherChannel,
  type LauncherProcess,
  type Started,
  type StdioEntry,
  forwardTo,
  startLauncher,
} from './launcher-process.js'
import { identify, type ProcessId } from '../host/signal.js'
import { publish } from './publish.js'
import { sandboxStopped, freezeSandbox, killFrozen, thawSandbox } from './process-tree.js'
import type { Cgroup } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import { type Control, type ExitResult, exitResult, nodeSignal, SandboxChild } from './sandbox-process.js'
import { newId, openRegistry, register } from './registry.js'
import { ensureStateDirs } from './state-dir.js'
import { isoTime } from '../host/iso-time.js'

/** A run made ready to start: what the launcher reads and what was made on the host for it. */
export interface ReadyRun {
  /** The plan as the launcher reads it (plan/encode.ts). */
  bytes(): Uint8Array
  /** The plan mounts a devpts of its own: the command may get a console. */
  devpts: boolean
  /** What the policy's resolution warned of, the sandbox's first events. */
  warnings: readonly string[]
  /** The run's limits, for its registry record; `timeoutMs` ends the whole sandbox. */
  limits: { timeoutMs?: number | undefined } & Record<string, unknown>
  cgroup: Cgroup | undefined
  access: CgroupAccess | undefined
  /** Whether the plan is what a compile would give now (prepare.ts Prepared.current). */
  current(): boolean
  /** Removes what was made for the run (its cgroup, its private tmp). */
  remove(): void
  /** Removes the cgroups of cordon runs that died without removing theirs (sandbox-cgroup.ts). */
  sweep?: (() => void) | undefined
}

/** How the sandbox starts: spawn()'s options as they reach the launcher. */
export interface StartOptions {
  stdio?: 'inherit' | 'pipe' | 'ignore' | readonly StdioEntry[] | undefined
  hostEnv?: NodeJS.ProcessEnv | undefined
  timeout?: number | undefined
  signal?: AbortSignal | undefined
  statsIntervalMs?: number | undefined
  /** Recorded with the sandbox (`cordon monitor` reads it). */
  watch?: readonly string[] | undefined
  /** The launcher reports every exec and exit. */
  processEvents?: boolean | undefined
  publish?: boolean | undefined
  console?: boolean | undefined
  /** false: the result carries no `stats` (the CLI's lean path, whose human output shows none):
   * four cgroup files fewer read between the sandbox's end and the caller's. */
  endStats?: boolean | undefined
}

/** What the caller adds to the stream: a hint on an event before anyone sees it (spawn()'s
 * command-not-found explanation), and syscall names. */
export interface StartHooks<R extends ReadyRun> {
  amend?: (ev: SandboxEvent, run: R) => boolean
  names?: SyscallNamer
  /** Called once the launcher has started and the plan is proven, just before the go: what must
   * be in place before the command may run (the CLI's signal forwarding). Never called on a
   * failed start, so nothing of it is left to undo then. */
  beforeGo?: ((launcher: LauncherProcess) => void) | undefined
  /** This process passes on to the sandbox the job's signals it gets (the CLI, in beforeGo,
   * with SandboxChild.forward): the launcher, which gets a job-wide one directly too, then
   * drops the copy. */
  forwardsSignals?: boolean | undefined
}

/** Starts the sandbox of the run `prepare` makes ready (it may be called twice: a reused plan
 * that proves stale is made again), argv its command line. Throws what prepare throws. */
export function startSandbox<R extends ReadyRun>(
  prepare: () => R,
  argv: readonly string[],
  argvInPlan: boolean,
  options: StartOptions,
  hooks: StartHooks<R> = {},
): SandboxChild {
  // Checked before anything is compiled or started: an unsafe state directory is refused, not
  // used. Made first, with every other place the caller's state may be: a view that would show
  // one hides it (plan/state-mask.ts), which only an existing directory can be.
  ensureStateDirs()
  const registry = openRegistry()
  let publisher: ReturnType<typeof publish>
  const id = newId()
  // process.hrtime, not performance.now(): the global `performance` loads perf_hooks (~10 modules).
  const started = nowMs()
  /** A launcher with the plan: it sets the sandbox up while this process records it in the
   * registry (`cordon ps`, `kill` and `freeze` find it from then on), and runs nothing of the
   * command before the go byte. */
  const start = (run: R): Launched => {
    // One socket carries both ways: the plan (then the go) to the launcher, its events back (a
    // second pipe cost each spawn about as much CPU as this process's own bookkeeping).
    const { process: child, channel } = launch(run, argv, argvInPlan, options, hooks.forwardsSignals === true)
    // The launcher for good (pid and start time): a sweep without a cgroup walks from it, and
    // finds nothing once its pid has been reaped and handed out again (process-tree.ts).
    const launcher = child.pid ? identify([child.pid])[0] : undefined
    publisher ??= options.publish && registry && launcher ? publish(join(registry, `${id}.sock`)) : undefined
    const unregister = launcher
      ? register(registry, {
          id,
          pid: launcher.pid,
          startTime: launcher.startTime,
          command: [...argv],
          startedAt: isoTime(),
          ...(run.cgroup ? { cgroup: run.cgroup.ref(), limits: { ...run.limits } } : {}),
          ...(publisher ? { events: publisher.path } : {}),
          ...(options.watch?.length ? { watch: [...options.watch] } : {}),
        })
      : () => {}
    return { child, channel, launcher, unregister }
  }
  const { prepared, launched } = launchProven(prepare, start, () => publisher?.close())
  hooks.beforeGo?.(launched.child)
  // The go: the command may run. It goes out now.
  launched.channel.go()
  // Housekeeping while the sandbox runs, not on its start's path; never the run's failure. On
  // the next turn of the loop, not now: between the go and this function's return the caller has
  // not yet set up (the CLI's signal forwarding), and a SIGTERM the command's first output
  // prompted in that window ended cordon instead of reaching the command.
  if (prepared.sweep)
    setImmediate(() => {
      try {
        prepared.sweep?.()
      } catch {}
    })
  const { cgroup, access } = prepared
  const { child, channel, launcher, unregister } = launched
  // Why cordon killed the whole sandbox itself, if it did.
  let killedFor: 'timeout' | 'aborted' | undefined
  const killAll = (why: 'timeout' | 'aborted') => {
    killedFor ??= why
    killWhole(cgroup, child, launcher)
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

  const stream = new EventStream(
    (ev, line) => {
      publisher?.send(line ?? eventJson(ev), ev.event === 'started')
      // A listener's throw is the program's uncaught exception; the command started all the same.
      try {
        sandbox.emit('event', ev)
      } finally {
        if (ev.event === 'started') {
          sandbox.pid = ev.commandPid
          sandbox.emit('spawn')
        }
      }
    },
    hooks.amend && ((ev) => hooks.amend!(ev, prepared)),
    hooks.names,
  )
  // With a cgroup, sample it: usage as `stats`, and OOM kills or refused forks as they happen.
  const interval = options.statsIntervalMs ?? 500
  const stopSampling = cgroup && interval > 0 ? stream.sample(cgroup, interval) : undefined
  const linesClosed = stream.read(channel)

  const sandbox = new SandboxChild(
    id,
    child,
    stream,
    cgroup,
    access,
    control(cgroup, child, stream, launcher),
  )

  sandbox.exited = settle(sandbox, child, stream, argv[0]!, {
    stop: () => {
      if (timer) clearTimeout(timer)
      stopSampling?.()
      abortSignal?.removeEventListener('abort', onAbort)
    },
    linesClosed,
    started,
    release: () => {
      prepared.remove()
      unregister()
      publisher?.close()
    },
    killedFor: () => killedFor,
    stats: options.endStats !== false,
  })
  // What the policy's resolution warned of (a wide bind, a working directory a profile would not
  // show), first of the sandbox's events: a library caller saw none of it, and the command
  // started somewhere it did not expect. A tick on, so that listeners added after spawn() returns
  // hear them; the launcher's events come later still (I/O after the tick queue).
  const warnings = prepared.warnings
  if (warnings.length)
    process.nextTick(() => {
      for (const message of warnings) stream.push({ event: 'warning', step: 'policy', message })
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

/** A started launcher waiting for its go, and its registry record. */
interface Launched {
  child: LauncherProcess
  channel: LauncherChannel
  launcher: ProcessId | undefined
  unregister: () => void
}

/** The prepared run and its launcher, the plan proven current. A reused plan is proven while the
 * launcher sets up (its host reads made again); a stale one is thrown away with its launcher,
 * before anything of the command ran, and a fresh compile starts in a new launcher, cgroup and
 * record: nothing of the first remains for the command to see. On failure, what was made is
 * removed (and `failed` called) before the error is thrown. */
function launchProven<R extends ReadyRun>(
  prepareRun: () => R,
  start: (run: R) => Launched,
  failed: () => void,
): { prepared: R; launched: Launched } {
  const first = prepareRun()
  let launched: Launched | undefined
  try {
    launched = start(first)
    if (first.current()) return { prepared: first, launched }
  } catch (e) {
    if (launched) abandon(launched, first)
    else first.remove()
    failed()
    throw e
  }
  abandon(launched, first)
  let fresh: R | undefined
  try {
    fresh = prepareRun()
    return { prepared: fresh, launched: start(fresh) }
  } catch (e) {
    fresh?.remove()
    failed()
    throw e
  }
}

/** Throws away a launcher started on a plan that proved stale: its socket closed before the go,
 * it ends without running anything of the command (end of file where it waits), and what was
 * made for its run goes once it has exited, its sandbox reaped. */
function abandon(launched: Launched, run: ReadyRun): void {
  launched.unregister()
  launched.child.on('error', () => run.remove())
  launched.channel.destroy()
  if (launched.child.pid) launched.child.once('exit', () => run.remove())
}

/** Kills the whole sandbox, grandchildren included. Without a cgroup the launcher's death takes
 * only what its pid namespace holds: with none (--no-namespaces) the command's children lived
 * on, so every descendant (the launcher adopts orphans) is stopped, then killed. The launcher
 * is known by pid and start time, so a sweep after its pid was reaped and reused finds nothing. */
function killWhole(
  cgroup: Cgroup | undefined,
  child: LauncherProcess,
  launcher: ProcessId | undefined,
): boolean {
  if (cgroup) cgroup.killAll()
  else if (launcher) {
    freezeSandbox(undefined, launcher)
    killFrozen(undefined, launcher)
  }
  return child.kill('SIGKILL')
}

/** The signals whose default action ends nothing (and 0, which only checks): ignored, or stop. */
const HARMLESS = new Set<number | undefined>([
  0,
  constants.signals.SIGCHLD,
  constants.signals.SIGCONT,
  constants.signals.SIGURG,
  constants.signals.SIGWINCH,
  constants.signals.SIGSTOP,
  constants.signals.SIGTSTP,
  constants.signals.SIGTTIN,
  constants.signals.SIGTTOU,
])

/** kill(), forward(), freeze() and thaw() of a SandboxChild, through its cgroup or its process tree. */
function control(
  cgroup: Cgroup | undefined,
  child: LauncherProcess,
  stream: EventStream,
  launcher: ProcessId | undefined,
): Control {
  /** Whether the sandbox is frozen now; false once it has ended (its group is gone). */
  const isFrozen = () => {
    if (stream.ended) return false
    try {
      return cgroup ? cgroup.frozen() : sandboxStopped(launcher)
    } catch {
      return false
    }
  }
  /** Whether signal, sent to a frozen sandbox, ends it: one that would end a program cannot be
   * acted on there and would wait, frozen, for good; one that would not (a terminal's resize
   * while `cordon freeze` holds the sandbox) waits for the thaw, as for a stopped program. */
  const endsFrozen = (signal: NodeJS.Signals | number) =>
    !HARMLESS.has(typeof signal === 'number' ? signal : constants.signals[signal]) && isFrozen()
  return {
    // A SIGKILL ends the launcher before it can end the sandbox, which without a cgroup (emptied
    // at the exit) nothing else would. A SIGSTOP would stop the launcher, not the command (and
    // `exited` never came): the command's group is stopped as the job's SIGTSTP stops it
    // (native/launcher.c job_control), and SIGCONT continues it.
    kill: (signal) =>
      endsFrozen(signal) || (!cgroup && (signal === 'SIGKILL' || signal === constants.signals.SIGKILL))
        ? killWhole(cgroup, child, launcher)
        : child.kill(signal === 'SIGSTOP' || signal === constants.signals.SIGSTOP ? 'SIGTSTP' : signal),
    forward: (signal) => (endsFrozen(signal) ? killWhole(cgroup, child, launcher) : forwardTo(child, signal)),
    freeze: () => freezeSandbox(cgroup, launcher) ?? 'SIGSTOP (no cgroup)',
    thaw: () => thawSandbox(cgroup, launcher),
  }
}

/** The launcher's process: the plan and the go in and the events out on one socket at fd 3, the
 * command line after `--` unless it travels in the plan. */
function launch(
  run: ReadyRun,
  argv: readonly string[],
  argvInPlan: boolean,
  options: StartOptions,
  forwardsSignals: boolean,
): Started {
  const stdio = options.stdio ?? 'inherit'
  // Fds 0-2 whole, as child_process reads the array: a short array, a hole, null or undefined is
  // 'pipe'. Shorter, it put the launcher's channel (always next) on fd 1 or 2 instead of 3.
  const base: StdioEntry[] =
    typeof stdio === 'string' ? [stdio, stdio, stdio] : [0, 1, 2].map((i) => stdio[i] ?? 'pipe')
  // A console needs the view's own devpts; the launcher makes one only when fds 0 and 1 are
  // terminals.
  const console = options.console !== false && base[0] === 'inherit' && base[1] === 'inherit' && run.devpts
  const flags = [
    '--plan-fd',
    '3',
    '--events-fd',
    '3',
    '--go-fd',
    '3',
    ...(options.processEvents ? ['--proc-events'] : []),
    ...(console ? ['--console'] : []),
    ...(forwardsSignals ? ['--forwarded-signals', '--all-signals'] : []),
  ]
  return startLauncher(
    launcherPath(),
    argvInPlan ? flags : [...flags, '--', ...argv],
    base,
    options.hostEnv ?? process.env,
    run.bytes(),
  )
}

/** What settle() does around the launcher's exit, in order: stop the timers, wait for the last
 * events, read the cgroup's counters, then release what the run held. */
interface Ending {
  stop(): void
  linesClosed: Promise<void>
  started: number
  release(): void
  killedFor(): 'timeout' | 'aborted' | undefined
  /** Whether the result carries the cgroup's stats (StartOptions.endStats). */
  stats: boolean
}

/** The sandbox's `exited`: resolves once the launcher has exited and its events have all been
 * read, with how it ended; rejects when the launcher could not start. Emits `exit` (and `error`
 * for a setup failure) on the way. */
function settle(
  sandbox: SandboxChild,
  child: LauncherProcess,
  stream: EventStream,
  command: string,
  ending: Ending,
): Promise<ExitResult> {
  return new Promise<ExitResult>((resolve, reject) => {
    child.once('error', (cause) => {
      const error = new CordonError(
        'setup_failed',
        `Cannot start the launcher: ${cause.message}${startHint(cause)}`,
        {
          cause,
        },
      )
      ending.stop()
      ending.release()
      // No launcher, so no exit: the events end here, or a caller iterating them (the run
      // command) waited on a loop with nothing left on it, and Node exited 0.
      stream.end()
      sandbox.fail(error)
      reject(error)
    })
    // An error after the await would otherwise be an unhandled rejection that never settles
    // `exited` (no-misused-promises): it rejects `exited` instead.
    const onExit = async (code: number | null, signal: NodeJS.Signals | null) => {
      ending.stop()
      await ending.linesClosed
      stream.end()
      const durationMs = nowMs() - ending.started
      const events = sandbox.cgroup?.events()
      const stats = ending.stats ? sandbox.cgroup?.stats() : undefined
      ending.release()
      const result = exitResult(stream, code, signal, ending.killedFor(), durationMs, events, stats)
      resolve(result)
      const named = nodeSignal(result.signal)
      sandbox.exitCode = named ? null : result.code
      sandbox.signalCode = named ?? null
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
}

/** What to do about a start the system refused for want of a resource. */
function startHint(cause: NodeJS.ErrnoException): string {
  if (outOfFds(cause.code)) return ` (too many open files: ${RAISE_FD_LIMIT}, or close descriptors)`
  if (cause.code === 'E2BIG')
    return ' (the environment and arguments are too large: pass fewer or shorter ones)'
  if (cause.code === 'EAGAIN' || cause.code === 'ENOMEM')
    return ' (out of processes or memory: check `ulimit -u` and free memory)'
  return ''
}

/** Milliseconds on a monotonic clock. */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
