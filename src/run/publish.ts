// The event stream of a running sandbox, served on a unix socket for `cordon monitor`.
import { chmodSync, unlinkSync } from 'node:fs'
import type { Server, Socket } from 'node:net'
import { writeAll } from '../host/write-all.js'
import { net } from '../builtin.js'
import { acceptWaiting, closeFd, listenUnix } from './launcher-process.js'

const MAX_CLIENT_BACKLOG = 1 << 20
/** How long a socket bound by the addon waits before this process accepts on it. net's listen
 * loads node:cluster, child_process and dgram (~5 ms of CPU, README "CLI start-up"): a run
 * shorter than this never pays it. A client that connects sooner waits in the kernel's queue
 * and, once accepted, reads every line since the start (kept meanwhile, up to MAX_EARLY): it
 * misses nothing it would have read had it been accepted at once. */
const ACCEPT_AFTER_MS = 100
/** The lines kept for clients that connected before the socket was served (bytes). */
const MAX_EARLY = 1 << 20

export interface Publisher {
  path: string
  send(line: string, replay?: boolean): void
  close(): void
}

/** Serves the event lines to every client of a unix socket; a client that reads too slowly
 * misses lines rather than holding memory or the sandbox back. Node cannot read a client's
 * SO_PEERCRED, so the peer check is the filesystem's: the socket is made 0600 in the caller's
 * 0700 state directory (registry.ts openRegistry), where only the caller and root can reach it.
 * The socket exists when this returns (a registry record may name it at once); connections are
 * accepted from ACCEPT_AFTER_MS on where cordon's addon bound it, else at once. */
export function publish(path: string): Publisher | undefined {
  const clients = new Set<Socket>()
  // Lines a client that connects later must still see, so that it judges events as one that
  // was there from the start does: `started` (execs before it are the launcher's own).
  const replayed: string[] = []
  /** Every line so far, until one turn of the loop after the socket is served: the clients the
   * kernel queued meanwhile are accepted in that turn, and read these first. */
  let early: string[] | undefined = []
  let earlyBytes = 0
  try {
    unlinkSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined
  }
  let server: Server | undefined
  /** What a client accepted now reads first. */
  const backlog = () => (early && earlyBytes <= MAX_EARLY ? early : replayed)
  const serve = (listen: (s: Server) => void) => {
    server = net().createServer((socket) => {
      for (const line of backlog()) socket.write(`${line}\n`)
      clients.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => clients.delete(socket))
      socket.resume() // clients do not talk; ignore what they send
    })
    server.on('error', () => {})
    listen(server)
    server.unref()
    // A client queued before the listen is accepted in the loop's next poll, before this runs.
    setImmediate(() => (early = undefined)).unref()
  }
  const fd = listenUnix(path)
  let timer: NodeJS.Timeout | undefined
  if (fd === undefined)
    serve((s) =>
      s.listen({ path, readableAll: false, writableAll: false }, () => {
        try {
          chmodSync(path, 0o600)
        } catch {}
      }),
    )
  else if (fd < 0)
    return undefined // no socket: the record names none
  else {
    timer = setTimeout(() => serve((s) => s.listen({ fd })), ACCEPT_AFTER_MS)
    timer.unref()
  }
  return {
    path,
    send(line, replay = false) {
      if (replay) replayed.push(line)
      if (early && (earlyBytes += line.length + 1) <= MAX_EARLY) early.push(line)
      for (const c of clients) if (c.writableLength < MAX_CLIENT_BACKLOG) c.write(`${line}\n`)
    },
    close() {
      clearTimeout(timer)
      for (const c of clients) c.end()
      // The clients the kernel queued that nothing accepted yet (a run shorter than
      // ACCEPT_AFTER_MS, or one that ends in the turn its socket is served) get their lines now,
      // as much as their socket takes at once, then the end: closed unaccepted, they would read
      // a reset.
      if (fd !== undefined) {
        const text = Buffer.from(
          backlog()
            .map((line) => `${line}\n`)
            .join(''),
        )
        for (const c of acceptWaiting(fd)) {
          writeAll(c, text) // EAGAIN: a client that reads slower than the run misses the rest
          closeFd(c)
        }
      }
      if (server) server.close()
      else if (fd !== undefined) closeFd(fd)
      try {
        unlinkSync(path)
      } catch {}
    },
  }
}
