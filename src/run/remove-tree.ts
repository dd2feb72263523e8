// Removes a directory tree that a process may still be changing: a sandbox that outlived its
// supervisor (--no-namespaces) can swap any entry of its private /tmp for a symlink at any
// moment. So every step works on a directory this walk opened itself, O_PATH | O_NOFOLLOW |
// O_DIRECTORY, and reaches into it as /proc/self/fd/N/NAME, which the kernel resolves to that
// very directory: no path is resolved twice, no symlink is ever followed (unlink and rmdir do
// not follow the last component; an open of one fails), chmod (u+rwx, so that a directory made
// unreadable can be emptied) only touches a directory the walk holds, and it never enters
// another filesystem. Any depth in linear time, holding at most KEEP directories open: a deeper
// one's parent is reopened through "..", and the walk stops if that is not the same directory
// (it was moved away), leaving the rest to a later sweep. Given the owner's uid, it enters,
// changes and empties only directories of that uid, so even as root it does nothing that owner
// could not do itself (run as the owner's ids, the kernel says the same). Also a program:
// `node remove-tree.js DIR`, run as the owner by whoever must not wait for it.
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Linux's O_PATH (node has no name for it): an fd naming a directory without reading it. */
const O_PATH = 0o10000000
const DIR = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW
const KEEP = 64
/** Lists of a directory per visit: a live process may keep refilling it. */
const PASSES = 3

interface Frame {
  fd: number | undefined
  dev: number
  ino: number
  name: string
  names: string[]
  passes: number
}

const at = (fd: number, name?: string) =>
  name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`
const code = (e: unknown) => (e as NodeJS.ErrnoException).code

/** Opens path as a directory to walk, made u+rwx; undefined when it is no directory (any more).
 * One on another filesystem, or not the owner's, is held by no fd: left as it is. */
function enter(path: string, name: string, dev?: number, owner?: number): Frame | undefined {
  let fd: number
  try {
    fd = openSync(path, DIR)
  } catch {
    return undefined
  }
  const st = fstatSync(fd)
  if ((dev !== undefined && st.dev !== dev) || (owner !== undefined && st.uid !== owner)) {
    closeSync(fd) // a mount point, or someone else's: not ours to empty
    return { fd: undefined, dev: st.dev, ino: st.ino, name, names: [], passes: PASSES }
  }
  try {
    chmodSync(at(fd), 0o700)
  } catch {}
  return { fd, dev: st.dev, ino: st.ino, name, names: list(fd), passes: 1 }
}

function list(fd: number): string[] {
  try {
    return readdirSync(at(fd))
  } catch {
    return []
  }
}

/** Removes dir/name unless it is a directory; returns the directory to walk if it is one. */
function removeEntry(dir: Frame & { fd: number }, name: string, owner?: number): Frame | undefined {
  const path = at(dir.fd, name)
  for (let tries = 0; tries < PASSES; tries++) {
    try {
      unlinkSync(path)
      return undefined
    } catch (e) {
      if (code(e) !== 'EISDIR' && code(e) !== 'EPERM') return undefined
    }
    const sub = enter(path, name, dir.dev, owner)
    if (sub?.fd !== undefined) return sub
    if (sub) return undefined // another filesystem's or owner's
    // swapped for a non-directory between the two calls: unlink it again
  }
  return undefined
}

/** Reopens a closed parent through its child's "..": the same directory, or undefined. */
function reopen(parent: Frame, childFd: number): number | undefined {
  let fd: number
  try {
    fd = openSync(at(childFd, '..'), DIR)
  } catch {
    return undefined
  }
  const st = fstatSync(fd)
  if (st.dev === parent.dev && st.ino === parent.ino) return fd
  closeSync(fd)
  return undefined
}

/** Removes the tree at path (best effort), of owner's directories only when given; true when
 * it is gone. */
export function removeTree(path: string, owner?: number): boolean {
  const top = enter(path, '', undefined, owner)
  if (!top) {
    try {
      unlinkSync(path) // a symlink (or file) in its place: the link itself goes, never its target
    } catch {}
    return false
  }
  if (top.fd === undefined) return false // not the owner's
  const frames: Frame[] = [top]
  while (frames.length) {
    const f = frames[frames.length - 1]! as Frame & { fd: number }
    const name = f.names.pop()
    if (name !== undefined) {
      const sub = removeEntry(f, name, owner)
      if (!sub) continue
      frames.push(sub)
      const old = frames[frames.length - 1 - KEEP]
      if (old?.fd !== undefined) {
        closeSync(old.fd)
        old.fd = undefined
      }
      continue
    }
    if (f.passes < PASSES && (f.names = list(f.fd)).length) {
      f.passes++
      continue
    }
    frames.pop()
    const parent = frames[frames.length - 1]
    if (parent && parent.fd === undefined) parent.fd = reopen(parent, f.fd)
    closeSync(f.fd)
    if (!parent) break
    if (parent.fd === undefined) return false // moved away under us: stop here
    try {
      rmdirSync(at(parent.fd, f.name))
    } catch {}
  }
  try {
    rmdirSync(path)
    return true
  } catch (e) {
    return code(e) === 'ENOENT'
  }
}

/** This module's file, run as a program by whoever must remove a tree as other ids. Named from
 * this module's depth (build/src/run/), not as import.meta.url itself: in a bundle
 * (build/src/cli-bundle/run.cjs, what `cordon run` loads) that is the bundle's file, which run as
 * a program initialises none of its modules, and so removed nothing. */
export const REMOVE_TREE_MAIN = fileURLToPath(new URL('../run/remove-tree.js', import.meta.url))

if (process.argv[1] === REMOVE_TREE_MAIN && process.argv[2])
  process.exitCode = removeTree(process.argv[2], process.getuid?.()) ? 0 : 1
