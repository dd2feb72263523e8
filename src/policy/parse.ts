// Policy text → validated Policy, with every issue located as file:line:col and the offending
// line under a caret. JSON is parsed natively and YAML by js-yaml (one small module: ~10 ms of
// CLI start-up instead of ~30 ms). Only when a policy is invalid do we load the `yaml` package,
// whose syntax tree keeps source positions, to point at the offending node.
import { readFileSync } from 'node:fs'
import type { YAMLException } from 'js-yaml'
import { builtin } from '../builtin.js'
import { CordonError, fileProblem, type Issue } from '../errors.js'
import { fsPath } from '../host/path-bytes.js'
import { type Policy, policySchema } from './schema.js'

type JsYamlModule = typeof import('js-yaml')
let jsYamlModule: JsYamlModule | undefined
/** js-yaml, loaded on the first YAML text: building its schemas costs ~5 ms of a start that
 * reads no YAML (a plain `cordon run`, spawn() of a Policy object). */
export function jsYaml(): JsYamlModule {
  jsYamlModule ??= builtin('node:module').createRequire(import.meta.url)('js-yaml') as JsYamlModule
  return jsYamlModule
}

type YamlModule = typeof import('yaml')
let yamlModule: YamlModule | undefined
function yaml(): YamlModule {
  yamlModule ??= builtin('node:module').createRequire(import.meta.url)('yaml') as YamlModule
  return yamlModule
}

export type PolicyFormat = 'yaml' | 'json'

/** Validates an in-memory policy (a TS object); label names it in messages. */
export function validatePolicy(value: unknown, label = 'policy'): Policy {
  const issues: Issue[] = []
  const policy = policySchema.check(value, [], issues)
  if (policy === undefined || issues.length > 0) throw invalid(label, issues, () => undefined, '')
  return policy
}

/** Parses and validates policy text. */
export function parsePolicy(text: string, file: string, format: PolicyFormat = formatOf(file)): Policy {
  const value = text.trim() === '' ? null : format === 'json' ? parseJson(text, file) : parseYaml(text, file)
  // An empty file (or one with only comments) is a mistake to name, not a type to explain.
  if (value === undefined || value === null)
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: ${file} is empty; write at least \`extends: [default]\` (see \`cordon schema\`, or --profile NAME for a built-in one)`,
      { issues: [{ code: 'missing_key', path: [], message: `${file} is empty` }] },
    )
  const issues: Issue[] = []
  const policy = policySchema.check(value, [], issues)
  if (policy === undefined || issues.length > 0) throw invalid(file, issues, locator(text), text)
  return policy
}

/** Reads, parses and validates a policy file. */
export function loadPolicyFile(file: string): Policy {
  let text: string
  try {
    text = readFileSync(fsPath(file), 'utf8')
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    throw new CordonError(
      'not_found',
      code === 'ENOENT'
        ? `Policy file ${file} does not exist; check the path, or use --profile NAME for a built-in profile`
        : `Policy file ${file} ${fileProblem(cause)}; give a readable YAML or JSON policy file`,
      { cause },
    )
  }
  return parsePolicy(text, file)
}

function formatOf(file: string): PolicyFormat {
  return file.endsWith('.json') ? 'json' : 'yaml'
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch (cause) {
    const at = /position (\d+)/.exec((cause as Error).message)
    const offset = at ? Number(at[1]) : 0
    const where = position(text, offset)
    throw new CordonError(
      'invalid_policy',
      `${file}:${where.line}:${where.col}: ${(cause as Error).message}\n${caret(text, where)}`,
      {
        issues: [{ code: 'invalid_syntax', path: [], message: (cause as Error).message }],
        cause,
      },
    )
  }
}

function parseYaml(text: string, file: string): unknown {
  try {
    return jsYaml().load(text, { filename: file })
  } catch (cause) {
    const e = cause as YAMLException
    const where = { line: (e.mark?.line ?? 0) + 1, col: (e.mark?.column ?? 0) + 1 }
    throw new CordonError(
      'invalid_policy',
      `${file}:${where.line}:${where.col}: ${e.reason}\n${caret(text, where)}`,
      {
        issues: [{ code: 'invalid_syntax', path: [], message: e.reason }],
        cause,
      },
    )
  }
}

type Locate = (issue: Issue) => { line: number; col: number } | undefined

/** Finds the node an issue points at: the key itself for unknown keys, else the value. */
function locator(text: string): Locate {
  let doc: ReturnType<YamlModule['parseDocument']> | undefined
  return (issue) => {
    doc ??= yaml().parseDocument(text)
    const { isMap, isNode } = yaml()
    let path = issue.path
    if (issue.code === 'missing_key') path = path.slice(0, -1)
    if (issue.code === 'unknown_key') {
      const parent: unknown = doc.getIn(path.slice(0, -1), true)
      if (isMap(parent)) {
        const pair = parent.items.find(
          (p) => isNode(p.key) && (p.key as { value?: unknown }).value === path.at(-1),
        )
        const range = isNode(pair?.key) ? pair.key.range : undefined
        if (range) return position(text, range[0])
      }
    }
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = doc.getIn(path.slice(0, n), true)
      if (isNode(node) && node.range) return position(text, node.range[0])
    }
    return undefined
  }
}

/** Where the node at path starts in YAML text (for other files cordon reads: rules). */
export function locateIn(
  text: string,
  path: (string | number)[],
  at: 'key' | 'value' = 'value',
): { line: number; col: number } | undefined {
  return locator(text)({ code: at === 'key' ? 'unknown_key' : 'invalid_value', path, message: '' })
}

/** Every issue, in file order (the schema finds them in its own key order): a reader fixes
 * them top to bottom. Issues with no position keep their order, after the rest. */
function invalid(label: string, found: Issue[], locate: Locate, text: string): CordonError {
  const placed = found.map((issue) => ({ issue, where: locate(issue) }))
  const at = (w: { line: number; col: number } | undefined) => (w ? w.line * 1e6 + w.col : Infinity)
  placed.sort((a, b) => at(a.where) - at(b.where))
  const issues = placed.map((p) => p.issue)
  const lines = placed.map(({ issue, where }) => {
    if (!where) return `${label}: ${issue.message}`
    return `${label}:${where.line}:${where.col}: ${issue.message}\n${caret(text, where).replace(/^/gm, '  ')}`
  })
  const plural = issues.length === 1 ? '1 problem' : `${issues.length} problems`
  return new CordonError('invalid_policy', `Invalid policy (${plural}):\n  ${lines.join('\n  ')}`, { issues })
}

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1
  let start = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++
      start = i + 1
    }
  }
  return { line, col: offset - start + 1 }
}

/** A line longer than a terminal's is shown as a window around the column, each cut side an
 * ellipsis: a 60 KB path on one line was echoed whole, and the caret under a column far right
 * came after thousands of spaces (helper-118). */
const CARET_WINDOW = 100

function caret(text: string, where: { line: number; col: number }): string {
  let source = text.split('\n')[where.line - 1] ?? ''
  let col = where.col - 1
  if (source.length > CARET_WINDOW) {
    const from = Math.max(0, Math.min(col - CARET_WINDOW / 2, source.length - CARET_WINDOW))
    const to = from + CARET_WINDOW
    const before = from > 0 ? '…' : ''
    source = `${before}${source.slice(from, to)}${to < source.length ? '…' : ''}`
    col = col - from + before.length
  }
  const gutter = String(where.line)
  return `  ${gutter} | ${source}\n  ${' '.repeat(gutter.length)} | ${' '.repeat(col)}^`
}
