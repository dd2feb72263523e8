// Prometheus metrics of monitored sandboxes, with prom-client (the de-facto Node client: text
// format, registry, label handling), served over HTTP at /metrics. Names follow Prometheus'
// conventions: what only grows is a counter ending in `_total`, values are in base units, and
// no label carries a secret (a webhook's URL is one: sinks are labelled by kind and position).
// A sandbox's series stay for ENDED_RETENTION_MS after it ends, long enough for any sane
// scrape interval to see its final values, and are then dropped so a long-lived
// `cordon monitor` does not grow without bound.
import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import { CordonError } from '../errors.js'
import type { SandboxEvent } from '../run/events.js'
import type { Alert, Monitor } from './engine.js'
import type { AlertSink } from './sinks.js'

/** What a sandbox has reported so far: totals (to turn them into increments) and the label
 * values its series use (to drop them when it is gone). */
interface Seen {
  counts: Record<string, number>
  dropped: number
  cpu: number
  layers: Set<string>
  events: Set<string>
}

/** How long an ended sandbox's series stay: several scrapes at the usual 15 s–1 min. */
export const ENDED_RETENTION_MS = 5 * 60_000

/** `webhook:https://…?token=…` → `webhook`: a sink's kind, safe to publish. */
const sinkKind = (name: string) => /^[a-z]+/.exec(name)?.[0] ?? 'sink'

export class MonitorMetrics {
  readonly registry = new Registry()
  private readonly syscalls = new Counter({
    name: 'cordon_syscalls_total',
    help: 'Notified syscalls, exact (from the launcher’s counts)',
    labelNames: ['sandbox', 'syscall'],
    registers: [this.registry],
  })
  private readonly denials = new Counter({
    name: 'cordon_denials_total',
    help: 'Denials attributed to a sandbox, by layer (seccomp deny-log, landlock audit)',
    labelNames: ['sandbox', 'layer'],
    registers: [this.registry],
  })
  private readonly dropped = new Counter({
    name: 'cordon_events_dropped_total',
    help: 'Syscall events the launcher shed because the monitor read too slowly (counts stay exact)',
    labelNames: ['sandbox'],
    registers: [this.registry],
  })
  private readonly events = new Counter({
    name: 'cordon_events_total',
    help: 'Events received, by type',
    labelNames: ['sandbox', 'event'],
    registers: [this.registry],
  })
  private readonly memory = new Gauge({
    name: 'cordon_memory_bytes',
    help: 'Memory use of the sandbox’s cgroup',
    labelNames: ['sandbox'],
    registers: [this.registry],
  })
  private readonly pids = new Gauge({
    name: 'cordon_pids',
    help: 'Processes and threads in the sandbox’s cgroup',
    labelNames: ['sandbox'],
    registers: [this.registry],
  })
  private readonly cpu = new Counter({
    name: 'cordon_cpu_seconds_total',
    help: 'CPU time used by the sandbox’s cgroup',
    labelNames: ['sandbox'],
    registers: [this.registry],
  })
  private readonly matches = new Counter({
    name: 'cordon_rule_matches_total',
    help: 'Events that matched a rule’s condition',
    labelNames: ['rule'],
    registers: [this.registry],
  })
  private readonly alerts = new Counter({
    name: 'cordon_alerts_total',
    help: 'Alerts raised',
    labelNames: ['rule', 'priority'],
    registers: [this.registry],
  })
  private readonly actions = new Counter({
    name: 'cordon_actions_total',
    help: 'Actions taken (freeze, kill, alert, log)',
    labelNames: ['rule', 'action'],
    registers: [this.registry],
  })
  private readonly suppressed = new Counter({
    name: 'cordon_alerts_suppressed_total',
    help: 'Alerts and log lines a rule’s throttle held back (each run also ends with a summary alert)',
    labelNames: ['rule', 'action'],
    registers: [this.registry],
  })
  private readonly running = new Gauge({
    name: 'cordon_sandbox_running',
    help: 'Whether the sandbox still runs (0: it ended; its series go 5 minutes later)',
    labelNames: ['sandbox'],
    registers: [this.registry],
  })
  /** Last cumulative values reported per sandbox, to turn totals into counter increments. */
  private readonly seen = new Map<string, Seen>()
  /** When each ended sandbox ended. */
  private readonly ended = new Map<string, number>()
  /** Resolvers waiting for the next answered scrape (linger). */
  private scraped: (() => void)[] = []

  constructor(monitor: Monitor, sinks: readonly AlertSink[]) {
    monitor.on('match', (_id, rule) => this.matches.inc({ rule: rule.name }))
    monitor.on('alert', (a: Alert) => this.alerts.inc({ rule: a.rule, priority: a.priority }))
    monitor.on('action', (r) => this.actions.inc({ rule: r.rule, action: r.action }))
    monitor.on('suppressed', (s) => this.suppressed.inc({ rule: s.rule, action: s.action }))
    // The sinks count; the counter is set from their totals at each scrape. The label is the
    // sink's kind and position (`webhook#2`), never its target: URLs hold tokens.
    const labels = sinks.map((s, i) => `${sinkKind(s.name)}#${i + 1}`)
    new Counter({
      name: 'cordon_alert_deliveries_total',
      help: 'Alert deliveries per sink (kind#position in --alert order) and outcome (sent, failed, dropped)',
      labelNames: ['sink', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset()
        sinks.forEach((s, i) => {
          for (const outcome of ['sent', 'failed', 'dropped'] as const)
            this.inc({ sink: labels[i]!, outcome }, s.stats[outcome])
        })
      },
    })
  }

  /** The sandbox ended (exit event, or its event socket closed): its series are kept for
   * ENDED_RETENTION_MS so the final values are scraped, then dropped. */
  end(sandbox: string, now = Date.now()): void {
    if (this.ended.has(sandbox)) return
    this.ended.set(sandbox, now)
    this.running.set({ sandbox }, 0)
  }

  /** Drops the series of sandboxes that ended more than ENDED_RETENTION_MS ago. */
  prune(now = Date.now()): void {
    for (const [sandbox, at] of this.ended) {
      if (now - at < ENDED_RETENTION_MS) continue
      for (const m of [this.dropped, this.memory, this.pids, this.cpu, this.running]) m.remove({ sandbox })
      const seen = this.seen.get(sandbox)
      for (const syscall of Object.keys(seen?.counts ?? {})) this.syscalls.remove({ sandbox, syscall })
      for (const layer of seen?.layers ?? []) this.denials.remove({ sandbox, layer })
      for (const event of seen?.events ?? []) this.events.remove({ sandbox, event })
      this.ended.delete(sandbox)
      this.seen.delete(sandbox)
    }
  }

  observe(sandbox: string, ev: SandboxEvent): void {
    if (!this.ended.has(sandbox)) this.running.set({ sandbox }, 1)
    const seen: Seen = this.seen.get(sandbox) ?? {
      counts: {},
      dropped: 0,
      cpu: 0,
      layers: new Set(),
      events: new Set(),
    }
    this.seen.set(sandbox, seen)
    this.events.inc({ sandbox, event: ev.event })
    seen.events.add(ev.event)
    switch (ev.event) {
      case 'syscall-counts': {
        // Totals since start: add what is new since the last report.
        for (const [syscall, n] of Object.entries(ev.counts)) {
          const delta = n - (seen.counts[syscall] ?? 0)
          if (delta > 0) this.syscalls.inc({ sandbox, syscall }, delta)
        }
        seen.counts = ev.counts
        this.dropped.inc({ sandbox }, Math.max(0, ev.dropped - seen.dropped))
        seen.dropped = Math.max(seen.dropped, ev.dropped)
        break
      }
      case 'syscall':
        if (ev.errno !== undefined) {
          this.denials.inc({ sandbox, layer: 'seccomp' })
          seen.layers.add('seccomp')
        }
        break
      case 'denied':
        this.denials.inc({ sandbox, layer: ev.layer })
        seen.layers.add(ev.layer)
        break
      case 'stats':
        this.memory.set({ sandbox }, ev.memoryBytes)
        this.pids.set({ sandbox }, ev.pids)
        this.cpu.inc({ sandbox }, Math.max(0, ev.cpuUsageUsec / 1e6 - seen.cpu))
        seen.cpu = Math.max(seen.cpu, ev.cpuUsageUsec / 1e6)
        break
      case 'exit':
        this.end(sandbox)
        break
    }
  }

  /** Resolves after the next scrape has been answered, or after ms: `--metrics-linger`, so a
   * run's final values reach Prometheus before the process exits. */
  linger(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.scraped = this.scraped.filter((r) => r !== done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.scraped.push(done)
    })
  }

  /** Ends every linger now (a Ctrl-C at the end of the run). */
  endLinger(): void {
    for (const done of [...this.scraped]) done()
  }

  /** Serves /metrics on "host:port" (or ":port", or "port": all interfaces). Resolves with the port. */
  serve(addr: string): Promise<{ server: Server; port: number }> {
    const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(addr)
    if (!m || Number(m[2]) > 65535)
      throw new CordonError('invalid_usage', `--metrics ${addr}: expected HOST:PORT, :PORT or PORT (0–65535)`)
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('cordon: metrics are at /metrics\n')
        return
      }
      this.prune()
      this.registry.metrics().then(
        (text) =>
          res.writeHead(200, { 'content-type': this.registry.contentType }).end(text, () => {
            for (const r of this.scraped.splice(0)) r()
          }),
        (e: Error) => res.writeHead(500).end(e.message),
      )
    })
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new CordonError(
            'invalid_usage',
            e.code === 'EADDRINUSE'
              ? `--metrics ${addr}: the port is in use; pick another, or :0 for any free port`
              : `--metrics ${addr}: cannot listen there (${e.code ?? e.message}); give an address of this host`,
          ),
        ),
      )
      server.listen(Number(m[2]), m[1] || undefined, () => {
        server.unref()
        const address = server.address()
        resolve({ server, port: typeof address === 'object' && address ? address.port : Number(m[2]) })
      })
    })
  }
}
