// A small schema toolkit: one definition gives the validator (collecting every issue with its
// path), the TypeScript type (Infer) and the published JSON Schema. We use our own rather than
// zod to keep CLI start-up under budget and to word every message the way users need.
import { describeValue, type Issue, suggest } from '../errors.js'

export type Path = (string | number)[]
export type JsonSchema = { [key: string]: unknown }

export interface Schema<T> {
  /** Returns the value, or undefined after pushing at least one issue. */
  check(value: unknown, path: Path, issues: Issue[]): T | undefined
  jsonSchema(): JsonSchema
  /** What a valid value looks like, for messages: `a size like "512M"`. */
  readonly expected: string
}

export type Infer<S> = S extends Schema<infer T> ? T : never

export interface Optional<T> extends Schema<T> {
  readonly optional: true
}

function fail(issues: Issue[], path: Path, expected: string, value: unknown, fix = ''): undefined {
  issues.push({
    code: 'invalid_type',
    path,
    message: `Expected \`${pathLabel(path)}\` to be ${expected}, got ${describeValue(value)}${fix}`,
  })
  return undefined
}

function pathLabel(path: Path): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part
  return out || 'policy'
}

export function string(
  options: {
    description?: string
    expected?: string
    check?: (v: string) => string | undefined
    /** The fix for a value of another type, after "; " (a number where a unit is wanted). */
    fixType?: (v: unknown) => string | undefined
  } = {},
): Schema<string> {
  const expected = options.expected ?? 'a string'
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'string') {
        const fix = options.fixType?.(value)
        return fail(issues, path, expected, value, fix ? `; ${fix}` : '')
      }
      const problem = options.check?.(value)
      if (problem) {
        issues.push({ code: 'invalid_value', path, message: `\`${pathLabel(path)}\`: ${problem}` })
        return undefined
      }
      return value
    },
    jsonSchema: () => ({
      type: 'string',
      ...(options.description ? { description: options.description } : {}),
    }),
  }
}

export function integer(options: { min: number; max: number; description?: string }): Schema<number> {
  const expected = `an integer from ${options.min} to ${options.max}`
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < options.min || value > options.max)
        return fail(issues, path, expected, value)
      return value
    },
    jsonSchema: () => ({
      type: 'integer',
      minimum: options.min,
      maximum: options.max,
      ...(options.description ? { description: options.description } : {}),
    }),
  }
}

export function boolean(description?: string): Schema<boolean> {
  return {
    expected: 'true or false',
    check: (value, path, issues) =>
      typeof value === 'boolean' ? value : fail(issues, path, 'true or false', value),
    jsonSchema: () => ({ type: 'boolean', ...(description ? { description } : {}) }),
  }
}

/** `meaning`: a word users write for one of the choices (`on` for a network, after other tools'
 * flags), offered as the fix where spelling alone would suggest the opposite (`on` → `none`). */
export function literal<const T extends string | number>(
  choices: readonly T[],
  description?: string,
  meaning: Readonly<Record<string, T>> = {},
): Schema<T> {
  const expected = `one of ${choices.map((c) => `\`${c}\``).join(', ')}`
  return {
    expected,
    check(value, path, issues) {
      if ((choices as readonly unknown[]).includes(value)) return value as T
      // `version: "1"`: the right value in the wrong type ("did you mean `1`?" said nothing).
      const retyped = choices.find((c) => typeof c !== typeof value && String(c) === String(value))
      const meant = Object.hasOwn(meaning, String(value).toLowerCase())
        ? meaning[String(value).toLowerCase()]
        : undefined
      const hint = meant ?? (typeof value === 'string' ? suggest(value, choices.map(String)) : undefined)
      const fix =
        retyped !== undefined
          ? `; write it as ${typeof retyped === 'number' ? `the number ${retyped}, without quotes` : `the string "${retyped}"`}`
          : hint
            ? `; did you mean \`${hint}\`?`
            : ''
      issues.push({
        code: 'invalid_value',
        path,
        message: `Expected \`${pathLabel(path)}\` to be ${expected}, got ${describeValue(value)}${fix}`,
      })
      return undefined
    },
    jsonSchema: () => ({ enum: [...choices], ...(description ? { description } : {}) }),
  }
}

export function array<T>(item: Schema<T>, description?: string): Schema<T[]> {
  // A compound item (`a mapping with one of …`) reads badly with a plural -s (helper-134).
  const one = item.expected.replace(/^an? /, '')
  const expected = /\s/.test(one) ? `a list, each item ${item.expected}` : `a list of ${one}s`
  return {
    expected,
    check(value, path, issues) {
      if (!Array.isArray(value)) return fail(issues, path, expected, value)
      const out: T[] = []
      const before = issues.length
      value.forEach((v, i) => {
        const r = item.check(v, [...path, i], issues)
        if (r !== undefined) out.push(r)
      })
      return issues.length === before ? out : undefined
    },
    jsonSchema: () => ({ type: 'array', items: item.jsonSchema(), ...(description ? { description } : {}) }),
  }
}

export function record<T>(
  value: Schema<T>,
  key: Schema<string>,
  description?: string,
): Schema<Record<string, T>> {
  const expected = 'a mapping'
  return {
    expected,
    check(input, path, issues) {
      if (!isPlainObject(input)) return fail(issues, path, expected, input)
      const out: Record<string, T> = {}
      const before = issues.length
      for (const [k, v] of Object.entries(input)) {
        key.check(k, [...path, k], issues)
        const r = value.check(v, [...path, k], issues)
        if (r !== undefined) out[k] = r
      }
      return issues.length === before ? out : undefined
    },
    jsonSchema: () => ({
      type: 'object',
      additionalProperties: value.jsonSchema(),
      ...(description ? { description } : {}),
    }),
  }
}

export function optional<T>(schema: Schema<T>): Optional<T> {
  return { ...schema, optional: true }
}

type Shape = Record<string, Schema<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S]
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>
export type InferShape<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>
}

export function object<S extends Shape>(
  shape: S,
  options: {
    description?: string
    expected?: string
    /** What no single key can say: keys that contradict each other. The key to name, and why. */
    refine?: (value: InferShape<S>) => { key: keyof S & string; message: string } | undefined
  } = {},
): Schema<InferShape<S>> {
  const keys = Object.keys(shape)
  const expected = options.expected ?? 'a mapping'
  return {
    expected,
    check(value, path, issues) {
      if (!isPlainObject(value)) return fail(issues, path, expected, value)
      const before = issues.length
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(value)) {
        if (k in shape) continue
        const hint = suggest(k, keys)
        issues.push({
          code: 'unknown_key',
          path: [...path, k],
          message: `Unknown key \`${k}\` in \`${pathLabel(path)}\`${hint ? `; did you mean \`${hint}\`?` : `; expected one of ${keys.map((x) => `\`${x}\``).join(', ')}`}`,
        })
      }
      for (const k of keys) {
        const schema = shape[k]!
        const v = value[k]
        if (v === undefined) {
          if (!('optional' in schema))
            issues.push({
              code: 'missing_key',
              path: [...path, k],
              message: `Missing \`${pathLabel([...path, k])}\`: expected ${schema.expected}`,
            })
          continue
        }
        const r = schema.check(v, [...path, k], issues)
        if (r !== undefined) out[k] = r
      }
      if (issues.length !== before) return undefined
      const wrong = options.refine?.(out as InferShape<S>)
      if (wrong) {
        issues.push({
          code: 'conflict',
          path: [...path, wrong.key],
          message: `\`${pathLabel([...path, wrong.key])}\` ${wrong.message}`,
        })
        return undefined
      }
      return out as InferShape<S>
    },
    jsonSchema: () => ({
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(keys.map((k) => [k, shape[k]!.jsonSchema()])),
      required: keys.filter((k) => !('optional' in shape[k]!)),
      ...(options.description ? { description: options.description } : {}),
    }),
  }
}

/** A value either schema accepts (the first that does); a value neither does gets one message. */
export function either<A, B>(a: Schema<A>, b: Schema<B>, description?: string): Schema<A | B> {
  const expected = `${a.expected} or ${b.expected}`
  return {
    expected,
    check(value, path, issues) {
      for (const schema of [a, b] as Schema<A | B>[]) {
        const scratch: Issue[] = []
        const out = schema.check(value, path, scratch)
        if (scratch.length === 0) return out
      }
      return fail(issues, path, expected, value)
    },
    jsonSchema: () => ({ oneOf: [a.jsonSchema(), b.jsonSchema()], ...(description ? { description } : {}) }),
  }
}

/** One item or a list of them, always given back as a list: `extends: default` reads as
 * `extends: [default]`, the way one writes a single entry (compose's `env_file`). */
export function oneOrList<T>(item: Schema<T>, description?: string): Schema<T[]> {
  const list = array(item)
  const expected = `${item.expected}, or a list of them`
  return {
    expected,
    check(value, path, issues) {
      if (Array.isArray(value)) return list.check(value, path, issues)
      if (typeof value !== 'string') return fail(issues, path, expected, value)
      const one = item.check(value, path, issues)
      return one === undefined ? undefined : [one]
    },
    jsonSchema: () => ({
      oneOf: [item.jsonSchema(), list.jsonSchema()],
      ...(description ? { description } : {}),
    }),
  }
}

/** Either a string shorthand or the long form; the long form's messages win when it is a mapping. */
export function shorthand<T>(short: Schema<T>, long: Schema<T>, description?: string): Schema<T> {
  const expected = `${short.expected} or ${long.expected}`
  return {
    expected,
    check(value, path, issues) {
      if (typeof value === 'string') return short.check(value, path, issues)
      if (isPlainObject(value)) return long.check(value, path, issues)
      return fail(issues, path, expected, value)
    },
    jsonSchema: () => ({
      oneOf: [short.jsonSchema(), long.jsonSchema()],
      ...(description ? { description } : {}),
    }),
  }
}

/** Exactly one key of a set, as in `- ro: /usr` (a tagged union). */
export function oneKey<S extends Shape>(
  variants: S,
  description?: string,
): Schema<{ [K in keyof S]: { [P in K]: Infer<S[K]> } }[keyof S]> {
  const keys = Object.keys(variants)
  const expected = `a mapping with one of ${keys.map((k) => `\`${k}\``).join(', ')}`
  type Out = { [K in keyof S]: { [P in K]: Infer<S[K]> } }[keyof S]
  return {
    expected,
    check(value, path, issues) {
      if (!isPlainObject(value)) return fail(issues, path, expected, value)
      const present = Object.keys(value)
      if (present.length !== 1 || !(present[0]! in variants)) {
        const unknown = present.find((k) => !(k in variants))
        const hint = unknown ? suggest(unknown, keys) : undefined
        issues.push({
          code: present.length === 1 ? 'unknown_key' : 'invalid_value',
          path: unknown ? [...path, unknown] : path,
          message: `Expected \`${pathLabel(path)}\` to be ${expected}, got ${present.length ? present.map((k) => `\`${k}\``).join(', ') : 'an empty mapping'}${hint ? `; did you mean \`${hint}\`?` : ''}`,
        })
        return undefined
      }
      const key = present[0]!
      const r = variants[key]!.check(value[key], [...path, key], issues)
      return r === undefined ? undefined : ({ [key]: r } as Out)
    },
    jsonSchema: () => ({
      oneOf: keys.map((k) => ({
        type: 'object',
        additionalProperties: false,
        required: [k],
        properties: { [k]: variants[k]!.jsonSchema() },
      })),
      ...(description ? { description } : {}),
    }),
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
