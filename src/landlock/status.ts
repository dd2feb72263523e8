// Which layers enforce each statement of a policy on a kernel with a given Landlock ABI:
// status full (every layer that can enforce it does), partial (some), none. Printed by
// `cordon plan`, and by `cordon run` whenever a run enforces less than the policy says.
import { holdsHostRoot, pidsAsNproc } from '../plan/compile.js'
import { sizeWord } from '../policy/schema.js'
import { tcpStatementLayers } from '../seccomp/network.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { LIMIT_CONTROLLERS } from '../cgroup/driver.js'

export type Status = 'full' | 'partial' | 'none'

export interface StatementStatus {
  statement: string
  status: Status
  enforcedBy: string[]
  missing: { layer: string; why: string }[]
}

function judge(statement: string, layers: { layer: string; ok: boolean; why: string }[]): StatementStatus {
  const enforcedBy = layers.filter((l) => l.ok).map((l) => l.layer)
  const missing = layers.filter((l) => !l.ok).map(({ layer, why }) => ({ layer, why }))
  const status: Status = missing.length === 0 ? 'full' : enforcedBy.length ? 'partial' : 'none'
  return { statement, status, enforcedBy, missing }
}

/** Who runs the sandbox, and whether the host gives that caller a cgroup (for `limits`). */
export interface LimitsHost {
  uid: number
  /** cgroup/select.ts cgroupAccess(): with `controllers` when only those are available. */
  cgroup: { ok: boolean; why: string; delegated?: string; controllers?: string[] }
}

/** abi: the kernel's Landlock ABI (0 when unavailable); why: the reason when 0; limits: judge
 * the policy's limits for this caller too. */
export function statementStatus(
  policy: ResolvedPolicy,
  abi: number,
  why = 'Landlock unavailable',
  limits?: LimitsHost,
): StatementStatus[] {
  const ns = policy.namespaces
  const ll = (min: number, what: string) => ({
    layer: 'landlock',
    ok: abi >= min,
    why: abi === 0 ? why : `${what} needs Landlock ABI ${min}, this kernel has ${abi}`,
  })
  const mount = { layer: 'mount view', ok: ns.mount, why: 'no mount namespace' }
  const out: StatementStatus[] = []
  for (const e of policy.filesystem) {
    if (e.kind === 'bind' || e.kind === 'tmpfs' || e.kind === 'proc' || e.kind === 'dev')
      out.push(judge(`${e.kind} ${e.dest}`, [mount, ll(1, 'filesystem rules')]))
    else if (e.kind === 'mask') out.push(judge(`mask ${e.dest}`, [mount, ll(1, 'filesystem rules')]))
  }
  for (const p of policy.landlock.paths)
    out.push(judge(`landlock path ${p.path}`, [ll(1, 'filesystem rules')]))
  if (policy.tcp)
    out.push(
      judge(
        `tcp bind [${policy.tcp.bind.join(' ')}] connect [${policy.tcp.connect.join(' ')}]`,
        tcpStatementLayers(policy, ll(4, 'TCP port rules')),
      ),
    )
  for (const scope of policy.landlock.scopes)
    out.push(
      judge(`scope ${scope}`, [
        scope === 'signal'
          ? { layer: 'pid namespace', ok: ns.pid, why: 'no pid namespace' }
          : { layer: 'net namespace', ok: ns.net, why: 'no net namespace' },
        ll(6, 'scopes'),
      ]),
    )
  // `network: host` asks for no isolation, so there is nothing to enforce.
  if (policy.network !== 'host')
    out.push(
      judge(`network ${policy.network}`, [
        { layer: 'net namespace', ok: ns.net, why: 'no net namespace' },
        // Families the namespace does not hold (vsock, Bluetooth…): seccomp/network.ts.
        { layer: 'seccomp', ok: true, why: '' },
      ]),
    )
  if (limits?.uid === 0) out.push(identityStatus(policy))
  if (limits) out.push(...limitStatus(policy, limits))
  return out
}

/** The statement a root caller's sandbox always makes (plan/compile.ts sandboxIdentity): it holds
 * no host root file powers. The id range takes them away; the no-setid seccomp layer keeps a
 * set-id file off any disk it can write. `user.hostRoot` gives them back, and says so. */
export const HOST_ROOT_STATEMENT = 'no host root powers'
export function identityStatus(policy: ResolvedPolicy): StatementStatus {
  return judge(HOST_ROOT_STATEMENT, [
    {
      layer: 'id range',
      ok: !holdsHostRoot(policy),
      why: 'HOST ROOT: user.hostRoot gives the sandbox host root\u2019s file permissions',
    },
    { layer: 'seccomp', ok: true, why: '' },
  ])
}

const LIMIT_WORDS: Record<string, string> = {
  memory: 'memory',
  swap: 'swap',
  pids: 'pids',
  cpus: 'cpus',
  cpuWeight: 'cpu-weight',
  cpuset: 'cpuset',
  ioWeight: 'io-weight',
}

/** Each cgroup limit: the cgroup enforces it; the pids limit also has RLIMIT_NPROC inside the
 * user namespace for callers other than root (plan/compile.ts rlimitsFor). */
function limitStatus(policy: ResolvedPolicy, host: LimitsHost): StatementStatus[] {
  const { ok, why, delegated, controllers } = host.cgroup
  const cgroupFor = (name: string) => {
    const controller = LIMIT_CONTROLLERS[name as keyof typeof LIMIT_CONTROLLERS]
    const has = ok && (controllers === undefined || controllers.includes(controller))
    const reason = ok
      ? `the cgroup delegated to this user (${delegated}) has no ${controller} controller`
      : why
    return { layer: 'cgroup', ok: has, why: has ? '' : reason }
  }
  return Object.entries(policy.limits)
    .filter(([name, value]) => name in LIMIT_WORDS && value !== undefined)
    .map(([name, value]) =>
      judge(
        `limit ${LIMIT_WORDS[name]} ${typeof value === 'number' && /memory|swap/.test(name) ? sizeWord(value) : String(value)}`,
        [
          cgroupFor(name),
          ...(name === 'pids' && host.uid !== 0
            ? [
                {
                  layer: 'rlimit nproc',
                  ok: pidsAsNproc(policy, host.uid),
                  why: 'no user namespace: RLIMIT_NPROC would count every process of the user',
                },
              ]
            : []),
        ],
      ),
    )
}
