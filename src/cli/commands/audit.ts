// cordon run --audit: the policy's would-be denials, reported, not enforced.
import { Auditor, type Violation } from '../../learn/audit.js'
import { tracedRun } from '../../learn/learn.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { describeStepError } from '../../run/events.js'
import { paint, warn } from '../output.js'
import { FORWARDED } from './run.js'

export async function auditRun(
  policy: ResolvedPolicy,
  command: string,
  args: string[],
  json: boolean,
): Promise<number> {
  const auditor = new Auditor(policy)
  const run = await tracedRun(policy, command, args, {
    mode: 'audit',
    forwardSignals: FORWARDED,
    onEvent: (ev) => {
      if (ev.event === 'syscall') auditor.judge(ev)
      else if (ev.event === 'error') warn(describeStepError(ev))
    },
  })
  report(auditor.violations, auditor.fallbacks, json)
  return run.result.code
}

function report(violations: Violation[], fallbacks: Violation[], json: boolean): void {
  if (json) {
    process.stderr.write(`${JSON.stringify({ event: 'audit', violations, fallbacks })}\n`)
    return
  }
  const c = paint(process.stderr)
  if (fallbacks.length)
    warn(
      `audit: answered ENOSYS (libc falls back to an older call): ${fallbacks.map((f) => f.what).join(', ')}`,
    )
  if (!violations.length) {
    warn(c.green('audit: the policy would have allowed everything this run did'))
    return
  }
  warn(c.yellow(`audit: the policy would have denied ${violations.length}:`))
  for (const v of violations)
    process.stderr.write(
      `  ${c.bold(v.layer)} ${v.what} → ${v.outcome}\n      ${c.dim(`allow with ${v.suggestion}`)}\n`,
    )
}
