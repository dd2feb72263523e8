// Freeze, thaw and kill a sandbox through its registry record (cordon freeze|thaw|kill, cordon
// monitor). Each action checks, right before it signals, that the record's pid is still the
// launcher that registered (start time, boot, owner, executable): a forged record or one whose
// pid was reused cannot redirect a signal. The signal itself goes through a pidfd checked
// against the record's start time (host/signal.ts), and so does every signal of a sweep over
// the launcher's descendants, so no pid that ended meanwhile is hit; the cgroup record is tied
// to the launcher that made it.
import { lstatSync } from 'node:fs'
import { basename, posix } from 'node:path'
import type { Cgroup } from '../cgroup/driver.js'
import { openCgroup } from '../cgroup/select.js'
import { CordonError } from '../errors.js'
import { type ProcessId, signalProcesses } from '../host/signal.js'
import { freezeSandbox, killFrozen, thawSandbox } from './process-tree.js'
import { checkRecord, type SandboxRecord } from './registry.js'
import { callerUid } from './state-dir.js'

export interface SandboxControl {
  readonly cgroup: Cgroup | undefined
  /** Stops every process (cgroup freezer, else SIGSTOP to each); returns how, or undefined. */
  freeze(): string | undefined
  thaw(): void
  /** Empties the cgroup and ends the launcher (SIGTERM with a cgroup, else SIGKILL). */
  kill(signal?: NodeJS.Signals): void
}

/** Refuses (CordonError) unless the record's process is still its launcher. */
function ensureLauncher(record: SandboxRecord): number {
  const check = checkRecord(record)
  if (!check.ok)
    throw new CordonError('not_found', `refusing to act on sandbox ${record.id}: ${check.why}; see cordon ps`)
  return check.launcher.ppid
}

/** The record's cgroup when each directory is one its launcher's supervisor made
 * (run-SUPERVISORPID-…, cgroup/fs.ts groupName) and the caller owns; else refused. */
function recordCgroup(record: SandboxRecord, supervisor: number): Cgroup | undefined {
  if (!record.cgroup) return undefined
  for (const dir of Object.values(record.cgroup.dirs)) {
    const name = basename(dir)
    const ours =
      posix.normalize(dir) === dir &&
      dir.startsWith('/sys/fs/cgroup/') &&
      new RegExp(`^run-${supervisor}-\\d+-\\d+-(n\\d+s\\d+|u[a-z0-9]+)$`).test(name) &&
      (() => {
        try {
          const st = lstatSync(dir)
          return st.isDirectory() && st.uid === callerUid()
        } catch {
          return false
        }
      })()
    if (!ours)
      throw new CordonError(
        'not_found',
        `refusing to act on sandbox ${record.id}: its cgroup ${dir} is not one its launcher's supervisor made`,
      )
  }
  return openCgroup(record.cgroup)
}

/** Checked controls for a registered sandbox; throws when the record is stale or forged. */
export function controlSandbox(record: SandboxRecord): SandboxControl {
  const cgroup = recordCgroup(record, ensureLauncher(record))
  const launcher: ProcessId = { pid: record.pid, startTime: record.startTime }
  // After the cgroup was emptied the launcher may be gone already: then there is no one to signal.
  const signal = (sig: NodeJS.Signals) => {
    if (checkRecord(record).ok) signalProcesses([launcher], sig)
  }
  return {
    cgroup,
    freeze() {
      ensureLauncher(record)
      return freezeSandbox(cgroup, launcher)
    },
    thaw() {
      ensureLauncher(record)
      thawSandbox(cgroup, launcher)
    },
    kill(sig) {
      ensureLauncher(record)
      try {
        cgroup?.killAll()
      } catch (e) {
        // The sandbox ended between the check and the kill, and its group went with it
        // (CI60: `freezer.state` ENOENT): nothing of it is left to kill.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      }
      // Without a cgroup the launcher's death takes only what its pid namespace holds: with
      // none (--no-namespaces), the command's children lived on, a setsid one included. Every
      // descendant is stopped first (none forks away meanwhile), then killed.
      if (!cgroup && (sig ?? 'SIGKILL') === 'SIGKILL') {
        freezeSandbox(undefined, launcher)
        killFrozen(undefined, launcher)
      }
      // The launcher reports the end.
      signal(sig ?? (cgroup ? 'SIGTERM' : 'SIGKILL'))
    },
  }
}
