// Where alerts go: stderr (a line a person reads, or JSON lines), a file (JSON lines), an HTTP
// webhook (POST JSON, retried with backoff from a bounded queue) and syslog (the local socket
// through logger(1), or RFC 5424 over UDP). No sink ever blocks the monitor: each send() only
// queues, so a slow or dead receiver cannot delay a freeze.
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createWriteStream, type WriteStream } from 'node:fs'
import { hostname } from 'node:os'
import { CordonError } from '../errors.js'
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

export class StreamSink implements AlertSink {
  readonly stats = newStats()
  constructor(
    readonly name: string,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly json: boolean,
  ) {}
  send(a: Alert): void {
    if (this.json) {
      this.out.write(`${JSON.stringify({ type: 'alert', ...a })}\n`)
    } else {
      const color = this.out.isTTY && !process.env.NO_COLOR ? COLORS[a.priority] : undefined
      const tag = `[${a.priority}]`
      this.out.write(
        `cordon: ${color ? `${color}${tag}\x1b[0m` : tag} ${a.rule} (sandbox ${a.sandbox}): ${a.output}\n`,
      )
    }
    this.stats.sent++
  }
  async close(): Promise<void> {}
}

export class FileSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly stream: WriteStream
  constructor(path: string) {
    this.name = `file:${path}`
    this.stream = createWriteStream(path, { flags: 'a', mode: 0o600 })
    this.stream.on('error', () => this.stats.failed++)
  }
  send(a: Alert): void {
    this.stream.write(`${JSON.stringify(a)}\n`)
    this.stats.sent++
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve))
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
    const body = JSON.stringify(a)
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
  const sd = `[cordon@32473 rule="${escapeSd(a.rule)}" sandbox="${a.sandbox}" priority="${a.priority}"]`
  return `<${pri}>1 ${a.time} ${host} cordon ${process.pid} alert ${sd} ${a.output}`
}
const escapeSd = (s: string) => s.replace(/["\\\]]/g, '\\$&')

export class SyslogSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly pending = new Set<Promise<void>>()
  private udp: ReturnType<typeof createSocket> | undefined
  /** target: undefined for the local syslog socket (/dev/log, through logger), or host:port for UDP. */
  constructor(
    private readonly target?: { host: string; port: number },
    private readonly socketPath?: string,
  ) {
    this.name = target ? `syslog:${target.host}:${target.port}` : 'syslog'
  }
  send(a: Alert): void {
    if (this.target) {
      this.udp ??= createSocket(this.target.host.includes(':') ? 'udp6' : 'udp4')
      this.udp.unref()
      this.track(
        new Promise((resolve) =>
          this.udp!.send(syslogLine(a), this.target!.port, this.target!.host, (err) => {
            if (err) this.stats.failed++
            else this.stats.sent++
            resolve()
          }),
        ),
      )
      return
    }
    const args = ['--rfc5424=notq', '-t', 'cordon', '-p', `authpriv.${SEVERITY[a.priority]}`]
    if (this.socketPath) args.push('--socket', this.socketPath)
    args.push('--', `${a.rule} (sandbox ${a.sandbox}): ${a.output}`)
    this.track(
      new Promise((resolve) => {
        const child = spawn('logger', args, { stdio: 'ignore' })
        child.on('error', () => {
          this.stats.failed++
          resolve()
        })
        child.on('exit', (code) => {
          if (code === 0) this.stats.sent++
          else this.stats.failed++
          resolve()
        })
      }),
    )
  }
  private track(p: Promise<void>): void {
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
  }
  async close(): Promise<void> {
    await Promise.all(this.pending)
    this.udp?.close()
  }
}

/**
 * `--alert` values: stderr, json (JSON lines on stdout), file:PATH, webhook:URL,
 * syslog (local), syslog:HOST:PORT (UDP), syslog:unix:PATH (a datagram socket, via logger).
 */
export function parseSink(spec: string): AlertSink {
  if (spec === 'stderr') return new StreamSink('stderr', process.stderr, false)
  if (spec === 'json') return new StreamSink('json', process.stdout, true)
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
