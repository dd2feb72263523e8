// Which layers enforce each statement of a policy on a kernel with a given Landlock ABI:
// status full (every layer that can enforce it does), partial (some), none. Printed by
// `cordon plan`, and by `cordon run` whenever a run enforces less than the policy says.
import { CordonError } from '../errors.js'
import { NET_ABI, SCOPE_ABI } from '../landlock/rights.js'
import { DEVICES, execGranted, noexecWhere, realHostFs, withoutExecute } from '../plan/view.js'
import { lastAtEachPlace } from '../policy/resolved.js'
import { isLinkBind } from '../policy/view-paths.js'
import { foreignRights } from '../plan/landlock.js'
import { holdsHostRoot, pidsAsNproc } from '../policy/effective.js'
import type { Acknowledgement } from '../policy/schema.js'
import { tcpStatementLayers } from '../seccomp/network.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { LIMIT_CONTROLLERS } from '../cgroup/driver.js'
import { formatLimit, LIMITS } from '../policy/limits.js'
import { hardLinkGaps, writableAliases } from './hard-links.js'

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
  const mount = (e?: ViewEntry) => ({ layer: 'mount view', ok: ns.mount, why: withoutView(e) })
  const out: StatementStatus[] = []
  const foreign = foreignRights(policy)
  // The entries the view keeps (plan/view.ts compileView keeps the last at each place): a
  // replaced one is no statement. Judged on its own, `--ro /etc/shadow` over the default
  // profile's mask kept a `full mask /etc/shadow` while the program read the file.
  const effective = lastAtEachPlace(policy.filesystem)
  const granted = execGranted(policy)
  // A file of a read-only bind that a writable bind holds too (a hard link): no layer keeps it.
  const shared = hardLinkGaps(effective.filter((e) => e.kind === 'bind'))
  // A read-only bind's source that a writable bind shows at another place: the same gap.
  const aliased = writableAliases(effective)
  for (const e of effective) {
    // An optional bind whose source this host lacks is skipped by the plan (plan/view.ts):
    // no statement to enforce, so none to claim.
    if (e.kind === 'bind' && e.optional && realHostFs.kind(e.src) === 'missing') continue
    const link = e.kind === 'bind' ? shared.get(e) : undefined
    const alias = e.kind === 'bind' ? aliased.get(e) : undefined
    // A same-path bind of a host link is the link in the view (plan/view.ts), with no Landlock
    // rule of its own: what it leads to is granted at its own path.
    if (ns.mount && isLinkBind(e, realHostFs)) {
      out.push(judge(`bind ${e.dest}`, [mount(e)]))
      continue
    }
    // Without execute, yet not noexec: a `landlock.paths` rule grants execute inside it, which
    // a noexec mount would refuse, so the whole mount is exec (helper-139).
    const exec =
      ns.mount && withoutExecute(e) && !noexecWhere(e, { execGranted: granted })
        ? [{ layer: 'noexec', ok: false, why: NOT_NOEXEC }]
        : []
    if (e.kind === 'bind' || e.kind === 'tmpfs' || e.kind === 'proc' || e.kind === 'dev' || e.kind === 'mask')
      out.push(
        judge(`${e.kind} ${e.dest}`, [
          mount(e),
          landlockOf(ll(1, 'filesystem rules'), foreign.get(e)),
          ...(link ? [{ layer: 'hard links', ok: false, why: link }] : []),
          ...(alias ? [{ layer: 'other binds', ok: false, why: alias }] : []),
          ...exec,
        ]),
      )
  }
  out.push(judge(UNIX_SOCKETS_STATEMENT, [{ ...mount(), why: UNIX_SOCKETS_GAP }]))
  for (const p of policy.landlock.paths)
    out.push(judge(`landlock path ${p.path}`, [ll(1, 'filesystem rules')]))
  if (policy.tcp)
    out.push(
      judge(
        `tcp bind [${policy.tcp.bind.join(' ')}] connect [${policy.tcp.connect.join(' ')}]`,
        tcpStatementLayers(policy, ll(NET_ABI, 'TCP port rules')),
      ),
    )
  for (const scope of policy.landlock.scopes)
    out.push(
      judge(`scope ${scope}`, [
        scope === 'signal'
          ? { layer: 'pid namespace', ok: ns.pid, why: 'no pid namespace' }
          : { layer: 'net namespace', ok: ns.net, why: ABSTRACT_GAP },
        ll(SCOPE_ABI, 'scopes'),
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
  if (limits?.uid === 0 && !ns.mount && holdsHostRoot(policy))
    out.push(
      judge(HOST_ROOT_REACH_STATEMENT, [
        { layer: 'mount view', ok: false, why: 'no mount namespace' },
        {
          layer: 'id range',
          ok: false,
          why: 'HOST ROOT: user.hostRoot gives the sandbox host root\u2019s file permissions',
        },
      ]),
    )
  if (limits) out.push(...limitStatus(policy, limits))
  return out
}

/** Landlock keeps an entry's rights only where no other rule adds to them (foreignRights). */
const landlockOf = (l: { layer: string; ok: boolean; why: string }, foreign: string | undefined) =>
  l.ok && foreign ? { ...l, ok: false, why: foreign } : l

/** What a filesystem statement loses without a mount namespace: the host's tree is in sight, and
 * Landlock alone (plan/landlock.ts landlockRules) keeps the statement's promise. */
function withoutView(e: ViewEntry | undefined): string {
  // No noexec mount (plan/view.ts noexecWhere): Landlock's execute right is asked at execve only.
  const exec =
    e && withoutExecute(e)
      ? '; and nothing in it is kept from running: Landlock asks for execute at execve only, and ld.so runs a program by mapping it (mmap PROT_EXEC)'
      : ''
  switch (e?.kind) {
    case 'tmpfs':
      // Landlock's layer says whether it keeps them (foreignRights): a split bind keeps the
      // files and leaves their names listable.
      return `no mount namespace: the host's ${e.dest} stays, not replaced ($TMPDIR instead); only Landlock can keep its files (not their names) out of reach${exec}`
    case 'proc':
      return `no mount namespace: the host's ${e.dest}, read-only and unmasked (/proc/keys lists the caller's keys)`
    case 'dev':
      return `no mount namespace: only ${DEVICES.join(', ')} of the host's ${e.dest}`
    default:
      return `no mount namespace${exec}`
  }
}

/** Every policy's promise that only what its filesystem statements show can be reached. For
 * file contents Landlock keeps it without a view; for these only the mount view does (and the
 * IPC namespace for SysV IPC): pathname UNIX sockets (Landlock up to ABI 7 has no right for
 * connect(); ABI 9's RESOLVE_UNIX is not used yet, rights.ts LATER), the metadata of files
 * (no right for chmod, chown, utimes or xattrs), SysV IPC objects and inotify watches. Found by
 * issue 18's adversarial review. */
export const UNIX_SOCKETS_STATEMENT =
  'only the view reachable: unix sockets, file metadata, SysV IPC, inotify'
const UNIX_SOCKETS_GAP =
  'no mount namespace: every host pathname UNIX socket (docker.sock, D-Bus, other sandboxes\u2019) is reachable, and the metadata of host files (chmod, chown, utimes, xattrs), SysV IPC objects and inotify watches, which Landlock does not govern'

const NOT_NOEXEC =
  'a landlock path grants execute inside it, so the mount cannot be noexec: Landlock asks for execute at execve only, and ld.so runs a program anywhere in it by mapping it'

/** Landlock's scope refuses the sandbox's own connections and datagrams out, never a bind: in
 * the host's network namespace an abstract name it binds is the host's (helper-137: a squat of
 * an X11 or D-Bus name, which host programs then connect to). */
const ABSTRACT_GAP =
  'no net namespace: an abstract name the sandbox binds is the host\u2019s (it can take an X11 or D-Bus one before its owner, and host programs connect to it); Landlock refuses only its own connections out'

/** What the view's read-only device binds and masked /proc keep from a sandbox: without a view,
 * only not being root does (Landlock has no right for chmod, chown or utimes). */
export const HOST_ROOT_REACH_STATEMENT = 'host device nodes and kernel tables out of reach'

/** The statements a policy can accept unenforced, with the word that does it (`acknowledge:`). */
export const ACKNOWLEDGED_BY: Readonly<Record<string, Acknowledgement>> = {
  [UNIX_SOCKETS_STATEMENT]: 'no-view',
  [HOST_ROOT_REACH_STATEMENT]: 'host-root',
}

/** The word that accepts a statement's gap: the table's, or `tcp-ports` for any `tcp` statement
 * (no Landlock ABI 4 here, or a runtime without Landlock: no layer judges a port). */
export function acknowledgementFor(statement: string): Acknowledgement | undefined {
  return ACKNOWLEDGED_BY[statement] ?? (statement.startsWith('tcp ') ? 'tcp-ports' : undefined)
}

/** Statements the policy promises that no layer enforces here, and that it has not acknowledged.
 * Limits are best effort by design (`limits.require` makes them strict), so they never count. */
export function unacceptedGaps(policy: ResolvedPolicy, statements: StatementStatus[]): StatementStatus[] {
  return statements.filter((s) => {
    if (s.status !== 'none' || s.statement.startsWith('limit ')) return false
    const word = acknowledgementFor(s.statement)
    return !word || !policy.acknowledge?.includes(word)
  })
}

/** `run` refuses a policy that `verify` would fail for an attack it promises to stop (DESIGN.md):
 * a statement no layer enforces in this mode, unless the policy acknowledges the gap. */
export function refuseUnenforced(policy: ResolvedPolicy, statements: StatementStatus[]): void {
  const gaps = unacceptedGaps(policy, statements)
  if (!gaps.length) return
  const words = [...new Set(gaps.map((g) => acknowledgementFor(g.statement)).filter((w) => w !== undefined))]
  const lines = gaps.map((g) => `\`${g.statement}\` (${g.missing.map((m) => m.why).join('; ')})`)
  const fix = policy.namespaces.mount
    ? `run on a kernel with Landlock${words.includes('tcp-ports') ? ` ABI ${NET_ABI} or later` : ''}`
    : `run with namespaces (drop --no-namespaces, or \`namespaces.mount: true\`)${words.includes('host-root') ? ' or without user.hostRoot' : ''}`
  throw new CordonError(
    'invalid_policy',
    `Refused: no layer enforces ${lines.join(', ')} in this mode; ${fix}` +
      (words.length
        ? `, or accept the gap in the policy with \`acknowledge: [${words.join(', ')}]\` (--acknowledge ${words.join(',')})`
        : ''),
    { issues: gaps.map((g) => ({ code: 'conflict', path: ['acknowledge'], message: g.statement })) },
  )
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

/** The limits a cgroup enforces, by key (policy/limits.ts LIMITS). */
const CGROUP_LIMITS = new Map(LIMITS.filter((l) => l.controller).map((l) => [l.key as string, l]))

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
    .filter(([name, value]) => CGROUP_LIMITS.has(name) && value !== undefined)
    .map(([name, value]) =>
      judge(`limit ${CGROUP_LIMITS.get(name)!.word} ${formatLimit(CGROUP_LIMITS.get(name)!, value)}`, [
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
      ]),
    )
}
