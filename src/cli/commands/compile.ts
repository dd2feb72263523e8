// cordon compile [POLICY] [flags] -o FILE [-- COMMAND...]: a plan cordon-exec runs without Node.
import { writeOutput } from '../output-file.js'
import { CordonError } from '../../errors.js'
import { callerContext } from '../../host/caller.js'
import { compilePlan } from '../../plan/compile.js'
import { ensureStateDirs } from '../../run/state-dir.js'
import { encodePlan } from '../../plan/encode.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'
import { refuseUnenforced, statementStatus } from '../../status/statements.js'
import { MAX_ABI } from '../../landlock/rights.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { note, QUIET_HELP, QUIET_OPTION, warn } from '../output.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon compile [POLICY] [options] -o FILE [-- COMMAND [ARG...]]

Compiles a policy into a binary plan for \`cordon-exec FILE -- COMMAND\`, which starts sandboxes
without Node (systemd units, container entrypoints, hot loops). Paths, ids and the working
directory are fixed at compile time; a COMMAND given here is the plan's default.
Keep the plan where the sandbox cannot write it.

${POLICY_HELP}

  -o, --output FILE      where to write the plan (required)
${QUIET_HELP}
  -h, --help             this help
`

const PLAN_LIMITS_FIX =
  'cordon-exec makes no cgroup and keeps no timer: give the unit or container those limits (`cordon export --to systemd|docker|kubernetes` writes them), or run the policy with `cordon run`'

/** The policy's limits a plan cannot hold by itself: cgroup limits (only RLIMIT_NPROC travels in
 * the plan, for callers in a user namespace) and the timeout, which is the supervisor's. */
function limitsWithoutSupervisor(policy: ResolvedPolicy, uid: number): string[] {
  const host = { uid, cgroup: { ok: false, why: 'no cgroup' } }
  const out = statementStatus(policy, MAX_ABI, undefined, host)
    .filter((s) => s.statement.startsWith('limit ') && s.status === 'none')
    .map((s) => s.statement)
  if (policy.limits.timeoutMs !== undefined) out.push(`limit timeout ${policy.limits.timeoutMs / 1000}s`)
  return out
}

export async function compileCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const parsed = parseCommand(
    dash >= 0 ? argv.slice(0, dash) : argv,
    {
      ...POLICY_OPTIONS,
      output: { type: 'string', short: 'o' },
      ...QUIET_OPTION,
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  if (!values.output)
    throw new CordonError('invalid_usage', 'compile needs -o FILE, where the plan is written')
  if (positionals.length > 1)
    throw new CordonError('invalid_usage', `unexpected \`${positionals[1]}\`: put the command after \`--\``)
  const command = dash >= 0 ? argv.slice(dash + 1) : undefined
  const ctx = { ...callerContext(), ...(command?.length ? { command } : {}) }
  const policy = policyFromFlags(values, positionals[0])
  // The plan hides the caller's state directories wherever its view would show them
  // (plan/state-mask.ts), which only existing ones can be: made first, as spawn() does.
  ensureStateDirs()
  const plan = compilePlan(policy, ctx)
  // A plan runs without cordon's checks: a gap no layer closes, even on the best kernel, is refused here.
  refuseUnenforced(
    policy,
    statementStatus(policy, MAX_ABI, undefined, { uid: ctx.uid, cgroup: { ok: true, why: '' } }),
  )
  const unenforced = limitsWithoutSupervisor(policy, ctx.uid)
  if (unenforced.length && policy.requireLimits)
    throw new CordonError(
      'invalid_policy',
      `the policy requires its limits (limits.require) but a plan run by cordon-exec alone cannot enforce ${unenforced.join('; ')}; ${PLAN_LIMITS_FIX}`,
    )
  // The policy's own warnings (wide binds, a filter that runs nothing…), as `run` prints them.
  for (const w of policy.warnings ?? []) warn(`warning: policy: ${w}`)
  for (const u of unenforced) note(`not enforced by the plan alone: ${u}`)
  if (unenforced.length) note(PLAN_LIMITS_FIX)
  const bytes = encodePlan(plan)
  writeOutput(values.output, bytes)
  note(`wrote ${values.output} (${bytes.length} bytes, ${plan.ops.length} operations)`)
  return 0
}
