// Falco's condition language, parsed into the rule engine's expressions (expr.ts):
//
//   spawned_process and container and proc.name in (shell_binaries)
//   and not proc.pname in (sshd, "systemd") and fd.name pmatch (/etc, /root)
//
// and/or/not, parentheses, comparisons (= == != < <= > >= contains icontains bcontains
// startswith bstartswith endswith glob iglob pmatch in intersects exists regex), values bare
// or quoted, value lists `(a, b)` in which a list's name expands to its items, and macros by
// name. Field names are Falco's; each is looked up in falco-fields.ts, and the ones cordon
// lacks are collected (not an error: the loader reports the rule as not mapped).
import { ExprError, type Expr, type Op } from './expr.js'
import { falcoField } from './falco-fields.js'

export interface FalcoScope {
  /** A macro's expression (parsed on first use), or undefined when there is no such macro. */
  macro(name: string, missing: Set<string>): Expr | undefined
  /** A list's items (nested lists expanded), or undefined. */
  list(name: string): (string | number)[] | undefined
}

const SYMBOL_OPS = /^(==|=|!=|<=|>=|<|>)/
const WORD_OPS =
  /^(icontains|bcontains|contains|bstartswith|startswith|endswith|iglob|glob|pmatch|intersects|in|exists|regex)(?=[\s("']|$)/
const IDENT = /^[a-zA-Z_][\w.-]*(?:\[[^\]\s]*\])?/
const BARE = /^[^\s(),]+/
const KEYWORD = /^(and|or|not)(?![\w.-])/

// Byte-oriented operators compare the UTF-8 text the same way here; regex has no
// equivalent in the engine.
const OP: Record<string, Op | undefined> = {
  '==': '=',
  '=': '=',
  '!=': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  contains: 'contains',
  bcontains: 'contains',
  icontains: 'icontains',
  startswith: 'startswith',
  bstartswith: 'startswith',
  endswith: 'endswith',
  glob: 'glob',
  iglob: 'iglob',
  pmatch: 'pmatch',
  in: 'in',
  intersects: 'intersects',
  exists: 'exists',
}

const TAKES_LIST = new Set(['in', 'intersects', 'pmatch'])

/** An item of a list or a bare value: a number when it reads as one. */
export function falcoLiteral(text: string, quoted: boolean): string | number {
  return !quoted && /^-?(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(text) ? Number(text) : text
}

/** List items as Falco writes them: `'"quoted"'` keeps its inner text. */
export function unquoteItem(item: string | number): string | number {
  return typeof item === 'string' && /^"[^"]*"$|^'[^']*'$/.test(item) ? item.slice(1, -1) : item
}

/** Parses one condition; field names cordon lacks are added to `missing`. */
export function parseFalcoCondition(src: string, scope: FalcoScope, missing: Set<string>): Expr {
  let pos = 0
  const rest = () => src.slice(pos)
  const ws = () => {
    while (pos < src.length && /\s/.test(src[pos]!)) pos++
  }
  const keyword = (word: string) => {
    ws()
    const m = KEYWORD.exec(rest())
    if (m?.[1] !== word) return false
    pos += word.length
    return true
  }
  const fail = (message: string): never => {
    throw new ExprError(message, pos)
  }

  function or(): Expr {
    let left = and()
    while (keyword('or')) left = { kind: 'or', left, right: and() }
    return left
  }
  function and(): Expr {
    let left = not()
    while (keyword('and')) left = { kind: 'and', left, right: not() }
    return left
  }
  function not(): Expr {
    if (keyword('not')) return { kind: 'not', expr: not() }
    return primary()
  }
  function quoted(): string {
    const q = src[pos]!
    let out = ''
    for (pos++; pos < src.length && src[pos] !== q; pos++) {
      if (src[pos] === '\\' && pos + 1 < src.length) pos++
      out += src[pos]
    }
    if (pos >= src.length) fail('unterminated string')
    pos++
    return out
  }
  function item(): { value: string | number; quoted: boolean } {
    ws()
    const c = src[pos]
    if (c === '"' || c === "'") return { value: quoted(), quoted: true }
    const m = BARE.exec(rest())
    if (!m) return fail(`expected a value, found \`${src[pos] ?? 'the end'}\``)
    pos += m[0].length
    return { value: falcoLiteral(m[0], false), quoted: false }
  }
  function values(list: boolean): (string | number)[] {
    ws()
    if (src[pos] !== '(') {
      if (list) fail('expected a list `(a, b, …)`')
      return [item().value]
    }
    pos++
    const out: (string | number)[] = []
    ws()
    if (src[pos] === ')') {
      pos++
      return out
    }
    for (;;) {
      const { value, quoted: q } = item()
      const named = !q && typeof value === 'string' ? scope.list(value) : undefined
      out.push(...(named ?? [value]))
      ws()
      if (src[pos] === ')') {
        pos++
        return out
      }
      if (src[pos] !== ',') fail(`expected \`,\` or \`)\`, found \`${src[pos] ?? 'the end'}\``)
      pos++
    }
  }
  function skipCall(): void {
    // A transformer, tolower(field): cordon has none; skip its argument.
    let depth = 0
    do {
      if (src[pos] === '(') depth++
      else if (src[pos] === ')') depth--
      pos++
    } while (depth > 0 && pos < src.length)
  }
  function primary(): Expr {
    ws()
    if (src[pos] === '(') {
      pos++
      const e = or()
      ws()
      if (src[pos] !== ')') fail(`expected \`)\`, found \`${src[pos] ?? 'the end'}\``)
      pos++
      return e
    }
    const start = pos
    const id = IDENT.exec(rest())
    if (!id) return fail(`expected a field or macro, found \`${src[pos] ?? 'the end'}\``)
    pos += id[0].length
    let field = id[0]
    if (src[pos] === '(') {
      skipCall()
      missing.add(`${field}()`)
      field = `${field}()`
    }
    ws()
    const sym = SYMBOL_OPS.exec(rest())
    const word = sym ? undefined : WORD_OPS.exec(rest())
    const opText = sym?.[1] ?? word?.[1]
    if (!opText) {
      const macro = scope.macro(field, missing)
      if (macro) return macro
      pos = start
      return fail(`\`${field}\` is neither a macro nor a field followed by an operator`)
    }
    pos += opText.length
    const op = OP[opText]
    if (!op) missing.add(`${opText} (operator)`)
    if (!field.endsWith('()') && !falcoField(field)) missing.add(field)
    if (opText === 'exists') return { kind: 'cmp', field, op: 'exists', values: [] }
    const vals = values(TAKES_LIST.has(opText))
    return { kind: 'cmp', field, op: op ?? '=', values: vals }
  }

  ws()
  if (pos >= src.length) fail('empty condition')
  const e = or()
  ws()
  if (pos < src.length) fail(`unexpected \`${rest().slice(0, 20)}\` (missing and/or?)`)
  return e
}
