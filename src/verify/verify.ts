// `cordon verify`: runs the probe battery (native/attack.c) inside a sandbox built from the
// policy, with real targets on the host (fixtures.ts), then checks on the host side what
// actually got through.
import { callerCwd } from '../host/path-bytes.js'
import { rmSync } from 'node:fs'
import { callerContext } from '../host/caller.js'
import { enforcedSeccomp } from '../policy/effective.js'
import { sandboxIdentity } from '../plan/compile.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { run } from '../run/run.js'
import { type Backend, runOnRuntime } from '../backends/runtime.js'
import { archByName } from '../seccomp/arch.js'
import { RET } from '../seccomp/bpf.js'
import { actionOf, answerFor, letsThrough } from '../seccomp/reference.js'
import { type Action, leafFor, passesThrough, type SeccompSpec } from '../seccomp/model.js'
import { errnoName } from '../seccomp/resolve.js'
import { syscallTable } from '../seccomp/tables.js'
import { constants as osConstants, homedir } from 'node:os'
import { cgroupAccess } from '../cgroup/select.js'
import { probeKernel } from '../host/probe.js'
import { PROBES } from './battery.js'
import { mayHaveRefused, unstoppedVariant } from './refusal.js'
import {
  devTarget,
  type Fixtures,
  prepare,
  type ProbePaths,
  shareWithSandbox,
  suidFixturePath,
  withProbes,
} from './fixtures.js'
import type {
  Ending,
  HostVerdict,
  Outcome,
  ProbeContext,
  ProbeSpec,
  RawResult,
  TargetContext,
  VerdictContext,
} from './probe-spec.js'

export type { Outcome } from './probe-spec.js'

export interface ProbeResult {
  probe: string
  attack: string
  /** The host path or endpoint it aimed at, when it had one. */
  target?: string
  outcome: Outcome
  /** Skipped because this host lacks what the attack needs (no claim either way). */
  unsupported?: true
  /** The policy promises to stop it (false: the policy allows it, see `reason`). */
  expected: boolean
  reason?: string
  /** The layer that stopped it. */
  by?: string
  call?: string
  errno?: string
  detail?: string
}

export interface Verification {
  version: 1
  results: ProbeResult[]
  /** Probes the policy should stop that got through (or could not run). */
  failures: number
  /** The harness calls the policy's filter refuses (a learned allowlist may): each attack then
   * ran alone, in a sandbox of its own, without the harness's pipe and fork. */
  harnessRefused?: string[]
}

/** What the harness itself calls to run each probe in a child (native/attack.c run_probe): the
 * pipe, fork and wait, the child's setpgid(0, 0) and the write of its result, the reads and
 * closes. A child the filter kills in one of these would read as an attack blocked. */
const HARNESS_CALLS = ['pipe2', 'clone', 'wait4', 'setpgid', 'write', 'read', 'close'] as const
/** glibc's fork(): clone(CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, …). */
const FORK_FLAGS = 0x01200011n

/** The actions the filter can give `name`, whatever its arguments. */
const actionsFor = (filter: SeccompSpec, name: string): Action[] => {
  const leaf = leafFor(filter, name)
  return [leaf.fallback, ...leaf.checks.map((c) => c.action)]
}
const kills = (a: Action) => a.kind === 'kill-process' || a.kind === 'kill-thread' || a.kind === 'trap'

/** The harness calls `filter` refuses on this machine's architecture, for any of their
 * arguments (a rule on write's descriptor or length too: helper-153 killed every probe's result
 * with one), and fork's clone with glibc's flags. */
export function harnessRefused(filter: SeccompSpec): string[] {
  const arch = archByName(process.arch)
  if (!arch) return []
  return HARNESS_CALLS.filter((call) => {
    if (arch.table[call] === undefined) return false
    if (call !== 'clone') return actionsFor(filter, call).some((a) => !passesThrough(a))
    return !letsThrough(answerFor(filter, call, [FORK_FLAGS])!)
  })
}

/** The harness's own calls the filter can kill or trap (with some arguments): where there is
 * one, a probe that died of SIGSYS may have died in it (the write of its result). */
export function machineryKilled(filter: SeccompSpec): string[] {
  const table = syscallTable(archByName(process.arch)?.name ?? 'x86_64')
  return HARNESS_CALLS.filter((c) => table[c] !== undefined && actionsFor(filter, c).some(kills))
}

/** The calls of one step of the probe's attack (its row's `calls`) that `filter` kills whatever
 * their arguments (every call of the step, those this architecture has), or undefined where no
 * step is killed whole. A SIGSYS from anywhere else (the probe's setup, its cleanup, its report)
 * proves nothing (helper-153, helper-154: a kill of unlink or rmdir passed for the attack
 * blocked); a probe whose row has no `calls` is never blocked by a SIGSYS alone. */
export function attackKilled(filter: SeccompSpec, spec: ProbeSpec): string[] | undefined {
  return attackStep(filter, spec, kills)
}

/** The calls of one step of the probe's attack that `filter` refuses whatever their arguments
 * (an errno, a kill or a trap for each), or undefined. A probe whose own machinery failed (its
 * pty's setup, a pipe) did not try its attack, but where the filter refuses a whole step of it
 * the attack cannot have worked: blocked by seccomp, whatever stopped the probe first. */
export function attackRefused(filter: SeccompSpec, spec: ProbeSpec): string[] | undefined {
  return attackStep(filter, spec, (a) => !passesThrough(a))
}

function attackStep(
  filter: SeccompSpec,
  spec: ProbeSpec,
  stops: (a: Action) => boolean,
): string[] | undefined {
  if (spec.arch) return undefined // another entry point's table
  const table = syscallTable(archByName(process.arch)?.name ?? 'x86_64')
  for (const step of spec.calls ?? []) {
    const here = step.filter((c) => table[c] !== undefined)
    if (here.length && here.every((c) => actionsFor(filter, c).every(stops))) return here
  }
  return undefined
}

/** True when the filter's answer to `call` (with the probe's arguments) is what the probe saw:
 * its errno, or SIGSYS from a kill or trap. */
function seccompStopped(resolved: SeccompSpec, spec: ProbeSpec, raw: RawResult): boolean {
  const value = raw.call ? answerFor(resolved, raw.call, spec.args?.[raw.call] ?? [], spec.arch) : undefined
  if (value === undefined) return false
  if (letsThrough(value)) return false
  if (actionOf(value) === RET.ERRNO) return raw.errno === (value & 0xffff)
  return raw.signal === 31 || raw.errno !== undefined
}

function attribute(filter: SeccompSpec, spec: ProbeSpec, raw: RawResult, backend: Backend): string {
  const key = raw.signal !== undefined ? `signal ${raw.signal}` : raw.errno ? errnoName(raw.errno) : 'none'
  // Past unprovenRefusal, a refusal the filter may have given is one it gives every variant,
  // the probe's own included: its descriptors and lengths are not the row's zeros, and gVisor
  // answers EPERM for any errno.
  const refused =
    raw.errno !== undefined &&
    raw.call !== undefined &&
    !spec.arch &&
    mayHaveRefused(filter, spec, raw.call, raw.errno, backend === 'gvisor')
  if (refused || seccompStopped(filter, spec, raw)) return 'seccomp'
  // SIGSYS with no call named: the filter killed the attack (provenSignal ruled out the rest).
  return spec.layers[key] ?? (key === 'signal 31' ? 'seccomp (killed)' : key)
}

export interface VerifyOptions {
  cwd?: string
  /** Run only these probes (names). */
  only?: readonly string[]
  onProgress?: (done: number, total: number) => void
  /** Run the battery through an OCI runtime instead of cordon's launcher (default native). */
  backend?: Backend
}

/** The argv of the battery (one label per attack and target), the host target of each label,
 * and the probes this caller or host cannot run: each row's `targets` hook, or its name. */
function labels(
  policy: ResolvedPolicy,
  fx: Fixtures,
  paths: ProbePaths,
  ctx: ProbeContext,
  only: readonly string[] | undefined,
): { argv: string[]; targets: Map<string, string>; skipped: ProbeResult[] } {
  const argv: string[] = []
  const targets = new Map<string, string>()
  const skipped: ProbeResult[] = []
  for (const spec of PROBES.filter((p) => !only || only.includes(p.name))) {
    const skip = (reason: string, unsupported?: true) =>
      skipped.push({
        probe: spec.name,
        attack: spec.attack,
        outcome: 'skipped',
        ...(unsupported ? { unsupported } : {}),
        expected: false,
        reason,
      })
    const t: TargetContext = {
      policy,
      fx,
      paths,
      ctx,
      spec,
      add: (arg, target) => {
        const label = arg === undefined ? spec.name : `${spec.name}=${arg}`
        argv.push(label)
        if (target) targets.set(label, target)
      },
      skip: (reason) => skip(reason),
      unsupported: (reason) => skip(reason, true),
    }
    if (spec.targets) spec.targets(t)
    else t.add(undefined)
  }
  return { argv, targets, skipped }
}

/** Runs the labels in sandboxes: most in one, each probe that exhausts a limit or needs the
 * setuid fixture in one of its own. Returns the probes' output and how each sandbox ended. */
async function runBattery(
  policy: ResolvedPolicy,
  fx: Fixtures,
  argv: string[],
  cwd: string,
  backend: Backend,
  direct: boolean,
  onProgress?: (done: number, total: number) => void,
): Promise<{ stdout: string; endings: Map<string, Ending> }> {
  // A probe that hangs must not hang verify: a wall-clock limit unless the policy has one.
  const bounded = (p: ResolvedPolicy) => ({ ...p, limits: { timeoutMs: PROBE_TIMEOUT_MS, ...p.limits } })
  // A probe that exhausts a limit can take the whole sandbox down (a fork bomb's processes
  // fill a small memory limit; gVisor's kernel dies when the host refuses it a thread): each
  // such probe gets a run of its own. So does the setuid probe, so that the setuid fixture
  // exists only for the milliseconds of its own run.
  // The device probe too, so that its host stat brackets only its own milliseconds: on a busy
  // host something else may touch /dev/null.
  const specOf = (label: string) => PROBES.find((p) => p.name === label.split('=')[0])
  // Without the harness's pipe and fork (direct), a probe runs in the harness's own process:
  // the call that kills one must not take the rest with it.
  const alone = (label: string) => direct || specOf(label)?.alone !== undefined
  const groups = [argv.filter((l) => !alone(l)), ...argv.filter(alone).map((l) => [l])].filter(
    (g) => g.length,
  )
  const endings = new Map<string, Ending>()
  const outputs = new Map<string[], string>()
  const runGroup = async (group: string[]) => {
    const label = group[0]!
    const spec = specOf(label)
    const fixture = spec?.fixture?.(fx)
    try {
      const { policy: withBinary, paths } = withProbes(policy, fx, fixture?.path, backend)
      // The policy as this probe's sandbox runs it (a resource probe's smaller limit).
      const sandboxed = bounded(spec?.sandboxPolicy?.(withBinary, backend) ?? withBinary)
      // Test-only: the named probe's sandbox runs a command that never ends (test/verify).
      const hang = process.env.CORDON_TEST_HANG_PROBE === spec?.name && spec?.alone !== undefined
      const command = hang ? ['/bin/sleep', '3600'] : [paths.bin, ...(direct ? ['--direct'] : []), ...group]
      const ran = await withinBound(
        runSandbox(sandboxed, backend, command, cwd),
        sandboxed.limits.timeoutMs + ABANDON_AFTER_MS,
      )
      outputs.set(group, ran.stdout)
      for (const l of group) endings.set(l, ran)
      onProgress?.(endings.size, argv.length)
    } finally {
      fixture?.remove()
    }
  }
  // The shared sandbox and the resource probes touch nothing of each other's (each its own
  // cgroup, the probes' limits small): they run at once. The setuid fixture and the device
  // nodes' host stat stay bracketed by their own runs, after. The OCI runtimes run one at a time.
  const together = backend === 'native' ? groups.filter((g) => specOf(g[0]!)?.alone === 'resource') : []
  await Promise.all([
    (async () => {
      for (const group of groups) if (!together.includes(group)) await runGroup(group)
    })(),
    ...together.map(runGroup),
  ])
  // In argv order, whatever finished first.
  const stdout = groups.map((g) => outputs.get(g) ?? '').join('')
  return { stdout, endings }
}

/** The wall-clock limit of each of the battery's sandboxes, unless the policy sets one. */
export const PROBE_TIMEOUT_MS = 120_000
/** How long past its limit a sandbox's run may take to end (the kill, the runtime's cleanup)
 * before verify stops waiting for it: the last bound, should the kill itself not end it. */
const ABANDON_AFTER_MS = 30_000

/** What verify keeps of a sandbox's run. */
type Ran = Ending & { stdout: string }

/** One sandbox of the battery, on the backend, with its output captured. */
async function runSandbox(
  policy: ResolvedPolicy,
  backend: Backend,
  command: string[],
  cwd: string,
): Promise<Ran> {
  const [program, ...args] = command
  const r =
    backend === 'native'
      ? await run({ kind: 'resolved', policy }, program!, args, { context: { cwd }, reject: false })
      : await runOnRuntime(policy, backend, command, { cwd })
  const error = typeof r.error === 'string' ? r.error : r.error?.message
  return { stdout: r.stdout, reason: r.reason, code: r.code, ...(error === undefined ? {} : { error }) }
}

/** The run's ending, or a timeout once `ms` have passed without one. */
async function withinBound(ran: Promise<Ran>, ms: number): Promise<Ran> {
  let timer: NodeJS.Timeout | undefined
  const abandoned = new Promise<Ran>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          stdout: '',
          reason: 'timeout',
          code: 137,
          error: `its sandbox did not end when killed; verify stopped waiting after ${ms / 1000} s`,
        }),
      ms,
    )
    timer.unref()
  })
  try {
    return await Promise.race([ran, abandoned])
  } finally {
    clearTimeout(timer)
  }
}

/** What reached the host decides, not what the probe saw (the row's `verdict` hook): the
 * outcome and, when the probe's call succeeded but nothing landed, the layer that kept it inside. */
function hostVerdict(
  label: string,
  raw: RawResult,
  fx: Fixtures,
  spec: ProbeSpec,
  backend: ProbeContext['backend'],
): HostVerdict | undefined {
  const v: VerdictContext = {
    label,
    arg: label.slice(spec.name.length + 1),
    raw,
    fx,
    spec,
    backend,
    kept: (landed, layer, detail) => ({
      outcome: landed ? 'escaped' : 'blocked',
      ...(!landed && raw.outcome === 'escaped' && layer ? { by: layer } : {}),
      ...(landed && detail ? { detail } : {}),
    }),
  }
  return spec.verdict?.(v)
}

/** Whether this host has the i386 entry (the launcher's probe); null when it cannot tell. */
function i386Entry(): boolean | null {
  try {
    return probeKernel().i386Entry
  } catch {
    return null
  }
}

export async function verify(policy: ResolvedPolicy, options: VerifyOptions = {}): Promise<Verification> {
  const cwd = options.cwd ?? callerCwd()
  const home = homedir()
  const uid = process.getuid?.() ?? 0
  const cgroup = cgroupAccess(uid)
  const filter = enforcedSeccomp(policy)
  // Nothing that can throw between prepare and try: the fixtures go in the finally.
  const fx = await prepare(policy, home, cwd)
  try {
    const backend = options.backend ?? 'native'
    const ctx: ProbeContext = { home, tcpPort: fx.tcpPort, uid, cgroup, backend, i386Entry: i386Entry() }
    if (!policy.namespaces.mount) {
      const ids = sandboxIdentity(
        policy,
        callerContext(),
        policy.user.uid ?? uid,
        policy.user.gid ?? process.getgid?.() ?? 0,
      )
      shareWithSandbox(fx, ids.uid, ids.gid)
    }
    const { paths } = withProbes(policy, fx, uid === 0 ? suidFixturePath(fx) : undefined, backend)
    const { argv, targets, skipped } = labels(policy, fx, paths, ctx, options.only)
    options.onProgress?.(0, argv.length)
    const refused = harnessRefused(filter)
    const direct = refused.length > 0
    const { stdout, endings } = await runBattery(policy, fx, argv, cwd, backend, direct, options.onProgress)
    // `cordon-probes --direct` says each probe began before its attack (no outcome yet).
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RawResult | { probe: string; began: true })
    const raws = lines.filter((r): r is RawResult => !('began' in r))
    // Run directly, a probe the filter killed ended its sandbox by that signal: as the harness
    // reports a child killed by one. Only once it began its attack: a kill before (a call the
    // program needs to start) proves nothing, and stays a sandbox that ended without a result.
    const began = new Set(lines.filter((r) => 'began' in r).map((r) => r.probe))
    if (direct)
      for (const label of argv) {
        const ending = endings.get(label)!
        const killed = ending.reason === 'signal' || ending.reason === 'oom'
        if (killed && began.has(label) && ending.code > 128 && !raws.some((r) => r.probe === label))
          raws.push({ probe: label, outcome: 'blocked', signal: ending.code - 128 })
      }
    await new Promise((r) => setTimeout(r, 50)) // a datagram in flight to the host's udp socket
    const judged: Judged = { policy, fx, ctx, filter, machinery: machineryKilled(filter) }
    const results = argv.map((label) =>
      judge(
        label,
        raws.find((r) => r.probe === label),
        endings.get(label)!,
        targets.get(label),
        judged,
      ),
    )
    results.push(...skipped)
    const failures = results.filter(
      (r) => r.expected && (r.outcome === 'escaped' || r.outcome === 'error'),
    ).length
    return { version: 1, results, failures, ...(direct ? { harnessRefused: refused } : {}) }
  } finally {
    fx.close()
    rmSync(devTarget(), { force: true })
  }
}

/** What every label is judged against. */
interface Judged {
  policy: ResolvedPolicy
  fx: Fixtures
  ctx: ProbeContext
  filter: SeccompSpec
  /** machineryKilled(filter): the probes' own calls the filter can kill. */
  machinery: string[]
}

/** A probe that ended by a signal before it could say anything: blocked only where the signal
 * can only have come from what stops its attack. Any signal had read as a block (helper-153,
 * helper-154): a filter that killed the probe's write of its result, its close or rmdir after
 * the attack, its unlink before it, or its own fork made escapes "blocked · signal 31"; an
 * rlimit's SIGXFSZ in its copy of itself, or an OOM kill of a probe that tried no memory, passed
 * for blocks too. A signal the probe's row names is one (the OOM kill of the memory probe; the
 * x32 entry killed, where the harness's own calls cannot be); SIGSYS is one where the filter
 * kills a whole step of the attack whatever the arguments (attackKilled). */
function provenSignal(raw: RawResult, spec: ProbeSpec, judged: Judged): RawResult {
  if (raw.signal === undefined || raw.call !== undefined || raw.outcome !== 'blocked') return raw
  const sigsys = raw.signal === 31
  const declared = spec.layers[`signal ${raw.signal}`] !== undefined
  if (declared && (!sigsys || judged.machinery.length === 0)) return raw
  const killed = sigsys ? attackKilled(judged.filter, spec) : undefined
  if (killed) return { ...raw, call: killed.join('/') }
  const name = signalName(raw.signal)
  return {
    ...raw,
    outcome: 'error',
    detail: sigsys
      ? `died of SIGSYS, but the policy does not kill its attack's calls whatever their arguments: the SIGSYS came from a call the probe makes for itself, or from an argument it happened to pass, and whether its attack was stopped cannot be told`
      : `died of signal ${raw.signal}${name ? ` (${name})` : ''}, which nothing the policy stops its attack with sends: whether its attack was stopped cannot be told`,
  }
}

/** A refusal by the policy's filter that did not stop the attack: the filter may have refused
 * the probe's call (refusal.ts mayHaveRefused), but would let a variant of it through, or another
 * call that does the same (unstoppedVariant). Whether another layer stops that variant cannot be
 * told: the filter answered before any did. */
function unprovenRefusal(raw: RawResult, spec: ProbeSpec, judged: Judged): RawResult {
  if (raw.outcome !== 'blocked' || !raw.errno || !raw.call || spec.arch) return raw
  if (!mayHaveRefused(judged.filter, spec, raw.call, raw.errno, judged.ctx.backend === 'gvisor')) return raw
  const variant = unstoppedVariant(judged.filter, spec, raw.call)
  if (!variant) return raw
  return {
    ...raw,
    outcome: 'error',
    detail: `the policy's filter refuses ${raw.call} with ${errnoName(raw.errno)} for some of its arguments only (the probe's may be among them): ${variant}, and whether another layer stops that cannot be told`,
  }
}

/** A probe that could not try its attack (`untried`: its own pipe, fork or setup failed) is
 * blocked by seccomp where the filter refuses a whole step of the attack (attackRefused). */
function refusedAttack(raw: RawResult, spec: ProbeSpec, filter: SeccompSpec): RawResult {
  if (!raw.untried) return raw
  const refused = attackRefused(filter, spec)
  if (!refused) return raw
  const blocked: RawResult = {
    ...raw,
    outcome: 'blocked',
    call: refused.join('/'),
    detail: `the filter refuses ${refused.join(' and ')} whatever the arguments (the probe stopped earlier, at its own ${raw.call}${raw.errno ? `: ${errnoName(raw.errno)}` : ''})`,
  }
  delete blocked.errno // the machinery's, not the attack's
  delete blocked.untried
  return blocked
}

/** A signal's name, from Node's table. */
function signalName(n: number): string | undefined {
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0]
}

/** One label's result: its own line (or how its sandbox ended without one), what reached the
 * host, and the layer that stopped it, named for the backend. */
function judge(
  label: string,
  raw: RawResult | undefined,
  ending: Ending,
  target: string | undefined,
  judged: Judged,
): ProbeResult {
  const { policy, fx, ctx, filter } = judged
  const name = label.split('=')[0]!
  const spec = PROBES.find((p) => p.name === name)!
  const backend = ctx.backend
  const why = spec.notExpected?.(policy, ctx, label)
  const base: ProbeResult = {
    probe: name,
    attack: spec.attack,
    ...(target ? { target } : {}),
    outcome: 'error',
    expected: why === undefined,
    ...(why ? { reason: why } : {}),
  }
  if (!raw) {
    // No result because the sandbox ran out of time: the attack neither got through nor was
    // stopped, and a hang is no block.
    if (ending.reason === 'timeout')
      return {
        ...base,
        detail: `timed out: no result within ${(policy.limits.timeoutMs ?? PROBE_TIMEOUT_MS) / 1000} s, the sandbox was killed${ending.error ? ` (${ending.error})` : ''}`,
      }
    // The runtime could not start the sandbox: the attack never ran.
    if (ending.reason === 'setup')
      return { ...base, detail: `the sandbox did not start: ${ending.error ?? `status ${ending.code}`}` }
    const died = spec.layers['sandbox died']
    if (died && backend === 'gvisor' && ending.code !== 0 && ctx.cgroup.ok)
      return { ...base, outcome: 'blocked', by: died }
    const ended = spec.ended?.({ ending, ctx })
    if (ended) return { ...base, ...ended }
    return { ...base, detail: `no result: the sandbox ended (${ending.reason}, status ${ending.code})` }
  }
  raw = unprovenRefusal(provenSignal(raw, spec, judged), spec, judged)
  const untried = raw.untried === true
  raw = refusedAttack(raw, spec, filter)
  const host = hostVerdict(label, raw, fx, spec, backend)
  // A probe that could not try its attack (its own pipe or fork refused) proved nothing: only
  // what reached the host could still say more.
  const outcome: Outcome =
    raw.outcome === 'error' && host?.outcome !== 'escaped' ? 'error' : (host?.outcome ?? raw.outcome)
  let by = host?.by
  if (outcome === 'blocked') by ??= untried ? 'seccomp' : attribute(filter, spec, raw, backend)
  // The runtimes have no Landlock; in gVisor every layer but the host's cgroup is gVisor's
  // kernel answering for Linux.
  if (by && backend !== 'native') by = by.replace(/ (and|or) Landlock/, '')
  if (by && backend === 'gvisor' && !/^(cgroup|rlimit)/.test(by))
    by = /^[A-Z]+$/.test(by) ? `gVisor's kernel (${by})` : `${by} (gVisor)`
  if (by && spec.by) by = spec.by(by, { spec, ctx })
  const detail = host?.detail ?? (spec.detail ? spec.detail({ policy, raw, why }) : raw.detail)
  return {
    ...base,
    outcome,
    ...(by ? { by } : {}),
    ...(raw.call ? { call: raw.call } : {}),
    ...(raw.errno ? { errno: errnoName(raw.errno) } : raw.signal ? { errno: `signal ${raw.signal}` } : {}),
    ...(detail ? { detail } : {}),
  }
}
