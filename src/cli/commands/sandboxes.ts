// cordon ps | freeze ID | thaw ID | kill ID: the running sandboxes of this user, from the
// registry in the caller's private state directory. Each action checks its record first
// (run/sandbox-control.ts): a stale or forged record gets an error, not a signal.
import { existsSync, readFileSync } from 'node:fs'
import { parseStrict } from '../args.js'
import { CordonError } from '../../errors.js'
import { FROZEN_BY_CGROUP, sandboxStopped } from '../../run/process-tree.js'
import { find, list, markKilled, type SandboxRecord, stateDir } from '../../run/registry.js'
import { controlSandbox } from '../../run/sandbox-control.js'
import { formatTable, note, QUIET_HELP, QUIET_OPTION, setQuiet } from '../output.js'
import { sizeWord } from '../../policy/schema.js'
import { escapeControl } from '../../run/escape.js'

function usage(r: SandboxRecord) {
  try {
    const cg = controlSandbox(r).cgroup
    if (!cg) return undefined
    return { ...cg.stats(), frozen: cg.frozen() }
  } catch {
    return undefined
  }
}

/** A duration as the flags take it, in its largest whole unit: `90s`, `2m`, `250ms`. */
function durationWord(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && Number.isInteger(ms / size)) return `${ms / size}${unit}`
  return `${ms}ms`
}

/** A record's limits in the words of the flags that set them (`--memory 50%`, `--timeout 20s`),
 * not the resolved policy's internal keys (`memoryPercent`, `timeoutMs`). A key this version
 * does not know (a newer cordon's record) is shown as it is. */
export function limitsWords(limits: Record<string, unknown>): string {
  const num = (v: unknown) => Number(v)
  const words: Record<string, (v: unknown) => string | undefined> = {
    memory: (v) =>
      limits.memoryPercent !== undefined
        ? `memory=${String(limits.memoryPercent)}% (${sizeWord(num(v))})`
        : `memory=${sizeWord(num(v))}`,
    memoryPercent: () => undefined, // said with memory
    swap: (v) => `swap=${sizeWord(num(v))}`,
    cpuWeight: (v) => `cpu-weight=${String(v)}`,
    ioWeight: (v) => `io-weight=${String(v)}`,
    timeoutMs: (v) => `timeout=${durationWord(num(v))}`,
  }
  return Object.entries(limits)
    .map(([k, v]) => (words[k] ? words[k](v) : `${k}=${String(v)}`))
    .filter((w) => w !== undefined)
    .join(', ')
}

/** RLIMIT_NPROC as the sandbox's processes hold it (the lowest `Max processes` in
 * /proc/PID/limits among the launcher's descendants, a few levels down: its init sets it before
 * the command's exec); undefined when none could be read, {} when none is limited. */
export function sandboxRlimits(launcher: number): { nproc?: number } | undefined {
  const children = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)
    } catch {
      return []
    }
  }
  let level = children(launcher)
  let nproc: number | undefined
  let read = false
  for (let depth = 0; depth < 3 && level.length; depth++) {
    for (const pid of level) {
      const n = maxProcesses(pid)
      if (n !== undefined) nproc = Math.min(nproc ?? Infinity, n)
      if (existsSync(`/proc/${pid}/limits`)) read = true
    }
    level = level.slice(0, 8).flatMap((p) => children(Number(p)))
  }
  if (!read) return undefined
  // The user's own limit (what every process of theirs has) is no limit of the sandbox's.
  return nproc !== undefined && nproc < (maxProcesses('self') ?? Infinity) ? { nproc } : {}
}

function maxProcesses(pid: string): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max processes'))
    const soft = line?.slice('Max processes'.length).trim().split(/\s+/)[0]
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined
  } catch {
    return undefined
  }
}

export async function psCommand(argv: string[]): Promise<number> {
  const { values } = parseStrict({
    args: argv,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) {
    process.stdout.write(
      `Usage: cordon ps [--json]\n\nLists running sandboxes (registered in ${stateDir()}) with their state, usage and limits.\n\n` +
        '      --json             {"version":1,"sandboxes":[…]}, limits in bytes and ms\n' +
        '  -h, --help             this help\n',
    )
    return 0
  }
  const rows = list().map((r) => {
    const u = usage(r)
    // Without a cgroup, `cordon freeze` stops the processes with SIGSTOP: say so, not `running`.
    const state = u
      ? u.frozen
        ? 'frozen'
        : 'running'
      : sandboxStopped({ pid: r.pid, startTime: r.startTime })
        ? 'stopped'
        : 'running'
    // Without a cgroup (a plain user's run) a pids limit holds as RLIMIT_NPROC: read what the
    // sandbox's first process has, so the table shows what is enforced and how.
    const rlimits = r.limits ? undefined : sandboxRlimits(r.pid)
    return { ...r, state, usage: u, ...(rlimits ? { rlimits } : {}) }
  })
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ version: 1, sandboxes: rows }, null, 2)}\n`)
    return 0
  }
  // Sizes in binary units for people; --json keeps bytes.
  const table = [['ID', 'PID', 'STATE', 'MEMORY', 'PIDS', 'CPU(s)', 'LIMITS', 'COMMAND']]
  for (const r of rows) {
    const u = r.usage
    const limits = r.limits
      ? limitsWords(r.limits)
      : r.rlimits?.nproc !== undefined
        ? `pids=${r.rlimits.nproc} (RLIMIT_NPROC, per user in the sandbox)`
        : '-'
    table.push([
      r.id,
      String(r.pid),
      r.state,
      u ? sizeWord(u.memoryBytes) : '-',
      String(u?.pids ?? '-'),
      u ? (u.cpuUsageUsec / 1e6).toFixed(1) : '-',
      limits || '-',
      // Arguments can carry what a program chose (a learned command, a file name): no escape
      // sequence of theirs reaches the terminal.
      escapeControl(r.command.join(' ')),
    ])
  }
  process.stdout.write(`${formatTable(table).join('\n')}\n`)
  return 0
}

const VERBS = {
  freeze: `Stops every process of the sandbox: its cgroup's freezer, or SIGSTOP to each process
when it has no cgroup (its processes can notice that). A signal to the cordon run supervising a
frozen sandbox kills it. cordon thaw ID resumes it.`,
  thaw: 'Resumes a sandbox that cordon freeze (or a monitor rule) stopped.',
  kill: 'Kills every process of the sandbox (SIGKILL through its cgroup, or to each process).',
} as const

/** The sandbox an action names, or undefined after --help. */
function target(argv: string[], verb: keyof typeof VERBS): SandboxRecord | undefined {
  const { positionals, values } = parseStrict({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, ...QUIET_OPTION },
    allowPositionals: true,
  })
  setQuiet(values.quiet === true)
  if (values.help) {
    process.stdout.write(
      `Usage: cordon ${verb} [-q] ID\n\n${VERBS[verb]}\nID is a sandbox id from cordon ps, or a unique prefix of one.\n\n${QUIET_HELP}\n  -h, --help             this help\n`,
    )
    return undefined
  }
  if (positionals.length !== 1)
    throw new CordonError('invalid_usage', `usage: cordon ${verb} ID (see cordon ps for the ids)`)
  const id = positionals[0]!
  const record = find(id)
  if (record) return record
  // An id that names no sandbox is bad input (exit 2, README "Exit status"), not cordon failing.
  const matches = list().filter((r) => r.id.startsWith(id)).length
  throw new CordonError(
    'invalid_usage',
    matches > 1
      ? `id ${id} is the prefix of ${matches} running sandboxes; give more of it (see cordon ps for the ids)`
      : `no running sandbox with id ${id}; see cordon ps for the ids${OWN_LIST}`,
  )
}

/** Each user's sandboxes are listed where that user keeps them: root's `ps` shows not a plain
 * user's, and the other way round (helper-138: root's `kill` of a plain user's id said only "no
 * running sandbox"). */
const OWN_LIST = ' (each user sees only their own: a sandbox another user started is theirs to manage)'

export async function freezeCommand(argv: string[]): Promise<number> {
  const record = target(argv, 'freeze')
  if (!record) return 0
  const how = endedMeanwhile(record.id, 'frozen', () => controlSandbox(record).freeze())
  // Said, as the other verbs say theirs (helper-152: nothing at all read as nothing done).
  if (how && how !== FROZEN_BY_CGROUP)
    note(`sandbox ${record.id} has no cgroup: stopped with SIGSTOP (its processes can notice)`)
  else note(`froze sandbox ${record.id}; cordon thaw ${record.id} resumes it`)
  return 0
}

export async function thawCommand(argv: string[]): Promise<number> {
  const record = target(argv, 'thaw')
  if (!record) return 0
  endedMeanwhile(record.id, 'thawed', () => controlSandbox(record).thaw())
  note(`thawed sandbox ${record.id}`)
  return 0
}

/** The sandbox ended between finding it and acting on it, and its cgroup went with it: said as
 * such, not as the raw ENOENT of a cgroup file (as `cordon kill` already treats it). */
function endedMeanwhile<T>(id: string, done: string, act: () => T): T {
  try {
    return act()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    throw new CordonError('not_found', `sandbox ${id} ended before it could be ${done}`)
  }
}

export async function killCommand(argv: string[]): Promise<number> {
  const record = target(argv, 'kill')
  if (!record) return 0
  // Noted before the signal (its `cordon run` may end at once), dropped when refused.
  const unmark = markKilled(record, `cordon kill ${record.id}`)
  try {
    controlSandbox(record).kill()
  } catch (e) {
    unmark()
    throw e
  }
  note(`killed sandbox ${record.id}`)
  return 0
}
