// Compiled linux.seccomp filters kept in the state root (ROOT/seccomp@cache), so that a
// container whose profile an earlier `create` compiled skips the compiler: Docker and Podman
// give every container the same profile, and compiling it cost ~15-20 ms of each create's CPU
// (README, start-up). An entry is used only for byte-equal input: it holds every byte the
// compiler's output depends on (the profile, the bounding capabilities its rules test, the
// arch, the kernel release its minKernel rules test, this build of cordon-oci and Node), all
// compared; the file name is a hash that only finds the entry. Trust: the entry must be a
// regular file of our euid, writable by no one else, reached without a symlink, in a directory
// of the same kind in the (already checked) state root; written whole (temporary + rename).
// Anything else is a miss, and the filter is compiled as if there were no cache.
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { release } from 'node:os'

/** The bundle's build id (scripts/bundle-cli.mjs: a hash of the bundle itself); undefined when
 * the runtime runs unbundled, and the cache is off: nothing would tell two builds apart. */
declare const __CORDON_OCI_BUILD__: string | undefined
export const BUILD: string | undefined =
  typeof __CORDON_OCI_BUILD__ === 'string' ? __CORDON_OCI_BUILD__ : undefined

/** `@`, which no container id holds (state.ts containerDir), as `cgroups@made`. */
export const CACHE_DIR = 'seccomp@cache'
const MAGIC = Buffer.from('cordon-oci seccomp filter 1\n')
/** No entry is larger: a profile is a few KiB, a program at most 4096 instructions. */
const MAX_ENTRY = 1 << 20
const MAX_PROGRAM = 4096 * 8

export interface CachedFilter {
  program: Uint8Array
  /** The plan note of the compile (instructions, names this kernel's tables lack). */
  note: string
}

/** Every input of the compile of `seccomp` for a process with these bounding capabilities,
 * as the bytes an entry must hold: a change to any of them is another entry. */
export function filterInput(
  build: string,
  seccomp: unknown,
  caps: readonly string[],
  arch: string = process.arch,
  kernel: string = release(),
): Buffer {
  return Buffer.from(JSON.stringify({ build, node: process.version, arch, kernel, caps, seccomp }))
}

/** The entry's file name: FNV-1a over the input, two 32-bit lanes (a name, not a check). */
export function entryName(input: Uint8Array): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ input.length
  // An indexed loop: for-of over a Buffer cost ~4x more in the interpreter a create runs in.
  for (let i = 0; i < input.length; i++) {
    a = Math.imul(a ^ input[i]!, 0x01000193)
    b = Math.imul(b ^ input[i]!, 0x01000193) ^ (a >>> 15)
  }
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}.bpf`
}

/** fd is ours and no one else may write it (DESIGN.md: host-side state private to its caller). */
function trusted(fd: number, dir: boolean): boolean {
  const st = fstatSync(fd)
  return (
    (dir ? st.isDirectory() : st.isFile() && st.nlink === 1) &&
    st.uid === process.geteuid?.() &&
    (st.mode & 0o022) === 0
  )
}

/** The cache directory, checked; undefined when missing or not trusted. */
function cacheDir(root: string): string | undefined {
  const dir = `${root}/${CACHE_DIR}`
  let fd: number | undefined
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
    return trusted(fd, true) ? dir : undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function readEntry(path: string): Buffer | undefined {
  let fd: number | undefined
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    if (!trusted(fd, false)) return undefined
    const size = fstatSync(fd).size
    if (size > MAX_ENTRY) return undefined
    const data = Buffer.alloc(size)
    for (let at = 0; at < size;) {
      const n = readSync(fd, data, at, size - at, at)
      if (n === 0) return undefined
      at += n
    }
    return data
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** MAGIC, u32 input length, input, u32 note length, note, program (the rest). */
function encodeEntry(input: Buffer, filter: CachedFilter): Buffer {
  const note = Buffer.from(filter.note)
  const len = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n, 0)
    return b
  }
  return Buffer.concat([MAGIC, len(input.length), input, len(note.length), note, filter.program])
}

function decodeEntry(data: Buffer, input: Buffer): CachedFilter | undefined {
  let at = MAGIC.length
  if (data.length < at + 8 || !data.subarray(0, at).equals(MAGIC)) return undefined
  const inputLen = data.readUInt32LE(at)
  at += 4
  if (inputLen !== input.length || data.length < at + inputLen + 4) return undefined
  if (!data.subarray(at, at + inputLen).equals(input)) return undefined
  at += inputLen
  const noteLen = data.readUInt32LE(at)
  at += 4
  if (data.length < at + noteLen) return undefined
  const note = data.subarray(at, at + noteLen).toString('utf8')
  const program = data.subarray(at + noteLen)
  if (program.length === 0 || program.length % 8 !== 0 || program.length > MAX_PROGRAM) return undefined
  return { program: new Uint8Array(program), note }
}

/** The filter an earlier compile of exactly `input` stored in the state root, if any. */
export function lookupFilter(root: string, input: Buffer): CachedFilter | undefined {
  const dir = cacheDir(root)
  if (!dir) return undefined
  const data = readEntry(`${dir}/${entryName(input)}`)
  return data && decodeEntry(data, input)
}

/** Stores a fresh compile of `input` for the next create; a failure only loses the saving. */
export function storeFilter(root: string, input: Buffer, filter: CachedFilter): void {
  const dir = `${root}/${CACHE_DIR}`
  try {
    mkdirSync(dir, { mode: 0o700 })
  } catch {}
  if (!cacheDir(root)) return
  const path = `${dir}/${entryName(input)}`
  const tmp = `${path}.${process.pid}.tmp`
  let fd: number | undefined
  try {
    fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    )
    const data = encodeEntry(input, filter)
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
  } catch {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {}
  }
}
