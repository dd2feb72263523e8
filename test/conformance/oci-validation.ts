// The OCI runtime-tools validation suite (github.com/opencontainers/runtime-tools/validation),
// built once and run against any runc-compatible binary: each test is a Go program that
// generates a bundle, drives `$RUNTIME create/start/state/kill/delete` and prints TAP.
//
// Debian packages the library (golang-github-opencontainers-runtime-tools-dev) but not
// validation/ nor cmd/runtimetest, so the sources come from a runtime-tools checkout at the
// commit Debian packages (its version ends in `.g<commit>`), built offline with its vendor/.
// The binaries are cached outside the repository, keyed by that version.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

/** Debian's package; its version names the upstream commit the suite is built from. */
export const DEBIAN_PACKAGE = 'golang-github-opencontainers-runtime-tools-dev'
/** Where the Debian package puts the sources (validation/ included, should Debian ship it). */
const DEBIAN_SOURCE = '/usr/share/gocode/src/github.com/opencontainers/runtime-tools'

export interface Suite {
  /** The source tree the binaries were built in; tests run from it (they read rootfs-*.tar.gz
   * and copy ./runtimetest from their working directory). */
  dir: string
  version: string
  tests: string[]
}

export type Verdict = 'pass' | 'fail' | 'skip'

export interface TestResult {
  test: string
  verdict: Verdict
  ok: number
  notOk: number
  skipped: number
  exitCode: number | null
  ms: number
  /** The first failed assertion (or why the run failed), for the table's notes. */
  detail?: string
}

/** The Debian package's version, or undefined when it is not installed. */
export function debianVersion(): string | undefined {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', DEBIAN_PACKAGE], { encoding: 'utf8' })
  return r.status === 0 && r.stdout ? r.stdout.trim() : undefined
}

/** The upstream commit a Debian snapshot version names (`0.9.0+git20220423.g0105384-2`). */
export function commitOf(version: string): string | undefined {
  return /\.g([0-9a-f]{7,40})(?:-|$)/.exec(version)?.[1]
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return process.env.CORDON_OCI_CACHE || join(base, 'cordon', 'oci-validation')
}

/** Why the suite cannot be built here, or undefined with the way to get its sources. */
export function locateSources():
  | { kind: 'tree'; path: string; version: string }
  | { kind: 'git'; path: string; version: string; commit: string }
  | { kind: 'missing'; why: string } {
  const version = debianVersion()
  const tree = process.env.OCI_RUNTIME_TOOLS_SRC || DEBIAN_SOURCE
  if (existsSync(join(tree, 'validation')) && existsSync(join(tree, 'cmd', 'runtimetest')))
    return { kind: 'tree', path: tree, version: version ?? 'local' }
  const git = process.env.OCI_RUNTIME_TOOLS_GIT
  if (!version)
    return { kind: 'missing', why: `${DEBIAN_PACKAGE} is not installed (apt-get install ${DEBIAN_PACKAGE})` }
  const commit = commitOf(version)
  if (git && commit) return { kind: 'git', path: git, version, commit }
  return {
    kind: 'missing',
    why:
      `${DEBIAN_PACKAGE} ${version} ships no validation/ sources: set OCI_RUNTIME_TOOLS_GIT to a clone of ` +
      `github.com/opencontainers/runtime-tools (commit ${commit ?? '?'} is checked out from it), or ` +
      'OCI_RUNTIME_TOOLS_SRC to a source tree with validation/ and vendor/',
  }
}

const goEnv = (cache: string) => ({
  ...process.env,
  GOFLAGS: '-mod=vendor',
  GOCACHE: join(cache, 'go-build'),
  GOPATH: join(cache, 'gopath'),
  GOPROXY: 'off',
  CGO_ENABLED: '0',
})

/** Builds runtimetest and every validation/<name>/<name>.t once per version; later calls
 * return the cached suite. Throws with the reason when the sources are missing. */
export function buildSuite(log: (line: string) => void = () => {}): Suite {
  const cached = cachedSuite()
  if (cached) return cached
  const src = locateSources()
  if (src.kind === 'missing') throw new Error(src.why)
  const { cache, dir, stamp } = cachePaths(src.version)
  {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    if (src.kind === 'git') {
      log(`extracting runtime-tools ${src.commit} from ${src.path}`)
      const archive = spawnSync('git', ['-C', src.path, 'archive', src.commit], { maxBuffer: 1 << 30 })
      if (archive.status !== 0) throw new Error(`git archive ${src.commit}: ${String(archive.stderr)}`)
      const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout })
      if (untar.status !== 0) throw new Error(`tar: ${String(untar.stderr)}`)
    } else {
      const cp = spawnSync('cp', ['-a', `${src.path}/.`, dir])
      if (cp.status !== 0) throw new Error(`cp ${src.path}: ${String(cp.stderr)}`)
    }
    const go = (out: string, pkg: string) => {
      log(`go build ${pkg}`)
      const r = spawnSync('go', ['build', '-o', out, pkg], { cwd: dir, env: goEnv(cache), encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`go build ${pkg}: ${r.stderr}`)
    }
    go('runtimetest', './cmd/runtimetest')
    for (const name of listTests(dir)) go(`validation/${name}/${name}.t`, `./validation/${name}/${name}.go`)
    writeFileSync(stamp, `${src.version}\n`)
  }
  return { dir, version: src.version, tests: listTests(dir) }
}

const cachePaths = (version: string) => {
  const cache = join(cacheRoot(), version.replace(/[^\w.+-]/g, '_'))
  return { cache, dir: join(cache, 'src'), stamp: join(cache, 'complete') }
}

/** The suite built earlier for the installed Debian version: no sources needed then. */
export function cachedSuite(): Suite | undefined {
  const version = debianVersion()
  if (!version) return undefined
  const { dir, stamp } = cachePaths(version)
  return existsSync(stamp) ? { dir, version, tests: listTests(dir) } : undefined
}

function listTests(dir: string): string[] {
  return readdirSync(join(dir, 'validation'), { withFileTypes: true })
    .filter(
      (e) =>
        e.isDirectory() && e.name !== 'util' && existsSync(join(dir, 'validation', e.name, `${e.name}.go`)),
    )
    .map((e) => e.name)
    .sort()
}

/** Counts a TAP stream's assertions (`ok`, `not ok`, `# SKIP`) and keeps the first failure. */
export function parseTap(tap: string): { ok: number; notOk: number; skipped: number; firstFailure?: string } {
  let ok = 0
  let notOk = 0
  let skipped = 0
  let firstFailure: string | undefined
  for (const line of tap.split('\n')) {
    const m = /^(not ok|ok)\b(.*)$/.exec(line)
    if (m) {
      if (/#\s*skip/i.test(m[2]!)) skipped++
      else if (m[1] === 'ok') ok++
      else {
        notOk++
        firstFailure ??= line.slice(0, 200)
      }
    } else if (/^1\.\.0\b.*#\s*skip/i.test(line)) skipped++
    else if (ok + notOk === 0) {
      // A diagnostic before any assertion: the test gave up (hooks.go reports its error so).
      const error = /^\s*"error": (".*")/.exec(line)
      if (error)
        firstFailure ??= `error before any assertion: ${String(JSON.parse(error[1]!)).split('\n')[0]}`
    }
  }
  return firstFailure === undefined ? { ok, notOk, skipped } : { ok, notOk, skipped, firstFailure }
}

/** A test passes when it asserted something and nothing failed, and exited 0 (Go's util.Fatal
 * exits 1 after printing the error, sometimes before any TAP line). */
export function judgeTap(tap: ReturnType<typeof parseTap>, exitCode: number | null): Verdict {
  if (tap.notOk > 0 || exitCode !== 0 || (tap.ok === 0 && tap.firstFailure)) return 'fail'
  if (tap.ok > 0) return 'pass'
  // No assertion and no skip directive: the TAP the container should print never arrived.
  return tap.skipped > 0 ? 'skip' : 'fail'
}

/** Runs one validation test with RUNTIME=runtime, in a private TMPDIR removed afterwards (the
 * tests leave their bundles there when they fail). */
export function runTest(
  suite: Suite,
  test: string,
  runtime: string,
  timeoutMs = 120_000,
): Promise<TestResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'cordon-oci-validation-'))
  const started = performance.now()
  return new Promise((done) => {
    const child = spawn(join(suite.dir, 'validation', test, `${test}.t`), [], {
      cwd: suite.dir,
      env: { ...process.env, RUNTIME: runtime, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code, signal) => {
      const leftovers = removeScratch(tmp)
      const tap = parseTap(stdout)
      const verdict = judgeTap(tap, code)
      const why =
        tap.firstFailure ??
        (code === 0 && tap.ok + tap.skipped === 0
          ? 'no TAP from the test: the container output nothing'
          : undefined) ??
        (signal
          ? `killed by ${signal} (timeout ${timeoutMs} ms)`
          : code !== 0
            ? lastReason(stderr)
            : undefined)
      const result: TestResult = {
        test,
        verdict,
        ok: tap.ok,
        notOk: tap.notOk,
        skipped: tap.skipped,
        exitCode: code,
        ms: Math.round(performance.now() - started),
      }
      if (verdict !== 'pass' && why) result.detail = why.slice(0, 240)
      if (leftovers) result.detail = `${result.detail ?? ''} (${leftovers})`.trim()
      done(result)
    })
  })
}

/** The runtime's own message: the last stderr line other than Go's `exit status N`. */
const lastReason = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => l && !/^exit status \d+$/.test(l))
    .pop() ?? stderr.trim()

/** Removes a test's TMPDIR. Tests without a mount namespace (linux_ns_*) have the runtime
 * mount /proc, /dev and the bundle's root in the host's namespace; a runtime that does not undo
 * them leaves them busy. Unmounts those (deepest first) and says so. */
function removeScratch(tmp: string): string | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === tmp || m.startsWith(`${tmp}/`))
    .sort((a, b) => b.length - a.length)
  for (const m of mounts) spawnSync('umount', ['-l', m])
  try {
    rmSync(tmp, { recursive: true, force: true })
  } catch (e) {
    return `left ${tmp} behind: ${(e as Error).message}`
  }
  return mounts.length ? `left ${mounts.length} mount(s) in the host namespace, unmounted` : undefined
}

/** One cell of the side-by-side table: `pass 4/4`, `fail 3/5`, `skip`. */
export function cell(r: TestResult): string {
  const total = r.ok + r.notOk
  return r.verdict === 'skip' ? 'skip' : `${r.verdict} ${r.ok}/${total}`
}
