// cordon compile [POLICY] [flags] -o FILE [-- COMMAND...]: a plan cordon-exec runs without Node.
import { writeFileSync } from 'node:fs'
import { CordonError } from '../../errors.js'
import { callerContext, compilePlan } from '../../plan/compile.js'
import { encodePlan } from '../../plan/encode.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon compile [POLICY] [options] -o FILE [-- COMMAND [ARG...]]

Compiles a policy into a binary plan for \`cordon-exec FILE -- COMMAND\`, which starts sandboxes
without Node (systemd units, container entrypoints, hot loops). Paths, ids and the working
directory are fixed at compile time; a COMMAND given here is the plan's default.
Keep the plan where the sandbox cannot write it.

${POLICY_HELP}

  -o, --output FILE      where to write the plan (required)
  -h, --help             this help
`

export async function compileCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const parsed = parseCommand(
    dash >= 0 ? argv.slice(0, dash) : argv,
    {
      ...POLICY_OPTIONS,
      output: { type: 'string', short: 'o' },
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
  const plan = compilePlan(policyFromFlags(values, positionals[0]), ctx)
  const bytes = encodePlan(plan)
  writeFileSync(values.output, bytes, { mode: 0o644 })
  process.stderr.write(
    `cordon: wrote ${values.output} (${bytes.length} bytes, ${plan.ops.length} operations)\n`,
  )
  return 0
}
