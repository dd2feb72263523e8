// Falco rules files (a YAML list of `- list:`, `- macro:` and `- rule:` items), loaded into the
// same rules the engine runs. Follows Falco's documented format: lists and macros merge by
// name across files, `append: true` or `override: {KEY: append|replace}` extends an earlier
// item, `exceptions` add `and not (…)` terms, `enabled: false` switches a rule off, outputs
// name fields as `%proc.name`. Each rule is mapped to the fields cordon has
// (falco-fields.ts); a rule that needs one it lacks is not loaded, and the load report names
// the fields, rule by rule. Falco rules alert (Falco has no other action).
import { CordonError } from '../errors.js'
import { type Expr, ExprError, type Op } from './expr.js'
import { falcoLiteral, parseFalcoCondition, unquoteItem } from './falco-condition.js'
import { falcoField } from './falco-fields.js'
import { outputFields } from './render.js'
import { DEFAULT_THROTTLE, type Priority, type Rule } from './rule-model.js'

/** What became of one rule of a Falco file. */
export interface RuleReport {
  rule: string
  source: string
  status: 'loaded' | 'not mapped' | 'disabled' | 'other source'
  /** Fields (or operators) of the condition cordon lacks: why it is not mapped. */
  missing: string[]
  /** Fields the output shows that cordon lacks: printed as <NA>. */
  outputMissing: string[]
  /** The event source, when it is not `syscall`. */
  eventSource?: string
}

interface Exception {
  name: string
  fields?: string | string[]
  comps?: string | string[]
  values: unknown[]
}

interface RawRule {
  name: string
  desc: string
  condition: string
  output: string
  priority: string
  tags: string[]
  exceptions: Exception[]
  enabled: boolean
  eventSource: string
  file: string
}

type Item = Record<string, unknown>

const PRIORITY: Record<string, Priority> = {
  emergency: 'emergency',
  alert: 'alert',
  critical: 'critical',
  error: 'error',
  warning: 'warning',
  notice: 'notice',
  informational: 'info',
  info: 'info',
  debug: 'debug',
}

const IGNORED = ['required_engine_version', 'required_plugin_versions']
const RULE_KEYS = [
  'rule',
  'desc',
  'condition',
  'output',
  'priority',
  'tags',
  'exceptions',
  'enabled',
  'append',
  'override',
  'source',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'capture',
  'capture_duration',
]

/** Whether a parsed YAML document is a Falco rules file (a list) rather than cordon's own. */
export const isFalcoDocument = (doc: unknown): doc is unknown[] => Array.isArray(doc)

function fail(file: string, where: string, message: string): never {
  throw new CordonError('invalid_rules', `${file}: ${where}: ${message}`)
}

const str = (v: unknown, file: string, where: string): string => {
  if (typeof v !== 'string') fail(file, where, `expected a string, got ${JSON.stringify(v)}`)
  return v
}

/** How an item changes an earlier one of the same name: per key, append or replace. */
function overrides(
  item: Item,
  file: string,
  where: string,
): Record<string, 'append' | 'replace'> | undefined {
  if (item.append === true) return { condition: 'append', items: 'append', exceptions: 'append' }
  if (item.override === undefined) return undefined
  if (typeof item.override !== 'object' || item.override === null)
    fail(file, `${where}.override`, 'expected a mapping like {condition: append}')
  const out: Record<string, 'append' | 'replace'> = {}
  for (const [k, v] of Object.entries(item.override as Item)) {
    if (v !== 'append' && v !== 'replace')
      fail(file, `${where}.override.${k}`, `expected append or replace, got ${String(v)}`)
    out[k] = v
  }
  return out
}

/** The lists, macros and rules of every Falco file loaded, in order. */
export class FalcoRules {
  private readonly lists = new Map<string, (string | number)[]>()
  private readonly macros = new Map<string, { text: string; file: string }>()
  private readonly rules = new Map<string, RawRule>()
  /** Items the loader read past: required_engine_version and the like. */
  readonly notes: string[] = []

  add(doc: unknown[], file: string): void {
    doc.forEach((raw, i) => {
      const where = `item ${i + 1}`
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        fail(file, where, 'expected a mapping (- list:, - macro: or - rule:)')
      const item = raw as Item
      if ('list' in item) this.addList(item, file, where)
      else if ('macro' in item) this.addMacro(item, file, where)
      else if ('rule' in item) this.addRule(item, file, `rule ${String(item.rule)}`)
      else {
        const key = Object.keys(item)[0] ?? '?'
        this.notes.push(
          IGNORED.includes(key)
            ? `${file}: ${key} ignored (cordon maps Falco's rules to its own fields; see the load report)`
            : `${file}: ${where}: \`${key}\` items are not Falco rules, lists or macros cordon knows; ignored`,
        )
      }
    })
  }

  private addList(item: Item, file: string, where: string): void {
    const name = str(item.list, file, `${where}.list`)
    if (!Array.isArray(item.items) || item.items.some((v) => typeof v !== 'string' && typeof v !== 'number'))
      fail(file, `list ${name}.items`, 'expected a list of strings or numbers')
    const items = item.items as (string | number)[]
    const how = overrides(item, file, `list ${name}`)?.items
    const before = this.lists.get(name)
    if (how === 'append' && !before)
      fail(file, `list ${name}`, 'appends to a list that is not defined before it')
    this.lists.set(name, how === 'append' ? [...before!, ...items] : items)
  }

  private addMacro(item: Item, file: string, where: string): void {
    const name = str(item.macro, file, `${where}.macro`)
    const text = str(item.condition, file, `macro ${name}.condition`)
    const how = overrides(item, file, `macro ${name}`)?.condition
    const before = this.macros.get(name)
    if (how === 'append' && !before)
      fail(file, `macro ${name}`, 'appends to a macro that is not defined before it')
    this.macros.set(name, { text: how === 'append' ? `${before!.text} ${text}` : text, file })
  }

  private addRule(item: Item, file: string, where: string): void {
    for (const key of Object.keys(item))
      if (!RULE_KEYS.includes(key))
        fail(file, `${where}.${key}`, `unknown key (keys: ${RULE_KEYS.join(', ')})`)
    const name = str(item.rule, file, `${where}.rule`)
    const before = this.rules.get(name)
    const how = overrides(item, file, where)
    const onlyEnabled = Object.keys(item).every((k) => k === 'rule' || k === 'enabled')
    if (how || (onlyEnabled && before)) {
      if (!before) fail(file, where, 'appends to or overrides a rule that is not defined before it')
      this.change(before, item, how ?? {}, file, where)
      return
    }
    const tags = item.tags ?? []
    if (!Array.isArray(tags)) fail(file, `${where}.tags`, 'expected a list')
    this.rules.delete(name) // a redefinition moves to the end
    this.rules.set(name, {
      name,
      desc: typeof item.desc === 'string' ? item.desc : '',
      condition: str(item.condition, file, `${where}.condition`),
      output: typeof item.output === 'string' ? item.output.trim() : '',
      priority: typeof item.priority === 'string' ? item.priority : 'warning',
      tags: tags.map(String),
      exceptions: exceptionsOf(item.exceptions, file, where),
      enabled: item.enabled !== false,
      eventSource: typeof item.source === 'string' ? item.source : 'syscall',
      file,
    })
  }

  private change(r: RawRule, item: Item, how: Record<string, string>, file: string, where: string): void {
    if (typeof item.condition === 'string')
      r.condition = how.condition === 'replace' ? item.condition : `${r.condition} ${item.condition}`
    if (item.exceptions !== undefined) {
      const added = exceptionsOf(item.exceptions, file, where, true)
      if (how.exceptions === 'replace') r.exceptions = added
      else
        for (const e of added) {
          const old = r.exceptions.find((x) => x.name === e.name)
          if (old) old.values.push(...e.values)
          else if (e.fields === undefined)
            fail(file, `${where}.exceptions`, `exception ${e.name} is new here and needs \`fields\``)
          else r.exceptions.push(e)
        }
    }
    if (Array.isArray(item.tags))
      r.tags = how.tags === 'append' ? [...r.tags, ...item.tags.map(String)] : item.tags.map(String)
    if (typeof item.output === 'string') r.output = item.output.trim()
    if (typeof item.desc === 'string') r.desc = item.desc
    if (typeof item.priority === 'string') r.priority = item.priority
    if (typeof item.enabled === 'boolean') r.enabled = item.enabled
  }

  /** The rules cordon can run, and what became of each. */
  build(): { rules: Rule[]; report: RuleReport[] } {
    const rules: Rule[] = []
    const report: RuleReport[] = []
    for (const r of this.rules.values()) {
      const where = `rule ${r.name}`
      const missing = new Set<string>()
      const when = this.ruleExpr(r, missing)
      const outputMissing = outputFields(r.output, 'falco').filter((f) => !falcoField(f))
      const entry: RuleReport = {
        rule: r.name,
        source: r.file,
        status: 'loaded',
        missing: [...missing].sort(),
        outputMissing: [...new Set(outputMissing)],
      }
      if (r.eventSource !== 'syscall') {
        entry.status = 'other source'
        entry.eventSource = r.eventSource
      } else if (!r.enabled) entry.status = 'disabled'
      else if (missing.size) entry.status = 'not mapped'
      report.push(entry)
      if (entry.status !== 'loaded') continue
      const priority = PRIORITY[r.priority.toLowerCase()]
      if (!priority)
        fail(
          r.file,
          `${where}.priority`,
          `unknown priority \`${r.priority}\` (${Object.keys(PRIORITY).join(', ')})`,
        )
      rules.push({
        name: r.name,
        description: r.desc,
        when,
        whenText: r.condition,
        // Falco's syscall source: what cordon sees of calls and processes.
        events: new Set(['syscall', 'process']),
        then: ['alert'],
        priority,
        ...(r.output ? { output: r.output } : {}),
        cooldownMs: 0,
        throttle: { ...DEFAULT_THROTTLE },
        source: r.file,
        tags: r.tags,
        dialect: 'falco',
      })
    }
    return { rules, report }
  }

  private ruleExpr(r: RawRule, missing: Set<string>): Expr {
    const cond = this.condition(r.condition, missing, r.file, `rule ${r.name}.condition`, [])
    const exc = r.exceptions.flatMap((e) => exceptionExpr(e, this, missing, r.file, `rule ${r.name}`))
    if (!exc.length) return cond
    const any = exc.reduce((left, right) => ({ kind: 'or', left, right }))
    return { kind: 'and', left: cond, right: { kind: 'not', expr: any } }
  }

  private condition(text: string, missing: Set<string>, file: string, where: string, stack: string[]): Expr {
    try {
      return parseFalcoCondition(
        text,
        {
          list: (name) => this.list(name, []),
          macro: (name, into) => {
            const m = this.macros.get(name)
            if (!m) return undefined
            if (stack.includes(name))
              fail(file, where, `macro ${name} refers to itself (${[...stack, name].join(' → ')})`)
            return this.condition(m.text, into, m.file, `macro ${name}.condition`, [...stack, name])
          },
        },
        missing,
      )
    } catch (e) {
      if (!(e instanceof ExprError)) throw e
      fail(file, where, `${e.message}\n    ${text}\n    ${' '.repeat(e.column)}^`)
    }
  }

  /** A list's items, lists named among them expanded, quotes as Falco writes them removed. */
  list(name: string, stack: string[]): (string | number)[] | undefined {
    const items = this.lists.get(name)
    if (!items || stack.includes(name)) return undefined
    return items.flatMap((i) =>
      typeof i === 'string' && this.lists.has(i) ? (this.list(i, [...stack, name]) ?? []) : [unquoteItem(i)],
    )
  }
}

function exceptionsOf(v: unknown, file: string, where: string, partial = false): Exception[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(file, `${where}.exceptions`, 'expected a list of {name, fields, comps, values}')
  return v.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null) fail(file, `${where}.exceptions[${i}]`, 'expected a mapping')
    const e = raw as Item
    const name = str(e.name, file, `${where}.exceptions[${i}].name`)
    if (!partial && e.fields === undefined) fail(file, `${where}.exceptions.${name}`, 'needs `fields`')
    if (e.values !== undefined && !Array.isArray(e.values))
      fail(file, `${where}.exceptions.${name}.values`, 'expected a list')
    return {
      name,
      ...(e.fields !== undefined ? { fields: e.fields as string | string[] } : {}),
      ...(e.comps !== undefined ? { comps: e.comps as string | string[] } : {}),
      values: [...((e.values as unknown[] | undefined) ?? [])],
    }
  })
}

const EXC_OPS: Record<string, Op | undefined> = {
  '=': '=',
  '!=': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  in: 'in',
  intersects: 'intersects',
  pmatch: 'pmatch',
  contains: 'contains',
  icontains: 'icontains',
  startswith: 'startswith',
  endswith: 'endswith',
  glob: 'glob',
}

/** One exception as expressions, one per tuple of values: `f1 = v1 and f2 in (…)`. */
function exceptionExpr(
  e: Exception,
  rules: FalcoRules,
  missing: Set<string>,
  file: string,
  where: string,
): Expr[] {
  const at = `${where}.exceptions.${e.name}`
  const values = (v: unknown, listy: boolean): (string | number)[] => {
    const items = Array.isArray(v) ? v : [v]
    return items.flatMap((x) => {
      if (typeof x !== 'string' && typeof x !== 'number')
        fail(file, at, `expected strings or numbers, got ${JSON.stringify(x)}`)
      const named = listy && typeof x === 'string' ? rules.list(x, []) : undefined
      return named ?? [typeof x === 'string' ? falcoLiteral(String(unquoteItem(x)), true) : x]
    })
  }
  const cmp = (field: string, comp: string, v: unknown): Expr => {
    const op = EXC_OPS[comp]
    if (!op) fail(file, at, `unknown comparison \`${comp}\` (${Object.keys(EXC_OPS).join(', ')})`)
    if (!falcoField(field)) missing.add(field)
    const listy = op === 'in' || op === 'intersects' || op === 'pmatch'
    return { kind: 'cmp', field, op, values: values(v, listy) }
  }
  if (e.fields === undefined) return []
  if (typeof e.fields === 'string') {
    // One field: its values are one list, compared with `comps` (default `in`).
    if (!e.values.length) return []
    const comp = typeof e.comps === 'string' ? e.comps : 'in'
    return [cmp(e.fields, comp === '=' ? 'in' : comp, e.values)]
  }
  const fields = e.fields
  const comps = Array.isArray(e.comps) ? e.comps : fields.map(() => '=')
  if (comps.length !== fields.length) fail(file, at, `${fields.length} fields but ${comps.length} comps`)
  return e.values.map((tuple, i) => {
    if (!Array.isArray(tuple) || tuple.length !== fields.length)
      fail(
        file,
        `${at}.values[${i}]`,
        `expected ${fields.length} values, one per field (${fields.join(', ')})`,
      )
    return fields
      .map((f, j) => cmp(f, String(comps[j]), tuple[j]))
      .reduce((left, right) => ({ kind: 'and', left, right }))
  })
}
