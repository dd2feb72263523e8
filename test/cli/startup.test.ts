// A plain `cordon run` loads only what it uses (issue 23): the run bundle (run.cjs) and its code
// cache, not the ~60 modules it is built from nor the ES bundle of the other commands; no js-yaml
// from node_modules, no prom-client; one precompiled seccomp filter, not the table of all of
// them. Seen from outside: by the files the process opens (strace), and, inside the one bundle
// file, by the modules whose initialisation V8 runs (--log-function-events: esbuild names each
// module's init function by its source path), so that a lazy import turned static again shows
// here. The bundles are minified, so their source maps must lead a debugging stack trace back to
// the TypeScript.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, test } from 'node:test'
import { projectDir, ROOT } from '../helpers.js'
import { filingAllowed } from '../../src/cli/run-fast-args.js'
import { type Addon, loadAddon } from '../../src/host/addon.js'

/** The package's bin (package.json): `cordon run` loads run.cjs, other commands the ES bundle. */
const CLI = join(ROOT, 'bin', 'cordon.cjs')
const RUN_BUNDLE = join('build', 'src', 'cli-bundle', 'run.cjs')
const FAST_BUNDLE = join('build', 'src', 'cli-bundle', 'run-fast.cjs')

/** A project directory of the test's own: its first run compiles, the next from the plan filed. */
function freshProject(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-startup-project-'))
  chmodSync(dir, 0o755)
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0

/** The package files (relative to the package) a CLI invocation opens. */
function filesOpened(
  args: string[],
  cwd = projectDir(),
): { status: number | null; files: string[]; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-startup-'))
  try {
    const log = join(dir, 'trace')
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=open,openat',
        '-e',
        'status=successful',
        '-o',
        log,
        process.execPath,
        CLI,
        ...args,
      ],
      { cwd, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    const files = new Set<string>()
    for (const m of readFileSync(log, 'utf8').matchAll(/open(?:at)?\([^"]*"([^"]+)"/g)) {
      const path = relative(ROOT, m[1]!)
      if (!path.startsWith('..')) files.add(path)
    }
    return { status: r.status, files: [...files], stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The modules of the run bundle whose initialisation ran (their source paths), and the status. */
function modulesRun(
  args: string[],
  cwd = projectDir(),
): { status: number | null; modules: string[]; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-startup-'))
  try {
    const log = join(dir, 'v8.log')
    const r = spawnSync(
      process.execPath,
      ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', CLI, ...args],
      { cwd, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    const modules = new Set<string>()
    for (const m of readFileSync(log, 'utf8').matchAll(
      /^function,first-execution,(?:[^,\n]*,){5}((?:src|node_modules)\/[^,\n]+)$/gm,
    ))
      modules.add(m[1]!)
    return { status: r.status, modules: [...modules], stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Modules a plain run must not initialise: the seccomp compiler, the monitor, the other layers. */
const NOT_IN_A_PLAIN_RUN = [
  'src/plan/filter.ts',
  'src/seccomp/compile.ts',
  'src/monitor/session.ts',
  'src/monitor/metrics.ts',
  'src/cli/commands/audit.ts',
  'src/backends/runtime.ts',
]

describe('CLI start-up', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  test('a plain cordon run opens the lean bundle, then the run bundle, and only the lean one once filed', (t) => {
    const fresh = freshProject(t)
    const first = filesOpened(['run', '--', '/bin/true'], fresh)
    assert.equal(first.status, 0, first.stderr)
    const ours = (files: string[]) =>
      files.filter((f) => f.startsWith('build/src') || f.startsWith('node_modules')).sort()
    assert.deepEqual(
      ours(first.files),
      filingAllowed() ? [`${FAST_BUNDLE}.cache`, `${RUN_BUNDLE}.cache`] : [`${RUN_BUNDLE}.cache`],
      'the lean bundle (a miss; only where plans are filed), then the run bundle, each from its ' +
        'cache file, which holds its source (bin/code-cache.cjs): no module, no chunk',
    )
    const filters = first.files.filter((f) => f.startsWith(join('build', 'seccomp')))
    assert.equal(filters.length, 1, `one precompiled filter read: ${filters.join(', ')}`)
    assert.match(filters[0]!, /\.bpf$/)
    // The plan that run filed: the lean bundle alone, and no filter file (the plan holds it).
    if (!filingAllowed()) return // plans are filed for root only
    const again = filesOpened(['run', '--', '/bin/true'], fresh)
    assert.equal(again.status, 0, again.stderr)
    assert.deepEqual(ours(again.files), [`${FAST_BUNDLE}.cache`])
    assert.deepEqual(
      again.files.filter((f) => f.startsWith(join('build', 'seccomp'))),
      [],
    )
  })

  test("cordon run --monitor reads the default rules' precompiled filter and responder, no compiler", () => {
    const { status, files, stderr } = filesOpened(['run', '--monitor', '--', '/bin/true'])
    assert.equal(status, 0, stderr)
    const filters = files.filter((f) => f.startsWith(join('build', 'seccomp'))).sort()
    assert.equal(filters.length, 3, `the watch lists, the filter and its responder: ${filters.join(', ')}`)
    for (const end of [/\+watch0\+responder\.bpf$/, /\+watch0\.bpf$/, /\/watch-sets\.json$/])
      assert.equal(filters.filter((f) => end.test(f)).length, 1, `${end}: ${filters.join(', ')}`)
    const run = modulesRun(['run', '--monitor', '--', '/bin/true'])
    assert.equal(run.status, 0, run.stderr)
    assert.ok(run.modules.includes('src/monitor/session.ts'), run.modules.join(', '))
    for (const m of ['src/plan/filter.ts', 'src/seccomp/compile.ts'])
      assert.ok(!run.modules.includes(m), `${m} is not initialised`)
  })

  test('a plain cordon run initialises no seccomp compiler, monitor, audit, backend or YAML parser', (t) => {
    const fresh = freshProject(t)
    const { status, modules, stderr } = modulesRun(['run', '--', '/bin/true'], fresh)
    assert.equal(status, 0, stderr)
    assert.ok(modules.includes('src/cli/commands/run.ts'), `the log names the modules: ${modules.join(', ')}`)
    const loaded = modules.filter((m) => NOT_IN_A_PLAIN_RUN.includes(m) || m.startsWith('node_modules/'))
    assert.deepEqual(loaded, [], 'initialised only when a run asks for them')
    // From the filed plan: the lean bundle alone (the test above), which holds neither the
    // policy nor the compiler nor the syscall tables (esbuild hoists its static graph into one
    // scope, so V8's log cannot name its modules: its text is read instead).
    const again = modulesRun(['run', '--', '/bin/true'], fresh)
    assert.equal(again.status, 0, again.stderr)
    const lean = readFileSync(join(ROOT, FAST_BUNDLE), 'utf8')
    for (const name of ['compilePlan', 'resolvePolicy', 'validatePolicy', 'compileSeccomp', 'syscallTable'])
      assert.doesNotMatch(lean, new RegExp(`function ${name}\\(`), name)
    assert.match(lean, /function startSandbox\(/)
  })

  test('the code cache of the run bundle is made for this Node, and used', () => {
    const { load } = createRequire(import.meta.url)(join(ROOT, 'bin', 'cordon.cjs')) as {
      load: (file: string) => { cache: string }
    }
    assert.equal(load(join(ROOT, RUN_BUNDLE)).cache, 'used')
  })

  test('the run path maps each code cache (the addon), and runs the bundle it holds', (t) => {
    const addon = loadAddon()
    if (!addon) return t.skip('the addon is not built or not usable here')
    const { load } = createRequire(import.meta.url)(join(ROOT, 'bin', 'cordon.cjs')) as {
      load: (file: string, cached: boolean, map: Addon['map']) => { cache: string; text: string }
    }
    const maps: string[] = []
    const map: Addon['map'] = (path) => {
      const mapped = addon.map(path)
      maps.push(path)
      assert.ok(mapped, `${path} mapped`)
      assert.ok(mapped[0].equals(readFileSync(path)), 'the mapping holds the file')
      return mapped
    }
    for (const bundle of [RUN_BUNDLE, FAST_BUNDLE]) {
      const file = join(ROOT, bundle)
      const loaded = load(file, true, map)
      assert.equal(loaded.cache, 'used', bundle)
      assert.ok(loaded.text.includes(readFileSync(file, 'utf8')), 'the copy is the bundle as built')
    }
    assert.deepEqual(maps, [`${join(ROOT, RUN_BUNDLE)}.cache`, `${join(ROOT, FAST_BUNDLE)}.cache`])
  })

  test('a code cache is not used for a bundle changed since it was made', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-startup-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const { load } = createRequire(import.meta.url)(join(ROOT, 'bin', 'cordon.cjs')) as {
      load: (file: string) => { cache: string; text: string; exports: Record<string, unknown> }
    }
    const copy = join(dir, 'run.cjs')
    const bytes = readFileSync(join(ROOT, RUN_BUNDLE))
    copyFileSync(join(ROOT, RUN_BUNDLE), copy)
    copyFileSync(join(ROOT, `${RUN_BUNDLE}.cache`), `${copy}.cache`)
    // The bundle as the build leaves it: older than its cache (a Date holds whole milliseconds).
    const cacheTime = statSync(`${copy}.cache`).mtime
    const built = new Date(cacheTime.getTime() - 2000)
    utimesSync(copy, built, built)
    assert.equal(load(copy).cache, 'used', 'the bundle as built, from the copy its cache holds')
    // Edited after the build: the same length (all V8 checks itself), one byte changed (the
    // source map's name), and so newer than its cache. It runs as edited, compiled as usual.
    const text = bytes.toString('latin1').replace(/\.map\n$/, '.maq\n')
    assert.notEqual(text, bytes.toString('latin1'))
    writeFileSync(copy, text, 'latin1')
    const later = new Date(cacheTime.getTime() + 2000)
    utimesSync(copy, later, later)
    const stale = load(copy)
    assert.equal(stale.cache, 'stale')
    assert.equal(typeof stale.exports.main, 'function', 'the bundle still runs, compiled as usual')
    assert.ok(stale.text.endsWith('.maq\n\n})'), 'compiled from the file, wrapped as a module')
    // Another length: stale whatever the times say.
    writeFileSync(copy, `${bytes.toString('latin1')}\n`, 'latin1')
    utimesSync(copy, built, built)
    assert.equal(load(copy).cache, 'stale')
    // A cache of the earlier format (the bundle's bytes unwrapped after the length) for the
    // bundle as built: stale, not read at the wrong offset.
    writeFileSync(copy, bytes)
    const header = Buffer.alloc(4)
    header.writeUInt32LE(bytes.length, 0)
    writeFileSync(`${copy}.cache`, Buffer.concat([header, bytes, Buffer.alloc(4096, 1)]))
    utimesSync(copy, built, built)
    const earlier = load(copy)
    assert.equal(earlier.cache, 'stale')
    assert.equal(typeof earlier.exports.main, 'function')
  })

  // The ES bundle's compiler chunk is found by what it defines, so that a re-split bundle still counts.
  const loadsCompiler = (files: string[]) =>
    files
      .filter((f) => f.includes('cli-bundle') && f.endsWith('.js'))
      .some((f) => /function compileSeccomp\(/.test(readFileSync(join(ROOT, f), 'utf8')))

  test('a filter that is not precompiled loads the compiler, on demand', () => {
    const policy = join(projectDir(), 'startup-rules.json')
    writeFileSync(
      policy,
      JSON.stringify({
        extends: ['default'],
        seccomp: { rules: [{ syscalls: ['mincore'], action: 'errno(EPERM)' }] },
      }),
    )
    for (const args of [
      ['run', '--watch', 'openat', '--', '/bin/true'],
      ['run', '--policy', policy, '--', '/bin/true'],
    ]) {
      const { status, modules, stderr } = modulesRun(args)
      assert.equal(status, 0, `${args.join(' ')}: ${stderr}`)
      assert.ok(modules.includes('src/seccomp/compile.ts'), `${args.join(' ')} initialises the compiler`)
    }
    const { status, files, stderr } = filesOpened(['plan', '--policy', policy])
    assert.equal(status, 0, `plan: ${stderr}`)
    assert.ok(loadsCompiler(files), 'plan loads the compiler')
  })

  test('a YAML policy initialises js-yaml from the bundle, on demand, not from node_modules', () => {
    const policy = join(projectDir(), 'startup-policy.yaml')
    writeFileSync(policy, 'extends: [default]\n')
    const args = ['run', '--policy', policy, '--', '/bin/true']
    const { status, modules, stderr } = modulesRun(args)
    assert.equal(status, 0, stderr)
    assert.ok(
      modules.some((m) => m.startsWith('node_modules/js-yaml/')),
      modules.join(', '),
    )
    const { files } = filesOpened(args)
    assert.ok(!files.some((f) => f.startsWith('node_modules')), files.join(', '))
  })

  test('under --enable-source-maps, a stack trace of either bundle names the TypeScript source', () => {
    const bundle = join(ROOT, 'build', 'src', 'cli-bundle', 'main.js')
    const es = spawnSync(
      process.execPath,
      [
        '--enable-source-maps',
        '--input-type=module',
        '-e',
        `const cli = await import(${JSON.stringify(bundle)})
process.stdout.write = () => { throw new Error('boom') }
await cli.main(['--version'])`,
      ],
      { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    assert.notEqual(es.status, 0)
    assert.match(es.stderr, /src\/cli\/main\.ts:\d+:\d+/, es.stderr)
    // `cordon run --help` writing to a stdout that throws: an internal error, with its stack.
    const run = spawnSync(
      process.execPath,
      [
        '--enable-source-maps',
        '-e',
        // After start(): the bin makes process.stdout itself (for a pipe, a blocking writer),
        // and --help writes once the run bundle has loaded.
        `process.argv.splice(1, process.argv.length - 1, 'cordon', 'run', '--help')
require(${JSON.stringify(CLI)}).start()
process.stdout.write = () => { throw new Error('boom') }`,
      ],
      { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    assert.equal(run.status, 125, run.stderr)
    assert.match(run.stderr, /src\/cli\/commands\/run\.ts:\d+:\d+/, run.stderr)
  })
})
