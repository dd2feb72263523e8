// How the validation table reads runtime-tools' TAP: a test passes only when it asserted
// something, nothing failed and it exited 0. The suite itself runs from
// scripts/oci-validation.mjs (minutes per runtime; its sources are not in Debian).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { commitOf, judgeTap, parseTap } from './oci-validation.js'

const cases = [
  { name: 'all assertions pass', tap: 'TAP version 13\nok 1 - a\nok 2 - b\n1..2\n', exit: 0, want: 'pass' },
  { name: 'one assertion fails', tap: 'ok 1 - a\nnot ok 2 - b\n1..2\n', exit: 0, want: 'fail' },
  { name: 'skipped assertions only', tap: 'ok 1 # SKIP no cgroup\n1..1\n', exit: 0, want: 'skip' },
  { name: 'a plan of zero with a skip', tap: '1..0 # SKIP not root\n', exit: 0, want: 'skip' },
  {
    name: 'an error diagnostic before any assertion (hooks.go)',
    tap: 'TAP version 13\n  ---\n  {\n    "error": "Hooks MUST be called\\nRefer to: x"\n  }\n  ...\n1..0\n',
    exit: 0,
    want: 'fail',
  },
  { name: 'assertions pass but the program exits 1 (util.Fatal)', tap: 'ok 1 - a\n', exit: 1, want: 'fail' },
  { name: 'no TAP at all (the container printed nothing)', tap: 'TAP version 13\n', exit: 0, want: 'fail' },
  { name: 'killed by the timeout', tap: 'ok 1 - a\n', exit: null, want: 'fail' },
] as const

for (const c of cases)
  test(`validation TAP: ${c.name} reads as ${c.want}`, () => {
    assert.equal(judgeTap(parseTap(c.tap), c.exit), c.want)
  })

test('the failure kept for the table is the first failed assertion or the early error', () => {
  assert.equal(parseTap('ok 1 - a\nnot ok 2 - b\nnot ok 3 - c\n').firstFailure, 'not ok 2 - b')
  assert.equal(
    parseTap('  {\n    "error": "Hooks MUST be called\\nRefer to: x"\n  }\n1..0\n').firstFailure,
    'error before any assertion: Hooks MUST be called',
  )
})

test("Debian's snapshot version names the upstream commit the suite is built from", () => {
  assert.equal(commitOf('0.9.0+git20220423.g0105384-2'), '0105384')
  assert.equal(commitOf('0.9.0-1'), undefined)
})
