// run(): spawn() to completion, as execa: piped output collected up to maxBuffer, optional
// input, and a rejection (SandboxError) for anything but a clean exit unless `reject: false`.
import type { Readable } from 'node:stream'
import { CordonError } from '../errors.js'
import type { SandboxEvent } from './events.js'
import { failed, SandboxError } from './sandbox-error.js'
import { type ExitResult, type PolicyInput, type SandboxInput, type SpawnOptions, spawn } from './spawn.js'

/** How long run() waits, after the exit, for the output streams to end. The exit is reported
 * when the launcher ends, and the last bytes it or the command wrote may still sit in the pipe
 * then: returning at once lost them on a busy host (verify read "no result" for a probe that
 * had printed one). Bounded, because without a pid namespace an orphan may hold the pipe open. */
const DRAIN_MS = 2000

function drained(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', () => resolve())
  })
}

export interface RunResult extends ExitResult {
  stdout: string
  stderr: string
  events: SandboxEvent[]
}

/** run()'s bound on what it collects, per stream (stdout, stderr, events as JSON): 64 MiB. */
export const DEFAULT_MAX_BUFFER = 64 * 2 ** 20

export interface RunOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Bytes run() collects per stream (stdout, stderr, and the events as JSON lines) before it
   * kills the sandbox and rejects with CordonError `max_buffer` (default DEFAULT_MAX_BUFFER).
   * The sandbox's own limits bound its memory, not what it prints into cordon's. */
  maxBuffer?: number
  /** Written to the command's stdin, which is then closed (default: stdin is /dev/null). */
  input?: string | Uint8Array
  /** Reject with a SandboxError unless the command exits with status 0 (default true); with
   * false, every ending resolves and `reason`, `code` and `error` say how it went. */
  reject?: boolean
}

/**
 * Runs command to completion with piped output; collects output and events. Rejects with a
 * SandboxError when it does not exit 0 (unless `reject: false`). Output beyond `maxBuffer`
 * kills the sandbox (as execa does) and rejects with the fix, whatever `reject` says.
 */
export async function run(
  input: SandboxInput | PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: RunOptions = {},
): Promise<RunResult> {
  const { maxBuffer = DEFAULT_MAX_BUFFER, input: stdinData, reject = true, ...spawnOptions } = options
  if (!(Number.isSafeInteger(maxBuffer) && maxBuffer > 0))
    throw new CordonError(
      'invalid_usage',
      `run(): expected \`maxBuffer\` to be a positive whole number of bytes, got \`${String(maxBuffer)}\``,
    )
  if (stdinData !== undefined && typeof stdinData !== 'string' && !(stdinData instanceof Uint8Array))
    throw new CordonError(
      'invalid_usage',
      `run(): expected \`input\` to be a string or a Buffer, got ${typeof stdinData}; use spawn() and write to its stdin for a stream`,
    )
  const p = spawn(input, command, args, {
    ...spawnOptions,
    stdio: [stdinData === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (stdinData !== undefined && p.stdin) {
    // The command may exit without reading it all: EPIPE is its choice, not an error of run().
    p.stdin.on('error', () => {})
    p.stdin.end(stdinData)
  }
  let over: string | undefined
  const stop = (what: string) => {
    if (over) return
    over = what
    p.cgroup?.killAll()
    p.child.kill('SIGKILL')
    // Read on and discard, so the launcher never blocks on a full pipe while it dies.
    p.stdout?.removeAllListeners('data').resume()
    p.stderr?.removeAllListeners('data').resume()
  }
  const collect = (stream: Readable | null, name: string) => {
    const chunks: Buffer[] = []
    let size = 0
    stream?.on('data', (b: Buffer) => {
      size += b.length
      if (size > maxBuffer) stop(name)
      else chunks.push(b)
    })
    return chunks
  }
  const out = collect(p.stdout, 'stdout')
  const err = collect(p.stderr, 'stderr')
  const events: SandboxEvent[] = []
  const collecting = (async () => {
    let size = 0
    for await (const ev of p.events) {
      if (over) continue
      size += eventSize(ev)
      if (size > maxBuffer) stop('events')
      else events.push(ev)
    }
  })()
  const exit = await p.exited
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all([drained(p.stdout), drained(p.stderr)]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_MS)
    }),
  ])
  clearTimeout(timer)
  await collecting
  if (over)
    // Without the output: a copy of up to maxBuffer bytes per stream, as a string too, would
    // triple what the bound promises to hold.
    throw new SandboxError(
      [command, ...args],
      { ...exit, stdout: '', stderr: '', events: [] },
      {
        code: 'max_buffer',
        why:
          `wrote more than maxBuffer (${maxBuffer} bytes) to ${over}, so the sandbox was killed; ` +
          'raise the `maxBuffer` option of run(), or use spawn() and read its streams as they come',
        step: over,
      },
    )
  const stdout = Buffer.concat(out).toString()
  const result = { ...exit, stdout, stderr: Buffer.concat(err).toString(), events }
  if (reject && failed(result)) throw new SandboxError([command, ...args], result)
  return result
}

/** An event's size for maxBuffer, without serializing it (run() sees 100,000s per second):
 * its strings plus a fixed allowance for the rest (numbers, six 64-bit arguments). */
function eventSize(ev: SandboxEvent): number {
  let size = 256
  for (const v of Object.values(ev)) if (typeof v === 'string') size += v.length
  return size
}
