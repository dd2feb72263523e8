// The temporary directory of a sandbox without a mount namespace: its tmpfs statements cannot
// replace the host's directories, so each run gets a fresh one of its own instead, owned by the
// sandbox's host ids, 0700, granted by Landlock and named by $TMPDIR (plan/compile.ts tmpEnv).
// Made in /tmp (root-owned and sticky: no other user can rename or replace our entry).
//
// The supervisor removes it when the run ends. A supervisor killed with SIGKILL cannot: its
// directory's name carries the supervisor's pid and start time, and the next such run of the
// same caller removes every directory whose supervisor is gone (sweepStale), so they cannot
// accumulate. Not the launcher: it is killed as well by the kills that take the supervisor and
// its group (kill -9 of the job, an OOM kill of the session), and the sweep needs nothing of C.
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmdirSync } from 'node:fs'
import { hostIdRanges } from '../host/id-range.js'
import { processStartTime } from '../host/process.js'

const BASE = '/tmp'
const PREFIX = 'cordon-tmp-'
/** PREFIX, the supervisor's pid namespace, pid and start time, mkdtemp's six characters. */
const NAME = /^cordon-tmp-(\d{1,20})_(\d{1,10})_(\d{1,20})_[A-Za-z0-9]{6}$/

export interface PrivateTmp {
  path: string
  /** Gives it to the sandbox's host ids (a root caller's sandbox runs as its id range). */
  handOver(uid: number, gid: number): void
  remove(): void
}

let self: { pidns: string; id: string } | undefined
/** This process in its runs' directory names: pid and start time (a pid alone is reused), and
 * the pid namespace they mean (a container may share the host's /tmp). */
function supervisor(): { pidns: string; id: string } {
  if (self) return self
  let pidns = '0'
  try {
    pidns = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0'
  } catch {}
  return (self = { pidns, id: `${pidns}_${process.pid}_${processStartTime(process.pid) ?? 0}` })
}

export function makePrivateTmp(): PrivateTmp {
  sweepStale()
  const path = mkdtempSync(`${BASE}/${PREFIX}${supervisor().id}_`)
  let owner: { uid: number; gid: number } | undefined
  return {
    path,
    handOver(uid, gid) {
      if (process.getuid?.() !== 0 || (uid === 0 && gid === 0)) return
      chownSync(path, uid, gid)
      owner = { uid, gid }
    },
    remove() {
      spawnSync('sh', ['-c', REMOVE, 'cordon-rm', path], { stdio: 'ignore', ...asOwner(owner) })
      try {
        if (existsSync(path) && lstatSync(path).isDirectory()) rmdirSync(path)
      } catch {}
    },
  }
}

/** The sandbox may have left anything in it: symlinks, raced directories, directories it made
 * unreadable (mode 000), FIFOs, sockets, trees deeper than PATH_MAX. chmod and rm walk it with
 * fts: never following a symlink below the top, fd-relative (no depth limit, linear time),
 * chmod first so that an unreadable directory can be emptied; run as the sandbox's own ids, so a
 * race reaches nothing the sandbox could not delete itself. */
const REMOVE = 'chmod -R u+rwx -- "$1" 2>/dev/null; exec rm -rf --one-file-system -- "$1"'

function asOwner(owner: { uid: number; gid: number } | undefined) {
  return owner && process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}
}

/** Removes, in the background, the private directories of this caller's runs whose supervisor
 * has ended (killed before it could remove them). Only directories named as makePrivateTmp
 * names them, not symlinks, owned by ids this caller gives its sandboxes: its own uid, or as
 * root, root's or its id range's. */
function sweepStale(): void {
  let names: string[]
  try {
    names = readdirSync(BASE)
  } catch {
    return
  }
  const mine = ownedByMyRuns()
  for (const name of names) {
    const m = NAME.exec(name)
    if (!m || m[1] !== supervisor().pidns) continue // another pid namespace's: not ours to judge
    if (processStartTime(Number(m[2])) === Number(m[3])) continue // its supervisor lives
    const path = `${BASE}/${name}`
    let st
    try {
      st = lstatSync(path)
    } catch {
      continue
    }
    if (!st.isDirectory() || !mine(st.uid)) continue
    // Not waited for: a dead sandbox's large tree must not delay this run's start.
    const rm = spawn('sh', ['-c', REMOVE, 'cordon-rm', path], {
      stdio: 'ignore',
      detached: true,
      ...asOwner({ uid: st.uid, gid: st.gid }),
    })
    rm.on('error', () => {})
    rm.unref()
  }
}

function ownedByMyRuns(): (uid: number) => boolean {
  const me = process.getuid?.() ?? 0
  if (me !== 0) return (uid) => uid === me
  const range = hostIdRanges().uid
  return (uid) => uid === 0 || (uid >= range.start && uid < range.start + range.count)
}
