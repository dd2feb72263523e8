// The posture of a policy on this host: which layers the compiled plan sets up and whether this
// kernel enforces them, how much of the syscall table the filter blocks (overall and by group),
// what the program can reach on the filesystem and network, its limits, what the host lacks,
// and what that means for common control requirements. Numbers come from the compiled plan
// (what the launcher will do), not from the policy's wishes.
import { cgroupAccess } from '../cgroup/select.js'
import type { Check } from '../host/report.js'
import type { HostFacts } from '../host/probe.js'
import { attackSurface } from '../learn/surface.js'
import { type StatementStatus, statementStatus } from '../status/statements.js'
import { formatLimit, LIMITS, RLIMITS } from '../policy/limits.js'
import { CLONE_FLAGS, type Plan, type PlanOp } from '../plan/model.js'
import { capabilityName } from '../policy/capabilities.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { GROUPS } from '../seccomp/groups.js'
import { passesThrough } from '../seccomp/model.js'
import { enforcedSeccomp } from '../policy/effective.js'
import { syscallTable } from '../seccomp/tables.js'

export type LayerStatus = 'active' | 'partial' | 'off'

export interface Layer {
  layer: string
  status: LayerStatus
  detail: string
  fix?: string
}

export interface GroupCoverage {
  group: string
  /** Members that exist on the arch. */
  total: number
  blocked: number
}

export type ControlStatus = 'met' | 'partial' | 'not met'

export interface Control {
  control: string
  /** NIST SP 800-53 rev. 5 controls this evidence supports. */
  references: string[]
  status: ControlStatus
  evidence: string[]
}

export interface Posture {
  version: 1
  policy: string
  host: { kernel: string; arch: string; landlockAbi: number; cgroups: string }
  layers: Layer[]
  syscalls: {
    arch: string
    total: number
    blocked: number
    /** blocked / total, rounded to 4 places. */
    fraction: number
    reachable: string[]
    instructions: number
    byGroup: GroupCoverage[]
  }
  capabilities: { kept: string[] }
  filesystem: { readOnly: string[]; readWrite: string[]; private: string[]; hidden: string[] }
  network: { mode: ResolvedPolicy['network']; tcp?: { bind: number[]; connect: number[] } }
  limits: Record<string, string>
  missing: { feature: string; detail: string; fix?: string }[]
  statements: StatementStatus[]
  controls: Control[]
}

const has = (plan: Plan, op: PlanOp['op']) => plan.ops.some((o) => o.op === op)
function opsOf<K extends PlanOp['op']>(plan: Plan, op: K): Extract<PlanOp, { op: K }>[] {
  return plan.ops.filter((o): o is Extract<PlanOp, { op: K }> => o.op === op)
}

/** What the plan sets up, read from its ops: namespaces, the view's paths, kept capabilities. */
function planView(policy: ResolvedPolicy, plan: Plan) {
  const nsFlags = opsOf(plan, 'namespaces')[0]?.flags ?? 0
  const namespaces = Object.entries(CLONE_FLAGS)
    .filter(([, bit]) => nsFlags & bit)
    .map(([name]) => name)
  // /dev's device nodes are binds too, but of harmless character devices (view.ts devOps).
  const binds = opsOf(plan, 'bind').filter((b) => !b.flags.dev && b.src !== '/dev/null')
  const readOnly = binds.filter((b) => b.flags.readOnly).map((b) => b.dest)
  const readWrite = binds.filter((b) => !b.flags.readOnly).map((b) => b.dest)
  const privateMounts = [...opsOf(plan, 'tmpfs'), ...opsOf(plan, 'proc')]
    .filter((o) => !('flags' in o) || !o.flags.readOnly)
    .map((o) => o.dest)
  const hidden = policy.filesystem.filter((e) => e.kind === 'mask').map((e) => e.dest)
  const keep = opsOf(plan, 'caps')[0]?.keep ?? 0n
  const kept: string[] = []
  for (let i = 0; i < 64; i++) if (keep & (1n << BigInt(i))) kept.push(capabilityName(i))
  return { namespaces, readOnly, readWrite, privateMounts, hidden, kept }
}

/** Every limit of the catalogue (policy/limits.ts), so none is left out of the report. */
function reportedLimits(policy: ResolvedPolicy): Record<string, string> {
  const limits: Record<string, string> = {}
  for (const spec of LIMITS) {
    const value = policy.limits[spec.key]
    if (value !== undefined) limits[spec.word] = formatLimit(spec, value)
  }
  for (const [r, v] of Object.entries(policy.rlimits)) limits[`rlimit ${r}`] = String(v)
  return limits
}

/** One row per layer: whether it is active for this policy on this host, and what it does. */
function layersOf(c: {
  plan: Plan
  facts: HostFacts
  checks: Check[]
  arch: string
  view: { namespaces: string[]; readOnly: string[]; readWrite: string[]; hidden: string[]; kept: string[] }
  instructions: number
  blockedFraction: number
  limits: Record<string, string>
  cgroupLimits: string[]
  cgroup: { ok: boolean; why: string }
  nproc: boolean
}): Layer[] {
  const { plan, facts, checks, arch, instructions, blockedFraction, limits, cgroupLimits, cgroup, nproc } = c
  const { namespaces, readOnly, readWrite, hidden, kept } = c.view
  const abi = facts.probe.landlock.abi
  const landlockRules = opsOf(plan, 'landlock_path').length
  const landlockPorts = opsOf(plan, 'landlock_port').length
  return [
    {
      layer: 'namespaces',
      status:
        namespaces.length === 0
          ? 'off'
          : ['user', 'pid', 'mount', 'ipc', 'net'].every((n) => namespaces.includes(n))
            ? 'active'
            : 'partial',
      detail: namespaces.length ? namespaces.join(' ') : 'none: the program shares the host’s',
    },
    {
      layer: 'filesystem view',
      status: has(plan, 'pivot_root') ? 'active' : 'off',
      detail: has(plan, 'pivot_root')
        ? `${readOnly.length} read-only and ${readWrite.length} read-write host paths, ${hidden.length} hidden`
        : 'the host’s filesystem, as it is',
    },
    {
      layer: 'capabilities',
      status: kept.length ? 'partial' : 'active',
      detail: kept.length ? `keeps ${kept.join(', ')}` : 'all dropped (bounding, ambient, inheritable)',
    },
    {
      layer: 'no_new_privs',
      status: has(plan, 'no_new_privs') ? 'active' : 'off',
      detail: 'setuid binaries and file capabilities grant nothing',
    },
    {
      layer: 'landlock',
      status: abi === 0 ? 'off' : has(plan, 'landlock') ? 'active' : 'off',
      detail:
        abi === 0
          ? `unavailable on this kernel (${facts.probe.landlock.code ?? '?'})`
          : `ABI ${abi}: ${landlockRules} path rules${landlockPorts ? `, ${landlockPorts} port rules` : ''}`,
      ...(abi === 0
        ? { fix: checks.find((c) => c.id === 'landlock')?.fix ?? 'use Linux 5.13+ with Landlock enabled' }
        : {}),
    },
    {
      layer: 'seccomp',
      status: has(plan, 'seccomp') ? 'active' : 'off',
      detail: `${instructions} BPF instructions; ${(blockedFraction * 100).toFixed(1)}% of ${arch}'s syscalls blocked`,
    },
    {
      layer: 'cgroups',
      status: cgroupLimits.length === 0 ? 'off' : cgroup.ok ? 'active' : 'off',
      detail: cgroupLimits.length
        ? `${cgroupLimits.map((k) => `${k} ${limits[k]}`).join(', ')} (${facts.cgroup.layout})`
        : 'no limits in the policy',
      ...(cgroupLimits.length && !cgroup.ok
        ? {
            fix: `${cgroup.why}: run as root${facts.cgroup.layout === 'none' ? ' and mount cgroup2 on /sys/fs/cgroup' : ''}${
              nproc ? ' (the pids limit holds meanwhile as RLIMIT_NPROC)' : ''
            }`,
          }
        : {}),
      ...(!cgroupLimits.length
        ? { fix: 'set limits.memory and limits.pids (e.g. --memory 512M --pids 256)' }
        : {}),
    },
  ]
}

export function posture(
  policy: ResolvedPolicy,
  label: string,
  plan: Plan,
  facts: HostFacts,
  checks: Check[],
  arch: string,
): Posture {
  const abi = facts.probe.landlock.abi
  const { namespaces, readOnly, readWrite, privateMounts, hidden, kept } = planView(policy, plan)
  const seccompOp = opsOf(plan, 'seccomp')[0]
  const instructions = seccompOp ? seccompOp.program.length / 8 : 0
  // The filter the sandbox loads, with the layers the compiler adds (policy/effective.ts).
  const spec = enforcedSeccomp(policy)
  const surface = attackSurface(spec, arch)
  const reachable = new Set(surface.reachable)
  const table = syscallTable(arch)
  const byGroup = Object.entries(GROUPS).map(([group, g]) => {
    const members = g.members.filter((m) => m in table)
    return { group, total: members.length, blocked: members.filter((m) => !reachable.has(m)).length }
  })
  const cgroup = cgroupAccess(facts.probe.uid, () => facts.cgroup.layout !== 'none')
  const statements = statementStatus(
    policy,
    abi,
    `Landlock unavailable (${facts.probe.landlock.code ?? '?'})`,
    { uid: facts.probe.uid, cgroup },
  )
  const limits = reportedLimits(policy)
  const cgroupsUsable = cgroup.ok
  // For callers other than root the plan carries the pids limit as RLIMIT_NPROC (rlimitsFor).
  const pids = policy.limits.pids
  const nproc =
    pids !== undefined &&
    opsOf(plan, 'rlimit').some((op) => op.resource === RLIMITS.nproc && op.soft === BigInt(pids))
  const cgroupLimits = LIMITS.filter((c) => c.controller && c.word in limits).map((c) => c.word)
  const layers = layersOf({
    plan,
    facts,
    checks,
    arch,
    view: { namespaces, readOnly, readWrite, hidden, kept },
    instructions,
    blockedFraction: surface.fraction,
    limits,
    cgroupLimits,
    cgroup: { ok: cgroupsUsable, why: cgroup.why },
    nproc,
  })
  const missing = checks
    .filter((c) => c.status !== 'ok')
    .map((c) => ({ feature: c.title, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) }))
  const audited = Boolean(facts.probe.audit.enabled)
  const allowlist = !passesThrough(spec.defaultAction)
  const controls = controlsFor({
    allowlist,
    namespaces,
    readWrite,
    kept,
    surface,
    policy,
    cgroupLimits,
    cgroupsUsable,
    cgroupWhy: cgroup.why,
    nprocLimit: nproc,
    audited,
    abi,
    layers,
  })
  return {
    version: 1,
    policy: label,
    host: { kernel: facts.kernel, arch, landlockAbi: abi, cgroups: facts.cgroup.layout },
    layers,
    syscalls: {
      arch,
      total: surface.total,
      blocked: surface.blocked,
      fraction: Number(surface.fraction.toFixed(4)),
      reachable: surface.reachable,
      instructions,
      byGroup,
    },
    capabilities: { kept },
    filesystem: { readOnly, readWrite, private: privateMounts, hidden },
    network: { mode: policy.network, ...(policy.tcp ? { tcp: policy.tcp } : {}) },
    limits,
    missing,
    statements,
    controls,
  }
}

interface Evidence {
  namespaces: string[]
  readWrite: string[]
  kept: string[]
  surface: { fraction: number }
  /** The filter's default refuses: only listed syscalls pass. */
  allowlist: boolean
  policy: ResolvedPolicy
  cgroupLimits: string[]
  cgroupsUsable: boolean
  /** Why cgroups are not usable by this caller ('' when they are). */
  cgroupWhy: string
  /** The plan bounds tasks with RLIMIT_NPROC (callers without a cgroup). */
  nprocLimit: boolean
  audited: boolean
  abi: number
  layers: Layer[]
}

function control(name: string, references: string[], checks: [boolean, string, string][]): Control {
  const passed = checks.filter(([ok]) => ok).length
  return {
    control: name,
    references,
    status: passed === checks.length ? 'met' : passed === 0 ? 'not met' : 'partial',
    evidence: checks.map(([ok, yes, no]) => (ok ? `✓ ${yes}` : `✗ ${no}`)),
  }
}

function controlsFor(e: Evidence): Control[] {
  const ns = (n: string) => e.namespaces.includes(n)
  const writesRoot = e.readWrite.includes('/')
  const net = e.policy.network
  return [
    control(
      'Process isolation',
      ['SC-39', 'SC-7(21)'],
      [
        [
          ns('pid'),
          'own pid namespace: host processes are invisible and unsignalable',
          'shares the host’s pid namespace',
        ],
        [ns('mount'), 'own mount namespace and filesystem view', 'shares the host’s mounts'],
        [ns('user'), 'own user namespace: root inside is nobody outside', 'no user namespace'],
        [ns('ipc'), 'own IPC namespace', 'shares System V IPC with the host'],
        [net !== 'host', `network ${net}: own network namespace`, 'host network'],
      ],
    ),
    control(
      'Least privilege',
      ['AC-6', 'CM-7'],
      [
        [e.kept.length === 0, 'no capabilities', `keeps ${e.kept.join(', ')}`],
        [
          e.layers.find((l) => l.layer === 'no_new_privs')?.status === 'active',
          'no_new_privs: no privilege gain by exec',
          'no_new_privs not set',
        ],
        [
          e.allowlist,
          `syscall allowlist: ${(e.surface.fraction * 100).toFixed(1)}% of the table blocked`,
          `syscall denylist: only the dangerous groups are blocked (${(e.surface.fraction * 100).toFixed(1)}%); \`cordon learn\` writes an allowlist`,
        ],
        [
          !writesRoot,
          `writable host paths: ${e.readWrite.join(', ') || 'none'}`,
          'the whole host filesystem is writable',
        ],
        [
          e.abi > 0,
          `Landlock ABI ${e.abi} backs the filesystem rules`,
          'no Landlock: the mount view alone enforces file access',
        ],
      ],
    ),
    control(
      'Resource isolation',
      ['SC-6', 'SC-5'],
      [
        [e.cgroupLimits.includes('memory'), 'memory limit', 'no memory limit'],
        [
          e.cgroupLimits.includes('pids') && (e.cgroupsUsable || e.nprocLimit),
          `process count limit (fork bombs)${e.cgroupsUsable ? '' : ' as RLIMIT_NPROC'}`,
          'no process count limit',
        ],
        [e.cgroupsUsable, 'cgroups available to enforce them', `no cgroups: ${e.cgroupWhy}`],
      ],
    ),
    control(
      'Audit logging',
      ['AU-2', 'AU-12'],
      [
        [true, 'cordon run --json reports every sandbox’s start, limits hit, denials it sees and exit', ''],
        [
          e.audited,
          'kernel audit on: Landlock denials are logged',
          'kernel audit off: Landlock denials are not logged',
        ],
      ],
    ),
  ]
}
