// What changes between two resolved policies, statement by statement, and in which direction:
// `wider` when B lets the sandboxed program do something A refused, `narrower` when it refuses
// something A allowed, `changed` when neither is plainly more permissive (a different hostname,
// errno or bind source). Reviewers of a policy change read the `wider` lines first.
import { accessMask, describeAccess } from '../landlock/rights.js'
import { leafFor } from '../seccomp/compile.js'
import type { Leaf } from '../seccomp/leaf.js'
import { type Action, type ArgCondition, actionKey, passesThrough as passes } from '../seccomp/model.js'
import { errnoName } from '../seccomp/resolve.js'
import { enforcedSeccomp } from './effective.js'
import { syscallTable } from '../seccomp/tables.js'
import { capabilityName } from './capabilities.js'
import type { ResolvedPolicy, ViewEntry } from './resolve.js'
import { sizeWord } from './schema.js'

export type Direction = 'wider' | 'narrower' | 'changed'

export interface Change {
  /** The statement: namespaces, network, filesystem, capabilities, seccomp, tcp, landlock, limits, … */
  area: string
  /** What it is about: a path, a syscall, a limit name. */
  subject: string
  direction: Direction
  /** Before → after, in words. */
  from: string
  to: string
}

const NETWORK_REACH = { none: 0, loopback: 1, host: 2 } as const

/** Changes from a to b, grouped by area in a stable order. */
export function diffPolicies(a: ResolvedPolicy, b: ResolvedPolicy, arch: string): Change[] {
  return [
    ...diffNamespaces(a, b),
    ...diffNetwork(a, b),
    ...diffIdentity(a, b),
    ...diffFilesystem(a.filesystem, b.filesystem),
    ...diffCapabilities(a.capabilities, b.capabilities),
    ...diffSeccomp(a, b, arch),
    ...diffTcp(a.tcp, b.tcp),
    ...diffLandlock(a.landlock, b.landlock),
    ...diffLimits(a, b),
    ...diffEnv(a.env, b.env),
  ]
}

function diffNamespaces(a: ResolvedPolicy, b: ResolvedPolicy): Change[] {
  return Object.keys(a.namespaces)
    .filter((ns) => ns !== 'net') // follows `network`, reported there
    .flatMap((ns) => {
      const before = a.namespaces[ns as keyof ResolvedPolicy['namespaces']]
      const after = b.namespaces[ns as keyof ResolvedPolicy['namespaces']]
      if (before === after) return []
      const word = (on: boolean) => (on ? 'private' : 'shared with the host')
      return [change('namespaces', ns, after ? 'narrower' : 'wider', word(before), word(after))]
    })
}

function diffNetwork(a: ResolvedPolicy, b: ResolvedPolicy): Change[] {
  if (a.network === b.network) return []
  const dir = NETWORK_REACH[b.network] > NETWORK_REACH[a.network] ? 'wider' : 'narrower'
  return [change('network', 'network', dir, a.network, b.network)]
}

function diffIdentity(a: ResolvedPolicy, b: ResolvedPolicy): Change[] {
  const out: Change[] = []
  const pairs: [string, string | undefined, string | undefined][] = [
    ['uid', a.user.uid?.toString(), b.user.uid?.toString()],
    ['gid', a.user.gid?.toString(), b.user.gid?.toString()],
    ['hostname', a.hostname, b.hostname],
    ['cwd', a.cwd, b.cwd],
    ['command', a.command && JSON.stringify(a.command), b.command && JSON.stringify(b.command)],
  ]
  for (const [subject, before, after] of pairs)
    if (before !== after)
      out.push(
        change(
          'identity',
          subject,
          subject === 'uid' && after === '0' ? 'wider' : 'changed',
          before ?? '(caller’s)',
          after ?? '(caller’s)',
        ),
      )
  return out
}

/** The effective view: later entries replace earlier ones at the same destination. */
function effectiveView(entries: ViewEntry[]): Map<string, ViewEntry> {
  const view = new Map<string, ViewEntry>()
  for (const e of entries) view.set(e.dest, e)
  return view
}

export function describeEntry(e: ViewEntry): string {
  switch (e.kind) {
    case 'bind':
      return `${e.readOnly ? 'read-only' : 'read-write'} bind of ${e.src}${e.optional ? ' (optional)' : ''}`
    case 'tmpfs':
      return `private tmpfs${e.size ? ` of ${e.size} bytes` : ''}${e.exec === false ? ', noexec' : ''}`
    case 'proc':
      return 'private /proc'
    case 'dev':
      return 'minimal /dev'
    case 'mask':
      return 'masked'
    case 'symlink':
      return `symlink to ${e.target}`
    case 'file':
      return `file (${Buffer.byteLength(e.content)} bytes, mode 0${e.mode.toString(8)})`
    case 'mkdir':
      return 'empty directory'
  }
}

const parent = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/'

/** How much of the host a path shows in a view: 0 nothing, 1 for reading, 2 for writing; and
 * the entry that decides it (the path's own or its nearest ancestor's). */
function exposureAt(view: Map<string, ViewEntry>, path: string): { level: number; by?: ViewEntry } {
  for (let p = path; ; p = parent(p)) {
    const e = view.get(p)
    if (e) return { level: e.kind === 'bind' ? (e.readOnly ? 1 : 2) : 0, by: e }
    if (p === '/') return { level: 0 }
  }
}

function describeAbsent(at: { level: number; by?: ViewEntry }): string {
  if (!at.by) return 'not in the view'
  return at.by.kind === 'bind'
    ? `${at.level === 2 ? 'read-write' : 'read-only'} through ${at.by.dest}`
    : `under ${describeEntry(at.by)} ${at.by.dest}`
}

function diffFilesystem(a: ViewEntry[], b: ViewEntry[]): Change[] {
  const before = effectiveView(a)
  const after = effectiveView(b)
  const dests = [...new Set([...before.keys(), ...after.keys()])].sort()
  const out: Change[] = []
  for (const dest of dests) {
    const x = before.get(dest)
    const y = after.get(dest)
    if (x && y && JSON.stringify(x) === JSON.stringify(y)) continue
    const ex = exposureAt(before, dest)
    const ey = exposureAt(after, dest)
    // Same reach by another route (a mask over nothing, /usr/bin bound where /usr already was): no effect.
    const hidesOrAbsent = (e: ViewEntry | undefined) => !e || e.kind === 'mask'
    const samePathBind = (e: ViewEntry | undefined) => !e || (e.kind === 'bind' && e.src === e.dest)
    if (ex.level === 0 && ey.level === 0 && hidesOrAbsent(x) && hidesOrAbsent(y)) continue
    if (ex.level === ey.level && (!x || !y) && samePathBind(x) && samePathBind(y)) continue
    const dir: Direction = ey.level > ex.level ? 'wider' : ey.level < ex.level ? 'narrower' : 'changed'
    out.push(
      change(
        'filesystem',
        dest,
        dir,
        x ? describeEntry(x) : describeAbsent(ex),
        y ? describeEntry(y) : describeAbsent(ey),
      ),
    )
  }
  return out
}

function diffCapabilities(a: number[], b: number[]): Change[] {
  const out: Change[] = []
  for (const cap of b)
    if (!a.includes(cap)) out.push(change('capabilities', capabilityName(cap), 'wider', 'dropped', 'kept'))
  for (const cap of a)
    if (!b.includes(cap)) out.push(change('capabilities', capabilityName(cap), 'narrower', 'kept', 'dropped'))
  return out
}

function describeAction(a: Action): string {
  return a.kind === 'errno' || a.kind === 'deny-log' ? `${a.kind}(${errnoName(a.errno)})` : actionKey(a)
}

function describeCondition(c: ArgCondition): string {
  const arg = `arg${c.index}`
  const hex = (v: bigint) => (v < 0x10000n ? v.toString() : `0x${v.toString(16)}`)
  if (c.op === 'in') return `${arg} in {${(c.values ?? []).map(hex).join(',')}}`
  if (c.op === 'masked-eq') return `${arg} & ${hex(c.mask ?? 0n)} == ${hex(c.value)}`
  const sym = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' }[c.op]
  return `${arg} ${sym} ${hex(c.value)}`
}

/** A syscall's outcome in words: "allow", "errno(EPERM)", "allow if arg0 in {1,2}, else errno(EPERM)". */
export function describeLeaf(leaf: Leaf): string {
  const parts = leaf.checks.map(
    (c) => `${describeAction(c.action)} if ${c.args.map(describeCondition).join(' and ') || 'always'}`,
  )
  return parts.length
    ? `${parts.join('; ')}; else ${describeAction(leaf.fallback)}`
    : describeAction(leaf.fallback)
}

const leafKey = (leaf: Leaf) =>
  JSON.stringify(leaf, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))

const reachable = (leaf: Leaf) => passes(leaf.fallback) || leaf.checks.some((c) => passes(c.action))

function diffSeccomp(a: ResolvedPolicy, b: ResolvedPolicy, arch: string): Change[] {
  // The filters the sandboxes load, with the layers the compiler adds (policy/effective.ts).
  const specA = enforcedSeccomp(a)
  const specB = enforcedSeccomp(b)
  const out: Change[] = []
  for (const name of Object.keys(syscallTable(arch)).sort()) {
    const x = leafFor(specA, name)
    const y = leafFor(specB, name)
    if (leafKey(x) === leafKey(y)) continue
    const rx = reachable(x)
    const ry = reachable(y)
    // Same reachability but different checks: wider when B lets more argument values through
    // is undecidable in general, so say `changed` and show both.
    const dir: Direction = ry && !rx ? 'wider' : rx && !ry ? 'narrower' : 'changed'
    out.push(change('seccomp', name, dir, describeLeaf(x), describeLeaf(y)))
  }
  if (actionKey(specA.unknownAction) !== actionKey(specB.unknownAction))
    out.push(
      change(
        'seccomp',
        '(syscalls newer than the tables)',
        passes(specB.unknownAction) ? 'wider' : passes(specA.unknownAction) ? 'narrower' : 'changed',
        describeAction(specA.unknownAction),
        describeAction(specB.unknownAction),
      ),
    )
  return out
}

function diffPorts(kind: string, a: number[] | undefined, b: number[] | undefined): Change[] {
  const word = (ports: number[] | undefined) => (ports ? (ports.length ? ports.join(',') : 'none') : 'any')
  if (word(a) === word(b)) return []
  let dir: Direction
  if (!b) dir = 'wider'
  else if (!a) dir = 'narrower'
  else {
    const added = b.some((p) => !a.includes(p))
    const removed = a.some((p) => !b.includes(p))
    dir = added && removed ? 'changed' : added ? 'wider' : 'narrower'
  }
  return [change('tcp', kind, dir, word(a), word(b))]
}

function diffTcp(a: ResolvedPolicy['tcp'], b: ResolvedPolicy['tcp']): Change[] {
  return [...diffPorts('bind', a?.bind, b?.bind), ...diffPorts('connect', a?.connect, b?.connect)]
}

function diffLandlock(a: ResolvedPolicy['landlock'], b: ResolvedPolicy['landlock']): Change[] {
  const out: Change[] = []
  if (a.require !== b.require)
    out.push(
      change(
        'landlock',
        'require',
        b.require < a.require ? 'wider' : 'narrower',
        a.require ? `ABI ${a.require}` : 'best effort',
        b.require ? `ABI ${b.require}` : 'best effort',
      ),
    )
  for (const scope of b.scopes)
    if (!a.scopes.includes(scope))
      out.push(change('landlock', `scope ${scope}`, 'narrower', 'open', 'scoped'))
  for (const scope of a.scopes)
    if (!b.scopes.includes(scope)) out.push(change('landlock', `scope ${scope}`, 'wider', 'scoped', 'open'))
  const rights = (paths: typeof a.paths) => {
    const m = new Map<string, bigint>()
    for (const p of paths) m.set(p.path, (m.get(p.path) ?? 0n) | accessMask(p.access).mask)
    return m
  }
  const ra = rights(a.paths)
  const rb = rights(b.paths)
  for (const path of [...new Set([...ra.keys(), ...rb.keys()])].sort()) {
    const x = ra.get(path) ?? 0n
    const y = rb.get(path) ?? 0n
    if (x === y) continue
    const dir: Direction = (y & ~x) !== 0n ? ((x & ~y) !== 0n ? 'changed' : 'wider') : 'narrower'
    out.push(
      change('landlock', path, dir, x ? describeAccess(x) : 'no rule', y ? describeAccess(y) : 'no rule'),
    )
  }
  return out
}

function diffLimits(a: ResolvedPolicy, b: ResolvedPolicy): Change[] {
  const out: Change[] = []
  const keys = ['memory', 'swap', 'pids', 'cpus', 'cpuWeight', 'ioWeight', 'timeoutMs'] as const
  for (const key of keys) {
    const x = a.limits[key]
    const y = b.limits[key]
    if (x === y) continue
    const dir: Direction =
      key === 'cpuWeight' || key === 'ioWeight'
        ? 'changed'
        : y === undefined || (x !== undefined && y > x)
          ? 'wider'
          : 'narrower'
    const word = (v: number | undefined) =>
      v === undefined
        ? 'unlimited'
        : key === 'memory' || key === 'swap'
          ? sizeWord(v)
          : key === 'timeoutMs'
            ? `${v / 1000}s`
            : String(v)
    out.push(change('limits', key === 'timeoutMs' ? 'timeout' : key, dir, word(x), word(y)))
  }
  if (a.limits.cpuset !== b.limits.cpuset)
    out.push(change('limits', 'cpuset', 'changed', a.limits.cpuset ?? 'all', b.limits.cpuset ?? 'all'))
  for (const r of [...new Set([...Object.keys(a.rlimits), ...Object.keys(b.rlimits)])].sort()) {
    const x = a.rlimits[r]
    const y = b.rlimits[r]
    if (x === y) continue
    const dir: Direction = y === undefined || (x !== undefined && y > x) ? 'wider' : 'narrower'
    out.push(change('limits', `rlimit ${r}`, dir, x?.toString() ?? 'inherited', y?.toString() ?? 'inherited'))
  }
  return out
}

function diffEnv(a: ResolvedPolicy['env'], b: ResolvedPolicy['env']): Change[] {
  const out: Change[] = []
  for (const name of b.pass)
    if (!a.pass.includes(name)) out.push(change('env', name, 'wider', 'not passed', 'passed'))
  for (const name of a.pass)
    if (!b.pass.includes(name)) out.push(change('env', name, 'narrower', 'passed', 'not passed'))
  for (const name of [...new Set([...Object.keys(a.set), ...Object.keys(b.set)])].sort())
    if (a.set[name] !== b.set[name])
      out.push(change('env', name, 'changed', a.set[name] ?? 'unset', b.set[name] ?? 'unset'))
  return out
}

function change(area: string, subject: string, direction: Direction, from: string, to: string): Change {
  return { area, subject, direction, from, to }
}
