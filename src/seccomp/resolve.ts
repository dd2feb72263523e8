// A policy's `seccomp:` layers → SeccompSpec: profile, default action, rules with groups
// expanded, names checked against every arch's table, actions and arguments parsed.
import { constants } from 'node:os'
import { CordonError, type Issue, suggest } from '../errors.js'
import { unknownSyscallHint } from './arch.js'
import { GROUPS } from './groups.js'
import { type Action, type ArgCondition, ENOSYS, EPERM, type SeccompRule, type SeccompSpec } from './model.js'
import { MEMFD_EXEC_GUARD, type RawArg, type RawRule, SECCOMP_PROFILES, TERMINAL_GUARD } from './profiles.js'

/** One policy layer's `seccomp:` section. */
export interface SeccompLayer {
  profile?: string
  default?: string
  rules?: RawRule[]
  origin: string
}

const ERRNO = constants.errno as Record<string, number>

/** EPERM for 1; the number itself when Node does not name it. */
export function errnoName(n: number): string {
  return Object.entries(ERRNO).find(([, v]) => v === n)?.[0] ?? String(n)
}

/** "errno(EPERM)", "errno(13)", "kill-process", "trace(7)"... → Action, or a reason. */
export function parseAction(text: string): Action | string {
  const t = text.trim()
  if (['allow', 'kill-process', 'kill-thread', 'trap', 'log', 'notify'].includes(t))
    return { kind: t } as Action
  if (t === 'kill') return { kind: 'kill-process' }
  if (t === 'trace') return { kind: 'trace', data: 0 }
  if (t === 'deny-log') return { kind: 'deny-log', errno: EPERM }
  const m = /^(errno|trace|deny-log)\((\w+)\)$/.exec(t)
  if (m) {
    const n = /^\d+$/.test(m[2]!) ? Number(m[2]) : m[1] !== 'trace' ? ERRNO[m[2]!] : undefined
    if (n === undefined) return `unknown errno \`${m[2]}\` (use a name like EPERM or a number)`
    if (n > 0xffff) return `\`${m[2]}\` is above 65535`
    if (m[1] === 'trace') return { kind: 'trace', data: n }
    return { kind: m[1] as 'errno' | 'deny-log', errno: n }
  }
  return `expected allow, errno(NAME|N), deny-log, deny-log(NAME|N), kill-process, kill-thread, trap, log, trace, trace(N) or notify, got \`${text}\``
}

function toBigint(v: number | string | undefined): bigint | undefined {
  if (v === undefined) return undefined
  try {
    return BigInt.asUintN(64, BigInt(v))
  } catch {
    return undefined
  }
}

function parseArg(a: RawArg, path: (string | number)[], issues: Issue[]): ArgCondition | undefined {
  const bad = (message: string) => {
    issues.push({ code: 'invalid_value', path, message })
    return undefined
  }
  const value = toBigint(a.value)
  const mask = toBigint(a.mask)
  const values = a.values?.map(toBigint)
  if (a.op === 'in') {
    if (!values?.length || values.some((v) => v === undefined))
      return bad('`in` needs `values`: a list of integers or "0x…" strings')
  } else if (value === undefined) return bad(`\`${a.op}\` needs \`value\`: an integer or a "0x…" string`)
  if (a.op === 'masked-eq' && mask === undefined) return bad('`masked-eq` needs `mask`')
  return {
    index: a.index,
    op: a.op,
    value: value ?? 0n,
    ...(mask !== undefined ? { mask } : {}),
    ...(values ? { values: values as bigint[] } : {}),
    width: a.width ?? 64,
  }
}

function expand(names: string[], path: (string | number)[], issues: Issue[]): string[] {
  const out: string[] = []
  names.forEach((name, i) => {
    if (name.startsWith('@')) {
      const group = GROUPS[name]
      if (group) out.push(...group.members)
      else {
        const hint = suggest(name, Object.keys(GROUPS))
        issues.push({
          code: 'invalid_value',
          path: [...path, i],
          message: `Unknown syscall group \`${name}\`${hint ? `; did you mean \`${hint}\`?` : ''} (see \`cordon seccomp groups\`)`,
        })
      }
    } else {
      const hint = unknownSyscallHint(name)
      if (hint === undefined) out.push(name)
      else
        issues.push({
          code: 'invalid_value',
          path: [...path, i],
          message: `Unknown syscall \`${name}\`${hint}`,
        })
    }
  })
  return [...new Set(out)]
}

function resolveRule(
  raw: RawRule,
  origin: string,
  path: (string | number)[],
  issues: Issue[],
): SeccompRule | undefined {
  const before = issues.length
  const syscalls = expand(raw.syscalls, [...path, 'syscalls'], issues)
  const action = parseAction(raw.action)
  if (typeof action === 'string')
    issues.push({ code: 'invalid_value', path: [...path, 'action'], message: action })
  const args = (raw.args ?? []).map((a, i) => parseArg(a, [...path, 'args', i], issues))
  if (issues.length > before || typeof action === 'string') return undefined
  return { syscalls, args: args as ArgCondition[], action, origin }
}

/** The origin of the terminal guard's rule, which every filter ends with (profiles.ts). */
export const TERMINAL_GUARD_ORIGIN = 'terminal guard'
/** The origin of the memfd exec guard's rule (profiles.ts). */
export const MEMFD_EXEC_GUARD_ORIGIN = 'memfd exec guard'
/** Origins of the guards every filter ends with: they stay refusals in audit and learn runs too
 * (plan/filter.ts compileFilter). */
export const GUARD_ORIGINS: readonly string[] = [MEMFD_EXEC_GUARD_ORIGIN, TERMINAL_GUARD_ORIGIN]

export function resolveSeccomp(layers: SeccompLayer[]): SeccompSpec {
  const issues: Issue[] = []
  let profile = 'default'
  let defaultText: string | undefined
  for (const l of layers) {
    if (l.profile !== undefined) profile = l.profile
    if (l.default !== undefined) defaultText = l.default
  }
  const base = SECCOMP_PROFILES[profile]
  if (!base) {
    const hint = suggest(profile, Object.keys(SECCOMP_PROFILES))
    throw new CordonError(
      'invalid_policy',
      `Unknown seccomp profile \`${profile}\`${hint ? `; did you mean \`${hint}\`?` : ''} (profiles: ${Object.keys(SECCOMP_PROFILES).join(', ')})`,
    )
  }
  const rules: SeccompRule[] = []
  const add = (raw: RawRule, origin: string, path: (string | number)[]) => {
    const r = resolveRule(raw, origin, path, issues)
    if (r) rules.push(r)
  }
  base.rules.forEach((r, i) => add(r, `seccomp profile ${profile}`, ['seccomp', 'profile', i]))
  for (const l of layers) (l.rules ?? []).forEach((r, i) => add(r, l.origin, ['seccomp', 'rules', i]))
  add(MEMFD_EXEC_GUARD, MEMFD_EXEC_GUARD_ORIGIN, ['seccomp'])
  add(TERMINAL_GUARD, TERMINAL_GUARD_ORIGIN, ['seccomp'])
  const defaultAction = parseAction(defaultText ?? base.default)
  if (typeof defaultAction === 'string')
    issues.push({ code: 'invalid_value', path: ['seccomp', 'default'], message: defaultAction })
  if (issues.length || typeof defaultAction === 'string')
    throw new CordonError(
      'invalid_policy',
      `Invalid seccomp policy:\n  ${issues.map((i) => i.message).join('\n  ')}`,
      {
        issues,
      },
    )
  return { defaultAction, rules, unknownAction: { kind: 'errno', errno: ENOSYS } }
}
