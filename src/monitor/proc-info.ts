// What the monitor knows of a sandbox's processes beyond each event: the program each pid runs
// (from exec events), its parent (process events carry it), and — read from /proc the first
// time a rule asks, then kept until the pid execs again or ends — its command line, user and
// group. Derived here rather than in the launcher: the events already name the pid, and a rule
// that never asks costs nothing. /proc is the host's, so uids are host uids (a sandbox's root
// in a user namespace is the caller), and a process that ended before its event was read has no
// command line (`<NA>` in a Falco output).
import { readFileSync, readlinkSync } from 'node:fs'
import { basename } from 'node:path'

export interface ProcEntry {
  exe?: string
  ppid?: number
  /** Read from /proc once (undefined: not yet; null: the process was gone). */
  info?: ProcInfo | null
}

export interface ProcInfo {
  comm: string
  argv: string[]
  ppid: number
  uid: number
  gid: number
  /** The audit login uid; 4294967295 (-1) when there is none. */
  loginuid?: number
  /** The controlling terminal's device number, 0 for none. */
  tty: number
  /** The working directory, a host path. */
  cwd?: string
  /** /proc/PID/exe: the program, symlinks followed, as a host path. */
  exe?: string
}

const MAX_PIDS = 1000
const MAX_DEPTH = 32

/** One sandbox's processes, bounded (the oldest pid goes first). */
export class ProcessTable {
  private readonly entries = new Map<number, ProcEntry>()

  /** The pid runs a new program: what was read of the old one is stale. */
  exec(pid: number, exe: string | undefined, ppid?: number): void {
    const old = this.entries.get(pid)
    this.set(pid, {
      ...(exe ? { exe } : old?.exe ? { exe: old.exe } : {}),
      ...(ppid !== undefined ? { ppid } : old?.ppid !== undefined ? { ppid: old.ppid } : {}),
    })
  }

  /** The program a pid was last seen to run. */
  exe(pid: number): string | undefined {
    return this.entries.get(pid)?.exe
  }

  forget(pid: number): void {
    this.entries.delete(pid)
  }

  /** /proc facts about pid, read once per program. */
  info(pid: number): ProcInfo | undefined {
    let e = this.entries.get(pid)
    if (!e) this.set(pid, (e = {}))
    if (e.info === undefined) e.info = readProc(pid) ?? null
    return e.info ?? undefined
  }

  /** The name a process goes by: its program's file name (from its exec event, else
   * /proc/PID/exe, so a monitor that attached late names it the same), else the kernel's comm. */
  name(pid: number): string | undefined {
    const exe = this.exe(pid) ?? this.info(pid)?.exe
    return exe ? basename(exe.replace(/ \(deleted\)$/, '')) : this.info(pid)?.comm
  }

  parent(pid: number): number | undefined {
    return this.entries.get(pid)?.ppid ?? this.info(pid)?.ppid
  }

  /** Parent, grandparent… up to init (pid 0 ends the walk). */
  ancestors(pid: number): number[] {
    const out: number[] = []
    for (let p = this.parent(pid); p && out.length < MAX_DEPTH && !out.includes(p); p = this.parent(p))
      out.push(p)
    return out
  }

  private set(pid: number, e: ProcEntry): void {
    if (this.entries.size >= MAX_PIDS && !this.entries.has(pid))
      this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(pid, e)
  }
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const line = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? ''
    // The effective ids: the ones the kernel checks permissions against.
    const uid = Number(line('Uid').split(/\s+/)[1])
    const gid = Number(line('Gid').split(/\s+/)[1])
    const argv = readFileSync(`/proc/${pid}/cmdline`).toString('utf8').split('\0')
    if (argv.at(-1) === '') argv.pop()
    let loginuid: number | undefined
    try {
      loginuid = Number(readFileSync(`/proc/${pid}/loginuid`, 'utf8'))
    } catch {}
    // The command name may hold spaces and parentheses: fields resume after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const tty = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4] ?? 0)
    const link = (name: string) => {
      try {
        return readlinkSync(`/proc/${pid}/${name}`)
      } catch {
        return undefined
      }
    }
    const cwd = link('cwd')
    const exe = link('exe')
    return {
      tty,
      ...(exe !== undefined ? { exe } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      comm: line('Name'),
      argv,
      ppid: Number(line('PPid')),
      uid,
      gid,
      ...(loginuid !== undefined ? { loginuid } : {}),
    }
  } catch {
    return undefined
  }
}

let users: Map<number, string> | undefined
let groups: Map<number, string> | undefined

function readNames(file: string): Map<number, string> {
  const out = new Map<number, string>()
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , id] = line.split(':')
      if (name && id !== undefined && !out.has(Number(id))) out.set(Number(id), name)
    }
  } catch {}
  return out
}

/** The host's name for a uid (/etc/passwd, read once per process). */
export function userName(uid: number | undefined): string | undefined {
  if (uid === undefined) return undefined
  users ??= readNames('/etc/passwd')
  return users.get(uid)
}

export function groupName(gid: number | undefined): string | undefined {
  if (gid === undefined) return undefined
  groups ??= readNames('/etc/group')
  return groups.get(gid)
}
