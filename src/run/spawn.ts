// spawn(): compile a policy and run a command under it through the launcher, as a
// ChildProcess-like EventEmitter that also streams the sandbox's events. The plan goes over
// fd 3, and events come back on it.
import { join, resolve } from 'node:path'
import { constants, userInfo } from 'node:os'
import { CordonError } from '../errors.js'
import { type CompileContext } from '../plan/compile.js'
import { callerContext } from '../host/caller.js'
import { hasEscapedBytes } from '../host/path-bytes.js'
import { SPAWN_SYSCALLS } from '../seccomp/notify.js'
import { EventStream } from './event-stream.js'
import { eventJson } from './events.js'
import { describeStepError, isStep } from './launcher-steps.js'
import type { Plan } from '../plan/model.js'
import { launcherPath } from '../host/launcher.js'
import {
  type LauncherChannel,
  type LauncherProcess,
  type Started,
  type StdioEntry,
  startLauncher,
} from './launcher-process.js'
import { identify, type ProcessId } from '../host/signal.js'
import {
  checkOptions,
  planBytes,
  type PolicyInput,
  type Prepared,
  prepareRun,
  type SandboxInput,
  tagInput,
} from './prepare.js'
import { publish } from './publish.js'
import { sandboxStopped, freezeSandbox, killFrozen, thawSandbox } from './process-tree.js'
import type { Cgroup } from '../cgroup/driver.js'
import {
  type Control,
  type ExitResult,
  exitResult,
  SandboxChild,
  type SandboxProcess,
} from './sandbox-process.js'
import { newId, openRegistry, register } from './registry.js'
import { notFoundHint } from './not-found.js'
import { isoTime } from '../host/iso-time.js'

export type { PolicyInput, SandboxInput } from './prepare.js'
export type { ExitReason, ExitResult, SandboxProcess, SandboxProcessEvents } from './sandbox-process.js'

export interface SpawnOptions {
  /** stdio for the command, as child_process: 'inherit' (default), 'pipe', 'ignore', or an array
   * for fds 0, 1 and 2 (each 'inherit', 'pipe', 'ignore', an fd or a stream). A sandbox gets no
   * fd past 2: an entry there other than null, undefined or 'ignore' is refused. */
  stdio?: 'inherit' | 'pipe' | 'ignore' | readonly StdioEntry[]
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

/** Starts command under the policy (tagged, or a Policy, ResolvedPolicy or Plan as before).
 * Throws CordonError for invalid policies and options. */
export function spawn(
  input: SandboxInput | PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): SandboxProcess {
  checkOptions(options)
  // Bytes that are not UTF-8 cannot cross child_process (it encodes strings as UTF-8): such a
  // command line travels in the plan, and so do such values of passed variables.
  const argv = [command, ...args]
  const argvInPlan = argv.some(hasEscapedBytes)
  // Checked before anything is compiled or started: an unsafe state directory is refused, not
  // used. Made first: a view that would show it hides it (plan/state-mask.ts), which only an
  // existing directory can be.
  const registry = openRegistry()
  let publisher: ReturnType<typeof publish>
  const id = newId()
  // process.hrtime, not performance.now(): the global `performance` loads perf_hooks (~10 modules).
  const started = nowMs()
  /** A launcher with the plan: it sets the sandbox up while this process records it in the
   * registry (`cordon ps`, `kill` and `freeze` find it from then on), and runs nothing of the
   * command before the go byte. */
  const start = (run: Prepared): Launched => {
    // One socket carries both ways: the plan (then the go) to the launcher, its events back (a
    // second pipe cost each spawn about as much CPU as this process's own bookkeeping).
    const { process: child, channel } = launch(run.plan, argv, argvInPlan, options)
    // The launcher for good (pid and start time): a sweep without a cgroup walks from it, and
    // finds nothing once its pid has been reaped and handed out again (process-tree.ts).
    const launcher = child.pid ? identify([child.pid])[0] : undefined
    publisher ??= options.publish && registry && launcher ? publish(join(registry, `${id}.sock`)) : undefined
    const unregister = launcher
      ? register(registry, {
          id,
          pid: launcher.pid,
          startTime: launcher.startTime,
          command: argv,
          startedAt: isoTime(),
          ...(run.cgroup ? { cgroup: run.cgroup.ref(), limits: { ...run.limits } } : {}),
          ...(publisher ? { events: publisher.path } : {}),
          ...(options.watch?.length ? { watch: [...options.watch] } : {}),
        })
      : () => {}
    return { child, channel, launcher, unregister }
  }
  const { prepared, launched } = launchProven(
    () => prepare(input, argv, argvInPlan, options),
    start,
    () => publisher?.close(),
  )
  // The go: the command may run. It goes out now.
  launched.channel.go()
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
    // The launcher only knows the name was not there; the host can say why (a link that leaves
    // the view, a policy that shows no files), for every reader of the event (the event socket's
    // too) and of `exited`.
    (ev) => {
      if (ev.event !== 'error' || !isStep(ev.step, 'exec') || ev.code !== 'ENOENT' || !prepared.policy)
        return false
      const hint = notFoundHint(prepared.policy, command, prepared.cwd ?? process.cwd())
      if (hint) ev.hint = hint
      return hint !== undefined
    },
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

  sandbox.exited = settle(sandbox, child, stream, command, {
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
  })
  // What the policy's resolution warned of (a wide bind, a working directory a profile would not
  // show), first of the sandbox's events: a library caller saw none of it, and the command
  // started somewhere it did not expect. A tick on, so that listeners added after spawn() returns
  // hear them; the launcher's events come later still (I/O after the tick queue).
  const warnings = prepared.plan.notes.flatMap((n) => (n.startsWith('warning: ') ? [n.slice(9)] : []))
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
function launchProven(
  prepareRun: () => Prepared,
  start: (run: Prepared) => Launched,
  failed: () => void,
): { prepared: Prepared; launched: Launched } {
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
  let fresh: Prepared | undefined
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
function abandon(launched: Launched, run: Prepared): void {
  launched.unregister()
  launched.child.on('error', () => run.remove())
  launched.channel.destroy()
  if (launched.child.pid) launched.child.once('exit', () => run.remove())
}

/** The run's complete plan and what was made for it (prepare.ts), from spawn()'s arguments. */
function prepare(
  input: SandboxInput | PolicyInput,
  argv: readonly string[],
  argvInPlan: boolean,
  options: SpawnOptions,
): Prepared {
  const ctx: CompileContext = {
    ...callerContext(),
    ...(options.cwd !== undefined ? { cwd: resolve(options.cwd) } : {}),
    ...options.context,
    ...(options.watch ? { watch: options.watch } : {}),
  }
  // The caller's login name, when the sandbox's ids are compiled for this process's own uid.
  const name = ctx.uid === process.getuid?.() ? loginName() : undefined
  if (name) ctx.loginName = name
  return prepareRun(tagInput(input), ctx, {
    ...(argvInPlan ? { argv } : {}),
    ...(options.hostEnv ? { hostEnv: options.hostEnv } : {}),
    ...(options.env ? { env: options.env } : {}),
    cgroup: options.cgroup === true,
    ...(options.cgroupVersion ? { cgroupVersion: options.cgroupVersion } : {}),
  })
}

let login: string | null | undefined
/** This process's user name (os.userInfo: its passwd entry, through NSS); none for a uid
 * without one (a container's arbitrary uid). Asked once per process. */
function loginName(): string | undefined {
  if (login === undefined)
    try {
      login = userInfo().username || null
    } catch {
      login = null
    }
  return login ?? undefined
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

/** kill(), freeze() and thaw() of a SandboxProcess, through its cgroup or its process tree. */
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
  return {
    // A frozen sandbox cannot act on a signal; a SIGKILL ends the launcher before it can end
    // the sandbox, which without a cgroup (emptied at the exit) nothing else would.
    kill: (signal) =>
      isFrozen() || (!cgroup && (signal === 'SIGKILL' || signal === constants.signals.SIGKILL))
        ? killWhole(cgroup, child, launcher)
        : child.kill(signal),
    freeze: () => freezeSandbox(cgroup, launcher) ?? 'SIGSTOP (no cgroup)',
    thaw: () => thawSandbox(cgroup, launcher),
  }
}

/** The launcher's process: the plan and the go in and the events out on one socket at fd 3, the
 * command line after `--` unless it travels in the plan. */
function launch(plan: Plan, argv: readonly string[], argvInPlan: boolean, options: SpawnOptions): Started {
  const stdio = options.stdio ?? 'inherit'
  // Fds 0-2 whole, as child_process reads the array: a short array, a hole, null or undefined is
  // 'pipe'. Shorter, it put the launcher's channel (always next) on fd 1 or 2 instead of 3.
  const base: StdioEntry[] =
    typeof stdio === 'string' ? [stdio, stdio, stdio] : [0, 1, 2].map((i) => stdio[i] ?? 'pipe')
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
    '3',
    '--go-fd',
    '3',
    ...(processEvents ? ['--proc-events'] : []),
    ...(console ? ['--console'] : []),
  ]
  return startLauncher(
    launcherPath(),
    argvInPlan ? flags : [...flags, '--', ...argv],
    base,
    options.hostEnv ?? process.env,
    planBytes(plan),
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
      const error = new CordonError('setup_failed', `Cannot start the launcher: ${cause.message}`, { cause })
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
      const stats = sandbox.cgroup?.stats()
      ending.release()
      const result = exitResult(stream, code, signal, ending.killedFor(), durationMs, events, stats)
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
}

/** Milliseconds on a monotonic clock. */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
