// The event stream of a running sandbox, served on a unix socket for `cordon monitor`.
import { chmodSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'

const MAX_CLIENT_BACKLOG = 1 << 20

/** Serves the event lines to every client of a unix socket; a client that reads too slowly
 * misses lines rather than holding memory or the sandbox back. Node cannot read a client's
 * SO_PEERCRED, so the peer check is the filesystem's: the socket is made 0600 in the caller's
 * 0700 state directory (registry.ts openRegistry), where only the caller and root can reach it. */
export function publish(
  path: string,
): { path: string; send(line: string, replay?: boolean): void; close(): void } | undefined {
  const clients = new Set<Socket>()
  // Lines a client that connects later must still see, so that it judges events as one that
  // was there from the start does: `started` (execs before it are the launcher's own).
  const replayed: string[] = []
  const server = createServer((socket) => {
    for (const line of replayed) socket.write(`${line}\n`)
    clients.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => clients.delete(socket))
    socket.resume() // clients do not talk; ignore what they send
  })
  try {
    rmSync(path, { force: true })
  } catch {
    return undefined
  }
  server.on('error', () => {})
  server.listen({ path, readableAll: false, writableAll: false }, () => {
    try {
      chmodSync(path, 0o600)
    } catch {}
  })
  server.unref()
  return {
    path,
    send(line, replay = false) {
      if (replay) replayed.push(line)
      for (const c of clients) if (c.writableLength < MAX_CLIENT_BACKLOG) c.write(`${line}\n`)
    },
    close() {
      for (const c of clients) c.end()
      server.close()
      rmSync(path, { force: true })
    },
  }
}
