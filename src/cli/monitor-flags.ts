// Flags shared by `cordon run` and `cordon monitor` to set up a monitor session.
import { CordonError } from '../errors.js'
import type { LineWriter } from '../monitor/channel.js'
import { ALERT_FORMATS, type AlertFormat } from '../monitor/falco-output.js'
import type { MonitorSession } from '../monitor/session.js'
import { parseDuration } from '../policy/resolve.js'
import { jsonLine } from '../run/escape.js'
import { unknownSyscallHint } from '../seccomp/arch.js'
import { note, warn } from './output.js'

export const MONITOR_OPTIONS = {
  rules: { type: 'string', multiple: true },
  'no-default-rules': { type: 'boolean' },
  alert: { type: 'string', multiple: true },
  'alert-format': { type: 'string' },
  metrics: { type: 'string' },
} as const

export const MONITOR_HELP = `      --rules FILE       rules file (YAML) on top of the default rules; repeatable;
                         edits apply to running sandboxes at once
      --no-default-rules
                         only the --rules files
      --alert DEST       where alerts go (repeatable, each once; giving any replaces the
                         default, stderr and the events channel when there is one; on run it
                         turns the monitor on): stderr, json (JSON lines on the events channel:
                         run's --events, monitor's stdout), file:PATH, webhook:URL, syslog,
                         syslog:HOST:PORT (UDP), syslog:tcp:HOST:PORT, syslog:unix:PATH. Each
                         rule alerts at most 20 times per 10 s per sandbox (its \`throttle\`);
                         the rest are counted and summarized
      --alert-format F   the JSON of json, file: and webhook: alerts: cordon (default) or
                         falco (Falco's output, priority, rule, time, output_fields, hostname,
                         tags, source: what falcosidekick reads)
      --metrics ADDR     serve Prometheus metrics at http://ADDR/metrics ([HOST]:PORT); an
                         ended sandbox's series stay 5 minutes, then go`

export interface MonitorFlags {
  rules?: string[] | undefined
  'no-default-rules'?: boolean | undefined
  alert?: string[] | undefined
  'alert-format'?: string | undefined
  metrics?: string | undefined
  'metrics-linger'?: string | undefined
}

/** Where a session's JSON alerts go (the events channel), and whether a person reads stderr. */
export interface AlertOutput {
  channel?: (LineWriter & { dropped?: number }) | undefined
  human: boolean
}

/** Without --alert: stderr for a person, and the JSON channel when there is one. */
export function defaultAlerts(values: MonitorFlags, out: AlertOutput): string[] {
  // The same destination twice would send each alert twice (helper-155).
  if (values.alert?.length) return [...new Set(values.alert)]
  return [...(out.human ? ['stderr'] : []), ...(out.channel ? ['json'] : [])]
}

export async function openSession(
  values: MonitorFlags,
  out: AlertOutput = { human: true },
): Promise<MonitorSession> {
  // Loaded only when a run is monitored: the rules engine and its dependencies stay off the
  // start-up path of a plain `cordon run`.
  const { MonitorSession } = await import('../monitor/session.js')
  const format = values['alert-format']
  if (format !== undefined && !ALERT_FORMATS.includes(format as AlertFormat))
    throw new CordonError('invalid_usage', `--alert-format ${format}: expected ${ALERT_FORMATS.join(' or ')}`)
  const session = await MonitorSession.open({
    ...(format ? { alertFormat: format as AlertFormat } : {}),
    rules: values.rules ?? [],
    defaultRules: !values['no-default-rules'],
    alerts: defaultAlerts(values, out),
    ...(out.channel ? { json: out.channel } : {}),
    ...(values.metrics !== undefined ? { metrics: values.metrics } : {}),
    // With --json, cordon's own lines are events on the channel, never stderr: a sink's
    // failure and its count too (helper-155).
    log: out.human || !out.channel ? warn : warningOn(out.channel),
  })
  if (session.metricsPort !== undefined)
    note(
      `metrics at http://${values.metrics?.replace(/:\d+$/, '') || 'localhost'}:${session.metricsPort}/metrics`,
    )
  return session
}

/** A monitor notice as a warning event on a JSON channel. */
const warningOn =
  (channel: LineWriter) =>
  (message: string): void =>
    channel.write(jsonLine({ event: 'warning', step: 'monitor', message }))

/** --metrics-linger in milliseconds (0 when not given). */
export function metricsLinger(values: MonitorFlags): number {
  const text = values['metrics-linger']
  if (text === undefined) return 0
  const ms = parseDuration(text)
  if (!Number.isFinite(ms))
    throw new CordonError(
      'invalid_usage',
      `--metrics-linger ${text}: expected a duration such as 30s, 2m or 500ms`,
    )
  if (values.metrics === undefined)
    throw new CordonError('invalid_usage', '--metrics-linger needs --metrics ADDR (what would it serve?)')
  return ms
}

/** --watch values: comma-separated syscall names, checked against the tables. */
export function syscallList(values: readonly string[] | undefined): string[] {
  const names = (values ?? [])
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  for (const name of names) {
    const hint = unknownSyscallHint(name)
    if (hint !== undefined)
      throw new CordonError('invalid_usage', `--watch: unknown syscall \`${name}\`${hint}`)
  }
  return names
}
