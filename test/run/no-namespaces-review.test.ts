// Findings of issue 18's adversarial review in no-namespace mode, closed: `network: none` holds
// without a net namespace (no IP socket at all), and the host's processes cannot be acted on by
// pid through the calls Landlock's signal scope does not cover.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

interface Result {
  probe: string
  outcome: string
  by?: string
}

describe('no-namespace mode after the review', () => {
  const dir = `/tmp/cordon-nons-review-${process.pid}`
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, 0o777)
  after(() => rmSync(dir, { recursive: true, force: true }))
  const args = ['verify', '--json', '--no-namespaces', '--acknowledge', 'no-view']
  const probes = ['--probe', 'process-control', '--probe', 'tcp-host', '--probe', 'udp-host']
  const callers = [
    { who: 'root', run: (a: string[]) => cordon(a, { cwd: dir, timeout: 120_000 }) },
    ...(isRoot
      ? [{ who: 'a plain user', run: (a: string[]) => cordonAs(ensureTestUser(), a, dir, 120_000) }]
      : []),
  ]
  for (const c of callers)
    test(`as ${c.who}: no IP socket under network none, no prlimit/setpriority/affinity on host processes`, () => {
      const r = c.run([...args, ...probes])
      const results = (JSON.parse(r.stdout) as { results: Result[] }).results
      for (const name of ['process-control', 'tcp-host', 'udp-host']) {
        const got = results.find((x) => x.probe === name)
        assert.equal(got?.outcome, 'blocked', JSON.stringify(got))
        assert.match(got.by ?? '', /seccomp/)
      }
      assert.equal(r.status, 0, r.stderr)
    })

  test('loopback cannot be kept without a net namespace: refused with the fix', () => {
    const r = cordon(
      ['run', '--no-namespaces', '--acknowledge', 'no-view', '--net', 'loopback', '--', 'true'],
      { cwd: dir },
    )
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /loopback cannot be kept: use none or host/)
  })
})
