// Runs the OCI runtime-tools validation suite against runc-compatible runtimes and prints one
// row per test with each runtime's verdict side by side (test/conformance/oci-validation.ts).
//
//   npm run build && node scripts/oci-validation.mjs --runtime runc --runtime crun \
//     --runtime /path/to/cordon-oci [--only NAME]... [--json FILE] [--timeout SECONDS]
//
// Root. The first run builds the suite (minutes) into ~/.cache/cordon/oci-validation/<version>
// from OCI_RUNTIME_TOOLS_GIT (a clone of github.com/opencontainers/runtime-tools) or
// OCI_RUNTIME_TOOLS_SRC; later runs reuse it. Tests run one at a time (they share cgroups).
// Exits 1 when a runtime fails a test that the first runtime (the reference) passes.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { buildSuite, runTest, cell } = await import(
  join(root, 'build', 'test', 'conformance', 'oci-validation.js')
)
const { values } = parseArgs({
  options: {
    runtime: { type: 'string', multiple: true, default: [] },
    only: { type: 'string', multiple: true, default: [] },
    json: { type: 'string' },
    timeout: { type: 'string', default: '120' },
  },
})
if (!values.runtime.length) {
  console.error(
    'usage: node scripts/oci-validation.mjs --runtime PATH [--runtime PATH]... (the first is the reference)',
  )
  process.exit(2)
}
const runtimes = values.runtime.map((r) => {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', r], { encoding: 'utf8' })
  if (found.status !== 0) {
    console.error(`--runtime ${r}: not found or not executable`)
    process.exit(2)
  }
  return found.stdout.trim()
})

let suite
try {
  suite = buildSuite((line) => console.error(`oci-validation: ${line}`))
} catch (e) {
  console.error(`oci-validation: ${e.message}`)
  process.exit(2)
}
const tests = suite.tests.filter((t) => !values.only.length || values.only.includes(t))
console.error(`oci-validation: runtime-tools ${suite.version}, ${tests.length} tests, ${suite.dir}`)

const rows = []
for (const test of tests) {
  const row = { test, results: [] }
  // Runtimes alternate per test, so load on the machine falls on all of them alike.
  for (const runtime of runtimes)
    row.results.push(await runTest(suite, test, runtime, Number(values.timeout) * 1000))
  rows.push(row)
  console.error(`  ${test}: ${row.results.map(cell).join(' | ')}`)
}

const names = runtimes.map((r) => basename(r))
const width = Math.max(...tests.map((t) => t.length), 4)
const col = 12
console.log(['test'.padEnd(width), ...names.map((n) => n.padEnd(col))].join('  '))
let regressions = 0
for (const { test, results } of rows) {
  const [ref, ...others] = results
  const worse = others.filter((r) => ref.verdict === 'pass' && r.verdict !== 'pass')
  regressions += worse.length
  console.log(
    [test.padEnd(width), ...results.map((r) => cell(r).padEnd(col))].join('  ') + (worse.length ? '  <' : ''),
  )
}
const totals = runtimes.map((_, i) => {
  const n = (v) => rows.filter((r) => r.results[i].verdict === v).length
  return `${n('pass')}/${n('fail')}/${n('skip')}`
})
console.log(['pass/fail/skip'.padEnd(width), ...totals.map((t) => t.padEnd(col))].join('  '))
for (const { test, results } of rows)
  for (const [i, r] of results.entries())
    if (r.verdict === 'fail' && r.detail) console.log(`${names[i]} ${test}: ${r.detail}`)
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify({ version: 1, suite: suite.version, runtimes, rows }, null, 2) + '\n',
  )
process.exit(regressions ? 1 : 0)
