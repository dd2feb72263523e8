// Reading a rules file's values, each with an error that names the file, the place and the fix:
// problems are collected (collect) and reported together in file order with file:line:col
// (throwProblems), so one run of `cordon monitor --check` lists every mistake.
import { CordonError, suggest } from '../errors.js'
import { locateIn } from '../policy/parse.js'
import { parseDuration } from '../policy/resolve.js'
import { type Expr, ExprError, parseExpr } from './expr.js'
import { FalcoRules } from './falco.js'
import { FIELDS, type Rate, type Throttle } from './rule-model.js'

const MAX_THROTTLE_COUNT = 100_000

const THROTTLE = /^(\d+)\s+per\s+(\S+)$/

export function parseThrottle(text: unknown, source: string, where: string): Throttle {
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

export type Raw = Record<string, unknown>

export function fail(source: string, where: string, message: string): never {
  throw new CordonError('invalid_rules', `${source}: ${where}: ${message}`, {
    issues: [{ code: 'invalid_value', path: [where], message }],
  })
}

/** Runs one check; a rules problem is kept (every one is reported, in file order), anything else
 * goes on. */
export function collect(p: Parsed, source: string, rule: string | undefined, check: () => void): void {
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
export function throwProblems(p: Parsed): void {
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

export function asObject(v: unknown, source: string, where: string): Raw {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, where, 'expected a mapping')
  return v as Raw
}

export function duration(v: unknown, source: string, where: string): number {
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(String(v)) : Number.NaN
  if (!(ms > 0)) fail(source, where, `expected a duration like 500ms, 1s or 2m, got \`${String(v)}\``)
  return ms
}

export function parseRate(text: unknown, source: string, where: string): Rate {
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

export interface Parsed {
  lists: Map<string, (string | number)[]>
  macros: Map<string, Expr>
  raws: { raw: Raw; where: string; source: string }[]
  falco: FalcoRules
  /** Each file's text, to locate problems in it. */
  texts: Map<string, string>
  problems: { source: string; where: string; message: string; rule?: string }[]
  /** Macros and lists of the default rules, when they are not loaded (--no-default-rules): read
   * only for an error that may concern one. */
  notLoaded?: () => ReadonlySet<string>
}

export const newParsed = (): Parsed => ({
  lists: new Map(),
  macros: new Map(),
  raws: [],
  falco: new FalcoRules(),
  texts: new Map(),
  problems: [],
})

export function condition(text: string, p: Parsed, source: string, where: string): Expr {
  try {
    return parseExpr(text, { macros: p.macros, lists: p.lists, fields: FIELDS })
  } catch (e) {
    if (!(e instanceof ExprError)) throw e
    const defaults =
      e.unknown !== undefined && p.notLoaded?.().has(e.unknown)
        ? ` (a macro of the default rules, which --no-default-rules leaves out: define it in this file; see rules/default.yaml)`
        : ''
    fail(source, where, `${e.message}${defaults}\n    ${text}\n    ${' '.repeat(e.column)}^`)
  }
}

/** `; did you mean \`x\`?` for a near name, or nothing. */
export function didYouMean(word: unknown, names: readonly string[]): string {
  const hint = typeof word === 'string' ? suggest(word, names) : undefined
  return hint ? `; did you mean \`${hint}\`?` : ''
}
