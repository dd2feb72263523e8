// What `cordon run` tells a person and the event channel about a run: the few events a person
// needs on stderr, the statements enforced with fewer layers, and how the run ended. Shared by
// the run command and its lean path (cli/run-fast.ts), so that both say the same.
import type { Backend } from '../backends/runtime.js'
import type { Limits } from '../cgroup/driver.js'
import type { ExitReason, ExitResult } from '../run/sandbox-process.js'
import type { SandboxEvent } from '../run/event-types.js'
import { describeStepError } from '../run/launcher-steps.js'
import type { StatementStatus } from '../status/statements.js'
import { availableParallelism, totalmem } from 'node:os'
import { sizeWord } from '../policy/size-word.js'
import { isQuiet, warn } from './output.js'

/** Where a run's events and lines go (cli/event-output.ts EventOutput; the lean path's has no
 * channel): `human` when stderr gets the lines a person reads. */
export interface RunOutput {
  readonly human: boolean
  readonly dropped: number
  event(ev: SandboxEvent): void
  record(value: { event: string } & Record<string, unknown>): void
}

const mib = (bytes = 0) => (bytes >= 2 ** 20 ? `${+(bytes / 2 ** 20).toFixed(1)} MiB` : `${bytes} bytes`)

export const REASONS: Partial<
  Record<ExitReason, (p: { limits: Limits & { timeoutMs?: number } }) => string>
> = {
  oom: (p) => `out of memory: the sandbox reached its ${mib(p.limits.memory)} limit and the kernel killed it`,
  pids: (p) => `the sandbox hit its limit of ${p.limits.pids} processes (forks were refused)`,
  timeout: (p) => `timed out after ${p.limits.timeoutMs} ms: the whole sandbox was killed`,
}

/** killedBy: the `cordon kill` that ended it (registry.ts markKilled), which only cordon notes. */
export function reportEnd(
  result: ExitResult,
  policy: { limits: Limits & { timeoutMs?: number } },
  out: RunOutput,
  killedBy?: string,
): void {
  const byCordon = killedBy !== undefined && result.reason === 'signal' ? killedBy : undefined
  out.record({
    event: 'result',
    reason: result.reason,
    code: result.code,
    stats: result.stats,
    ...(byCordon ? { killedBy: byCordon } : {}),
    ...(out.dropped ? { eventsDropped: out.dropped } : {}),
  })
  const say = REASONS[result.reason]
  if (say && out.human) warn(say(policy))
  else if (byCordon && out.human) warn(`killed by \`${byCordon}\`: the whole sandbox was killed`)
}

/** Best effort is explicit: say which statements this run enforces with fewer layers. `asked`:
 * the limits this command line asked for (`memory` for --memory 64M): one that nothing enforces
 * is said under -q too, which hides the warnings a host's gaps repeat at every run. */
export function reportEnforcement(
  statements: StatementStatus[],
  out: RunOutput,
  backend?: Backend,
  asked: readonly string[] = [],
): void {
  out.record({ event: 'status', ...(backend ? { backend } : {}), statements })
  if (!out.human) return
  const partial = statements.filter((s) => s.status === 'partial')
  const none = statements.filter((s) => s.status === 'none')
  const lines: string[] = []
  if (partial.length) {
    const why = [...new Set(partial.flatMap((s) => s.missing.map((m) => m.why)))].join('; ')
    // A few are named: one gap (no cgroup for a plain user) otherwise read as said twice, once
    // here for `limit pids` (rlimit only) and once below for `limit memory` (nothing).
    const which = partial.length <= 3 ? `: ${partial.map((s) => s.statement).join(', ')}` : ''
    lines.push(
      `warning: ${partial.length} of ${statements.length} statements enforced by fewer layers than possible (${why})${which}`,
    )
  }
  if (none.length)
    lines.push(
      `warning: not enforced: ${none.map((s) => `${s.statement} (${s.missing[0]?.why})`).join(', ')}`,
    )
  // Said at every run on such a host: where the details are, and how to stop hearing it. A
  // limit the host cannot enforce for this caller (no cgroup) has two answers besides -q, which
  // a newcomer did not find (helper-134): refuse such a run, or ask for no limit.
  const plan = backend && backend !== 'native' ? `cordon plan --backend ${backend}` : 'cordon plan'
  const limits = [...partial, ...none].some((s) => s.statement.startsWith('limit '))
    ? '; `--require limits` refuses such a run, `--memory max --pids max` asks for no limit'
    : ''
  if (lines.length) lines[lines.length - 1] += ` [\`${plan}\` lists each statement${limits}; -q hides this]`
  for (const line of lines) warn(line)
  if (!isQuiet()) return
  for (const word of asked) {
    const s = none.find((n) => n.statement.startsWith(`limit ${word} `))
    if (s)
      warn(
        `not enforced: ${s.statement}, asked for by --${word} (${s.missing[0]?.why}); \`--require limits\` refuses such a run`,
      )
  }
}

/** Every event on the channel; the few a person needs on stderr, escaped by warn(). */
export function report(ev: SandboxEvent, out: RunOutput): void {
  out.event(ev)
  if (!out.human) return
  if (ev.event === 'error') warn(describeStepError(ev))
  else if (ev.event === 'warning') warn(`warning: ${ev.step}: ${ev.message}`)
  else if (ev.event === 'denied')
    warn(
      `denied by ${ev.layer}: ${ev.blockers} ${ev.path ?? ev.port ?? ev.object ?? ''} (${ev.exe}, pid ${ev.pid})`,
    )
}

/** Limits this host cannot reach limit nothing here: valid (a policy travels between hosts),
 * but worth a word. */
export function limitsBeyondHost(limits: Limits): string[] {
  const out: string[] = []
  if (limits.memory !== undefined && limits.memory > totalmem())
    out.push(
      `memory ${sizeWord(limits.memory)} is more than this host has (${sizeWord(totalmem())}), so it limits nothing here`,
    )
  if (limits.cpus !== undefined && limits.cpus > availableParallelism())
    out.push(
      `cpus ${limits.cpus} is more than this host has (${availableParallelism()}), so it limits nothing here`,
    )
  return out
}
