// A container's record in the state directory (--root, 0700), and its status as runc reports it.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  writeFileSync,
} from 'node:fs'
import { dirname, resolve } from 'node:path'
import { CordonError } from '../errors.js'
import { isFrozen } from './cgroups.js'
import type { OciHook } from './spec.js'

export const OCI_VERSION = '1.2.0'

export interface ContainerRecord {
  id: string
  pid: number
  /** /proc/PID/stat start time, so a reused pid is never taken for the container. */
  startTime: string
  bundle: string
  rootfs: string
  created: string
  owner: string
  annotations: Record<string, string>
  cgroupDirs: string[]
  freezer: { dir: string; v2: boolean } | undefined
  hooks: { poststart: OciHook[]; poststop: OciHook[] }
}

export type Status = 'created' | 'running' | 'paused' | 'stopped'

export function containerDir(root: string, id: string): string {
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..')
    throw new CordonError('invalid_usage', `invalid container id "${id}": use letters, digits, _ + . -`)
  return `${root}/${id}`
}

/**
 * The state directory must be the caller's own (DESIGN.md: host-side state is private to its
 * caller): a directory, not a link, owned by the caller and writable by no one else. Whoever
 * can write a state.json there chooses the hooks `delete` runs, the processes `kill` and
 * `delete` signal and the cgroups they remove, all as the caller. A missing one is fine: it
 * holds nothing yet.
 */
export function checkRoot(root: string): void {
  checkParents(root)
  let st
  try {
    st = lstatSync(root)
  } catch {
    return
  }
  const uid = process.geteuid?.() ?? 0
  const why = st.isSymbolicLink()
    ? 'is a symbolic link'
    : !st.isDirectory()
      ? 'is not a directory'
      : st.uid !== uid
        ? `is owned by uid ${st.uid}, not by you (uid ${uid})`
        : st.mode & 0o022
          ? `is writable by others (mode ${(st.mode & 0o7777).toString(8)})`
          : undefined
  if (why)
    throw new CordonError(
      'invalid_usage',
      `--root ${root} ${why}: the state directory must be yours alone (0700); pick another --root`,
    )
}

const refuseRoot = (root: string, why: string) =>
  new CordonError(
    'invalid_usage',
    `--root ${root}: ${why}: whoever can rename or replace it can point the state elsewhere; pick a --root whose every parent directory is owned by root or by you and writable by no one else (or sticky, as /tmp)`,
  )

/** Each existing parent of the state directory, as given and with its links resolved: owned by
 * root or the caller, and not writable by others unless sticky (a sticky /tmp lets no one else
 * rename what is in it). Otherwise another user could rename a parent and put a tree of theirs
 * in its place, and choose the state the caller (root, for an engine) acts on. A link among
 * the parents is judged by its own owner, then its target's parents are judged too. */
function checkParents(root: string): void {
  const uid = process.geteuid?.() ?? 0
  const judge = (path: string) => {
    const parts = path.split('/').filter(Boolean)
    for (let i = 0; i <= parts.length; i++) {
      const at = `/${parts.slice(0, i).join('/')}`
      let st
      try {
        st = lstatSync(at)
      } catch {
        return // missing from here on: ensureRoot makes it, the caller's own and 0700
      }
      if (st.uid !== 0 && st.uid !== uid)
        throw refuseRoot(
          root,
          `its parent ${at} is owned by uid ${st.uid}, neither root nor you (uid ${uid})`,
        )
      if (!st.isSymbolicLink() && st.mode & 0o022 && !(st.mode & 0o1000))
        throw refuseRoot(
          root,
          `its parent ${at} is writable by others (mode ${(st.mode & 0o7777).toString(8)}) and not sticky`,
        )
    }
  }
  const parent = dirname(resolve(root))
  judge(parent)
  let real: string
  try {
    real = realpathSync(parent)
  } catch {
    return
  }
  if (real !== parent) judge(real)
}

export function ensureRoot(root: string): void {
  checkRoot(root)
  mkdirSync(root, { recursive: true, mode: 0o700 })
  checkRoot(root)
}

export function loadRecord(root: string, id: string): ContainerRecord {
  const dir = containerDir(root, id)
  checkRoot(root)
  try {
    return JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as ContainerRecord
  } catch {
    throw new CordonError('not_found', `container "${id}" does not exist`)
  }
}

export function saveRecord(root: string, rec: ContainerRecord): void {
  const dir = containerDir(root, rec.id)
  writeFileSync(`${dir}/state.json.tmp`, JSON.stringify(rec), { mode: 0o600 })
  renameSync(`${dir}/state.json.tmp`, `${dir}/state.json`)
}

export function listIds(root: string): string[] {
  checkRoot(root)
  try {
    return readdirSync(root).filter((id) => existsSync(`${root}/${id}/state.json`))
  } catch {
    return []
  }
}

/** Field 22 (start time) and field 3 (state) of /proc/PID/stat, or undefined when gone. */
export function procStat(pid: number): { startTime: string; state: string } | undefined {
  return procStatAt(`/proc/${pid}`)
}

/** State and start time from a process's /proc directory (`/proc/PID`, or a directory fd's
 * `/proc/self/fd/N`, bound to the process it was opened for). */
export function procStatAt(dir: string): { startTime: string; state: string } | undefined {
  try {
    const s = readFileSync(`${dir}/stat`, 'utf8')
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', startTime: fields[19] ?? '' }
  } catch {
    return undefined
  }
}

/** Whether a /proc stat is the recorded process's, still running (not a zombie). */
export function isRecorded(
  st: { startTime: string; state: string } | undefined,
  rec: Pick<ContainerRecord, 'startTime'>,
): boolean {
  return !!st && st.startTime === rec.startTime && st.state !== 'Z' && st.state !== 'X'
}

export function isAlive(rec: ContainerRecord): boolean {
  return rec.pid > 0 && isRecorded(procStat(rec.pid), rec)
}

export function statusOf(root: string, rec: ContainerRecord): Status {
  if (!isAlive(rec)) return 'stopped'
  if (existsSync(`${containerDir(root, rec.id)}/exec.fifo`)) return 'created'
  return isFrozen(rec.freezer) ? 'paused' : 'running'
}

/** The state as `runc state` prints it (runtime-spec runtime.md "State", runc's field order). */
export function ociState(
  root: string,
  rec: ContainerRecord,
  status = statusOf(root, rec),
): Record<string, unknown> {
  return {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    ...(Object.keys(rec.annotations).length ? { annotations: rec.annotations } : {}),
    owner: rec.owner,
  }
}
