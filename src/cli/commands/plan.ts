// cordon plan [POLICY] [flags] [--json]: the kernel operations a policy becomes, in order.
import { enforcementStatus, hostContext } from '../../status/context.js'
import { refuseUnenforced } from '../../status/statements.js'
import { compilePlan } from '../../plan/compile.js'
import { describePlan, planToJson } from '../../plan/describe.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon plan [POLICY] [options]

Prints the operations the launcher will perform for a policy, in order, with notes on why
(layers merged, entries replaced or skipped, capabilities kept).

${POLICY_HELP}

      --json, --explain  JSON output / the readable listing (the default)
  -h, --help             this help
`

export async function planCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      json: { type: 'boolean' },
      explain: { type: 'boolean' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  const policy = policyFromFlags(values, positionals[0])
  const plan = compilePlan(policy)
  const host = hostContext()
  const statements = enforcementStatus(policy, host)
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...(planToJson(plan) as object), statements }, null, 2)}\n`)
    return 0
  }
  const lines = statements.map(
    (s) =>
      `  ${s.status.padEnd(7)} ${s.statement}: ${s.enforcedBy.join(' + ') || 'nothing'}` +
      (s.missing.length ? ` (missing ${s.missing.map((m) => `${m.layer}: ${m.why}`).join('; ')})` : ''),
  )
  const header = `statements on this host (Landlock ABI ${host.landlock.abi}):`
  // What `cordon run` would say of it: a plan is printed even when the run would be refused.
  let refusal = ''
  try {
    refuseUnenforced(policy, statements)
  } catch (e) {
    refusal = `\ncordon run would refuse this policy here: ${(e as Error).message}\n`
  }
  process.stdout.write(`${describePlan(plan)}\n\n${header}\n${lines.join('\n')}\n${refusal}`)
  return 0
}
