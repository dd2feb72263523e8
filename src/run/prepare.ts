// From spawn()'s input to the plan the launcher runs, one way: resolve the policy, decide
// every fact of this run (its private tmp, its cgroup, its argv and variables), then compile.
// The compiler places the run's facts (plan/compile.ts bindRun): into the policy's plan when
// it was compiled for an earlier run with the same host answers (compileOnce), or into a plan
// compiled elsewhere (the `plan` input); nothing else edits a plan after the compiler.
import { statSync } from 'node:fs'
import { types } from 'node:util'
import type { Cgroup } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import { CordonError } from '../errors.js'
import { bindRun, type CompileContext, compilePlan, type RunFacts } from '../plan/compile.js'
import type { Plan } from '../plan/model.js'
import { fsPath, rawEnvValue } from '../host/path-bytes.js'
import { validatePolicy } from '../policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../policy/resolve.js'
import type { Policy } from '../policy/schema.js'
import { makePrivateTmp, type PrivateTmp } from './private-tmp.js'
import { makeCgroup } from './sandbox-cgroup.js'
import { ownStateLayout } from './state-dir.js'
import { refuseUnenforced, statementStatus } from '../status/statements.js'
import { probeKernel } from '../host/probe.js'
import { type HostRead, recordHostReads, sameHostReads, uniqueReads } from '../host/reads.js'
import { encodePlan } from '../plan/encode.js'
import { unknownSyscallHint } from '../seccomp/arch.js'

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
      `spawn() and run(): expected a policy object, a resolved policy or a compiled plan, got ${input === null ? 'null' : typeof input}` +
        // A profile's name is the likeliest string: the object that names it is one step away.
        (typeof input === 'string'
          ? `; for a built-in profile pass \`{ extends: [${JSON.stringify(input)}] }\`, for a policy file \`loadPolicyFile(path)\``
          : ''),
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
  /** The policy the plan was compiled from (not for a plan given as such), and the directory
   * the run was started from: what explains a command not found (run/not-found.ts). */
  policy?: ResolvedPolicy
  cwd?: string
  limits: ResolvedPolicy['limits']
  cgroup: Cgroup | undefined
  access: CgroupAccess | undefined
  privateTmp?: PrivateTmp
  /** Whether the plan is what a compile would give now: a plan reused from an earlier compile
   * makes its host reads again here (the first call; later calls give the same answer), so that
   * spawn() can prove it while the launcher sets up (its go byte). False forgets the plan: the
   * next prepareRun compiles afresh. */
  current: () => boolean
  /** Removes what was made for the run (its cgroup, its private tmp). */
  remove(): void
  /** Removes the cgroups of cordon runs that died without removing theirs: once the sandbox
   * has its go (run/start.ts), not before its start. */
  sweep?: (() => void) | undefined
}

/** Resolves, decides the run's host facts, and compiles; on failure removes what it made. */
export function prepareRun(input: SandboxInput, ctx: CompileContext, call: RunCall): Prepared {
  if (input.kind === 'plan') {
    // A caller's plan, checked whole by the encoder; its shape here, before anything reads it.
    const ops: unknown = (input.plan as Partial<Plan> | null)?.ops
    if (!Array.isArray(ops) || ops.some((op) => typeof op !== 'object' || op === null))
      throw new CordonError(
        'invalid_usage',
        'spawn(): a compiled plan is an object with an `ops` array of op objects; pass one compilePlan() returned',
      )
    const { cgroup, access, sweep } = makeCgroup({}, call.cgroup, false, call.cgroupVersion)
    const passed = input.plan.ops.flatMap((op) => (op.op === 'env_pass' ? [op.name] : []))
    const plan = bindRun(input.plan, {
      ...(cgroup ? { cgroups: cgroup.joinPaths } : {}),
      ...(call.argv ? { command: call.argv } : {}),
      env: extraEnv(passed, call),
    })
    return { plan, limits: {}, cgroup, access, current: () => true, remove: () => cgroup?.remove(), sweep }
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
    const facts: RunFacts = {
      ...(made.cgroup ? { cgroups: made.cgroup.joinPaths } : {}),
      ...(call.argv ? { command: call.argv } : {}),
      env: extraEnv(resolved.env.pass, call),
    }
    // A private /tmp is this run's own: compiled each time. Otherwise the policy's plan may be
    // an earlier compile's (reusablePlan), bound to this run as compilePlan would bind it.
    const found = tmp ? undefined : reusablePlan(resolved, ctx)
    const plan = found
      ? bindRun(found.plan, facts)
      : compilePlan(resolved, { ...ctx, ...facts, privateTmp: tmp!.path })
    refuseGaps(resolved, ctx.uid)
    const ids = plan.ops.find((o) => o.op === 'ids')
    if (tmp && ids?.op === 'ids') tmp.handOver(ids.uid, ids.gid)
    const { cgroup, access, sweep } = made
    return {
      sweep,
      plan,
      policy: resolved,
      cwd: ctx.cwd,
      limits: resolved.limits,
      cgroup,
      access,
      ...(tmp ? { privateTmp: tmp } : {}),
      current: () => found?.current() ?? true,
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
export function compileOnce(policy: ResolvedPolicy, ctx: CompileContext): Plan {
  const found = reusablePlan(policy, ctx)
  return found.current() ? found.plan : reusablePlan(policy, ctx).plan // the stale one is gone
}

/** A plan for policy and ctx, and whether it is current (a fresh compile always is). */
export interface PlanCandidate {
  plan: Plan
  current: () => boolean
}

let oneRun = false
/** This process runs one sandbox (`cordon run`): its plan is compiled for it alone, with no host
 * reads recorded and nothing frozen or kept for a reuse that cannot come (~1.5 ms of a run). */
export function compileForOneRun(): void {
  oneRun = true
}

/** compileOnce in two halves: the plan an earlier compile made for the same key, unproven, and
 * the proof (its host reads made again), which spawn() runs while the launcher sets the sandbox
 * up and nothing of the command can run. A stale plan is forgotten by its proof. */
export function reusablePlan(policy: ResolvedPolicy, ctx: CompileContext): PlanCandidate {
  // Injected host views and filter rewrites are the caller's objects, and a private /tmp is this
  // run's own: compiled each time. Everything else of the context is part of the key.
  const { fs, trace, idRanges, privateTmp, ...rest } = ctx
  if (oneRun || fs || trace || idRanges !== undefined || privateTmp || !plainData([policy, rest]))
    return { plan: compilePlan(policy, ctx), current: () => true }
  // The state directory a compile hides (plan/state-mask.ts) follows XDG_RUNTIME_DIR.
  const key = JSON.stringify([policy, rest, ownStateLayout().create[0]])
  const hit = compiled.get(key)
  if (hit) {
    compiled.delete(key)
    compiled.set(key, hit) // most recently used last
    let answer: boolean | undefined
    return {
      plan: hit.plan,
      current: () => {
        answer ??= sameHostReads(hit.reads)
        if (!answer && compiled.get(key) === hit) compiled.delete(key)
        return answer
      },
    }
  }
  return { plan: compileAndKeep(key, policy, ctx), current: () => true }
}

function compileAndKeep(key: string, policy: ResolvedPolicy, ctx: CompileContext): Plan {
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

/** The options spawn() and run() take that a caller can get wrong, checked before anything
 * starts, each message naming the option and the fix. */
export function checkOptions(o: {
  env?: unknown
  cwd?: unknown
  timeout?: unknown
  signal?: unknown
  stdio?: unknown
  watch?: unknown
}): void {
  const bad = (message: string) => new CordonError('invalid_usage', `spawn(): ${message}`)
  checkStdio(o.stdio, bad)
  checkWatch(o.watch, bad)
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
      dir = statSync(fsPath(o.cwd)).isDirectory() // escaped bytes as the bytes (path-bytes.ts)
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

const STDIO_WORDS = ['inherit', 'pipe', 'ignore']

/** stdio as spawn() passes it on: a word for all three fds, or an array for fds 0-2. Past fd 2 a
 * sandbox gets nothing (fd 3 is the launcher's channel, and the launcher closes every other fd
 * before the command runs): an entry there was dropped without a word, and the command found
 * the fd closed. */
function checkStdio(stdio: unknown, bad: (message: string) => CordonError): void {
  if (stdio === undefined) return
  if (typeof stdio === 'string') {
    if (STDIO_WORDS.includes(stdio)) return
    throw bad(`\`stdio\` is \`${stdio}\`; use 'inherit', 'pipe', 'ignore' or an array for fds 0, 1 and 2`)
  }
  if (!Array.isArray(stdio))
    throw bad("expected `stdio` to be 'inherit', 'pipe', 'ignore' or an array for fds 0, 1 and 2")
  for (let fd = 3; fd < stdio.length; fd++) {
    const entry: unknown = stdio[fd]
    if (entry === undefined || entry === null || entry === 'ignore') continue
    throw bad(
      `\`stdio[${fd}]\` is ${typeof entry === 'string' || typeof entry === 'number' ? `\`${entry}\`` : 'set'}; ` +
        'a sandbox gets fds 0, 1 and 2 only (the launcher holds fd 3 and closes the rest before the ' +
        'command runs): pass data on stdin or stdout, or through a file the policy shows',
    )
  }
}

/** `watch` names syscalls (`!NAME`: reported only when refused): a name this machine's tables
 * do not know (a typo) would never be reported, and a rule waiting for it would never fire. The
 * tables load only when it is given. */
function checkWatch(watch: unknown, bad: (message: string) => CordonError): void {
  if (watch === undefined) return
  if (!Array.isArray(watch) || !watch.every((n) => typeof n === 'string'))
    throw bad('expected `watch` to be an array of syscall names, e.g. ["openat", "connect"]')
  for (const name of watch) {
    const hint = unknownSyscallHint(name.startsWith('!') ? name.slice(1) : name)
    if (hint !== undefined) throw bad(`\`watch\` names \`${name}\`, which is not a syscall${hint}`)
  }
}
