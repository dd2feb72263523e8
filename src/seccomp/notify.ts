// Syscalls the monitor watches: the filter returns USER_NOTIF for them, the launcher answers
// each one with what the responder program says (native/notify.h) and reports it as an event.
import { type Action, EPERM, type SeccompRule, type SeccompSpec } from './model.js'
import { leafFor } from './compile.js'

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
}

const at = (path: number, extra: Capture = {}): Capture => ({ path, at: true, ...extra })

/** Calls that name files, sockets and the few arguments worth learning. Lookups (stat, access,
 * readlink…) are here too: what a program can see decides what it does. */
export const CAPTURE: Readonly<Record<string, Capture>> = {
  execve: { path: 1 },
  execveat: at(2),
  open: { path: 1, key: [1] },
  openat: at(2, { key: [2] }),
  openat2: at(2, { struct: 3 }),
  creat: { path: 1 },
  unlink: { path: 1 },
  unlinkat: at(2, { key: [2] }),
  rename: { path: 1, path2: 2 },
  renameat: at(2, { path2: 4 }),
  renameat2: at(2, { path2: 4 }),
  mkdir: { path: 1 },
  mkdirat: at(2),
  rmdir: { path: 1 },
  chmod: { path: 1 },
  fchmodat: at(2),
  fchmodat2: at(2),
  chown: { path: 1 },
  lchown: { path: 1 },
  fchownat: at(2),
  truncate: { path: 1 },
  link: { path: 1, path2: 2 },
  linkat: at(2, { path2: 4 }),
  symlink: { path: 2 },
  symlinkat: at(3),
  mount: { path: 2 },
  umount2: { path: 1 },
  chroot: { path: 1 },
  pivot_root: { path: 1 },
  swapon: { path: 1 },
  acct: { path: 1 },
  mknod: { path: 1 },
  mknodat: at(2),
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
  utimensat: at(2),
  utime: { path: 1 },
  utimes: { path: 1 },
  getxattr: { path: 1 },
  lgetxattr: { path: 1 },
  listxattr: { path: 1 },
  llistxattr: { path: 1 },
  setxattr: { path: 1 },
  lsetxattr: { path: 1 },
  removexattr: { path: 1 },
  lremovexattr: { path: 1 },
  inotify_add_watch: { path: 2 },
  socket: { key: [0, 1, 2] },
  socketpair: { key: [0, 1, 2] },
  connect: { struct: 2 },
  bind: { struct: 2 },
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

/**
 * The spec with `names` reported to the monitor, their outcomes unchanged otherwise. Appended
 * rules win (last match), so each name gets its own copy of what decided it before: the
 * unconditional fallback first, then the argument checks in their original order.
 */
export function watchSyscalls(spec: SeccompSpec, names: Iterable<string>): SeccompSpec {
  const rules: SeccompRule[] = [...spec.rules]
  for (const name of new Set(names)) {
    const leaf = leafFor(spec, name)
    const origin = `monitor: ${name}`
    rules.push({ syscalls: [name], args: [], action: watched(leaf.fallback), origin })
    for (const check of [...leaf.checks].reverse())
      rules.push({ syscalls: [name], args: check.args, action: watched(check.action), origin })
  }
  return { ...spec, rules }
}

function respondValue(a: Action, name: string | undefined, record: boolean): Action {
  const c: Capture = name ? (CAPTURE[name] ?? {}) : {}
  let flags = ((c.path ?? 0) << PATH_SHIFT) | (name && STAT_PATH.has(name) ? STAT_FLAG : 0)
  if (record) {
    const key = (c.key ?? []).reduce((m, i) => m | (1 << i), 0)
    flags |= RECORD_FLAG | (key << KEY_SHIFT) | ((c.struct ?? 0) << STRUCT_SHIFT)
    flags |= ((c.path2 ?? 0) << PATH2_SHIFT) | (c.at ? AT_FLAG : 0)
  }
  if (a.kind === 'notify') return { kind: 'respond', value: ((KIND_CONTINUE << KIND_SHIFT) | flags) >>> 0 }
  const errno = a.kind === 'deny-log' ? a.errno : EPERM
  return { kind: 'respond', value: ((KIND_DENY << KIND_SHIFT) | flags | (errno & ERRNO_MASK)) >>> 0 }
}

/**
 * The launcher's responder: the same decisions as the filter, where each notified outcome
 * becomes "continue" (notify) or "deny with errno" (deny-log), with the path argument to report.
 * Outcomes the kernel decides itself never reach the launcher; they map to a refusal.
 */
export function responderSpec(spec: SeccompSpec, record = false): SeccompSpec {
  const rules: SeccompRule[] = []
  for (const rule of spec.rules) {
    const byArg = new Map<string, string[]>()
    for (const name of rule.syscalls) {
      const key = record ? name : `${PATH_ARGUMENT[name] ?? 0}:${STAT_PATH.has(name)}`
      byArg.set(key, [...(byArg.get(key) ?? []), name])
    }
    for (const names of byArg.values())
      rules.push({ ...rule, syscalls: names, action: respondValue(rule.action, names[0], record) })
  }
  return {
    defaultAction: respondValue(spec.defaultAction, undefined, record),
    rules,
    unknownAction: respondValue(spec.unknownAction, undefined, record),
  }
}
