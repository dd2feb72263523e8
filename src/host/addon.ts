// cordon's Node-API addon (native/spawn-addon.c): the launcher started by posix_spawn and its
// channel read on Node's event loop (run/launcher-process.ts), the event socket bound without
// node:net (run/publish.ts), and cordon's own lines sent to a stderr that is a socket without
// waiting (host/stderr.ts). Loaded here, below both users, once per process.
import { constants } from 'node:os'
import { nativePath } from './launcher.js'

export interface Addon {
  /** `blocked`, a signal number, starts blocked in the child. */
  spawn(
    file: string,
    argv: string[],
    env: string[],
    fds: number[],
    blocked?: number,
  ): [number, number] | [number]
  wait(pidfd: number): [number, number] | [number] | null
  kill(pidfd: number, signal: number): number
  /** The signal sent with `value` as its payload (SI_QUEUE): 0, or -errno. Absent from an addon
   * built before it. */
  queue?(pidfd: number, signal: number, value: number): number
  /** Every signal of native/forward-signal.h's forwarded_all but `except` that reaches this
   * process (and of forwarded_sent, sent by another), from now on, passed on to `pid`
   * (FORWARD_SIGNAL with its number when `queued`, else as itself) by a handler in C;
   * `forwardAll(0, false, [])` stops it (the actions they had again).
   * 0, or -errno. Absent from an addon built before it. */
  forwardAll?(pid: number, queued: boolean, except: number[]): number
  socketpair(): [number, number] | [number]
  usable(): boolean
  close(fd: number): number
  listen(path: string): [number]
  accept(fd: number): number[]
  watch(fd: number, callback: (text: string | undefined, end: number | undefined) => void): number
  unwatch(id: number): number
  /** send(2) with MSG_DONTWAIT | MSG_NOSIGNAL: bytes written, or -errno. */
  send(fd: number, bytes: Uint8Array): number
  /** The file mapped (private, populated) and its mtime in ms; null when it cannot be mapped
   * (bin/code-cache.cjs). */
  map(path: string): [Buffer, number] | null
  /** A filed plan's host reads made again (native/host-reads.c): `same[i]` set to 1 for each read
   * whose answer C confirms; the number of reads, or -1 for a malformed encoding. Absent from an
   * addon built before it. */
  sameReads?(encoded: Buffer, same: Buffer): number
  /** Room for twice as much in the pipe or socket that fd writes to: its new size, or -errno.
   * Absent from an addon built before it. */
  growRoom?(fd: number): number
}

let addon: Addon | null | undefined

/** The addon, loaded once from the package's own build (never from a path the environment
 * names: it runs inside this process); null where it is not built, does not load, or the kernel
 * lacks pidfds (Linux < 5.4). CORDON_SPAWN=child_process chooses spawn()'s starter only
 * (run/launcher-process.ts): stderr.ts's send does not depend on it. */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon
  addon = null
  try {
    const module = { exports: {} as Addon }
    process.dlopen(module, nativePath('cordon-spawn.node'), constants.dlopen.RTLD_NOW)
    if (module.exports.usable()) addon = module.exports
  } catch {} // not built (no compiler at install) or not loadable here: child_process serves
  return addon
}

/** The addon as bin/cordon.cjs loaded it from this package's build (to map the CLI's code
 * cache before the bundle ran), so that it is loaded once per process: taken as loadAddon()
 * takes its own, and only before loadAddon() has run. */
export function adoptAddon(loaded: Addon): void {
  if (addon === undefined) addon = loaded.usable() ? loaded : null
}
