// isoTime is Date's toISOString without loading the local time zone: the same text for every
// time it handles, and the run's start loads no zone (strace: no /etc/localtime).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { isoTime } from '../../src/host/iso-time.js'
import { projectDir, ROOT } from '../helpers.js'

test('isoTime writes what toISOString writes', () => {
  const times = [
    0,
    1,
    999,
    1000,
    59_999,
    Date.UTC(2026, 11, 3, 22, 10, 3, 123),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ]
  for (let i = 0; i < 2000; i++) times.push(Math.floor(Math.random() * Date.UTC(9999, 0, 1)))
  times.push(-1, Date.UTC(10000, 0, 1), -62198755200000)
  for (const t of times) assert.equal(isoTime(t), new Date(t).toISOString(), String(t))
  assert.match(isoTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0

test('a cordon run reads no time zone', { skip: !hasStrace && 'strace is not installed' }, () => {
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-qq',
      '-e',
      'trace=openat',
      process.execPath,
      join(ROOT, 'bin', 'cordon.cjs'),
      'run',
      '-q',
      '--',
      'true',
    ],
    { cwd: projectDir(), encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
  )
  assert.equal(r.status, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /localtime|zoneinfo/)
})
