// From spawn()'s input to the plan the launcher runs: compile (or take) the plan, refuse what
// no layer would enforce, and add what only this call knows (its argv, its variables).
import { statSync } from 'node:fs'
import { types } from 'node:util'
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
import { type HostRead, recordHostReads, sameHostReads } from '../host/reads.js'
import { encodePlan } from '../plan/encode.js'

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
    const plan = tmp ? compilePlan(resolved, { ...ctx, privateTmp: tmp.path }) : compileOnce(resolved, ctx)
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

/** Plans compiled by earlier spawns, by the policy's and the context's content (not identity: a
 * caller may change a policy object between spawns), each with the host reads it depended on. */
interface CachedPlan {
  plan: Plan
  reads: HostRead[]
  bytes?: Uint8Array
}
const compiled = new Map<string, CachedPlan>()
const CACHED_PLANS = 16
/** The encoded bytes of plans from the cache (frozen, so they stay what was encoded). */
const encoded = new WeakMap<Plan, CachedPlan>()

/** Whether JSON.stringify renders v exactly as the compiler reads it, so that equal keys mean
 * equal input: strings, finite numbers (not -0), booleans, null, and arrays (no holes) and plain
 * objects of those, each field an own enumerable value. Anything else (an accessor or a Proxy,
 * which may answer the key one thing and the compile another; a toJSON; a field inherited from
 * a prototype, or not enumerable, which the key would leave out; undefined, bigint, NaN) is
 * compiled afresh: otherwise its plan could be filed under another policy's key, for the next
 * caller of that policy to run. */
function plainData(v: unknown, depth = 0): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0)
  if (typeof v !== 'object' || depth > 64 || types.isProxy(v)) return false
  const array = Array.isArray(v)
  const proto: unknown = Object.getPrototypeOf(v)
  if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false
  const fields = Object.getOwnPropertyDescriptors(v)
  const names = Reflect.ownKeys(fields)
  if (array && names.length !== (v as unknown[]).length + 1) return false // holes, extra fields
  for (const name of names) {
    if (array && name === 'length') continue
    const field = fields[name as string]!
    if (typeof name === 'symbol' || name === 'toJSON' || !field.enumerable || !('value' in field))
      return false
    if (!plainData(field.value, depth + 1)) return false
  }
  return true
}

/** compilePlan, or the plan an earlier call compiled from the same policy and context while every
 * host read that compile made (paths of the view, bind sources, mounts, id ranges) still answers
 * the same: compilePlan is a function of those, so the plan is what a compile would give now.
 * In a loop of spawns it was the largest share of spawn()'s own time, and its garbage made every
 * later fork of this process slower (each page written after a fork faults once). */
function compileOnce(policy: ResolvedPolicy, ctx: CompileContext): Plan {
  // Injected host views and filter rewrites are the caller's objects, and a private /tmp is this
  // run's own: compiled each time. Everything else of the context is part of the key.
  const { fs, trace, idRanges, privateTmp, ...rest } = ctx
  if (fs || trace || idRanges !== undefined || privateTmp || !plainData([policy, rest]))
    return compilePlan(policy, ctx)
  const key = JSON.stringify([policy, rest])
  const hit = compiled.get(key)
  compiled.delete(key)
  if (hit && sameHostReads(hit.reads)) {
    compiled.set(key, hit) // most recently used last
    return hit.plan
  }
  const { value: plan, reads } = recordHostReads(() => compilePlan(policy, ctx))
  const entry: CachedPlan = { plan: deepFreeze(plan), reads: uniqueReads(reads) }
  compiled.set(key, entry)
  encoded.set(plan, entry)
  if (compiled.size > CACHED_PLANS) compiled.delete(compiled.keys().next().value!)
  return plan
}

/** The plan's bytes; encoded once for a plan from the cache. */
export function planBytes(plan: Plan): Uint8Array {
  const entry = encoded.get(plan)
  if (!entry) return encodePlan(plan)
  return (entry.bytes ??= encodePlan(plan))
}

/** A read made twice with one answer is checked once (the view and Landlock both ask for /proc's
 * entries); two different answers both stay, so the plan is never reused. */
function uniqueReads(reads: readonly HostRead[]): HostRead[] {
  const seen = new Set<string>()
  return reads.filter((r) => {
    const id = `${r.op}\0${r.path}\0${r.answer}`
    return seen.has(id) ? false : (seen.add(id), true)
  })
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
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
