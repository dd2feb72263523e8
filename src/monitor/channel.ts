// Where machine-readable lines go: a file or descriptor of the caller's, never the program's
// stdout or stderr (the program could print a forged line there). Files are opened without
// following links and only when they are the caller's own; writes never block the monitor and
// never hold unbounded memory: past the bound, lines are dropped and counted.
import {
  closeSync,
  constants,
  createWriteStream,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  type WriteStream,
  writeSync,
} from 'node:fs'
import { CordonError } from '../errors.js'
import { fsPath } from '../host/path-bytes.js'

/** Something that takes whole lines (without their newline). */
export interface LineWriter {
  readonly name: string
  write(line: string): void
}

/** Lines waiting for a slow reader beyond this are dropped (and counted), default 8 MiB. */
export const MAX_PENDING_BYTES = 8 * 2 ** 20

/** Whether the file's first byte is `{` (JSON lines, as cordon writes them). */
function startsWithBrace(path: string): boolean {
  let fd: number | undefined
  try {
    fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    const first = Buffer.alloc(1)
    return readSync(fd, first, 0, 1, 0) === 1 && first[0] === 0x7b
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Opens PATH for cordon's own output (events, alerts): O_NOFOLLOW (a link planted at the path
 * is refused, not followed), created 0600, and refused unless it is a regular file owned by the
 * caller with no other hard link, so cordon (root especially) never writes into someone else's
 * file. `what` names the flag for the error message.
 */
export function openOwnFile(path: string, what: string, options: { truncate: boolean }): number {
  const flags =
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK
  let fd: number
  try {
    fd = openSync(fsPath(path), flags, 0o600)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new CordonError(
      'invalid_usage',
      code === 'ELOOP'
        ? `${what} ${path}: is a symbolic link, and cordon does not follow links for its output; give the real path`
        : `${what} ${path}: cannot open it (${code ?? (e as Error).message}); give a path in a directory you can write`,
      { cause: e },
    )
  }
  const st = fstatSync(fd)
  const uid = process.geteuid?.() ?? st.uid
  const refuse = (why: string) => {
    closeSync(fd)
    throw new CordonError('invalid_usage', `${what} ${path}: ${why}`)
  }
  if (!st.isFile())
    refuse('is not a regular file; for a pipe or terminal, open it yourself and pass --events-fd N')
  if (st.uid !== uid) refuse(`belongs to uid ${st.uid}, not to you (uid ${uid}); choose a path of your own`)
  if (st.nlink > 1) refuse('has other hard links; choose a new path')
  // Only an events file is emptied: a line of JSON starts with `{`. `--events /etc/passwd` as
  // root emptied the password file (a newcomer's slip), which any file of the caller's was open to.
  if (options.truncate && st.size > 0 && !startsWithBrace(path))
    refuse('holds something other than JSON lines, which cordon would empty; remove it or give a new path')
  if (options.truncate) ftruncateSync(fd, 0)
  return fd
}

/** Checks `--events-fd N`: an open descriptor that is not the program's stdin, stdout or stderr. */
export function checkEventsFd(text: string): number {
  const fd = Number(text)
  if (!/^\d+$/.test(text) || fd < 3)
    throw new CordonError(
      'invalid_usage',
      `--events-fd ${text}: expected a descriptor number of 3 or more (0, 1 and 2 are the program's stdin, stdout and stderr), e.g. --events-fd 3 3>events.jsonl`,
    )
  const own = nodesOwn(fd)
  if (own)
    throw new CordonError(
      'invalid_usage',
      `--events-fd ${fd}: descriptor ${fd} is not one the caller opened but Node's own (${own}); open one for cordon, e.g. \`cordon run --events-fd ${fd} ... ${fd}>events.jsonl\``,
    )
  try {
    writeSync(fd, '') // EBADF unless open for writing
  } catch (e) {
    throw new CordonError(
      'invalid_usage',
      `--events-fd ${fd}: descriptor ${fd} is not open for writing (${(e as NodeJS.ErrnoException).code}); open it for cordon, e.g. \`cordon run --events-fd ${fd} ... ${fd}>events.jsonl\``,
    )
  }
  return fd
}

/** What fd is when it is one of the descriptors Node made for itself before cordon's code ran
 * (an epoll, an eventfd, a pipe to itself), not one the caller opened: events written into
 * libuv's wake-up pipe crashed cordon (SIGSEGV) or were lost (helper-114). A caller's fd above
 * 2 that the shell did not open is one of these. Node marks every fd close-on-exec at start,
 * so that flag tells nothing; a pipe whose other end this process holds as well does. */
function nodesOwn(fd: number): string | undefined {
  let target: string
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined // not open: the write below says so; no /proc: nothing to judge by
  }
  if (target.startsWith('anon_inode:')) return target
  if (!target.startsWith('pipe:')) return undefined
  // The same pipe at another fd, read where this one writes (`3>&1` shares a direction).
  const mode = accessMode(fd)
  for (const other of readdirSync('/proc/self/fd'))
    if (Number(other) !== fd)
      try {
        if (readlinkSync(`/proc/self/fd/${other}`) === target && accessMode(Number(other)) !== mode)
          return `${target}, whose other end it holds`
      } catch {} // closed meanwhile (the directory's own fd)
  return undefined
}

/** O_RDONLY, O_WRONLY or O_RDWR of fd's description, from /proc/self/fdinfo. */
function accessMode(fd: number): number {
  const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
  return flags ? Number.parseInt(flags[1]!, 8) & 3 : -1
}

/** Lines to a descriptor, asynchronously, with a bound on what waits; `dropped` counts the rest. */
export class LineChannel implements LineWriter {
  dropped = 0
  /** Why the descriptor failed (the reader went away): later lines are dropped. */
  failed: string | undefined
  private readonly stream: WriteStream
  private readonly maxPending: number
  constructor(
    readonly name: string,
    fd: number,
    options: { close?: boolean; maxPending?: number } = {},
  ) {
    this.maxPending = options.maxPending ?? MAX_PENDING_BYTES
    this.stream = createWriteStream('', { fd, autoClose: options.close !== false })
    this.stream.on('error', (e: NodeJS.ErrnoException) => (this.failed = e.code ?? e.message))
  }
  write(line: string): void {
    if (this.failed || this.stream.writableLength > this.maxPending) {
      this.dropped++
      return
    }
    this.stream.write(`${line}\n`)
  }
  /** Resolves once every accepted line is written (or the descriptor failed). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.failed || this.stream.destroyed) resolve()
      else this.stream.end(resolve)
    })
  }
}
