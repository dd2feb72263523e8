// Policy → ResolvedPolicy: follows `extends` (profiles and files), merges parents before
// children, fills defaults, and resolves relative host paths against where each came from.
import { callerCwd } from '../host/path-bytes.js'
import { fileId, resolveOnHost } from '../host/paths.js'
import { hostLstat, hostReadText } from '../host/reads.js'
import { homedir, totalmem } from 'node:os'
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path'
import { CordonError, type Issue, suggest } from '../errors.js'
import { CAPABILITIES, capabilityNumber } from './capabilities.js'
import { loadPolicyFile } from './parse.js'
import { ETC_SECRETS, HOME_SECRETS, PROFILES, RUN_SECRETS } from './profiles.js'
import { hostMounts, settleHostView } from './wide-binds.js'
import { essentialsWarning } from '../seccomp/essential.js'
import { resolveSeccomp } from '../seccomp/resolve.js'
import {
  type FilesystemEntry,
  NAMESPACES,
  type Policy,
  memoryPercent,
  parseMemory,
  parseSize,
} from './schema.js'
import { lastAtEachPlace, type ResolvedPolicy, type ViewEntry } from './resolved.js'

export type { Network, ResolvedPolicy, ViewEntry } from './resolved.js'

export interface PolicySource {
  policy: Policy
  /** Directory relative host paths resolve against. */
  baseDir: string
  /** Profile name or file path, for messages and `plan --explain`. */
  label: string
}

/** Resolves a policy and everything it extends. */
export function resolvePolicy(top: PolicySource, cwd = callerCwd()): ResolvedPolicy {
  return resolveLayers([top], cwd)
}

/** Resolves several policies stacked in order (each with its own `extends`), later ones on top.
 * `settle` places the view on its host (the caller's by default; cordon-oci's is the
 * container's root file system, without the host's mounts). */
export function resolveLayers(
  tops: PolicySource[],
  cwd = callerCwd(),
  settle: (p: ResolvedPolicy) => ResolvedPolicy = settleHostView,
): ResolvedPolicy {
  const layers: PolicySource[] = []
  for (const top of tops) collect(top, cwd, layers, [])
  const out: ResolvedPolicy = {
    namespaces: {
      user: true,
      pid: true,
      mount: true,
      ipc: true,
      uts: true,
      net: true,
      cgroup: true,
      time: false,
    },
    user: {},
    network: 'none',
    filesystem: [],
    env: { pass: [], set: {} },
    capabilities: [],
    landlock: { require: 0, scopes: ['abstract-unix-socket', 'signal'], paths: [] },
    limits: {},
    requireLimits: false,
    rlimits: {},
    seccomp: [],
    sources: [],
  }
  let netExplicit: boolean | undefined
  for (const { policy, baseDir, label } of layers) {
    out.sources.push(label)
    for (const ns of NAMESPACES) {
      const v = policy.namespaces?.[ns]
      if (v === undefined) continue
      if (ns === 'net') netExplicit = v
      else out.namespaces[ns] = v
    }
    if (policy.user) out.user = { ...out.user, ...policy.user }
    if (policy.hostname !== undefined) out.hostname = policy.hostname
    if (policy.network !== undefined) {
      out.network = policy.network
      // A later layer's network is the later word over an earlier layer's net namespace that
      // it contradicts (`--net host` over a policy that says `namespaces.net: true`, as learn
      // wrote them); within one layer the two must agree. `none` over no namespace stays the
      // one kept by refusing IP sockets.
      const needs = policy.network !== 'host'
      const keptByFilter = policy.network === 'none' && netExplicit === false
      if (policy.namespaces?.net === undefined && netExplicit !== needs && !keptByFilter)
        netExplicit = undefined
    }
    // Normalized: `cwd: /home/u/` is /home/u to every check that compares paths (helper-117: the
    // trailing slash passed learn's home check, and the home was learned whole).
    if (policy.cwd !== undefined) out.cwd = resolvePath(policy.cwd)
    if (policy.command !== undefined) out.command = policy.command
    for (const entry of policy.filesystem ?? []) {
      const shared = label.startsWith('profile:') ? sharedWorkingDirectory(entry, baseDir) : undefined
      if (shared) {
        ;(out.resolveWarnings ??= []).push(shared)
        // As the warning says: not in the sandbox's own /tmp (a tmpfs at that path), which would
        // pass for the caller's directory, empty. A later layer's `cwd:` still wins.
        out.cwd ??= '/'
      } else out.filesystem.push(resolveEntry(entry, baseDir))
    }
    for (const name of policy.env?.pass ?? []) if (!out.env.pass.includes(name)) out.env.pass.push(name)
    Object.assign(out.env.set, policy.env?.set)
    if (policy.capabilities) out.capabilities = capabilities(policy.capabilities, label)
    if (policy.seccomp) out.seccomp.push({ ...policy.seccomp, origin: label })
    const lim = policy.limits
    if (lim) {
      if (lim.memory === 'max') {
        delete out.limits.memory
        delete out.limits.memoryPercent
      } else if (lim.memory !== undefined) {
        out.limits.memory = parseMemory(lim.memory, totalmem()) ?? 0
        const pct = memoryPercent(lim.memory)
        if (pct === undefined) delete out.limits.memoryPercent
        else out.limits.memoryPercent = pct
      }
      if (lim.swap !== undefined) out.limits.swap = parseSize(lim.swap) ?? 0
      if (lim.pids === 'max') delete out.limits.pids
      else if (lim.pids !== undefined) out.limits.pids = lim.pids
      if (lim.cpus !== undefined) out.limits.cpus = Number(lim.cpus)
      if (lim['cpu-weight'] !== undefined) out.limits.cpuWeight = lim['cpu-weight']
      if (lim.cpuset !== undefined) out.limits.cpuset = lim.cpuset
      if (lim['io-weight'] !== undefined) out.limits.ioWeight = lim['io-weight']
      if (lim.timeout !== undefined) out.limits.timeoutMs = parseDuration(lim.timeout)
      if (lim.require !== undefined) out.requireLimits = lim.require
      Object.assign(out.rlimits, lim.rlimits)
    }
    if (policy.tcp) out.tcp = { bind: policy.tcp.bind ?? [], connect: policy.tcp.connect ?? [] }
    const ll = policy.landlock
    if (ll?.require !== undefined) out.landlock.require = Math.max(out.landlock.require, ll.require)
    if (ll?.scopes) out.landlock.scopes = ll.scopes
    for (const word of policy.acknowledge ?? [])
      if (!out.acknowledge?.includes(word)) (out.acknowledge ??= []).push(word)
    for (const p of ll?.paths ?? [])
      out.landlock.paths.push({
        path: resolvePath(p.path),
        access: asList(p.access),
        optional: p.optional === true,
      })
  }
  // A later entry at an earlier one's place replaces it: the sandbox never has the earlier one,
  // so nothing after resolution may act on it (policy/resolved.ts lastAtEachPlace).
  out.filesystem = lastAtEachPlace(out.filesystem)
  // `none` without a net namespace (--no-namespaces, for callers who cannot make one) is kept by
  // seccomp alone: no IP or packet socket at all (seccomp/network.ts NO_IP).
  const noneByFilter = out.network === 'none' && netExplicit === false
  out.namespaces.net = noneByFilter ? false : out.network !== 'host'
  if (netExplicit !== undefined && netExplicit !== out.namespaces.net)
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: \`namespaces.net: ${netExplicit}\` contradicts \`network: ${out.network}\`; ` +
        'set only `network` (none and loopback create a net namespace, host does not; without one, ' +
        'none is kept by refusing IP sockets, and loopback cannot be kept: use none or host)',
      { issues: [{ code: 'conflict', path: ['namespaces', 'net'], message: 'contradicts network' }] },
    )
  checkCoherence(out)
  // Only a layer that sets a default can make one that refuses what a program needs.
  if (out.seccomp.some((l) => l.default !== undefined)) {
    let warning: string | undefined
    try {
      warning = essentialsWarning(resolveSeccomp(out.seccomp))
    } catch {} // a bad rule: the plan's compile reports it, with its field
    if (warning) (out.resolveWarnings ??= []).push(warning)
  }
  return settle(out)
}

/** A file a policy extends; one that cannot be read says which policy named it, and how. */
function loadExtended(file: string, label: string, named: string): ReturnType<typeof loadPolicyFile> {
  try {
    return loadPolicyFile(file)
  } catch (e) {
    if (!(e instanceof CordonError) || e.code !== 'not_found') throw e
    throw new CordonError('not_found', `${label}: extends \`${named}\`: ${e.message}`, { cause: e })
  }
}

function collect(source: PolicySource, cwd: string, out: PolicySource[], stack: string[]): void {
  if (stack.includes(source.label))
    throw new CordonError('invalid_policy', `Policy extends itself: ${[...stack, source.label].join(' → ')}`)
  for (const parent of source.policy.extends ?? []) {
    const profile = PROFILES[parent]
    let next: PolicySource
    if (profile) next = { policy: profile.policy, baseDir: cwd, label: `profile:${parent}` }
    else if (parent.includes('/') || /\.(ya?ml|json)$/.test(parent)) {
      const file = resolvePath(source.baseDir, parent)
      next = { policy: loadExtended(file, source.label, parent), baseDir: dirname(file), label: file }
    } else throw unknownProfile(parent, `${source.label}: extends`)
    collect(next, cwd, out, [...stack, source.label])
  }
  out.push(source)
}

export function unknownProfile(name: string, where: string): CordonError {
  const hint = suggest(name, Object.keys(PROFILES))
  return new CordonError(
    'not_found',
    `${where}: no profile named \`${name}\`${hint ? `; did you mean \`${hint}\`?` : ''} ` +
      `(built-in profiles: ${Object.keys(PROFILES).join(', ')}; a file path needs a / or a .yaml/.json suffix)`,
  )
}

/** "30s", "1.5m", "250ms", "2d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text)
  if (!m) return Number.NaN
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  return Number(m[1]) * unit[m[2] as keyof typeof unit]
}

function asList(access: string | string[]): string[] {
  return typeof access === 'string' ? [access] : access
}

/** `SRC[:DEST]`, a bind's string form (`--ro`, `ro:`). */
export function splitBind(spec: string): { src: string; dest?: string } {
  const i = spec.indexOf(':')
  return i > 0 ? { src: spec.slice(0, i), dest: spec.slice(i + 1) } : { src: spec }
}

function octal(mode: string | undefined, fallback: number): number {
  return mode === undefined ? fallback : Number.parseInt(mode, 8)
}

/** Directories that hold other programs' files and sockets (a tmux or ssh-agent socket in /tmp,
 * X11's, a session bus in /run/user/UID, every home): a profile's bind of the working directory
 * (`ro: .`) must not show one of them, nor a directory above one, to the sandbox. A read-only
 * bind refuses writes, but connect() to a socket in it still works, and no layer can judge a
 * socket's path (Landlock has no right for it; seccomp cannot read paths). */
function sharedDirectories(): string[] {
  return withRealPaths([
    '/tmp',
    '/var/tmp',
    '/dev/shm',
    '/run',
    '/var/run',
    '/run/user',
    '/home',
    '/root',
    homedir(),
  ])
}

/** The host's secrets by path: /etc's, the platforms' and the caller's and root's homes', each
 * where it really is too. No project may be one (secretAt) and no learned grant covers one. */
export function secretPaths(): string[] {
  return withRealPaths([
    ...ETC_SECRETS,
    ...RUN_SECRETS,
    ...[...new Set([homedir(), '/root'])].flatMap((h) => HOME_SECRETS.map((s) => `${h}/${s}`)),
  ])
}

/** Each path, and where it really is: the working directory is the kernel's (real) path, and a
 * home reached through a link (HOME=/home/u, a link to /data/u) was neither refused nor
 * protected there (helper-117). */
export function withRealPaths(paths: readonly string[]): string[] {
  return [...new Set(paths.flatMap((p) => [p, resolveOnHost(p).real]))]
}

/** What a shared directory holds, for a message: a home's secrets first (helper-116: "other
 * programs' files" undersold what a home shows). */
export function sharedContents(shared: string): string {
  return withRealPaths(['/home', '/root', homedir()]).includes(shared)
    ? "secrets (~/.ssh, cloud credentials…) and other programs' files and sockets"
    : "other programs' files and sockets"
}

/** How `dir` relates to the shared directory `shared` that sharedDirectoryAt found, for a
 * message: it is it, it is it under another name (a bind mount), or it holds it. */
export function sharedRelation(dir: string, shared: string): 'is' | 'mount of' | 'holds' {
  if (shared === dir) return 'is'
  return fileId(dir) === fileId(shared) ? 'mount of' : 'holds'
}

/** How `dir` relates to the secret secretAt found, for a message. */
export function secretWords(
  dir: string,
  { secret, relation }: NonNullable<ReturnType<typeof secretAt>>,
): string {
  if (relation === 'holds') return `holds ${secret}, a secret`
  if (relation === 'in') return `lies in ${secret}, a place of secrets`
  return secret === dir
    ? 'is a place of secrets (keys, credentials)'
    : `is ${secret} by another name, a place of secrets`
}

/** Where a home keeps keys, by name: found wherever the home is, another user's too (`sudo
 * cordon run` from ~bob/.ssh, whose $HOME is root's: helper-139). Not `.npmrc`, `.pypirc` or
 * `.docker`, which projects hold of their own. */
const KEY_DIRS = ['.ssh', '.gnupg', '.aws', '.azure', '.config/gcloud', '.kube', '.password-store']
/** Those whose presence makes a directory a home: not `.azure`, which `azd init` puts in every
 * Azure Developer CLI project (helper-140). */
const HOME_MARKS = KEY_DIRS.filter((k) => k !== '.azure')
/** Files that only a home holds: a directory with one is a home. */
const KEY_FILES = ['.git-credentials', '.netrc', '.vault-token']

const isDir = (path: string) => hostLstat(path)?.isDirectory() === true

/** The homes of /etc/passwd, and the caller's and root's: whose keys no working directory shows. */
function userHomes(): string[] {
  let passwd = ''
  try {
    passwd = hostReadText('/etc/passwd')
  } catch {}
  const listed = passwd
    .split('\n')
    .map((l) => l.split(':')[5] ?? '')
    .filter((h) => h.startsWith('/') && h !== '/' && !h.startsWith('/nonexistent'))
  return [...new Set([homedir(), '/root', ...listed])]
}

/** A secret (/etc/ssh, ~/.ssh, ~/.aws…) that `dir` is, lies in or holds, and how; undefined for
 * a project directory. By name, by real path and by file identity (a bind mount of ~/.ssh, of
 * a directory inside it, or one inside the working directory: helper-140). */
export function secretAt(dir: string): SecretFound | undefined {
  // Asked twice by a run (the project guard, then the working directory's bind): ~2 ms of stats.
  // Kept a second only: a library's process lives on, and a mount may come.
  const now = Date.now()
  const seen = foundSecrets.get(dir)
  if (seen && now - seen.at < 1000) return seen.found
  const found = findSecret(dir)
  if (foundSecrets.size >= 64) foundSecrets.clear()
  foundSecrets.set(dir, { at: now, found })
  return found
}

type SecretFound = { secret: string; relation: 'is' | 'in' | 'holds' }
const foundSecrets = new Map<string, { at: number; found: SecretFound | undefined }>()

function findSecret(dir: string): SecretFound | undefined {
  const homes = userHomes()
  const own = secretPaths()
  const named = own.find((s) => dir === s || dir.startsWith(`${s}/`))
  if (named) return { secret: named, relation: named === dir ? 'is' : 'in' }
  const parts = dir.split('/')
  for (const key of KEY_DIRS) {
    const names = key.split('/')
    for (let i = 1; i + names.length <= parts.length; i++)
      if (names.every((n, j) => parts[i + j] === n)) {
        const secret = parts.slice(0, i + names.length).join('/')
        return { secret, relation: secret === dir ? 'is' : 'in' }
      }
  }
  // Holds one: a home by any name (~bob), ~/.config holding gcloud, a directory of homes.
  for (const key of HOME_MARKS) {
    const names = key.split('/')
    for (let k = 0; k < names.length; k++)
      if (names.slice(0, k).every((n, j) => parts[parts.length - k + j] === n)) {
        const secret = `${dir}/${names.slice(k).join('/')}`
        if (isDir(secret)) return { secret, relation: 'holds' }
      }
  }
  const file = KEY_FILES.map((f) => `${dir}/${f}`).find((f) => hostLstat(f)?.isFile() === true)
  if (file) return { secret: file, relation: 'holds' }
  for (const home of homes.filter((h) => h.startsWith(dir === '/' ? '/' : `${dir}/`))) {
    const held = HOME_MARKS.map((k) => `${home}/${k}`).find(isDir)
    if (held) return { secret: held, relation: 'holds' }
  }
  // By file identity: the directory or one above it is a secret under another name, or a
  // mount inside it is: the caller's, and the key directories of /etc/passwd's homes (a bind
  // mount of ~bob/.ssh: helper-140).
  const others = homes.filter((h) => isDir(h)).flatMap((h) => KEY_DIRS.map((k) => `${h}/${k}`))
  const ids = new Map(
    [...own, ...others].map((s) => [fileId(s), s] as const).filter(([id]) => id !== undefined),
  )
  if (!ids.size) return undefined
  for (let i = parts.length; i > 1; i--) {
    const at = parts.slice(0, i).join('/')
    const secret = ids.get(fileId(at))
    if (secret) return { secret, relation: at === dir ? 'is' : 'in' }
  }
  for (const m of hostMounts().filter((m) => m.point.startsWith(`${dir}/`))) {
    const secret = ids.get(fileId(m.point))
    if (secret) return { secret: `${m.point} (${secret})`, relation: 'holds' }
  }
  return undefined
}

/** The shared directory that `dir` is, or holds; undefined for a project directory. */
export function sharedDirectoryAt(dir: string): string | undefined {
  const inside = (a: string, b: string) => b === a || b.startsWith(a === '/' ? '/' : `${a}/`)
  if (dir.startsWith('/run/user/') && dir.split('/').length <= 4) return dir
  const shared = sharedDirectories()
  const named = shared.find((d) => inside(dir, d))
  if (named) return named
  // Another mount of one (a home bind-mounted elsewhere, as containers and /data setups do):
  // the same directory by device and inode, which no spelling of it changes (helper-118).
  const id = fileId(dir)
  return id === undefined ? undefined : shared.find((d) => fileId(d) === id)
}

/** When a profile binds the working directory and that is a shared directory (above), the bind
 * is left out and this says why and what to do; otherwise undefined. */
function sharedWorkingDirectory(entry: FilesystemEntry, baseDir: string): string | undefined {
  const spec = 'ro' in entry ? entry.ro : 'rw' in entry ? entry.rw : undefined
  if (spec !== '.') return undefined
  const dir = resolvePath(baseDir)
  const flag = 'ro' in entry ? '--ro' : '--rw'
  // A bind of it would show what the profile masks (/etc/ssh) or a home's keys: `cd ~/.ssh`
  // showed id_rsa, where a project beside it shows none (helper-138).
  const hit = sharedDirectoryAt(dir)
  const found = hit ? undefined : secretAt(dir)
  if (found)
    return (
      `the working directory ${dir} is not shown to the sandbox: it ${secretWords(dir, found)}. Run from a ` +
      `project directory, or show it on purpose with ${flag} ${dir}; the command starts in / meanwhile`
    )
  if (!hit) return undefined
  const how = {
    is: 'it holds',
    'mount of': `it is ${hit} by another name (a mount of it), which holds`,
    holds: `it holds ${hit}, which holds`,
  }[sharedRelation(dir, hit)]
  return (
    `the working directory ${dir} is not shown to the sandbox: ${how} ` +
    `${sharedContents(hit)} (a socket stays connectable through a read-only bind). Run from a project ` +
    `directory, or show it on purpose with ${flag} ${dir}; the command starts in / meanwhile`
  )
}

function resolveEntry(entry: FilesystemEntry, baseDir: string): ViewEntry {
  const host = (p: string) => (isAbsolute(p) ? resolvePath(p) : resolvePath(baseDir, p))
  if ('ro' in entry || 'rw' in entry) {
    const spec = 'ro' in entry ? entry.ro : entry.rw
    const long = typeof spec === 'string' ? splitBind(spec) : spec
    const src = host(long.src)
    const dest = long.dest ?? src
    if (!isAbsolute(dest))
      throw new CordonError('invalid_policy', `Invalid policy: bind destination \`${dest}\` must be absolute`)
    const optional = typeof spec !== 'string' && spec.optional === true
    const access =
      typeof spec !== 'string' && spec.access !== undefined ? { access: asList(spec.access) } : {}
    return { kind: 'bind', src, dest: resolvePath(dest), readOnly: 'ro' in entry, optional, ...access }
  }
  if ('tmpfs' in entry) {
    const t = typeof entry.tmpfs === 'string' ? { dest: entry.tmpfs } : entry.tmpfs
    return {
      kind: 'tmpfs',
      dest: resolvePath(t.dest),
      size: parseSize(t.size ?? 0) ?? 0,
      mode: octal(t.mode, 0o1777),
      ...('access' in t && t.access !== undefined ? { access: asList(t.access) } : {}),
      ...('exec' in t && t.exec === false ? { exec: false as const } : {}),
    }
  }
  if ('proc' in entry) return { kind: 'proc', dest: resolvePath(entry.proc) }
  if ('dev' in entry) return { kind: 'dev', dest: resolvePath(entry.dev) }
  if ('mask' in entry) return { kind: 'mask', dest: resolvePath(entry.mask) }
  if ('symlink' in entry)
    return { kind: 'symlink', target: entry.symlink.target, dest: resolvePath(entry.symlink.dest) }
  if ('file' in entry)
    return {
      kind: 'file',
      dest: resolvePath(entry.file.dest),
      content: entry.file.content,
      mode: octal(entry.file.mode, 0o644),
    }
  const m = typeof entry.mkdir === 'string' ? { dest: entry.mkdir } : entry.mkdir
  return { kind: 'mkdir', dest: resolvePath(m.dest), mode: octal(m.mode, 0o755) }
}

function capabilities(names: string[], label: string): number[] {
  const issues: Issue[] = []
  const out: number[] = []
  names.forEach((name, i) => {
    const n = capabilityNumber(name)
    if (n !== undefined) out.push(n)
    else {
      const hint = suggest(name.toLowerCase().replace(/^cap_/, ''), CAPABILITIES)
      issues.push({
        code: 'invalid_value',
        path: ['capabilities', i],
        message: `Unknown capability \`${name}\`${hint ? `; did you mean \`${hint}\`?` : ''}`,
      })
    }
  })
  if (issues.length)
    throw new CordonError(
      'invalid_policy',
      `Invalid policy ${label}:\n  ${issues.map((x) => x.message).join('\n  ')}`,
      {
        issues,
      },
    )
  return out
}

/** Rules that span fields; each message names the fields and the fix. */
function checkCoherence(p: ResolvedPolicy): void {
  const issues: Issue[] = []
  const add = (path: (string | number)[], message: string) => issues.push({ code: 'conflict', path, message })
  p.filesystem.forEach((e, i) => {
    // Without the mount namespace, filesystem entries are Landlock rules on host paths.
    if (!p.namespaces.mount && e.kind === 'bind' && e.src !== e.dest)
      add(
        ['filesystem', i],
        `without the mount namespace a bind cannot move ${e.src} to ${e.dest}; use the same path`,
      )
    // The view's root is a private tmpfs the launcher builds and makes read-only: only a bind
    // can replace it (`ro: /`, `rw: /`); anything else there would be dropped without a word.
    // (`mkdir: /` is a no-op learned policies write for a working directory of /.)
    if (e.dest === '/' && e.kind !== 'bind' && e.kind !== 'mkdir')
      add(
        ['filesystem', i, e.kind],
        `\`${e.kind}: /\` cannot be honoured: the view's root is cordon's own read-only tmpfs; ` +
          (e.kind === 'tmpfs'
            ? 'put the tmpfs where the program writes (`tmpfs: /work`), or bind a host directory at / (`ro: /srv/root:/`)'
            : `give the ${e.kind} a directory of its own`),
      )
    if (e.kind === 'proc' && p.namespaces.mount && !p.namespaces.pid)
      add(
        ['filesystem', i],
        '`proc` needs `namespaces.pid: true`: a new proc can only show a new pid namespace',
      )
  })
  if (issues.length)
    throw new CordonError(
      'invalid_policy',
      `Invalid policy:\n  ${issues.map((x) => x.message).join('\n  ')}`,
      { issues },
    )
}
