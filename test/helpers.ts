// Shared test helpers: run the real CLI and launcher against the real kernel.
import { execFileSync, type SpawnSyncOptions, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HostPaths } from '../src/policy/bind-sources.js'
import type { ViewEntry } from '../src/policy/resolved.js'
import { run } from '../src/run/run.js'
import { privateStateDir } from '../src/run/state-dir.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(ROOT, 'bin', 'cordon.js')
export const LAUNCHER = join(ROOT, 'build', 'native', 'cordon-exec')
/** run() resolving on every ending (`reject: false`): tests that look at failures read the
 * result rather than catch. */
export const runSettled: typeof run = (input, command, args, options) =>
  run(input, command, args, { reject: false, ...options })
/** The ASan/UBSan launcher when built (npm test builds it) from the same sources as the normal
 * one, else the normal one: an ASan binary older than the launcher predates the sources in use,
 * and testing it would test old code (a new launcher flag then "fails"). */
export const LAUNCHER_UNDER_TEST = freshAsan() ? `${LAUNCHER}-asan` : LAUNCHER

function freshAsan(): boolean {
  try {
    return statSync(`${LAUNCHER}-asan`).mtimeMs >= statSync(LAUNCHER).mtimeMs
  } catch {
    return false
  }
}

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

/** A C test harness built from `sources` (paths under the repository) with ASan and UBSan, any
 * finding fatal, in this file's project directory: its path. `defines`: -D flags. */
export function buildHarness(name: string, sources: string[], defines: string[] = []): string {
  const bin = join(projectDir(), name)
  execFileSync('cc', [
    '-std=c11',
    '-O1',
    '-g',
    '-fsanitize=address,undefined',
    '-fno-sanitize-recover=all',
    ...defines.map((d) => `-D${d}`),
    `-I${join(ROOT, 'native')}`,
    '-o',
    bin,
    ...sources.map((s) => join(ROOT, s)),
  ])
  return bin
}

/** A scratch project directory, one per test file (the default profile shows the cwd read-only),
 * removed when the file's process exits, whether its tests passed or not. */
export function projectDir(): string {
  const dir = join(tmpdir(), `cordon-test-${process.pid}`)
  if (!existsSync(dir)) process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(dir, { recursive: true })
  return dir
}

export const isRoot = process.getuid?.() === 0

/** Whether a program is on this host's PATH. */
export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** The skip reason of a test that needs root and both runtimes (false: it runs). In CI a missing
 * runtime fails the test instead: .ci/run installs them. */
export const runtimesSkip = (): string | false =>
  isRoot && ((hasCommand('runc') && hasCommand('runsc')) || !!process.env.CI)
    ? false
    : 'needs root, runc and runsc (apt-get install runc runsc)'

/** strace is installed and allowed to trace here (a container may refuse ptrace). Asked when a
 * test needs it, not by every file that imports these helpers. */
export const canStrace = (): boolean =>
  spawnSync('strace', ['-qq', '-o', '/dev/null', '/bin/true']).status === 0

export const TEST_USER = 'cordon-test'

/** The plain user the unprivileged tests run as (created on first use; needs root). */
export function ensureTestUser(): { uid: number; gid: number } {
  const existing = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' })
  if (existing.status !== 0)
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER])
  return {
    uid: Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', TEST_USER], { encoding: 'utf8' }).trim()),
  }
}

/** The CLI as that user, with a minimal environment. */
export function cordonAs(
  user: { uid: number; gid: number },
  args: string[],
  cwd: string,
  timeout = 30_000,
): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    uid: user.uid,
    gid: user.gid,
    encoding: 'utf8',
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: '/nonexistent',
      NODE_EXTRA_CA_CERTS: '',
    },
    timeout,
  })
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** A scratch directory the plain test user owns, with its own XDG_RUNTIME_DIR (so its registry
 * is the test's alone), removed after the test; `as` runs the CLI there as that user. `prepare`
 * fills the directory before it is handed to the user. */
export function plainUserScratch(
  t: { after: (fn: () => void) => void },
  name: string,
  prepare?: (dir: string) => void,
) {
  const user = ensureTestUser()
  const dir = `/tmp/cordon-${name}-${process.pid}`
  mkdirSync(`${dir}/rt`, { recursive: true, mode: 0o700 })
  prepare?.(dir)
  spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, dir])
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: '/nonexistent',
    XDG_RUNTIME_DIR: `${dir}/rt`,
    NODE_EXTRA_CA_CERTS: '',
  }
  const as = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], {
      cwd: dir,
      uid: user.uid,
      gid: user.gid,
      env,
      encoding: 'utf8',
    })
  return { user, dir, env, as }
}

/** The battery's probes of the network allowlist's side doors (issue 18), in catalogue order. */
export const SIDE_DOOR_PROBES = [
  'tcp-fastopen',
  'tcp-fastopen6',
  'tcp-fastopen-sendmsg',
  'tcp-fastopen-sendmmsg',
  'tcp-fastopen-connect',
  'listen-autobind',
  'mptcp-connect',
  'vsock',
  'net-families',
  'tiocsti-high-bits',
] as const

/** The event socket the registry record of sandbox `id` names, read from the record file
 * itself: the registry's list() (and find()) shows running sandboxes only, and a short one's
 * launcher may have ended (a zombie, no /proc/PID/exe) before a loaded test process asks, which
 * made tests that connect "at once" fail under CI load. The record stays until the run's end. */
export function recordedEvents(id: string): string | undefined {
  const record = JSON.parse(readFileSync(join(privateStateDir(), `${id}.json`), 'utf8')) as {
    events?: string
  }
  return record.events
}

/** `sh -c SCRIPT ARGS…` (ARGS as $0, $1, …) in a mount namespace of its own, with private
 * propagation: a tmpfs it mounts (a disk that fills up) is seen by nothing else. Needs root. */
export function inPrivateMounts(script: string, args: string[], cwd: string) {
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, ...args], {
    cwd,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    encoding: 'utf8',
    timeout: 60_000,
  })
}

/** A host of directories and symlinks for the path-resolution units (bind sources, view
 * destinations): path → [kind, uid, mode, link target]. */
export function fakeHostPaths(table: Record<string, [string, number, number, string?]>): HostPaths {
  return {
    stat(path) {
      const row = table[path]
      if (!row) return { kind: 'missing', uid: -1, mode: 0 }
      return { kind: row[0] as 'dir', uid: row[1], mode: row[2] }
    },
    readlink: (path) => table[path]![3]!,
  }
}

/** A view's bind entry, read-only and at its source's path unless told. */
export const bindEntry = (src: string, dest = src, readOnly = true): ViewEntry => ({
  kind: 'bind',
  src,
  dest,
  readOnly,
  optional: false,
})

/** Who a test runs cordon as: root, and the plain user when the tests run as root. */
export const callers = (): { who: string; user?: { uid: number; gid: number } }[] => [
  { who: 'root' },
  ...(isRoot ? [{ who: 'a plain user', user: ensureTestUser() }] : []),
]

/** The two ways a run is isolated, as `cordon run` flags. */
export const NAMESPACE_MODES = [
  { name: 'namespaced', flags: '' },
  { name: 'without namespaces', flags: '--no-namespaces --acknowledge no-view' },
] as const

/** `sh -c script` with $CORDON standing for the CLI, as root or the plain user, from cwd. A plain
 * user's registry and private /tmp are `runtime` (XDG_RUNTIME_DIR, made by the caller): other
 * tests list and kill that user's sandboxes in the shared one. */
export function cordonShell(
  script: string,
  cwd: string,
  user?: { uid: number; gid: number },
  runtime?: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', script], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: '/nonexistent',
      NODE_EXTRA_CA_CERTS: '',
      CORDON: `${process.execPath} ${CLI}`,
      ...(user && runtime ? { XDG_RUNTIME_DIR: runtime } : {}),
      // The sanitizer build, or another launcher to compare with.
      ...(process.env.CORDON_LAUNCHER ? { CORDON_LAUNCHER: process.env.CORDON_LAUNCHER } : {}),
    },
  })
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}
