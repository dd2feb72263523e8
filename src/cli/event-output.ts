// The events channel of `cordon run`: JSON lines (events, status, alerts, result) on a file or
// descriptor of the caller's, never on the program's stdout or stderr, where the program could
// print a forged `{"event":"exit","code":0}` first. Human lines stay on stderr, escaped.
import { CordonError } from '../errors.js'
import { checkEventsFd, LineChannel, MAX_PENDING_BYTES, openOwnFile } from '../monitor/channel.js'
import { jsonLine } from '../run/escape.js'
import { eventJson, type SandboxEvent } from '../run/events.js'
import { warn } from './output.js'

export const EVENT_OPTIONS = {
  events: { type: 'string' },
  'events-fd': { type: 'string' },
  json: { type: 'boolean' },
} as const

export const EVENT_HELP = `      --events FILE      events (started, denied, syscall, exit…), alerts and the result as
                         JSON lines in FILE: a file of yours (created 0600, truncated; a
                         symbolic link or another user's file is refused)
      --events-fd N      the same on descriptor N (3 or more), e.g. --events-fd 3 3>events.jsonl
      --json             machine output only: no cordon lines on stderr, JSON on the events
                         channel, which --json needs (--events or --events-fd): the program's
                         stdout and stderr are its own, and a line there could be forged`

export interface EventFlags {
  events?: string | undefined
  'events-fd'?: string | undefined
  json?: boolean | undefined
}

/** Where a run's machine-readable and human-readable output goes. */
export class EventOutput {
  private constructor(
    /** JSON lines, when --events or --events-fd was given. */
    readonly channel: LineChannel | undefined,
    /** cordon's own lines on stderr (escaped): unless --json. */
    readonly human: boolean,
  ) {}

  /** Opens the channel the flags name; --json without one is refused with what to pass. */
  static open(values: EventFlags, command = 'cordon run'): EventOutput {
    if (values.events !== undefined && values['events-fd'] !== undefined)
      throw new CordonError('invalid_usage', '--events and --events-fd: give one events channel, not both')
    if (values.json && values.events === undefined && values['events-fd'] === undefined)
      throw new CordonError(
        'invalid_usage',
        `--json needs an events channel of its own: add --events FILE, or --events-fd N with the descriptor open (e.g. \`${command} --json --events-fd 3 ... 3>events.jsonl\`); the program's stdout and stderr are its own, and a line there could be forged`,
      )
    const channel =
      values.events !== undefined
        ? new LineChannel(
            `events:${values.events}`,
            openOwnFile(values.events, '--events', { truncate: true }),
          )
        : values['events-fd'] !== undefined
          ? new LineChannel(`events-fd:${values['events-fd']}`, checkEventsFd(values['events-fd']))
          : undefined
    return new EventOutput(channel, values.json !== true)
  }

  /** One event of the sandbox, on the channel. */
  event(ev: SandboxEvent): void {
    this.channel?.write(eventJson(ev))
  }

  /** One of cordon's own records (status, result, audit), on the channel. */
  record(value: { event: string } & Record<string, unknown>): void {
    this.channel?.write(jsonLine(value))
  }

  /** Lines a slow reader of the channel made cordon drop (counted, reported at the end). */
  get dropped(): number {
    return this.channel?.dropped ?? 0
  }

  async close(): Promise<void> {
    await this.channel?.close()
    const failed = this.channel?.failed
    if (this.dropped)
      warn(
        `the events channel dropped ${this.dropped} lines: ${failed ? `writing failed (${failed})` : `its reader fell more than ${MAX_PENDING_BYTES / 2 ** 20} MiB behind`}`,
      )
  }
}
