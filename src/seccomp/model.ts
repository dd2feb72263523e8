// The seccomp part of a policy, resolved: a default action and rules, where the LAST matching
// rule wins (as later filesystem entries win), so a layer that extends another can override it.

export type Action =
  | { kind: 'allow' | 'kill-process' | 'kill-thread' | 'trap' | 'log' | 'notify' }
  | { kind: 'errno'; errno: number }
  | { kind: 'trace'; data: number }
  /** Refused with errno and reported: the filter notifies, the launcher answers the errno. */
  | { kind: 'deny-log'; errno: number }
  /** Internal: a raw return value, for the launcher's responder program (notify.ts). */
  | { kind: 'respond'; value: number }

export type ArgOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked-eq' | 'in'

export interface ArgCondition {
  index: number
  op: ArgOp
  /** Compared as unsigned 64-bit; `width: 32` compares the low word only (what the kernel reads for an int). */
  value: bigint
  mask?: bigint
  values?: bigint[]
  width: 32 | 64
}

export interface SeccompRule {
  /** Syscall names, already expanded from groups. */
  syscalls: string[]
  /** All must hold (AND). */
  args: ArgCondition[]
  action: Action
  /** Where the rule came from, for `explain`. */
  origin: string
}

export interface SeccompSpec {
  defaultAction: Action
  rules: SeccompRule[]
  /** For syscall numbers the tables do not name (newer than cordon, or holes): ENOSYS. */
  unknownAction: Action
}

export const ENOSYS = 38
export const EPERM = 1

/** True when the call goes through to the kernel (allowed, logged, traced or notified). */
export const passesThrough = (a: Action): boolean =>
  a.kind === 'allow' || a.kind === 'log' || a.kind === 'notify' || a.kind === 'trace'

export function actionKey(a: Action): string {
  switch (a.kind) {
    case 'errno':
    case 'deny-log':
      return `${a.kind}(${a.errno})`
    case 'trace':
      return `trace(${a.data})`
    case 'respond':
      return `respond(${a.value})`
    default:
      return a.kind
  }
}

const nameSets = new WeakMap<object, Set<string>>()
export function ruleNames(rule: SeccompSpec['rules'][number]): Set<string> {
  let set = nameSets.get(rule)
  if (!set) nameSets.set(rule, (set = new Set(rule.syscalls)))
  return set
}

/** The argument checks of one syscall and the actions they lead to: what the compiler emits
 * as that syscall's leaf (leaf.ts). */
export interface Leaf {
  checks: { args: ArgCondition[]; action: Action }[]
  fallback: Action
}

/** The outcome of each known syscall number on arch (last matching rule wins). Here, not in
 * compile.ts, so that code reading outcomes (notify.ts, oci.ts) does not load the compiler. */
export function leafFor(spec: SeccompSpec, name: string): Leaf {
  const checks: Leaf['checks'] = []
  for (let i = spec.rules.length - 1; i >= 0; i--) {
    const rule = spec.rules[i]!
    if (!ruleNames(rule).has(name)) continue
    if (rule.args.length === 0) return { checks, fallback: rule.action }
    checks.push({ args: rule.args, action: rule.action })
  }
  return { checks, fallback: spec.defaultAction }
}
