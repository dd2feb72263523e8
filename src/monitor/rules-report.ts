// The load report of a rule set: for each Falco rule, whether it runs and, when not, the fields
// cordon lacks. Said at load (one notice per rule that does not run as written) and in full by
// `cordon monitor --check`.
import type { RuleSet } from './rules.js'

/** Notices for the session's log: rules not loaded, outputs with <NA>, items read past. */
export function loadNotices(set: RuleSet): string[] {
  const out = [...set.notes]
  const bySource = new Map<string, RuleSet['report']>()
  for (const r of set.report) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r])
  for (const [source, rules] of bySource) {
    const count = (s: string) => rules.filter((r) => r.status === s).length
    out.push(
      `${source}: Falco rules: ${count('loaded')} loaded, ${count('not mapped')} not mapped to cordon's fields, ${count('disabled')} disabled, ${count('other source')} for other event sources`,
    )
    for (const r of rules) {
      if (r.status === 'not mapped')
        out.push(`${source}: rule "${r.rule}" not loaded: cordon has no ${r.missing.join(', ')}`)
      else if (r.status === 'loaded' && r.outputMissing.length)
        out.push(`${source}: rule "${r.rule}": its output shows <NA> for ${r.outputMissing.join(', ')}`)
    }
  }
  return out
}

/** One line per rule, for `cordon monitor --check`. */
export function reportLines(set: RuleSet): string[] {
  const falco = new Set(set.report.map((r) => r.rule))
  const lines = set.rules.filter((r) => !falco.has(r.name)).map((r) => `loaded       ${r.name} (${r.source})`)
  for (const r of set.report) {
    const why =
      r.status === 'not mapped'
        ? `: cordon has no ${r.missing.join(', ')}`
        : r.status === 'other source'
          ? `: source ${r.eventSource} (cordon sees syscall events)`
          : r.outputMissing.length
            ? `: output shows <NA> for ${r.outputMissing.join(', ')}`
            : ''
    lines.push(`${r.status.padEnd(12)} ${r.rule} (${r.source})${why}`)
  }
  return [...set.notes, ...lines]
}
