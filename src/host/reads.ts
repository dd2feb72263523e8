// The host reads a plan's compilation depends on (the view's paths, bind sources, mounts, the
// subordinate id ranges), made through here so that they can be recorded: spawn() reuses a plan
// it compiled earlier only while every one of these reads still gets the same answer
// (run/prepare.ts), which makes the reuse exactly a fresh compile.
import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  type Stats,
} from 'node:fs'
import { posix } from 'node:path'
import { loadAddon } from './addon.js'
import { fsPath, hasEscapedBytes, pathFromBytes } from './path-bytes.js'

/** One read and what it answered: the value the compiler used, or the error's code. */
export interface HostRead {
  op: 'lstat' | 'readlink' | 'readdir' | 'dirents' | 'text'
  path: string
  answer: string
}

let recording: HostRead[] | undefined

const failure = (e: unknown) => `!${(e as NodeJS.ErrnoException).code ?? String(e)}`
/** A link's target, a directory's names and a file's text are tagged: any of them can read
 * `!ENOENT` (a link to that name, a directory holding only that entry), which untagged was the
 * answer a failure gives, so a path that failed at the compile and now holds that value passed
 * as unchanged. An lstat's answer (digits) and a directory's entries (a kind letter first) cannot. */
const tagged = (text: string) => `=${text}`

// Every read gives the kernel the path's own bytes (path-bytes.ts fsPath): with a string holding
// escaped bytes, Node asked about a sibling name, which anyone who can write the parent
// directory can make (a planted symlink there reshaped a root caller's view).

const lstatOf = (path: string) => lstatSync(fsPath(path), { throwIfNoEntry: false })
// Names the kernel gives back keep their bytes (pathFromBytes), as paths do.
const readlinkOf = (path: string) => pathFromBytes(readlinkSync(fsPath(path), { encoding: 'buffer' }))
const readdirOf = (path: string) =>
  readdirSync(fsPath(path), { encoding: 'buffer' }).map((n) => pathFromBytes(n))
const direntsOf = (path: string) =>
  readdirSync(fsPath(path), { encoding: 'buffer', withFileTypes: true }).map(
    (d) => Object.assign(d, { name: pathFromBytes(d.name as unknown as Buffer) }) as unknown as Dirent,
  )
/** Larger, a text read fails (EFBIG): a recorded file replaced by a huge one is not read whole. */
const MAX_TEXT = 8 << 20

/** A regular file's text by its descriptor, opened without waiting (a FIFO put in its place
 * would hang the read: ENOTREG), at most `max` bytes (EFBIG beyond). */
function textByFd(
  path: string | Buffer,
  max: number,
  flags = 0,
  opened?: (fd: number) => void,
): { text: string; st: Stats } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | flags)
  try {
    opened?.(fd)
    const st = fstatSync(fd)
    if (st.isDirectory()) throw Object.assign(new Error(`${String(path)}: a directory`), { code: 'EISDIR' })
    if (!st.isFile())
      throw Object.assign(new Error(`${String(path)}: not a regular file`), { code: 'ENOTREG' })
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size, 4096) + 1, max + 1 - total))
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > max)
        throw Object.assign(new Error(`${String(path)}: larger than ${max} bytes`), { code: 'EFBIG' })
    }
    return { text: Buffer.concat(chunks).toString('utf8'), st }
  } finally {
    closeSync(fd)
  }
}
const textOf = (path: string) => textByFd(fsPath(path), MAX_TEXT).text

/** Runs op, records its answer when a recording is on, and returns or throws as op did. */
function read<T>(op: HostRead['op'], path: string, run: () => T, answer: (v: T) => string): T {
  if (!recording) return run()
  const reads = recording
  try {
    const value = run()
    reads.push({ op, path, answer: answer(value) })
    return value
  } catch (e) {
    reads.push({ op, path, answer: failure(e) })
    throw e
  }
}

// What the compiler uses of an lstat: the type and permission bits, the owner, and a file's number
// of links (a masked file's hard links elsewhere are warned of: policy/mask-links.ts; a
// directory's count changes with every subdirectory made in it, which the compiler never reads).
const statAnswer = (st: Stats | undefined) =>
  st ? `${st.mode}:${st.uid}${st.isFile() ? `:${st.nlink}` : ''}` : '!ENOENT'

/** undefined for a missing path: no error built (most of the view's /proc masks are missing). */
export const hostLstat = (path: string): Stats | undefined =>
  read('lstat', path, () => lstatOf(path), statAnswer)
export const hostReadlink = (path: string): string => read('readlink', path, () => readlinkOf(path), tagged)
export const hostReaddir = (path: string): string[] =>
  read(
    'readdir',
    path,
    () => readdirOf(path),
    (names) => tagged(names.join('\0')),
  )
/** A directory's entries with their kinds (the kernel's d_type: no lstat per entry). */
export const hostDirents = (path: string): Dirent[] =>
  read('dirents', path, () => direntsOf(path), direntsAnswer)
const direntsAnswer = (entries: Dirent[]) =>
  entries.map((d) => `${d.isSymbolicLink() ? 'l' : d.isDirectory() ? 'd' : 'f'}${d.name}`).join('\0')
export const hostReadText = (path: string): string => read('text', path, () => textOf(path), tagged)

/** A file's text where any process could read it through the bind that shows it, for a copy a
 * sandbox is given of it (its /etc/hosts: plan/sandbox-hosts.ts, made by a caller that may be
 * root): a regular file others may read, in directories others may search from `from` (the
 * bind's source) down, no symbolic link on the way, at most `max` bytes; opened without
 * following a link or waiting on a FIFO, and the same file (device and inode) and the same way
 * to it after the read as before. undefined otherwise. Recorded as the lstats of the way and the
 * file, then the text: a plan is reused only while all answer the same. */
export function hostReadPublicText(path: string, from: string, max: number): string | undefined {
  if (hasEscapedBytes(path) || !path.startsWith(`${from === '/' ? '' : from}/`)) return undefined
  const way: string[] = []
  for (let dir = posix.dirname(path); ; dir = posix.dirname(dir)) {
    way.unshift(dir)
    if (dir === from || dir === '/') break
  }
  const dirs = way.map((d) => hostLstat(d))
  if (!dirs.every((st) => st?.isDirectory() && st.mode & 0o001)) return undefined
  const file = hostLstat(path)
  if (!file?.isFile() || !(file.mode & 0o004) || file.size > max) return undefined
  let text: string
  try {
    const read = textByFd(path, max, constants.O_NOFOLLOW, (fd) => {
      // Where the kernel opened it: a directory of the way swapped for a link just for the open
      // (and back) led elsewhere, which neither O_NOFOLLOW (the last component only) nor the
      // checks around the open see.
      if (readlinkSync(`/proc/self/fd/${fd}`) !== path) throw new Error('opened elsewhere')
    })
    if (read.st.ino !== file.ino || read.st.dev !== file.dev) return undefined
    text = read.text
    // The way as it was: a directory swapped for a link while the file was opened leads elsewhere.
    const same = (d: string, i: number) => {
      const st = lstatSync(d, { throwIfNoEntry: false })
      return st?.isDirectory() && st.ino === dirs[i]!.ino && st.dev === dirs[i]!.dev
    }
    if (!way.every(same) || realpathSync(path) !== path) return undefined
  } catch {
    return undefined
  }
  return read('text', path, () => text, tagged)
}

/** fn's value and every host read it made through this module. */
export function recordHostReads<T>(fn: () => T): { value: T; reads: HostRead[] } {
  const outer = recording
  const reads: HostRead[] = []
  recording = reads
  try {
    return { value: fn(), reads }
  } finally {
    recording = outer
    outer?.push(...reads)
  }
}

/** Whether each read, made again now, answers as it did. The addon makes them first (C: the
 * system calls alone, where Node built a Stats object per lstat and a Dirent and a string per name
 * of /etc, ~4 ms of a filed `cordon run` while its launcher waited for the go); whatever it does
 * not confirm is made here, so an answer C cannot give in Node's form is never taken as same. */
export function sameHostReads(reads: readonly HostRead[]): boolean {
  const confirmed = confirmedByAddon(reads)
  return reads.every((r, i) => confirmed?.[i] === 1 || againAnswer(r) === r.answer)
}

/** The read made again here, its answer in the recorded form. */
function againAnswer(r: HostRead): string {
  try {
    switch (r.op) {
      case 'lstat':
        return statAnswer(lstatOf(r.path))
      case 'readlink':
        return tagged(readlinkOf(r.path))
      case 'readdir':
        return tagged(readdirOf(r.path).join('\0'))
      case 'dirents':
        return direntsAnswer(direntsOf(r.path))
      case 'text':
        return tagged(textOf(r.path))
    }
  } catch (e) {
    return failure(e)
  }
}

const ADDON_OPS: Record<HostRead['op'], number> = { lstat: 1, readlink: 2, readdir: 3, dirents: 4, text: 5 }

/** One byte per read, 1 where the addon confirmed it (native/host-reads.h has the encoding);
 * undefined without an addon that can. A path or answer holding escaped bytes (a name that is not
 * UTF-8) goes as op 0, left to JavaScript: its UTF-8 is not the bytes the kernel has. */
export function confirmedByAddon(reads: readonly HostRead[]): Buffer | undefined {
  const addon = loadAddon()
  if (!addon?.sameReads || reads.length === 0) return undefined
  let size = 0
  for (const r of reads) size += 9 + Buffer.byteLength(r.path) + Buffer.byteLength(r.answer)
  const encoded = Buffer.allocUnsafe(size)
  let at = 0
  for (const r of reads) {
    const plain = !hasEscapedBytes(r.path) && !hasEscapedBytes(r.answer)
    encoded[at] = plain ? ADDON_OPS[r.op] : 0
    const pathLength = encoded.write(r.path, at + 5)
    encoded.writeUInt32LE(pathLength, at + 1)
    at += 5 + pathLength
    const answerLength = encoded.write(r.answer, at + 4)
    encoded.writeUInt32LE(answerLength, at)
    at += 4 + answerLength
  }
  const same = Buffer.alloc(reads.length)
  return addon.sameReads(encoded, same) === reads.length ? same : undefined
}

/** Records every host read made through this module from now until stop() (which returns them,
 * each once): for a span of synchronous code that recordHostReads cannot wrap, across the
 * functions it spans (`cordon run`: its policy, then spawn()'s compile). stop() is idempotent. */
export function startRecording(): { stop(): HostRead[] } {
  const outer = recording
  const reads: HostRead[] = []
  recording = reads
  let stopped = false
  return {
    stop() {
      if (!stopped && recording === reads) recording = outer
      stopped = true
      return uniqueReads(reads)
    },
  }
}

/** A read made twice with one answer is checked once (the view and Landlock both ask for /proc's
 * entries); two different answers both stay, so the plan is never reused. */
export function uniqueReads(reads: readonly HostRead[]): HostRead[] {
  const seen = new Set<string>()
  return reads.filter((r) => {
    const id = `${r.op}\0${r.path}\0${r.answer}`
    return seen.has(id) ? false : (seen.add(id), true)
  })
}
