// The launcher's process for spawn(): started by cordon's addon (native/spawn-addon.c) where it
// loads, else by child_process. The addon's posix_spawn shares this process's memory until the
// exec, where child_process forks all of Node (page tables copied, and each page written after
// the fork faulted once): spawn() is ~8% faster in bench/startup, and `cordon run` loads no
// child_process to start its launcher (README, "How the launcher starts"). Both give the same
// process: the same fds, environment, signal dispositions (all default) and mask (empty), and
// the same events, as much of ChildProcess as spawn() and its callers use.
import type { ChildProcess, StdioOptions } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { closeSync, openSync, writeSync } from 'node:fs'
import type { Socket } from 'node:net'
import { constants } from 'node:os'
import type { Duplex, Readable, Writable } from 'node:stream'
import { inspect } from 'node:util'
import { type Addon, loadAddon } from '../host/addon.js'
import { forwardAll } from '../host/forward-all.js'
import { FORWARD_SIGNAL } from '../host/launcher.js'
import { hasEscapedBytes } from '../host/path-bytes.js'
import { writeAll } from '../host/write-all.js'
import { childProcess, net } from '../builtin.js'

/** What spawn() and its callers use of the launcher's process; a ChildProcess is one. */
export interface LauncherProcess extends EventEmitter {
  readonly pid?: number | undefined
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  readonly exitCode: number | null
  readonly signalCode: NodeJS.Signals | null
  readonly killed: boolean
  kill(signal?: NodeJS.Signals | number): boolean
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this
  on(event: 'error', listener: (error: Error) => void): this
  once(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this
  once(event: 'error', listener: (error: Error) => void): this
}

/** Passes on to the command a signal this process got as one of its job's: as FORWARD_SIGNAL
 * where the addon started the launcher (blocked in it from the start, so that it never meets
 * the signal's default action), else as the signal itself, which the launcher tells apart less
 * surely (two pending at once are one). */
export function forwardTo(child: LauncherProcess, signal: NodeJS.Signals): boolean {
  return child instanceof AddonProcess ? child.forward(signal) : child.kill(signal)
}

/** Passes on to the launcher, from now on, every signal it takes with --all-signals but `except`
 * (which this process listens to and passes on with forwardTo): by the addon's handler in C
 * (host/forward-all.ts), queued as forwardTo queues. The function returned stops it. */
export function forwardOthers(child: LauncherProcess, except: readonly NodeJS.Signals[]): () => void {
  return forwardAll(child.pid, child instanceof AddonProcess, except) ?? (() => {})
}

/** A started launcher and the socket at its fd 3 (the plan in, the go, the events out). */
export interface Started {
  process: LauncherProcess
  channel: LauncherChannel
}

/** The launcher's end of its fd 3 socket, as spawn() uses it once the plan is written. */
export interface LauncherChannel {
  /** Hands over what the launcher writes as it comes (whole lines, but for a last one without
   * a newline), then calls `end` once: at its end of file, on an error, or after destroy(). */
  read(text: (chunk: string) => void, end: () => void): void
  /** Writes the go byte (native/launcher.c await_go), after the plan. */
  go(): void
  /** Closes it now: a launcher waiting for its go reads end of file. */
  destroy(): void
}

/** For benches and tests: start through child_process although the addon loaded. */
let forced: 'child_process' | undefined

/** The addon as spawn()'s starter (and the event socket's server): none when
 * CORDON_SPAWN=child_process asks for the fallback. */
function starterAddon(): Addon | null {
  return process.env.CORDON_SPAWN === 'child_process' ? null : loadAddon()
}

/** Which starter spawn() uses in this process: what `cordon check` and the tests report. */
export function starter(): 'addon' | 'child_process' {
  return starterAddon() && !forced ? 'addon' : 'child_process'
}

/** Makes spawn() start through child_process (or back), to compare the two in one process. */
export function useStarter(which: 'addon' | 'child_process'): void {
  forced = which === 'child_process' ? which : undefined
}

/** fn's value with spawn() starting through `which`, as it started before after: for one start
 * (spawn() starts its launcher before it returns) in benches and tests. */
export function withStarter<T>(which: 'addon' | 'child_process', fn: () => T): T {
  const before = forced
  useStarter(which)
  try {
    return fn()
  } finally {
    forced = before
  }
}

/** A unix socket bound at path (0600) and listening, by the addon: its fd, or -errno; undefined
 * where the addon does not serve (net's listen() then does, publish.ts). */
export function listenUnix(path: string): number | undefined {
  const a = forced ? null : starterAddon()
  // A path with bytes that are not UTF-8 (path-bytes.ts) would reach the addon re-encoded.
  if (!a || hasEscapedBytes(path)) return undefined
  return a.listen(path)[0]
}

/** The connections waiting on a socket of listenUnix's (non-blocking fds), accepted now. */
export function acceptWaiting(fd: number): number[] {
  return starterAddon()?.accept(fd) ?? []
}

/** Closes an fd the addon made (listenUnix's, acceptWaiting's). */
export function closeFd(fd: number): void {
  starterAddon()?.close(fd)
}

type Stdio = 'inherit' | 'pipe' | 'ignore' | number
/** One fd's stdio, as child_process takes it in an array. */
export type StdioEntry = Extract<StdioOptions, unknown[]>[number]

/** Starts file with args (argv[0] is file) and stdio for fds 0-2, fd 3 a socket to this
 * process, with `first` (the plan) written to it first. Stdio other than 'inherit', 'pipe',
 * 'ignore' or an fd goes through child_process. */
export function startLauncher(
  file: string,
  args: readonly string[],
  stdio: readonly StdioEntry[],
  env: NodeJS.ProcessEnv,
  first?: Uint8Array,
): Started {
  const a = forced ? null : starterAddon()
  const plain = stdio.map((s, i) => (s ?? (i < 3 ? 'pipe' : 'ignore')) as unknown)
  if (a && plain.every(isPlain))
    return new AddonProcess(a, file, args, plain as Stdio[], env, first).started()
  const child: ChildProcess = childProcess().spawn(file, args, {
    stdio: [...stdio, 'pipe'] as StdioOptions,
    env,
  })
  const channel = child.stdio[3] as Duplex
  if (first) channel.write(first)
  return { process: child, channel: new StreamChannel(channel) }
}

/** The one byte that lets the launcher run the command (native/launcher.c await_go). */
const GO = Buffer.from('g')

/** The channel as a stream: child_process's pipe, or a socket for a plan too large to be
 * written before the start returns. */
class StreamChannel implements LauncherChannel {
  constructor(private readonly socket: Duplex) {
    // The launcher may exit before reading all of it; the process's exit reports why.
    socket.on('error', () => {})
  }

  read(text: (chunk: string) => void, end: () => void): void {
    this.socket.setEncoding('utf8')
    this.socket.on('data', text)
    this.socket.once('close', end)
  }

  /** Written to the socket's fd itself, not through the stream: a launcher whose setup failed
   * has written its error event and exited by now, and a stream write's EPIPE destroys the
   * socket before that event (what says why) is read. The launcher reads one byte and no end
   * of file. A plan larger than the socket's buffer still waits in the stream: the go follows. */
  go(): void {
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (fd === undefined || fd < 0) {
      this.socket.write(GO)
      return
    }
    if (this.socket.writableLength > 0) {
      this.socket.once('drain', () => this.go())
      return
    }
    try {
      writeSync(fd, GO)
    } catch {} // EPIPE: the launcher has ended; its events say why
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** The channel read by the addon on Node's event loop (native/spawn-addon.c watch): node:net
 * and a stream per sandbox cost `cordon run` ~5 ms and spawn() a share of each start. Reading
 * starts at read() (or at the process's exit, to let the launcher's last writes run out), so
 * nothing is held here that no one reads. */
class FdChannel implements LauncherChannel {
  /** The addon's watch while it reads; -1 before. */
  private id = -1
  /** The fd is no longer this object's: closed, or the addon's to close. */
  private closed = false
  private ended = false
  private onText: (chunk: string) => void = () => {}
  private readonly onEnd: (() => void)[] = []

  constructor(
    private readonly addon: Addon,
    private readonly fd: number,
  ) {}

  read(text: (chunk: string) => void, end: () => void): void {
    this.onText = text
    this.whenEnded(end)
    this.start()
  }

  /** Reads what is left into nothing, if no one reads it: the process ended. */
  drain(): void {
    this.start()
  }

  /** `end` when the channel has ended (now, if it has). */
  whenEnded(end: () => void): void {
    if (this.ended) end()
    else this.onEnd.push(end)
  }

  go(): void {
    if (this.closed) return
    try {
      writeSync(this.fd, GO)
    } catch {} // EPIPE: the launcher has ended; its events say why
  }

  /** Ends as a destroyed socket does: `end` on the next tick. */
  destroy(): void {
    if (this.closed) return
    // The addon closes an fd it watches (unwatch); one it does not watch is this object's.
    if (this.id < 0) this.addon.close(this.fd)
    else this.addon.unwatch(this.id)
    this.closed = true
    process.nextTick(() => this.finish())
  }

  private start(): void {
    if (this.id >= 0 || this.closed) return
    const id = this.addon.watch(this.fd, (text, end) => {
      // At the end the addon has closed the fd already: nothing writes to its number again.
      if (end !== undefined) this.closed = true
      let threw = true
      try {
        if (text !== undefined) this.onText(text)
        threw = false
      } finally {
        // After a throw (the program's uncaught exception), the end waits a tick: ended now,
        // what it runs could throw too, and that would take the place of the first.
        if (end !== undefined)
          if (threw) process.nextTick(() => this.finish())
          else this.finish()
      }
    })
    if (id >= 0) {
      this.id = id
      return
    }
    // The loop refused the fd (no memory): the launcher reads end of file, and its exit, with
    // no events, reports a failed start.
    this.addon.close(this.fd)
    this.closed = true
    process.nextTick(() => this.finish())
  }

  private finish(): void {
    if (this.ended) return
    this.ended = this.closed = true
    for (const end of this.onEnd.splice(0)) end()
  }
}

/** Bytes written to the channel's fd before its socket is made: below a unix socket's send
 * buffer (208 KiB by default), so the write never waits for the launcher. */
const WRITTEN_FIRST_MAX = 64 << 10

const isPlain = (s: unknown): boolean =>
  s === 'inherit' ||
  s === 'pipe' ||
  s === 'ignore' ||
  (typeof s === 'number' && Number.isInteger(s) && s >= 0)

/** /dev/null as child_process opens it for 'ignore': read-only for stdin, read-write else. */
const nullFd = (i: number): number => openSync('/dev/null', i === 0 ? 'r' : 'r+')

/** The launcher started by the addon: a pidfd holds it, waited for on SIGCHLD, when its fd 3
 * closes (it holds the socket until it exits; a worker thread hears no signals), and each
 * second while it runs (the timer also keeps the loop alive for it, as child_process's handle
 * does). */
class AddonProcess extends EventEmitter implements LauncherProcess {
  pid: number | undefined
  stdin: Writable | null = null
  stdout: Readable | null = null
  stderr: Readable | null = null
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  killed = false
  private pidfd = -1
  private channel!: FdChannel | StreamChannel
  /** fd 3 as a socket: a plan too large to be written before the start returns. */
  private channelSocket: Socket | undefined
  private timer: NodeJS.Timeout | undefined
  private open = 0
  private exited = false

  constructor(
    private readonly addon: Addon,
    file: string,
    args: readonly string[],
    stdio: readonly Stdio[],
    env: NodeJS.ProcessEnv,
    first?: Uint8Array,
  ) {
    super()
    // child_process's refusal, before anything is made: a NUL would cut the string short.
    for (const [i, a] of args.entries()) if (a.includes('\0')) throw nulError(`The argument 'args[${i}]'`, a)
    if (file.includes('\0')) throw nulError("The argument 'file'", file)
    const envPairs: string[] = []
    // As child_process: keys the object inherits count too (an env made by Object.create). Each
    // value read once: process.env's are fetched from the C environment at every read.
    for (const k in env) {
      const v = env[k]
      if (v === undefined) continue
      if (k.includes('\0') || v.includes('\0'))
        throw nulError(`The property 'options.env['${k}']'`, k.includes('\0') ? k : v)
      envPairs.push(`${k}=${v}`)
    }
    const parents: (number | null)[] = []
    const fds: number[] = []
    /** Closed here once the child has them: its pipe ends and /dev/null. */
    const childEnds: number[] = []
    /** /dev/null for stdin, and one for stdout and stderr. */
    const nulls: (number | undefined)[] = []
    let listening = false
    try {
      for (const [i, s] of [...stdio.slice(0, 3), 'pipe' as const].entries()) {
        if (s === 'pipe') {
          const [parent, child] = pair(addon)
          childEnds.push(child)
          fds.push(child)
          parents.push(parent)
        } else {
          const n = i === 0 ? 0 : 1
          if (s === 'ignore') nulls[n] ??= nullFd(i)
          fds.push(s === 'inherit' ? i : s === 'ignore' ? nulls[n]! : s)
          parents.push(null)
        }
      }
      // Listening first: a process whose SIGCHLD is ignored has its children reaped by the
      // kernel, and a handler (libuv's) restores the status this waits for.
      if (watching.size === 0) {
        process.on('SIGCHLD', reapAll)
        listening = true
      }
      // The plan goes into the channel before the launcher exists, as far as the socket takes
      // it without waiting: the launcher reads it as soon as it has exec'd, where after the
      // spawn it waited ~1.5 ms for this process to get round to it (issue 23).
      if (first?.length) {
        const sent = addon.send(parents[3]!, first)
        if (sent > 0) first = first.subarray(sent)
      }
      const r = addon.queue
        ? addon.spawn(file, [file, ...args], envPairs, fds, FORWARD_SIGNAL)
        : addon.spawn(file, [file, ...args], envPairs, fds)
      if (r.length === 1) {
        // As child_process after a failed exec: the stdio streams are there, and closed.
        for (const s of this.attach(parents.splice(0), undefined)) s?.destroy()
        this.channel.destroy()
        this.exited = true
        if (listening) process.off('SIGCHLD', reapAll)
        process.nextTick(() => {
          this.emit('error', spawnError(-r[0], file, args))
          this.emit('close', null, null)
        })
        return
      }
      ;[this.pid, this.pidfd] = r
      if (first) first = writeFirst(parents[3]!, first)
    } catch (error) {
      // A pipe or /dev/null that could not be made (EMFILE), or an argument the addon refuses
      // (a NUL byte): the ends made for this process go with it, as child_process's do.
      for (const p of parents) if (p !== null) addon.close(p)
      if (listening) process.off('SIGCHLD', reapAll)
      throw error
    } finally {
      for (const fd of childEnds) addon.close(fd)
      for (const fd of nulls) if (fd !== undefined) closeSync(fd)
    }
    const sockets = this.attach(parents, first)
    // As child_process's: `close` waits for what the process writes (stdout, stderr, fd 3),
    // not for stdin, which its exit destroys.
    for (const s of sockets.slice(1))
      if (s) {
        this.open++
        s.once('close', () => this.closed())
      }
    this.open++
    const channelEnded = () => {
      this.reapSoon(1)
      this.closed()
    }
    if (this.channelSocket) this.channelSocket.once('close', channelEnded)
    else (this.channel as FdChannel).whenEnded(channelEnded)
    watching.add(this)
    this.timer = setInterval(() => this.reap(), 1000)
  }

  /** The parent's ends as this process's stdio (sockets) and channel (fd 3's, always a pipe);
   * `first`, what is left of the plan to write, makes the channel a socket that writes it. */
  private attach(parents: readonly (number | null)[], first: Uint8Array | undefined): (Socket | null)[] {
    const sockets = parents.slice(0, 3).map((fd, i) => (fd === null ? null : socketOf(fd, i)))
    this.stdin = sockets[0] ?? null
    this.stdout = sockets[1] ?? null
    this.stderr = sockets[2] ?? null
    if (first?.length) {
      this.channelSocket = socketOf(parents[3]!, 3)
      this.channelSocket.write(first)
      this.channel = new StreamChannel(this.channelSocket)
    } else this.channel = new FdChannel(this.addon, parents[3]!)
    return sockets
  }

  started(): Started {
    return { process: this, channel: this.channel }
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const number = typeof signal === 'number' ? signal : constants.signals[signal]
    // As child_process: 0 or a signal this system names, else ERR_UNKNOWN_SIGNAL.
    if (number === undefined || (number !== 0 && !signalNames.has(number)))
      throw Object.assign(new TypeError(`Unknown signal: ${signal}`), { code: 'ERR_UNKNOWN_SIGNAL' })
    if (this.exited || this.pidfd < 0) return false
    if (this.addon.kill(this.pidfd, number) !== 0) return false
    this.killed = true
    return true
  }

  /** forwardTo's: the signal queued as FORWARD_SIGNAL, else sent as itself. A queued signal
   * counts against the user's RLIMIT_SIGPENDING, which the sandbox's own queued signals can fill
   * (its uid is the caller's, or maps to it): refused (EAGAIN), the forward was lost (helper-128),
   * where a plain signal is never refused for that. */
  forward(signal: NodeJS.Signals): boolean {
    if (this.exited || this.pidfd < 0) return false
    const queued = this.addon.queue?.(this.pidfd, FORWARD_SIGNAL, constants.signals[signal])
    if (queued !== 0) return queued === -constants.errno.ESRCH ? false : this.kill(signal)
    this.killed = true
    return true
  }

  ref(): void {
    this.timer?.ref()
  }

  unref(): void {
    this.timer?.unref()
  }

  /** Reaps the launcher if it has exited: its status, then `exit`. */
  reap(): void {
    if (this.exited) return
    const w = this.addon.wait(this.pidfd)
    if (w === null) return
    this.exited = true
    clearInterval(this.timer)
    watching.delete(this)
    if (watching.size === 0) process.off('SIGCHLD', reapAll)
    this.addon.close(this.pidfd)
    // A failed wait (no such child: not ours to reap) leaves both null, as a lost status.
    if (w.length === 2) {
      const [code, signal] = w
      this.signalCode = signal >= 0 ? signalName(signal) : null
      // One Node has no name for (glibc's 32 and 33, the real-time ones) as a shell tells it,
      // 128+N: child_process says 0 and null, and this said 125 (cordon failed) with no word.
      this.exitCode = code >= 0 ? code : signal > 0 && !this.signalCode ? 128 + signal : null
    }
    this.stdin?.destroy()
    this.emit('exit', this.exitCode, this.signalCode)
    // As child_process's flushStdio: what is left unread is let run out (a tick on, for a last
    // reader), else its socket never closes and `close` never comes.
    process.nextTick(() => {
      for (const s of [this.stdout, this.stderr, this.channelSocket]) if (s?.readable) s.resume()
      if (this.channel instanceof FdChannel) this.channel.drain()
    })
    if (this.open === 0) this.emit('close', this.exitCode, this.signalCode)
  }

  /** Its fd 3 closed: it is exiting, and a zombie within microseconds. */
  private reapSoon(delayMs: number): void {
    this.reap()
    if (!this.exited && delayMs <= 256) setTimeout(() => this.reapSoon(delayMs * 2), delayMs).unref()
  }

  private closed(): void {
    if (--this.open === 0 && this.exited) this.emit('close', this.exitCode, this.signalCode)
  }
}

const watching = new Set<AddonProcess>()

/** SIGCHLD: one signal may stand for several exits. */
function reapAll(): void {
  for (const p of watching) p.reap()
}

/** Writes what fits of `bytes` to fd now (a blocking socket the launcher reads): what is left
 * for the socket's stream to write. A launcher that has already ended leaves it unwritten: its
 * exit says why. */
function writeFirst(fd: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length > WRITTEN_FIRST_MAX) return bytes
  writeAll(fd, bytes) // a failure is EPIPE: the launcher has ended
  return new Uint8Array(0)
}

function pair(addon: Addon): [number, number] {
  const r = addon.socketpair()
  if (r.length === 1) throw spawnError(-r[0], 'socketpair', [])
  return r
}

/** fd 0 is written, 1 and 2 read, 3 both, as child_process's pipes. */
function socketOf(fd: number, i: number): Socket {
  return new (net().Socket)({ fd, readable: i !== 0, writable: i === 0 || i === 3 })
}

const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]))
const signalNames = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]))

function signalName(n: number): NodeJS.Signals | null {
  return signalNames.get(n) ?? null
}

/** The TypeError child_process throws for a string with a NUL byte. */
function nulError(what: string, value: string): TypeError {
  return Object.assign(
    new TypeError(`${what} must be a string without null bytes. Received ${inspect(value)}`),
    {
      code: 'ERR_INVALID_ARG_VALUE',
    },
  )
}

/** The error child_process gives for a start that failed: `spawn FILE ENOENT`. */
function spawnError(errno: number, file: string, args: readonly string[]): NodeJS.ErrnoException {
  const code = errnoNames.get(errno) ?? `E${errno}`
  return Object.assign(new Error(`spawn ${file} ${code}`), {
    errno: -errno,
    code,
    syscall: `spawn ${file}`,
    path: file,
    spawnargs: [...args],
  })
}
