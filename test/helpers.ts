// Shared test helpers: run the real CLI and launcher against the real kernel.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(ROOT, 'bin', 'cordon.js')
export const LAUNCHER = join(ROOT, 'build', 'native', 'cordon-exec')
/** The ASan/UBSan launcher when built (npm test builds it), else the normal one. */
export const LAUNCHER_UNDER_TEST = existsSync(`${LAUNCHER}-asan`) ? `${LAUNCHER}-asan` : LAUNCHER

export interface CliResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `cordon ARGS` synchronously from a project directory. */
export function cordon(args: string[], options: SpawnSyncOptions = {}): CliResult {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '', ...(options.env ?? {}) }
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: projectDir(),
    timeout: 30_000,
    ...options,
    env,
  })
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** A scratch project directory, one per test file (the default profile shows the cwd read-only). */
export function projectDir(): string {
  const dir = join(tmpdir(), `cordon-test-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

export const isRoot = process.getuid?.() === 0
