// Text the sandbox controls (paths, program names, arguments, hostnames) reaches terminals, log
// files and syslog. One escaping function for every human-readable line, and one encoder for
// every JSON line, so that no byte of the sandbox can end a line, start a forged one, or drive
// the reader's terminal.

/**
 * What a line-oriented reader or a terminal could act on: C0 controls (newline, CR, ESC, BEL…),
 * DEL, C1 controls (U+0085 NEL, U+009B CSI), the Unicode line and paragraph separators, and the
 * bidirectional overrides that make text read differently than it is ("Trojan Source"), and the
 * invisible format characters that make two different names look the same (zero-width space
 * and joiners, bidi marks, word joiner, BOM, the tag characters U+E0000–E007F that hide ASCII).
 * A lone low surrogate is a byte of a path that is not UTF-8 (path-bytes.ts); the low half of
 * a real pair (U+1F480) is not.
 */
export const CONTROL =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /\udb40[\udc00-\udc7f]|(?<![\ud800-\udbff])[\udc80-\udcff]|[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' }

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0')

/**
 * One line a person reads, made safe: control characters become visible escapes (`\n`, `\r`,
 * `\t`, `\e`, `\xHH`, `\uHHHH`), and a backslash becomes `\\`, so an escape in the output always
 * means the byte was there (a path named `a\nb` and a path with a newline read differently).
 * Bytes of a path that are not UTF-8 show as `\xHH`.
 */
export function escapeControl(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(CONTROL, (c) => {
    const named = NAMED[c]
    if (named) return named
    // A byte that is not UTF-8, carried as a lone surrogate (path-bytes.ts): show the byte.
    if (c >= '\udc80' && c <= '\udcff') return `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`
    if (c.length === 2) return `\\u{${c.codePointAt(0)!.toString(16)}}`
    return c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`
  })
}

/**
 * JSON.stringify escapes C0 controls but leaves DEL, C1 (U+0085 NEL ends a line for Python's
 * splitlines) and U+2028/2029 (line breaks for many JSON-lines readers and older JavaScript)
 * raw. They can only occur inside JSON strings, so escaping them keeps the JSON identical in
 * value and each line one line for every reader.
 */
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029]/g

/** One JSON line's text (without the newline), safe for any line splitter and terminal. */
export function jsonLine(value: unknown, replacer?: (key: string, value: unknown) => unknown): string {
  return JSON.stringify(value, replacer).replace(JSON_UNSAFE, (c) => `\\u${hex(c, 4)}`)
}
