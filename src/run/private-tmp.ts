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
import { chownSync, lstatSync, mkdtempSync, readdirSync } from 'node:fs'
import { hostIdRanges } from '../host/id-range.js'
import { selfId, stillRunning } from '../host/self-id.js'
import { REMOVE_TREE_MAIN, removeTree } from './remove-tree.js'
import { childProcess } from '../builtin.js'

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

export function makePrivateTmp(): PrivateTmp {
  sweepStale()
  // "unowned": not NAME, so never swept (nor left behind but by a kill in such a namespace).
  const path = mkdtempSync(`${BASE}/${PREFIX}${selfId()?.id ?? 'unowned'}_`)
  let owner: { uid: number; gid: number } | undefined
  return {
    path,
    handOver(uid, gid) {
      if (process.getuid?.() !== 0 || (uid === 0 && gid === 0)) return
      chownSync(path, uid, gid)
      owner = { uid, gid }
    },
    remove() {
      // In this process (no child to start: this is on every such run's way out), touching only
      // the sandbox uid's directories: what the sandbox could do itself.
      removeTree(path, owner?.uid ?? process.getuid?.())
    },
  }
}

/** The sandbox may have left anything in it: symlinks, raced directories, directories it made
 * unreadable (mode 000), FIFOs, sockets, trees deeper than PATH_MAX, and a process of it may
 * still be changing it. remove-tree.ts walks it fd by fd, never following a symlink, within the
 * sandbox uid's directories (and a sweep as the sandbox's ids): a race reaches nothing the
 * sandbox could not change itself. */
function asOwner(owner: { uid: number; gid: number } | undefined) {
  return owner && process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}
}

/** Removes, in the background, the private directories of this caller's runs whose supervisor
 * has ended (killed before it could remove them). Only directories named as makePrivateTmp
 * names them, not symlinks, owned by ids this caller gives its sandboxes: its own uid, or as
 * root, root's or its id range's. */
function sweepStale(): void {
  const me = selfId()
  if (!me) return // /proc is not our pid namespace's: a pid there names no one we can judge
  let names: string[]
  try {
    names = readdirSync(BASE)
  } catch {
    return
  }
  const mine = ownedByMyRuns()
  for (const name of names) {
    const m = NAME.exec(name)
    if (!m || m[1] !== me.pidns) continue // another pid namespace's: not ours to judge
    if (stillRunning(Number(m[2]), Number(m[3]))) continue // its supervisor lives
    const path = `${BASE}/${name}`
    let st
    try {
      st = lstatSync(path)
    } catch {
      continue
    }
    if (!st.isDirectory() || !mine(st.uid)) continue
    // Not waited for: a dead sandbox's large tree must not delay this run's start.
    const rm = childProcess().spawn(process.execPath, [REMOVE_TREE_MAIN, path], {
      stdio: 'ignore',
      env: {},
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
