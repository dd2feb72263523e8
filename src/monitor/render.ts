// A rule's output with its fields filled in: `{field}` in cordon's rules, `%field` in Falco's.
// Also returns each field it showed with its value, which Falco's JSON calls output_fields.
import type { Fields, Value } from './expr.js'
import type { Rule } from './rule-model.js'

const NATIVE = /\{([\w.]+(?:\[\d+\])?)\}/g
// Falco's field syntax: a dotted name with an optional [argument] (proc.aname[2]).
const FALCO = /%([a-zA-Z_][\w]*(?:\.[\w]+)*(?:\[[^\]\s]*\])?)/g

// A fraction is shown to one decimal (a percentage of a limit read 91.326904296875%); the JSON
// fields keep the exact value.
const text = (v: Value): string =>
  typeof v === 'bigint'
    ? `0x${v.toString(16)}`
    : typeof v === 'object'
      ? v.join(',')
      : typeof v === 'number' && !Number.isInteger(v)
        ? String(Math.round(v * 10) / 10)
        : String(v)

const jsonValue = (v: Value): unknown =>
  v === undefined ? null : typeof v === 'bigint' ? `0x${v.toString(16)}` : v

export function renderOutput(
  rule: Pick<Rule, 'output' | 'dialect'>,
  fields: Fields,
  extra: Record<string, Value>,
): { text: string; fields: Record<string, unknown> } {
  const shown: Record<string, unknown> = {}
  const falco = rule.dialect === 'falco'
  const out = (rule.output ?? '').replace(falco ? FALCO : NATIVE, (_m, name: string) => {
    const v = name in extra ? extra[name] : fields(name)
    shown[name] = jsonValue(v)
    // Falco prints <NA> for a field it has no value for.
    return v === undefined ? (falco ? '<NA>' : '') : text(v)
  })
  return { text: out, fields: shown }
}

/** The fields an output shows (for the load report). */
export function outputFields(output: string, dialect: Rule['dialect']): string[] {
  return [...output.matchAll(dialect === 'falco' ? FALCO : NATIVE)].map((m) => m[1]!)
}
