// cordon monitor [ID...]: watch running sandboxes and act on them with the rules.
import { CordonError } from '../../errors.js'
import { type FSWatcher, watch } from 'node:fs'
import { find, list, openRegistry, stateDir } from '../../run/registry.js'
import { LineChannel } from '../../monitor/channel.js'
import { MONITOR_HELP, MONITOR_OPTIONS, openSession } from '../monitor-flags.js'
import { note, QUIET_HELP, QUIET_OPTION, warn } from '../output.js'
import { parseCommand } from '../args.js'
import { escapeControl } from '../../run/escape.js'

const HELP = `Usage: cordon monitor [options] [ID...]

Watches running sandboxes (all of this user's, or the IDs given; see cordon ps) and applies the
monitor rules to their events: freeze, kill, alert, log. Sandboxes started later are picked up
too. Syscall events come only from sandboxes started with --monitor, --rules or --watch.
Runs until interrupted, or until the given sandboxes have ended.

${MONITOR_HELP}
      --json             alerts as JSON lines on stdout (same as --alert json), each
                         {"event":"alert","alert":{…}}: cordon monitor runs no program, so its
                         stdout is its own; with --check, the report as JSON
      --check            load the rules, print what became of each (loaded, and what this
                         user's sandboxes cannot report to it: no cgroup, no exit status; or,
                         for a Falco rule, the fields cordon lacks), and exit: 0, or 2 for a
                         broken file
${QUIET_HELP}
  -h, --help             this help

State directory: ${stateDir()}
`

const POLL_MS = 500

/** What a sandbox started without --monitor does not send (it sends its cgroup's samples, OOM
 * kills, refused forks and its exit): no syscalls, no process execs and exits, no fork counts,
 * no audit denials. */
const UNMONITORED_LACKS = ['syscall', 'process', 'spawn', 'denied']

const unmonitored = (inert: string[]) =>
  ` (started without --monitor: it reports no syscalls, programs run or processes started${
    inert.length ? `, so ${inert.join(', ')} cannot fire on it` : ''
  })`

export async function monitorCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    { ...MONITOR_OPTIONS, json: { type: 'boolean' }, check: { type: 'boolean' }, ...QUIET_OPTION },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  if (values.check) return checkRules(values)
  for (const id of positionals)
    if (!find(id))
      throw new CordonError(
        'not_found',
        `no running sandbox with id ${id}; see cordon ps (each user sees only their own)`,
      )
  const asked = [...(values.alert ?? []), ...(values.json ? ['json'] : [])]
  const alert = asked.length ? asked : ['stderr'] // stdout only when asked for
  const stdout = new LineChannel('stdout', 1, { close: false })
  const session = await openSession({ ...values, alert }, { channel: stdout, human: true })
  const wanted = (id: string) => positionals.length === 0 || positionals.some((p) => id.startsWith(p))
  let seenAny = false
  const unwatchable = new Set<string>()
  /** Attaches to the wanted sandboxes not watched yet; whether any wanted one is listed. */
  const scan = (): boolean => {
    let listed = false
    for (const record of list()) {
      if (!wanted(record.id)) continue
      listed = true
      if (session.attached.includes(record.id)) continue
      if (!record.events && !unwatchable.has(record.id)) {
        unwatchable.add(record.id)
        if (positionals.length)
          note(
            `sandbox ${record.id} publishes no events (its socket could not be made): nothing of it can be watched`,
          )
      }
      if (session.attachRecord(record)) {
        seenAny = true
        // Said for one that reports none: "watching" and then silence read as nothing to see
        // (helper-138: the default exec and shell rules never fired on such a sandbox).
        note(
          `watching sandbox ${record.id}: ${record.command.join(' ')}${
            record.watch
              ? ` (reports ${record.watch.length} syscalls)`
              : unmonitored(session.monitor.rulesOnlyOn(UNMONITORED_LACKS))
          }`,
        )
      }
    }
    return listed
  }
  scan()
  // A record is renamed into place as its sandbox starts: seen at once, a run shorter than the
  // poll's interval is attached to too (helper-155: a 0.3 s run was never picked up). The poll
  // stays for a host where the directory cannot be watched.
  const dir = openRegistry()
  let watcher: FSWatcher | undefined
  try {
    watcher = dir
      ? watch(dir, (_, name) => {
          if (typeof name === 'string' && name.endsWith('.json')) scan()
        })
      : undefined
    watcher?.on('error', () => watcher?.close())
  } catch {}
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const listed = scan()
      // The sandboxes asked for are all gone: ended after being watched, or before they could be
      // (a run that ends while this starts: CI69 waited for it for good).
      if (positionals.length && session.attached.length === 0 && (seenAny || !listed)) stop()
    }, POLL_MS)
    const stop = () => {
      clearInterval(timer)
      watcher?.close()
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await session.close()
  await stdout.close()
  return 0
}

/** --check: the rules as they load, rule by rule, without watching anything. */
async function checkRules(values: {
  rules?: string[] | undefined
  'no-default-rules'?: boolean | undefined
  json?: boolean | undefined
}): Promise<number> {
  const { DEFAULT_RULES_FILE, loadRules } = await import('../../monitor/rules.js')
  const { inertHere, reportLines } = await import('../../monitor/rules-report.js')
  const { cgroupAccess } = await import('../../cgroup/select.js')
  const { probeKernel } = await import('../../host/probe.js')
  const probe = probeKernel()
  const reach = {
    cgroup: cgroupAccess(),
    exitStatus: probe.procConnector !== false,
    audit: probe.uid === 0 && Boolean(probe.audit.enabled),
  }
  const files = [...(values['no-default-rules'] ? [] : [DEFAULT_RULES_FILE]), ...(values.rules ?? [])]
  let set
  try {
    set = loadRules(files)
  } catch (e) {
    if (e instanceof CordonError && e.code === 'invalid_rules') {
      // One line each: warn() escapes newlines, and a condition error points with a caret.
      for (const line of e.message.split('\n')) warn(line)
      return 2
    }
    throw e
  }
  if (values.json) {
    const falco = new Set(set.report.map((r) => r.rule))
    const own = set.rules
      .filter((r) => !falco.has(r.name))
      .map((r) => {
        const inert = inertHere(r, reach)
        return {
          rule: r.name,
          source: r.source,
          status: 'loaded',
          missing: [],
          outputMissing: [],
          ...(inert ? { inert } : {}),
        }
      })
    process.stdout.write(
      `${JSON.stringify({ version: 1, notes: set.notes, rules: [...own, ...set.report] })}\n`,
    )
  } else
    process.stdout.write(
      reportLines(set, reach)
        .map((l) => `${escapeControl(l)}\n`)
        .join(''),
    )
  return 0
}
