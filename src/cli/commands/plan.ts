// cordon plan [POLICY] [flags] [--json]: the kernel operations a policy becomes, in order.
import { enforcementStatus, hostContext } from '../../status/context.js'
import { compilePlan } from '../../plan/compile.js'
import { describePlan, planToJson } from '../../plan/describe.js'
import {
  POLICY_HELP,
  POLICY_OPTIONS,
  policyFromFlags,
  type PolicyFlagValues,
  withPolicyFile,
} from '../policy-flags.js'
import { refusalOf, runRefusal } from '../run-refusal.js'
import { parseCommand } from '../args.js'
import { parseBackend, type RuntimeBackend } from '../../backends/runtime.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { statementLines } from '../../status/describe.js'

const HELP = `Usage: cordon plan [POLICY] [options]

Prints the operations the launcher will perform for a policy, in order, with notes on why
(layers merged, entries replaced or skipped, capabilities kept), then which layers enforce each
statement on this host. With --backend runc or gvisor: the OCI bundle \`cordon run --backend\`
would give that runtime for this caller, and the statements as that runtime enforces them.

${POLICY_HELP}

      --backend NAME     native (default), runc or gvisor
      --json, --explain  JSON output / the readable listing (the default)
  -h, --help             this help
`

export async function planCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      backend: { type: 'string' },
      json: { type: 'boolean' },
      explain: { type: 'boolean' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  const backend = parseBackend(values.backend)
  const policy = policyFromFlags(values, positionals[0])
  const flags = withPolicyFile(values, positionals[0])
  if (backend !== 'native') return planOnRuntime(flags, policy, backend, values.json === true)
  const plan = compilePlan(policy)
  const host = hostContext()
  const statements = enforcementStatus(policy, host)
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...(planToJson(plan) as object), statements }, null, 2)}\n`)
    return 0
  }
  const lines = statementLines(statements)
  const header = `statements on this host (Landlock ABI ${host.landlock.abi}):`
  // What `cordon run` would say of it: a plan is printed even when the run would be refused. The
  // plan's own refusals were thrown by compilePlan above.
  const refused = await runRefusal(flags, policy, 'native', statements, { build: false })
  const refusal = refused ? `\ncordon run would refuse this policy here: ${refused}\n` : ''
  process.stdout.write(`${describePlan(plan)}\n\n${header}\n${lines.join('\n')}\n${refusal}`)
  return 0
}

/** What `cordon run --backend` would hand the runtime, built as the run builds it (so a policy
 * the run refuses is refused here with the same words), and its statements there. */
async function planOnRuntime(
  flags: PolicyFlagValues,
  policy: ResolvedPolicy,
  backend: RuntimeBackend,
  json: boolean,
): Promise<number> {
  const { backendAvailable, backendConfig } = await import('../../backends/runtime.js')
  const { backendStatus } = await import('../../backends/status.js')
  const { describeBundle } = await import('../../backends/describe-bundle.js')
  const { callerContext } = await import('../../host/caller.js')
  const { stringifyOci } = await import('../../seccomp/oci.js')
  const statements = backendStatus(policy, backend, { abi: 0 })
  const available = backendAvailable(backend)
  const caller = callerContext()
  // The bundle is built once: the refusal it throws is the run's last.
  let bundle: ReturnType<typeof backendConfig> | undefined
  const refusal =
    (await runRefusal(flags, policy, backend, statements, { build: false })) ??
    (await refusalOf(() => {
      bundle = backendConfig(policy, ['COMMAND'], caller.uid, caller.gid, caller.cwd, backend)
    }))
  if (json) {
    const out = {
      version: 1,
      backend,
      available: available.ok,
      ...(available.ok ? {} : { unavailable: available.why }),
      ...(bundle ? { config: bundle.config } : {}),
      ...(refusal ? { refused: refusal } : {}),
      statements,
    }
    process.stdout.write(`${stringifyOci(out)}\n`)
    return 0
  }
  const parts = [
    bundle
      ? describeBundle(bundle.config, bundle.files, backend)
      : `cordon run --backend ${backend} would refuse this policy here: ${refusal}`,
    '',
    `statements under --backend ${backend} on this host:`,
    ...statementLines(statements),
  ]
  if (!available.ok) parts.push('', `--backend ${backend} cannot run here: ${available.why}`)
  process.stdout.write(`${parts.join('\n')}\n`)
  return 0
}
