// What a runtime backend's run leaves on the host while it runs: its bundle (a private directory
// in the temporary directory) and the runtime's container (its state under the runtime's
// --root, its cgroup, the `runc run`/`runsc run` process and what runs below it). A run removes
// them when it ends; a cordon killed with SIGKILL cannot, and its runtime keeps the container
// running. So both are named after their owner, as cordon's own cgroups and private /tmp are
// (host/self-id.ts: pid namespace, pid, start time), and every runtime run first sweeps what
// belongs to owners of its own pid namespace that are gone: the orphaned runtime processes are
// killed, the container deleted (`delete --force`), then the bundle removed. A live owner's
// entries, another namespace's, and names of any other shape are never touched.
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { selfId, stillRunning } from '../host/self-id.js'
import { identify } from '../host/signal.js'
import { removeTree } from '../run/remove-tree.js'
import { privateStateDir, stateDirPath } from '../run/state-dir.js'
import { containerGroups, killRuntimeTree, removeContainerGroups, RUNTIME_CALL_MS } from './runtime-stop.js'

/** The runtimes' programs, which name their state directories. */
export type RuntimeProgram = 'runc' | 'runsc'

/** `PID-PIDNS-START` of this process; `PID-u` where /proc is not our pid namespace's (such
 * names match no sweep: they are only ever removed by their own run). */
function owner(): string {
  const me = selfId()
  return me ? `${me.pid}-${me.pidns}-${me.start}` : `${process.pid}-u`
}

/** A container id (`cordon-PID-PIDNS-START-HEX8`); `cordon-PID-` first, as before. */
export const containerId = (): string => `cordon-${owner()}-${randomBytes(4).toString('hex')}`
const CONTAINER = /^cordon-(\d{1,10})-(\d{1,20})-(\d{1,20})-[0-9a-f]{8}$/

/** A new private bundle directory (0700), named after its owner. */
export const makeBundleDir = (): string => mkdtempSync(join(tmpdir(), `cordon-bundle-${owner()}-`))
const BUNDLE = /^cordon-bundle-(\d{1,10})-(\d{1,20})-(\d{1,20})-[A-Za-z0-9]{6}$/

/** Whether a name's owner (pid, pid namespace, start time) is a process of our namespace that
 * is gone. */
function orphaned(m: RegExpExecArray | null): boolean {
  const me = selfId()
  if (!m || !me || m[2] !== me.pidns) return false
  const pid = Number(m[1])
  return pid !== process.pid && !stillRunning(pid, Number(m[3]))
}

/** Where a runtime keeps its containers' state for this caller, and the flags that say so.
 * Root's runtimes keep theirs in their own default; anyone else's goes in the caller's checked
 * private state directory, so no other user can plant or swap it. */
export function runtimeRoot(program: RuntimeProgram, uid: number): { dir: string; flags: string[] } {
  if (uid === 0) return { dir: program === 'runc' ? '/run/runc' : '/var/run/runsc', flags: [] }
  const dir = privateStateDir(program)
  return { dir, flags: ['--root', dir] }
}

/** The container ids in a runtime's state directory: runc keeps a directory per id, runsc
 * files named `ID_sandbox:ID.state` (and `.lock`). */
function containers(dir: string): Set<string> {
  const ids = new Set<string>()
  try {
    for (const name of readdirSync(dir)) ids.add(name.split('_')[0]!)
  } catch {} // no state directory yet: nothing ran
  return ids
}

/** runsc 2022's `delete` leaves the container's lock file when the container died paused or was
 * killed under it: with no state beside it, the lock is a dead container's. */
function removeLock(dir: string, id: string): void {
  const file = join(dir, `${id}_sandbox:${id}`)
  if (existsSync(`${file}.state`)) return
  try {
    unlinkSync(`${file}.lock`)
  } catch {} // none
}

const DELETE_TRIES = 20
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

/** `delete --force` until the container's state is gone. runsc's sandbox may still be exiting
 * from the kill just sent, and a delete then leaves the container in its state (seen once in
 * CI: the next run's sweep returned with the orphan's id and runsc still there); tried again
 * every 100 ms, for ~2 s at most. */
function deleteContainer(
  program: RuntimeProgram,
  path: string,
  root: { dir: string; flags: string[] },
  id: string,
): void {
  for (let i = 0; i < DELETE_TRIES; i++) {
    spawnSync(path, [...root.flags, 'delete', '--force', id], { stdio: 'ignore', timeout: RUNTIME_CALL_MS })
    if (program === 'runsc') removeLock(root.dir, id)
    if (!containers(root.dir).has(id)) return
    Atomics.wait(PAUSE, 0, 0, 100)
  }
}

/** The caller's processes that name the container on their command line as the runtime (`runc
 * run … ID`): the dead owner's runtime, which may hold the container's lock for ever (runsc's
 * gofer and sandbox are below it). */
function runtimeProcesses(program: string, id: string, uid: number): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    let argv: string[]
    try {
      if (statSync(`/proc/${name}`).uid !== uid) continue // the runtime runs as its caller
      argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0')
    } catch {
      continue
    }
    if (argv.includes(id) && basename(argv[0] ?? '').startsWith(program)) pids.push(Number(name))
  }
  return pids
}

/** Ends and deletes the containers, and removes the bundles, of this caller's runs whose
 * cordon is gone. Returns what it removed (container ids and bundle paths). */
export function sweepOrphans(
  runtimes: readonly { program: RuntimeProgram; path: string }[],
  uid = process.getuid?.() ?? 0,
): string[] {
  if (!selfId()) return [] // /proc is not our pid namespace's: no owner can be judged
  const removed: string[] = []
  for (const { program, path } of runtimes) {
    // A caller's own runtime state directory is made by its first run there, not by a sweep.
    if (uid !== 0 && !existsSync(join(stateDirPath(), program))) continue
    let root: ReturnType<typeof runtimeRoot>
    try {
      root = runtimeRoot(program, uid)
    } catch {
      continue // an unsafe state directory: the run itself says so
    }
    for (const id of containers(root.dir)) {
      if (!orphaned(CONTAINER.exec(id))) continue
      for (const runtime of identify(runtimeProcesses(program, id, uid))) killRuntimeTree(runtime, id)
      deleteContainer(program, path, root, id)
      removeContainerGroups(id)
      removed.push(id)
    }
  }
  // Groups a runtime left without any state to find them by (runsc's, of a sandbox killed under it).
  if (uid === 0)
    for (const id of containerGroups((name) => orphaned(CONTAINER.exec(name)))) {
      removeContainerGroups(id)
      removed.push(`cgroup ${id}`)
    }
  const base = tmpdir()
  let names: string[] = []
  try {
    names = readdirSync(base)
  } catch {}
  for (const name of names) {
    if (!orphaned(BUNDLE.exec(name))) continue
    const bundle = join(base, name)
    try {
      const st = lstatSync(bundle)
      if (!st.isDirectory() || st.uid !== uid) continue // not a bundle this caller made
    } catch {
      continue
    }
    // The remapped container's rootfs is the id range's: removed fd by fd, never following a
    // symlink the container could have left (remove-tree.ts).
    if (removeTree(bundle)) removed.push(bundle)
  }
  return removed
}
