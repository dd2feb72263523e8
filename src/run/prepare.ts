// From spawn()'s input to the plan the launcher runs: compile (or take) the plan, refuse what
// no layer would enforce, and add what only this call knows (its argv, its variables).
import { statSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { type CompileContext, compilePlan } from '../plan/compile.js'
import type { Plan, PlanOp } from '../plan/model.js'
import { rawEnvValue } from '../host/path-bytes.js'
import { validatePolicy } from '../policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../policy/resolve.js'
import type { Policy } from '../policy/schema.js'
import { makePrivateTmp, type PrivateTmp } from './private-tmp.js'
import { refuseUnenforced, statementStatus } from '../status/statements.js'
import { probeKernel } from '../host/probe.js'

/** What spawn() accepts as a policy: a Policy object, or an already resolved one, or a compiled Plan. */
export type PolicyInput = Policy | ResolvedPolicy | Plan

export interface Compiled {
  plan: Plan
  limits: ResolvedPolicy['limits']
  requireLimits: boolean
  privateTmp?: PrivateTmp
}

export function toPlan(input: PolicyInput, ctx: CompileContext): Compiled {
  if ('ops' in input && Array.isArray(input.ops)) return { plan: input, limits: {}, requireLimits: false }
  const resolved =
    'sources' in input && Array.isArray(input.sources)
      ? input
      : resolvePolicy({ policy: validatePolicy(input), baseDir: ctx.cwd, label: 'policy' }, ctx.cwd)
  const tmp =
    !resolved.namespaces.mount && resolved.filesystem.some((e) => e.kind === 'tmpfs')
      ? makePrivateTmp()
      : undefined
  try {
    const plan = compilePlan(resolved, tmp ? { ...ctx, privateTmp: tmp.path } : ctx)
    refuseGaps(resolved, ctx.uid)
    const ids = plan.ops.find((o) => o.op === 'ids')
    if (tmp && ids?.op === 'ids') tmp.handOver(ids.uid, ids.gid)
    return {
      plan,
      limits: resolved.limits,
      requireLimits: resolved.requireLimits,
      ...(tmp ? { privateTmp: tmp } : {}),
    }
  } catch (e) {
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

/** The plan with the command line as exec_arg ops (when argv is given); for variables the
 * policy passes whose value in the host environment is not UTF-8, their exact value; and the
 * variables the caller sets. */
export function carryRawBytes(
  plan: Plan,
  argv: readonly string[] | undefined,
  hostEnv: NodeJS.ProcessEnv | undefined,
  env: Readonly<Record<string, string | undefined>> = {},
): Plan {
  const raw: PlanOp[] = []
  if (hostEnv === undefined)
    for (const op of plan.ops)
      if (op.op === 'env_pass') {
        const value = rawEnvValue(op.name)
        if (value !== undefined) raw.push({ op: 'env_set', name: op.name, value })
      }
  // The caller's `env` comes last, so it wins over the policy's variables.
  for (const [name, value] of Object.entries(env))
    if (value !== undefined) raw.push({ op: 'env_set', name, value })
  if (!argv && !raw.length) return plan
  const ops = argv ? plan.ops.filter((op) => op.op !== 'exec_arg') : [...plan.ops]
  // After the last env or argv op: the launcher takes a later variable over an earlier one.
  let at = ops.findLastIndex((op) => op.op === 'env_set' || op.op === 'env_pass' || op.op === 'exec_arg')
  if (at < 0) at = ops.findIndex((op) => op.op === 'die_with_parent')
  ops.splice(at + 1, 0, ...raw, ...(argv ?? []).map((arg): PlanOp => ({ op: 'exec_arg', arg })))
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
