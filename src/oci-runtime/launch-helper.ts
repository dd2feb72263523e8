// The launch helper of the C entry point (native/oci-launch.h): for `create`, bin/cordon-oci
// forks a small C process before it execs Node, and that process runs the launcher when asked,
// so this Node never loads node:child_process for it (child-process.ts). The protocol is in
// oci-launch.h; the launcher gets what spawnSync would give it: this process's environment,
// working directory, fds 0-2 and the preserved ones, and the umask create set.
import { closeSync, fstatSync, readSync, writeSync } from 'node:fs'
import { constants } from 'node:os'

const LAUNCH_FD_ENV = 'CORDON_OCI_LAUNCH_FD'
const EXITED = 0
const SIGNALED = 1

/** The helper's socket, taken out of the environment so that no child of this process sees the
 * variable; undefined without a helper (Node started otherwise, or the C entry could not fork
 * one). The fd is not close-on-exec: close it (releaseLaunchHelper) before spawning anything. */
export function takeLaunchHelper(): number | undefined {
  const value = process.env[LAUNCH_FD_ENV]
  delete process.env[LAUNCH_FD_ENV]
  if (value === undefined || !/^[1-9][0-9]{0,6}$/.test(value)) return undefined
  const fd = Number(value)
  try {
    return fstatSync(fd).isSocket() ? fd : undefined
  } catch {
    return undefined
  }
}

/** Lets the helper go unused (it exits on EOF). */
export function releaseLaunchHelper(fd: number | undefined): void {
  if (fd === undefined) return
  try {
    closeSync(fd)
  } catch {}
}

function writeAll(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length; ) at += writeSync(fd, data, at)
}

function readAll(fd: number, size: number): Buffer | undefined {
  const out = Buffer.alloc(size)
  for (let at = 0; at < size; ) {
    const n = readSync(fd, out, at, size - at, null)
    if (n === 0) return undefined
    at += n
  }
  return out
}

const errnoName = (n: number): string =>
  Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`

/** Runs `path args` through the helper and waits for it, as spawnSync: the exit status (null
 * when a signal ended it) or the error that kept it from running. Closes fd. */
export function launchThrough(
  fd: number,
  path: string,
  args: string[],
  umask: number,
): { status: number | null; error?: Error } {
  try {
    const strings = Buffer.from([path, ...args].map((a) => `${a}\0`).join(''))
    const head = Buffer.alloc(8)
    head.writeUInt32LE(4 + strings.length, 0)
    head.writeUInt32LE(umask, 4)
    writeAll(fd, Buffer.concat([head, strings]))
    const answer = readAll(fd, 8)
    if (!answer) return { status: null, error: new Error(`spawnSync ${path}: the launch helper ended`) }
    const kind = answer.readInt32LE(0)
    const value = answer.readInt32LE(4)
    if (kind === EXITED) return { status: value }
    if (kind === SIGNALED) return { status: null }
    const code = errnoName(value)
    return { status: null, error: Object.assign(new Error(`spawnSync ${path} ${code}`), { code }) }
  } finally {
    releaseLaunchHelper(fd)
  }
}
