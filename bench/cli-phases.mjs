// Where the wall time of `cordon run -- /bin/true` goes, phase by phase (issue 23: the CLI's own
// cost against Node's start). A copy of the run bundle gets a timestamp at the entry of the
// functions that open each phase, and a code cache warmed for the copy as the build warms the
// real one; a driver loads it as bin/cordon.cjs does and prints the stamps. `node -e 0` runs in
// the same rounds, interleaved. Medians over the rounds, in ms since the process started
// (process.uptime(): the exec of node included). NODE_EXTRA_CA_CERTS is unset.
//
// With --filed, the lean path instead (run-fast.cjs, root only): `cordon run -q -- /bin/true` with
// its plan filed by a run of the real CLI first, from the same directory and bin path.
//
//   node bench/cli-phases.mjs [--rounds 30] [--policy FILE] [--flag --monitor ...] [--filed] [--json]
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '30' },
  policy: { type: 'string', default: join(root, 'bench', 'bwrap-equivalent.yaml') },
  // More options for the run, one per --flag (`--flag=--monitor`).
  flag: { type: 'string', multiple: true, default: [] },
  filed: { type: 'boolean' },
  json: { type: 'boolean' },
})
const rounds = Number(values.rounds)
if (!(Number.isInteger(rounds) && rounds > 0))
  throw new Error(`--rounds must be a whole number, got ${values.rounds}`)
const env = { ...process.env }
delete env.NODE_EXTRA_CA_CERTS
delete env.NODE_OPTIONS
const filed = values.filed === true
if (filed && process.getuid?.() !== 0)
  throw new Error('cli-phases --filed: cordon files plans for root only; run as root')
const CLI = join(root, 'bin', 'cordon.cjs')

// Each phase starts where its function is entered (the bundle keeps function names).
const MARKS = filed
  ? [
      ['function readCachedRun(', 'command line parsed, its key made'],
      ['function startSandbox(', 'filed entry read and checked'],
      ['function launch(', 'cgroup made'],
      ['function publish(', 'launcher started on the plan (the plan sent, its posix_spawn)'],
      ['function sameHostReads(', 'record published'],
      ['function forwardSignals(', 'host reads and login checked: the go next'],
      ['function reportEnd(', 'the channel ended and the run settled'],
    ]
  : [
      ['async function runCommand(', 'command parsed from argv, its module graph initialised'],
      ['function policyFromFlags(', 'flags parsed (parseArgs)'],
      ['async function runNative(', 'policy read, validated and resolved'],
      ['function compilePlan(', 'run set up (limits, filter choice)'],
      ['function encodePlan(', 'plan compiled (view, Landlock, seccomp, caps)'],
      ['function startLauncher(', 'plan encoded'],
      ['function writeFirst(', 'launcher started (the addon loaded, its posix_spawn)'],
      ['function publish(', 'plan written; the channel read on the event loop'],
      [
        'function reportEnforcement(',
        'record published; the launcher set the sandbox up and reported Landlock',
      ],
    ]
const BUNDLE = join(root, 'build', 'src', 'cli-bundle', filed ? 'run-fast.cjs' : 'run.cjs')
const copy = join(dirname(BUNDLE), `.phases-${process.pid}.cjs`)
const scratch = mkdtempSync(join(tmpdir(), 'cordon-phases-'))
chmodSync(scratch, 0o755)
process.on('exit', () => {
  for (const f of [copy, `${copy}.cache`]) rmSync(f, { force: true })
  rmSync(scratch, { recursive: true, force: true })
})

let text = readFileSync(BUNDLE, 'utf8')
for (const [at, name] of MARKS) {
  const i = text.indexOf(at)
  if (i < 0 || text.indexOf(at, i + 1) >= 0)
    throw new Error(`cli-phases: ${at} is not in ${BUNDLE} exactly once`)
  // The body opens after the parameters, which may hold a default's braces (`hooks={}`).
  const body = text.indexOf('){', i + at.length) + 2
  text = `${text.slice(0, body)}globalThis.__cordonMark?.(${JSON.stringify(name)});${text.slice(body)}`
}
// The launcher's exit, reaped: where the wait for the program ends (the minifier names the
// variable per bundle).
const REAP = /let (\w+)=this\.addon\.wait\(this\.pidfd\);if\(\1!==null\)\{/
if (!REAP.test(text)) throw new Error(`cli-phases: the reap of the launcher is not in ${BUNDLE}`)
text = text.replace(REAP, (m) => `${m}globalThis.__cordonMark?.("the program ran and the launcher exited");`)
writeFileSync(copy, text)

const loader = join(root, 'bin', 'code-cache.cjs')
// As bin/cordon.cjs on the lean path: the addon first (it maps the cache), and the bin's own path
// in argv[1], which the filed plan's key holds.
const FILED_PRELUDE = `process.argv[1] = ${JSON.stringify(CLI)}
const addon = { exports: {} }
process.dlopen(addon, ${JSON.stringify(join(root, 'build', 'native', 'cordon-spawn.node'))}, require('node:os').constants.dlopen.RTLD_NOW)
mark('addon loaded')`
const driver = join(scratch, 'driver.cjs')
writeFileSync(
  driver,
  `'use strict'
// process.hrtime, not performance: the global loads perf_hooks, which the CLI does not.
const h = () => { const [s, n] = process.hrtime(); return s * 1e3 + n / 1e6 }
const t0 = h() - process.uptime() * 1e3
const marks = []
const mark = (name) => marks.push([name, h() - t0])
globalThis.__cordonMark = mark
mark('node started; bin/cordon.cjs entered (the loader required)')
${filed ? FILED_PRELUDE : ''}
const { load } = require(${JSON.stringify(loader)})
const { exports: cli, cache } = load(${JSON.stringify(copy)}, true${filed ? ', addon.exports.map' : ''})
if (cache !== 'used') throw new Error('the code cache was not used: ' + cache)
${filed ? 'cli.adoptAddon(addon.exports)' : ''}
mark('run bundle loaded (read, code cache deserialised, top level run)')
cli.main(${filed ? 'cli.rawArgs()' : 'process.argv.slice(2)'}).then((code) => {
  if (${filed} && code === undefined) throw new Error('the filed plan was not used (a miss)')
  mark('run reported, ready to exit')
  require('node:fs').writeSync(2, '\\nPHASES ' + JSON.stringify(marks) + '\\n')
  process.exit()
})
`,
)
const argv = filed
  ? ['run', '-q', ...values.flag, '--', '/bin/true']
  : ['run', '-q', ...values.flag, '--policy', values.policy, '--', '/bin/true']
// The build's warm-up runs (scripts/bundle-cli.mjs), whatever --flag adds: the copy's cache
// holds what the real one holds, so a --monitor run compiles what it compiles there. The lean
// path's: two runs of the plan the real CLI files just before, from the same place.
if (filed) {
  const file = spawnSync(process.execPath, [CLI, ...argv], { cwd: scratch, env, encoding: 'utf8' })
  if (file.status !== 0) throw new Error(`cli-phases: the run that files the plan failed: ${file.stderr}`)
}
const warmRuns = filed
  ? [argv, argv]
  : [
      ['run', '-q', '--', '/bin/true'],
      ['run', '-q', '--policy', join(root, 'bench', 'bwrap-equivalent.yaml'), '--', '/bin/true'],
    ]
const warm = spawnSync(
  process.execPath,
  [
    '-e',
    `${filed ? `process.argv[1] = ${JSON.stringify(CLI)}; ` : ''}require(${JSON.stringify(CLI)}).warmCodeCache(${JSON.stringify(copy)}, ${JSON.stringify(warmRuns)})`,
  ],
  { cwd: scratch, env, encoding: 'utf8' },
)
if (warm.status !== 0) throw new Error(`cli-phases: warming the copy's code cache failed: ${warm.stderr}`)

const stamps = new Map()
const nodeMs = []
const cliMs = []
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ['cli', 'node'] : ['node', 'cli']
  for (const v of order) {
    const t = performance.now()
    if (v === 'node') {
      const n = spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' })
      if (n.status !== 0) throw new Error('node -e 0 failed')
      nodeMs.push(performance.now() - t)
      continue
    }
    const c = spawnSync(process.execPath, [driver, ...argv], { cwd: scratch, env, encoding: 'utf8' })
    cliMs.push(performance.now() - t)
    const line = /^PHASES (.*)$/m.exec(c.stderr)
    if (c.status !== 0 || !line) throw new Error(`cli-phases: the run failed (${c.status}): ${c.stderr}`)
    for (const [name, ms] of JSON.parse(line[1])) stamps.set(name, [...(stamps.get(name) ?? []), ms])
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rows = []
let before = 0
for (const [name, xs] of stamps) {
  const at = median(xs)
  rows.push({ phase: name, atMs: Number(at.toFixed(2)), ms: Number((at - before).toFixed(2)) })
  before = at
}
const result = {
  rounds,
  policy: values.policy,
  nodeMs: Number(median(nodeMs).toFixed(2)),
  cliMs: Number(median(cliMs).toFixed(2)),
  rows,
}
if (values.json) console.log(JSON.stringify(result, null, 2))
else {
  console.log(`cordon ${argv.join(' ')}: medians of ${rounds} rounds\n`)
  console.log('| phase ends when | at ms | phase ms |')
  console.log('|---|---:|---:|')
  for (const r of rows) console.log(`| ${r.phase} | ${r.atMs} | ${r.ms} |`)
  console.log(
    `\nwhole run (spawn to exit, the driver's process): ${result.cliMs} ms; node -e 0: ${result.nodeMs} ms ` +
      `(${(result.cliMs / result.nodeMs).toFixed(2)}×)`,
  )
}
