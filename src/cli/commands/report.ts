// cordon report [policy options] [--json|--md|--html]: a policy's posture on this host.
import { writeOutput } from '../output-file.js'
import { CordonError } from '../../errors.js'
import { hostFacts } from '../../host/probe.js'
import { hostChecks } from '../../host/report.js'
import { nativeArch } from '../../learn/learn.js'
import { compilePlan } from '../../plan/compile.js'
import { posture } from '../../report/posture.js'
import { renderHtml, renderMarkdown, renderText } from '../../report/render.js'
import { paint } from '../output.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags, policyLabel } from '../policy-flags.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon report [POLICY] [policy options] [--json | --md | --html] [-o FILE]

The posture of a policy (the default profile unless policy options say otherwise) on this host,
computed from the plan cordon would run: layers and whether this kernel enforces them, the
share of the syscall table the filter blocks (overall and by group), capabilities, filesystem
and network reach, limits, what the host lacks and how to fix it, and how that maps to common
control requirements (process isolation, least privilege, resource isolation, audit logging;
with NIST SP 800-53 references).

${POLICY_HELP}

Output:
      --json       machine-readable ({"version":1,...})
      --md         Markdown, for a ticket or an audit file
      --html       one self-contained HTML page with a chart of syscall coverage by group
  -o, --output F   write to F instead of stdout
  -h, --help       this help
`

export async function reportCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      json: { type: 'boolean' },
      md: { type: 'boolean' },
      html: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  if ([values.json, values.md, values.html].filter(Boolean).length > 1)
    throw new CordonError('invalid_usage', 'choose one of --json, --md and --html')
  if (positionals.length > 1)
    throw new CordonError(
      'invalid_usage',
      `cordon report takes at most one policy file, got ${positionals.length}`,
    )
  const policy = policyFromFlags(values, positionals[0])
  const label = policyLabel(values, positionals[0])
  const facts = hostFacts()
  const p = posture(policy, label, compilePlan(policy), facts, hostChecks(facts), nativeArch())
  const out = values.json
    ? `${JSON.stringify(p, null, 2)}\n`
    : values.md
      ? renderMarkdown(p)
      : values.html
        ? renderHtml(p)
        : renderText(p, paint(values.output ? ({ isTTY: false } as NodeJS.WriteStream) : process.stdout))
  if (values.output) writeOutput(values.output, out)
  else process.stdout.write(out)
  return 0
}
