// A monitor rule's learned baseline is read from beside its rules file, by the path's bytes:
// from /tmp/r\xff a string path read /tmp/r\xef\xbf\xbd/app.learn.json, where another user's
// huge peak switched a kill rule off.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { learnedRate } from '../../src/monitor/learned-baseline.js'
import { pathFromBytes } from '../../src/host/path-bytes.js'

const observation = (peak: number) =>
  JSON.stringify({
    version: 1,
    syscalls: {},
    runs: [{ durationMs: 1000 }],
    spawns: { count: 1, peakPerSecond: peak },
  })

test('a baseline under a path that is not UTF-8 is its own file, not the U+FFFD twin', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cordon-baseline-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const own = Buffer.from(`${base}/r\xff`, 'latin1')
  const twin = Buffer.from(`${base}/r\xef\xbf\xbd`, 'latin1')
  for (const [dir, peak] of [
    [own, 1],
    [twin, 1_000_000],
  ] as const) {
    mkdirSync(dir)
    writeFileSync(Buffer.concat([dir, Buffer.from('/app.learn.json')]), observation(peak))
  }
  const file = `${pathFromBytes(own)}/app.learn.json`
  assert.equal(learnedRate(file, [], 1000, true), 1)
})
