// Observation + base policy → a least-privilege policy, as commented YAML. Generalization is
// conservative: a file under a system directory (GENERAL_ROOTS) grants that directory
// read-only; a directory the program listed grants itself; anything else is granted file by
// file. No grant ever covers a protected path (secrets: /etc/shadow, ~/.ssh, cloud keys…).
import { homedir } from 'node:os'
import { posix } from 'node:path'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { capabilityName } from '../policy/capabilities.js'
import { ETC_SECRETS } from '../policy/profiles.js'
import { leafFor } from '../seccomp/compile.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { NEVER_NOTIFIED, SPAWN_SYSCALLS } from '../seccomp/notify.js'
import { errnoName } from '../seccomp/resolve.js'
import { syscallTable } from '../seccomp/tables.js'
import { type Endpoint, type FileAccess, NARROW_ON, type Observation } from './observation.js'
import { traceView } from './learn.js'
import { attackSurface } from './surface.js'
import { CONTROL, escapeControl } from '../run/escape.js'
import { interpreterOf, isDir, kernelPath, kindOf, normalPath, resolveOnHost, under } from './paths.js'

/** Directories a file inside generalizes to (read-only): system trees with no secrets. */
export const GENERAL_ROOTS = [
  '/usr/lib',
  '/usr/lib64',
  '/usr/lib32',
  '/usr/libx32',
  '/usr/libexec',
  '/usr/share',
  '/usr/bin',
  '/usr/sbin',
  '/usr/include',
  '/usr/local/lib',
  '/usr/local/bin',
  '/usr/local/share',
  '/usr/local/include',
  '/etc/ssl/certs',
  '/etc/alternatives',
  '/etc/fonts',
  '/sys/devices/system/cpu',
]

const HOME_SECRETS = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.kube',
  '.docker',
  '.netrc',
  '.git-credentials',
  '.npmrc',
  '.pypirc',
  '.password-store',
  '.vault-token',
]

/** Paths no learned grant may cover, added to by `--protect`. */
export function protectedPaths(extra: readonly string[] = []): string[] {
  const homes = [...new Set([homedir(), '/root'])]
  return [
    ...ETC_SECRETS,
    '/run/secrets',
    '/var/run/secrets',
    '/var/lib/sss',
    ...homes.flatMap((h) => HOME_SECRETS.map((s) => posix.join(h, s))),
    ...extra.map((p) => posix.resolve(p)),
  ]
}

export interface GenerateOptions {
  /** The policy the run was learned under: namespaces, env, network… carry over. */
  base: ResolvedPolicy
  /** Base seccomp, resolved: a learned allow never lets through what it refuses. */
  baseSeccomp: SeccompSpec
  /** Name of the base's seccomp profile (default, strict, none). */
  baseProfile: string
  cwd: string
  /** The learned command: `cordon run -p POLICY` with no command runs it. */
  command?: readonly string[]
  protect?: readonly string[]
  /** Header lines (what was learned, when). */
  header?: string[]
}

type Grant = 'ro' | 'rw' | 'mkdir'
interface Entry {
  grant: Grant
  why: Map<string, string[]>
}

const RANK: Record<Grant, number> = { mkdir: 0, ro: 1, rw: 2 }
const VERB: Record<FileAccess, string> = {
  read: 'read',
  write: 'written',
  exec: 'executed',
  list: 'listed',
  create: 'created',
  delete: 'deleted',
  lookup: 'looked up',
}

export interface Generated {
  yaml: string
  /** Statements the learned run needed that the policy does not grant, and why. */
  withheld: string[]
  /** What the run tried and failed to do (`write /usr/local/bin/x`, `connect 10.0.0.1:5432`):
   * never granted, listed so a reviewer sees what the program wanted. */
  failed: string[]
}

const ATTEMPT: Record<FileAccess, string> = {
  read: 'read',
  write: 'write',
  exec: 'execute',
  list: 'list',
  create: 'create',
  delete: 'delete',
  lookup: 'look up',
}
const FAILED_SHOWN = 40

/** Attempts that failed in every run: a path or endpoint some run reached is not listed, nor
 * a read of what does not exist (a library search, a config file probe: not a refusal), nor
 * what `skip` says the policy does not decide (the sandbox's own /proc, /dev, tmpfs). */
export function failedAttempts(obs: Observation, skip: (path: string) => boolean = () => false): string[] {
  const out: string[] = []
  const tried = Object.entries(obs.failed?.files ?? {}).sort(([a], [b]) => a.localeCompare(b))
  for (const [path, access] of tried) {
    if (skip(path)) continue
    const done = new Set(obs.files[path] ?? [])
    const absent = kindOf(path) === 'missing'
    for (const a of access)
      if (!done.has(a) && (!absent || a === 'create' || a === 'write')) out.push(`${ATTEMPT[a]} ${path}`)
  }
  const where = (e: Endpoint) => (e.port === undefined ? e.address : `${e.address}:${e.port}`)
  for (const kind of ['bind', 'connect'] as const)
    for (const ep of obs.failed?.[kind] ?? [])
      if (
        !obs.net[kind].some(
          (e) => e.family === ep.family && e.address === ep.address && e.port === ep.port,
        ) &&
        // A socket file that is not there (nscd, a daemon not running) is a probe, not a refusal.
        !(ep.family === 'unix' && !ep.address.startsWith('@') && kindOf(ep.address) === 'missing')
      )
        out.push(`${kind} ${where(ep)}`)
  return out
}

export function generatePolicy(obs: Observation, opts: GenerateOptions): Generated {
  const protect = protectedPaths(opts.protect)
  const view = traceView(opts.base, opts.cwd).filesystem
  const privateDirs = view.flatMap((e) =>
    e.kind === 'tmpfs' || e.kind === 'proc' || e.kind === 'dev' ? [e.dest] : [],
  )
  const exposedDirs = view.flatMap((e) => (e.kind === 'bind' && e.dest !== '/' ? [e.dest] : []))
  const holdsSecret = (dir: string) => protect.some((p) => under(p, dir))
  const isProtected = (path: string) => protect.some((p) => under(path, p))
  const isPrivate = (path: string) =>
    privateDirs.some((d) => under(path, d)) && !exposedDirs.some((d) => under(path, d))
  const withheld: string[] = []
  const entries = new Map<string, Entry>()
  const links = new Map<string, string>()
  const grant = (path: string, g: Grant, access: string, example: string) => {
    const e = entries.get(path) ?? { grant: g, why: new Map<string, string[]>() }
    if (RANK[g] > RANK[e.grant]) e.grant = g
    const ex = e.why.get(access) ?? []
    if (!ex.includes(example)) ex.push(example)
    e.why.set(access, ex)
    entries.set(path, e)
  }

  const files = new Map<string, Set<FileAccess>>()
  for (const [raw, access] of Object.entries(obs.files)) {
    const path = kernelPath(raw)
    if (!path && raw.startsWith('/')) {
      withheld.push(
        `${[...access].map((a) => VERB[a]).join(', ')} ${raw}: a \`..\` after a link that is gone, so where it led is unknown`,
      )
      continue
    }
    if (!path || isPrivate(path)) continue
    const set = files.get(path) ?? new Set<FileAccess>()
    for (const a of access) set.add(a)
    files.set(path, set)
  }
  // The kernel opens interpreters itself: they need the same rights as what they run.
  for (const [path, access] of [...files]) {
    if (!access.has('exec')) continue
    const interp = interpreterOf(resolveOnHost(path).real)
    if (interp && !files.get(interp)?.has('exec'))
      files.set(interp, new Set([...(files.get(interp) ?? []), 'exec' as const]))
  }
  const created = new Set([...files].filter(([, a]) => a.has('create')).map(([p]) => p))

  /** Where the run created or removed entries: the nearest directory that existed before it. */
  const anchorOf = (path: string) => {
    let dir = posix.dirname(path)
    while (dir !== '/' && (created.has(dir) || !isDir(dir))) dir = posix.dirname(dir)
    return dir
  }
  const wantRead = (path: string, access: FileAccess) => {
    const { real, links: passed } = resolveOnHost(path)
    for (const [l, t] of passed) links.set(l, t)
    if (isPrivate(real)) return
    if (isProtected(real)) {
      withheld.push(`${VERB[access]} ${path}: protected (secrets are never granted; --protect lists them)`)
      return
    }
    const root = GENERAL_ROOTS.find((r) => under(real, r) && !holdsSecret(r))
    if (root) return grant(root, 'ro', VERB[access], real)
    const dir = kindOf(real) === 'dir'
    if (dir && access === 'lookup') return grant(real, 'mkdir', VERB[access], real)
    if (dir && holdsSecret(real)) {
      withheld.push(`${VERB[access]} ${real}: holds protected paths, so only what was read inside is granted`)
      return grant(real, 'mkdir', VERB[access], real)
    }
    grant(real, 'ro', VERB[access], real)
  }

  for (const [path, access] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const kind = kindOf(path)
    for (const a of access) {
      if (a === 'create' || a === 'delete') {
        const anchor = anchorOf(path)
        if (isPrivate(anchor)) continue
        if (anchor === '/' || holdsSecret(anchor) || isProtected(anchor))
          withheld.push(`${VERB[a]} ${path}: its directory ${anchor} holds protected paths or is the root`)
        else grant(anchor, 'rw', VERB[a], path)
      } else if (a === 'write') {
        if (created.has(path) || kind === 'missing') {
          const anchor = anchorOf(path)
          if (!isPrivate(anchor) && anchor !== '/' && !holdsSecret(anchor)) grant(anchor, 'rw', VERB[a], path)
        } else if (isProtected(path)) withheld.push(`written ${path}: protected`)
        else {
          const real = resolveOnHost(path).real
          if (!isPrivate(real)) grant(real, 'rw', VERB[a], path)
        }
      } else if (kind !== 'missing') {
        wantRead(path, a === 'read' && kind === 'dir' ? 'list' : a)
      }
    }
  }
  // The command starts in the working directory, so the view shows it: read-only unless the
  // run wrote there. An empty directory (`mkdir`) above it, such as `/` for a lookup of `/`,
  // does not show it; nor does a private mount (/tmp) that the run only saw through the cwd.
  if (![...entries].some(([p, e]) => e.grant !== 'mkdir' && under(opts.cwd, p)))
    grant(opts.cwd, 'ro', 'working directory', opts.cwd)

  // Covered entries go: a grant inside an equal or stronger one adds nothing.
  const sorted = [...entries].sort(([a], [b]) => a.localeCompare(b))
  const kept: [string, Entry][] = []
  for (const [path, e] of sorted) {
    const cover = kept.find(([p, k]) => p !== path && under(path, p) && k.grant !== 'mkdir')
    if (cover && RANK[cover[1].grant] >= RANK[e.grant]) {
      for (const [a, ex] of e.why) cover[1].why.set(a, [...(cover[1].why.get(a) ?? []), ...ex])
      continue
    }
    kept.push([path, e])
  }
  const covered = (p: string) => kept.some(([k, e]) => e.grant !== 'mkdir' && under(p, k) && k !== p)
  const symlinks = [...links]
    .filter(([l]) => !covered(l) && !isPrivate(l))
    .sort(([a], [b]) => a.localeCompare(b))

  const y = new YamlWriter()
  for (const line of opts.header ?? []) y.comment(line)
  y.line('version: 1')
  const b = opts.base
  y.map('namespaces', Object.fromEntries(Object.entries(b.namespaces).filter(([, v]) => v)))
  y.line(`network: ${b.network}`)
  if (b.hostname) y.line(`hostname: ${q(b.hostname)}`)
  if (b.user.uid !== undefined || b.user.gid !== undefined) y.map('user', b.user)
  if (b.capabilities.length) y.list('capabilities', b.capabilities.map(capabilityName))
  y.line(`cwd: ${q(opts.cwd)}`)
  if (opts.command?.length) y.list('command', opts.command)
  y.line('env:')
  y.list('  pass', b.env.pass)
  y.map('  set', b.env.set)

  y.line('filesystem:')
  for (const e of b.filesystem) {
    if (e.kind === 'proc' || e.kind === 'dev') y.line(`  - ${e.kind}: ${q(e.dest)}`)
    else if (e.kind === 'tmpfs')
      y.line(e.exec === false ? `  - tmpfs: { dest: ${q(e.dest)}, exec: false }` : `  - tmpfs: ${q(e.dest)}`)
  }
  for (const [link, target] of symlinks) y.line(`  - symlink: { target: ${q(target)}, dest: ${q(link)} }`)
  for (const [path, e] of kept) {
    const why = [...e.why].map(
      ([a, ex]) => `${a} ${ex.length > 1 ? `${ex.length} paths, e.g. ${ex[0]}` : ex[0]}`,
    )
    y.line(`  - ${e.grant}: ${q(path)}`, why.join('; '))
  }

  y.line('seccomp:')
  y.line(`  profile: ${opts.baseProfile}`)
  y.line('  default: errno(EPERM)', 'anything not seen while learning')
  const allowed: [string, number][] = []
  const narrowed: [string, number, string[], number][] = []
  const refused: string[] = []
  const byTracer: string[] = []
  for (const [name, use] of Object.entries(obs.syscalls).sort(([a], [b]) => a.localeCompare(b))) {
    if (name.startsWith('#') || name === 'other') continue
    const leaf = leafFor(opts.baseSeccomp, name)
    if (use.tracerRefused !== undefined)
      byTracer.push(`${TRACER_REFUSALS[name] ?? name} (${errnoName(use.tracerRefused)})`)
    if (use.refused !== undefined || use.tracerRefused !== undefined || leaf.fallback.kind !== 'allow') {
      if (use.refused !== undefined) refused.push(`${name} (${errnoName(use.refused)})`)
      continue // the base decides, as it did while learning
    }
    const index = NARROW_ON[name]
    const values = index !== undefined ? use.values?.[index] : undefined
    if (values?.length) narrowed.push([name, index!, values, use.count])
    else allowed.push([name, use.count])
  }
  if (refused.length)
    y.comment(`  refused by the base profile while learning, still refused: ${refused.join(', ')}`)
  if (byTracer.length)
    y.comment(
      `  refused by learn's tracer, not by the base profile (a traced process may not leave the tracer; enforced, the base profile decides): ${byTracer.join(', ')}`,
    )
  y.line('  rules:')
  y.line('    - action: allow')
  y.line('      syscalls:')
  for (const [name, count] of allowed) y.line(`        - ${name}`, plural(count, 'call'))
  const implied = impliedBy(obs)
  for (const name of implied)
    if (
      !obs.syscalls[name] &&
      leafFor(opts.baseSeccomp, name).fallback.kind === 'allow' &&
      name in syscallTable(obs.arch)
    )
      y.line(
        `        - ${name}`,
        SCHEDULING.includes(name)
          ? 'not seen, but made or not depending on scheduling and signals'
          : CHILD_RACES.includes(name)
            ? 'not seen, but made or not depending on whether a child is still alive'
            : 'never stopped while learning (it may not be interrupted), so allowed as the base does',
      )
  for (const [name, index, values, count] of narrowed) {
    y.line('    - action: allow', `${name}: only the values seen (${plural(count, 'call')})`)
    y.line(`      syscalls: [${name}]`)
    y.line(
      `      args: [{ index: ${index}, op: in, width: 32, values: [${values.map((v) => q(v)).join(', ')}] }]`,
    )
  }

  // What the base lets through (explicitly, or for some argument values) and the run never
  // used is refused too: the allowlist is what was seen, whatever the base profile allows.
  const seen = new Set([...Object.keys(obs.syscalls), ...implied])
  const strictBase = { ...opts.baseSeccomp, defaultAction: { kind: 'errno' as const, errno: 1 } }
  const unseen = attackSurface(strictBase, obs.arch).reachable.filter((n) => !seen.has(n))
  if (unseen.length) {
    y.line(
      '    - action: errno(EPERM)',
      'the base profile allows these (for some arguments); the run never used them',
    )
    y.line(`      syscalls: [${unseen.join(', ')}]`)
  }

  const inet = (obs.syscalls.socket?.values?.['0'] ?? []).filter((f) => f === '0x2' || f === '0xa')
  // Socket types come with SOCK_CLOEXEC/NONBLOCK bits; 1 is SOCK_STREAM.
  const types = (obs.syscalls.socket?.values?.['1'] ?? []).map((t) => Number(t) & 0xf)
  const tcpOnly = inet.length > 0 && types.length > 0 && types.every((t) => t === 1)
  const ports = (list: Observation['net']['bind']) =>
    [...new Set(list.filter((e) => e.family !== 'unix').map((e) => e.port ?? 0))].sort((x, z) => x - z)
  if (tcpOnly) {
    y.line('tcp:', 'only TCP sockets were used: other IP sockets are refused')
    y.line(`  bind: [${ports(obs.net.bind).join(', ')}]`)
    y.line(`  connect: [${ports(obs.net.connect).join(', ')}]`)
  } else if (inet.length) {
    y.comment('no tcp: section: the run used non-TCP IP sockets (UDP…), which port rules would refuse')
  }

  const limits: string[] = []
  if (obs.peaks.memoryBytes)
    limits.push(`  memory: ${Math.max(64, Math.ceil((obs.peaks.memoryBytes * 2) / 2 ** 20))}M`)
  if (obs.peaks.pids) limits.push(`  pids: ${Math.max(64, obs.peaks.pids * 4)}`)
  if (limits.length) {
    y.line('limits:', 'peaks seen while learning, with headroom (memory ×2, pids ×4)')
    for (const l of limits) y.line(l)
  }
  for (const w of withheld) y.comment(`not granted: ${w}`)
  const failed = failedAttempts(obs, (p) => isPrivate(normalPath(p) ?? p))
  if (failed.length) y.comment('failed while learning (refused, or left no trace), so never granted:')
  for (const f of failed.slice(0, FAILED_SHOWN)) y.comment(`- ${f}`)
  if (failed.length > FAILED_SHOWN)
    y.comment(`… and ${failed.length - FAILED_SHOWN} more (the .learn.json file lists them all)`)
  return { yaml: y.text(), withheld, failed }
}

/** How the tracer's own refusals (learn/trace.ts refusedByTracer) are named in the policy. */
const TRACER_REFUSALS: Readonly<Record<string, string>> = {
  clone: 'clone with CLONE_UNTRACED',
  clone3: 'clone3, whose flags the filter cannot read (libc falls back to clone)',
}

/** Calls a run makes or not depending on timing, not on what it does: a yield under lock
 * contention, a sleep interrupted by a signal, a signal handler's return. Allowed although
 * unseen, so a learned policy does not fail on a busier machine; none reaches anything new. */
const SCHEDULING = ['sched_yield', 'restart_syscall', 'rt_sigreturn']

/** Calls a program that reaps children makes or not depending on whether one is still alive:
 * Python's Pool signals the workers that have not exited yet. Allowed although unseen when
 * the run reaped a child (wait4 or waitid seen), as the base allows them: whether one
 * learning run happened to make them is chance, not what the program does. */
const CHILD_RACES = ['kill', 'wait4', 'waitid']

/** Calls learning never stops (seccomp/notify.ts NEVER_NOTIFIED: process creation, a signal
 * handler's return, exit), so it cannot tell which of them the run made: the learned policy
 * decides them as the base does, the process-creating ones unless the runs were counted to
 * create no process or thread at all (`spawns`; absent when nothing could count them). */
function impliedBy(obs: Observation): string[] {
  const spawned = obs.spawns === undefined || obs.spawns.count > 0
  const reaped = CHILD_RACES.some((n) => n !== 'kill' && obs.syscalls[n])
  return [
    ...new Set([
      ...SCHEDULING,
      ...(reaped ? CHILD_RACES : []),
      ...NEVER_NOTIFIED.filter((n) => spawned || !SPAWN_SYSCALLS.includes(n)),
    ]),
  ]
}

const q = yamlScalar

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** A YAML scalar: plain when that reads back as the same string, else double-quoted (JSON).
 * Also audit's suggestions (audit.ts), which a person pastes into a policy.
 * What JSON leaves raw and a reader could be fooled by (C1, line separators, bidi overrides,
 * invisible format characters: escape.ts CONTROL) becomes a YAML escape of the same value. */
export function yamlScalar(v: string): string {
  return /^[A-Za-z_/][\w./@+-]*$/.test(v) && !/^(true|false|null|yes|no|on|off)$/i.test(v)
    ? v
    : JSON.stringify(v).replace(CONTROL, (c) => {
        const code = c.codePointAt(0)!
        return code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`
      })
}

/** Comment text on one line, as a person reads it. Comments carry what the program chose
 * (paths it tried, its own arguments): a line break in one would end the comment and let the
 * sandboxed program write policy keys into its own learned policy, and a bidi override or an
 * invisible character would make a reviewer read another path than the one there. The same
 * escaping as every other line cordon shows (run/escape.ts). */
const oneLine = escapeControl

class YamlWriter {
  private readonly lines: string[] = []
  line(text: string, comment?: string) {
    this.lines.push(comment ? `${text}  # ${oneLine(comment)}` : text)
  }
  comment(text: string) {
    const indent = /^\s*/.exec(text)![0]
    this.lines.push(`${indent}# ${oneLine(text.trimStart())}`)
  }
  list(key: string, values: readonly string[]) {
    this.line(`${key}: [${values.map(q).join(', ')}]`)
  }
  map(key: string, value: Record<string, unknown>) {
    const parts = Object.entries(value).map(([k, v]) => `${k}: ${typeof v === 'string' ? q(v) : String(v)}`)
    this.line(`${key}: { ${parts.join(', ')} }`)
  }
  text() {
    return `${this.lines.join('\n')}\n`
  }
}
