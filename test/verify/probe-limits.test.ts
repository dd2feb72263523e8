// Issue 20 (acceptance: `cordon verify` as root in under 10 s): the resource probes check the
// policy's limit setting under small limits of verify's own, so the default profile's 4096
// pids and half-the-host memory cost neither thousands of forks nor gigabytes, and still
// prove the limit holds (the probe goes past the limit it runs under, and is stopped).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cgroupAccess } from '../../src/cgroup/select.js'
import { PIDS_PROBE_LIMIT, MEMORY_PROBE_LIMIT } from '../../src/verify/battery.js'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const cgroup = cgroupAccess()

interface Result {
  probe: string
  outcome: string
  expected: boolean
  by?: string
  detail?: string
}

function check(stdout: string, status: number | null, stderr: string): void {
  const out = JSON.parse(stdout) as { results: Result[] }
  const one = (name: string) => out.results.find((r) => r.probe === name)!
  const bomb = one('fork-bomb')
  assert.equal(bomb.outcome, 'blocked', stdout)
  const forked = Number(/^(\d+) processes/.exec(bomb.detail ?? '')?.[1])
  assert.ok(forked <= PIDS_PROBE_LIMIT, `the bomb forked ${forked} processes: ${bomb.detail}`)
  assert.match(bomb.detail!, new RegExp(`checked under a ${PIDS_PROBE_LIMIT}-process limit`))
  const memory = one('memory')
  // A plain user without a delegated cgroup has no memory limit: allowed, with the reason.
  if (memory.expected) {
    assert.equal(memory.outcome, 'blocked', stdout)
    assert.match(memory.detail ?? '', new RegExp(`checked under a ${MEMORY_PROBE_LIMIT / 2 ** 20} MiB limit`))
  }
  assert.equal(status, 0, stderr)
}

describe('verify: resource probes under limits of their own', () => {
  test(
    'root: the default profile’s limits are checked under the probes’ small ones',
    { skip: !isRoot ? 'needs root' : !cgroup.ok && cgroup.why },
    () => {
      const r = cordon(['verify', '--json', '--probe', 'fork-bomb', '--probe', 'memory'], {
        cwd: projectDir(),
        timeout: 120_000,
      })
      check(r.stdout, r.status, r.stderr)
    },
  )
  test(
    'plain user: the fork bomb stops at the probe’s limit too',
    { skip: isRoot ? false : 'needs root to make the user' },
    () => {
      const user = ensureTestUser()
      const r = cordonAs(
        user,
        ['verify', '--json', '--probe', 'fork-bomb', '--probe', 'memory'],
        '/tmp',
        120_000,
      )
      check(r.stdout, r.status, r.stderr)
    },
  )
})
