// Syscalls the monitor watches: the filter returns USER_NOTIF for them, the launcher answers
// each one with what the responder program says (native/notify.h) and reports it as an event.
import { type Action, EPERM, type SeccompRule, type SeccompSpec } from './model.js'
import { leafFor } from './compile.js'

/** Responder kinds and flags, as native/notify.h defines them. */
const KIND_CONTINUE = 1
const KIND_DENY = 2
const STAT_FLAG = 1 << 19

/** Which argument (1-based) points to the path a syscall acts on: the launcher reads it from
 * the process's memory and reports it. */
export const PATH_ARGUMENT: Readonly<Record<string, number>> = {
  execve: 1,
  execveat: 2,
  open: 1,
  openat: 2,
  openat2: 2,
  creat: 1,
  unlink: 1,
  unlinkat: 2,
  rename: 1,
  renameat: 2,
  renameat2: 2,
  mkdir: 1,
  mkdirat: 2,
  rmdir: 1,
  chmod: 1,
  fchmodat: 2,
  chown: 1,
  lchown: 1,
  fchownat: 2,
  truncate: 1,
  link: 1,
  linkat: 2,
  symlink: 2,
  symlinkat: 3,
  mount: 2,
  umount2: 1,
  chroot: 1,
  pivot_root: 1,
  swapon: 1,
  acct: 1,
  mknod: 1,
  mknodat: 2,
}

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

function respondValue(a: Action, name: string | undefined): Action {
  const arg = name ? (PATH_ARGUMENT[name] ?? 0) : 0
  const flags = (arg << 16) | (name && STAT_PATH.has(name) ? STAT_FLAG : 0)
  if (a.kind === 'notify') return { kind: 'respond', value: ((KIND_CONTINUE << 24) | flags) >>> 0 }
  const errno = a.kind === 'deny-log' ? a.errno : EPERM
  return { kind: 'respond', value: ((KIND_DENY << 24) | flags | (errno & 0xffff)) >>> 0 }
}

/**
 * The launcher's responder: the same decisions as the filter, where each notified outcome
 * becomes "continue" (notify) or "deny with errno" (deny-log), with the path argument to report.
 * Outcomes the kernel decides itself never reach the launcher; they map to a refusal.
 */
export function responderSpec(spec: SeccompSpec): SeccompSpec {
  const rules: SeccompRule[] = []
  for (const rule of spec.rules) {
    const byArg = new Map<string, string[]>()
    for (const name of rule.syscalls) {
      const key = `${PATH_ARGUMENT[name] ?? 0}:${STAT_PATH.has(name)}`
      byArg.set(key, [...(byArg.get(key) ?? []), name])
    }
    for (const names of byArg.values())
      rules.push({ ...rule, syscalls: names, action: respondValue(rule.action, names[0]) })
  }
  return {
    defaultAction: respondValue(spec.defaultAction, undefined),
    rules,
    unknownAction: respondValue(spec.unknownAction, undefined),
  }
}
