// Terminal output: colour only for a TTY, honouring NO_COLOR and FORCE_COLOR.
import { writeStderr } from '../host/stderr.js'
import { escapeControl } from '../run/escape.js'

export function useColor(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR) return false
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true
}

export function paint(stream: NodeJS.WriteStream) {
  const on = useColor(stream)
  const wrap = (code: number) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s)
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), dim: wrap(2), bold: wrap(1) }
}

/** Errors and warnings go to stderr, prefixed so they are told apart from the command's output.
 * The message is escaped (escapeControl): it may carry paths or names from the sandbox, and it
 * must stay one line that cannot drive the terminal; `color` paints it after escaping. */
export function warn(message: string, color: (s: string) => string = (s) => s): void {
  if (quiet && message.startsWith('warning:')) return
  writeStderr(`cordon: ${color(escapeControl(message))}\n`)
}

/** A note or warning for the person at the terminal (what was written, what was not granted or
 * not enforced): --quiet drops it. Errors, alerts and a command's own report use warn(). */
export function note(message: string, color: (s: string) => string = (s) => s): void {
  if (quiet) return
  writeStderr(`cordon: ${color(escapeControl(message))}\n`)
}

/** Rows as aligned columns: each column as wide as its widest cell, two spaces apart; the last
 * column (a command line) is not padded. Widths are counted in code points, not bytes. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length)
    })
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length)))
      .join('  ')
      .trimEnd(),
  )
}

/** -q for every command that prints notes; parseStrict (args.ts) applies it as it parses. */
export const QUIET_OPTION = { quiet: { type: 'boolean', short: 'q' } } as const
export const QUIET_HELP =
  '  -q, --quiet            no notes or warnings on stderr (errors and alerts still print)'

let quiet = false

/** --quiet: notes and warnings (warn() lines starting `warning:`) are dropped; errors and
 * alerts still print. */
export function setQuiet(on: boolean): void {
  quiet = on
}

export const isQuiet = (): boolean => quiet
