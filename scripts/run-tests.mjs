// Runs the suite in two phases. Most test files run two at a time; the few that measure time
// (how fast a storm is frozen, notifications per second, a CPU quota) run alone afterwards, so
// that another file's fork bomb or memory probe never decides whether they pass.
// `--unit` runs only the unit tier: files that need no root and no kernel feature (no user
// namespaces, no Landlock, no seccomp, no cgroup), proved by scripts/test-unit-unprivileged.sh.
// A file is in the unit tier when its source's first line is the marker `// tier: unit`;
// test/architecture/tiers.test.ts checks the markers (spelling, place, what a unit file calls).
// Afterwards the suite fails if it left directories behind in /tmp (tests clean up with t.after).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = 'build/test'
/** Test files whose assertions are about elapsed time or throughput, or that no other run of
 * the same caller may share the machine with. */
const TIMED = new Set([
  'monitor/respond.test.js',
  'monitor/notify.test.js',
  'monitor/counts-timer.test.js',
  'monitor/frozen-safety.test.js',
  'cgroup/limits.test.js',
  // A SIGSTOP freeze must catch a process that forks away within 2 s: a race against load.
  'run/unprivileged.test.js',
  // A SIGSTOP freeze must not sweep for seconds past a process stuck in D (vfork).
  'run/freeze-sweep.test.js',
  // A SIGSTOP freeze must stop a fork-hopping sandbox that floods its init: a race against load.
  'run/freeze-flood.test.js',
  // The whole verify battery as root in under 10 s (issue 20's acceptance).
  'verify/duration.test.js',
  // Any other run of the same caller sweeps a killed supervisor's private /tmp: the test
  // needs one to stay until its own next run.
  'run/private-tmp-sweep.test.js',
  // The same for a runtime backend: any other `--backend runc|gvisor` run of the caller sweeps
  // the container a SIGKILLed cordon left, which the test needs running until it looks (CI at
  // f7b45ec found it swept by another file's run).
  'backends/orphans.test.js',
])
/** The marker a unit test file's first line carries. */
const UNIT_MARKER = '// tier: unit'
/** Whether build/test/REL.test.js is a unit test: its source (test/REL.test.ts) is marked. */
const isUnit = (rel) => {
  const source = join('test', rel.replace(/\.js$/, '.ts'))
  return existsSync(source) && readFileSync(source, 'utf8').split('\n', 1)[0] === UNIT_MARKER
}

const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  )

// What the suite leaves in the temporary directory: scratch files and directories named
// cordon-*. /tmp/cordon-UID is cordon's own per-user state (the registry), kept on purpose.
const TMP = tmpdir()
const leftovers = () =>
  new Set(readdirSync(TMP).filter((n) => n.startsWith('cordon-') && !/^cordon-\d+$/.test(n)))

// Each phase's failures, one line each (scripts/failures-reporter.mjs), printed at the very end.
const scratch = mkdtempSync(join(tmpdir(), 'run-tests-'))
const reporter = join(dirname(fileURLToPath(import.meta.url)), 'failures-reporter.mjs')
let phases = 0
const failureFiles = []
const run = (concurrency, list) => {
  const failures = join(scratch, `failures-${phases++}.txt`)
  failureFiles.push(failures)
  return (
    spawnSync(
      process.execPath,
      [
        '--test',
        `--test-concurrency=${concurrency}`,
        '--test-timeout=600000',
        '--test-reporter=tap',
        '--test-reporter-destination=stdout',
        `--test-reporter=${reporter}`,
        `--test-reporter-destination=${failures}`,
        ...list,
      ],
      { stdio: 'inherit' },
    ).status ?? 1
  )
}

const all = files(ROOT).sort()
const before = leftovers()
let status
if (process.argv.includes('--unit')) {
  status = run(
    2,
    all.filter((f) => isUnit(relative(ROOT, f))),
  )
} else {
  const timed = all.filter((f) => TIMED.has(relative(ROOT, f)))
  const rest = all.filter((f) => !timed.includes(f))
  const first = run(2, rest)
  const second = run(1, timed)
  status = first || second
}
const failed = failureFiles.flatMap((f) =>
  existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [],
)
rmSync(scratch, { recursive: true, force: true })
if (failed.length) {
  console.log(`run-tests: ${failed.length} test(s) failed:`)
  for (const line of failed) console.log(`run-tests:   ${line}`)
} else if (status) {
  console.log(`run-tests: a test run ended with status ${status} and no failed test named`)
}
// CORDON_TMP_CHECK=off skips the check where other runs share /tmp (several checkouts at once).
const left = [...leftovers()].filter((n) => !before.has(n))
if (left.length && process.env.CORDON_TMP_CHECK !== 'off') {
  // On stdout too: a CI log cut to its tail must say why the suite failed.
  console.log(`run-tests: the tests left ${left.length} director(ies) in ${TMP}: ${left.join(' ')}`)
  console.log('run-tests: remove them in t.after (or after) where they are made')
  status ||= 1
}
process.exit(status)
