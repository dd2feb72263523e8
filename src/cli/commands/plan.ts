// cordon plan [POLICY] [flags] [--json]: the kernel operations a policy becomes, in order.
import { parseArgs } from 'node:util'
import { compilePlan } from '../../plan/compile.js'
import { describePlan, planToJson } from '../../plan/describe.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'

const HELP = `Usage: cordon plan [POLICY] [options]

Prints the operations the launcher will perform for a policy, in order, with notes on why
(layers merged, entries replaced or skipped, capabilities kept).

${POLICY_HELP}

      --json, --explain  JSON output / the readable listing (the default)
  -h, --help             this help
`

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...POLICY_OPTIONS,
      json: { type: 'boolean' },
      explain: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const plan = compilePlan(policyFromFlags(values, positionals[0]))
  process.stdout.write(
    values.json ? `${JSON.stringify(planToJson(plan), null, 2)}\n` : `${describePlan(plan)}\n`,
  )
  return 0
}
