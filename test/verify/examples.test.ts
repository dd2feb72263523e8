// The policies the project ships (examples/) pass their own gate: `cordon verify POLICY` exits 0,
// and what a policy allows on purpose is listed as allowed with the reason, never as an attack
// that got through. A newcomer's trial found `verify examples/dev.yaml` failing: its
// `tmpfs: { dest: /tmp, exec: true }` (what builds and venvs need) made the exec-tmp probe
// "NOT BLOCKED", where the README promises that a policy's own choices do not fail the run.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, ROOT } from '../helpers.js'

interface Result {
  probe: string
  outcome: string
  expected: boolean
  reason?: string
}

const dir = join(ROOT, 'examples')

describe('verify: the shipped example policies', () => {
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml')))
    test(`examples/${name} passes its own verify`, () => {
      const r = cordon(['verify', '--json', join(dir, name)], { cwd: dir, timeout: 180_000 })
      const out = JSON.parse(r.stdout) as { results: Result[] }
      const through = out.results.filter((x) => x.expected && x.outcome === 'escaped')
      assert.deepEqual(through, [], `attacks ${name} should stop got through`)
      assert.equal(r.status, 0, r.stderr)
    })

  test("dev.yaml's executable /tmp is the policy's own choice, with the reason", () => {
    const r = cordon(['verify', '--json', join(dir, 'dev.yaml')], { cwd: dir, timeout: 180_000 })
    const out = JSON.parse(r.stdout) as { results: Result[] }
    const exec = out.results.find((x) => x.probe === 'exec-tmp')!
    assert.equal(exec.outcome, 'escaped', r.stdout)
    assert.equal(exec.expected, false)
    assert.match(exec.reason ?? '', /tmpfs at \/tmp allows exec/)
  })
})
