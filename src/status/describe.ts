// Statement statuses as `cordon plan` and `cordon check` list them: one line each.
import type { StatementStatus } from './statements.js'

type Paint = (s: string) => string
const plain: Paint = (s) => s

export function statementLines(
  statements: readonly StatementStatus[],
  paint: { red: Paint; green: Paint; yellow: Paint; dim: Paint } = {
    red: plain,
    green: plain,
    yellow: plain,
    dim: plain,
  },
): string[] {
  const label = { full: paint.green, partial: paint.yellow, none: paint.red }
  return statements.map(
    (s) =>
      `  ${label[s.status](s.status.padEnd(7))} ${s.statement}: ${s.enforcedBy.join(' + ') || 'nothing'}` +
      (s.missing.length
        ? paint.dim(` (missing ${s.missing.map((m) => `${m.layer}: ${m.why}`).join('; ')})`)
        : ''),
  )
}
