// Where alerts go: stderr (a line a person reads), the events channel (JSON lines on the
// caller's --events file or descriptor, never the program's stdout), a file (JSON lines), an
// HTTP webhook (POST JSON, retried with backoff from a bounded queue) and syslog (one long-lived
// logger(1) fed on its stdin, or RFC 5424 over UDP or TCP with RFC 6587 framing). No sink ever blocks the monitor or holds
// unbounded memory: each send() only queues, up to a bound, and counts what it drops. Every
// human-readable line goes through escapeControl and every JSON line through jsonLine, so no
// byte the sandbox controls can end a line, forge one, or drive a terminal.
import type { ChildProcess } from 'node:child_process'
import type { Socket as UdpSocket } from 'node:dgram'
import { statSync } from 'node:fs'
import type { Socket } from 'node:net'
import { hostname } from 'node:os'
import type { Writable } from 'node:stream'
// The sinks' Node modules load when a sink first needs them: node:net (for tty and tcp),
// node:dgram and node:child_process cost a monitored run ~5 ms of CPU before its sandbox
// started, for alerts most runs never send anywhere but stderr.
import { builtin, childProcess, net } from '../builtin.js'
import { CordonError, suggest } from '../errors.js'
import { writeStderr } from '../host/stderr.js'
import { fsPath, hasEscapedBytes } from '../host/path-bytes.js'
import { escapeControl, jsonLine } from '../run/escape.js'
import { LineChannel, type LineWriter, MAX_PENDING_BYTES, openOwnFile } from './channel.js'
import type { Alert } from './engine.js'
import { type AlertFormat, shapeAlert } from './falco-output.js'
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
  /** Gives up on what is still queued or in flight (counted as failed): close() ends at once. */
  hurry?(): void
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
  // The throttle's own summary says the count in its text already (helper-155: said twice).
  const held = a.suppressed && a.event.event !== 'suppressed' ? ` (+${a.suppressed} suppressed)` : ''
  return escapeControl(`${a.rule} (sandbox ${a.sandbox}): ${a.output}${held}`)
}

/** An alert as a line of the events channel: the same stream as the run's events. */
export function alertEventLine(a: Alert, format: AlertFormat = 'cordon'): string {
  return jsonLine({ event: 'alert', alert: shapeAlert(a, format) })
}

/** Human-readable lines on a stream (stderr). */
export class StreamSink implements AlertSink {
  readonly stats = newStats()
  constructor(
    readonly name: string,
    private readonly out: { write(text: string): unknown; isTTY?: boolean | undefined },
  ) {}
  send(a: Alert): void {
    const color = this.out.isTTY && !process.env.NO_COLOR ? COLORS[a.priority] : undefined
    const tag = `[${a.priority}]`
    this.out.write(`cordon: ${color ? `${color}${tag}\x1b[0m` : tag} ${alertText(a)}\n`)
    this.stats.sent++
  }
  async close(): Promise<void> {}
}

/** fd 2 as a StreamSink's output, without process.stderr (host/stderr.ts: building it would
 * make the program's stderr pipe non-blocking). */
/** fd 2 as an alert stream: whether it is a terminal is asked at the first alert. */
const stderrWriter = () => {
  let tty: boolean | undefined
  return {
    get isTTY() {
      return (tty ??= builtin('node:tty').isatty(2))
    },
    write: writeStderr,
  }
}

/** JSON lines on a channel the caller owns (`--alert json`: the --events file or descriptor). */
export class JsonSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  constructor(
    private readonly out: LineWriter & { dropped?: number },
    private readonly format: AlertFormat = 'cordon',
  ) {
    this.name = `json:${out.name}`
  }
  send(a: Alert): void {
    const before = this.out.dropped ?? 0
    this.out.write(alertEventLine(a, this.format))
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
  constructor(
    path: string,
    private readonly format: AlertFormat = 'cordon',
  ) {
    this.name = `file:${path}`
    this.channel = new LineChannel(this.name, openOwnFile(path, `--alert file:`, { truncate: false }))
  }
  send(a: Alert): void {
    const before = this.channel.dropped
    this.channel.write(jsonLine(shapeAlert(a, this.format)))
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
  /** Per request (default 5 s); also how long close() waits for what is still queued. */
  timeoutMs?: number
  /** Alerts waiting beyond this are dropped, oldest first, and counted (default 1000). */
  maxQueue?: number
}

/** A sink's first failure is reported, the rest only counted: a sink that drops every alert in
 * silence is worse than none, and one that reports each would flood the terminal. */
class FailureReport {
  private reported = false
  constructor(
    private readonly stats: SinkStats,
    private readonly name: string,
    private readonly report: (line: string) => void,
  ) {}
  /** One alert not delivered, for why. */
  fail(why: string): void {
    this.stats.failed++
    this.say(why)
  }
  /** A failure of the transport itself (a connection refused), said once, counted by the
   * alerts it fails: helper-155 saw 2 alerts lost of 1 sent. */
  say(why: string): void {
    if (this.reported) return
    this.reported = true
    this.report(
      `alerts to ${this.name} fail (${why}); further failures are only counted (cordon_alert_deliveries_total{outcome="failed"})`,
    )
  }
}

/** A webhook's address for messages. */
export function webhookShown(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`
  } catch {
    // Not a URL: shown up to where credentials or a query would begin.
    return url.replace(/^(https?:\/\/)[^/@]*@/, '$1').replace(/[?#].*$/, '?…')
  }
}

/** Why a fetch failed, in a few words: undici hides the socket's error behind `fetch failed`. */
const fetchFailure = (e: unknown): string => {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (err.name === 'TimeoutError') return 'no answer in time'
  // The fetch standard's blocked ports (SMTP, IRC, …): no request is ever made to them.
  if (err.cause?.message === 'bad port') return 'fetch() never sends to this port: give the receiver another'
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e)
}

export class WebhookSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly queue: Alert[] = []
  private running: Promise<void> | undefined
  private readonly opts: Required<WebhookOptions>
  private readonly failures: FailureReport
  /** The URL without credentials, which fetch() refuses in a URL: they go in a header. */
  private readonly target: string
  private readonly headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'cordon-monitor',
  }
  /** The last alert failed every attempt: the next are tried once each until one is taken, so
   * a receiver that is down does not hold the queue for the whole backoff of every alert. */
  private down = false
  /** Set by close(): what is in flight is abandoned, what is queued is counted as failed. */
  private readonly closing = new AbortController()
  constructor(
    url: string,
    options: WebhookOptions = {},
    private readonly format: AlertFormat = 'cordon',
    report: (line: string) => void = () => {},
  ) {
    // Shown in messages: without credentials or a query, which often carry a token.
    this.name = `webhook:${webhookShown(url)}`
    const u = new URL(url)
    if (u.username || u.password) {
      // As curl does with user:password@ in a URL: HTTP Basic authentication.
      const user = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
      this.headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`
      u.username = u.password = ''
    }
    this.target = u.href
    this.opts = { attempts: 5, backoffMs: 250, timeoutMs: 5000, maxQueue: 1000, ...options }
    this.failures = new FailureReport(this.stats, this.name, report)
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
    const body = jsonLine(shapeAlert(a, this.format))
    const attempts = this.down ? 1 : this.opts.attempts
    let why = ''
    for (let attempt = 1; attempt <= attempts && !this.closing.signal.aborted; attempt++) {
      const request = this.deadline()
      try {
        const res = await fetch(this.target, {
          method: 'POST',
          headers: this.headers,
          body,
          signal: request.signal,
        })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) {
          this.stats.sent++
          this.down = false
          return
        }
        why = `HTTP ${res.status}`
        if (res.status < 500 && res.status !== 429) break // the receiver refuses it: retrying will not help
      } catch (e) {
        why = this.closing.signal.aborted ? 'the run ended before it was delivered' : fetchFailure(e)
      } finally {
        request.done()
      }
      if (attempt < attempts) await this.pause(this.opts.backoffMs * 2 ** (attempt - 1))
    }
    this.down = true
    this.failures.fail(why || 'the run ended before it was delivered')
  }
  /** One request's signal: aborted after the timeout, or by close(). Not AbortSignal.any over
   * AbortSignal.timeout: Node 20 lets the garbage collector take the timeout's signal while the
   * request waits, and a receiver that never answers then held the sink for good (CI68: the
   * first alert's request never timed out under a loaded test run). */
  private deadline(ms = this.opts.timeoutMs): { signal: AbortSignal; done: () => void } {
    const request = new AbortController()
    const timer = setTimeout(() => request.abort(new DOMException('no answer in time', 'TimeoutError')), ms)
    const closed = () => request.abort(this.closing.signal.reason)
    if (this.closing.signal.aborted) closed()
    else this.closing.signal.addEventListener('abort', closed, { once: true })
    return {
      signal: request.signal,
      done: () => {
        clearTimeout(timer)
        this.closing.signal.removeEventListener('abort', closed)
      },
    }
  }
  /** A backoff that close() cuts short. */
  private pause(ms: number): Promise<void> {
    // A deadline, so that its listener on close() goes when it ends: one added per backoff and
    // never removed piled up past Node's warning of a leak.
    const wait = this.deadline(ms)
    return new Promise((resolve) => {
      const end = () => (wait.done(), resolve())
      if (wait.signal.aborted) end()
      else wait.signal.addEventListener('abort', end, { once: true })
    })
  }
  hurry(): void {
    this.closing.abort()
  }
  /** Waits for the queue at most one request's timeout: a receiver that is down must not hold
   * the end of the run for the retries of every alert. What is left then is counted as failed. */
  async close(): Promise<void> {
    const running = this.running
    if (!running) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.timeoutMs)
      this.closing.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await Promise.race([running, late])
    clearTimeout(timer)
    this.closing.abort()
    const left = this.queue.length
    this.queue.length = 0
    await running
    for (let i = 0; i < left; i++) this.failures.fail('the run ended before it was delivered')
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

/**
 * One RFC 5424 message for every transport: `<PRI>1 TIMESTAMP HOST cordon PID alert - MSG`.
 * No structured data: an SD-ID needs an IANA private enterprise number, which cordon does not
 * have (32473 is reserved for documentation, RFC 5612), and the priority is already in PRI.
 * MSG is the escaped alert text, so one alert is always exactly one message.
 */
export function syslogLine(a: Alert, host = hostname()): string {
  return `<${syslogPri(a)}>1 ${a.time} ${host} cordon ${process.pid} alert - ${alertText(a)}`
}
const syslogPri = (a: Alert) => FACILITY_AUTHPRIV * 8 + SEVERITY[a.priority]

/** Datagrams waiting for the UDP socket, or bytes for the TCP one, beyond this are dropped. */
const MAX_UDP_PENDING = 1000
/** A logger that died, or a TCP collector that hung up, is tried again at most this often;
 * alerts in between are dropped and counted. */
const RECONNECT_MS = 1000

type SyslogTarget =
  { transport: 'local'; socket: string } | { transport: 'udp' | 'tcp'; host: string; port: number }

export class SyslogSink implements AlertSink {
  readonly stats = newStats()
  readonly name: string
  private readonly pending = new Set<Promise<void>>()
  private udp: UdpSocket | undefined
  private tcp: Socket | undefined
  private logger: ChildProcess | undefined
  private loggerExited: Promise<void> | undefined
  private lastStart = -Infinity
  private readonly failures: FailureReport
  /** How many logger processes this sink started (one, unless logger died): for tests. */
  started = 0
  constructor(
    private readonly target: SyslogTarget,
    report: (line: string) => void = () => {},
  ) {
    this.name =
      target.transport === 'local'
        ? target.socket === DEV_LOG
          ? 'syslog'
          : `syslog:unix:${target.socket}`
        : `syslog:${target.transport}:${target.host}:${target.port}`
    this.failures = new FailureReport(this.stats, this.name, report)
  }
  send(a: Alert): void {
    const t = this.target
    if (t.transport === 'local') this.sendLocal(a, t.socket)
    else if (t.transport === 'udp') this.sendUdp(a, t)
    else this.sendTcp(a, t)
  }
  private fail(why: string): void {
    this.failures.fail(why)
  }
  private sendUdp(a: Alert, target: { host: string; port: number }): void {
    if (this.pending.size >= MAX_UDP_PENDING) {
      this.stats.dropped++
      return
    }
    this.udp ??= builtin('node:dgram').createSocket(net().isIP(target.host) === 6 ? 'udp6' : 'udp4')
    this.udp.unref()
    const sent = new Promise<void>((resolve) =>
      this.udp!.send(syslogLine(a), target.port, target.host, (err) => {
        if (err) this.fail(err.message)
        else this.stats.sent++
        resolve()
      }),
    )
    this.pending.add(sent)
    void sent.finally(() => this.pending.delete(sent))
  }
  /** RFC 6587 octet counting over one long-lived connection: `LEN SP MSG`, so a message may
   * hold any byte and still be exactly one message for the collector. */
  private sendTcp(a: Alert, target: { host: string; port: number }): void {
    const socket = this.tcpSocket(target)
    if (!socket || socket.writableLength > MAX_PENDING_BYTES) {
      this.stats.dropped++
      return
    }
    const msg = Buffer.from(syslogLine(a))
    const sent = new Promise<void>((resolve) =>
      socket.write(Buffer.concat([Buffer.from(`${msg.length} `), msg]), (err) => {
        if (err) this.fail(err.message)
        else this.stats.sent++
        resolve()
      }),
    )
    this.pending.add(sent)
    void sent.finally(() => this.pending.delete(sent))
  }
  private tcpSocket(target: { host: string; port: number }): Socket | undefined {
    if (this.tcp && !this.tcp.destroyed) return this.tcp
    const now = performance.now()
    if (now - this.lastStart < RECONNECT_MS) return undefined
    this.lastStart = now
    const socket = net().connect({ host: target.host, port: target.port })
    socket.unref()
    socket.on('error', (e) => this.failures.say(e.message))
    // A collector does not talk back; what it sends is ignored rather than buffered.
    socket.on('data', () => {})
    this.tcp = socket
    return socket
  }
  /**
   * Node has no unix datagram sockets, so /dev/log is reached through one logger(1) for the
   * whole session, fed one line per alert on its stdin; `--prio-prefix` carries each alert's
   * severity, and logger writes the same RFC 5424 header as syslogLine.
   */
  private sendLocal(a: Alert, socket: string): void {
    const stdin = this.loggerStdin(socket)
    if (!stdin || stdin.writableLength > MAX_PENDING_BYTES) {
      this.stats.dropped++
      return
    }
    stdin.write(`<${syslogPri(a)}>${alertText(a)}\n`)
    this.stats.sent++
  }
  private loggerStdin(socket: string): Writable | undefined {
    const running = this.logger && this.logger.exitCode === null && this.logger.signalCode === null
    if (running && this.logger!.stdin?.writable) return this.logger!.stdin
    const now = performance.now()
    if (now - this.lastStart < RECONNECT_MS) return undefined
    this.lastStart = now
    const args = [
      '--prio-prefix',
      '--rfc5424=notq',
      '--msgid=alert',
      `--id=${process.pid}`,
      '--socket-errors=on',
      '-t',
      'cordon',
      '-p',
      'authpriv.notice',
      '--socket',
      socket,
    ]
    const child = childProcess().spawn('logger', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    this.started++
    this.logger = child
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-500)))
    child.stdin.on('error', () => {}) // a dead logger: its exit counts the failure
    this.loggerExited = new Promise((resolve) => {
      child.once('error', (e) => {
        this.fail(`logger: ${e.message}`)
        resolve()
      })
      child.once('exit', (code) => {
        if (code !== 0) this.fail(`logger exited ${code}${stderr ? `: ${stderr.trim()}` : ''}`)
        resolve()
      })
    })
    return child.stdin
  }
  async close(): Promise<void> {
    await Promise.all(this.pending)
    this.udp?.close()
    this.tcp?.end()
    if (this.logger) {
      this.logger.stdin?.end()
      const killer = setTimeout(() => this.logger?.kill('SIGKILL'), 5000)
      await this.loggerExited
      clearTimeout(killer)
    }
  }
}

const DEV_LOG = '/dev/log'

/** A local syslog socket that is not there drops every alert: refuse it up front. */
function localSyslog(spec: string, socket: string): SyslogTarget {
  // logger(1) gets the path as an argument, which a string cannot carry byte for byte.
  if (hasEscapedBytes(socket))
    throw new CordonError(
      'invalid_usage',
      `--alert ${spec}: the socket's path is not UTF-8, which cordon cannot hand to logger(1) as it is; use a UTF-8 path`,
    )
  let isSocket = false
  try {
    isSocket = statSync(fsPath(socket)).isSocket()
  } catch {}
  if (!isSocket)
    throw new CordonError(
      'invalid_usage',
      `--alert ${spec}: ${socket} is not a socket, so no syslog daemon would receive the alerts; ` +
        'start one (rsyslog, systemd-journald), name its socket with syslog:unix:PATH, or send to a ' +
        'collector with syslog:HOST:PORT (UDP) or syslog:tcp:HOST:PORT',
    )
  return { transport: 'local', socket }
}

/** Where `--alert json` lines go: the events channel in `cordon run`, stdout in `cordon monitor`. */
export interface SinkContext {
  json?: LineWriter & { dropped?: number }
  /** Where a sink reports that it fails (the session's notices). */
  log?: (line: string) => void
  /** The JSON shape of json, file: and webhook: alerts (--alert-format). */
  format?: AlertFormat
}

/**
 * `--alert` values: stderr, json (JSON lines on the events channel), file:PATH, webhook:URL,
 * syslog (local), syslog:HOST:PORT (UDP), syslog:unix:PATH (a socket, via logger).
 */
export function parseSink(spec: string, context: SinkContext = {}): AlertSink {
  if (spec === 'stderr') return new StreamSink('stderr', stderrWriter())
  if (spec === 'json') {
    if (!context.json)
      throw new CordonError(
        'invalid_usage',
        "--alert json: JSON alerts go to the events channel, never into the program's stdout or stderr: add --events FILE or --events-fd N",
      )
    return new JsonSink(context.json, context.format)
  }
  if (spec === 'syslog') return new SyslogSink(localSyslog(spec, DEV_LOG), context.log)
  const colon = spec.indexOf(':')
  const kind = colon < 0 ? spec : spec.slice(0, colon)
  const rest = colon < 0 ? '' : spec.slice(colon + 1)
  if (kind === 'file' && rest) return new FileSink(rest, context.format)
  if (kind === 'webhook' && /^https?:\/\//.test(rest)) {
    if (!URL.canParse(rest))
      throw new CordonError(
        'invalid_usage',
        `--alert webhook:${webhookShown(rest)}: not a valid URL; write it as http(s)://HOST[:PORT]/PATH`,
      )
    return new WebhookSink(rest, {}, context.format, context.log)
  }
  if (kind === 'syslog' && rest.startsWith('unix:'))
    return new SyslogSink(localSyslog(spec, rest.slice(5)), context.log)
  if (kind === 'syslog') {
    const m = /^(?:(udp|tcp):)?\[?([^\]]+?)\]?:(\d+)$/.exec(rest)
    if (m) {
      const transport = (m[1] ?? 'udp') as 'udp' | 'tcp'
      return new SyslogSink({ transport, host: m[2]!, port: Number(m[3]) }, context.log)
    }
  }
  // Said of the part that is wrong (helper-155: webhook:notaurl and webhok:… got the same list).
  // A URL (a mistyped webhook:) is shown without credentials or query, which carry tokens.
  const shown =
    /^https?:\/\//.test(rest) || kind === 'webhook'
      ? `${escapeControl(kind)}:${webhookShown(rest)}`
      : escapeControl(spec)
  const why =
    kind === 'webhook'
      ? 'a webhook is an http:// or https:// URL, as in webhook:https://hooks.example/cordon'
      : kind === 'file'
        ? 'file: needs a path, as in file:alerts.jsonl'
        : kind === 'syslog'
          ? 'syslog takes HOST:PORT (UDP), tcp:HOST:PORT or unix:PATH'
          : `unknown destination \`${escapeControl(kind)}\`${suggestKind(kind)}`
  throw new CordonError(
    'invalid_usage',
    `--alert ${shown}: ${why}; expected stderr, json, file:PATH, webhook:http(s)://URL, syslog, syslog:HOST:PORT (UDP), syslog:tcp:HOST:PORT or syslog:unix:PATH`,
  )
}

const suggestKind = (kind: string): string => {
  const near = suggest(kind, ['stderr', 'json', 'file', 'webhook', 'syslog'])
  return near ? ` (did you mean ${near}?)` : ''
}
