// A probe whose sandbox never ends is bounded and reported as timed out, never as blocked: a
// hang is no block (CI, 2026-12-03: gVisor's fork-bomb sandbox wedged at boot and `cordon
// verify` hung until the test's own 300 s timeout). The hang is made on purpose through a
// test-only knob: the named probe's sandbox runs `sleep 3600` instead of the probe.
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { cordon, hasCommand, isRoot, projectDir } from '../helpers.js'

interface Result {
  probe: string
  outcome: string
  expected: boolean
  by?: string
  detail?: string
}

const backends = [
  'native',
  ...(isRoot && hasCommand('runc') ? ['runc'] : []),
  ...(isRoot && hasCommand('runsc') ? ['gvisor'] : []),
]

for (const backend of backends)
  test(`${backend}: a probe that hangs is reported as timed out within its bound, not as blocked`, () => {
    const started = performance.now()
    const r = cordon(
      ['verify', '--pids', '512', '--timeout', '2s', '--probe', 'fork-bomb', '--backend', backend, '--json'],
      { cwd: projectDir(), timeout: 60_000, env: { CORDON_TEST_HANG_PROBE: 'fork-bomb' } },
    )
    const seconds = (performance.now() - started) / 1000
    assert.equal(r.status, 1, r.stderr)
    const out = JSON.parse(r.stdout) as { results: Result[]; failures: number }
    assert.equal(out.failures, 1)
    const [bomb] = out.results
    assert.equal(bomb?.outcome, 'error', JSON.stringify(bomb))
    assert.equal(bomb.by, undefined)
    assert.match(bomb.detail ?? '', /^timed out: no result within 2 s, the sandbox was killed/)
    // The 2 s bound, the kill and the runtime's clean-up: well under the 30 s past it at which
    // verify would stop waiting.
    assert.ok(seconds < 20, `verify took ${seconds.toFixed(1)} s`)
  })
