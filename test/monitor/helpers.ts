// Shared by the monitor tests: the load generator, compiled once per test process.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseEvent, type SandboxEvent } from '../../src/run/events.js'
import { CLI, projectDir, ROOT } from '../helpers.js'

export function stormBinary(): string {
  const out = join(projectDir(), 'storm')
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-o', out, join(ROOT, 'test', 'monitor', 'storm.c')])
  return out
}

/** A directory `name` under the test's project that any user's sandbox may use (`mode`: writable
 * by all unless given), holding a copy of the load generator there. */
export function stormDir(name: string, mode = 0o777): { dir: string; storm: string } {
  const dir = join(projectDir(), name)
  mkdirSync(dir, { recursive: true })
  chmodSync(projectDir(), 0o755)
  chmodSync(dir, mode)
  const storm = join(dir, 'storm')
  copyFileSync(stormBinary(), storm)
  chmodSync(storm, 0o755)
  return { dir, storm }
}

/** The JSON lines of an events file, parsed. */
export const eventsIn = (file: string): SandboxEvent[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map(parseEvent)

/** Pids whose command line is exactly argv. */
export function pidsOf(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want
      } catch {
        return false
      }
    })
}

/** The first value get() gives other than undefined, polled every 20 ms for up to ms. */
export async function until<T>(what: string, get: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

export interface CliRun {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** The exit status, and when it came (ms since the epoch). */
  exited: Promise<{ code: number | null; at: number }>
}

/** The CLI started in cwd (as user, with a plain user's environment; under a wrapper such as
 * `nice -n 5`), its output gathered. */
export function startCli(
  args: string[],
  cwd: string,
  user?: { uid: number; gid: number },
  wrapper: string[] = [],
): CliRun {
  const argv = [...wrapper, process.execPath, CLI, ...args]
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: user ? '/nonexistent' : (process.env.HOME ?? '/root'),
      NODE_EXTRA_CA_CERTS: '',
    },
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b))
  child.stderr.on('data', (b: Buffer) => (err += b))
  const exited = new Promise<{ code: number | null; at: number }>((r) =>
    child.once('exit', (code) => r({ code, at: Date.now() })),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}
