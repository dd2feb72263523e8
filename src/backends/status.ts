// Which layers enforce each statement of a policy on each backend. The OCI runtimes build the
// same mount view, namespaces, seccomp filter and cgroup, but neither has a Landlock layer; in
// gVisor every one of those layers is gVisor's own kernel (the Sentry), in front of a host
// kernel the command never talks to directly.
import { cgroupAccess } from '../cgroup/select.js'
import {
  HOST_ROOT_STATEMENT,
  type LimitsHost,
  type StatementStatus,
  statementStatus,
} from '../status/statements.js'
import { CordonError } from '../errors.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { lastAtEachPlace } from '../policy/resolved.js'
import { withoutExecute } from '../plan/view.js'
import { type Backend, remappable, RUNTIMES } from './runtime.js'

export function backendStatus(
  policy: ResolvedPolicy,
  backend: Backend,
  landlock: { abi: number; why?: string },
  host: LimitsHost = { uid: process.getuid?.() ?? 0, cgroup: cgroupAccess() },
): StatementStatus[] {
  if (backend === 'native') return statementStatus(policy, landlock.abi, landlock.why, host)
  const title = RUNTIMES[backend].title
  // An OCI container always has a mount namespace, and rootless runtimes a user namespace.
  const ns = { ...policy.namespaces, mount: true, user: policy.namespaces.user || host.uid !== 0 }
  const statements = statementStatus(
    { ...policy, namespaces: ns },
    0,
    `${title} has no Landlock layer`,
    host,
  ).map((s) =>
    s.statement === HOST_ROOT_STATEMENT && !(backend === 'runc' && remappable(policy))
      ? hostRootInBundle(s, title, backend)
      : s,
  )
  if (backend !== 'gvisor') return statements
  // The cgroup and host rlimits bound the whole sandbox (Sentry and gofer) from the host's side.
  const inGvisor = (layer: string) =>
    layer === 'landlock' || layer === 'cgroup' || layer.startsWith('rlimit') ? layer : `${layer} (gVisor)`
  // gVisor's noexec refuses an execve, not the mmap(PROT_EXEC) ld.so runs a program with (CI39:
  // verify's exec-tmp mapped one from /tmp): a statement that keeps programs from running has
  // that gap there.
  const noexec = new Set(
    lastAtEachPlace(policy.filesystem)
      .filter((e) => withoutExecute(e))
      .map((e) => `${e.kind} ${e.dest}`),
  )
  return statements.map((s) =>
    scopesInGvisor({
      ...s,
      enforcedBy: s.enforcedBy.map(inGvisor),
      missing: [
        ...s.missing.map((m) => ({ ...m, layer: inGvisor(m.layer) })),
        ...(noexec.has(s.statement) ? [{ layer: 'noexec (gVisor)', why: GVISOR_NOEXEC }] : []),
      ],
      status: noexec.has(s.statement) && s.status === 'full' ? 'partial' : s.status,
    }),
  )
}

/** gVisor's kernel keeps UNIX sockets and processes to itself, whatever its network and
 * namespaces: under `--network=host` a host abstract socket refuses the connection (verify's
 * abstract-unix: ECONNREFUSED) and a name bound inside is no host's; a signal reaches only the
 * Sentry's own processes (it always makes a pid namespace). */
function scopesInGvisor(s: StatementStatus): StatementStatus {
  const by =
    s.statement === ABSTRACT_SCOPE
      ? 'unix sockets (gVisor)'
      : s.statement === SIGNAL_SCOPE
        ? 'pid namespace (gVisor)'
        : undefined
  if (!by) return pidsInGvisor(s)
  const missing = s.missing.filter((m) => m.layer === 'landlock')
  return {
    ...s,
    enforcedBy: [by, ...s.enforcedBy.filter((l) => l !== 'pid namespace (gVisor)')],
    missing,
    status: missing.length ? 'partial' : 'full',
  }
}

const GVISOR_NOEXEC =
  'gVisor\u2019s noexec refuses an execve, not a mapping made executable: ld.so runs a program written here'

/** gVisor's kernel limits the program's tasks (RLIMIT_NPROC), with or without a host cgroup,
 * which bounds the whole sandbox, runsc's own room included (gvisor.ts splitPidsLimit). */
function pidsInGvisor(s: StatementStatus): StatementStatus {
  if (!s.statement.startsWith('limit pids ')) return s
  return {
    ...s,
    enforcedBy: ['rlimit nproc (gVisor)', ...s.enforcedBy],
    status: s.missing.length ? 'partial' : 'full',
  }
}

/** The bundle maps a root caller's container to host root: runc 1.1 has no idmapped mounts, so a
 * remapped container could not write its writable binds (runtime.ts remappable), and gVisor's
 * gofer works on the host as root. Only the set-id guard holds. */
function hostRootInBundle(s: StatementStatus, title: string, backend: string): StatementStatus {
  const why =
    backend === 'runc'
      ? `${title} runs a root caller's container as host root when it has writable binds (no idmapped mounts in runc 1.1)`
      : `${title} runs a root caller's container as host root`
  const missing = [...s.missing.filter((m) => m.layer !== 'id range'), { layer: 'id range', why }]
  const enforcedBy = s.enforcedBy.filter((l) => l !== 'id range')
  return { ...s, enforcedBy, missing, status: enforcedBy.length ? 'partial' : 'none' }
}

/** Whether the policy accepts TCP port statements that no layer enforces (`acknowledge:
 * [tcp-ports]`, landlock/status.ts acknowledgementFor). */
export const acknowledgesTcpGap = (policy: ResolvedPolicy): boolean =>
  policy.acknowledge?.includes('tcp-ports') ?? false

/** The abstract-socket scope's statement (status/statements.ts judges `scope NAME`). */
const ABSTRACT_SCOPE = 'scope abstract-unix-socket'
const SIGNAL_SCOPE = 'scope signal'

/** What each scope's gap lets through on a runtime, for the refusal. */
const SCOPE_REACH: Record<string, string> = {
  [ABSTRACT_SCOPE]: 'every abstract socket of the host (X11, D-Bus, other sandboxes\u2019) would connect',
  [SIGNAL_SCOPE]:
    'every process of its uid would take its signals: the others of its user, and every root-started cordon ' +
    'sandbox, which runs as the same first id of the range',
}

/** What a backend run enforces with no layer and `verify` attacks: the `tcp` statements (runc
 * and gVisor have no Landlock, and seccomp alone judges no port: seccomp/network.ts
 * tcpStatementLayers), and the Landlock scopes without the namespace that stands in for each:
 * the host's network reaches every host abstract socket, no pid namespace every process of the
 * sandbox's uid (helper-141, helper-143: `kill -9 -1` from such a runc container ended other
 * cordon sandboxes). */
export function unenforcedOnBackend(
  policy: ResolvedPolicy,
  statements: StatementStatus[],
): StatementStatus[] {
  return statements.filter(
    (s) =>
      s.status === 'none' &&
      ((s.statement.startsWith('tcp ') && !acknowledgesTcpGap(policy)) ||
        (s.statement in SCOPE_REACH && !policy.acknowledge?.includes('scopes'))),
  )
}

/** `run` refuses a policy that `verify` would fail for an attack it promises to stop (DESIGN.md):
 * on runc and gVisor, every port of a `tcp` statement would connect and bind, and a scope no
 * namespace stands in for reaches the host's abstract sockets or processes. */
export function refuseUnenforcedOnBackend(
  policy: ResolvedPolicy,
  statements: StatementStatus[],
  backend: Backend,
): void {
  const gaps = unenforcedOnBackend(policy, statements)
  const gap = gaps[0]
  if (!gap) return
  const why = gap.missing.map((m) => m.why).join('; ')
  const reach = SCOPE_REACH[gap.statement]
  // Without namespaces there is no network or pid namespace to choose: the fix is namespaces.
  const namespaceFix = !policy.namespaces.mount
    ? 'run with namespaces (drop --no-namespaces)'
    : gap.statement === ABSTRACT_SCOPE
      ? 'a network of its own (network: none or loopback)'
      : 'a pid namespace (namespaces.pid: true)'
  throw new CordonError(
    'invalid_policy',
    reach
      ? `Refused: no layer enforces \`${gap.statement}\` on --backend ${backend} (${why}): ${reach}. ` +
          `Use --backend native (Landlock scopes them), ${namespaceFix}, or accept the gap with ` +
          '`acknowledge: [scopes]` (--acknowledge scopes)'
      : `Refused: no layer enforces \`${gap.statement}\` on --backend ${backend} (${why}): every TCP port ` +
          'would connect and bind. Use --backend native (Landlock judges the ports), drop the tcp statements ' +
          '(network: none, loopback or host), or accept the gap with `acknowledge: [tcp-ports]` (--acknowledge tcp-ports)',
    {
      issues: gaps.map((g) => ({
        code: 'conflict',
        path: [g.statement in SCOPE_REACH ? 'acknowledge' : 'tcp'],
        message: g.statement,
      })),
    },
  )
}
