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
// (O_NOCTTY: a cordon without a controlling terminal must not gain the one it writes to.)
// What the reader does not take yet waits in a bounded queue, in order, retried on a timer and
// written out (blocking, the run is over) when cordon exits; past the bound, lines are dropped
// and counted, and the count is reported once the reader catches up.
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs'
import { writeAll } from './write-all.js'

/** Bytes of cordon's lines that may wait for a slow stderr reader; later ones are dropped. */
const QUEUE_BOUND = 1 << 20
const RETRY_MS = 10

/** fd 2 for cordon's own writes: undefined until first use, -1 to write fd 2 itself. */
let own: number | undefined
const queue: Buffer[] = []
let queued = 0
let dropped = 0
let retry: NodeJS.Timeout | undefined

/** process.stderr once a line had to wait in it (fd 2 non-blocking already, no own description). */
let waiting: NodeJS.WriteStream | undefined

function ownFd(): number {
  if (own !== undefined) return own
  own = -1
  try {
    const st = fstatSync(2)
    if (st.isFIFO() || st.isCharacterDevice()) {
      own = openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      process.once('exit', flushBlocking)
    }
  } catch {
    own = -1 // a socket, no /proc: fd 2 itself, as before
  }
  return own
}

/** Writes what the queue holds through fd, as far as the reader takes it; true when all went. */
function drain(fd: number): boolean {
  while (queue.length) {
    const head = queue[0]!
    const { written, error } = writeAll(fd, head)
    queued -= written
    if (written < head.length) {
      queue[0] = head.subarray(written)
      if (error?.code === 'EAGAIN') return false
      queue.length = 0 // EPIPE and the like: the reader is gone, the lines are lost
      queued = 0
      return true
    }
    queue.shift()
  }
  if (dropped) {
    const note = Buffer.from(`cordon: ${dropped} of cordon's lines dropped: stderr was not read\n`)
    dropped = 0
    queue.push(note)
    queued += note.length
    return drain(fd)
  }
  return true
}

function schedule(fd: number): void {
  if (retry) return
  retry = setTimeout(() => {
    retry = undefined
    if (!drain(fd)) schedule(fd)
  }, RETRY_MS)
  retry.unref() // the exit handler writes what is left
}

/** At exit the run is over: what waits goes out, however long the reader takes (as before). */
function flushBlocking(): void {
  if (retry) clearTimeout(retry)
  const fd = own ?? -1
  if (fd >= 0) closeSync(fd)
  own = -1
  // fd 2 may be non-blocking (whoever opened it made it so): wait for the reader all the same.
  const pause = new Int32Array(new SharedArrayBuffer(4))
  while (!drain(2)) Atomics.wait(pause, 0, 0, RETRY_MS)
}

function enqueue(bytes: Buffer): void {
  if (queued + bytes.length > QUEUE_BOUND) {
    dropped++
    return
  }
  queue.push(bytes)
  queued += bytes.length
}

/** Writes text to fd 2, all of it, without ever holding cordon up (see above). A stderr that
 * cannot have a description of its own (a socket) is written as before: blocking, or through
 * process.stderr when it is non-blocking already (EAGAIN: whoever opened it made it so). One that
 * cannot be written (closed: EPIPE) loses the line, which is not worth failing the run for. */
export function writeStderr(text: string): void {
  const bytes = Buffer.from(text)
  const fd = ownFd()
  if (fd >= 0) {
    if (queue.length) return enqueue(bytes)
    try {
      const n = writeSync(fd, bytes)
      if (n === bytes.length) return
      enqueue(bytes.subarray(n))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return
      enqueue(bytes)
    }
    return schedule(fd)
  }
  if (waiting && !waiting.destroyed && waiting.writableLength > 0) return void waiting.write(bytes)
  const { written, error } = writeAll(2, bytes)
  if (error?.code === 'EAGAIN') (waiting = process.stderr).write(bytes.subarray(written))
}
