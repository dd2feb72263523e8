// cordon advise [--workload W] [POLICY] [policy options] [--json]: which backend and layers for
// a workload on this host, why, what the host lacks, and the expected cost.
import { accessSync, constants } from 'node:fs'
import { type Advice, type AdviceHost, advise, WORKLOADS, type Workload } from '../../backends/advise.js'
import { backendAvailable, BACKENDS, backendWorks } from '../../backends/runtime.js'
import { backendStatus } from '../../backends/status.js'
import { cgroupAccess } from '../../cgroup/select.js'
import { CordonError } from '../../errors.js'
import { probeKernel } from '../../host/probe.js'
import type { StatementStatus } from '../../status/statements.js'
import { paint } from '../output.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags, policyLabel } from '../policy-flags.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon advise [--workload KIND] [POLICY] [policy options] [--json]

Recommends a backend (native, runc, gvisor, or a micro-VM elsewhere) and the layers to require
for a kind of workload, on this host: why, what the host lacks, and the expected cost (measured
by bench/backends.mjs). Then shows, for the policy (the default profile unless given), how many
of its statements each backend enforces fully.

Workloads:
  web             a long-running service: low per-call cost, TCP ports, persistence
  batch           jobs started often: start-up latency, hard limits
  finance         the strongest isolation: a hardware boundary plus a syscall filter
  untrusted-code  plugins, CI jobs, AI-generated code: no kernel exposure, no network
  io-heavy        file and disk throughput
Without --workload: one line for each.

${POLICY_HELP}

      --workload KIND  one of ${WORKLOADS.join(', ')}
      --json           {"version":1,"host":{…},"advice":[…],"policy":{"label","backends":{NAME:{full,partial,none}}}}
  -h, --help           this help
`

function hostFacts(): AdviceHost {
  const uid = process.getuid?.() ?? 0
  const probe = probeKernel()
  let kvm = false
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
    kvm = true
  } catch {
    // no KVM device, or not ours to use
  }
  return {
    root: uid === 0,
    landlockAbi: probe.landlock.abi,
    userNamespaces: probe.namespaces.user?.ok === true,
    cgroup: cgroupAccess(uid),
    runc: backendAvailable('runc', uid),
    gvisor: backendAvailable('gvisor', uid),
    kvm,
  }
}

const count = (statements: StatementStatus[]) => ({
  full: statements.filter((s) => s.status === 'full').length,
  partial: statements.filter((s) => s.status === 'partial').length,
  none: statements.filter((s) => s.status === 'none').length,
})

export async function adviseCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      workload: { type: 'string', short: 'w' },
      json: { type: 'boolean' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  const workload = values.workload as Workload | undefined
  if (workload !== undefined && !WORKLOADS.includes(workload))
    throw new CordonError(
      'invalid_usage',
      `--workload must be one of ${WORKLOADS.join(', ')}, got \`${values.workload}\``,
    )
  const host = hostFacts()
  // Installed is not working: Debian's runsc fails `ls /` on some kernels. Each runtime the
  // advice could name runs an everyday command here first.
  for (const b of ['runc', 'gvisor'] as const)
    if (host[b].ok) host[b] = await backendWorks(b, policyFromFlags({}))
  const advice = (workload ? [workload] : WORKLOADS).map((w) => advise(w, host))
  const policy = policyFromFlags(values, positionals[0])
  const label = policyLabel(values, positionals[0])
  const backends = Object.fromEntries(
    BACKENDS.map((b) => [
      b,
      {
        available: b === 'native' || host[b].ok,
        ...count(
          backendStatus(policy, b, {
            abi: host.landlockAbi,
            why: 'Landlock unavailable on this kernel',
          }),
        ),
      },
    ]),
  )
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ version: 1, host, advice, policy: { label, backends } }, null, 2)}\n`,
    )
    return 0
  }
  const c = paint(process.stdout)
  const out: string[] = [hostLine(host), '']
  if (workload) out.push(...detail(advice[0]!, c))
  else {
    for (const a of advice)
      out.push(`  ${a.workload.padEnd(15)} → ${c.bold(a.choice.padEnd(8))} ${c.dim(a.reasons[0]!)}`)
    out.push('', c.dim('cordon advise --workload KIND for the reasons, the command and the cost'))
  }
  out.push('', `${label}: statements enforced by every layer the backend has`)
  for (const [name, b] of Object.entries(backends))
    out.push(
      `  ${name.padEnd(7)} ${b.full} full, ${b.partial} partial, ${b.none} none${b.available ? '' : c.dim('  (not usable here)')}`,
    )
  process.stdout.write(`${out.join('\n')}\n`)
  return 0
}

function hostLine(h: AdviceHost): string {
  const yes = (ok: boolean) => (ok ? 'yes' : 'no')
  return (
    `this host: Landlock ABI ${h.landlockAbi || 'none'}, user namespaces ${yes(h.userNamespaces)}, ` +
    `cgroup ${yes(h.cgroup.ok)}, runc ${yes(h.runc.ok)}, gVisor ${yes(h.gvisor.ok)}, KVM ${yes(h.kvm)}`
  )
}

function detail(a: Advice, c: ReturnType<typeof paint>): string[] {
  return [
    `${c.bold(a.workload)}: ${a.needs}`,
    '',
    `recommended: ${c.bold(a.choice)}`,
    ...a.reasons.map((r) => `  - ${r}`),
    '',
    `run:      ${a.command}`,
    `cost:     ${a.overhead}`,
    ...(a.lacks.length ? ['', 'this host lacks:', ...a.lacks.map((l) => `  - ${c.yellow(l)}`)] : []),
  ]
}
