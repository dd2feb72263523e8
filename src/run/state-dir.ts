// cordon's own host-side state (the registry, event sockets, the OCI runtimes' --root) lives in
// directories private to the caller: /run/cordon for root, $XDG_RUNTIME_DIR/cordon, else
// /tmp/cordon-UID/cordon. Under /tmp another user can create the directory first (as tmux's
// /tmp/tmux-UID), so every component cordon creates is checked once it exists: a directory, not
// a symlink, owned by the caller, writable by no one else. Anything else is refused, never used.
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CordonError } from '../errors.js'
import { ownStateLayout, stateLayout, xdgPlaces } from '../host/state-places.js'

export { ownStateLayout } from '../host/state-places.js'

export const callerUid = (): number => process.getuid?.() ?? 0

/** The state directory's path, unchecked (for help texts). */
export function stateDirPath(): string {
  return ownStateLayout().create.at(-1)!
}

const fixFor = (uid: number, path?: string) =>
  [uid === 0 ? '' : 'set XDG_RUNTIME_DIR to a directory of your own (mode 0700)', path && `remove ${path}`]
    .filter(Boolean)
    .join(', or ')

function refuse(path: string, why: string, fix: string): never {
  throw new CordonError('setup_failed', `cordon's state directory ${path} is unsafe: ${why}; ${fix}`, {
    step: 'state directory',
  })
}

/** The base must not let another user replace what cordon creates in it: owned by the caller
 * or root, and writable by others only with the sticky bit (/tmp). A missing base is a plain
 * error: the host has no state directory to give (spawn runs unregistered). */
function checkBase(base: string, uid: number): void {
  const st = statSync(base)
  const fix = fixFor(uid)
  if (!st.isDirectory()) refuse(base, 'not a directory', fix)
  if (st.uid !== uid && st.uid !== 0) refuse(base, `owned by uid ${st.uid}`, fix)
  // Sticky (/tmp): others cannot rename or remove what is ours in it.
  if (st.mode & 0o022 && !(st.mode & 0o1000))
    refuse(base, `writable by others (mode ${(st.mode & 0o7777).toString(8)})`, fix)
}

/** Makes (or accepts) one private directory: opened without following a symlink, then judged
 * by what was opened. Ours but readable by others is tightened; anything else refused. */
function ensurePrivate(path: string, uid: number): void {
  const fix = fixFor(uid, path)
  const open = () => openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  let fd: number
  try {
    // Opened first, made only when missing: the directory exists on every run but a first, and
    // the error a mkdir that finds it throws (a stack trace made and dropped) cost each run.
    fd = tryOpen(open) ?? mkdirOrFound(path, open)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP' || code === 'ENOTDIR') refuse(path, 'a symlink or not a directory', fix)
    throw e
  }
  try {
    const st = fstatSync(fd)
    if (st.uid !== uid) refuse(path, `owned by uid ${st.uid}, not you (uid ${uid})`, fix)
    if (st.mode & 0o022) refuse(path, `writable by others (mode ${(st.mode & 0o7777).toString(8)})`, fix)
    if (st.mode & 0o7077) fchmodSync(fd, 0o700)
  } finally {
    closeSync(fd)
  }
}

/** fn's fd, or undefined when there is no such file (ENOENT); other errors are thrown. */
function tryOpen(fn: () => number): number | undefined {
  try {
    return fn()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

/** Makes the directory private (or finds it made meanwhile: another cordon, at once), then opens it. */
function mkdirOrFound(path: string, open: () => number): number {
  try {
    mkdirSync(path, { mode: 0o700 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  return open()
}

/** The caller's state directory, created private or checked to be; throws CordonError (with
 * the fix) when another user could have planted or can change what is in it. */
export function privateStateDir(sub?: string): string {
  return makePrivate(callerUid(), ownStateLayout(), sub)
}

/** The directories made or checked private by this process: checked once each (a `cordon run`
 * asks for its state directory three times before its sandbox starts). */
const checked = new Set<string>()

function makePrivate(
  uid: number,
  { base, create }: { base: string; create: string[] },
  sub?: string,
): string {
  const chain = sub ? [...create, join(create.at(-1)!, sub)] : create
  if (chain.every((dir) => checked.has(dir))) return chain.at(-1)!
  checkBase(base, uid)
  for (const dir of chain) {
    ensurePrivate(dir, uid)
    checked.add(dir)
  }
  return chain.at(-1)!
}

/** Makes every directory cordon may keep this caller's state in, as privateStateDir makes its
 * own: the one of this process's XDG_RUNTIME_DIR, and the ones its other processes use
 * (/tmp/cordon-UID/cordon without one, /run/user/UID/cordon with the usual one, when that is
 * the caller's). Called before a plan is compiled, so that each exists to be hidden from the
 * sandbox (plan/state-mask.ts): one that did not, a sandbox with /tmp writable could make and
 * fill with plans a later run would start from. One that cannot be made private (another
 * user's in the way) is left: cordon refuses to use it. */
export function ensureStateDirs(): void {
  const uid = callerUid()
  const own = process.env.XDG_RUNTIME_DIR
  for (const xdg of xdgPlaces(uid))
    if (xdg === own || xdg === undefined || isOwnDir(xdg, uid))
      try {
        makePrivate(uid, stateLayout(uid, xdg))
      } catch {}
}

function isOwnDir(path: string, uid: number): boolean {
  const st = statSync(path, { throwIfNoEntry: false })
  return st?.isDirectory() === true && st.uid === uid
}
