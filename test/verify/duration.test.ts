// Issue 20's acceptance: `cordon verify` as root finishes in under 10 s on any host (the
// resource probes run under small limits of their own, test/verify/probe-limits.test.ts), and
// the README's counts of the battery are the battery's. Timed: it runs alone
// (scripts/run-tests.mjs), so another file's load does not decide it.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { cordon, isRoot, projectDir, ROOT } from '../helpers.js'

test(
  'the whole battery as root takes under 10 s, and the README counts its attacks and probes',
  { skip: !isRoot && 'the 10 s promise and the counts are root’s (a plain user runs fewer attacks)' },
  () => {
    const started = performance.now()
    const r = cordon(['verify', '--json', '--quiet'], { cwd: projectDir(), timeout: 120_000 })
    const seconds = (performance.now() - started) / 1000
    assert.equal(r.status, 0, r.stderr)
    assert.ok(seconds < 10, `cordon verify took ${seconds.toFixed(1)} s`)
    const { results } = JSON.parse(r.stdout) as { results: { probe: string }[] }
    // host-device tries each unlisted device node the host has (terminals, /dev/kvm, /dev/fuse…):
    // one attack in the README's count, however many nodes this VM has.
    const attacks = results.filter((x) => x.probe !== 'host-device').length + 1
    const probes = new Set(results.map((x) => x.probe)).size
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const claims = [
      ...readme.matchAll(
        /(\d+)-attack escape battery \((\d+) probes\)|runs (\d+) attacks \(as root; (\d+) probes\)/g,
      ),
    ]
    assert.equal(claims.length, 2, 'the README states the counts in its status and under verify')
    for (const m of claims) {
      const [a, p] = (m[1] ? [m[1], m[2]] : [m[3], m[4]]).map(Number)
      assert.deepEqual({ attacks: a, probes: p }, { attacks, probes }, m[0])
    }
    assert.match(readme, new RegExp(`\`cordon verify\`: ${attacks} attacks`), 'the comparison table')
  },
)
