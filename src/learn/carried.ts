// What a learned policy keeps of its base besides the seccomp rules (learned-seccomp.ts): a
// learned policy narrows the base, it never loosens it nor changes what the base decides. Every
// restriction of the base is written out again (namespaces, limits, TCP ports, Landlock scopes,
// masks, tmpfs options, acknowledged gaps); learning only lowers what it measured (memory and
// pids below the base's, the ports the run used).
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import type { Observation } from './observation.js'
import { under } from './paths.js'
import { flow, yamlScalar as q, type YamlWriter } from './yaml-writer.js'
import { execGrants } from '../plan/view.js'

/** Bytes in the largest unit that divides them: 512M, 3G, 4097 (a string, as the schema reads sizes). */
export function sizeText(bytes: number): string {
  for (const [unit, n] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const)
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`
  return String(bytes)
}

/** Every namespace, off ones too: one left out would take its default, not the base's. All but
 * net where `network` says it (none and loopback make one, host does not): written out too, it
 * contradicted a later `--net host` (helper-152). `none` without one (kept by refusing IP
 * sockets) is the one case the net namespace must be said. */
export function namespacesOf(b: ResolvedPolicy): Record<string, boolean> {
  const { net, ...rest } = b.namespaces
  return net === (b.network !== 'host') ? rest : { ...rest, net }
}

const DEFAULT_TMPFS_MODE = 0o1777

/** A tmpfs entry with every option the base gave it. */
export function tmpfsLine(e: Extract<ViewEntry, { kind: 'tmpfs' }>): string {
  const opts = {
    ...(e.size ? { size: sizeText(e.size) } : {}),
    ...(e.mode !== DEFAULT_TMPFS_MODE ? { mode: `0${e.mode.toString(8)}` } : {}),
    ...(e.access ? { access: e.access } : {}),
    ...(e.exec === false ? { exec: false } : {}),
  }
  return Object.keys(opts).length
    ? `  - tmpfs: ${flow({ dest: e.dest, ...opts })}`
    : `  - tmpfs: ${q(e.dest)}`
}

/** The base's masks that fall inside what the learned view shows: learning ran with them, so the
 * program never saw what they hide, and a grant of the directory must not show it now. */
export function masksInside(b: ResolvedPolicy, shown: readonly string[]): string[] {
  return [
    ...new Set(
      b.filesystem.flatMap((e) => (e.kind === 'mask' && shown.some((d) => under(e.dest, d)) ? [e.dest] : [])),
    ),
  ]
}

/** Landlock's settings when the base changed them: a required ABI, the scopes. */
export function writeLandlock(y: YamlWriter, b: ResolvedPolicy): void {
  const scopes = [...b.landlock.scopes].sort()
  const defaultScopes = scopes.length === 2 && scopes[0] === 'abstract-unix-socket' && scopes[1] === 'signal'
  // The base's grants of execute: the learning run had them (learn.ts traceView), and a tmpfs
  // of the base's that the learned policy keeps is exec where they reach (helper-140: what ran
  // there while learning was refused by the learned policy).
  const paths = execGrants(b)
  if (!b.landlock.require && defaultScopes && !paths.length) return
  y.line('landlock:', "the base's")
  if (b.landlock.require) y.line(`  require: ${b.landlock.require}`)
  if (!defaultScopes) y.line(`  scopes: ${flow(b.landlock.scopes)}`)
  if (paths.length) {
    y.line('  paths:', "the base's grants of execute")
    for (const p of paths)
      y.line(`    - { path: ${q(p.path)}, access: ${flow(p.access)}${p.optional ? ', optional: true' : ''} }`)
  }
}

const ports = (list: Observation['net']['bind']) =>
  [...new Set(list.filter((e) => e.family !== 'unix').map((e) => e.port ?? 0))].sort((x, z) => x - z)

/** The tcp section: the ports the run used, when it used only TCP; inside the base's ports when
 * the base has a tcp section, which is kept whatever the run used (it refuses other IP sockets). */
export function writeTcp(y: YamlWriter, obs: Observation, b: ResolvedPolicy): void {
  const values = (call: string, arg: number) => (obs.syscalls[call]?.values?.[String(arg)] ?? []).map(Number)
  const inet = values('socket', 0).filter((f) => f === 2 || f === 10)
  // Socket types come with SOCK_CLOEXEC/NONBLOCK bits; 1 is SOCK_STREAM. A protocol of 262 is
  // MPTCP, a stream too, which the section refuses.
  const types = values('socket', 1).map((t) => t & 0xf)
  const tcpOnly =
    inet.length > 0 && types.length > 0 && types.every((t) => t === 1) && !values('socket', 2).includes(262)
  // What the section refuses of a program that used TCP alone: fast open (MSG_FASTOPEN in a
  // send's flags, TCP_FASTOPEN_CONNECT), and listen() when no bind port is listed (on any
  // socket, UNIX ones too: seccomp sees only a descriptor). Learned, a policy must run what it
  // was learned from (helper-140: each of these was refused enforced).
  const MSG_FASTOPEN = 0x20000000
  const fastOpen =
    [values('sendto', 3), values('sendmsg', 2), values('sendmmsg', 3)].some((f) =>
      f.some((v) => v & MSG_FASTOPEN),
    ) ||
    (values('setsockopt', 1).includes(6) && values('setsockopt', 2).includes(30))
  const listens = (obs.syscalls.listen?.count ?? 0) > 0
  const within = (used: number[], allowed?: number[]) =>
    allowed ? used.filter((p) => allowed.includes(p)) : used
  if (b.tcp) {
    const bind = within(ports(obs.net.bind), b.tcp.bind)
    // Narrowed to none, the bind list would refuse the listen() the run made.
    const keep = listens && !bind.length && b.tcp.bind.length > 0
    y.line('tcp:', "the base's section, with only the ports the run used")
    y.line(
      `  bind: [${(keep ? b.tcp.bind : bind).join(', ')}]`,
      keep ? "the base's: the run listened without binding one, which an empty list refuses" : undefined,
    )
    y.line(`  connect: [${within(ports(obs.net.connect), b.tcp.connect).join(', ')}]`)
  } else if (tcpOnly && !fastOpen && !(listens && !ports(obs.net.bind).length)) {
    y.line('tcp:', 'only TCP sockets were used: other IP sockets are refused')
    y.line(`  bind: [${ports(obs.net.bind).join(', ')}]`)
    y.line(`  connect: [${ports(obs.net.connect).join(', ')}]`)
  } else if (tcpOnly) {
    y.comment(
      fastOpen
        ? 'no tcp: section: the run used TCP fast open, which port rules cannot judge and the section refuses'
        : 'no tcp: section: the run listened without binding a TCP port, which the section refuses',
    )
  } else if (inet.length) {
    y.comment('no tcp: section: the run used non-TCP IP sockets (UDP…), which port rules would refuse')
  }
}

/** The base's limits, with memory and pids lowered to the peaks seen while learning (with
 * headroom: memory ×2, at least 64M; pids ×4, at least 64) where that is below the base's. */
export function writeLimits(y: YamlWriter, obs: Observation, b: ResolvedPolicy): void {
  const lim = b.limits
  const lines: string[] = []
  const notes: string[] = []
  const peakMemory = obs.peaks.memoryBytes
    ? Math.max(64, Math.ceil((obs.peaks.memoryBytes * 2) / 2 ** 20)) * 2 ** 20
    : undefined
  if (peakMemory !== undefined && (lim.memory === undefined || peakMemory < lim.memory)) {
    lines.push(`  memory: ${sizeText(peakMemory)}`)
    notes.push('memory: peak ×2')
  } else if (lim.memory !== undefined)
    lines.push(
      `  memory: ${q(lim.memoryPercent !== undefined ? `${lim.memoryPercent}%` : sizeText(lim.memory))}`,
    )
  const peakPids = obs.peaks.pids ? Math.max(64, obs.peaks.pids * 4) : undefined
  if (peakPids !== undefined && (lim.pids === undefined || peakPids < lim.pids)) {
    lines.push(`  pids: ${peakPids}`)
    notes.push('pids: peak ×4')
  } else if (lim.pids !== undefined) lines.push(`  pids: ${lim.pids}`)
  if (lim.swap !== undefined) lines.push(`  swap: ${q(sizeText(lim.swap))}`)
  if (lim.cpus !== undefined) lines.push(`  cpus: ${q(String(lim.cpus))}`)
  if (lim.cpuWeight !== undefined) lines.push(`  cpu-weight: ${lim.cpuWeight}`)
  if (lim.ioWeight !== undefined) lines.push(`  io-weight: ${lim.ioWeight}`)
  if (lim.cpuset !== undefined) lines.push(`  cpuset: ${q(lim.cpuset)}`)
  if (lim.timeoutMs !== undefined) lines.push(`  timeout: ${lim.timeoutMs}ms`)
  if (b.requireLimits) lines.push('  require: true')
  if (Object.keys(b.rlimits).length) lines.push(`  rlimits: ${flow(b.rlimits)}`)
  if (!lines.length) return
  y.line(
    'limits:',
    notes.length
      ? `the base's, lowered to the peaks seen while learning (${notes.join(', ')})`
      : "the base's",
  )
  for (const l of lines) y.line(l)
}
