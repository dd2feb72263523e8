// cordon's own lines on stderr (warnings, errors, alerts, the monitor's notices), written to fd 2
// itself. process.stderr is a stream Node builds on first use, and for a pipe libuv makes fd 2
// non-blocking: the file description the sandboxed program shares, which then gets EAGAIN from a
// pipe a reader is a moment late to empty (observation must not change the program; it also
// loads node:net, ~3 ms of a run's start).
//
// Nor may a reader that is late (or never reads, or a terminal stopped with Ctrl-S) stop cordon:
// a blocking write would hold the event loop, and with it the run's timeout and every other
// timer. So when fd 2 is a pipe, a FIFO or a terminal, cordon writes through a description of its
// own (opened from /proc/self/fd/2), non-blocking for cordon alone; the program's stays blocking.
// (O_NOCTTY: a cordon without a controlling terminal must not gain the one it writes to.) A socket
// has no such description to open: cordon sends to fd 2 with MSG_DONTWAIT through its addon, which
// waits for nothing and leaves the description's flags as they are.
// What the reader does not take yet waits in a bounded queue, in order, retried on a timer and
// written out when cordon exits (into room made for it in a pipe; a reader that takes nothing
// for a second then loses the rest); past the bound, lines are dropped and counted, and the
// count is reported once the reader catches up.
import { closeSync, constants, fstatSync, openSync } from 'node:fs'
import { constants as os } from 'node:os'
import { loadAddon } from './addon.js'
import { writeAll } from './write-all.js'

type Write = (bytes: Uint8Array) => { written: number; error?: NodeJS.ErrnoException }

/** Bytes of cordon's lines that may wait for a slow stderr reader; later ones are dropped. */
const QUEUE_BOUND = 1 << 20
const RETRY_MS = 10

/** fd 2 for cordon's own writes: undefined until first use, -1 to write fd 2 itself. */
let own: number | undefined
/** How a line goes out without waiting: through `own`, or sent on the socket at fd 2. */
let writeNow: Write | undefined
/** fd 2 is a terminal (or another character device): lines end in CR LF. While a sandbox runs
 * with a console, the launcher holds the caller's terminal raw (native/console.c: every key is
 * the sandbox's), and raw output does not turn LF into CR LF: each of cordon's lines began where
 * the one before ended, a staircase across the screen. A terminal in its usual mode shows CR CR
 * LF as it shows CR LF; a character device that is no terminal (/dev/null) takes anything. */
let terminal = false
const queue: Buffer[] = []
let queued = 0
let dropped = 0
let retry: NodeJS.Timeout | undefined

/** process.stderr once a line had to wait in it (fd 2 non-blocking already, no own description). */
let waiting: NodeJS.WriteStream | undefined

/** The writer that never waits, made on first use; undefined where there is none (a file, fd 2
 * closed, no /proc, a socket without the addon): fd 2 is written as it is, as before. */
function nonBlocking(): Write | undefined {
  if (own !== undefined) return writeNow
  own = -1
  try {
    const st = fstatSync(2)
    terminal = st.isCharacterDevice()
    if (st.isFIFO() || st.isCharacterDevice()) {
      const fd = openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      own = fd
      writeNow = (bytes) => writeAll(fd, bytes)
    } else if (st.isSocket()) {
      const addon = loadAddon()
      if (addon) writeNow = (bytes) => sendAll(addon.send.bind(addon), bytes)
    }
  } catch {
    own = -1 // no /proc: fd 2 itself, as before
  }
  if (writeNow) process.once('exit', flushAtExit)
  return writeNow
}

/** writeAll's answer for send(2) on fd 2 without waiting: EAGAIN when the reader is behind. */
function sendAll(send: (fd: number, bytes: Uint8Array) => number, bytes: Uint8Array): ReturnType<Write> {
  let written = 0
  while (written < bytes.length) {
    const n = send(2, written ? bytes.subarray(written) : bytes)
    if (n < 0) {
      const code = -n === os.errno.EAGAIN ? 'EAGAIN' : -n === os.errno.EPIPE ? 'EPIPE' : `errno ${-n}`
      return { written, error: Object.assign(new Error(code), { code, errno: n }) }
    }
    written += n
  }
  return { written }
}

/** Writes what the queue holds, as far as the reader takes it; true when all went. */
function drain(write: Write): boolean {
  let failed = false
  while (queue.length) {
    const head = queue[0]!
    const { written, error } = write(head)
    queued -= written
    if (written < head.length) {
      queue[0] = head.subarray(written)
      if (error?.code === 'EAGAIN') return false
      // EPIPE and the like (the reader is gone), or EMSGSIZE (a datagram socket refusing one
      // line): this line is lost and counted; the ones behind it are tried on their own.
      queued -= head.length - written
      failed = true
    }
    queue.shift()
  }
  // The count of lines the bound dropped, once the reader caught up (not after a failed write:
  // a reader gone would fail the note too).
  if (dropped && !failed) {
    const note = Buffer.from(`cordon: ${dropped} of cordon's lines dropped: stderr was not read\n`)
    dropped = 0
    queue.push(note)
    queued += note.length
    return drain(write)
  }
  return true
}

function schedule(write: Write): void {
  if (retry) return
  retry = setTimeout(() => {
    retry = undefined
    if (!drain(write)) schedule(write)
  }, RETRY_MS)
  retry.unref() // the exit handler writes what is left
}

/** How long cordon, exiting, waits for a stderr reader that takes nothing: the relay's deadline
 * for a run that ended when asked to (native/stdio-relay.c HURRY_MS). */
const EXIT_PATIENCE_MS = 1000
/** A pipe or socket is grown for what waits up to this size (past twice the queue's bound). */
const GROW_CAP = 8 << 20

/** At exit the run is over: what waits goes out, into room made for it where fd 2 is a pipe or
 * a socket (grown as far as the caller's limits let it: the reader finds it there), else as the
 * reader takes it. A reader that takes nothing for a second loses the rest (a terminal's is
 * waited for: a person may have pressed Ctrl-S). cordon waited for good before, and a run's
 * `--timeout` did not hold: a caller that reads stderr once cordon has exited (Python's
 * `Popen.wait()` before `communicate()`) waited forever where `timeout` returns. */
function flushAtExit(): void {
  if (retry) clearTimeout(retry)
  const write = writeNow
  const fd = own ?? -1
  writeNow = undefined
  if (write && queue.length) {
    const addon = loadAddon()
    let growing = addon?.growRoom !== undefined
    const pause = new Int32Array(new SharedArrayBuffer(4))
    let left = queued
    let since = process.hrtime.bigint()
    while (!drain(write)) {
      const now = process.hrtime.bigint()
      if (queued < left) {
        left = queued
        since = now
        continue
      }
      if (growing) {
        const size = addon!.growRoom!(fd >= 0 ? fd : 2)
        growing = size > 0 && size < GROW_CAP
        if (size > 0) continue
      }
      // A terminal's reader is a person, who may have pressed Ctrl-S: waited for, as before.
      if (!terminal && now - since >= BigInt(EXIT_PATIENCE_MS) * 1_000_000n) break
      Atomics.wait(pause, 0, 0, RETRY_MS)
    }
  }
  if (fd >= 0) closeSync(fd)
  own = -1
}

function enqueue(bytes: Buffer): void {
  if (queued + bytes.length > QUEUE_BOUND) {
    dropped++
    return
  }
  queue.push(bytes)
  queued += bytes.length
}

/** Writes text to fd 2, all of it, without ever holding cordon up (see above). A stderr that is
 * neither a pipe, a terminal nor a socket (a file) is written as before: blocking, or through
 * process.stderr when it is non-blocking already (EAGAIN: whoever opened it made it so). One that
 * cannot be written (closed: EPIPE) loses the line, which is not worth failing the run for. */
export function writeStderr(text: string): void {
  const write = nonBlocking()
  const bytes = Buffer.from(terminal ? text.replace(/\r?\n/g, '\r\n') : text)
  if (write) {
    if (queue.length) return enqueue(bytes)
    const { written, error } = write(bytes)
    if (written === bytes.length) return
    if (error && error.code !== 'EAGAIN') return // EPIPE and the like: the line is lost
    enqueue(bytes.subarray(written))
    return schedule(write)
  }
  if (waiting && !waiting.destroyed && waiting.writableLength > 0) return void waiting.write(bytes)
  const { written, error } = writeAll(2, bytes)
  if (error?.code === 'EAGAIN') (waiting = process.stderr).write(bytes.subarray(written))
}
