// Prometheus metrics of monitored sandboxes, with prom-client (the de-facto Node client: text
// format, registry, label handling), served over HTTP at /metrics.
import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import type { SandboxEvent } from '../run/events.js'
import type { Alert, Monitor } from './engine.js'
import type { AlertSink } from './sinks.js'

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
  private readonly dropped = new Gauge({
    name: 'cordon_events_dropped',
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
  private readonly cpu = new Gauge({
    name: 'cordon_cpu_seconds',
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
  private readonly seen = new Map<string, Record<string, number>>()

  constructor(monitor: Monitor, sinks: readonly AlertSink[]) {
    monitor.on('match', (_id, rule) => this.matches.inc({ rule: rule.name }))
    monitor.on('alert', (a: Alert) => this.alerts.inc({ rule: a.rule, priority: a.priority }))
    monitor.on('action', (r) => this.actions.inc({ rule: r.rule, action: r.action }))
    monitor.on('suppressed', (s) => this.suppressed.inc({ rule: s.rule, action: s.action }))
    new Gauge({
      name: 'cordon_alert_deliveries',
      help: 'Alert deliveries per sink and outcome (sent, failed, dropped)',
      labelNames: ['sink', 'outcome'],
      registers: [this.registry],
      collect() {
        for (const s of sinks)
          for (const outcome of ['sent', 'failed', 'dropped'] as const)
            this.set({ sink: s.name, outcome }, s.stats[outcome])
      },
    })
  }

  observe(sandbox: string, ev: SandboxEvent): void {
    this.events.inc({ sandbox, event: ev.event })
    switch (ev.event) {
      case 'syscall-counts': {
        // Totals since start: add what is new since the last report.
        const before = this.seen.get(sandbox) ?? {}
        for (const [syscall, n] of Object.entries(ev.counts)) {
          const delta = n - (before[syscall] ?? 0)
          if (delta > 0) this.syscalls.inc({ sandbox, syscall }, delta)
        }
        this.seen.set(sandbox, ev.counts)
        this.dropped.set({ sandbox }, ev.dropped)
        break
      }
      case 'syscall':
        if (ev.errno !== undefined) this.denials.inc({ sandbox, layer: 'seccomp' })
        break
      case 'denied':
        this.denials.inc({ sandbox, layer: ev.layer })
        break
      case 'stats':
        this.memory.set({ sandbox }, ev.memoryBytes)
        this.pids.set({ sandbox }, ev.pids)
        this.cpu.set({ sandbox }, ev.cpuUsageUsec / 1e6)
        break
    }
  }

  /** Serves /metrics on "host:port" (or ":port", or "port": all interfaces). Resolves with the port. */
  serve(addr: string): Promise<{ server: Server; port: number }> {
    const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(addr)
    if (!m) throw new Error(`--metrics ${addr}: expected HOST:PORT, :PORT or PORT`)
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('cordon: metrics are at /metrics\n')
        return
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      )
    })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(Number(m[2]), m[1] || undefined, () => {
        server.unref()
        const address = server.address()
        resolve({ server, port: typeof address === 'object' && address ? address.port : Number(m[2]) })
      })
    })
  }
}
