// A monitor session: rules (hot-reloaded), alert sinks and metrics, attached to sandboxes —
// started here (`cordon run --rules`) or running elsewhere (`cordon monitor`, over their
// event sockets).
import { watch as watchFs, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { parseEvent, type SandboxEvent } from '../run/events.js'
import { eventSocket, type SandboxRecord } from '../run/registry.js'
import { controlSandbox, type SandboxControl } from '../run/sandbox-control.js'
import type { SandboxProcess } from '../run/spawn.js'
import { Monitor, type Target } from './engine.js'
import type { MonitorMetrics } from './metrics.js'
import { DEFAULT_RULES_FILE, loadRules, type RuleSet, watchedSyscalls } from './rules.js'
import { escapeControl } from '../run/escape.js'
import { builtin } from '../builtin.js'
import { writeStderr } from '../host/stderr.js'
import type { AlertFormat } from './falco-output.js'
import { loadNotices } from './rules-report.js'
import { type AlertSink, parseSink, type SinkContext } from './sinks.js'
import { callerResolve } from '../host/path-bytes.js'

// node:net and node:readline (~3 ms of CPU) only for attaching to sandboxes started elsewhere
// (`cordon monitor`): `cordon run --monitor` reads its own sandbox's events from its channel.
const connect = (path: string) => builtin('node:net').connect(path)
const createInterface = (options: import('node:readline').ReadLineOptions) =>
  builtin('node:readline').createInterface(options)

export interface SessionOptions {
  /** Rules files after the default one (later override earlier). */
  rules?: readonly string[]
  /** Load rules/default.yaml first (default true). */
  defaultRules?: boolean
  /** --alert values (default: stderr). */
  alerts?: readonly string[]
  /** Serve Prometheus metrics on this address. */
  metrics?: string
  /** Reload the rules when a file changes (default true). */
  reload?: boolean
  /** Where the session's own notices go (reloads, errors, log actions). */
  log?: (line: string) => void
  /** Where `--alert json` lines go (the events channel); without it, `json` is refused. */
  json?: SinkContext['json']
  /** The JSON shape of json, file: and webhook: alerts (default cordon's). */
  alertFormat?: AlertFormat
}

export class MonitorSession {
  readonly monitor: Monitor
  readonly sinks: AlertSink[]
  metrics: MonitorMetrics | undefined
  readonly files: string[]
  metricsPort: number | undefined
  private rules: RuleSet
  private readonly watchers: FSWatcher[] = []
  private readonly log: (line: string) => void
  private reloadTimer: NodeJS.Timeout | undefined
  private readonly detachers = new Map<string, () => void>()

  private constructor(options: SessionOptions) {
    this.log = options.log ?? ((line) => writeStderr(`cordon: ${escapeControl(line)}\n`))
    this.files = [
      ...(options.defaultRules === false ? [] : [DEFAULT_RULES_FILE]),
      ...(options.rules ?? []).map((f) => callerResolve(f)),
    ]
    this.rules = loadRules(this.files)
    for (const line of loadNotices(this.rules)) this.log(line)
    const context = {
      ...(options.json ? { json: options.json } : {}),
      ...(options.alertFormat ? { format: options.alertFormat } : {}),
      log: this.log,
    }
    this.sinks = (options.alerts?.length ? options.alerts : ['stderr']).map((spec) =>
      parseSink(spec, context),
    )
    this.monitor = new Monitor(this.rules)
    this.monitor.on('alert', (a) => {
      for (const s of this.sinks) s.send(a)
    })
    this.monitor.on('action', (r) => {
      if (r.action === 'log') this.log(`[${r.rule}] sandbox ${r.sandbox}: ${r.detail}`)
      else if (r.action !== 'alert')
        this.log(`rule ${r.rule}: ${r.action} sandbox ${r.sandbox}${r.detail ? ` (${r.detail})` : ''}`)
    })
    this.monitor.on('error', (e) => this.log(e.message))
    if (options.reload !== false) this.watchFiles()
  }

  static async open(options: SessionOptions = {}): Promise<MonitorSession> {
    const session = new MonitorSession(options)
    if (options.metrics !== undefined) {
      // prom-client costs ~50 ms to load: only sessions that serve metrics pay it.
      const { MonitorMetrics } = await import('./metrics.js')
      session.metrics = new MonitorMetrics(session.monitor, session.sinks)
      session.metricsPort = (await session.metrics.serve(options.metrics)).port
    }
    return session
  }

  /** Syscalls the current rules need the sandbox to report. */
  watchList(): string[] {
    return watchedSyscalls(this.rules)
  }

  /** Watches directories, not files: editors save by writing a new file and renaming it. */
  private watchFiles(): void {
    const dirs = new Map<string, Set<string>>()
    for (const f of this.files) dirs.set(dirname(f), (dirs.get(dirname(f)) ?? new Set()).add(basename(f)))
    for (const [dir, names] of dirs) {
      try {
        const w = watchFs(dir, (_type, name) => {
          if (name && names.has(name.toString())) this.scheduleReload()
        })
        w.unref()
        this.watchers.push(w)
      } catch {}
    }
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer)
    this.reloadTimer = setTimeout(() => this.reload(), 50)
    this.reloadTimer.unref()
  }

  /** Loads the files again; on an error the running rules stay. Returns whether it applied. */
  reload(): boolean {
    let next: RuleSet
    try {
      next = loadRules(this.files)
    } catch (e) {
      // One notice per line: the log escapes newlines, and a rules error points with a caret.
      for (const line of `rules not reloaded, the running ones stay: ${(e as Error).message}`.split('\n'))
        this.log(line)
      return false
    }
    const before = new Set(this.watchList())
    for (const line of loadNotices(next)) this.log(line)
    this.rules = next
    this.monitor.setRules(next)
    const missing = this.watchList().filter((s) => !before.has(s))
    this.log(
      `rules reloaded: ${next.rules.length} rules` +
        (missing.length
          ? `; running sandboxes do not report ${missing.join(', ')} (they were started without it), so rules on those see new sandboxes only`
          : ''),
    )
    return true
  }

  /** A sandbox started by this process: its events feed the rules until it ends. */
  attachProcess(p: SandboxProcess, command: readonly string[], limits: Target['limits']): void {
    this.monitor.attach({
      id: p.id,
      command,
      startedAt: Date.now(),
      limits,
      freeze: () => p.freeze(),
      kill: () => {
        p.cgroup?.killAll()
        p.child.kill('SIGKILL')
      },
    })
  }

  /** Feed for attachProcess'd sandboxes. */
  handle(id: string, ev: SandboxEvent): void {
    this.metrics?.observe(id, ev)
    this.monitor.handle(id, ev)
    if (ev.event === 'exit') this.monitor.detach(id)
  }

  /** A sandbox running elsewhere, through its registry record and event socket. Its socket
   * must be where cordon makes it (registry.ts eventSocket) and each action re-checks the
   * record's launcher (a pid reused after the sandbox ended gets no signal). */
  attachRecord(record: SandboxRecord): boolean {
    if (this.detachers.has(record.id)) return false
    const path = eventSocket(record)
    if (!path) return false
    let control: SandboxControl
    try {
      control = controlSandbox(record)
    } catch {
      return false // ended meanwhile, or its record is not to be trusted
    }
    this.monitor.attach({
      id: record.id,
      command: record.command,
      startedAt: Date.parse(record.startedAt),
      limits: {
        ...(typeof record.limits?.memory === 'number' ? { memory: record.limits.memory } : {}),
        ...(typeof record.limits?.pids === 'number' ? { pids: record.limits.pids } : {}),
      },
      freeze: () => control.freeze() ?? 'SIGSTOP (no cgroup)',
      kill: () => control.kill('SIGKILL'),
    })
    const socket = connect(path)
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY })
    lines.on('line', (line) => this.handle(record.id, parseEvent(line)))
    const detach = () => {
      this.metrics?.end(record.id)
      this.monitor.detach(record.id)
      this.detachers.delete(record.id)
      socket.destroy()
    }
    // A run killed before it accepted the connection resets it: readline passes the socket's
    // error on, and unheard it ended cordon monitor (ECONNRESET, a run of the test suite).
    socket.on('error', detach)
    lines.on('error', detach)
    socket.on('close', detach)
    this.detachers.set(record.id, detach)
    return true
  }

  get attached(): string[] {
    return [...this.detachers.keys()]
  }

  /** Cuts the end short (a Ctrl-C while alerts wait for a receiver that is down): what is not
   * delivered yet is given up on, and counted. */
  hurry(): void {
    this.metrics?.endLinger()
    for (const s of this.sinks) s.hurry?.()
  }

  async close(): Promise<void> {
    clearTimeout(this.reloadTimer)
    for (const w of this.watchers) w.close()
    for (const d of [...this.detachers.values()]) d()
    await Promise.all(this.sinks.map((s) => s.close()))
    // The first failure of a sink was reported when it happened; the count is said at the end.
    for (const s of this.sinks) {
      const { failed, dropped } = s.stats
      if (failed + dropped === 0) continue
      const parts = [failed && `${failed} failed`, dropped && `${dropped} dropped`].filter(Boolean)
      this.log(`${failed + dropped} alert(s) to ${s.name} were not delivered (${parts.join(', ')})`)
    }
  }
}
