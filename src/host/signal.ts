// Signals to processes named by identity (pid and start time), never by a bare pid. A pid names
// a process only until it is reaped; then the kernel hands it to the next one, and Node's
// process.kill, which has no pidfd_send_signal, would signal whoever holds it. cordon-exec
// --signal pins each pid with a pidfd, checks its start time, then signals through the pidfd
// (native/tree.h), so a sweep over /proc or cgroup.procs never hits a process it did not mean.
import { constants } from 'node:os'
import { launcherPath } from './launcher.js'
import { processStartTime } from './process.js'
import { childProcess } from '../builtin.js'

/** One process for good: its pid and field 22 of /proc/PID/stat. */
export interface ProcessId {
  pid: number
  startTime: number
}

/** The identities of pids as they are now; pids that have ended are dropped. */
export function identify(pids: Iterable<number>): ProcessId[] {
  const out: ProcessId[] = []
  for (const pid of pids) {
    const startTime = processStartTime(pid)
    if (startTime !== undefined) out.push({ pid, startTime })
  }
  return out
}

// Well under ARG_MAX: each target is at most ~30 bytes.
const BATCH = 4096

/** Sends signal to each target still started at its start time; returns how many got it. */
export function signalProcesses(targets: readonly ProcessId[], signal: NodeJS.Signals | number): number {
  const number = typeof signal === 'number' ? signal : constants.signals[signal]
  let helper: string | undefined
  try {
    helper = launcherPath()
  } catch {} // missing: checked kills below
  let sent = 0
  for (let i = 0; i < targets.length; i += BATCH) {
    const batch = targets.slice(i, i + BATCH)
    if (!helper) {
      sent += signalChecked(batch, number)
      continue
    }
    const r = childProcess().spawnSync(
      helper,
      ['--signal', String(number), ...batch.map((t) => `${t.pid}:${t.startTime}`)],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
    sent += r.status === 0 ? Number(r.stdout.trim()) || 0 : signalChecked(batch, number)
  }
  return sent
}

/** native/command.h FREEZE_SIGNAL: sent to the launcher (by cordon-exec --signal, queued with
 * FREEZE_REQUEST, which makes it a request and not a signal of the job's), which passes the
 * request to the sandbox's init down a pipe; init answers with kill(-1, SIGSTOP). */
export const FREEZE_SIGNAL = 62

/** When the helper cannot start (the caller is at its RLIMIT_NPROC, which a fork bomb in a
 * sandbox without a cgroup reaches): the start time is checked right before each kill, which
 * leaves a window of microseconds rather than the whole sweep. */
function signalChecked(targets: readonly ProcessId[], signal: number): number {
  // The freeze request is one only queued with its payload, which the helper sends: as a plain
  // signal from here the launcher passes it on to the command, which dies of it. Not sent: the
  // freeze's sweep stops the sandbox alone (run/process-tree.ts).
  if (signal === FREEZE_SIGNAL) return 0
  let sent = 0
  for (const t of targets)
    try {
      if (processStartTime(t.pid) !== t.startTime) continue
      process.kill(t.pid, signal)
      sent++
    } catch {} // ended meanwhile
  return sent
}
