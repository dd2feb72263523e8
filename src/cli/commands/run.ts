// cordon run [flags] [--] COMMAND [ARG...]
import { endAsTheCommand, FORWARDED, forwardSignals } from '../signals.js'
import { holdStartSignals } from '../../host/start-guard.js'
import { parseFlags } from '../args.js'
import { CordonError, RAISE_FD_LIMIT } from '../../errors.js'
import { type CgroupAccess, cgroupAccess } from '../../cgroup/select.js'
import { type StatementStatus, statementStatus } from '../../status/statements.js'
// The runc/gvisor backends (and the OCI export under them) load only for --backend.
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { preparedRun, spawnWith } from '../../run/spawn.js'
import type { SandboxProcess } from '../../run/sandbox-process.js'
import { CACHE_VERSION, type CachedRun, writeCachedRun } from '../../run/plan-cache.js'
import { type HostRead, startRecording } from '../../host/reads.js'
import { callerCwd, hasEscapedBytes, rawEnvValue } from '../../host/path-bytes.js'
import { buildId, fastRunArgs, runKey } from '../run-fast-args.js'
import { tracedOwnInstall, warnOwnInstall } from '../../plan/own-install.js'
import { callerLogin } from '../../host/login.js'
import { encodePlan } from '../../plan/encode.js'
import { takeKilledMark } from '../../run/registry.js'
import { MONITOR_HELP, MONITOR_OPTIONS, metricsLinger, openSession, syscallList } from '../monitor-flags.js'
import { EVENT_HELP, EVENT_OPTIONS, EventOutput } from '../event-output.js'
import { note, setQuiet, warn } from '../output.js'
import { limitsBeyondHost, REASONS, report, reportEnd, reportEnforcement } from '../run-report.js'
import { guardStdout } from '../dispatch.js'
import {
  checkFlagSources,
  guardProjectDir,
  POLICY_HELP,
  POLICY_OPTIONS,
  policyFromFlags,
} from '../policy-flags.js'
import { loadFilterCompiler } from '../../plan/lazy-filter.js'
import { LIMITS } from '../../policy/limits.js'
import { holdsHostRoot, launcherSeccompExtras } from '../../policy/effective.js'
import { precompiledFilter } from '../../seccomp/precompiled.js'
import { compileForOneRun } from '../../run/prepare.js'
import { exitHint } from '../../run/exit-hints.js'

const OPTIONS = {
  ...POLICY_OPTIONS,
  ...MONITOR_OPTIONS,
  'metrics-linger': { type: 'string' },
  monitor: { type: 'boolean' },
  audit: { type: 'boolean' },
  watch: { type: 'string', multiple: true },
  backend: { type: 'string' },
  ...EVENT_OPTIONS,
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const

const HELP = `Usage: cordon run [options] [--] COMMAND [ARG...]
       cordon run -p POLICY.yaml      (runs the policy's \`command:\`, e.g. one cordon learn wrote)

Runs COMMAND in a sandbox. Without options, the \`default\` profile: system directories and /etc
(minus secrets) read-only, the current directory read-only, private /tmp, no network, no host
processes, nothing of $HOME.

${POLICY_HELP}

Monitor (see cordon monitor --help and the README's rule reference):
      --monitor          watch the sandbox with the default rules (rules/default.yaml)
${MONITOR_HELP}
      --metrics-linger DURATION
                         after the command ends, keep serving until one scrape has read the
                         final values or DURATION passed (e.g. 30s; default 0: exit at once)
      --watch SYSCALLS   also report these syscalls as events (comma-separated), e.g. for
                         --json or a \`cordon monitor\` elsewhere; clone, clone3, fork
                         and vfork are counted as \`spawn\` events, never stopped

Audit (canary rollout of a new policy):
      --audit            run under the policy's namespaces, identity and limits, but refuse
                         nothing: the files are the host's, every syscall goes through; then
                         print what the policy would have denied, with the rule that allows it

Backend:
      --backend NAME     native (default: cordon's launcher, every layer), runc or gvisor
                         (the policy as an OCI bundle run by Debian's runc or runsc; no
                         Landlock layer, and gVisor's own kernel in front of the host's);
                         the run says which statements the backend enforces with fewer layers.
                         See cordon advise for when to choose which

Output (cordon's lines on stderr are escaped: no control character from the sandbox reaches them):
${EVENT_HELP}
  -q, --quiet            no warnings on stderr (errors, alerts and a limit asked for here
                         that nothing enforces still print)
  -h, --help             this help

Exit status: the command's; killed by SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGALRM, SIGUSR1 or SIGUSR2,
cordon dies of the same signal (a shell sees 128+N); by another signal N, or under --backend
runc|gvisor, it exits 128+N; 125 when cordon failed; 126 not executable; 127 not found.
`

/** Splits at `--`, or at the first word that is neither an option nor an option's value. */
export function splitCommand(
  argv: string[],
  options: Readonly<Record<string, { type: string; short?: string }>> = OPTIONS,
): { flags: string[]; command: string[] } {
  const dash = argv.indexOf('--')
  if (dash >= 0) return { flags: argv.slice(0, dash), command: argv.slice(dash + 1) }
  const takesValue = new Set<string>()
  for (const [name, o] of Object.entries(options)) {
    if (o.type === 'string') {
      takesValue.add(`--${name}`)
      if (o.short) takesValue.add(`-${o.short}`)
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('-')) return { flags: argv.slice(0, i), command: argv.slice(i) }
    if (takesValue.has(a)) i++
  }
  return { flags: argv, command: [] }
}

export async function runCommand(argv: string[]): Promise<number> {
  const split = splitCommand(argv)
  const values = parseFlags(split.flags, OPTIONS)
  setQuiet(values.quiet === true)
  if (values.help) {
    guardStdout()
    process.stdout.write(HELP)
    return 0
  }
  if (!split.command.length && !values.policy)
    throw new CordonError('invalid_usage', 'no command given: cordon run [options] -- COMMAND [ARG...]')
  const out = EventOutput.open(values)
  // A command line the lean path serves (cli/run-fast.ts): what its compile reads of the host is
  // recorded, from the policy to the plan, and the plan filed for the next run.
  const fast = buildId() ? fastRunArgs(argv) : undefined
  const recorder = fast ? startRecording() : undefined
  try {
    guardProjectDir(values, 'run')
    const policy = policyFromFlags(values)
    checkFlagSources(values)
    // A policy's `command:` (cordon learn writes one) runs when none is given.
    const [command, ...args] = split.command.length ? split.command : (policy.command ?? [])
    if (!command)
      throw new CordonError(
        'invalid_usage',
        `no command given, and ${values.policy} has no \`command:\`: cordon run -p POLICY -- COMMAND [ARG...]`,
      )
    // What a wide bind exposes, said before anything runs (policy/wide-binds.ts): by spawn(), as
    // the sandbox's first events, on the native backend; here on the others and under --audit
    // (its traced view is a policy of its own, without these).
    if ((values.backend !== undefined && values.backend !== 'native') || values.audit)
      for (const message of [
        ...(warnOwnInstall(policy).warnings ?? []),
        ...(values.audit ? [tracedOwnInstall(holdsHostRoot(policy))] : []),
      ])
        if (message) report({ event: 'warning', step: 'policy', message }, out)
    if (values.backend !== undefined && values.backend !== 'native') {
      await loadFilterCompiler()
      return await runOnBackend(policy, values.backend, [command, ...args], values, out)
    }
    if (values.audit) {
      await loadFilterCompiler()
      return await (await import('./audit.js')).auditRun(policy, command, args, out)
    }
    return await runNative(
      policy,
      command,
      args,
      values,
      out,
      fast && recorder ? { key: runKey(fast, buildId()!), recorder } : undefined,
    )
  } catch (e) {
    // A reader of the channel learns that cordon failed, not just that the lines stopped.
    out.record({ event: 'error', step: 'cordon', message: (e as Error).message })
    throw e
  } finally {
    recorder?.stop()
    await out.close()
  }
}

async function runNative(
  policy: ResolvedPolicy,
  command: string,
  args: string[],
  values: Parameters<typeof openSession>[0] & { monitor?: boolean | undefined; watch?: string[] | undefined },
  out: EventOutput,
  filing?: { key: string; recorder: ReturnType<typeof startRecording> },
): Promise<number> {
  metricsLinger(values) // a bad value is refused before the sandbox starts
  compileForOneRun()
  for (const message of limitsBeyondHost(policy.limits))
    report({ event: 'warning', step: 'limits', message }, out)
  const monitored =
    values.monitor ||
    values.rules?.length ||
    values.alert?.length ||
    values['alert-format'] !== undefined ||
    values.metrics !== undefined
  const session = monitored ? await openSession(values, out) : undefined
  const watch = [...(session?.watchList() ?? []), ...syscallList(values.watch)]
  // A built-in profile's filter is precompiled: only other filters load the compiler.
  if (!precompiledFilter(policy.seccomp, launcherSeccompExtras(policy), process.arch, watch)) {
    filing?.recorder.stop()
    filing = undefined // what the compile reads is no longer one synchronous span
    await loadFilterCompiler()
  }
  // Forwarding from just before the go (spawnWith): a signal that came between the go and its
  // install ended cordon by Node's default action instead of reaching the command. A listener
  // runs from the event loop, after spawnWith has returned the child.
  const forward = (signal: NodeJS.Signals) => child.forward(signal)
  let stopForwarding = () => {}
  holdStartSignals(FORWARDED) // until beforeGo's forwarding (host/start-guard.ts)
  const child = spawnWith(
    { kind: 'resolved', policy },
    command,
    args,
    {
      stdio: 'inherit',
      publish: true,
      ...(watch.length ? { watch } : {}),
      ...(session ? { cgroup: true, processEvents: true } : {}),
    },
    {
      beforeGo: (launcher) => {
        stopForwarding = forwardSignals(forward, launcher)
      },
      forwardsSignals: true,
    },
  )
  const reads = filing?.recorder.stop()
  let status: CachedRun['status'] | undefined
  session?.attachProcess(child, [command, ...args], policy.limits)
  for await (const ev of child.events) {
    report(ev, out) // first, so that an alert follows the event that fired it
    session?.handle(child.id, ev)
    if (ev.event === 'landlock') {
      const access = child.cgroupAccess ?? cgroupAccess()
      const statements = statusFor(policy, ev.abi, ev.code, access)
      status = {
        abi: ev.abi,
        ...(ev.code ? { code: ev.code } : {}),
        cgroup: { ok: access.ok, why: access.why },
        statements,
      }
      reportEnforcement(statements, out, undefined, askedLimits(values))
    }
  }
  const result = await child.exited
  stopForwarding()
  // The command has ended: a Ctrl-C now (alerts waiting on a webhook that is down, a final
  // scrape) cuts the wait short, and the run still ends with the command's status and says
  // what was not delivered (helper-155: it ended 130, in silence).
  const hurry = () => session?.hurry()
  const hurried = session ? FORWARDED.filter((s) => s !== 'SIGWINCH') : []
  for (const s of hurried) process.on(s, hurry)
  await session?.metrics?.linger(metricsLinger(values))
  await session?.close()
  for (const s of hurried) process.off(s, hurry)
  reportEnd(result, policy, out, takeKilledMark(child.id, child.launcherPid))
  const hint = out.human && exitHint(policy, [command, ...args], result.code, callerCwd())
  if (hint) note(`hint: ${hint}`)
  if (filing && reads && status && (result.reason === 'exited' || result.reason === 'signal'))
    fileRun(filing.key, reads, policy, child, status, [command, ...args])
  endAsTheCommand(result)
  return result.code
}

/** The statements' status for the Landlock answer a run's launcher reported, and the cgroup it
 * got; also the lean path's (cli/run-fast.ts, through run-main.ts) for an answer other than the
 * first run's. */
export function statusFor(
  policy: ResolvedPolicy,
  abi: number,
  code: string | undefined,
  access: CgroupAccess,
): StatementStatus[] {
  return statementStatus(policy, abi, code ? `Landlock unavailable (${code})` : undefined, {
    uid: process.getuid?.() ?? 0,
    cgroup: access,
  })
}

/** The cgroup limits a run's own flags asked for, not `max`: each limit's word is its flag
 * (`memory` for --memory 64M). */
function askedLimits(values: object): string[] {
  const given = new Map<string, unknown>(Object.entries(values))
  return LIMITS.filter((l) => l.controller)
    .map((l) => l.word)
    .filter((word) => given.get(word) !== undefined && given.get(word) !== 'max')
}

/** Files the run's plan for the next run of the same command line (run/plan-cache.ts), when
 * nothing of it was this run's alone: no private /tmp (a run without a mount namespace), no
 * command line or variable in the plan (bytes that are not UTF-8). Its cgroup is taken out:
 * each run makes its own and binds it. */
function fileRun(
  key: string,
  reads: HostRead[],
  policy: ResolvedPolicy,
  child: SandboxProcess,
  status: CachedRun['status'],
  argv: string[],
): void {
  const prepared = preparedRun(child)
  if (!prepared || prepared.privateTmp || argv.some(hasEscapedBytes)) return
  if (policy.env.pass.some((n) => rawEnvValue(n) !== undefined)) return
  let policyJson: string
  try {
    policyJson = JSON.stringify(policy)
  } catch {
    return // a value JSON cannot hold
  }
  const plan = { ...prepared.plan, ops: prepared.plan.ops.filter((op) => op.op !== 'cgroup') }
  writeCachedRun({
    version: CACHE_VERSION,
    key,
    reads,
    login: callerLogin(),
    plan: encodePlan(plan).toString('base64'),
    devpts: prepared.devpts,
    notes: [...prepared.warnings],
    limits: policy.limits,
    requireLimits: policy.requireLimits === true,
    passed: [...policy.env.pass],
    status,
    policy: policyJson,
  })
}

/** `--backend runc|gvisor`: the policy as an OCI bundle, run in the foreground by the runtime. */
async function runOnBackend(
  policy: ResolvedPolicy,
  name: string,
  command: string[],
  values: Record<string, unknown>,
  out: EventOutput,
): Promise<number> {
  const { backendAvailable, parseBackend, RUNTIMES, spawnOnRuntime } =
    await import('../../backends/runtime.js')
  const { backendStatus, refuseUnenforcedOnBackend } = await import('../../backends/status.js')
  const backend = parseBackend(name)
  if (backend === 'native') throw new CordonError('internal', 'runOnBackend: native is not a runtime')
  const cordonOnly = [
    'monitor',
    'audit',
    'watch',
    'rules',
    'alert',
    'alert-format',
    'metrics',
    'metrics-linger',
  ].filter((k) => values[k] !== undefined)
  if (cordonOnly.length)
    throw new CordonError(
      'invalid_usage',
      `--${cordonOnly[0]} needs cordon's own launcher (its events come from there): drop --backend ${backend}`,
    )
  const available = backendAvailable(backend)
  if (!available.ok) throw new CordonError('setup_failed', `--backend ${backend}: ${available.why}`)
  const statements = backendStatus(policy, backend, { abi: 0 })
  refuseUnenforcedOnBackend(policy, statements, backend)
  reportEnforcement(statements, out, backend, askedLimits(values))
  // Forwarding from before the runtime starts: a SIGTERM in the moment between its start and the
  // install ended cordon by Node's default action, and the container ran on, reparented
  // (helper-114). No handler can run before spawnOnRuntime has returned `child`.
  let child: ReturnType<typeof spawnOnRuntime> | undefined
  const stopForwarding = forwardSignals((signal) => child?.kill(signal))
  let result
  try {
    child = spawnOnRuntime(policy, backend, command, { stdio: 'inherit' })
    result = await child.exited
  } finally {
    stopForwarding()
  }
  out.record({
    event: 'result',
    backend,
    reason: result.reason,
    code: result.code,
    ...(result.error ? { error: result.error } : {}),
  })
  if (!out.human) return result.code
  if (result.error !== undefined)
    warn(
      `${backend} could not start the sandbox${result.errorShown ? ' (its message is above)' : `: ${result.error}`}` +
        (/\bE[MN]FILE\b/.test(result.error) ? ` (too many open files: ${RAISE_FD_LIMIT})` : ''),
    )
  // The limits' words, as natively (run-report.ts): a runtime's statuses say only 137 or 2.
  const why = REASONS[result.reason]
  if (why) warn(why(policy))
  // Not found: the container's init said only ENOENT; the host says why, as natively (spawn()'s
  // hint). A hint means the view cannot hold the command, so the 127 was not the command's own.
  if (result.code === 127 && command[0] !== undefined) {
    const { notFoundHint } = await import('../../run/not-found.js')
    const hint = notFoundHint(policy, command[0], callerCwd())
    if (hint) {
      warn(`exec ${command[0]}: ${hint}`)
      return result.code
    }
  }
  // A runtime broken on this host fails the command with its own error (runsc 2022 on Linux 6.18:
  // "ls: cannot access '/': Invalid argument"), which reads as the command's or the policy's.
  if (result.code !== 0 && result.reason === 'exited' && result.error === undefined) {
    const { worksHere } = await import('../../backends/works-here.js')
    const works = await worksHere(backend, () => policyFromFlags({}))
    if (!works.ok)
      warn(
        `the failure may be ${RUNTIMES[backend].program}'s, not the command's: ${works.why}. ` +
          `\`cordon check --backend ${backend}\` tests it; --backend native (every layer) runs the command without it`,
      )
  }
  return result.code
}
