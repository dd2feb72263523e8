// cordon's seccomp filter in systemd's words. SystemCallFilter= filters by name only, so a
// syscall that cordon allows for some arguments (fork is clone without namespace flags) is
// allowed by name, and what its argument checks refused is said with the option systemd has for
// it: RestrictNamespaces= (clone/unshare/setns flags), LockPersonality= (personality),
// RestrictSUIDSGID= (set-id modes), RestrictAddressFamilies= (socket families). What no option
// says is a gap. Names the oldest supported systemd cannot parse are left out and listed.
import type { ResolvedPolicy } from '../policy/resolve.js'
import { exportedSeccomp } from '../policy/effective.js'
import { type ArchInfo, entryPoints } from '../seccomp/arch.js'
import { leafFor } from '../seccomp/compile.js'
import type { Action, SeccompSpec } from '../seccomp/model.js'
import { holds } from '../seccomp/reference.js'
import { errnoName } from '../seccomp/resolve.js'
import { SYSTEMD_FLOOR, UNKNOWN_TO_SYSTEMD_FLOOR } from '../seccomp/systemd.js'
import type { Gap } from './model.js'

/** Address families by number (linux/socket.h), as RestrictAddressFamilies= names them. */
const FAMILIES = [
  '',
  'AF_UNIX',
  'AF_INET',
  'AF_AX25',
  'AF_IPX',
  'AF_APPLETALK',
  'AF_NETROM',
  'AF_BRIDGE',
  'AF_ATMPVC',
  'AF_X25',
  'AF_INET6',
  'AF_ROSE',
  'AF_DECnet',
  'AF_NETBEUI',
  'AF_SECURITY',
  'AF_KEY',
  'AF_NETLINK',
  'AF_PACKET',
  'AF_ASH',
  'AF_ECONET',
  'AF_ATMSVC',
  'AF_RDS',
  'AF_SNA',
  'AF_IRDA',
  'AF_PPPOX',
  'AF_WANPIPE',
  'AF_LLC',
  'AF_IB',
  'AF_MPLS',
  'AF_CAN',
  'AF_TIPC',
  'AF_BLUETOOTH',
  'AF_IUCV',
  'AF_RXRPC',
  'AF_ISDN',
  'AF_PHONET',
  'AF_IEEE802154',
  'AF_CAIF',
  'AF_ALG',
  'AF_NFC',
  'AF_VSOCK',
  'AF_KCM',
  'AF_QIPCRTR',
  'AF_SMC',
  'AF_XDP',
  'AF_MCTP',
]
const AF_NETLINK = 16
const ENOSYS = 38
const NETLINK_CONNECTOR = 11n

/** clone flags of each namespace, as RestrictNamespaces= names them. */
const NAMESPACE_FLAGS: [string, bigint][] = [
  ['cgroup', 0x02000000n],
  ['ipc', 0x08000000n],
  ['mnt', 0x00020000n],
  ['net', 0x40000000n],
  ['pid', 0x20000000n],
  ['user', 0x10000000n],
  ['uts', 0x04000000n],
]

/** Syscalls whose argument checks a dedicated option says (the option is in the unit). */
const SAID_BY_OPTION: Record<string, string> = {
  clone: 'RestrictNamespaces=',
  clone3: 'RestrictNamespaces=',
  unshare: 'RestrictNamespaces=',
  setns: 'RestrictNamespaces=',
  personality: 'LockPersonality=',
  socket: 'RestrictAddressFamilies=',
  chmod: 'RestrictSUIDSGID=',
  fchmod: 'RestrictSUIDSGID=',
  fchmodat: 'RestrictSUIDSGID=',
  fchmodat2: 'RestrictSUIDSGID=',
  creat: 'RestrictSUIDSGID=',
  open: 'RestrictSUIDSGID=',
  openat: 'RestrictSUIDSGID=',
  mknod: 'RestrictSUIDSGID=',
  mknodat: 'RestrictSUIDSGID=',
}

const allowing = (a: Action) => ['allow', 'log', 'notify', 'trace'].includes(a.kind)

/** Whether cordon's filter lets this call through with these arguments (native entry point). */
function letsCall(spec: SeccompSpec, native: ArchInfo, name: string, args: bigint[]): boolean {
  if (native.table[name] === undefined) return false
  const leaf = leafFor(spec, name)
  const check = leaf.checks.find((c) => c.args.every((a) => holds(a, args[a.index] ?? 0n, native)))
  return allowing(check ? check.action : leaf.fallback)
}

export interface SystemdSeccomp {
  lines: string[]
  gaps: Gap[]
}

export function systemdSeccomp(policy: ResolvedPolicy, arch: string): SystemdSeccomp {
  const spec = exportedSeccomp(policy)
  const native = entryPoints(arch)[0]!
  const gaps: Gap[] = []
  const lines = [...filterLines(spec, arch, gaps), ...namespaceLines(spec, native)]
  lines.push(...familyLines(spec, native, gaps))
  personalityGap(spec, native, gaps)
  return { lines, gaps }
}

/** SystemCallFilter=, SystemCallErrorNumber=, SystemCallArchitectures=. */
function filterLines(spec: SeccompSpec, arch: string, gaps: Gap[]): string[] {
  const names = [...new Set(entryPoints(arch).flatMap((a) => Object.keys(a.table)))].sort()
  const allowByDefault = allowing(spec.defaultAction)
  const listed: string[] = []
  const unknown: string[] = []
  const unsaid: string[] = []
  let killed = false
  for (const name of names) {
    const leaf = leafFor(spec, name)
    const outcomes = [leaf.fallback, ...leaf.checks.map((c) => c.action)]
    // Allowed for some arguments: allowed by name (systemd cannot look at arguments).
    // clone3 is refused with ENOSYS so that libc falls back to clone (its flags are in memory,
    // where no filter can read them). An allowlist cannot give one call its own errno, and
    // EPERM makes glibc fail thread creation: the unit lists clone3, and RestrictNamespaces=
    // answers it with ENOSYS itself (systemd does so for clone3 whenever it restricts namespaces).
    const fallsBack = name === 'clone3' && leaf.fallback.kind === 'errno' && leaf.fallback.errno === ENOSYS
    const someAllowed = outcomes.some(allowing) || (!allowByDefault && fallsBack)
    if (someAllowed && !outcomes.every(allowing) && !SAID_BY_OPTION[name]) unsaid.push(name)
    if (allowByDefault === someAllowed) continue
    if (UNKNOWN_TO_SYSTEMD_FLOOR.has(name)) {
      unknown.push(name)
      continue
    }
    const a = leaf.fallback
    if (!allowByDefault) listed.push(name)
    else if (a.kind === 'errno' || a.kind === 'deny-log') listed.push(`${name}:${errnoName(a.errno)}`)
    else {
      listed.push(name)
      killed ||= a.kind === 'kill-process' || a.kind === 'kill-thread' || a.kind === 'trap'
    }
  }
  const out = ['SystemCallArchitectures=native']
  const floor = `systemd ${SYSTEMD_FLOOR.systemd} (libseccomp ${SYSTEMD_FLOOR.libseccomp})`
  if (allowByDefault) {
    if (listed.length) out.push(`SystemCallFilter=~${listed.join(' ')}`)
    out.push('SystemCallErrorNumber=EPERM')
    if (unknown.length)
      gaps.push({
        statement: `seccomp: refusal of ${unknown.join(', ')}`,
        why: `${floor} cannot name them, so the unit leaves them out and they pass; a unit for a newer systemd can list them`,
      })
    if (killed)
      gaps.push({
        statement: 'seccomp kill actions',
        why: 'a denylist unit refuses them with EPERM instead of killing',
      })
  } else {
    out.push(`SystemCallFilter=${listed.join(' ')}`)
    const d = spec.defaultAction
    if (d.kind === 'errno' || d.kind === 'deny-log') out.push(`SystemCallErrorNumber=${errnoName(d.errno)}`)
    if (unknown.length)
      gaps.push({
        statement: `seccomp: ${unknown.join(', ')} allowed`,
        why: `${floor} cannot name them, so the unit's allowlist leaves them out and refuses them`,
      })
  }
  if (unsaid.length)
    gaps.push({
      statement: `seccomp argument checks on ${unsaid.join(', ')}`,
      why: 'systemd filters by name only and has no option for these checks: each is allowed whatever its arguments',
    })
  return out
}

/** RestrictNamespaces=: the namespaces cordon lets clone create (unshare and setns alike). */
function namespaceLines(spec: SeccompSpec, native: ArchInfo): string[] {
  const allowed = NAMESPACE_FLAGS.filter(([, flag]) => letsCall(spec, native, 'clone', [flag]))
  if (allowed.length === NAMESPACE_FLAGS.length) return []
  return [`RestrictNamespaces=${allowed.length ? allowed.map(([n]) => n).join(' ') : 'yes'}`]
}

/** A probe of each socket type and common protocol of a family. */
const SOCKET_PROBES: [bigint, bigint][] = [1n, 2n, 3n, 5n, 0x80001n, 0x80002n, 0x80803n].flatMap((type) =>
  [0n, 1n, 6n, 11n, 17n, 132n, 262n].map((proto): [bigint, bigint] => [type, proto]),
)

/** RestrictAddressFamilies=: families cordon lets socket() open. A family allowed only for some
 * types or protocols is kept (with a gap), except netlink when the refused protocol is the
 * process connector, which watches every process on the host: then netlink is refused. */
function familyLines(spec: SeccompSpec, native: ArchInfo, gaps: Gap[]): string[] {
  const kept: string[] = []
  const partial: string[] = []
  let connector = false
  for (let f = 1; f < FAMILIES.length; f++) {
    const results = SOCKET_PROBES.map(([type, proto]) =>
      letsCall(spec, native, 'socket', [BigInt(f), type, proto]),
    )
    if (!results.some(Boolean)) continue
    if (results.every(Boolean)) kept.push(FAMILIES[f]!)
    else if (f === AF_NETLINK && !letsCall(spec, native, 'socket', [BigInt(f), 2n, NETLINK_CONNECTOR]))
      connector = true
    else {
      kept.push(FAMILIES[f]!)
      partial.push(FAMILIES[f]!)
    }
  }
  // Families past the table: refused by any allowlist form of the option.
  if (
    kept.length === FAMILIES.length - 1 &&
    letsCall(spec, native, 'socket', [BigInt(FAMILIES.length), 1n, 0n])
  )
    return []
  if (partial.length)
    gaps.push({
      statement: `socket types and protocols of ${partial.join(', ')}`,
      why: 'RestrictAddressFamilies= allows or refuses a whole family; cordon refuses some of its types or protocols',
    })
  if (connector)
    gaps.push({
      statement: 'netlink (narrower)',
      why:
        'cordon refuses only the netlink process connector; systemd cannot tell netlink protocols apart, ' +
        'so the unit refuses AF_NETLINK (add it to RestrictAddressFamilies= if the program needs netlink)',
    })
  return [`RestrictAddressFamilies=${kept.length ? kept.join(' ') : 'none'}`]
}

/** LockPersonality= keeps the current personality only; cordon may allow a few more. */
function personalityGap(spec: SeccompSpec, native: ArchInfo, gaps: Gap[]): void {
  const more = [0x8n, 0x20000n, 0x20008n].filter((p) => letsCall(spec, native, 'personality', [p]))
  if (more.length)
    gaps.push({
      statement: `personality ${more.map((p) => `0x${p.toString(16)}`).join(', ')} (narrower)`,
      why: 'LockPersonality= allows only the current personality (PER_LINUX): e.g. `setarch linux32` is refused',
    })
}
