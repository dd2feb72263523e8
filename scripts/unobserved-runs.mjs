// Issue 19's acceptance, in full: each signal-heavy workload of test/monitor/workloads.ts run
// --runs times (default 100) as separate sandboxes under each observation mode, and compared
// with its unobserved output and exit status. Prints deviations per workload and mode; exits 1
// when there is any. The test suite runs the same workloads once per mode, looping inside.
//
//   npm run build && node scripts/unobserved-runs.mjs [--runs N] [--iterations N] [--only NAME]
//     [--modes none,monitor,watch,learn,audit]
// A deviating run's stderr is printed (the first of each workload and mode), so a rare failure
// can be told apart from the program's own.
// Root; takes long (5 workloads × 5 runs-kinds × N runs). Unset NODE_EXTRA_CA_CERTS first.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { writeWorkloads, MODES } = await import(join(root, 'build', 'test', 'monitor', 'workloads.js'))
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    iterations: { type: 'string', default: '20' },
    only: { type: 'string' },
    modes: { type: 'string' },
  },
})
const runs = Number(values.runs)
const dir = mkdtempSync(join(tmpdir(), 'cordon-unobserved-'))
// The sandbox runs as an unprivileged id even for root: it must be able to enter the directory.
chmodSync(dir, 0o755)
const cli = join(root, 'bin', 'cordon.js')
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
// A run the harness kills is no deviation of the program's: spawnSync then reports status 1 and
// empty output (ETIMEDOUT), which once passed for one. Learn stops every call of the C open loop
// (150,000 ptrace-stops and a signal-delivery-stop each 100 µs): 36 s at load 16 on 2 cores,
// past 120 s at load 20. So the limit is generous, and a timeout is counted apart.
const TIMEOUT_MS = Number(process.env.CORDON_RUN_TIMEOUT_MS ?? 900_000)
const cordon = (args) => {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
  })
  return { stdout: r.stdout, status: r.status, stderr: r.stderr, timedOut: r.error?.code === 'ETIMEDOUT' }
}

let deviations = 0
let timeouts = 0
try {
  const { workloads, skipped } = writeWorkloads(dir, Number(values.iterations))
  for (const s of skipped) console.log(`skipped: ${s}`)
  for (const w of workloads.filter((x) => !values.only || x.name.includes(values.only))) {
    const want = cordon(['run', '--', ...w.argv])
    if (want.status !== 0) {
      console.log(`${w.name}: the unobserved run failed (${want.status}): ${want.stderr.slice(-300)}`)
      deviations++
      continue
    }
    const row = [w.name]
    const all = Object.entries({ none: (a) => ['run', '--', ...a], ...MODES })
    const chosen = values.modes?.split(',')
    for (const [mode, args] of all.filter(([m]) => !chosen || chosen.includes(m))) {
      let bad = 0
      let first = ''
      const t0 = performance.now()
      for (let i = 0; i < runs; i++) {
        const r = cordon(args(w.argv, dir))
        if (r.timedOut) {
          timeouts++
          console.log(
            `${w.name} under ${mode}: the harness killed it after ${TIMEOUT_MS / 1000} s (not compared)`,
          )
          continue
        }
        if (r.stdout !== want.stdout || r.status !== want.status) {
          bad++
          if (!first)
            console.log(`${w.name} under ${mode}: deviation (${r.status}): ${r.stderr.slice(-2000)}`)
          first ||= `${r.status} ${JSON.stringify(r.stdout.slice(0, 80))}`
        }
      }
      deviations += bad
      const ms = (performance.now() - t0) / runs
      row.push(`${mode} ${bad}/${runs}${first ? ` (${first})` : ''} ${ms.toFixed(0)} ms/run`)
      // As it goes, too: a long run cut short still tells what it measured.
      console.log(`  ${w.name} under ${mode}: ${row.at(-1)}`)
    }
    console.log(row.join(' | '))
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
if (timeouts) console.log(`${timeouts} run(s) timed out (CORDON_RUN_TIMEOUT_MS=${TIMEOUT_MS})`)
process.exit(deviations || timeouts ? 1 : 0)
