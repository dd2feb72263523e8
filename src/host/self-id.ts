// This process as the host state its runs leave behind names it (private /tmp directories,
// cgroups), so that a later run can tell whether the process that made an entry is gone: its
// pid namespace, pid and start time (a pid alone is reused). Several pid namespaces may share
// that state (a container with the host's /tmp or cgroup tree): a pid means something only in
// its own namespace, so an entry of another namespace is never judged.
import { readFileSync, readlinkSync } from 'node:fs'
import { processStartTime } from './process.js'

export interface SelfId {
  /** The inode of this process's pid namespace. */
  pidns: string
  pid: number
  /** Field 22 of /proc/self/stat. */
  start: number
  /** `PIDNS_PID_START`, as names carry it. */
  id: string
}

let self: SelfId | null | undefined

/** Null when /proc is not this pid namespace's (NSpid has more than one field, or not our pid:
 * `unshare -p -f` without --mount-proc): /proc/PID there is someone else, so no entry can be
 * named or judged by pid. */
export function selfId(): SelfId | null {
  if (self !== undefined) return self
  try {
    const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim().split(/\s+/)
    const pidns = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1]
    const start = processStartTime(process.pid)
    if (nspid?.length !== 1 || nspid[0] !== String(process.pid) || !pidns || start === undefined)
      return (self = null)
    return (self = { pidns, pid: process.pid, start, id: `${pidns}_${process.pid}_${start}` })
  } catch {
    return (self = null)
  }
}

/** Whether the process an entry names (in our pid namespace) is alive: the same pid with the
 * same start time. */
export function stillRunning(pid: number, start: number): boolean {
  return processStartTime(pid) === start
}
