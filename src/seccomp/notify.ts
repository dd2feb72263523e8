// Syscalls the monitor watches: the filter returns USER_NOTIF for them, the launcher answers
// each one with what the responder program says (native/notify.h) and reports it as an event.
import { type Action, ENOSYS, EPERM, leafFor, type SeccompRule, type SeccompSpec } from './model.js'

/** Responder fields, as native/notify.h defines them. */
const KIND_SHIFT = 30
const KIND_CONTINUE = 1
const KIND_DENY = 2
const KEY_SHIFT = 24
const RECORD_FLAG = 1 << 23
const STRUCT_SHIFT = 20
const STAT_FLAG = 1 << 19
const PATH_SHIFT = 16
const PATH2_SHIFT = 13
const AT_FLAG = 1 << 12
const ERRNO_MASK = 0xfff

/** Outcome checks (native/outcome.h): what the launcher looks at before and after a recorded
 * call that goes on, so that learning keeps only what succeeded. */
export const CHECK = { paths: 1, fds: 2, exec: 4, socket: 8 } as const

/** What the launcher reads from a syscall's arguments (1-based argument numbers). */
export interface Capture {
  /** The argument pointing to the path the call acts on. */
  path?: number
  /** A second path (rename, link: the new name). */
  path2?: number
  /** The argument before each path is its directory fd (the *at calls). */
  at?: boolean
  /** A struct (its length in the next argument): sockaddr, open_how. */
  struct?: number
  /** Arguments (0-based, as in policy rules) whose values make a record distinct when learning:
   * the values a policy may narrow on. */
  key?: readonly number[]
  /** Outcome checks (CHECK bits) for a recorded call that goes on. */
  check?: number
}

const at = (path: number, extra: Capture = {}): Capture => ({ path, at: true, ...extra })
/** What a call that acts on its path changes: the name appears, goes or its ctime moves. */
const P = { check: CHECK.paths }
/** An open: the name (O_CREAT) and the fd it leaves. */
const O = { check: CHECK.paths | CHECK.fds }

/** Calls that name files, sockets and the few arguments worth learning. Lookups (stat, access,
 * readlink…) are here too: what a program can see decides what it does. */
export const CAPTURE: Readonly<Record<string, Capture>> = {
  execve: { path: 1, check: CHECK.exec },
  execveat: at(2, { check: CHECK.exec }),
  open: { path: 1, key: [1], ...O },
  openat: at(2, { key: [2], ...O }),
  openat2: at(2, { struct: 3, ...O }),
  creat: { path: 1, ...O },
  unlink: { path: 1, ...P },
  unlinkat: at(2, { key: [2], ...P }),
  rename: { path: 1, path2: 2, ...P },
  renameat: at(2, { path2: 4, ...P }),
  renameat2: at(2, { path2: 4, ...P }),
  mkdir: { path: 1, ...P },
  mkdirat: at(2, P),
  rmdir: { path: 1, ...P },
  chmod: { path: 1, ...P },
  fchmodat: at(2, P),
  fchmodat2: at(2, P),
  chown: { path: 1, ...P },
  lchown: { path: 1, ...P },
  fchownat: at(2, P),
  truncate: { path: 1, ...P },
  link: { path: 1, path2: 2, ...P },
  linkat: at(2, { path2: 4, ...P }),
  symlink: { path: 2, ...P },
  symlinkat: at(3, P),
  mount: { path: 2 },
  umount2: { path: 1 },
  chroot: { path: 1 },
  pivot_root: { path: 1 },
  swapon: { path: 1 },
  acct: { path: 1 },
  mknod: { path: 1, ...P },
  mknodat: at(2, P),
  stat: { path: 1 },
  lstat: { path: 1 },
  newfstatat: at(2),
  fstatat64: at(2),
  stat64: { path: 1 },
  lstat64: { path: 1 },
  statx: at(2),
  access: { path: 1 },
  faccessat: at(2),
  faccessat2: at(2),
  readlink: { path: 1 },
  readlinkat: at(2),
  chdir: { path: 1 },
  statfs: { path: 1 },
  utimensat: at(2, P),
  utime: { path: 1, ...P },
  utimes: { path: 1, ...P },
  getxattr: { path: 1 },
  lgetxattr: { path: 1 },
  listxattr: { path: 1 },
  llistxattr: { path: 1 },
  setxattr: { path: 1, ...P },
  lsetxattr: { path: 1, ...P },
  removexattr: { path: 1, ...P },
  lremovexattr: { path: 1, ...P },
  inotify_add_watch: { path: 2 },
  socket: { key: [0, 1, 2] },
  socketpair: { key: [0, 1, 2] },
  connect: { struct: 2, check: CHECK.socket },
  bind: { struct: 2, check: CHECK.socket },
  sendto: { struct: 5 },
  ioctl: { key: [1] },
  prctl: { key: [0] },
  clone: { key: [0] },
  personality: { key: [0] },
}

/** Which argument (1-based) points to the path a syscall acts on: the launcher reads it from
 * the process's memory and reports it. */
export const PATH_ARGUMENT: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(CAPTURE).flatMap(([name, c]) => (c.path ? [[name, c.path]] : [])),
)

/** For these the launcher also stats the path inside the sandbox (a binary written after the
 * sandbox started is news). */
const STAT_PATH = new Set(['execve', 'execveat'])

/** The calls that make processes and threads. They are observed without stopping anything
 * (the launcher's `process` spawn events: init's count of the pids its namespace handed out,
 * or the proc connector), because a notified fork that a signal interrupts before the launcher
 * takes the notification fails with EINTR, which the kernel never gives for a fork. */
export const SPAWN_SYSCALLS: readonly string[] = ['clone', 'clone3', 'fork', 'vfork']

/**
 * Calls that are never notified where they go on, whatever observes the run: process creation
 * (above), a signal handler's return and the restart of an interrupted call (an interrupted
 * notification there would return into the middle of the handler's trampoline), and exit. A
 * notification can be interrupted by a signal until the launcher has taken it (the kernel
 * offers no uninterruptible wait before that), so only calls that may fail with EINTR anyway
 * are safe to stop; these never do, and none needs a verdict beyond the filter's own. Refusals
 * stay notified: a refused call is reported, and its errno comes back after a restart.
 */
export const NEVER_NOTIFIED: readonly string[] = [
  ...SPAWN_SYSCALLS,
  'rt_sigreturn',
  'sigreturn',
  'restart_syscall',
  'exit',
  'exit_group',
]
const neverNotified = new Set(NEVER_NOTIFIED)

const notifies = (a: Action) => a.kind === 'notify' || a.kind === 'deny-log'

export function hasNotify(spec: SeccompSpec): boolean {
  return notifies(spec.defaultAction) || spec.rules.some((r) => notifies(r.action))
}

/** What a watched syscall's outcome becomes: allowed calls are reported and continue, refused
 * ones are refused as before and reported; kills, traps and notifications stay. */
function watched(a: Action): Action {
  if (a.kind === 'allow' || a.kind === 'log') return { kind: 'notify' }
  if (a.kind === 'errno') return { kind: 'deny-log', errno: a.errno }
  return a
}

/** What `observe` makes of a call's outcome, except that NEVER_NOTIFIED calls that go on keep
 * their outcome: they are never stopped. Nor is their ENOSYS: clone3 answers it to every
 * thread libc starts, so that libc falls back to clone, and a notification interrupted before
 * the launcher takes it would turn that ENOSYS into EINTR, which libc takes as a failure. */
function observedAs(name: string, observe: (a: Action) => Action): (a: Action) => Action {
  if (!neverNotified.has(name)) return observe
  return (a) =>
    a.kind === 'allow' || a.kind === 'log' || (a.kind === 'errno' && a.errno === ENOSYS) ? a : observe(a)
}

/**
 * `rules` with rules appended that give each of `names` the outcome `observe` makes of what
 * decided it in `spec`. Appended rules win (last match), so each name gets its own copy of what
 * decided it before: the unconditional fallback first, then the argument checks in their
 * original order.
 */
export function observeSyscalls(
  spec: SeccompSpec,
  rules: SeccompRule[],
  names: Iterable<string>,
  observe: (a: Action) => Action,
  origin: string,
): SeccompRule[] {
  for (const name of new Set(names)) {
    const leaf = leafFor(spec, name)
    const f = observedAs(name, observe)
    const from = `${origin}: ${name}`
    rules.push({ syscalls: [name], args: [], action: f(leaf.fallback), origin: from })
    for (const check of [...leaf.checks].reverse())
      rules.push({ syscalls: [name], args: check.args, action: f(check.action), origin: from })
  }
  return rules
}

/** A call watched only when the policy refuses it: what goes on is never stopped. */
function watchedRefused(a: Action): Action {
  return a.kind === 'errno' ? { kind: 'deny-log', errno: a.errno } : a
}

/**
 * The spec with `names` reported to the monitor, their outcomes unchanged otherwise (and
 * NEVER_NOTIFIED calls reported only when refused). A name written `!NAME` is reported only
 * when refused (monitor/rules.ts watchedSyscalls: rules that require `denied`).
 */
export function watchSyscalls(spec: SeccompSpec, names: Iterable<string>): SeccompSpec {
  const all = [...names]
  const whole = all.filter((n) => !n.startsWith('!'))
  const refused = all.filter((n) => n.startsWith('!')).map((n) => n.slice(1))
  const rules = observeSyscalls(spec, [...spec.rules], whole, watched, 'monitor')
  return { ...spec, rules: observeSyscalls(spec, rules, refused, watchedRefused, 'monitor (refused)') }
}

function respondValue(a: Action, name: string | undefined, record: boolean, check: boolean): Action {
  const c: Capture = name ? (CAPTURE[name] ?? {}) : {}
  // The directory fd goes with the path in every mode: an exec's file is found through it
  // (execveat of a relative path, or of the fd itself with AT_EMPTY_PATH).
  let flags =
    ((c.path ?? 0) << PATH_SHIFT) | (name && STAT_PATH.has(name) ? STAT_FLAG : 0) | (c.at ? AT_FLAG : 0)
  if (record) {
    const key = (c.key ?? []).reduce((m, i) => m | (1 << i), 0)
    flags |= RECORD_FLAG | (key << KEY_SHIFT) | ((c.struct ?? 0) << STRUCT_SHIFT)
    flags |= (c.path2 ?? 0) << PATH2_SHIFT
  }
  // Outcome checks share the errno bits, which a call that goes on does not use.
  const checks = record && check ? (c.check ?? 0) : 0
  if (a.kind === 'notify')
    return { kind: 'respond', value: ((KIND_CONTINUE << KIND_SHIFT) | flags | checks) >>> 0 }
  const errno = a.kind === 'deny-log' ? a.errno : EPERM
  return { kind: 'respond', value: ((KIND_DENY << KIND_SHIFT) | flags | (errno & ERRNO_MASK)) >>> 0 }
}

/**
 * The launcher's responder: the same decisions as the filter, where each notified outcome
 * becomes "continue" (notify) or "deny with errno" (deny-log), with the path argument to report.
 * Outcomes the kernel decides itself never reach the launcher; they map to a refusal. `record`:
 * each distinct call is reported once, never dropped (learn, audit); `check`: a recorded call
 * that goes on also gets its outcome checks (learn: CAPTURE's `check`).
 */
export function responderSpec(spec: SeccompSpec, record = false, check = false): SeccompSpec {
  const rules: SeccompRule[] = []
  for (const rule of spec.rules) {
    const byArg = new Map<string, string[]>()
    for (const name of rule.syscalls) {
      const key = record
        ? name
        : `${PATH_ARGUMENT[name] ?? 0}:${STAT_PATH.has(name)}:${CAPTURE[name]?.at === true}`
      byArg.set(key, [...(byArg.get(key) ?? []), name])
    }
    for (const names of byArg.values())
      rules.push({ ...rule, syscalls: names, action: respondValue(rule.action, names[0], record, check) })
  }
  return {
    defaultAction: respondValue(spec.defaultAction, undefined, record, check),
    rules,
    unknownAction: respondValue(spec.unknownAction, undefined, record, check),
  }
}
