// From spawn()'s input to the plan the launcher runs, one way: resolve the policy, decide
// every fact of this run (its private tmp, its cgroup, its argv and variables), then compile
// once. Nothing edits the plan after compilePlan; only a plan compiled elsewhere (the `plan`
// input) gets this run's ops spliced in by bindPlan, since its compiler could not know them.
import { statSync } from 'node:fs'
import type { Cgroup } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import { CordonError } from '../errors.js'
import { type CompileContext, compilePlan } from '../plan/compile.js'
import type { Plan, PlanOp } from '../plan/model.js'
import { rawEnvValue } from '../host/path-bytes.js'
import { validatePolicy } from '../policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../policy/resolve.js'
import type { Policy } from '../policy/schema.js'
import { makePrivateTmp, type PrivateTmp } from './private-tmp.js'
import { makeCgroup } from './sandbox-cgroup.js'
import { refuseUnenforced, statementStatus } from '../status/statements.js'
import { probeKernel } from '../host/probe.js'

/** What spawn() runs, said by its tag: a policy object (validated as a file is), an already
 * resolved policy, or a compiled plan. */
export type SandboxInput =
  | { kind: 'policy'; policy: Policy }
  | { kind: 'resolved'; policy: ResolvedPolicy }
  | { kind: 'plan'; plan: Plan }

/** spawn()'s untagged input (the library's form before the tag; still accepted): a Policy
 * object, a ResolvedPolicy or a Plan, told apart by tagInput. */
export type PolicyInput = Policy | ResolvedPolicy | Plan

/** The one place an untagged input is told apart by its shape; every later step reads the tag.
 * A Policy has no `kind` key (the schema refuses one), so a tagged input is never mistaken. */
export function tagInput(input: PolicyInput | SandboxInput): SandboxInput {
  if (typeof input !== 'object' || input === null)
    throw new CordonError(
      'invalid_usage',
      `spawn(): expected a policy object, a resolved policy or a compiled plan, got ${input === null ? 'null' : typeof input}`,
    )
  if ('kind' in input) {
    // Checked at run time too: a JavaScript caller's tag is not checked by the compiler.
    const kind: string = input.kind
    if (kind === 'plan' || kind === 'policy' || kind === 'resolved') return input
    throw new CordonError(
      'invalid_usage',
      `spawn(): unknown input kind \`${kind}\`; use \`policy\`, \`resolved\` or \`plan\``,
    )
  }
  if ('ops' in input && Array.isArray(input.ops)) return { kind: 'plan', plan: input }
  if ('sources' in input && Array.isArray(input.sources)) return { kind: 'resolved', policy: input }
  return { kind: 'policy', policy: input as Policy }
}

/** What only this call knows, beside the compile context: how it wants its cgroup, and the
 * argv and variables that travel in the plan. */
export interface RunCall {
  /** The command line, when it must travel in the plan (bytes that are not UTF-8). */
  argv?: readonly string[]
  /** The environment `env.pass` reads (undefined: process.env, whose non-UTF-8 values are
   * read again as bytes). */
  hostEnv?: NodeJS.ProcessEnv
  /** Variables the caller sets, over the policy's own. */
  env?: Readonly<Record<string, string | undefined>>
  /** A cgroup even without limits (to freeze), and which hierarchy. */
  cgroup: boolean
  cgroupVersion?: 1 | 2
}

/** A run made ready: its complete plan and what was made on the host for it. */
export interface Prepared {
  plan: Plan
  limits: ResolvedPolicy['limits']
  cgroup: Cgroup | undefined
  access: CgroupAccess | undefined
  privateTmp?: PrivateTmp
  /** Removes what was made for the run (its cgroup, its private tmp). */
  remove(): void
}

/** Resolves, decides the run's host facts, and compiles; on failure removes what it made. */
export function prepareRun(input: SandboxInput, ctx: CompileContext, call: RunCall): Prepared {
  if (input.kind === 'plan') {
    const { cgroup, access } = makeCgroup({}, call.cgroup, false, call.cgroupVersion)
    const passed = input.plan.ops.flatMap((op) => (op.op === 'env_pass' ? [op.name] : []))
    const plan = bindPlan(input.plan, cgroup?.joinPaths ?? [], call.argv, extraEnv(passed, call))
    return { plan, limits: {}, cgroup, access, remove: () => cgroup?.remove() }
  }
  const resolved =
    input.kind === 'resolved'
      ? input.policy
      : resolvePolicy({ policy: validatePolicy(input.policy), baseDir: ctx.cwd, label: 'policy' }, ctx.cwd)
  const tmp =
    !resolved.namespaces.mount && resolved.filesystem.some((e) => e.kind === 'tmpfs')
      ? makePrivateTmp()
      : undefined
  let made: ReturnType<typeof makeCgroup> = { cgroup: undefined }
  try {
    made = makeCgroup(resolved.limits, call.cgroup, resolved.requireLimits, call.cgroupVersion)
    const plan = compilePlan(resolved, {
      ...ctx,
      ...(tmp ? { privateTmp: tmp.path } : {}),
      ...(made.cgroup ? { cgroups: made.cgroup.joinPaths } : {}),
      ...(call.argv ? { command: call.argv } : {}),
      env: extraEnv(resolved.env.pass, call),
    })
    refuseGaps(resolved, ctx.uid)
    const ids = plan.ops.find((o) => o.op === 'ids')
    if (tmp && ids?.op === 'ids') tmp.handOver(ids.uid, ids.gid)
    const { cgroup, access } = made
    return {
      plan,
      limits: resolved.limits,
      cgroup,
      access,
      ...(tmp ? { privateTmp: tmp } : {}),
      remove: () => {
        cgroup?.remove()
        tmp?.remove()
      },
    }
  } catch (e) {
    made.cgroup?.remove()
    tmp?.remove()
    throw e
  }
}

let landlockAbi: number | undefined
/** A statement can go unenforced only where a namespace is off (the mount view backs every
 * filesystem statement): only then is the kernel asked for its Landlock ABI, once per process. */
function refuseGaps(policy: ResolvedPolicy, uid: number): void {
  const ns = policy.namespaces
  if (ns.mount && ns.pid && ns.net) return
  landlockAbi ??= probeKernel().landlock.abi
  // Limits never refuse a run here (makeCgroup and limits.require do): any cgroup answer will do.
  refuseUnenforced(
    policy,
    statementStatus(policy, landlockAbi, undefined, { uid, cgroup: { ok: true, why: '' } }),
  )
}

/** The variables set after the policy's own: for variables the policy passes whose value in
 * the host environment is not UTF-8, their exact value; then the variables the caller sets,
 * last, so that they win. */
function extraEnv(passed: readonly string[], call: RunCall): [string, string][] {
  const out: [string, string][] = []
  if (call.hostEnv === undefined)
    for (const name of passed) {
      const value = rawEnvValue(name)
      if (value !== undefined) out.push([name, value])
    }
  for (const [name, value] of Object.entries(call.env ?? {})) if (value !== undefined) out.push([name, value])
  return out
}

/** A plan compiled elsewhere, bound to this run: its cgroup joins after the namespaces op (as
 * compilePlan places them), its variables after the plan's last env or argv op (the launcher
 * takes a later variable over an earlier one), and its command line, when given, in place of
 * the plan's. */
function bindPlan(
  plan: Plan,
  cgroups: readonly string[],
  argv: readonly string[] | undefined,
  env: readonly [string, string][],
): Plan {
  if (!cgroups.length && !argv && !env.length) return plan
  const ops = argv ? plan.ops.filter((op) => op.op !== 'exec_arg') : [...plan.ops]
  let at = ops.findLastIndex((op) => op.op === 'env_set' || op.op === 'env_pass' || op.op === 'exec_arg')
  if (at < 0) at = ops.findIndex((op) => op.op === 'die_with_parent')
  ops.splice(
    at + 1,
    0,
    ...env.map(([name, value]): PlanOp => ({ op: 'env_set', name, value })),
    ...(argv ?? []).map((arg): PlanOp => ({ op: 'exec_arg', arg })),
  )
  ops.splice(1, 0, ...cgroups.map((path): PlanOp => ({ op: 'cgroup', path })))
  return { ...plan, ops }
}

/** The options spawn() and run() take that a caller can get wrong, checked before anything
 * starts, each message naming the option and the fix. */
export function checkOptions(o: { env?: unknown; cwd?: unknown; timeout?: unknown; signal?: unknown }): void {
  const bad = (message: string) => new CordonError('invalid_usage', `spawn(): ${message}`)
  if (o.env !== undefined) {
    if (typeof o.env !== 'object' || o.env === null || Array.isArray(o.env))
      throw bad('expected `env` to be an object of variable names and string values')
    for (const [name, value] of Object.entries(o.env)) {
      if (!name || name.includes('=') || name.includes('\0'))
        throw bad(`\`env\` has the name \`${name}\`; a variable's name is not empty and has no \`=\` or NUL`)
      if (value !== undefined && (typeof value !== 'string' || value.includes('\0')))
        throw bad(`expected \`env.${name}\` to be a string without NUL, got ${typeof value}`)
    }
  }
  if (o.cwd !== undefined) {
    if (typeof o.cwd !== 'string' || !o.cwd) throw bad('expected `cwd` to be a directory path')
    let dir = false
    try {
      dir = statSync(o.cwd).isDirectory()
    } catch {}
    if (!dir) throw bad(`\`cwd\` ${o.cwd} is not a directory; create it or pass another`)
  }
  if (
    o.timeout !== undefined &&
    !(typeof o.timeout === 'number' && o.timeout > 0 && Number.isFinite(o.timeout))
  )
    throw bad(`expected \`timeout\` to be a positive number of milliseconds, got \`${String(o.timeout)}\``)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw bad('expected `signal` to be an AbortSignal (from an AbortController)')
}
