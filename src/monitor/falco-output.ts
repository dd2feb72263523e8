// Alerts in Falco's JSON shape (what `falco -o json_output=true` prints and falcosidekick and
// Falco pipelines read): output, priority, rule, time, output_fields, hostname, tags, source.
import { hostname } from 'node:os'
import type { Alert } from './engine.js'
import type { Priority } from './rules.js'

export type AlertFormat = 'cordon' | 'falco'
export const ALERT_FORMATS: readonly AlertFormat[] = ['cordon', 'falco']

/** Falco's spelling of each priority. */
const FALCO_PRIORITY: Record<Priority, string> = {
  emergency: 'Emergency',
  alert: 'Alert',
  critical: 'Critical',
  error: 'Error',
  warning: 'Warning',
  notice: 'Notice',
  info: 'Informational',
  debug: 'Debug',
}

export interface FalcoAlert {
  output: string
  priority: string
  rule: string
  time: string
  output_fields: Record<string, unknown>
  hostname: string
  tags: string[]
  source: 'syscall'
}

/** Falco's `output` starts with the time of day and the priority: `12:01:02.123456789: Warning …`. */
export function falcoAlert(a: Alert, host = hostname()): FalcoAlert {
  const time = new Date(a.time)
  const clock = `${time.toISOString().slice(11, 23)}000000`
  const priority = FALCO_PRIORITY[a.priority]
  return {
    output: `${clock}: ${priority} ${a.output}${a.suppressed ? ` (+${a.suppressed} suppressed)` : ''}`,
    priority,
    rule: a.rule,
    time: a.time,
    // The sandbox is the container: falcosidekick's templates and routes read container.id.
    output_fields: { 'container.id': a.sandbox, 'container.name': a.sandbox, ...(a.fields ?? {}) },
    hostname: host,
    tags: a.tags ?? [],
    source: 'syscall',
  }
}

/** An alert as the chosen format's JSON object. */
export const shapeAlert = (a: Alert, format: AlertFormat = 'cordon'): object =>
  format === 'falco' ? falcoAlert(a) : a
