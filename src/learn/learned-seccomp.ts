// The learned policy's `seccomp:` section. The base's own rules come first, as the base has
// them, so that every call the base refuses is refused the same way (its errno, its kill), and
// what the base leaves to its default keeps that default when it refuses. On top, an allowlist
// of what the run used: a call the base lets through and the run never made is refused EPERM.
// Where the base decides a call by its arguments, the learned rules keep the base's outcome for
// the arguments it refuses and narrow only the ones it lets through.
import type { ResolvedPolicy } from '../policy/resolve.js'
import { leafFor } from '../seccomp/compile.js'
import type { Leaf } from '../seccomp/leaf.js'
import {
  type Action,
  type ArgCondition,
  actionKey,
  EPERM,
  passesThrough,
  type SeccompSpec,
} from '../seccomp/model.js'
import { NEVER_NOTIFIED, SPAWN_SYSCALLS } from '../seccomp/notify.js'
import { errnoName, GUARD_ORIGINS } from '../seccomp/resolve.js'
import { syscallTable } from '../seccomp/tables.js'
import { NARROW_ON, type Observation } from './observation.js'
import { attackSurface } from './surface.js'
import { flow, yamlScalar as q, type YamlWriter } from './yaml-writer.js'

export interface SeccompBase {
  /** The base policy's seccomp layers, parents first: their rules are carried as written. */
  layers: ResolvedPolicy['seccomp']
  /** The same, resolved: what the base does with each call. */
  spec: SeccompSpec
  /** Name of the base's seccomp profile (default, strict, none). */
  profile: string
}

/** An action as a policy writes it: errno(ENOSYS), kill-process, trace(7). */
export function actionText(a: Action): string {
  if (a.kind === 'errno' || a.kind === 'deny-log') return `${a.kind}(${errnoName(a.errno)})`
  return actionKey(a)
}

const EPERM_ACTION: Action = { kind: 'errno', errno: EPERM }
const ALLOW: Action = { kind: 'allow' }

/** What learning decides for a call the base lets through: allowed (for the values seen), or
 * refused because the run never made it. */
type Learned = { allow: false } | { allow: true; only?: ArgCondition }

interface Piece {
  args: ArgCondition[]
  action: Action
}

/** Rules (the last matching wins) giving `leaf`'s own outcome where it refuses, and `learned`'s
 * where it lets the call through: the base's argument checks, each split by learning's. */
export function exactRules(leaf: Leaf, learned: Learned): Piece[] {
  const decide = (args: ArgCondition[], base: Action): Piece[] => {
    if (!passesThrough(base)) return [{ args, action: base }]
    if (!learned.allow) return [{ args, action: EPERM_ACTION }]
    if (!learned.only) return [{ args, action: ALLOW }]
    return [
      { args, action: EPERM_ACTION },
      { args: [...args, learned.only], action: ALLOW },
    ]
  }
  // leaf.checks[0] wins over the others: it is written last.
  const pieces = [
    ...decide([], leaf.fallback),
    ...[...leaf.checks].reverse().flatMap((c) => decide(c.args, c.action)),
  ]
  // Every piece the same as the first: one rule says it.
  const first = actionKey(pieces[0]!.action)
  return pieces.every((p) => actionKey(p.action) === first)
    ? [{ args: [], action: pieces[0]!.action }]
    : pieces
}

const argText = (c: ArgCondition) =>
  flow({
    index: c.index,
    op: c.op,
    ...(c.op === 'in'
      ? { values: (c.values ?? []).map((v) => `0x${v.toString(16)}`) }
      : { value: `0x${c.value.toString(16)}` }),
    ...(c.mask !== undefined ? { mask: `0x${c.mask.toString(16)}` } : {}),
    width: c.width,
  })

/** The base's outcome for a call, without the guards every filter ends with (resolve.ts
 * GUARD_ORIGINS): the learned policy gets them again when it is resolved. */
function baseLeaf(spec: SeccompSpec, name: string): Leaf {
  return leafFor({ ...spec, rules: spec.rules.filter((r) => !GUARD_ORIGINS.includes(r.origin)) }, name)
}

/** The base's outcome depends on the arguments, one way or the other. */
const mixed = (leaf: Leaf) =>
  leaf.checks.some((c) => passesThrough(c.action) !== passesThrough(leaf.fallback))

/** ioctls a program makes or not depending on what its standard streams are (a terminal, a
 * pipe, a file), not on what it does: Node sets a pipe non-blocking (FIONBIO), a terminal is
 * asked its settings and size. A policy learned with the output in a file refused them when it
 * was piped (`| cat`, and always under runc, whose stdio is pipes): allowed although unseen.
 * Each acts on the caller's own descriptor: TCGETS, TIOCGPGRP, TIOCGWINSZ, FIONREAD, FIONBIO,
 * FIONCLEX, FIOCLEX. */
const STDIO_IOCTLS = ['0x5401', '0x540f', '0x5413', '0x541b', '0x5421', '0x5450', '0x5451']

/** The run's calls with the stdio ioctls added to what ioctl is narrowed to. */
function withStdioIoctls(calls: Observation['syscalls']): Observation['syscalls'] {
  const io = calls.ioctl
  if (io?.refused !== undefined || io?.tracerRefused !== undefined) return calls
  const seen = io?.values?.[1] ?? []
  return {
    ...calls,
    ioctl: {
      ...io,
      count: io?.count ?? 0,
      values: { ...io?.values, 1: [...new Set([...seen, ...STDIO_IOCTLS])] },
    },
  }
}

export function writeSeccomp(y: YamlWriter, learned: Observation, base: SeccompBase): void {
  const obs = { ...learned, syscalls: withStdioIoctls(learned.syscalls) }
  y.line('seccomp:')
  y.line(`  profile: ${base.profile}`)
  const baseDefault = base.spec.defaultAction
  if (passesThrough(baseDefault)) y.line('  default: errno(EPERM)', 'anything not seen while learning')
  else y.line(`  default: ${actionText(baseDefault)}`, "the base's default: what it refuses stays refused so")

  const allowed: [string, number][] = []
  const narrowed: [string, ArgCondition, string[], number][] = []
  const exact: [string, Piece[], string][] = []
  const refused: string[] = []
  const byTracer: string[] = []
  for (const [name, use] of Object.entries(obs.syscalls).sort(([a], [b]) => a.localeCompare(b))) {
    if (name.startsWith('#') || name === 'other') continue
    const leaf = baseLeaf(base.spec, name)
    if (use.tracerRefused !== undefined)
      byTracer.push(`${TRACER_REFUSALS[name] ?? name} (${errnoName(use.tracerRefused)})`)
    if (use.refused !== undefined || use.tracerRefused !== undefined || leaf.fallback.kind !== 'allow') {
      if (use.refused !== undefined) refused.push(`${name} (${errnoName(use.refused)})`)
      continue // the base decides, as it did while learning: its rules are carried
    }
    const index = NARROW_ON[name]
    const values = index !== undefined ? use.values?.[index] : undefined
    const only: ArgCondition | undefined = values?.length
      ? { index: index!, op: 'in', value: 0n, values: values.map((v) => BigInt(v)), width: 32 }
      : undefined
    if (mixed(leaf))
      exact.push([
        name,
        exactRules(leaf, { allow: true, ...(only ? { only } : {}) }),
        plural(use.count, 'call'),
      ])
    else if (only) narrowed.push([name, only, values!, use.count])
    else allowed.push([name, use.count])
  }
  if (refused.length)
    y.comment(`  refused by the base policy while learning, still refused: ${refused.join(', ')}`)
  if (byTracer.length)
    y.comment(
      `  refused by learn's tracer, not by the base policy (a traced process may not leave the tracer; enforced, the base policy decides): ${byTracer.join(', ')}`,
    )
  y.line('  rules:')
  writeBaseRules(y, base.layers)

  const implied = impliedBy(obs)
  const impliedAllowed: [string, string][] = []
  for (const name of implied) {
    const leaf = baseLeaf(base.spec, name)
    if (obs.syscalls[name] || leaf.fallback.kind !== 'allow' || !(name in syscallTable(obs.arch))) continue
    const why = SCHEDULING.includes(name)
      ? 'not seen, but made or not depending on scheduling and signals'
      : CLOCKS.includes(name)
        ? 'not seen: the vDSO answers it natively, a real call under gVisor'
        : CHILD_RACES.includes(name)
          ? 'not seen, but made or not depending on whether a child is still alive'
          : 'never stopped while learning (it may not be interrupted), so allowed as the base does'
    if (mixed(leaf)) exact.push([name, exactRules(leaf, { allow: true }), why])
    else impliedAllowed.push([name, why])
  }
  if (allowed.length || impliedAllowed.length) {
    y.line('    - action: allow')
    y.line('      syscalls:')
    for (const [name, count] of allowed) y.line(`        - ${name}`, plural(count, 'call'))
    for (const [name, why] of impliedAllowed) y.line(`        - ${name}`, why)
  }
  for (const [name, only, values, count] of narrowed) {
    y.line('    - action: allow', `${name}: only the values seen (${plural(count, 'call')})`)
    y.line(`      syscalls: [${name}]`)
    y.line(
      `      args: [{ index: ${only.index}, op: in, width: 32, values: [${values.map((v) => q(v)).join(', ')}] }]`,
    )
  }

  // What the base lets through (explicitly, or for some argument values) and the run never
  // used is refused too: the allowlist is what was seen, whatever the base policy allows.
  const seen = new Set([...Object.keys(obs.syscalls), ...implied])
  const strictBase = { ...base.spec, defaultAction: EPERM_ACTION }
  const unseen: string[] = []
  for (const name of attackSurface(strictBase, obs.arch).reachable.filter((n) => !seen.has(n))) {
    const pieces = exactRules(baseLeaf(base.spec, name), { allow: false })
    if (pieces.length === 1 && actionKey(pieces[0]!.action) === actionKey(EPERM_ACTION)) unseen.push(name)
    else exact.push([name, pieces, 'never used while learning: refused where the base lets it through'])
  }
  if (unseen.length) {
    y.line(
      '    - action: errno(EPERM)',
      'the base policy allows these (for some arguments); the run never used them',
    )
    y.line(`      syscalls: [${unseen.join(', ')}]`)
  }
  for (const [name, pieces, why] of exact) {
    y.comment(`    ${name}: the base decides it by its arguments; ${why}`)
    for (const p of pieces) writeRule(y, [name], actionText(p.action), p.args.map(argText))
  }
}

function writeRule(y: YamlWriter, syscalls: string[], action: string, args: string[], comment?: string) {
  y.line(`    - action: ${q(action)}`, comment)
  y.line(`      syscalls: [${syscalls.map(q).join(', ')}]`)
  if (args.length) y.line(`      args: [${args.join(', ')}]`)
}

/** The base's own rules, in its order: with the profile before them they give every call the
 * base's outcome, which the learned rules after them narrow. */
function writeBaseRules(y: YamlWriter, layers: ResolvedPolicy['seccomp']): void {
  for (const layer of layers) {
    if (!layer.rules?.length) continue
    y.comment(`    the base policy's own rules (${layer.origin}), as it has them`)
    for (const r of layer.rules)
      writeRule(
        y,
        r.syscalls,
        r.action,
        (r.args ?? []).map((a) => flow(a)),
      )
  }
}

/** How the tracer's own refusals (learn/trace.ts refusedByTracer) are named in the policy. */
const TRACER_REFUSALS: Readonly<Record<string, string>> = {
  clone: 'clone with CLONE_UNTRACED',
  clone3: 'clone3, whose flags the filter cannot read (libc falls back to clone)',
}

/** Calls a run makes or not depending on timing, not on what it does: a yield under lock
 * contention, a sleep interrupted by a signal, a signal handler's return, a sleep while work is
 * still queued (Python's Pool sleeps at its close only then: helper-113). Allowed although
 * unseen, so a learned policy does not fail on a busier machine; none reaches anything new. */
const SCHEDULING = ['sched_yield', 'restart_syscall', 'rt_sigreturn', 'nanosleep', 'clock_nanosleep']

/** Reading the clock: the vDSO answers it in the process natively, so learning sees it rarely
 * or never, and gVisor (or a host booted with vdso=0) makes each a real call. A learned policy
 * refused them there: Node aborted, Python's time.time() raised, make said "Current time:
 * Timestamp out of range" (helper-123). */
const CLOCKS = ['clock_gettime', 'gettimeofday', 'time', 'clock_getres']

/** Calls a program that reaps children makes or not depending on whether one is still alive:
 * Python's Pool signals the workers that have not exited yet. Allowed although unseen when
 * the run reaped a child (wait4 or waitid seen), as the base allows them: whether one
 * learning run happened to make them is chance, not what the program does. */
const CHILD_RACES = ['kill', 'wait4', 'waitid']

/** Calls learning never stops (seccomp/notify.ts NEVER_NOTIFIED: process creation, a signal
 * handler's return, exit), so it cannot tell which of them the run made: the learned policy
 * decides them as the base does, the process-creating ones unless the runs were counted to
 * create no process or thread at all (`spawns`; absent when nothing could count them). */
function impliedBy(obs: Observation): string[] {
  const spawned = obs.spawns === undefined || obs.spawns.count > 0
  const reaped = CHILD_RACES.some((n) => n !== 'kill' && obs.syscalls[n])
  return [
    ...new Set([
      ...SCHEDULING,
      ...CLOCKS,
      ...(reaped ? CHILD_RACES : []),
      ...NEVER_NOTIFIED.filter((n) => spawned || !SPAWN_SYSCALLS.includes(n)),
    ]),
  ]
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
