// Whether the policy's filter stops an attack, or only the probe's own way of making it. An
// attacker chooses every argument bit the attack does not need (helper-154: openat refused only
// with O_CLOEXEC; helper-156: only O_WRONLY while O_RDWR writes as well, only without mode 0700,
// a 64-bit compare of an int whose upper half the kernel drops) and every call that does the
// same (open for openat, clone for unshare). A row names the bits its attack needs (`essential`);
// everything else is free. The filter's answers are worked out for every value of the free bits
// at once: each argument check holds, fails or depends on them, and the answers it may give are
// those of the checks that may match before one that surely does.
import type { ArgCondition, SeccompSpec } from '../seccomp/model.js'
import { type Action, leafFor, passesThrough } from '../seccomp/model.js'
import { archByName } from '../seccomp/arch.js'
import { ARG_KINDS } from './arg-kinds.js'
import type { ProbeSpec } from './probe-spec.js'

const M64 = (1n << 64n) - 1n
const ENOSYS = 38
const EPERM = 1
const M32 = 0xffffffffn

type Tri = true | false | undefined

/** What the attack needs of an argument: these bits, as its row's `args` has them; or any value
 * but zero (another process's pid, where 0 means the caller). */
export type Need = bigint | 'nonzero'

/** Whether `c` holds for an argument whose `known` bits are those of `value`, the rest free. */
function holdsFor(c: ArgCondition, value: bigint, need: Need): Tri {
  const width = c.width === 32 ? M32 : M64
  if (need === 'nonzero') {
    const zeroTest = (c.op === 'eq' || c.op === 'ne') && (c.value & width) === 0n
    return zeroTest ? c.op === 'ne' : undefined
  }
  const known = need
  // As the compiler and the reference evaluator compare: (arg & mask) == (value & mask), so a
  // value's bits outside the mask do not count (helper-157: read as never holding, a rule that
  // let a variant through was skipped).
  const eq = (mask: bigint, want: bigint): Tri => {
    const m = mask & width
    const k = m & known
    if ((value & k) !== (want & k)) return false
    return (m & ~known) === 0n ? true : undefined
  }
  switch (c.op) {
    case 'masked-eq':
      return eq(c.mask ?? M64, c.value)
    case 'eq':
      return eq(width, c.value)
    case 'ne': {
      const r = eq(width, c.value)
      return r === undefined ? undefined : !r
    }
    case 'in': {
      const all = (c.values ?? []).map((v) => eq(width, v))
      return all.includes(true) ? true : all.every((r) => r === false) ? false : undefined
    }
    default: {
      if ((width & ~known) !== 0n) return undefined
      const a = value & width
      const b = c.value & width
      return c.op === 'lt' ? a < b : c.op === 'le' ? a <= b : c.op === 'gt' ? a > b : a >= b
    }
  }
}

/** Every answer the filter may give `call` when the `essential` bits of its arguments are those
 * of `args` and all others are the caller's to choose. */
export function possibleActions(
  filter: SeccompSpec,
  call: string,
  args: readonly bigint[],
  essential: Readonly<Record<number, Need>> = {},
): Action[] {
  const leaf = leafFor(filter, call)
  const out: Action[] = []
  for (const check of leaf.checks) {
    const each = check.args.map((c) => holdsFor(c, args[c.index] ?? 0n, essential[c.index] ?? 0n))
    if (each.includes(false)) continue
    out.push(check.action)
    if (each.every((r) => r === true)) return out
  }
  return [...out, leaf.fallback]
}

/** Whether the filter may have refused the probe's `call` with `errno` (`anyErrno`: gVisor answers
 * EPERM for every errno a rule gives): the arguments the probe passes by value are its row's, the rest (fds,
 * lengths, pids, pointers) may be anything (helper-157: a rule on connect's length, checked as
 * zero, said the filter let it through and credited the mount view). A deny-log rule refuses. */
export function mayHaveRefused(
  filter: SeccompSpec,
  spec: ProbeSpec,
  call: string,
  errno: number,
  anyErrno: boolean,
): boolean {
  const args = spec.args?.[call] ?? []
  const known: Record<number, Need> = {}
  ;(ARG_KINDS[call]?.split(' ') ?? []).forEach((kind, i) => {
    if (kind === 'v') known[i] = (args[i] ?? 0n) > M32 ? M64 : M32
  })
  // gVisor's EPERM stands for whatever errno the rule gives; any other errno it answers is its
  // own kernel's (ESRCH from its pid namespace, EAGAIN from the pids limit: CI72).
  const seen = (given: number) => given === errno || (anyErrno && errno === EPERM)
  return possibleActions(filter, call, args, known).some((a) =>
    a.kind === 'errno' || a.kind === 'deny-log'
      ? seen(a.errno)
      : a.kind === 'trace'
        ? seen(ENOSYS) // no tracer: the kernel fails the call with ENOSYS
        : false,
  )
}

/** Why the filter's refusal of the probe's `call` does not stop the attack (a variant of it, or
 * another call of the same step, may pass), or undefined when every variant is refused. */
export function unstoppedVariant(filter: SeccompSpec, spec: ProbeSpec, call: string): string | undefined {
  const table = archByName(process.arch)?.table ?? {}
  const step = spec.calls?.find((s) => s.includes(call)) ?? [call]
  for (const alt of [call, ...step.filter((c) => c !== call && table[c] !== undefined)]) {
    const essential = spec.essential?.[alt]
    const passing = possibleActions(filter, alt, spec.args?.[alt] ?? [], essential).some(passesThrough)
    if (!passing) continue
    if (alt !== call) return `${alt}, which does the same, may pass it`
    return essential
      ? `its answer depends on bits of ${call}'s arguments the attack does not need`
      : `its answer depends on ${call}'s arguments, which the attack chooses`
  }
  return undefined
}
