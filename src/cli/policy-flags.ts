// The flags every policy-taking command shares (--policy, --profile, --ro, --rw, ...), turned
// into one overlay policy that extends the chosen base.
import { callerCwd, callerResolve, fsPath, pathBytes } from '../host/path-bytes.js'
import { existsSync, lstatSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import type { ParseArgsConfig } from 'node:util'
import { CordonError, fileProblem, suggest } from '../errors.js'
import { MAX_ABI } from '../landlock/rights.js'
import { note } from './output.js'
import { importOci, parseOci } from '../seccomp/oci.js'
import { importSystemd, systemdGroups } from '../seccomp/systemd.js'
import { jsYaml, loadPolicyFile, validatePolicy } from '../policy/parse.js'
import { NO_NAMESPACES, PROFILES } from '../policy/profiles.js'
import {
  type PolicySource,
  type ResolvedPolicy,
  resolveLayers,
  sharedContents,
  sharedDirectoryAt,
  secretAt,
  secretWords,
  sharedRelation,
  splitBind,
  unknownProfile,
} from '../policy/resolve.js'
import type { FilesystemEntry, Policy } from '../policy/schema.js'

export const POLICY_OPTIONS = {
  policy: { type: 'string', short: 'p' },
  profile: { type: 'string' },
  ro: { type: 'string', multiple: true },
  rw: { type: 'string', multiple: true },
  tmpfs: { type: 'string', multiple: true },
  net: { type: 'string' },
  hostname: { type: 'string' },
  env: { type: 'string', multiple: true },
  'pass-env': { type: 'string', multiple: true },
  cwd: { type: 'string' },
  uid: { type: 'string' },
  gid: { type: 'string' },
  'host-root': { type: 'boolean' },
  seccomp: { type: 'string' },
  require: { type: 'string', multiple: true },
  'no-namespaces': { type: 'boolean' },
  acknowledge: { type: 'string', multiple: true },
  'tcp-connect': { type: 'string', multiple: true },
  'tcp-bind': { type: 'string', multiple: true },
  memory: { type: 'string' },
  pids: { type: 'string' },
  cpus: { type: 'string' },
  swap: { type: 'string' },
  'cpu-weight': { type: 'string' },
  'io-weight': { type: 'string' },
  cpuset: { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies ParseArgsConfig['options']

export const POLICY_HELP = `Policy:
  -p, --policy FILE      policy file (YAML or JSON); see \`cordon schema\`
      --profile NAME     built-in profile to start from (default: default; ${Object.keys(PROFILES).join(', ')})
      --ro SRC[:DEST]    bind SRC read-only at DEST (default: same path; relative: from here)
      --rw SRC[:DEST]    bind SRC read-write; \`--rw .\` makes the project writable
      --tmpfs DEST       private empty tmpfs at DEST (relative: from this directory)
      --net MODE         none (default), loopback or host
      --hostname NAME    hostname inside
      --env K=V          set a variable; repeatable
      --pass-env K       copy a variable from this environment; repeatable
      --cwd DIR          working directory inside (a relative DIR is taken from yours)
      --uid N, --gid N   identity inside (default: yours)
      --host-root        root only: keep host root's file permissions inside (default: root's
                         sandboxes run as an unprivileged host id range; see README)
      --tcp-connect P    allow TCP connections to port P only (repeatable; other IP sockets refused)
      --tcp-bind P       allow binding TCP port P only (repeatable)
      --require landlock[=ABI]
                         refuse to run unless Landlock (at least that ABI) is enforced
      --require limits   refuse to run unless every limit is enforced (a cgroup for the caller)
      --no-namespaces    no namespaces (for hosts that block user namespaces): Landlock, seccomp
                         and no_new_privs alone enforce the filesystem and network statements
      --acknowledge GAP  accept a gap that otherwise refuses the run: no-view (without a mount
                         namespace: host UNIX sockets, file metadata, SysV IPC, inotify),
                         host-root, tcp-ports (no layer judges a port), scopes (--backend
                         runc with the host's network or no pid namespace: host abstract
                         sockets, signals to its uid's processes)
      --memory SIZE      memory limit, e.g. 512M or 25% of RAM, or max for none (default 50%;
                         cgroup; the run reports oom when it is hit)
      --pids N           most processes and threads at once, or max (default 4096)
      --cpus N           CPU time, e.g. 0.5 or 2
      --swap SIZE        swap beyond the memory limit (cgroup)
      --cpu-weight N     relative CPU weight, 1-10000 (100 is everyone's default)
      --io-weight N      relative block I/O weight, 1-10000 (v2 io.weight; v1 BFQ/CFQ, up to 1000)
      --cpuset CPUS      the CPUs it may run on, e.g. 0-1,3
      --timeout T        wall-clock limit, e.g. 30s or 30 (seconds): the whole sandbox is killed, reported as timeout
      --seccomp P|FILE   syscall filter: default, strict, none, a file with a seccomp section,
                         an OCI/Docker seccomp profile (JSON) or a systemd unit (SystemCallFilter=)`

export interface PolicyFlagValues {
  policy?: string
  profile?: string
  ro?: string[]
  rw?: string[]
  tmpfs?: string[]
  /** --ro, --rw and --tmpfs in the order given (args.ts parseStrict): a later one wins at the
   * same destination, as in a policy's filesystem list. */
  filesystemOrder?: FilesystemEntry[]
  net?: string
  hostname?: string
  env?: string[]
  'pass-env'?: string[]
  cwd?: string
  uid?: string
  gid?: string
  'host-root'?: boolean
  seccomp?: string
  require?: string[]
  'no-namespaces'?: boolean
  acknowledge?: string[]
  'tcp-connect'?: string[]
  'tcp-bind'?: string[]
  memory?: string
  pids?: string
  cpus?: string
  swap?: string
  'cpu-weight'?: string
  'io-weight'?: string
  cpuset?: string
  timeout?: string
}

function usage(message: string): CordonError {
  return new CordonError('invalid_usage', message)
}

function port(flag: string, value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535)
    throw usage(`--${flag} expects a port number (0-65535), got \`${value}\``)
  return n
}

function id(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw usage(`--${flag} expects a number, got \`${value}\``)
  return Number(value)
}

/** The default profile shows the working directory: a home, /tmp or / (sharedDirectoryAt) is
 * refused before anything runs, by run and by learn alike (learn wrote the directory into the
 * policy it made, a home's ~/.ssh with it: helper-116). */
export function guardProjectDir(flags: PolicyFlagValues, command: 'run' | 'learn'): void {
  if (flags.policy || (flags.profile ?? 'default') !== 'default') return
  const cwd = callerCwd()
  const refuse = (what: string) =>
    new CordonError(
      'invalid_usage',
      `the default profile shows the current directory to the sandbox${command === 'learn' ? ' and the policy learned' : ''}, and that is ${cwd}, ` +
        `${what}; ` +
        'cd into a project directory, or use --profile minimal (it shows no directory of yours: the command runs in /)',
    )
  const shared = sharedDirectoryAt(cwd)
  if (!shared) {
    // A secret the profile masks (/etc/ssh) or a home's keys (~/.ssh, another user's too): the
    // bind of the working directory showed them (helper-138, helper-139).
    const secret = secretAt(cwd)
    if (secret) throw refuse(`which ${secretWords(cwd, secret)}`)
    return
  }
  const how = {
    is: 'which holds',
    'mount of': `which is ${shared} by another name (a mount of it), with`,
    holds: `which holds ${shared}, with`,
  }[sharedRelation(cwd, shared)]
  throw refuse(`${how} ${sharedContents(shared)}`)
}

/** A flag's destination relative to the caller's directory, as its source is (`--ro data:srv`,
 * `--tmpfs ./cache`): the default view shows that directory at the same path. A policy file's
 * destinations stay absolute (its base is the file's). */
function flagEntryFrom(e: FilesystemEntry, cwd: string): FilesystemEntry {
  if ('tmpfs' in e && typeof e.tmpfs === 'string' && !isAbsolute(e.tmpfs))
    return { tmpfs: resolve(cwd, e.tmpfs) }
  const bind =
    'ro' in e
      ? { key: 'ro' as const, spec: e.ro }
      : 'rw' in e
        ? { key: 'rw' as const, spec: e.rw }
        : undefined
  if (!bind || typeof bind.spec !== 'string') return e
  const { src, dest } = splitBind(bind.spec)
  if (dest === undefined || isAbsolute(dest)) return e
  const spec = `${src}:${resolve(cwd, dest)}`
  return bind.key === 'ro' ? { ro: spec } : { rw: spec }
}

/** The flags with a positional policy (`cordon plan FILE`) as --policy: guardProjectDir and
 * checkFlagSources ask whether a policy file was given. */
export function withPolicyFile(flags: PolicyFlagValues, positional: string | undefined): PolicyFlagValues {
  const file = flags.policy ?? positional
  return file === undefined ? flags : { ...flags, policy: file }
}

/** How the flags name the policy, for headings: its file, or the profile, and the flags that
 * change it (`profile default with --tmpfs`: a newcomer's flagged policy read as the profile's). */
export function policyLabel(flags: PolicyFlagValues, positionalPolicy?: string): string {
  const base = flags.policy ?? positionalPolicy ?? `profile ${flags.profile ?? 'default'}`
  const given = flags as Readonly<Record<string, unknown>>
  const changed = Object.keys(POLICY_OPTIONS).filter(
    (k) => k !== 'policy' && k !== 'profile' && given[k] !== undefined && given[k] !== false,
  )
  return changed.length ? `${base} with ${changed.map((k) => `--${k}`).join(' ')}` : base
}

/** Builds the overlay from flags and resolves it on top of --policy or --profile. */
export function policyFromFlags(flags: PolicyFlagValues, positionalPolicy?: string): ResolvedPolicy {
  const cwd = callerCwd()
  const file = flags.policy ?? positionalPolicy
  if (file && flags.profile)
    throw usage('give either --policy or --profile, not both (a policy can `extends` a profile)')
  let base: PolicySource
  // A positional that names no file but a built-in profile is that profile, as in `cordon
  // policy diff minimal default`: `cordon plan minimal` means what it says.
  if (file && !flags.policy && !existsSync(fsPath(file)) && PROFILES[file])
    return policyFromFlags({ ...flags, profile: file })
  if (file && !existsSync(fsPath(file)) && !file.includes('/')) {
    const near = suggest(file, Object.keys(PROFILES))
    if (near)
      throw new CordonError(
        'not_found',
        `${flags.policy ? '--policy ' : ''}${file}: no such policy file; did you mean the built-in profile \`${near}\` (--profile ${near})?`,
      )
  }
  if (file) {
    const path = callerResolve(file)
    base = { policy: loadPolicyFile(path), baseDir: dirname(path), label: path }
  } else {
    const name = flags.profile ?? 'default'
    if (!PROFILES[name]) throw unknownProfile(name, '--profile')
    base = { policy: PROFILES[name].policy, baseDir: cwd, label: `profile:${name}` }
  }
  const filesystem: FilesystemEntry[] = (
    flags.filesystemOrder ?? [
      ...(flags.ro ?? []).map((ro) => ({ ro })),
      ...(flags.rw ?? []).map((rw) => ({ rw })),
      ...(flags.tmpfs ?? []).map((tmpfs) => ({ tmpfs })),
    ]
  ).map((e) => flagEntryFrom(e, cwd))
  const set: Record<string, string> = {}
  for (const kv of flags.env ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0)
      throw usage(
        `--env expects NAME=VALUE, got \`${kv}\`${/^\w+$/.test(kv) ? ` (to copy this environment's ${kv}: --pass-env ${kv})` : ''}`,
      )
    set[kv.slice(0, i)] = kv.slice(i + 1)
  }
  const overlay: Record<string, unknown> = {}
  if (filesystem.length) overlay.filesystem = filesystem
  if (flags.net !== undefined) overlay.network = flags.net
  if (flags.hostname !== undefined) overlay.hostname = flags.hostname
  // Relative to the caller's directory, as --ro and --rw are: the default view shows it at the
  // same path, so `--cwd sub` is ./sub there too.
  if (flags.cwd !== undefined) overlay.cwd = resolve(cwd, flags.cwd)
  if (flags['pass-env'] || flags.env) overlay.env = { pass: flags['pass-env'] ?? [], set }
  if (flags.uid !== undefined || flags.gid !== undefined || flags['host-root'])
    overlay.user = {
      ...(flags.uid !== undefined ? { uid: id('uid', flags.uid) } : {}),
      ...(flags.gid !== undefined ? { gid: id('gid', flags.gid) } : {}),
      ...(flags['host-root'] ? { hostRoot: true } : {}),
    }
  if (flags.seccomp !== undefined) overlay.seccomp = seccompFlag(flags.seccomp)
  if (flags['tcp-connect'] || flags['tcp-bind'])
    overlay.tcp = {
      connect: (flags['tcp-connect'] ?? []).map((p) => port('tcp-connect', p)),
      bind: (flags['tcp-bind'] ?? []).map((p) => port('tcp-bind', p)),
    }
  const limits: Record<string, unknown> = {}
  for (const r of flags.require ?? []) {
    const m = /^landlock(?:=(\d+))?$/.exec(r)
    const abi = Number(m?.[1] ?? 1)
    if (m && abi >= 1 && abi <= MAX_ABI) overlay.landlock = { require: abi }
    else if (r === 'limits') limits.require = true
    else throw usage(`--require takes landlock, landlock=ABI (1-${MAX_ABI}) or limits, got \`${r}\``)
  }
  if (flags.memory !== undefined) limits.memory = flags.memory
  if (flags.pids !== undefined) limits.pids = /^\d+$/.test(flags.pids) ? Number(flags.pids) : flags.pids
  if (flags.cpus !== undefined) limits.cpus = flags.cpus
  if (flags.swap !== undefined) limits.swap = flags.swap
  for (const key of ['cpu-weight', 'io-weight'] as const) {
    const v = flags[key]
    if (v !== undefined) {
      if (!/^\d+$/.test(v)) throw usage(`--${key} takes a whole number from 1 to 10000, got \`${v}\``)
      limits[key] = Number(v)
    }
  }
  if (flags.cpuset !== undefined) limits.cpuset = flags.cpuset
  // A bare number is seconds, as timeout(1) and nsjail's --time_limit take it; a policy file
  // spells the unit out (limits.timeout: "30s").
  if (flags.timeout !== undefined)
    limits.timeout =
      /^\d+(\.\d+)?$/.test(flags.timeout) && Number(flags.timeout) > 0 ? `${flags.timeout}s` : flags.timeout
  if (Object.keys(limits).length) overlay.limits = limits
  if (flags.acknowledge) overlay.acknowledge = flags.acknowledge.flatMap((a) => a.split(','))
  if (flags['no-namespaces']) {
    // No net namespace either: `none` stays, kept by refusing IP sockets; `loopback` cannot be
    // kept without one and is refused (use --net none or --net host).
    overlay.namespaces = { ...NO_NAMESPACES, net: false }
  }
  const checked: Policy = validateFlags(overlay)
  const resolved = resolveLayers([base, { policy: checked, baseDir: cwd, label: 'flags' }], cwd)
  warnHostRootIgnored(resolved, flags['host-root'] === true)
  return resolved
}

/** The flags' policy, validated; a problem is said of the flag that gave it (`--memory lots:
 * expected a size…`), not of the policy field the flag fills (`limits.memory`), which a person
 * who typed the flag never wrote. */
function validateFlags(overlay: Record<string, unknown>): Policy {
  try {
    return validatePolicy(overlay, 'flags')
  } catch (e) {
    if (!(e instanceof CordonError) || !e.issues.length) throw e
    const lines = e.issues.map((issue) => {
      const flag = flagOf(issue.path)
      if (!flag) return `flags: ${issue.message}`
      const field = `\`${dotted(issue.path)}\``
      const expected = `Expected ${field} to be `
      return issue.message.startsWith(expected)
        ? `${flag}: expected ${issue.message.slice(expected.length)}`
        : issue.message.replace(field, flag)
    })
    throw new CordonError(
      'invalid_usage',
      lines.length === 1 ? lines[0]! : `Invalid flags (${lines.length} problems):\n  ${lines.join('\n  ')}`,
      { issues: e.issues },
    )
  }
}

/** A policy path as the validator writes it: `limits.memory`, `filesystem[0].rw`. */
const dotted = (path: readonly (string | number)[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('')

/** The flag that fills a policy path (policyFromFlags), where one does. */
function flagOf(path: readonly (string | number)[]): string | undefined {
  const [head, second, third] = path
  switch (head) {
    case 'limits':
      return second === 'require' ? '--require' : typeof second === 'string' ? `--${second}` : undefined
    case 'filesystem':
      return typeof third === 'string' ? `--${third}` : undefined
    case 'env':
      return second === 'pass' ? '--pass-env' : second === 'set' ? '--env' : undefined
    case 'user':
      return second === 'hostRoot' ? '--host-root' : typeof second === 'string' ? `--${second}` : undefined
    case 'tcp':
      return typeof second === 'string' ? `--tcp-${second}` : undefined
    case 'network':
      return '--net'
    case 'landlock':
      return '--require'
    case 'hostname':
    case 'cwd':
    case 'seccomp':
    case 'acknowledge':
      return `--${head}`
    default:
      return undefined
  }
}

/** `user.hostRoot` keeps host root's file permissions, which only root has: for anyone else
 * the plan ignores it (plan/compile.ts), and a flag that silently does nothing misleads. */
function warnHostRootIgnored(policy: ResolvedPolicy, fromFlag: boolean): void {
  const uid = process.getuid?.() ?? 0
  if (uid === 0 || policy.user.hostRoot !== true) return
  note(
    `warning: ${fromFlag ? '--host-root' : 'user.hostRoot'} has no effect for uid ${uid}: only root has host ` +
      'root\u2019s file permissions to keep, and your sandbox runs with yours; drop it, or run cordon as root',
  )
}

/** A run on this host: a --ro or --rw source that is not there is refused here, with what a
 * flag can do about it (a policy entry could be `optional: true`; a flag cannot). Not checked
 * when a policy is only compiled or exported: it may run where the source exists. */
export function checkFlagSources(flags: PolicyFlagValues): void {
  const cwd = callerCwd()
  for (const flag of ['ro', 'rw'] as const)
    for (const spec of flags[flag] ?? []) {
      const i = spec.indexOf(':')
      const src = resolve(cwd, i > 0 ? spec.slice(0, i) : spec)
      try {
        lstatSync(pathBytes(src))
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') continue
        throw usage(
          // A bind may be a file: `--rw ./app.log` was told mkdir -p (helper-152).
          `--${flag} ${spec}: ${src} does not exist; create it first${flag === 'rw' ? ` (mkdir -p ${src} for a directory, touch ${src} for a file)` : ''}, ` +
            `give a path that exists, or drop the flag${flag === 'rw' ? ' (--tmpfs DEST gives an empty writable directory)' : ''}`,
        )
      }
    }
}

const SECCOMP_PROFILES = ['default', 'strict', 'none']
const SECCOMP_FILES = 'a file with a seccomp section, an OCI/Docker profile (JSON) or a systemd unit'

/** --seccomp NAME picks a profile; a file holds a seccomp section or an OCI/Docker profile. */
function seccompFlag(value: string): unknown {
  if (SECCOMP_PROFILES.includes(value)) return { profile: value }
  let text: string
  try {
    text = readFileSync(fsPath(value), 'utf8')
  } catch (cause) {
    // A bare word is a profile name misspelt far more often than a file in the current directory.
    const near = suggest(value, SECCOMP_PROFILES)
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT' && !/[/.]/.test(value))
      throw usage(
        `--seccomp: no profile named \`${value}\`${near ? `; did you mean \`${near}\`?` : ''} ` +
          `(profiles: ${SECCOMP_PROFILES.join(', ')}; or ${SECCOMP_FILES}, e.g. ./${value})`,
      )
    throw usage(
      `--seccomp ${value}: the file ${fileProblem(cause)}; give a profile (${SECCOMP_PROFILES.join(', ')}) or ${SECCOMP_FILES}`,
    )
  }
  try {
    if (/"defaultAction"\s*:/.test(text)) {
      const { layer } = importOci(parseOci(text), { origin: value })
      return { profile: layer.profile, default: layer.default, rules: layer.rules }
    }
    if (/^\s*SystemCallFilter\s*=/m.test(text)) {
      const { layer } = importSystemd(text, systemdGroups(), value)
      return { profile: layer.profile, default: layer.default, rules: layer.rules }
    }
    // The section itself, or a policy file (what `cordon seccomp import` writes) holding one.
    const loaded = jsYaml().load(text) as Record<string, unknown> | undefined
    return loaded && typeof loaded === 'object' && 'seccomp' in loaded ? loaded.seccomp : loaded
  } catch (cause) {
    throw usage(`--seccomp ${value}: not ${SECCOMP_FILES}: ${(cause as Error).message.split('\n')[0]}`)
  }
}
