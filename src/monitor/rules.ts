// Rules files: lists, macros and rules (YAML). Later files override earlier ones by name, so a
// user file can retune or disable (`enabled: false`) a rule of the default file.
import { readFileSync } from 'node:fs'
import { dirname, join, resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import yaml from 'js-yaml'
import { CordonError, fileProblem, suggest } from '../errors.js'
import { locateIn } from '../policy/parse.js'
import { parseDuration } from '../policy/resolve.js'
import { unknownSyscallHint } from '../seccomp/arch.js'
import { type Expr, ExprError, parseExpr, valuesOf } from './expr.js'
import { FalcoRules, isFalcoDocument, type RuleReport } from './falco.js'
import { learnedRate } from './learned-baseline.js'

export const PRIORITIES = [
  'emergency',
  'alert',
  'critical',
  'error',
  'warning',
  'notice',
  'info',
  'debug',
] as const
export type Priority = (typeof PRIORITIES)[number]
export const ACTIONS = ['freeze', 'kill', 'alert', 'log'] as const
export type RuleAction = (typeof ACTIONS)[number]

/** Fields a rule can test; see the README's monitor section for what each event carries. */
export const FIELDS = new Set([
  'event',
  'sandbox',
  'command',
  'syscall',
  'arch',
  'nr',
  'pid',
  'path',
  'basename',
  'program',
  'errno',
  'denied',
  'new',
  'arg0',
  'arg1',
  'arg2',
  'arg3',
  'arg4',
  'arg5',
  'layer',
  'blockers',
  'exe',
  'action',
  'ppid',
  'source',
  'memory',
  'memory_limit',
  'memory_pct',
  'pids',
  'pids_limit',
  'pids_pct',
  'cpu',
  'kills',
  'refused',
  'code',
  'signal',
  'message',
  'initial',
  // The process an event is about (monitor/proc-info.ts): its parent's and ancestors' names,
  // command line and user.
  'parent',
  'ancestors',
  'cmdline',
  'args',
  'user',
  'uid',
])

export interface Rate {
  op: '>' | '>='
  count: number
  windowMs: number
  /** Count separately per value of this field (e.g. per path). */
  by?: string
}

export interface Baseline {
  /** Rate learned over the first learnMs of each sandbox, in events per windowMs. */
  learnMs: number
  /** Or the rate read from a learn run's observations (`from`), in events per windowMs. */
  learned?: number
  windowMs: number
  /** Fire when the rate exceeds max(min, factor × learned). */
  factor: number
  min: number
}

/** At most `count` alerts (and log lines) per `perMs` for one rule in one sandbox: a token
 * bucket holding `count`, refilled at count/perMs. Freeze and kill are never held back. */
export interface Throttle {
  count: number
  perMs: number
}

/** Every rule has a bound, so no stream of events the sandbox controls turns into unbounded
 * host work (formatting, sinks, logger, webhooks): `throttle: N per DURATION` retunes it. */
export const DEFAULT_THROTTLE: Throttle = { count: 20, perMs: 10_000 }
const MAX_THROTTLE_COUNT = 100_000

export interface Rule {
  name: string
  description: string
  when: Expr
  whenText: string
  /** Event types the condition can match (from `event = …` terms), for a fast pre-filter; empty: any. */
  events: Set<string>
  rate?: Rate
  baseline?: Baseline
  then: RuleAction[]
  priority: Priority
  output?: string
  cooldownMs: number
  throttle: Throttle
  source: string
  tags: string[]
  /** Which language the condition and output are in: `{field}` or Falco's `%field` outputs. */
  dialect: 'cordon' | 'falco'
}

export interface RuleSet {
  rules: Rule[]
  /** The files it came from, in order. */
  sources: string[]
  /** Falco files: what became of each of their rules (mapped, or the fields it lacks). */
  report: RuleReport[]
  /** Falco items read past (required_engine_version…). */
  notes: string[]
}

const THROTTLE = /^(\d+)\s+per\s+(\S+)$/

function parseThrottle(text: unknown, source: string, where: string): Throttle {
  const m = typeof text === 'string' ? THROTTLE.exec(text.trim()) : null
  const count = Number(m?.[1])
  if (!m || !(count >= 1 && count <= MAX_THROTTLE_COUNT))
    fail(
      source,
      where,
      `expected \`N per DURATION\` with N from 1 to ${MAX_THROTTLE_COUNT} (e.g. \`20 per 10s\`), got \`${String(text)}\``,
    )
  return { count, perMs: duration(m[2], source, where) }
}

const RATE = /^count\s*(>=|>)\s*(\d+)\s+within\s+(\S+)(?:\s+by\s+(\w+))?$/

/** The rules file shipped with cordon (rules/default.yaml). */
export const DEFAULT_RULES_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'rules',
  'default.yaml',
)

type Raw = Record<string, unknown>

function fail(source: string, where: string, message: string): never {
  throw new CordonError('invalid_rules', `${source}: ${where}: ${message}`, {
    issues: [{ code: 'invalid_value', path: [where], message }],
  })
}

/** Runs one check; a rules problem is kept (every one is reported, in file order), anything else
 * goes on. */
function collect(p: Parsed, source: string, rule: string | undefined, check: () => void): void {
  try {
    check()
  } catch (e) {
    if (!(e instanceof CordonError) || e.code !== 'invalid_rules' || e.issues.length !== 1) throw e
    const where = String(e.issues[0]!.path[0])
    p.problems.push({ source, where, message: e.issues[0]!.message, ...(rule ? { rule } : {}) })
  }
}

/** The YAML path a `where` names: `rules[2].thne`, `rule NAME.baseline.from` (rule = `rules[2]`),
 * `macros.NAME`, or a top-level key. */
function yamlPath(where: string, rule?: string): (string | number)[] {
  const named = /^rule [^.]*(.*)$/.exec(where)
  const text = named && rule ? `${rule}${named[1]}` : where
  return text.split('.').flatMap((part) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(part)
    return m ? [m[1]!, Number(m[2])] : [part]
  })
}

/** Every problem found, with file:line:col where the file is known, in file order. */
function throwProblems(p: Parsed): void {
  if (!p.problems.length) return
  const placed = p.problems.map((x) => {
    const text = p.texts.get(x.source)
    const key = /^unknown (key|section)/.test(x.message) ? 'key' : 'value'
    const at = text === undefined ? undefined : locateIn(text, yamlPath(x.where, x.rule), key)
    return { ...x, at }
  })
  const order = (x: (typeof placed)[number]) => (x.at ? x.at.line * 1e6 + x.at.col : Infinity)
  const files = [...new Set(placed.map((x) => x.source))]
  placed.sort((a, b) => files.indexOf(a.source) - files.indexOf(b.source) || order(a) - order(b))
  const lines = placed.map(
    (x) => `${x.source}${x.at ? `:${x.at.line}:${x.at.col}` : ''}: ${x.where}: ${x.message}`,
  )
  const count = lines.length === 1 ? '1 problem' : `${lines.length} problems`
  throw new CordonError('invalid_rules', `Invalid rules (${count}):\n  ${lines.join('\n  ')}`, {
    issues: placed.map((x) => ({
      code: 'invalid_value' as const,
      path: [x.source, x.where],
      message: x.message,
    })),
  })
}

function asObject(v: unknown, source: string, where: string): Raw {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, where, 'expected a mapping')
  return v as Raw
}

function duration(v: unknown, source: string, where: string): number {
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(String(v)) : Number.NaN
  if (!(ms > 0)) fail(source, where, `expected a duration like 500ms, 1s or 2m, got \`${String(v)}\``)
  return ms
}

function parseRate(text: unknown, source: string, where: string): Rate {
  const m = typeof text === 'string' ? RATE.exec(text.trim()) : null
  if (!m) fail(source, where, `expected \`count > N within DURATION [by FIELD]\`, got \`${String(text)}\``)
  if (m[4] && !FIELDS.has(m[4]))
    fail(source, where, `unknown field \`${m[4]}\` after \`by\`${didYouMean(m[4], [...FIELDS])}`)
  return {
    op: m[1] as '>' | '>=',
    count: Number(m[2]),
    windowMs: duration(m[3], source, where),
    ...(m[4] ? { by: m[4] } : {}),
  }
}

interface Parsed {
  lists: Map<string, (string | number)[]>
  macros: Map<string, Expr>
  raws: { raw: Raw; where: string; source: string }[]
  falco: FalcoRules
  /** Each file's text, to locate problems in it. */
  texts: Map<string, string>
  problems: { source: string; where: string; message: string; rule?: string }[]
}

const newParsed = (): Parsed => ({
  lists: new Map(),
  macros: new Map(),
  raws: [],
  falco: new FalcoRules(),
  texts: new Map(),
  problems: [],
})

function parseFile(text: string, source: string, into: Parsed): void {
  let doc: unknown
  try {
    doc = yaml.load(text, { filename: source })
  } catch (e) {
    throw new CordonError('invalid_rules', `${source}: ${(e as Error).message}`)
  }
  // A YAML list is a Falco rules file; cordon's own files are a mapping.
  if (isFalcoDocument(doc)) return into.falco.add(doc, source)
  into.texts.set(source, text)
  const top = asObject(doc ?? {}, source, 'top level')
  const keep = (check: () => void) => collect(into, source, undefined, check)
  for (const key of Object.keys(top))
    if (!['lists', 'macros', 'rules'].includes(key)) {
      const hint = suggest(key, ['lists', 'macros', 'rules'])
      keep(() =>
        fail(
          source,
          key,
          `unknown section${hint ? `; did you mean \`${hint}\`?` : ''} (sections: lists, macros, rules)`,
        ),
      )
    }
  keep(() => {
    for (const [name, items] of Object.entries(asObject(top.lists ?? {}, source, 'lists')))
      keep(() => {
        if (!Array.isArray(items) || items.some((i) => typeof i !== 'string' && typeof i !== 'number'))
          fail(source, `lists.${name}`, 'expected a list of strings or numbers')
        into.lists.set(name, items as (string | number)[])
      })
  })
  keep(() => {
    for (const [name, cond] of Object.entries(asObject(top.macros ?? {}, source, 'macros')))
      keep(() => {
        if (typeof cond !== 'string') fail(source, `macros.${name}`, 'expected a condition string')
        into.macros.set(name, condition(cond, into, source, `macros.${name}`))
      })
  })
  const rules = top.rules ?? []
  if (!Array.isArray(rules)) return keep(() => fail(source, 'rules', 'expected a list of rules'))
  rules.forEach((r, i) =>
    keep(() => into.raws.push({ raw: asObject(r, source, `rules[${i}]`), where: `rules[${i}]`, source })),
  )
}

function condition(text: string, p: Parsed, source: string, where: string): Expr {
  try {
    return parseExpr(text, { macros: p.macros, lists: p.lists, fields: FIELDS })
  } catch (e) {
    if (!(e instanceof ExprError)) throw e
    fail(source, where, `${e.message}\n    ${text}\n    ${' '.repeat(e.column)}^`)
  }
}

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

/** `; did you mean \`x\`?` for a near name, or nothing. */
function didYouMean(word: unknown, names: readonly string[]): string {
  const hint = typeof word === 'string' ? suggest(word, names) : undefined
  return hint ? `; did you mean \`${hint}\`?` : ''
}

function unknownKey(source: string, where: string, key: string): never {
  const hint = suggest(key, RULE_KEYS)
  fail(
    source,
    where,
    `unknown key${hint ? `; did you mean \`${hint}\`?` : ''} (keys: ${RULE_KEYS.join(', ')})`,
  )
}

function buildRule(raw: Raw, where: string, source: string, p: Parsed): Rule | undefined {
  const unknown = Object.keys(raw).filter((key) => !RULE_KEYS.includes(key))
  for (const key of unknown.slice(0, -1))
    collect(p, source, where, () => unknownKey(source, `${where}.${key}`, key))
  if (unknown.length) unknownKey(source, `${where}.${unknown.at(-1)}`, unknown.at(-1)!)
  if (typeof raw.rule !== 'string' || !raw.rule) fail(source, `${where}.rule`, 'every rule needs a name')
  where = `rule ${raw.rule}`
  if (raw.enabled === false) return undefined
  if (typeof raw.when !== 'string') fail(source, `${where}.when`, 'expected a condition string')
  const when = condition(raw.when, p, source, `${where}.when`)
  const then = (Array.isArray(raw.then) ? raw.then : [raw.then ?? 'alert']) as unknown[]
  for (const a of then)
    if (!ACTIONS.includes(a as RuleAction))
      fail(
        source,
        `${where}.then`,
        `unknown action \`${String(a)}\`${didYouMean(a, ACTIONS)} (actions: ${ACTIONS.join(', ')})`,
      )
  const priority = (raw.priority ?? 'warning') as Priority
  if (!PRIORITIES.includes(priority))
    fail(
      source,
      `${where}.priority`,
      `unknown priority \`${String(priority)}\`${didYouMean(priority, PRIORITIES)} (${PRIORITIES.join(', ')})`,
    )
  let baseline: Baseline | undefined
  if (raw.baseline !== undefined) {
    const b = asObject(raw.baseline, source, `${where}.baseline`)
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
    baseline = {
      learnMs: b.from !== undefined ? 0 : duration(b.learn ?? '10s', source, `${where}.baseline.learn`),
      windowMs: duration(b.window ?? '1s', source, `${where}.baseline.window`),
      factor: Number(b.factor ?? 5),
      min: Number(b.min ?? 10),
    }
    if (!(baseline.factor > 0) || !(baseline.min >= 0))
      fail(source, `${where}.baseline`, 'factor must be > 0 and min >= 0')
    if (b.from !== undefined) {
      if (typeof b.from !== 'string')
        fail(source, `${where}.baseline.from`, 'expected the path of a .learn.json')
      const syscalls = valuesOf(when, 'syscall').map(String)
      const spawns = valuesOf(when, 'event').map(String).includes('spawn')
      if (!syscalls.length && !spawns)
        fail(
          source,
          `${where}.baseline.from`,
          'a learn run records syscall and spawn counts: name the syscalls in `when` (e.g. `syscall in (openat, connect)`) or count `event = spawn`',
        )
      // Relative to the rules file (or the working directory for rules given as text).
      const file = resolvePath(source === 'rules' ? '.' : dirname(source), b.from)
      try {
        baseline.learned = learnedRate(file, syscalls, baseline.windowMs, spawns)
      } catch (e) {
        fail(source, `${where}.baseline.from`, (e as Error).message)
      }
    }
  }
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
    then: then as RuleAction[],
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

/** Loads rules files in order (later ones override rules, lists and macros by name). */
export function loadRules(files: readonly string[]): RuleSet {
  const p = newParsed()
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new CordonError(
        'invalid_rules',
        `rules file ${file} ${fileProblem(e)}; give a readable YAML rules file (see README, Monitor)`,
      )
    }
    parseFile(text, file, p)
  }
  return ruleSet(p, [...files])
}

/** Rules from text (tests, embedding). */
export function parseRules(text: string, source = 'rules'): RuleSet {
  const p = newParsed()
  parseFile(text, source, p)
  return ruleSet(p, [source])
}

function ruleSet(p: Parsed, sources: string[]): RuleSet {
  const own = buildRules(p)
  throwProblems(p)
  const falco = p.falco.build()
  // A Falco rule with the name of one of cordon's replaces it, as a later file does.
  const names = new Set(falco.rules.map((r) => r.name))
  return {
    rules: [...own.filter((r) => !names.has(r.name)), ...falco.rules],
    sources,
    report: falco.report,
    notes: p.falco.notes,
  }
}

function buildRules(p: Parsed): Rule[] {
  const byName = new Map<string, Rule | undefined>()
  for (const { raw, where, source } of p.raws) {
    const name = String(raw.rule ?? '')
    byName.delete(name) // a redefinition moves to the end
    let rule: Rule | undefined
    collect(p, source, where, () => {
      rule = buildRule(raw, where, source, p)
    })
    byName.set(name, rule)
  }
  return [...byName.values()].filter((r): r is Rule => r !== undefined)
}

/** Syscalls the rules test (`syscall = x`, `syscall in (…)`, Falco's `evt.type`): the sandbox
 * must report them. Falco's event types that are no syscall (procexit) come from process events. */
export function watchedSyscalls(set: RuleSet): string[] {
  const named = set.rules.flatMap((r) => [
    ...valuesOf(r.when, 'syscall'),
    ...valuesOf(r.when, 'evt.type').filter((v) => unknownSyscallHint(String(v)) === undefined),
    ...valuesOf(r.when, 'syscall.type').filter((v) => unknownSyscallHint(String(v)) === undefined),
  ])
  return [...new Set(named.map(String))].sort()
}
