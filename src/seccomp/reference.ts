// What a SeccompSpec means, evaluated directly with 64-bit integers: the oracle the compiled
// program is tested against. Deliberately naive; shares nothing with the compiler but the spec.
import { type ArchInfo, archByName, entryPoints, syscallName } from './arch.js'
import { RET } from './bpf.js'
import { returnValue } from './compile.js'
import type { ArgCondition, SeccompSpec } from './model.js'

const M64 = 0xffffffffffffffffn
const M32 = 0xffffffffn

export function holds(c: ArgCondition, arg: bigint, arch: ArchInfo): boolean {
  // The kernel zero-extends a 32-bit task's arguments; `width: 32` reads only the low word.
  let x = BigInt.asUintN(64, arg)
  if (arch.bits === 32) x &= M32
  const narrow = c.width === 32
  const cut = (v: bigint) => (narrow ? BigInt.asUintN(64, v) & M32 : BigInt.asUintN(64, v))
  if (narrow) x &= M32
  const v = cut(c.value)
  switch (c.op) {
    case 'eq':
      return x === v
    case 'ne':
      return x !== v
    case 'lt':
      return x < v
    case 'le':
      return x <= v
    case 'gt':
      return x > v
    case 'ge':
      return x >= v
    case 'masked-eq': {
      const m = cut(c.mask ?? M64)
      return (x & m) === (v & m)
    }
    case 'in':
      return (c.values ?? []).some((value) => holds({ ...c, op: 'eq', value }, arg, arch))
  }
}

/** The return value the filter must give for this call. */
export function evaluateSpec(
  spec: SeccompSpec,
  arches: ArchInfo[],
  auditArch: number,
  nr: number,
  args: readonly bigint[],
): number {
  const arch = arches.find((a) => a.audit === auditArch)
  if (!arch) return RET.KILL_PROCESS
  if (nr === 0xffffffff) return RET.ALLOW
  if (arch.x32Bit && nr >= arch.x32Bit) return RET.KILL_PROCESS
  const name = syscallName(arch, nr)
  if (!name) return returnValue(spec.unknownAction)
  for (let i = spec.rules.length - 1; i >= 0; i--) {
    const rule = spec.rules[i]!
    if (!rule.syscalls.includes(name)) continue
    if (rule.args.every((c) => holds(c, args[c.index] ?? 0n, arch))) return returnValue(rule.action)
  }
  return returnValue(spec.defaultAction)
}

/** The filter's return value for `call` made through `entry` (an entry's name or a Node arch
 * name; default this host's native one), its missing arguments zero, on a host of `nodeArch`
 * (whose entry points the filter guards); undefined where that entry has no such call. */
export function answerFor(
  spec: SeccompSpec,
  call: string,
  args: readonly bigint[],
  entry: string = process.arch,
  nodeArch: string = process.arch,
): number | undefined {
  const arch = archByName(entry)
  const nr = arch?.table[call]
  if (!arch || nr === undefined) return undefined
  return evaluateSpec(
    spec,
    entryPoints(nodeArch),
    arch.audit,
    nr,
    [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6),
  )
}

/** The action part of a filter's return value (RET.ERRNO, RET.ALLOW…). */
export const actionOf = (value: number): number => (value & 0xffff0000) >>> 0

/** The call reaches the kernel with this answer: allowed, logged, or passed to the supervisor
 * (RET_TRACE without a tracer fails with ENOSYS, as sandboxes have none). */
export const letsThrough = (value: number): boolean => {
  const action = actionOf(value)
  return action === RET.ALLOW || action === RET.LOG || action === RET.USER_NOTIF
}
