// A filter whose default refuses every syscall no rule allows (`default: errno(EPERM)` over a
// profile of deny rules) stops every program before its first line: the loader's first mmap or
// brk fails and the program dies of SIGSEGV, with no word from cordon (a newcomer met it with
// the README's own example). Resolution warns when such a filter refuses, for every call, a
// syscall that every program needs to start or to end.
import { passesThrough, type SeccompSpec } from './model.js'

/** Each group: a program needs at least one of them. */
const ESSENTIAL: readonly (readonly string[])[] = [
  ['execve', 'execveat'],
  ['brk', 'mmap'],
  ['exit_group', 'exit'],
  ['rt_sigreturn'],
]

/** The essential syscalls the filter refuses for every call, by group: none passes its
 * default, and no rule that lets a call through names them. */
export function refusedEssentials(spec: SeccompSpec): string[] {
  if (passesThrough(spec.defaultAction)) return []
  const passing = new Set(spec.rules.filter((r) => passesThrough(r.action)).flatMap((r) => r.syscalls))
  return ESSENTIAL.filter((group) => !group.some((name) => passing.has(name))).map((g) => g.join('/'))
}

export function essentialsWarning(spec: SeccompSpec): string | undefined {
  const refused = refusedEssentials(spec)
  if (!refused.length) return undefined
  return (
    `seccomp: the filter refuses ${refused.join(', ')} for every call (its default refuses what no rule allows): ` +
    'programs die before they start (often SIGSEGV, exit 139); allow them with a rule, or keep `default: allow` and deny what you mean to'
  )
}
