// The `when` language of monitor rules, Falco-like but smaller:
//
//   event = syscall and syscall in (clone, clone3, fork, vfork)
//   event = syscall and syscall = execve and (basename in (shells) or new)
//   not spawn_syscalls and path startswith /proc/
//
// Operators: = != < <= > >= in startswith endswith contains glob; and, or, not, parentheses.
// A bare name is a macro (expanded) or a boolean field. In a value list, a list name expands
// to its items. Strings may be bare words or quoted ('…' or "…").

import { suggest } from '../errors.js'
/** A list (a process's ancestors' names) matches when any of its items does. */
export type Value = string | number | boolean | bigint | readonly string[] | undefined
export type Fields = (name: string) => Value

export type Op =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'in'
  | 'startswith'
  | 'endswith'
  | 'contains'
  | 'glob'
  // Falco's operators (monitor/falco.ts parses them; the native language does not).
  | 'icontains'
  | 'iglob'
  | 'intersects'
  | 'pmatch'
  | 'exists'

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: Op; values: (string | number)[] }
  | { kind: 'flag'; field: string }

export class ExprError extends Error {
  constructor(
    message: string,
    readonly column: number,
    /** The word that is neither a macro nor a field, when that is the problem. */
    readonly unknown?: string,
  ) {
    super(message)
  }
}

interface Token {
  text: string
  kind: 'word' | 'string' | 'punct'
  at: number
}

const OPS = new Set<string>([
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'startswith',
  'endswith',
  'contains',
  'glob',
])

function tokenize(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ text: c, kind: 'punct', at: i++ })
    } else if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1)
      if (end < 0) throw new ExprError(`unterminated string`, i)
      out.push({ text: src.slice(i + 1, end), kind: 'string', at: i })
      i = end + 1
    } else if (/[=!<>]/.test(c)) {
      const two = src.slice(i, i + 2)
      const text = ['==', '!=', '<=', '>='].includes(two) ? two : c
      if (text === '!') throw new ExprError('expected != (use `not` to negate)', i)
      out.push({ text, kind: 'punct', at: i })
      i += text.length
    } else {
      const m = /^[^\s(),=!<>"']+/.exec(src.slice(i))!
      out.push({ text: m[0], kind: 'word', at: i })
      i += m[0].length
    }
  }
  return out
}

export interface Definitions {
  macros: ReadonlyMap<string, Expr>
  lists: ReadonlyMap<string, readonly (string | number)[]>
  /** Field names events can have, to catch typos. */
  fields: ReadonlySet<string>
}

export function parseExpr(src: string, defs: Definitions): Expr {
  const tokens = tokenize(src)
  let pos = 0
  const peek = () => tokens[pos]
  const at = () => peek()?.at ?? src.length
  const next = () => {
    const t = tokens[pos++]
    if (!t) throw new ExprError('unexpected end of condition', src.length)
    return t
  }
  const expect = (text: string) => {
    const t = next()
    if (t.text !== text) throw new ExprError(`expected \`${text}\`, found \`${t.text}\``, t.at)
  }
  const isWord = (w: string) => peek()?.kind === 'word' && peek()!.text === w

  function or(): Expr {
    let left = and()
    while (isWord('or')) {
      pos++
      left = { kind: 'or', left, right: and() }
    }
    return left
  }
  function and(): Expr {
    let left = unary()
    while (isWord('and')) {
      pos++
      left = { kind: 'and', left, right: unary() }
    }
    return left
  }
  function unary(): Expr {
    if (isWord('not')) {
      pos++
      return { kind: 'not', expr: unary() }
    }
    return primary()
  }
  function literal(t: Token): string | number {
    return t.kind === 'word' && /^-?(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(t.text) ? Number(t.text) : t.text
  }
  function values(): (string | number)[] {
    if (peek()?.text !== '(') {
      const t = next()
      if (t.kind === 'punct') throw new ExprError(`expected a value, found \`${t.text}\``, t.at)
      return [literal(t)]
    }
    pos++
    const out: (string | number)[] = []
    for (;;) {
      const t = next()
      if (t.kind === 'punct') throw new ExprError(`expected a value, found \`${t.text}\``, t.at)
      const list = t.kind === 'word' ? defs.lists.get(t.text) : undefined
      if (list) out.push(...list)
      else out.push(literal(t))
      const sep = next()
      if (sep.text === ')') return out
      if (sep.text !== ',') throw new ExprError(`expected \`,\` or \`)\`, found \`${sep.text}\``, sep.at)
    }
  }
  function primary(): Expr {
    const t = next()
    if (t.text === '(') {
      const e = or()
      expect(')')
      return e
    }
    if (t.kind !== 'word') throw new ExprError(`expected a field or macro, found \`${t.text}\``, t.at)
    const op = peek()
    if (op && OPS.has(op.text) && (op.kind === 'punct' || op.kind === 'word')) {
      pos++
      if (!defs.fields.has(t.text)) throw unknownField(t)
      const vals = values()
      const o = (op.text === '==' ? '=' : op.text) as Op
      if (o !== 'in' && vals.length !== 1)
        throw new ExprError(`\`${op.text}\` takes one value; use \`in (…)\` for several`, op.at)
      return { kind: 'cmp', field: t.text, op: o, values: vals }
    }
    const macro = defs.macros.get(t.text)
    if (macro) return macro
    if (defs.fields.has(t.text)) return { kind: 'flag', field: t.text }
    const near = suggest(t.text, [...defs.fields, ...defs.macros.keys()])
    throw new ExprError(
      `\`${t.text}\` is neither a macro nor a field${near ? `; did you mean \`${near}\`?` : ''}`,
      t.at,
      t.text,
    )
  }
  function unknownField(t: Token): ExprError {
    const hint = suggest(t.text, [...defs.fields])
    return new ExprError(
      `unknown field \`${t.text}\`${hint ? `; did you mean \`${hint}\`?` : ''} (fields: ${[...defs.fields].sort().join(', ')})`,
      t.at,
    )
  }

  if (tokens.length === 0) throw new ExprError('empty condition', 0)
  const e = or()
  if (pos < tokens.length) throw new ExprError(`unexpected \`${peek()!.text}\` (missing and/or?)`, at())
  return e
}

function globToRegExp(glob: string, flags = ''): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, flags)
}
const globCache = new Map<string, RegExp>()

function compare(actual: Value, op: Op, expected: string | number): boolean {
  if (actual === undefined) return false
  if (typeof actual === 'object') return actual.some((a) => compare(a, op, expected))
  if (op === 'icontains') return String(actual).toLowerCase().includes(String(expected).toLowerCase())
  // Falco's pmatch: the path is one of the prefixes or under one, by whole components.
  if (op === 'pmatch') {
    const dir = String(expected).replace(/\/+$/, '')
    return String(actual) === String(expected) || String(actual).startsWith(`${dir}/`)
  }
  if (op === 'startswith') return String(actual).startsWith(String(expected))
  if (op === 'endswith') return String(actual).endsWith(String(expected))
  if (op === 'contains') return String(actual).includes(String(expected))
  if (op === 'glob' || op === 'iglob') {
    const key = `${op === 'iglob' ? 'i' : ''}:${String(expected)}`
    let re = globCache.get(key)
    if (!re) globCache.set(key, (re = globToRegExp(String(expected), op === 'iglob' ? 'i' : '')))
    return re.test(String(actual))
  }
  const numeric = typeof actual !== 'string' && typeof expected === 'number'
  const a = numeric ? Number(actual) : String(actual)
  const b = numeric ? expected : String(expected)
  switch (op) {
    case '=':
    case 'in':
    case 'intersects':
      return a === b
    case '!=':
      return a !== b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '>':
      return a > b
    case '>=':
      return a >= b
    default:
      return false
  }
}

export function evaluate(e: Expr, fields: Fields): boolean {
  switch (e.kind) {
    case 'and':
      return evaluate(e.left, fields) && evaluate(e.right, fields)
    case 'or':
      return evaluate(e.left, fields) || evaluate(e.right, fields)
    case 'not':
      return !evaluate(e.expr, fields)
    case 'flag':
      return Boolean(fields(e.field))
    case 'cmp': {
      const actual = fields(e.field)
      if (e.op === 'exists') return actual !== undefined
      if (e.op === '!=' && typeof actual === 'object')
        return !actual.some((a) => compare(a, '=', e.values[0]!))
      return e.op === 'in' || e.op === 'intersects' || e.op === 'pmatch'
        ? e.values.some((v) => compare(actual, e.op, v))
        : compare(actual, e.op, e.values[0]!)
    }
  }
}

/** The values an expression requires `field` to equal (for `field = x` / `field in (…)` terms
 * anywhere in it): how the monitor learns which syscalls its rules need reported. */
export function valuesOf(e: Expr, field: string): (string | number)[] {
  switch (e.kind) {
    case 'and':
    case 'or':
      return [...valuesOf(e.left, field), ...valuesOf(e.right, field)]
    case 'not':
      return valuesOf(e.expr, field)
    case 'flag':
      return []
    case 'cmp':
      return e.field === field && (e.op === '=' || e.op === 'in' || e.op === 'intersects') ? e.values : []
  }
}

/** Whether the expression reads `field` anywhere (a comparison or a flag). */
export function mentions(e: Expr, field: string): boolean {
  switch (e.kind) {
    case 'and':
    case 'or':
      return mentions(e.left, field) || mentions(e.right, field)
    case 'not':
      return mentions(e.expr, field)
    case 'flag':
    case 'cmp':
      return e.field === field
  }
}
