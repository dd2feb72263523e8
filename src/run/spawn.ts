// spawn(): compile a policy and run a command under it through the launcher, as a
// ChildProcess-like EventEmitter that also streams the sandbox's events. The plan goes over
// fd 3, and events come back on it.
import { type CompileContext } from '../plan/compile.js'
import { callerContext } from '../host/caller.js'
import { callerCwd, callerResolve, hasEscapedBytes } from '../host/path-bytes.js'
import { callerLogin } from '../host/login.js'
import { SPAWN_SYSCALLS } from '../seccomp/notify.js'
import { syscallNames } from './events.js'
import { isStep } from './launcher-steps.js'
import type { LauncherProcess, StdioEntry } from './launcher-process.js'
import {
  checkOptions,
  planBytes,
  type PolicyInput,
  type Prepared,
  prepareRun,
  type SandboxInput,
  tagInput,
} from './prepare.js'
import type { SandboxChild, SandboxProcess } from './sandbox-process.js'
import { chdirHint, notFoundHint } from './not-found.js'
import { type ReadyRun, startSandbox } from './start.js'

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
  /** Syscalls to report as `syscall` events (their outcome unchanged): what monitor rules watch.
   * `!NAME` reports NAME only when the policy refuses it (nothing that goes on is stopped). */
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
  return spawnWith(input, command, args, options, {})
}

/** spawn(), with `beforeGo` called just before the command may run (StartHooks): the CLI
 * installs its signal forwarding there, so that no signal meant for the command finds cordon
 * without it once the command runs. Not part of the library's API. */
export function spawnWith(
  input: SandboxInput | PolicyInput,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  {
    beforeGo,
    forwardsSignals,
  }: { beforeGo?: (launcher: LauncherProcess) => void; forwardsSignals?: boolean },
): SandboxChild {
  checkOptions(options)
  // Bytes that are not UTF-8 cannot cross child_process (it encodes strings as UTF-8): such a
  // command line travels in the plan, and so do such values of passed variables.
  const argv = [command, ...args]
  const argvInPlan = argv.some(hasEscapedBytes)
  // Watching a call that makes processes is served by process events: such calls are never
  // stopped (seccomp/notify.ts SPAWN_SYSCALLS).
  const processEvents =
    options.processEvents === true || options.watch?.some((n) => SPAWN_SYSCALLS.includes(n)) === true
  let last: (Prepared & ReadyRun) | undefined
  const child = startSandbox(
    () => (last = ready(prepare(input, argv, argvInPlan, options))),
    argv,
    argvInPlan,
    { ...options, processEvents },
    {
      beforeGo,
      forwardsSignals,
      names: syscallNames,
      // The launcher only knows the name was not there; the host can say why (a link that leaves
      // the view, a policy that shows no files), for every reader of the event (the event
      // socket's too) and of `exited`.
      amend: (ev, run) => {
        if (ev.event !== 'error' || ev.code !== 'ENOENT' || !run.policy) return false
        const hint = isStep(ev.step, 'exec')
          ? notFoundHint(run.policy, command, run.cwd ?? callerCwd())
          : isStep(ev.step, 'chdir') && run.policy.cwd !== undefined
            ? chdirHint(run.policy, run.policy.cwd)
            : undefined
        if (hint) ev.hint = hint
        return hint !== undefined
      },
    },
  )
  if (last) preparedRuns.set(child, last)
  return child
}

const preparedRuns = new WeakMap<SandboxProcess, Prepared & ReadyRun>()
/** What spawn() prepared for child (its plan, the policy): `cordon run` files the plan of a run
 * for the next one (run/plan-cache.ts). Not part of the library's API. */
export const preparedRun = (child: SandboxProcess): (Prepared & ReadyRun) | undefined =>
  preparedRuns.get(child)

/** A prepared run as the start needs it: the plan's bytes (encoded once for a reused plan), its
 * console, and the warnings its resolution noted. */
function ready(run: Prepared): Prepared & ReadyRun {
  return {
    ...run,
    bytes: () => planBytes(run.plan),
    devpts: run.plan.ops.some((op) => op.op === 'devpts'),
    // What the policy's resolution warned of (a wide bind, a working directory a profile would
    // not show), first of the sandbox's events: a library caller saw none of it, and the command
    // started somewhere it did not expect.
    warnings: run.plan.notes.flatMap((n) => (n.startsWith('warning: ') ? [n.slice(9)] : [])),
  }
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
    ...(options.cwd !== undefined ? { cwd: callerResolve(options.cwd) } : {}),
    ...options.context,
    ...(options.watch ? { watch: options.watch } : {}),
  }
  // The caller's login name, when the sandbox's ids are compiled for this process's own uid.
  const name = ctx.uid === process.getuid?.() ? callerLogin() : undefined
  if (name) ctx.loginName = name
  return prepareRun(tagInput(input), ctx, {
    ...(argvInPlan ? { argv } : {}),
    ...(options.hostEnv ? { hostEnv: options.hostEnv } : {}),
    ...(options.env ? { env: options.env } : {}),
    cgroup: options.cgroup === true,
    ...(options.cgroupVersion ? { cgroupVersion: options.cgroupVersion } : {}),
  })
}
