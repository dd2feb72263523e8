// The rule engine: each sandbox's events go through the enabled rules; a match (or a rate or
// baseline crossed) runs the rule's actions. Rules can be replaced while sandboxes run (hot
// reload); rate windows of rules that keep their name and rate carry over.
import { EventEmitter } from 'node:events'
import { basename } from 'node:path'
import { eventJson, type SandboxEvent } from '../run/events.js'
import { evaluate, type Fields, type Value } from './expr.js'
import { falcoField } from './falco-fields.js'
import { ProcessTable, userName } from './proc-info.js'
import { renderOutput } from './render.js'
import type { Priority, Rule, RuleAction, RuleSet, Throttle } from './rules.js'

/** A sandbox the monitor watches and can act on. */
export interface Target {
  id: string
  command: readonly string[]
  /** ms since the epoch; an exec of a file changed after this is `new`. */
  startedAt: number
  limits: { memory?: number; pids?: number }
  /** Stops every process of the sandbox; returns how (e.g. "cgroup freezer"). */
  freeze(): string
  kill(): void
}

export interface Alert {
  time: string
  rule: string
  priority: Priority
  sandbox: string
  command: readonly string[]
  output: string
  actions: RuleAction[]
  /** The event that fired the rule, JSON-safe (64-bit arguments as hex strings). */
  event: Record<string, unknown>
  /** The rule's tags (Falco rules carry them; falcosidekick routes on them). */
  tags?: string[]
  /** Each field the output names, with its value (Falco's output_fields). */
  fields?: Record<string, unknown>
  /** For rate and baseline rules: the matches counted in the window. */
  count?: number
  /** Alerts of this rule for this sandbox held back by its throttle since the previous one. */
  suppressed?: number
}

/** Alerts (or log lines) a rule's throttle held back: counted, never silently lost. */
export interface Suppressed {
  sandbox: string
  rule: string
  action: 'alert' | 'log'
}

export interface ActionRecord {
  sandbox: string
  rule: string
  action: RuleAction
  /** ms since the epoch, when the action completed. */
  at: number
  detail: string
}

interface Window {
  times: number[]
  /** How many occurrences each entry of `times` stands for (a spawn event's count). */
  weights: number[]
  /** The weights from `head` on. */
  sum: number
  head: number
}

/** How many occurrences an event stands for in a rate: a spawn event counts its spawns. */
const weightOf = (ev: SandboxEvent) => (ev.event === 'spawn' ? ev.count : 1)

interface RuleState {
  windows: Map<string, Window>
  lastFired: number
  /** Baseline: counts per learning bucket, then the learned rate. */
  buckets: number[]
  learned?: number
}

/** A rule's token bucket in one sandbox. */
interface Bucket {
  tokens: number
  at: number
  /** Held back since the last alert that went out. */
  suppressed: number
}

interface Watched {
  target: Target
  buckets: Map<string, Bucket>
  /** The launcher reported `started`: execs from now on are the sandbox's own. */
  started: boolean
  states: Map<string, RuleState>
  rateKey: Map<string, string>
  /** pid → program and parent, from exec events: an exit names what ended, and the rules see
   * a process's parent and ancestors. */
  procs: ProcessTable
  /** Events handled so far (Falco's evt.num). */
  handled: number
}

const MAX_KEYS = 1000

export function jsonSafe(ev: SandboxEvent): Record<string, unknown> {
  return JSON.parse(eventJson(ev)) as Record<string, unknown>
}

/** The pid an event is about, when it names one. */
const pidOf = (ev: SandboxEvent): number | undefined =>
  'pid' in ev && typeof ev.pid === 'number' ? ev.pid : undefined

/** Field lookup for one event of one sandbox. */
export function fieldsOf(
  ev: SandboxEvent,
  t: Target,
  started = true,
  procs: ProcessTable = new ProcessTable(),
  num = 1,
): Fields {
  const raw = ev as unknown as Record<string, Value>
  const pid = pidOf(ev)
  const fields = (name: string): Value => {
    // Falco's names (proc.name, fd.name…): monitor/falco-fields.ts maps them.
    if (name.includes('.')) {
      const f = falcoField(name)
      return f?.resolve({ ev, sandbox: t.id, pid, procs, num, native: fields }, f.arg)
    }
    switch (name) {
      case 'sandbox':
        return t.id
      case 'command':
        return t.command.join(' ')
      case 'initial':
        return !started // the launcher's exec of the command itself
      case 'basename':
        return typeof raw.path === 'string' ? basename(raw.path) : undefined
      case 'program': {
        // The program an exec runs, by its own name (symlinks followed, a memfd's
        // `memfd:NAME`); the name it was called by (basename) when the launcher could not
        // tell. For process events, the exe's name. For any other event, the program of the
        // process it is about: an openat's path is the file, not who opened it (helper-152).
        const exec = ev.event === 'syscall' && (ev.syscall === 'execve' || ev.syscall === 'execveat')
        const file = typeof raw.exe === 'string' ? raw.exe : exec ? raw.path : undefined
        if (typeof file === 'string') return basename(file.replace(/ \(deleted\)$/, ''))
        return pid === undefined ? undefined : procs.name(pid)
      }
      case 'denied':
        return ev.event === 'denied' || (ev.event === 'syscall' && ev.errno !== undefined)
      case 'new':
        return ev.event === 'syscall' && ev.ctimeMs !== undefined && ev.ctimeMs >= t.startedAt
      case 'memory':
        return ev.event === 'stats' ? ev.memoryBytes : undefined
      case 'memory_limit':
        return t.limits.memory
      case 'memory_pct':
        return ev.event === 'stats' && t.limits.memory ? (100 * ev.memoryBytes) / t.limits.memory : undefined
      case 'pids_limit':
        return t.limits.pids
      case 'pids_pct':
        return (ev.event === 'stats' || ev.event === 'spawn') && ev.pids !== undefined && t.limits.pids
          ? (100 * ev.pids) / t.limits.pids
          : undefined
      case 'cpu':
        return ev.event === 'stats' ? ev.cpuUsageUsec : undefined
      // The process the event is about, from the process table (proc-info.ts).
      case 'ppid':
        return raw.ppid ?? (pid === undefined ? undefined : procs.parent(pid))
      case 'parent': {
        const p = pid === undefined ? undefined : procs.parent(pid)
        return p === undefined ? undefined : procs.name(p)
      }
      case 'ancestors':
        return pid === undefined
          ? undefined
          : procs
              .ancestors(pid)
              .map((p) => procs.name(p))
              .filter((n): n is string => n !== undefined)
      case 'cmdline':
        return pid === undefined ? undefined : procs.info(pid)?.argv.join(' ')
      case 'args':
        return pid === undefined ? undefined : procs.info(pid)?.argv.slice(1).join(' ')
      case 'uid':
        return pid === undefined ? undefined : procs.info(pid)?.uid
      case 'user':
        return pid === undefined ? undefined : userName(procs.info(pid)?.uid)
      default:
        if (/^arg[0-5]$/.test(name)) return ev.event === 'syscall' ? ev.args[Number(name[3])] : undefined
        return raw[name]
    }
  }
  return fields
}

function summary(ev: SandboxEvent): string {
  switch (ev.event) {
    case 'syscall':
      return `${ev.syscall}${ev.path ? ` ${ev.path}` : ''} by pid ${ev.pid}${ev.errno ? ' (denied)' : ''}`
    case 'denied':
      return `${ev.layer} denied ${ev.blockers} ${ev.path ?? ev.port ?? ''} to ${ev.exe}`
    case 'stats':
      return `memory ${(ev.memoryBytes / 2 ** 20).toFixed(1)} MiB, ${ev.pids} pids`
    default:
      return ev.event
  }
}

export class Monitor extends EventEmitter<{
  alert: [Alert]
  action: [ActionRecord]
  match: [string, Rule]
  suppressed: [Suppressed]
  error: [Error]
}> {
  private rules: Rule[]
  private readonly watched = new Map<string, Watched>()
  private readonly now: () => number

  constructor(rules: RuleSet, options: { now?: () => number } = {}) {
    super()
    this.rules = rules.rules
    this.now = options.now ?? Date.now
  }

  get ruleNames(): string[] {
    return this.rules.map((r) => r.name)
  }

  /** The rules that match only events of these kinds: none can fire on a sandbox that sends none. */
  rulesOnlyOn(events: readonly string[]): string[] {
    return this.rules
      .filter((r) => r.events.size && [...r.events].every((e) => events.includes(e)))
      .map((r) => r.name)
  }

  /** Replaces the rules; windows of rules with the same name and rate carry over. */
  setRules(rules: RuleSet): void {
    this.rules = rules.rules
    const keys = new Map(this.rules.map((r) => [r.name, rateKey(r)]))
    for (const w of this.watched.values()) {
      for (const [name, key] of w.rateKey)
        if (keys.get(name) !== key) {
          w.states.delete(name)
          w.rateKey.delete(name)
        }
    }
  }

  attach(target: Target): void {
    this.watched.set(target.id, {
      target,
      buckets: new Map(),
      started: false,
      states: new Map(),
      rateKey: new Map(),
      procs: new ProcessTable(),
      handled: 0,
    })
  }

  /** Stops watching; a rule whose throttle held alerts back since its last one says how many. */
  detach(id: string): void {
    const w = this.watched.get(id)
    this.watched.delete(id)
    if (!w) return
    for (const [name, bucket] of w.buckets) {
      const rule = this.rules.find((r) => r.name === name)
      if (bucket.suppressed && rule) this.summarize(w.target, rule, bucket.suppressed)
    }
  }

  private summarize(t: Target, rule: Rule, n: number): void {
    const output = `${n} more ${rule.name} alert${n === 1 ? ' was' : 's were'} suppressed by the rule's throttle (${describeThrottle(rule.throttle)})`
    if (rule.then.includes('alert'))
      this.emit('alert', {
        ...alertHead(t, rule),
        output,
        actions: ['alert'],
        event: { event: 'suppressed', count: n },
        suppressed: n,
      })
    else
      this.emit('action', { sandbox: t.id, rule: rule.name, action: 'log', at: Date.now(), detail: output })
  }

  /** Takes a token from the rule's bucket; false when the throttle holds this one back. */
  private admit(w: Watched, rule: Rule): Bucket | false {
    const now = this.now()
    const { count, perMs } = rule.throttle
    let b = w.buckets.get(rule.name)
    if (!b) w.buckets.set(rule.name, (b = { tokens: count, at: now, suppressed: 0 }))
    b.tokens = Math.min(count, b.tokens + ((now - b.at) * count) / perMs)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return b
  }

  /** Runs one event of sandbox `id` through the rules. */
  handle(id: string, ev: SandboxEvent): void {
    const w = this.watched.get(id)
    if (!w) return
    if (ev.event === 'started') w.started = true
    if (ev.event === 'process') ev = this.namedProcess(w, ev)
    // A watched exec names the program before it runs: an exit then names it even when the
    // process ended before the launcher could read /proc/PID/exe.
    else if (
      ev.event === 'syscall' &&
      (ev.exe ?? ev.path) &&
      ev.errno === undefined &&
      /^execve(at)?$/.test(ev.syscall)
    )
      w.procs.exec(ev.pid, ev.exe ?? ev.path)
    const fields = fieldsOf(ev, w.target, w.started, w.procs, ++w.handled)
    for (const rule of this.rules) {
      if (rule.events.size && !rule.events.has(ev.event)) continue
      if (!evaluate(rule.when, fields)) continue
      this.emit('match', id, rule)
      const count = this.count(w, rule, fields, weightOf(ev))
      if (count === false) continue
      this.fire(w, rule, ev, fields, count)
    }
    if (ev.event === 'process' && ev.action === 'exit') w.procs.forget(ev.pid)
  }

  private namedProcess(w: Watched, ev: Extract<SandboxEvent, { event: 'process' }>): SandboxEvent {
    const known = w.procs.exe(ev.pid)
    if (ev.action === 'exec') w.procs.exec(ev.pid, ev.exe, ev.ppid)
    return known && !ev.exe ? { ...ev, exe: known } : ev
  }

  /** false: the rule does not fire now; a number: it fires with that many matches counted. */
  private count(w: Watched, rule: Rule, fields: Fields, weight: number): number | false | undefined {
    const now = this.now()
    let state = w.states.get(rule.name)
    if (!state) {
      state = { windows: new Map(), lastFired: -Infinity, buckets: [] }
      w.states.set(rule.name, state)
      w.rateKey.set(rule.name, rateKey(rule))
    }
    if (rule.cooldownMs && now - state.lastFired < rule.cooldownMs) return false
    if (!rule.rate && !rule.baseline) return undefined
    if (rule.baseline) {
      const b = rule.baseline
      const since = now - w.target.startedAt
      if (b.learned !== undefined) state.learned ??= b.learned
      else if (since < b.learnMs) {
        const i = Math.floor(since / b.windowMs)
        state.buckets[i] = (state.buckets[i] ?? 0) + weight
        return false
      }
      state.learned ??= Math.max(0, ...state.buckets.map((n) => n ?? 0))
    }
    const windowMs = rule.rate?.windowMs ?? rule.baseline!.windowMs
    const key = rule.rate?.by ? String(fields(rule.rate.by)) : ''
    let win = state.windows.get(key)
    if (!win) {
      if (state.windows.size >= MAX_KEYS) state.windows.delete(state.windows.keys().next().value!)
      state.windows.set(key, (win = { times: [], weights: [], sum: 0, head: 0 }))
    }
    win.times.push(now)
    win.weights.push(weight)
    win.sum += weight
    while (win.times[win.head]! <= now - windowMs) win.sum -= win.weights[win.head++]!
    if (win.head > 1024) {
      win.times = win.times.slice(win.head)
      win.weights = win.weights.slice(win.head)
      win.head = 0
    }
    const n = win.sum
    const threshold = rule.rate
      ? rule.rate.count
      : Math.max(rule.baseline!.min, rule.baseline!.factor * (state.learned ?? 0))
    const crossed = rule.rate?.op === '>=' ? n >= threshold : n > threshold
    if (!crossed) return false // so a window never holds more than `threshold` timestamps
    win.times = []
    win.weights = []
    win.sum = 0
    win.head = 0
    return n
  }

  private fire(w: Watched, rule: Rule, ev: SandboxEvent, fields: Fields, count: number | undefined): void {
    const state = w.states.get(rule.name)!
    state.lastFired = this.now()
    const t = w.target
    // Freeze and kill always run: the throttle bounds what is said, never what is done.
    const ordered = (['freeze', 'kill', 'alert', 'log'] as const).filter((a) => rule.then.includes(a))
    const speaks = ordered.filter((a) => a === 'alert' || a === 'log')
    const bucket = speaks.length ? this.admit(w, rule) : undefined
    if (bucket === false) {
      w.buckets.get(rule.name)!.suppressed++
      for (const action of speaks) this.emit('suppressed', { sandbox: t.id, rule: rule.name, action })
    }
    const suppressed = bucket ? bucket.suppressed : 0
    if (bucket) bucket.suppressed = 0
    // Rendered only for an alert or log that goes out: a held-back one costs no formatting.
    let rendered: { text: string; fields: Record<string, unknown> } | undefined
    const output = () => {
      const window = rule.rate
        ? `${rule.rate.windowMs}ms`
        : rule.baseline
          ? `${rule.baseline.windowMs}ms`
          : ''
      const extra = { rule: rule.name, count: count ?? 1, window, priority: rule.priority }
      rendered ??= rule.output
        ? renderOutput(rule, fields, extra)
        : {
            text: `${rule.description || rule.name}: ${summary(ev)}${count !== undefined ? ` (${count} in ${window})` : ''}`,
            fields: {},
          }
      return rendered.text
    }
    for (const action of ordered) {
      if (bucket === false && (action === 'alert' || action === 'log')) continue
      let detail = ''
      try {
        if (action === 'freeze') detail = t.freeze()
        else if (action === 'kill') t.kill()
        else if (action === 'alert')
          this.emit('alert', {
            ...alertHead(t, rule),
            output: output(),
            actions: rule.then,
            event: jsonSafe(ev),
            ...(rule.tags.length ? { tags: rule.tags } : {}),
            ...(Object.keys(rendered!.fields).length ? { fields: rendered!.fields } : {}),
            ...(count !== undefined ? { count } : {}),
            ...(suppressed ? { suppressed } : {}),
          })
        else detail = suppressed ? `${output()} (${suppressed} suppressed before this one)` : output()
      } catch (e) {
        this.emit(
          'error',
          new Error(`rule ${rule.name}: ${action} sandbox ${t.id} failed: ${(e as Error).message}`),
        )
        continue
      }
      this.emit('action', { sandbox: t.id, rule: rule.name, action, at: Date.now(), detail })
    }
  }
}

export function describeThrottle(t: Throttle): string {
  return `${t.count} per ${t.perMs % 1000 ? `${t.perMs}ms` : `${t.perMs / 1000}s`}`
}

function rateKey(r: Rule): string {
  return JSON.stringify([r.rate ?? null, r.baseline ?? null, r.whenText])
}

/** What every alert of a rule about a sandbox starts with. */
const alertHead = (t: Target, rule: Rule) => ({
  time: new Date().toISOString(),
  rule: rule.name,
  priority: rule.priority,
  sandbox: t.id,
  command: t.command,
})
