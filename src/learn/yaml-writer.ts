// The learned policy's YAML, line by line: scalars that read back as the same string, and
// comments a program cannot break out of (learn/generate.ts, learn/learned-seccomp.ts).
import { CONTROL, escapeControl } from '../run/escape.js'

/** A YAML scalar: plain when that reads back as the same string, else double-quoted (JSON).
 * Also audit's suggestions (audit.ts), which a person pastes into a policy.
 * What JSON leaves raw and a reader could be fooled by (C1, line separators, bidi overrides,
 * invisible format characters: escape.ts CONTROL) becomes a YAML escape of the same value. */
export function yamlScalar(v: string): string {
  return /^[A-Za-z_/][\w./@+-]*$/.test(v) && !/^(true|false|null|yes|no|on|off)$/i.test(v)
    ? v
    : JSON.stringify(v).replace(CONTROL, (c) => {
        const code = c.codePointAt(0)!
        return code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`
      })
}

const q = yamlScalar

/** Comment text on one line, as a person reads it. Comments carry what the program chose
 * (paths it tried, its own arguments): a line break in one would end the comment and let the
 * sandboxed program write policy keys into its own learned policy, and a bidi override or an
 * invisible character would make a reviewer read another path than the one there. The same
 * escaping as every other line cordon shows (run/escape.ts). */
const oneLine = escapeControl

/** A flow value: strings as scalars, lists and maps inline. */
export function flow(v: unknown): string {
  if (typeof v === 'string') return q(v)
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`
  if (v && typeof v === 'object')
    return `{ ${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${flow(x)}`)
      .join(', ')} }`
  return String(v)
}

export class YamlWriter {
  private readonly lines: string[] = []
  line(text: string, comment?: string) {
    this.lines.push(comment ? `${text}  # ${oneLine(comment)}` : text)
  }
  comment(text: string) {
    const indent = /^\s*/.exec(text)![0]
    this.lines.push(`${indent}# ${oneLine(text.trimStart())}`)
  }
  list(key: string, values: readonly string[]) {
    this.line(`${key}: [${values.map(q).join(', ')}]`)
  }
  map(key: string, value: Record<string, unknown>) {
    this.line(`${key}: ${flow(value)}`)
  }
  text() {
    return `${this.lines.join('\n')}\n`
  }
}
