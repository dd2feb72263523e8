// Observation + base policy → a least-privilege policy, as commented YAML. Generalization is
// conservative: a file under a system directory (GENERAL_ROOTS) grants that directory
// read-only; a directory the program listed grants itself; anything else is granted file by
// file. No grant ever covers a protected path (secrets: /etc/shadow, ~/.ssh, cloud keys…).
import { homedir } from 'node:os'
import { posix } from 'node:path'
import {
  type ResolvedPolicy,
  sharedContents,
  sharedDirectoryAt,
  secretPaths,
  sharedRelation,
  withRealPaths,
} from '../policy/resolve.js'
import { fileId } from '../host/paths.js'
import { capabilityName } from '../policy/capabilities.js'
import { HOME_SECRETS } from '../policy/profiles.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { type Endpoint, type FileAccess, type Observation } from './observation.js'
import { traceView } from './learn.js'
import { masksInside, namespacesOf, tmpfsLine, writeLandlock, writeLimits, writeTcp } from './carried.js'
import { writeSeccomp } from './learned-seccomp.js'
import { interpreterOf, isDir, kernelPath, kindOf, normalPath, resolveOnHost, under } from './paths.js'
import { flow, yamlScalar as q, YamlWriter } from './yaml-writer.js'

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

/** Paths no learned grant may cover, added to by `--protect`. */
export function protectedPaths(extra: readonly string[] = []): string[] {
  // Where they really are too: what the run used is judged by its real path.
  return [...new Set([...secretPaths(), ...withRealPaths(extra.map((p) => posix.resolve(p)))])]
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
  /** Writable directories of the learning run (`--rw ./logs`) the policy grants only in part:
   * what the run wrote there. */
  narrowed: string[]
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

export function generatePolicy(obs: Observation, given: GenerateOptions): Generated {
  // A recorded cwd as a policy or an edited observation spells it (`/home/u/`): normalized, or
  // the checks below, which compare paths, missed it (helper-117).
  const opts = { ...given, cwd: posix.resolve(given.cwd) }
  const protect = protectedPaths(opts.protect)
  const view = traceView(opts.base, opts.cwd).filesystem
  const privateDirs = view.flatMap((e) =>
    e.kind === 'tmpfs' || e.kind === 'proc' || e.kind === 'dev' ? [e.dest] : [],
  )
  const exposedDirs = view.flatMap((e) => (e.kind === 'bind' && e.dest !== '/' ? [e.dest] : []))
  // A home reached by another name than the list's (a bind mount of it elsewhere): found by its
  // device and inode, and its secrets protected under that name too (helper-118).
  const homeIds = new Set(withRealPaths([homedir(), '/root']).flatMap((h) => fileId(h) ?? []))
  const aliases = new Map<string, string | undefined>()
  const homeAlias = (path: string): string | undefined => {
    if (path === '/' || path === '.') return undefined
    if (!aliases.has(path))
      aliases.set(path, homeIds.has(fileId(path) ?? '') ? path : homeAlias(posix.dirname(path)))
    return aliases.get(path)
  }
  const aliasSecrets = (path: string) => {
    const home = homeAlias(path)
    return home === undefined ? [] : HOME_SECRETS.map((s) => posix.join(home, s))
  }
  const holdsSecret = (dir: string) =>
    protect.some((p) => under(p, dir)) || aliasSecrets(dir).some((p) => under(p, dir))
  const isProtected = (path: string) =>
    protect.some((p) => under(path, p)) || aliasSecrets(path).some((p) => under(path, p))
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
      // A name only looked up, through a directory that is not there (gcc probes
      // `…/12/../../../../x86_64-linux-gnu/lib/../lib/crti.o`), is a lookup of a missing file:
      // nothing to grant, and not listed, as such a lookup without `..` is not (helper-116).
      if (access.every((a) => a === 'lookup')) continue
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
  // A working directory that is a home, /tmp or /, or holds a protected path, is not shown
  // whole: its ~/.ssh, or another program's socket, came with it, to whatever command the policy
  // later ran (helper-116), where `cordon run` refuses to start there at all. The command starts
  // in it empty, with what the run read inside granted one by one.
  if (![...entries].some(([p, e]) => e.grant !== 'mkdir' && under(opts.cwd, p))) {
    const shared = sharedDirectoryAt(opts.cwd)
    if (isProtected(opts.cwd)) withheld.push(`working directory ${opts.cwd}: protected`)
    else if (shared || holdsSecret(opts.cwd)) {
      const how =
        shared &&
        {
          is: 'holds',
          'mount of': `is ${shared} by another name (a mount of it), which holds`,
          holds: `holds ${shared}, which holds`,
        }[sharedRelation(opts.cwd, shared)]
      const why = shared ? `${how} ${sharedContents(shared)}` : 'holds protected paths'
      withheld.push(
        `working directory ${opts.cwd}: ${why}, so it is shown empty, with only what was read inside; learn from a project directory`,
      )
      if (!isPrivate(opts.cwd)) grant(opts.cwd, 'mkdir', 'working directory', opts.cwd)
    } else grant(opts.cwd, 'ro', 'working directory', opts.cwd)
  }

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
  y.map('namespaces', namespacesOf(b))
  y.line(`network: ${b.network}`)
  if (b.hostname) y.line(`hostname: ${q(b.hostname)}`)
  if (Object.values(b.user).some((v) => v !== undefined)) y.map('user', b.user)
  if (b.capabilities.length) y.list('capabilities', b.capabilities.map(capabilityName))
  y.line(`cwd: ${q(opts.cwd)}`)
  if (opts.command?.length) y.list('command', opts.command)
  y.line('env:')
  y.list('  pass', b.env.pass)
  y.map('  set', b.env.set)

  y.line('filesystem:')
  for (const e of b.filesystem) {
    if (e.kind === 'proc' || e.kind === 'dev') y.line(`  - ${e.kind}: ${q(e.dest)}`)
    else if (e.kind === 'tmpfs') y.line(tmpfsLine(e))
  }
  for (const [link, target] of symlinks) y.line(`  - symlink: { target: ${q(target)}, dest: ${q(link)} }`)
  for (const [path, e] of kept) {
    const why = [...e.why].map(
      ([a, ex]) => `${a} ${ex.length > 1 ? `${ex.length} paths, e.g. ${ex[0]}` : ex[0]}`,
    )
    y.line(`  - ${e.grant}: ${q(path)}`, why.join('; '))
  }
  const shown = kept.flatMap(([p, e]) => (e.grant === 'mkdir' ? [] : [p]))
  for (const m of masksInside(b, shown))
    y.line(`  - mask: ${q(m)}`, "the base's: learning never saw what it hides")

  writeSeccomp(y, obs, { layers: b.seccomp, spec: opts.baseSeccomp, profile: opts.baseProfile })

  writeTcp(y, obs, b)
  writeLimits(y, obs, b)
  writeLandlock(y, b)
  if (b.acknowledge?.length) y.line(`acknowledge: ${flow(b.acknowledge)}`, "the base's")
  for (const w of withheld) y.comment(`not granted: ${w}`)
  // A writable directory the learning run was given, granted only as far as the run wrote in it
  // (one log file of `--rw ./logs`): least privilege, but a file it did not write then (the next
  // log) is refused, and nothing said so (helper-152).
  const narrowed = b.filesystem
    .flatMap((e) => (e.kind === 'bind' && !e.readOnly ? [e.dest] : []))
    .filter((dir) => entries.get(dir)?.grant !== 'rw')
    .flatMap((dir) => {
      const inside = [...entries]
        .filter(([p, e]) => e.grant === 'rw' && p !== dir && under(p, dir))
        .map(([p]) => p)
      return inside.length
        ? [
            `${dir} was writable while learning; the policy makes writable only what the run wrote there (${inside.slice(0, 3).join(', ')}${inside.length > 3 ? ', …' : ''}): to let it write anything there, make the entry \`rw: ${dir}\``,
          ]
        : []
    })
  for (const n of narrowed) y.comment(`narrowed: ${n}`)
  const failed = failedAttempts(obs, (p) => isPrivate(normalPath(p) ?? p))
  if (failed.length) y.comment('failed while learning (refused, or left no trace), so never granted:')
  for (const f of failed.slice(0, FAILED_SHOWN)) y.comment(`- ${f}`)
  if (failed.length > FAILED_SHOWN)
    y.comment(`… and ${failed.length - FAILED_SHOWN} more (the .learn.json file lists them all)`)
  return { yaml: y.text(), withheld, failed, narrowed }
}
