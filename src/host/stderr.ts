// cordon's own lines on stderr (warnings, errors, alerts, the monitor's notices), written to fd 2
// itself. process.stderr is a stream Node builds on first use, and for a pipe libuv makes fd 2
// non-blocking: the file description the sandboxed program shares, which then gets EAGAIN from a
// pipe a reader is a moment late to empty (observation must not change the program; it also
// loads node:net, ~3 ms of a run's start). writeSync on the blocking fd waits as the program's
// own writes do, and keeps the lines' order with anything else that writes there.
import { writeAll } from './write-all.js'

/** process.stderr once a line had to wait in it; until it is empty, later lines wait behind. */
let waiting: NodeJS.WriteStream | undefined

/** Writes text to fd 2, all of it. A stderr that is non-blocking already (EAGAIN: whoever
 * opened it made it so) gets the rest through process.stderr, which waits on the event loop; one
 * that cannot be written (closed: EPIPE) loses the line, which is not worth failing the run for.
 * While a line waits there, the next ones follow it rather than pass it on fd 2. */
export function writeStderr(text: string): void {
  const bytes = Buffer.from(text)
  if (waiting && !waiting.destroyed && waiting.writableLength > 0) return void waiting.write(bytes)
  const { written, error } = writeAll(2, bytes)
  if (error?.code === 'EAGAIN') (waiting = process.stderr).write(bytes.subarray(written))
}
