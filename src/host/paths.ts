// Host-side facts about paths (a traced run's, a command not found): normal forms, the symlinks
// on the way to each, and what the kernel opens on its own when a file is executed (the ELF
// interpreter, a #! line).
import { closeSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs'
import { posix } from 'node:path'
import { fsPath, pathFromBytes } from './path-bytes.js'

export { fsPath }

/** A recorded path in normal form, or undefined for what is not a path (pipe:[…], relative). */
export function normalPath(raw: string): string | undefined {
  const path = raw.replace(/ \(deleted\)$/, '')
  if (!path.startsWith('/')) return undefined
  const n = posix.normalize(path)
  return n.length > 1 ? n.replace(/\/+$/, '') : n
}

export type Kind = 'file' | 'dir' | 'link' | 'other' | 'missing'

export function kindOf(path: string): Kind {
  try {
    const st = lstatSync(fsPath(path))
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
  } catch {
    return 'missing'
  }
}

export const isDir = (path: string) => {
  try {
    return statSync(fsPath(path)).isDirectory()
  } catch {
    return false
  }
}

export interface Resolution {
  /** The path with every symlink followed (what the kernel finally opens). */
  real: string
  /** Symlinks passed on the way: [link path, its target as written]. */
  links: [string, string][]
  /** strict: a component on the way does not exist, so where the path leads is unknown. */
  unknown?: true
  /** The path went through a proc magic link (`/proc/PID/fd/N`, `cwd`, `root`, `exe`…): the
   * kernel jumps to the object the process holds, which no text names; `real` stops there. */
  magic?: true
}

/** proc's magic links: what they lead to is an object of that process's, not a path. */
const MAGIC = /^\/proc\/\d+(?:\/task\/\d+)?\/(?:fd\/\d+|cwd|root|exe|map_files\/[^/]+|ns\/[^/]+)$/

/** The calling thread's /proc/self or /proc/thread-self: `PID` or `PID/task/TID` (host ids). */
function ownProc(name: 'self' | 'thread-self', tid: number): string {
  let tgid = tid
  try {
    tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${tid}/status`, 'latin1'))?.[1] ?? tid)
  } catch {}
  return name === 'self' ? String(tgid) : `${tgid}/task/${tid}`
}

/** Follows path component by component, as the kernel does, noting each symlink: `..` after a
 * symlink leaves its target, not the link's directory. With `strict`, a component that does not
 * exist (before the last one) makes the answer unknown: undefined `real`.
 *
 * Links whose target depends on who follows them are the caller's, never the resolving
 * process's: `/proc/self` and `/proc/thread-self` are the thread `tid`'s (the sandboxed
 * caller; without it the walk stops there, `magic`), and a magic link ends the walk. Neither is
 * noted in `links`: the sandbox's own /proc provides them, no policy recreates them. */
export function resolveOnHost(path: string, strict = false, tid?: number): Resolution {
  const links: [string, string][] = []
  let rest = path.split('/').filter(Boolean)
  let current = '/'
  for (let hops = 0; rest.length && hops < 64;) {
    const name = rest.shift()!
    const next = posix.join(current, name)
    if (next === '/proc/self' || next === '/proc/thread-self') {
      if (tid === undefined) return { real: posix.join(next, ...rest), links, magic: true }
      hops++
      rest = [...ownProc(name as 'self' | 'thread-self', tid).split('/'), ...rest]
      current = '/proc'
      continue
    }
    if (MAGIC.test(next)) return { real: posix.join(next, ...rest), links, magic: true }
    let target: string | undefined
    try {
      target = pathFromBytes(readlinkSync(fsPath(next), 'buffer'))
    } catch {}
    if (target === undefined) {
      if (strict && rest.length && name !== '..' && kindOf(next) === 'missing')
        return { real: '', links, unknown: true }
      current = next
      continue
    }
    hops++
    if (!links.some(([l]) => l === next)) links.push([next, target])
    // Not normalized as text: each `..` of the target is taken after its own links, as above.
    rest = [
      ...(target.startsWith('/') ? [] : current.split('/').filter(Boolean)),
      ...target.split('/').filter(Boolean),
      ...rest,
    ]
    current = '/'
  }
  return { real: posix.join(current, ...rest), links }
}

/**
 * Where a path the program used really is: textual normalization is wrong once a symlink comes
 * before a `..` (`L/../x` with L -> /a/b/c is /a/b/x, not ./x). Paths with `..` are resolved up
 * to their last `..` through the links as they are now; undefined when that cannot be known (a
 * component is gone), so such a path is never granted.
 */
export function kernelPath(raw: string): string | undefined {
  const path = raw.replace(/ \(deleted\)$/, '')
  if (!path.startsWith('/')) return undefined
  const parts = path.split('/').filter(Boolean)
  const lastDots = parts.lastIndexOf('..')
  if (lastDots < 0) return normalPath(path)
  const head = resolveOnHost(`/${parts.slice(0, lastDots + 1).join('/')}`, true)
  if (head.unknown) return undefined
  return normalPath(posix.join(head.real, ...parts.slice(lastDots + 1)))
}

/** What executing path makes the kernel open too: the ELF program interpreter or the #! one. */
export function interpreterOf(path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(fsPath(path), 'r')
  } catch {
    return undefined
  }
  try {
    const head = Buffer.alloc(4096)
    const n = readSync(fd, head, 0, head.length, 0)
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const line = head.subarray(2, n).toString('latin1').split('\n')[0]!.trim()
      return line.split(/\s+/)[0] || undefined
    }
    if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined
    // 64-bit little-endian ELF: walk the program headers for PT_INTERP.
    const phoff = Number(head.readBigUInt64LE(32))
    const phentsize = head.readUInt16LE(54)
    const phnum = head.readUInt16LE(56)
    const table = Buffer.alloc(phentsize * phnum)
    readSync(fd, table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) {
      const ph = table.subarray(i * phentsize)
      if (ph.readUInt32LE(0) !== 3) continue
      const off = Number(ph.readBigUInt64LE(8))
      const size = Math.min(Number(ph.readBigUInt64LE(32)), 4096)
      const name = Buffer.alloc(size)
      readSync(fd, name, 0, size, off)
      return name.toString('latin1').replace(/\0.*$/s, '') || undefined
    }
    return undefined
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

export const under = (path: string, dir: string) =>
  path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`)

/** The file `path` names, through links, as device and inode: one directory under any of its
 * names or mounts. Undefined when it cannot be stat'ed. */
export function fileId(path: string): string | undefined {
  try {
    const st = statSync(fsPath(path), { bigint: true })
    return `${st.dev}:${st.ino}`
  } catch {
    return undefined
  }
}
