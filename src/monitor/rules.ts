// Rules files: lists, macros and rules (YAML). Later files override earlier ones by name, so a
// user file can retune or disable (`enabled: false`) a rule of the default file.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import yaml from 'js-yaml'
import { CordonError, fileProblem, suggest } from '../errors.js'
import { unknownSyscallHint } from '../seccomp/arch.js'
import { type Expr, valuesOf } from './expr.js'
import { isFalcoDocument, type RuleReport } from './falco.js'
import { buildRule } from './rule-build.js'
import { asObject, collect, condition, fail, newParsed, type Parsed, throwProblems } from './rule-check.js'
import type { Rule } from './rule-model.js'
import { fsPath } from '../host/path-bytes.js'

export {
  ACTIONS,
  type Baseline,
  DEFAULT_THROTTLE,
  FIELDS,
  PRIORITIES,
  type Priority,
  type Rate,
  type Rule,
  type RuleAction,
  type Throttle,
} from './rule-model.js'

export interface RuleSet {
  rules: Rule[]
  /** The files it came from, in order. */
  sources: string[]
  /** Falco files: what became of each of their rules (mapped, or the fields it lacks). */
  report: RuleReport[]
  /** Falco items read past (required_engine_version…). */
  notes: string[]
}

/** The rules file shipped with cordon (rules/default.yaml). */
export const DEFAULT_RULES_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'rules',
  'default.yaml',
)

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

/** Loads rules files in order (later ones override rules, lists and macros by name). */
export function loadRules(files: readonly string[]): RuleSet {
  const p = newParsed()
  if (!files.includes(DEFAULT_RULES_FILE)) {
    let names: Set<string> | undefined
    p.notLoaded = () => (names ??= defaultNames())
  }
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(fsPath(file), 'utf8')
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

/** The macros and lists of the default rules file (none where it cannot be read). */
function defaultNames(): Set<string> {
  try {
    const top = yaml.load(readFileSync(DEFAULT_RULES_FILE, 'utf8')) as Record<string, unknown> | null
    const keys = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v) : [])
    return new Set([...keys(top?.macros), ...keys(top?.lists)])
  } catch {
    return new Set()
  }
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
 * must report them. Falco's event types that are no syscall (procexit) come from process events.
 * A syscall only rules that require `denied` test is watched when refused alone (`!NAME`): the
 * calls the policy lets through are never stopped for a rule that cannot fire on them (a watched
 * call waits for the launcher, and a signal in that wait is an EINTR the program never sees
 * unobserved; `escape-attempt` watched every allowed `ptrace` of a debugger). */
export function watchedSyscalls(set: RuleSet): string[] {
  const whole = new Set<string>()
  const refused = new Set<string>()
  for (const r of set.rules) {
    const named = [
      ...valuesOf(r.when, 'syscall'),
      ...valuesOf(r.when, 'evt.type').filter((v) => unknownSyscallHint(String(v)) === undefined),
      ...valuesOf(r.when, 'syscall.type').filter((v) => unknownSyscallHint(String(v)) === undefined),
    ].map(String)
    for (const name of named) (requiresDenied(r.when) ? refused : whole).add(name)
  }
  return [...whole, ...[...refused].filter((n) => !whole.has(n)).map((n) => `!${n}`)].sort()
}

/** Whether an expression holds only for refused calls: `denied`, or an `and` with it. */
function requiresDenied(e: Expr): boolean {
  if (e.kind === 'flag') return e.field === 'denied'
  return e.kind === 'and' && (requiresDenied(e.left) || requiresDenied(e.right))
}
