// The load report of a rule set: for each Falco rule, whether it runs and, when not, the fields
// cordon lacks. Said at load (one notice per rule that does not run as written) and in full by
// `cordon monitor --check`.
import { mentions } from './expr.js'
import type { Rule } from './rule-model.js'
import type { RuleSet } from './rules.js'

/** What this caller's sandboxes can report: a cgroup (OOM kills, refused forks, usage), and
 * whether process exits carry their status (the proc connector; polling /proc sees none). */
export interface Reach {
  cgroup: { ok: boolean; why: string }
  exitStatus: boolean
  /** The launcher's audit tap can attribute denials: root, with the kernel's audit on. */
  audit: boolean
}

/** The events only a sandbox's cgroup gives. */
const CGROUP_EVENTS = new Set(['oom', 'pids-limit', 'stats'])

/** Why `rule` cannot fire (or only in part) for this caller's sandboxes; undefined when it can. */
export function inertHere(rule: Rule, reach: Reach): string | undefined {
  const events = [...rule.events]
  if (!reach.cgroup.ok && events.length && events.every((e) => CGROUP_EVENTS.has(e)))
    return `never fires for this user: its ${events.join(', ')} events come from a cgroup, and ${reach.cgroup.why}`
  if (!reach.audit && events.length && events.every((e) => e === 'denied'))
    return "never fires here: denied events come from the kernel's audit log, which only root's launcher reads, with audit on (see cordon check)"
  if (
    !reach.exitStatus &&
    rule.events.has('process') &&
    (mentions(rule.when, 'signal') || mentions(rule.when, 'code'))
  )
    return "sees only the command's own exit status: this user's launcher polls /proc (no proc connector), which sees none for the other processes"
  return undefined
}

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

/** One line per rule, for `cordon monitor --check`; with `reach`, what of each this caller's
 * sandboxes cannot report. */
export function reportLines(set: RuleSet, reach?: Reach): string[] {
  const falco = new Set(set.report.map((r) => r.rule))
  const lines = set.rules
    .filter((r) => !falco.has(r.name))
    .map((r) => {
      const inert = reach && inertHere(r, reach)
      return `loaded       ${r.name} (${r.source})${inert ? `: ${inert}` : ''}`
    })
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
