// Where alerts go: stderr (a line a person reads), the events channel (JSON lines on the
// caller's --events file or descriptor, never the program's stdout), a file (JSON lines), an
// HTTP webhook (POST JSON, retried with backoff from a bounded queue) and syslog (one long-lived
// logger(1) fed on its stdin, or RFC 5424 over UDP). No sink ever blocks the monitor or holds
// unbounded memory: each send() only queues, up to a bound, and counts what it drops. Every
// human-readable line goes through escapeControl and every JSON line through jsonLine, so no
// byte the sandbox controls can end a line, forge one, or drive a terminal.
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { hostname } from 'node:os'
import type { Writable } from 'node:stream'
import { CordonError } from '../errors.js'
import { escapeControl, jsonLine } from '../run/escape.js'
import { LineChannel, type LineWriter, MAX_PENDING_BYTES, openOwnFile } from './channel.js'
import type { Alert } from './engine.js'
import type { Priority } from './rules.js'

export interface SinkStats {
  sent: number
  failed: number
  dropped: number
}

export interface AlertSink {
  readonly name: string
  readonly stats: SinkStats
  send(alert: Alert): void
  /** Delivers what is queued (bounded by the sink's own retry budget), then releases resources. */
  close(): Promise<void>
}

const newStats = (): SinkStats => ({ sent: 0, failed: 0, dropped: 0 })

const COLORS: Partial<Record<Priority, string>> = {
  emergency: '\x1b[1;31m',
  alert: '\x1b[1;31m',
  critical: '\x1b[1;31m',
  error: '\x1b[31m',
  warning: '\x1b[33m',
}

/** The text of an alert for a person (stderr, syslog), escaped: one line whatever it carries. */
export function alertText(a: Alert): string {
  const held = a.suppressed ? ` (+${a.suppressed} suppressed)` : ''
  return escapeControl(`${a.rule} (sandbox ${a.sandbox}): ${a.output}${held}`)
}

/** An alert as a line of the events channel: the same stream as the run's events. */
export function alertEventLine(a: Alert): string {
  return jsonLine({ event: 'alert', alert: a })
}

/** Human-readable lines on a stream (stderr). */
export class StreamSink implements AlertSink {
  readonly stats = newStats()
  constructor(
    readonly name: string,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
  ) {}
  send(a: Alert): void {
    const color = this.out.isTTY && !process.env.NO_COLOR ? COLORS[a.priority] : undefined
    const tag = `[${a.priority}]`
    this.out.write(`cordon: ${color ? `${color}${tag}\x1b[0m` : tag} ${alertText(a)}\n`)
    this.stats.sent++
  }
  async close(): Promise<void> {}
}

/** JSON lines on a channel the caller owns (`--alert json`: the --events file or descriptor). */
export class JsonSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  constructor(private readonly out: LineWriter & { dropped?: number }) {
    this.name = `json:${out.name}`
  }
  send(a: Alert): void {
    const before = this.out.dropped ?? 0
    this.out.write(alertEventLine(a))
    if ((this.out.dropped ?? 0) > before) this.stats.dropped++
    else this.stats.sent++
  }
  async close(): Promise<void> {}
}

/** JSON lines appended to a file of the caller's (opened once, safely; see openOwnFile). */
export class FileSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly channel: LineChannel
  constructor(path: string) {
    this.name = `file:${path}`
    this.channel = new LineChannel(this.name, openOwnFile(path, `--alert file:`, { truncate: false }))
  }
  send(a: Alert): void {
    const before = this.channel.dropped
    this.channel.write(jsonLine(a))
    if (this.channel.dropped > before) this.stats.dropped++
    else this.stats.sent++
  }
  close(): Promise<void> {
    return this.channel.close()
  }
}

export interface WebhookOptions {
  /** Attempts per alert (default 5). */
  attempts?: number
  /** First retry delay, doubled each time (default 250 ms). */
  backoffMs?: number
  /** Per request (default 5 s). */
  timeoutMs?: number
  /** Alerts waiting beyond this are dropped, oldest first, and counted (default 1000). */
  maxQueue?: number
}

export class WebhookSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly queue: Alert[] = []
  private running: Promise<void> | undefined
  private readonly opts: Required<WebhookOptions>
  constructor(
    private readonly url: string,
    options: WebhookOptions = {},
  ) {
    this.name = `webhook:${url}`
    this.opts = { attempts: 5, backoffMs: 250, timeoutMs: 5000, maxQueue: 1000, ...options }
  }
  send(a: Alert): void {
    if (this.queue.length >= this.opts.maxQueue) {
      this.queue.shift()
      this.stats.dropped++
    }
    this.queue.push(a)
    // Started on the next turn: even the first fetch (which loads the HTTP client) stays off
    // the caller's path.
    this.running ??= new Promise((r) => setImmediate(r))
      .then(() => this.drain())
      .finally(() => (this.running = undefined))
  }
  private async drain(): Promise<void> {
    for (let a = this.queue.shift(); a; a = this.queue.shift()) await this.deliver(a)
  }
  private async deliver(a: Alert): Promise<void> {
    const body = jsonLine(a)
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'cordon-monitor' },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) {
          this.stats.sent++
          return
        }
        if (res.status < 500 && res.status !== 429) break // the receiver refuses it: retrying will not help
      } catch {}
      if (attempt < this.opts.attempts)
        await new Promise((r) => setTimeout(r, this.opts.backoffMs * 2 ** (attempt - 1)))
    }
    this.stats.failed++
  }
  async close(): Promise<void> {
    await this.running
  }
}

/** syslog severities (RFC 5424) of our priorities. */
const SEVERITY: Record<Priority, number> = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
}
const FACILITY_AUTHPRIV = 10

export function syslogLine(a: Alert, host = hostname()): string {
  const pri = FACILITY_AUTHPRIV * 8 + SEVERITY[a.priority]
  const sd = `[cordon@32473 rule="${escapeSd(a.rule)}" sandbox="${escapeSd(a.sandbox)}" priority="${a.priority}"]`
  return `<${pri}>1 ${a.time} ${host} cordon ${process.pid} alert ${sd} ${escapeControl(a.output)}`
}
const escapeSd = (s: string) => escapeControl(s).replace(/["\\\]]/g, '\\$&')

/** Datagrams waiting for the UDP socket beyond this are dropped and counted. */
const MAX_UDP_PENDING = 1000
/** A logger that died is started again at most this often; alerts in between are dropped. */
const LOGGER_RESTART_MS = 1000

export class SyslogSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly pending = new Set<Promise<void>>()
  private udp: ReturnType<typeof createSocket> | undefined
  private logger: ChildProcess | undefined
  private loggerExited: Promise<void> | undefined
  private lastStart = -Infinity
  /** How many logger processes this sink started (one, unless logger died): for tests. */
  started = 0
  /** target: undefined for the local syslog socket (/dev/log, or socketPath), or host:port for UDP. */
  constructor(
    private readonly target?: { host: string; port: number },
    private readonly socketPath?: string,
  ) {
    this.name = target
      ? `syslog:${target.host}:${target.port}`
      : socketPath
        ? `syslog:unix:${socketPath}`
        : 'syslog'
  }
  send(a: Alert): void {
    if (this.target) this.sendUdp(a, this.target)
    else this.sendLocal(a)
  }
  private sendUdp(a: Alert, target: { host: string; port: number }): void {
    if (this.pending.size >= MAX_UDP_PENDING) {
      this.stats.dropped++
      return
    }
    this.udp ??= createSocket(target.host.includes(':') ? 'udp6' : 'udp4')
    this.udp.unref()
    const sent = new Promise<void>((resolve) =>
      this.udp!.send(syslogLine(a), target.port, target.host, (err) => {
        if (err) this.stats.failed++
        else this.stats.sent++
        resolve()
      }),
    )
    this.pending.add(sent)
    void sent.finally(() => this.pending.delete(sent))
  }
  /**
   * Node has no unix datagram sockets, so /dev/log is reached through one logger(1) for the
   * whole session, fed one line per alert on its stdin; `--prio-prefix` carries each alert's
   * severity. Lines are escaped, so an alert is always exactly one syslog message.
   */
  private sendLocal(a: Alert): void {
    const stdin = this.loggerStdin()
    if (!stdin || stdin.writableLength > MAX_PENDING_BYTES) {
      this.stats.dropped++
      return
    }
    stdin.write(`<${FACILITY_AUTHPRIV * 8 + SEVERITY[a.priority]}>${alertText(a)}\n`)
    this.stats.sent++
  }
  private loggerStdin(): Writable | undefined {
    const running = this.logger && this.logger.exitCode === null && this.logger.signalCode === null
    if (running && this.logger!.stdin?.writable) return this.logger!.stdin
    const now = performance.now()
    if (now - this.lastStart < LOGGER_RESTART_MS) return undefined
    this.lastStart = now
    const args = ['--prio-prefix', '--rfc5424=notq', '-t', 'cordon', '-p', 'authpriv.notice']
    if (this.socketPath) args.push('--socket', this.socketPath)
    const child = spawn('logger', args, { stdio: ['pipe', 'ignore', 'ignore'] })
    this.started++
    this.logger = child
    child.stdin.on('error', () => {}) // a dead logger: its exit counts the failure
    this.loggerExited = new Promise((resolve) => {
      child.once('error', () => {
        this.stats.failed++
        resolve()
      })
      child.once('exit', (code) => {
        if (code !== 0) this.stats.failed++
        resolve()
      })
    })
    return child.stdin
  }
  async close(): Promise<void> {
    await Promise.all(this.pending)
    this.udp?.close()
    if (this.logger) {
      this.logger.stdin?.end()
      const killer = setTimeout(() => this.logger?.kill('SIGKILL'), 5000)
      await this.loggerExited
      clearTimeout(killer)
    }
  }
}

/** Where `--alert json` lines go: the events channel in `cordon run`, stdout in `cordon monitor`. */
export interface SinkContext {
  json?: LineWriter & { dropped?: number }
}

/**
 * `--alert` values: stderr, json (JSON lines on the events channel), file:PATH, webhook:URL,
 * syslog (local), syslog:HOST:PORT (UDP), syslog:unix:PATH (a socket, via logger).
 */
export function parseSink(spec: string, context: SinkContext = {}): AlertSink {
  if (spec === 'stderr') return new StreamSink('stderr', process.stderr)
  if (spec === 'json') {
    if (!context.json)
      throw new CordonError(
        'invalid_usage',
        "--alert json: JSON alerts go to the events channel, never into the program's stdout or stderr: add --events FILE or --events-fd N",
      )
    return new JsonSink(context.json)
  }
  if (spec === 'syslog') return new SyslogSink()
  const colon = spec.indexOf(':')
  const kind = colon < 0 ? spec : spec.slice(0, colon)
  const rest = colon < 0 ? '' : spec.slice(colon + 1)
  if (kind === 'file' && rest) return new FileSink(rest)
  if (kind === 'webhook' && /^https?:\/\//.test(rest)) return new WebhookSink(rest)
  if (kind === 'syslog' && rest.startsWith('unix:')) return new SyslogSink(undefined, rest.slice(5))
  if (kind === 'syslog') {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(rest)
    if (m) return new SyslogSink({ host: m[1]!, port: Number(m[2]) })
  }
  throw new CordonError(
    'invalid_usage',
    `--alert ${spec}: expected stderr, json, file:PATH, webhook:http(s)://URL, syslog, syslog:HOST:PORT or syslog:unix:PATH`,
  )
}
