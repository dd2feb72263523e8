// What a monitor rule is once loaded: its vocabulary (priorities, actions, the fields a
// condition can test) and its shape. rules.ts reads rules files into these; the engine, the
// Falco reader and the renderers use them without the parser.
import type { Expr } from './expr.js'

export const PRIORITIES = [
  'emergency',
  'alert',
  'critical',
  'error',
  'warning',
  'notice',
  'info',
  'debug',
] as const
export type Priority = (typeof PRIORITIES)[number]
export const ACTIONS = ['freeze', 'kill', 'alert', 'log'] as const
export type RuleAction = (typeof ACTIONS)[number]

/** Fields a rule can test; see the README's monitor section for what each event carries. */
export const FIELDS = new Set([
  'event',
  'sandbox',
  'command',
  'syscall',
  'arch',
  'nr',
  'pid',
  'path',
  'basename',
  'program',
  'errno',
  'denied',
  'new',
  'arg0',
  'arg1',
  'arg2',
  'arg3',
  'arg4',
  'arg5',
  'layer',
  'blockers',
  'exe',
  'action',
  'ppid',
  'source',
  'memory',
  'memory_limit',
  'memory_pct',
  'pids',
  'pids_limit',
  'pids_pct',
  'cpu',
  'kills',
  'refused',
  'code',
  'signal',
  'message',
  'initial',
  // The process an event is about (monitor/proc-info.ts): its parent's and ancestors' names,
  // command line and user.
  'parent',
  'ancestors',
  'cmdline',
  'args',
  'user',
  'uid',
])

export interface Rate {
  op: '>' | '>='
  count: number
  windowMs: number
  /** Count separately per value of this field (e.g. per path). */
  by?: string
}

export interface Baseline {
  /** Rate learned over the first learnMs of each sandbox, in events per windowMs. */
  learnMs: number
  /** Or the rate read from a learn run's observations (`from`), in events per windowMs. */
  learned?: number
  windowMs: number
  /** Fire when the rate exceeds max(min, factor × learned). */
  factor: number
  min: number
}

/** At most `count` alerts (and log lines) per `perMs` for one rule in one sandbox: a token
 * bucket holding `count`, refilled at count/perMs. Freeze and kill are never held back. */
export interface Throttle {
  count: number
  perMs: number
}

/** Every rule has a bound, so no stream of events the sandbox controls turns into unbounded
 * host work (formatting, sinks, logger, webhooks): `throttle: N per DURATION` retunes it. */
export const DEFAULT_THROTTLE: Throttle = { count: 20, perMs: 10_000 }

export interface Rule {
  name: string
  description: string
  when: Expr
  whenText: string
  /** Event types the condition can match (from `event = …` terms), for a fast pre-filter; empty: any. */
  events: Set<string>
  rate?: Rate
  baseline?: Baseline
  then: RuleAction[]
  priority: Priority
  output?: string
  cooldownMs: number
  throttle: Throttle
  source: string
  tags: string[]
  /** Which language the condition and output are in: `{field}` or Falco's `%field` outputs. */
  dialect: 'cordon' | 'falco'
}
