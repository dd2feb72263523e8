// Facts about a host process, for records (registry entries, cgroups) named after their owner.
// A pid alone names nothing for good: once its process ends the kernel gives it to the next one.
// A pid with its start time (and the boot) names one process; cordon checks both before it
// signals anything a record points at.
import { readFileSync, readlinkSync } from 'node:fs'

/** true while pid exists, zombies included (EPERM: it exists and is not ours). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface ProcessInfo {
  pid: number
  ppid: number
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime: number
  /** Real uid. */
  uid: number
  /** The executable, when this caller may read it (its own processes). */
  exe: string | undefined
}

let boot: string | undefined
/** This boot's id: start times count from boot, so a record names its boot too. Read once: a
 * process lives in one boot. */
export function bootId(): string {
  if (boot !== undefined) return boot
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
  return boot
}

/** Field 22 of /proc/PID/stat alone (what a registry record needs of a process it started):
 * one read instead of processInfo's three. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: fields resume after the last ')', at 3.
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    return Number.isSafeInteger(start) ? start : undefined
  } catch {
    return undefined
  }
}

/** What /proc says about pid now, or undefined when there is no such process. */
export function processInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  let stat: string
  let status: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  // The command name may hold spaces and parentheses: fields resume after the last ')', at 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1]
  let exe: string | undefined
  try {
    exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')
  } catch {}
  return {
    pid,
    ppid: Number(fields[1]),
    startTime: Number(fields[19]),
    uid: uid === undefined ? -1 : Number(uid),
    exe,
  }
}
