// `cordon run`'s lean path: a command line an earlier run compiled the plan of (run/plan-cache.ts)
// starts from that plan, through the same start as spawn() (run/start.ts), and says what the run
// command says (run-report.ts). Its bundle (run-fast.cjs) holds no policy, compiler or syscall
// table, so the start is Node's own plus the run's bookkeeping (README: "CLI start-up"). Anything
// it is not sure of is a miss, and bin/cordon.cjs runs the run command instead, which compiles
// (and files the plan for the next run): an option it does not serve, no entry, an entry whose
// host reads answer otherwise now, or a start that fails before the launcher has its go.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { builtin } from '../builtin.js'
import { CordonError } from '../errors.js'
import { insertOpsAfterFirst } from '../plan/encode.js'
import { type CgroupAccess, cgroupAccess } from '../cgroup/select.js'
import { sameHostReads } from '../host/reads.js'
import { callerCwd, hasEscapedBytes, rawEnvValue } from '../host/path-bytes.js'
import { type CachedRun, readCachedRun } from '../run/plan-cache.js'
import { hintedCommand } from '../run/exit-hint-names.js'
import { takeKilledMark } from '../run/registry.js'
import { makeCgroup } from '../run/sandbox-cgroup.js'
import { isStep } from '../run/launcher-steps.js'
import type { SandboxChild, SandboxProcess } from '../run/sandbox-process.js'
import { type ReadyRun, startSandbox } from '../run/start.js'
import type { StatementStatus } from '../status/statements.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { note, setQuiet, warn } from './output.js'
import { buildId, fastRunArgs, runKey } from './run-fast-args.js'
import { callerLogin } from '../host/login.js'
import { limitsBeyondHost, report, reportEnd, reportEnforcement, type RunOutput } from './run-report.js'
import { endAsTheCommand, FORWARDED, forwardSignals } from './signals.js'
import { holdStartSignals } from '../host/start-guard.js'

export { rawArgs } from '../host/path-bytes.js'
/** bin/cordon.cjs hands over the addon it loaded (host/addon.ts adoptAddon). */
export { adoptAddon } from '../host/addon.js'

/** The run command's bundle, for what only the policy can say (a status for another Landlock
 * answer than the first run's, a command not found): loaded then, and only then. */
interface FullRun {
  statusFor(
    policy: ResolvedPolicy,
    abi: number,
    code: string | undefined,
    access: CgroupAccess,
  ): StatementStatus[]
  notFoundFor(policy: ResolvedPolicy, command: string, cwd: string): string | undefined
  exitHint(policy: ResolvedPolicy, argv: readonly string[], code: number, cwd: string): string | undefined
}
let full: FullRun | undefined
/** The entry's policy, parsed once, when needed. */
const policies = new WeakMap<CachedRun, ResolvedPolicy>()
const policyOf = (entry: CachedRun): ResolvedPolicy => {
  let p = policies.get(entry)
  if (!p) policies.set(entry, (p = JSON.parse(entry.policy) as ResolvedPolicy))
  return p
}
// The file's path, not the URL's pathname: that is percent-encoded, and for an install whose
// path has a space (or `%`, `#`, a letter beyond ASCII) it named another file, which whoever can
// make that path chose: its code ran in root's process.
const fullRun = (): FullRun =>
  (full ??= builtin('node:module').createRequire(import.meta.url)(
    join(dirname(fileURLToPath(import.meta.url)), 'run.cjs'),
  ) as FullRun)

/** stderr gets the lines a person reads; there is no event channel on this path. */
const HUMAN: RunOutput = { human: true, dropped: 0, event: () => {}, record: () => {} }

/** argv is `run` and its arguments. Resolves to undefined when the run command must run it. */
export async function main(argv: string[]): Promise<number | undefined> {
  const build = buildId()
  const run = argv[0] === 'run' && build ? fastRunArgs(argv.slice(1)) : undefined
  if (!run) return undefined
  // A command line that is not UTF-8 travels in the plan, which the filed one does not hold.
  if (run.command.some(hasEscapedBytes)) return undefined
  const entry = readCachedRun(runKey(run, build!))
  // A passed variable that is not UTF-8 travels in the plan; the host answers must be the
  // compile's, so that the plan is what a compile gives now.
  if (!entry || entry.passed.some((n) => rawEnvValue(n) !== undefined)) return undefined
  setQuiet(run.quiet)
  let child: SandboxChild | undefined
  // From just before the go (the run command's runNative does the same): a listener runs from
  // the event loop, after startSandbox has returned the child.
  const forward = (signal: NodeJS.Signals) => child?.forward(signal)
  /** Set at the go: the command may run from then on. */
  let stopForwarding: (() => void) | undefined
  try {
    // The entry's host reads are made again while the launcher sets the sandbox up and waits for
    // its go (ReadyRun.current): answered otherwise, the launcher is let go with nothing run, and
    // the second prepare throws: a miss.
    let prepared = false
    const once = () => {
      if (prepared) throw new Error('the filed plan is stale')
      prepared = true
      return ready(entry)
    }
    holdStartSignals(FORWARDED) // until beforeGo's forwarding (host/start-guard.ts)
    child = startSandbox(
      once,
      run.command,
      false,
      { stdio: 'inherit', publish: true, endStats: false },
      {
        amend: (ev) => {
          if (ev.event !== 'error' || !isStep(ev.step, 'exec') || ev.code !== 'ENOENT') return false
          const hint = fullRun().notFoundFor(policyOf(entry), run.command[0]!, callerCwd())
          if (hint) ev.hint = hint
          return hint !== undefined
        },
        beforeGo: (launcher) => {
          stopForwarding = forwardSignals(forward, launcher)
        },
        forwardsSignals: true,
      },
    )
  } catch (e) {
    // Past the go the command runs: the run command must not start it a second time. Its
    // launcher ends the sandbox once this process has exited (it watches it: die_with_parent).
    if (stopForwarding) {
      stopForwarding()
      return internalError(e)
    }
    return undefined // nothing of the command ran: the run command says what failed
  }
  try {
    for (const message of limitsBeyondHost(entry.limits))
      report({ event: 'warning', step: 'limits', message }, HUMAN)
    for await (const ev of child.events) {
      report(ev, HUMAN)
      if (ev.event === 'landlock') reportEnforcement(statusOf(entry, ev.abi, ev.code, child), HUMAN)
    }
    const result = await child.exited
    stopForwarding?.()
    reportEnd(result, { limits: entry.limits }, HUMAN, takeKilledMark(child.id, child.launcherPid))
    // Only where one may apply: the policy is read for it then.
    const hint =
      hintedCommand(run.command, result.code, policyOf(entry).seccomp).length > 0 &&
      fullRun().exitHint(policyOf(entry), run.command, result.code, callerCwd())
    if (hint) note(`hint: ${hint}`)
    endAsTheCommand(result)
    return result.code
  } catch (e) {
    return internalError(e)
  }
}

/** What the run command says of an error after the go: its lines, and 125. */
function internalError(e: unknown): number {
  for (const line of (e instanceof CordonError ? e.message : `internal error: ${String(e)}`).split('\n'))
    warn(line)
  return 125
}

/** The run as the entry's plan gives it: its cgroup made as a compile's run makes it, bound
 * into the plan where compilePlan binds it (plan/bind-run.ts). */
function ready(entry: CachedRun): ReadyRun {
  const made = makeCgroup(entry.limits, false, entry.requireLimits)
  const plan = Buffer.from(entry.plan, 'base64')
  const cgroups = made.cgroup?.joinPaths ?? []
  return {
    bytes: () =>
      insertOpsAfterFirst(
        plan,
        cgroups.map((path) => ({ op: 'cgroup', path })),
      ),
    devpts: entry.devpts,
    warnings: entry.notes,
    limits: entry.limits,
    cgroup: made.cgroup,
    access: made.access,
    current: () => sameHostReads(entry.reads) && callerLogin() === entry.login,
    remove: () => made.cgroup?.remove(),
    sweep: made.sweep,
  }
}

/** The statuses the first run reported, when this run's Landlock and cgroup answers are the
 * ones they were for; else made from the policy (run-main.ts statusFor), as the run command does. */
function statusOf(
  entry: CachedRun,
  abi: number,
  code: string | undefined,
  child: SandboxProcess,
): StatementStatus[] {
  const access = child.cgroupAccess ?? cgroupAccess()
  const same =
    entry.status.abi === abi &&
    entry.status.code === code &&
    entry.status.cgroup.ok === access.ok &&
    entry.status.cgroup.why === access.why
  return same ? entry.status.statements : fullRun().statusFor(policyOf(entry), abi, code, access)
}
