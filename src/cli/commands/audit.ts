// cordon run --audit: the policy's would-be denials, reported, not enforced.
import { Auditor, type Violation } from '../../learn/audit.js'
import { tracedRun, UNREADABLE_WHY } from '../../learn/learn.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { escapeControl } from '../../run/escape.js'
import type { ExitReason } from '../../run/sandbox-process.js'
import { describeStepError, isStep } from '../../run/launcher-steps.js'
import type { EventOutput } from '../event-output.js'
import { paint, warn } from '../output.js'
import { endAsTheCommand, FORWARDED } from '../signals.js'

export async function auditRun(
  policy: ResolvedPolicy,
  command: string,
  args: string[],
  out: EventOutput,
): Promise<number> {
  const auditor = new Auditor(policy)
  const run = await tracedRun(policy, command, args, {
    mode: 'audit',
    forwardSignals: FORWARDED,
    onEvent: (ev) => {
      // The traced calls are summarized by the audit record: the rest go on the channel as is.
      if (ev.event === 'syscall') {
        auditor.judge(ev)
        return
      }
      out.event(ev)
      if (ev.event === 'error' && out.human) warn(describeStepError(ev))
      // The launcher could not trace the sandbox: calls may fail with EINTR (learn/trace.ts).
      else if (ev.event === 'warning' && isStep(ev.step, 'seccomp trace') && out.human)
        warn(`warning: ${ev.step}: ${ev.message}`)
    },
  })
  out.record({ event: 'result', reason: run.result.reason, code: run.result.code })
  out.record({
    event: 'audit',
    violations: auditor.violations,
    fallbacks: auditor.fallbacks,
    ...(run.unreadable ? { unjudged: run.unreadable } : {}),
  })
  if (out.human) report(auditor.violations, auditor.fallbacks, run.result, run.unreadable)
  endAsTheCommand(run.result)
  return run.result.code
}

/** How far the run went, for the verdict: not "everything this run did" of a run that never
 * started, or one cut short (helper-114). */
const CUT: Partial<Record<ExitReason, string>> = {
  timeout: 'until its timeout killed it',
  aborted: 'until it was aborted',
  oom: 'until the memory limit killed it',
  pids: 'until it hit the pids limit',
}

/** The would-be denials for a person; what the program did (paths, names) is escaped. */
function report(
  violations: Violation[],
  fallbacks: Violation[],
  { reason, signal }: { reason: ExitReason; signal?: string | undefined },
  unjudged: number,
): void {
  const c = paint(process.stderr)
  // Never a clean verdict over calls it could not see (helper-142).
  if (unjudged)
    warn(
      `audit: ${unjudged} calls could not be judged: ${UNREADABLE_WHY}. Audit as root to judge them`,
      c.yellow,
    )
  if (fallbacks.length)
    warn(
      `audit: answered ENOSYS (libc falls back to an older call): ${fallbacks.map((f) => f.what).join(', ')}`,
    )
  if (!violations.length) {
    if (reason === 'setup') warn('audit: the command did not run, so nothing was judged')
    else {
      const cut = reason === 'signal' ? `until ${signal ?? 'a signal'} ended it` : CUT[reason]
      // Not green over calls it could not judge: everything *else*.
      warn(
        `audit: the policy would have allowed everything ${unjudged ? 'else ' : ''}this run did${cut ? ` ${cut}` : ''}`,
        unjudged ? undefined : c.green,
      )
    }
    return
  }
  warn(`audit: the policy would have denied ${violations.length}:`, c.yellow)
  const e = escapeControl
  // Calls one grant allows are listed together, above it: one grant, said once.
  const bySuggestion = new Map<string, Violation[]>()
  for (const v of violations) bySuggestion.set(v.suggestion, [...(bySuggestion.get(v.suggestion) ?? []), v])
  for (const [suggestion, group] of bySuggestion) {
    for (const v of group) process.stderr.write(`  ${c.bold(e(v.layer))} ${e(v.what)} → ${e(v.outcome)}\n`)
    process.stderr.write(`      ${c.dim(`allow with ${e(suggestion)}`)}\n`)
  }
}
