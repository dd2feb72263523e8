// A fork bomb under a tight memory limit may be ended by the OOM killer before the pids limit
// refuses a fork: contained by the cgroup all the same, so verify counts it blocked.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cgroupAccess } from '../../src/cgroup/select.js'
import { cordon, projectDir } from '../helpers.js'

const cgroup = cgroupAccess()

describe('verify: fork bomb under a small memory limit', () => {
  test('an OOM kill that ends the bomb is blocked by the cgroup', { skip: !cgroup.ok && cgroup.why }, () => {
    const r = cordon(['verify', '--json', '--memory', '256M', '--probe', 'fork-bomb'], {
      cwd: projectDir(),
      timeout: 120_000,
    })
    const out = JSON.parse(r.stdout) as { results: { probe: string; outcome: string; by?: string }[] }
    const bomb = out.results.find((x) => x.probe === 'fork-bomb')!
    assert.equal(bomb.outcome, 'blocked', r.stdout)
    assert.match(bomb.by!, /^cgroup \((pids|memory) limit/)
    assert.equal(r.status, 0, r.stderr)
  })
})
