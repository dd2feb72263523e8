// What every exporter returns: the files to write, and what the target cannot express. A
// statement the target has no way to say is listed as a gap with what to do instead, never
// dropped silently (an export that looks complete but is weaker would be worse than none).
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { isAbsolute, join, normalize } from 'node:path'
import { CordonError } from '../errors.js'
import { capabilityName } from '../policy/capabilities.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { exportedSeccomp } from '../policy/effective.js'
import { latestAtEachPlace, under } from '../policy/view-paths.js'
import { exportOci, type OciArg, type OciProfile, type OciRule } from '../seccomp/oci.js'
import { fsPath } from '../host/path-bytes.js'

export const FORMATS = ['oci-seccomp', 'docker', 'kubernetes', 'systemd', 'oci-bundle'] as const
export type ExportFormat = (typeof FORMATS)[number]

/** One thing to create under the output directory (paths relative to it). */
export type ExportFile =
  | { kind: 'file'; path: string; content: string | Uint8Array; mode?: number }
  /** mode: given to the directory whether made here or before (a tmpfs copied up from it takes
   * its mode: runc's tmpcopyup). */
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }

export interface Gap {
  statement: string
  why: string
}

export interface Exported {
  format: ExportFormat
  /** The first file is the main one (printed when there is no output directory). */
  files: ExportFile[]
  gaps: Gap[]
  /** How to use the output. */
  usage: string[]
}

export interface ExportOptions {
  /** Names the unit, pod, container, profile files. */
  name: string
  /** The command the export runs (the policy's `command` otherwise). */
  command: string[]
  /** Node arch the seccomp profile is for. */
  arch: string
  /** Container image (docker, kubernetes). */
  image: string
  /** Caller identity (the user namespace maps the sandbox's uid to it). */
  uid: number
  gid: number
  cwd: string
}

/** Host directories a container image provides for itself: binds of them are not data. */
export const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32', '/etc']

export const isSystemPath = (path: string): boolean =>
  SYSTEM_PATHS.some((p) => path === p || path.startsWith(`${p}/`))

export type Bind = Extract<ViewEntry, { kind: 'bind' }>
export type Tmpfs = Extract<ViewEntry, { kind: 'tmpfs' }>

export const binds = (p: ResolvedPolicy): Bind[] =>
  p.filesystem.filter((e): e is Bind => e.kind === 'bind' && (!e.optional || existsSync(fsPath(e.src))))
/** The view binds a host directory at `/` and mounts nothing at /dev (an optional bind whose
 * source is missing, or a `mkdir:`, mounts nothing): runc would make its device nodes and links
 * in that host directory's dev/, so the OCI export mounts a tmpfs there (oci-bundle.ts). */
export function ownDevNeeded(p: ResolvedPolicy): boolean {
  const present = new Set<ViewEntry>(binds(p))
  const kept = latestAtEachPlace(p.filesystem)
  const mounts = (e: ViewEntry) =>
    e.kind === 'dev' || e.kind === 'tmpfs' || (e.kind === 'bind' && present.has(e))
  return (
    kept.some((e) => e.kind === 'bind' && present.has(e) && e.dest === '/') &&
    !kept.some((e) => e.dest === '/dev' && mounts(e))
  )
}

/** Binds other than the system directories a container image provides for itself. */
export const dataBinds = (p: ResolvedPolicy): Bind[] =>
  binds(p).filter((b) => !(isSystemPath(b.dest) && b.src === b.dest))
/** The working directory a container export states: the policy's, else the caller's where a data
 * bind shows it (the image has no other; `./script.sh` runs from it). */
export const exportCwd = (p: ResolvedPolicy, options: ExportOptions): string | undefined =>
  p.cwd ?? (dataBinds(p).some((b) => under(options.cwd, b.dest)) ? options.cwd : undefined)
export const tmpfses = (p: ResolvedPolicy): Tmpfs[] =>
  p.filesystem.filter((e): e is Tmpfs => e.kind === 'tmpfs')
export const masks = (p: ResolvedPolicy): string[] =>
  p.filesystem.filter((e) => e.kind === 'mask').map((e) => e.dest)

/** The sandbox's identity in every export, one rule: the policy's uid (else the caller's), and
 * its gid, else the uid's own group when a uid was given (never the caller's group: a root
 * exporter's `--uid 1000` is 1000:1000, not 1000:0, as systemd's `User=1000` `Group=1000`),
 * else the caller's. `nonRoot` (Kubernetes, runAsNonRoot) turns a root caller's default into
 * 65534:65534. */
export function exportIdentity(
  policy: ResolvedPolicy,
  caller: { uid: number; gid: number },
  nonRoot = false,
): { uid: number; gid: number } {
  const given = policy.user.uid
  const uid = given ?? (nonRoot && caller.uid === 0 ? 65534 : caller.uid)
  const gid =
    policy.user.gid ?? (given !== undefined ? given : nonRoot && caller.uid === 0 ? 65534 : caller.gid)
  return { uid, gid }
}

/** CAP_NET_BIND_SERVICE style names of the kept capabilities. */
export const keptCapabilities = (p: ResolvedPolicy): string[] => p.capabilities.map(capabilityName)

/** The OCI seccomp profile of exactly what cordon's own run enforces (TCP_ONLY included). */
export function seccompProfile(policy: ResolvedPolicy, arch: string): { profile: OciProfile; gaps: Gap[] } {
  const { profile, warnings } = exportOci(exportedSeccomp(policy), arch)
  const gaps = warnings.map((why) => ({ statement: 'seccomp', why }))
  const added = allowRuntimeInit(profile)
  if (added.length)
    gaps.push({
      statement: `seccomp: ${added.join(', ')}`,
      why:
        "allowed for the program too: OCI runtimes load the filter before their own last steps (runc's init, in Go: " +
        'the /proc check, closing fds, the exec fifo, and the Go runtime meanwhile), which the policy refuses; ' +
        'cordon run and cordon-exec load it right before the exec and need none of them',
    })
  return { profile, gaps }
}

/** What an OCI runtime calls between loading the profile and its exec of the command: runc's
 * init (libcontainer/standard_init_linux.go: fstatfs of /proc/self/fd, its entries read and
 * closed, the exec fifo opened and written, the exec) and the Go runtime under it (futexes,
 * preemption signals, stacks, threads, the netpoller). Seen on runc 1.1 with a learned
 * allowlist and `SCMP_ACT_LOG` as the default: write, fstatfs, getdents64, epoll_ctl, getpid
 * and futex, varying from run to run, so the Go runtime's usual calls are all here. Two are
 * narrowed to what Go makes of them, since they reach beyond the caller: `tgkill` only sends
 * SIGURG (Go's preemption signal; without a pid namespace another would reach the host's
 * processes), `clone` makes no namespace (Go's threads). */
const RUNTIME_INIT: { name: string; args?: OciArg[] }[] = [
  ...[
    'execve',
    'fstatfs',
    'openat',
    'getdents64',
    'fcntl',
    'close',
    'write',
    'newfstatat',
    'fstat',
    'epoll_ctl',
    'epoll_pwait',
    'futex',
    'nanosleep',
    'sched_yield',
    'madvise',
    'mmap',
    'munmap',
    'mprotect',
    'rt_sigreturn',
    'rt_sigprocmask',
    'sigaltstack',
    'getpid',
    'gettid',
    'exit',
    'exit_group',
  ].map((name) => ({ name })),
  { name: 'tgkill', args: [{ index: 2, op: 'SCMP_CMP_EQ', value: 23 }] }, // SIGURG
  // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME all clear.
  { name: 'clone', args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0x7e020080, valueTwo: 0 }] },
]

/** An allowlist profile (its default refuses) would stop the runtime's own init, whatever the
 * command: runc failed "ensure /proc/self/fd is on procfs: operation not permitted" on every
 * learned policy. Each call of RUNTIME_INIT the profile leaves to its default is allowed (with
 * its arguments narrowed where it says); one a rule decides (clone's flags, a call the policy
 * names) keeps its rule. Returns what it added. */
function allowRuntimeInit(profile: OciProfile): string[] {
  if (profile.defaultAction === 'SCMP_ACT_ALLOW' || profile.defaultAction === 'SCMP_ACT_LOG') return []
  const ruled = new Set((profile.syscalls ?? []).flatMap((r) => r.names))
  const added = RUNTIME_INIT.filter((c) => !ruled.has(c.name))
  const whole = added.filter((c) => !c.args).map((c) => c.name)
  const rules: OciRule[] = [
    ...(whole.length ? [{ names: whole, action: 'SCMP_ACT_ALLOW' }] : []),
    ...added.flatMap((c) => (c.args ? [{ names: [c.name], action: 'SCMP_ACT_ALLOW', args: c.args }] : [])),
  ]
  if (rules.length) (profile.syscalls ??= []).unshift(...rules)
  return added.map((c) =>
    c.name === 'tgkill' ? 'tgkill (SIGURG)' : c.name === 'clone' ? 'clone (no namespace)' : c.name,
  )
}

/** What cordon's Landlock layer would enforce, for targets that have none. */
export function landlockGap(
  policy: ResolvedPolicy,
  target: string,
  fix = 'start the command through cordon-exec with a plan from `cordon compile --no-namespaces`',
): Gap[] {
  const rules = policy.filesystem.filter((e) => e.kind === 'bind' || e.kind === 'tmpfs').length
  const parts = [
    rules ? `${rules} filesystem rules` : '',
    policy.tcp ? 'TCP port rules' : '',
    policy.landlock.scopes.length ? `scopes (${policy.landlock.scopes.join(', ')})` : '',
  ].filter(Boolean)
  if (!parts.length) return []
  return [
    {
      statement: `landlock: ${parts.join(', ')}`,
      why:
        `${target} has no Landlock layer: the mount view and namespaces below enforce the filesystem and ` +
        `network statements alone; for both layers, ${fix}`,
    },
  ]
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(fsPath(path)).isDirectory()
  } catch {
    return false
  }
}

/** A shell word, quoted only when it needs to be. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** Creates the files under dir (the output directory of an export, or a bundle to run), never
 * through a symlink: a policy's `symlink:` entry is one in the bundle's rootfs, and a `mkdir:`
 * or `symlink:` beneath it was made wherever it pointed on the host (root's `/etc/cron.d`). */
export function writeExport(dir: string, files: readonly ExportFile[]): void {
  // An output directory that is a symlink (a sandbox given the project could swap one in
  // between two exports) is not followed.
  if (lstatSync(fsPath(dir), { throwIfNoEntry: false })?.isSymbolicLink())
    throw new CordonError('invalid_usage', `${dir} is a symlink: give the directory itself`)
  mkdirSync(fsPath(dir), { recursive: true })
  for (const f of files) {
    const parts = normalize(f.path).split('/').filter(Boolean)
    if (isAbsolute(f.path) || parts[0] === '..')
      throw new CordonError('internal', `export: ${f.path} is outside the export's directory`)
    const parents = f.kind === 'dir' ? parts : parts.slice(0, -1)
    let at = dir
    for (const name of parents) {
      at = join(at, name)
      const st = lstatSync(fsPath(at), { throwIfNoEntry: false })
      if (!st) mkdirSync(fsPath(at))
      else if (!st.isDirectory())
        throw new CordonError(
          'invalid_policy',
          `${f.path} cannot be made in the export: ${at.slice(dir.length + 1)} is ${st.isSymbolicLink() ? 'a symlink (a `symlink:` entry of the policy, or one left there)' : 'not a directory'}, and nothing is made through one; ` +
            'move the entry out from under it',
        )
    }
    const path = join(dir, ...parts)
    if (f.kind === 'dir' && f.mode !== undefined) chmodSync(fsPath(path), f.mode) // a directory: checked above
    if (f.kind === 'symlink') symlinkSync(fsPath(f.target), fsPath(path))
    else if (f.kind === 'file') {
      // O_NONBLOCK: a FIFO left at the name fails (ENXIO) rather than holding the export.
      const fd = openSync(
        fsPath(path),
        fsConstants.O_WRONLY |
          fsConstants.O_CREAT |
          fsConstants.O_TRUNC |
          fsConstants.O_NOFOLLOW |
          fsConstants.O_NONBLOCK,
        0o644,
      )
      try {
        if (!fstatSync(fd).isFile())
          throw new CordonError(
            'invalid_usage',
            `${path} is not a regular file: remove it, or export elsewhere`,
          )
        writeFileSync(fd, f.content)
        if (f.mode !== undefined) fchmodSync(fd, f.mode)
      } finally {
        closeSync(fd)
      }
    }
  }
}
