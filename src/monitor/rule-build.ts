// One rule of a cordon rules file, checked and built (rules.ts calls buildRule for each, in
// order, collecting the problems).
import { dirname } from 'node:path'
import { suggest } from '../errors.js'
import { callerResolve } from '../host/path-bytes.js'
import { unknownSyscallHint } from '../seccomp/arch.js'
import { type Expr, valuesOf } from './expr.js'
import { learnedRate } from './learned-baseline.js'
import {
  asObject,
  collect,
  condition,
  didYouMean,
  duration,
  fail,
  type Parsed,
  parseRate,
  parseThrottle,
  type Raw,
} from './rule-check.js'
import {
  ACTIONS,
  type Baseline,
  DEFAULT_THROTTLE,
  PRIORITIES,
  type Priority,
  type Rule,
  type RuleAction,
} from './rule-model.js'

const RULE_KEYS = [
  'rule',
  'description',
  'when',
  'rate',
  'baseline',
  'then',
  'priority',
  'output',
  'cooldown',
  'throttle',
  'enabled',
  'tags',
]

const BASELINE_KEYS = ['learn', 'from', 'window', 'factor', 'min']

function unknownKey(source: string, where: string, key: string): never {
  const hint = suggest(key, RULE_KEYS)
  fail(
    source,
    where,
    `unknown key${hint ? `; did you mean \`${hint}\`?` : ''} (keys: ${RULE_KEYS.join(', ')})`,
  )
}

export function buildRule(raw: Raw, where: string, source: string, p: Parsed): Rule | undefined {
  checkKeys(raw, where, source, p)
  if (typeof raw.rule !== 'string' || !raw.rule) fail(source, `${where}.rule`, 'every rule needs a name')
  where = `rule ${raw.rule}`
  if (raw.enabled === false) return undefined
  if (typeof raw.when !== 'string') fail(source, `${where}.when`, 'expected a condition string')
  const when = condition(raw.when, p, source, `${where}.when`)
  const then = actionsOf(raw, where, source)
  const priority = priorityOf(raw, where, source)
  const baseline = raw.baseline !== undefined ? baselineOf(raw.baseline, when, where, source) : undefined
  if (raw.rate !== undefined && baseline) fail(source, where, 'give `rate` or `baseline`, not both')
  if (raw.output !== undefined && typeof raw.output !== 'string')
    fail(source, `${where}.output`, 'expected a string')
  if (raw.tags !== undefined && !Array.isArray(raw.tags)) fail(source, `${where}.tags`, 'expected a list')
  for (const name of valuesOf(when, 'syscall').map(String)) {
    const hint = unknownSyscallHint(name)
    if (hint !== undefined) fail(source, `${where}.when`, `unknown syscall \`${name}\`${hint}`)
  }
  const events = new Set(valuesOf(when, 'event').map(String))
  return {
    name: raw.rule,
    description: typeof raw.description === 'string' ? raw.description : '',
    when,
    whenText: raw.when,
    events,
    ...(raw.rate !== undefined ? { rate: parseRate(raw.rate, source, `${where}.rate`) } : {}),
    ...(baseline ? { baseline } : {}),
    then,
    priority,
    ...(typeof raw.output === 'string' ? { output: raw.output } : {}),
    cooldownMs: raw.cooldown !== undefined ? duration(raw.cooldown, source, `${where}.cooldown`) : 0,
    throttle:
      raw.throttle !== undefined
        ? parseThrottle(raw.throttle, source, `${where}.throttle`)
        : { ...DEFAULT_THROTTLE },
    source,
    tags: Array.isArray(raw.tags) ? raw.tags.map(String) : [],
    dialect: 'cordon',
  }
}

/** Every unknown key is a problem of its own; the last one ends the rule. */
function checkKeys(raw: Raw, where: string, source: string, p: Parsed): void {
  const unknown = Object.keys(raw).filter((key) => !RULE_KEYS.includes(key))
  for (const key of unknown.slice(0, -1))
    collect(p, source, where, () => unknownKey(source, `${where}.${key}`, key))
  if (unknown.length) unknownKey(source, `${where}.${unknown.at(-1)}`, unknown.at(-1)!)
}

function actionsOf(raw: Raw, where: string, source: string): RuleAction[] {
  const then = (Array.isArray(raw.then) ? raw.then : [raw.then ?? 'alert']) as unknown[]
  for (const a of then)
    if (!ACTIONS.includes(a as RuleAction))
      fail(
        source,
        `${where}.then`,
        `unknown action \`${String(a)}\`${didYouMean(a, ACTIONS)} (actions: ${ACTIONS.join(', ')})`,
      )
  return then as RuleAction[]
}

function priorityOf(raw: Raw, where: string, source: string): Priority {
  const priority = (raw.priority ?? 'warning') as Priority
  if (!PRIORITIES.includes(priority))
    fail(
      source,
      `${where}.priority`,
      `unknown priority \`${String(priority)}\`${didYouMean(priority, PRIORITIES)} (${PRIORITIES.join(', ')})`,
    )
  return priority
}

/** A rule's `baseline`: learned per sandbox for `learn`, or read from a learn run (`from`). */
function baselineOf(value: unknown, when: Expr, where: string, source: string): Baseline {
  const b = asObject(value, source, `${where}.baseline`)
  for (const key of Object.keys(b))
    if (!BASELINE_KEYS.includes(key))
      fail(
        source,
        `${where}.baseline.${key}`,
        `unknown key${didYouMean(key, BASELINE_KEYS)} (keys: ${BASELINE_KEYS.join(', ')})`,
      )
  if (b.learn !== undefined && b.from !== undefined)
    fail(
      source,
      `${where}.baseline`,
      'give `learn` (seconds of each sandbox) or `from` (a learn run), not both',
    )
  const baseline: Baseline = {
    learnMs: b.from !== undefined ? 0 : duration(b.learn ?? '10s', source, `${where}.baseline.learn`),
    windowMs: duration(b.window ?? '1s', source, `${where}.baseline.window`),
    factor: Number(b.factor ?? 5),
    min: Number(b.min ?? 10),
  }
  if (!(baseline.factor > 0) || !(baseline.min >= 0))
    fail(source, `${where}.baseline`, 'factor must be > 0 and min >= 0')
  if (b.from === undefined) return baseline
  if (typeof b.from !== 'string') fail(source, `${where}.baseline.from`, 'expected the path of a .learn.json')
  const syscalls = valuesOf(when, 'syscall').map(String)
  const spawns = valuesOf(when, 'event').map(String).includes('spawn')
  if (!syscalls.length && !spawns)
    fail(
      source,
      `${where}.baseline.from`,
      'a learn run records syscall and spawn counts: name the syscalls in `when` (e.g. `syscall in (openat, connect)`) or count `event = spawn`',
    )
  // Relative to the rules file (or the working directory for rules given as text).
  const file = callerResolve(source === 'rules' ? '.' : dirname(source), b.from)
  try {
    baseline.learned = learnedRate(file, syscalls, baseline.windowMs, spawns)
  } catch (e) {
    fail(source, `${where}.baseline.from`, (e as Error).message)
  }
  return baseline
}
