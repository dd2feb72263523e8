// How a runtime backend's container is signalled and stopped from outside the runtime: the
// runtime's own `kill` and `state` wait on the container's lock, which a wedged runtime holds
// for ever, so every call is bounded and a stop can end the processes themselves.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { killFrozenOrphan } from '../cgroup/fs.js'
import { cgroupMounts } from '../cgroup/select.js'
import { cgroupMountEntries } from '../host/probe.js'
import { type ProcessId, signalProcesses } from '../host/signal.js'
import { signalDescendants } from '../run/process-tree.js'
import { INIT_NAME } from '../export/container-init.js'

/** How long a call to the runtime (kill, state, delete) may take: it waits on the container's
 * lock, which a wedged runtime holds for ever. */
export const RUNTIME_CALL_MS = 5_000
/** After a kill, how long the runtime gets to end before everything below it is killed, and
 * then its streams to close. */
export const STOP_GRACE_MS = 2_000

/** SIGKILL to every process below the runtime (its sandbox, gofer, the container's processes),
 * by identity, then the container's group thawed so that a paused container's processes take the
 * signal (cgroup v1 holds even SIGKILL in a frozen group); the runtime's own process last. */
export function killRuntimeTree(launcher: ProcessId | undefined, id: string): void {
  if (!launcher) return
  signalDescendants(launcher, 'SIGKILL')
  const { v1, v2 } = cgroupMounts()
  for (const file of [
    v1.freezer && [join(v1.freezer, id, 'freezer.state'), 'THAWED'],
    v2 && [join(v2, id, 'cgroup.freeze'), '0'],
  ])
    if (file)
      try {
        writeFileSync(file[0]!, file[1]!)
      } catch {} // no such group: not frozen
  signalProcesses([launcher], 'SIGKILL')
}

/** Every cgroup hierarchy's mount point (v1's named ones too, as runc makes its groups there). */
export function cgroupHierarchies(): string[] {
  try {
    const { v1, v2 } = cgroupMountEntries()
    return [...new Set(v1.map((m) => m.mountPoint)), ...(v2 ? [v2] : [])]
  } catch {
    return [] // mountinfo unreadable (EMFILE): a later run's sweep removes what is left
  }
}

/** Removes the container's groups (`/<id>` in each hierarchy: its cgroupsPath) that the runtime
 * left: runsc's delete of a sandbox killed under it (killRuntimeTree) left an empty group in
 * every hierarchy, for good. rmdir takes only an empty group, so a live container's stays. */
export function removeContainerGroups(id: string): void {
  const dirs = cgroupHierarchies().map((h) => join(h, id))
  // Processes the runtime left there (runc's init with a thread killed, its others alive: runc's
  // delete dropped the state and left them, helper-120) end as an orphaned sandbox's do.
  killFrozenOrphan(dirs)
  for (const dir of dirs)
    try {
      rmdirSync(dir)
    } catch {} // none, or not empty
}

/** The names at the top of the cgroup hierarchies that `match`es (a sweep's orphans). */
export function containerGroups(match: (name: string) => boolean): string[] {
  const names = new Set<string>()
  for (const dir of cgroupHierarchies())
    try {
      for (const name of readdirSync(dir)) if (match(name)) names.add(name)
    } catch {} // unreadable: nothing of ours
  return [...names]
}

/** Signals whose default action ends the process (terminate, or terminate with a core). */
export const TERMINATING = new Set<string>([
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGPIPE',
])

/** The container's first process as `runc state` tells it: `pid` while it runs; `command` once
 * it is the container's command, not yet while it is runc's own init (created, or started and
 * not yet exec'd: its Go runtime takes a signal and drops it); null when there is no container
 * (not yet made, or gone). */
export function containerInit(
  program: string,
  global: string[],
  id: string,
): { pid: number | undefined; command: boolean } | null {
  const r = spawnSync(program, [...global, 'state', id], { encoding: 'utf8', timeout: RUNTIME_CALL_MS })
  let state: { pid?: number; status?: string }
  try {
    state = JSON.parse(r.stdout) as { pid?: number; status?: string }
  } catch {
    return null
  }
  const pid = state.pid && state.pid > 0 ? state.pid : undefined
  if (state.status !== 'running' || pid === undefined) return { pid, command: state.status === 'stopped' }
  let comm = ''
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8')
  } catch {} // gone: whatever it was ran
  return { pid, command: !comm.startsWith('runc:') }
}

/** Whether the container's pid 1 acts on signal n: catches or ignores it (SigCgt, SigIgn), or
 * it is cordon's init once it waits for the signals it forwards (blocked, SigBlk; asleep in
 * rt_sigtimedwait, which lets them through while it sleeps: the mask it restores is not in
 * /proc). A command's blocked signal does not count: left at its default action, pid 1 drops
 * it when it unblocks it (helper-119). */
export function handles(pid: number, n: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? ''
    const has = (name: string) =>
      /^[0-9a-f]+$/.test(field(name)) && (BigInt(`0x${field(name)}`) & (1n << BigInt(n - 1))) !== 0n
    if (field('Name') === INIT_NAME) return has('SigBlk') || field('State').startsWith('S')
    return has('SigCgt') || has('SigIgn')
  } catch {
    return true // gone already: nothing to do
  }
}
