// Runs the suite in two phases. Most test files run two at a time; the few that measure time
// (how fast a storm is frozen, notifications per second, a CPU quota) run alone afterwards, so
// that another file's fork bomb or memory probe never decides whether they pass.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

const ROOT = 'build/test'
/** Test files whose assertions are about elapsed time or throughput. */
const TIMED = new Set([
  'monitor/respond.test.js',
  'monitor/notify.test.js',
  'monitor/counts-timer.test.js',
  'monitor/frozen-safety.test.js',
  'cgroup/limits.test.js',
])

const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  )
const all = files(ROOT).sort()
const timed = all.filter((f) => TIMED.has(relative(ROOT, f)))
const rest = all.filter((f) => !timed.includes(f))

const run = (concurrency, list) =>
  spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...list],
    {
      stdio: 'inherit',
    },
  ).status ?? 1

const first = run(2, rest)
const second = run(1, timed)
process.exit(first || second)
