// Issue 20 (leftover 4): -q silences notes and warnings on every command that prints them
// (learn's "not granted" lines, export's and compile's "wrote", gaps and fixes, seccomp import's
// skips); errors still print.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'cordon-quiet-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const timeout = 120_000

describe('-q on every command that prints notes', () => {
  test('learn -q prints none of its notes (summary, not granted)', { timeout }, () => {
    const loud = cordon(['learn', '-o', 'loud.yaml', '--', 'ls', '/'], { cwd: dir, timeout })
    assert.equal(loud.status, 0, loud.stderr)
    assert.match(loud.stderr, /not granted: /, 'the run this test relies on has a withheld grant')
    const quiet = cordon(['learn', '-q', '-o', 'quiet.yaml', '--', 'ls', '/'], { cwd: dir, timeout })
    assert.equal(quiet.status, 0, quiet.stderr)
    assert.equal(quiet.stderr, '')
  })

  const cases = [
    { name: 'export', args: ['export', '--to', 'systemd', '-o', '.', '--', 'true'] },
    { name: 'compile', args: ['compile', '-o', 'x.plan', '--memory', '64M'] },
  ]
  for (const c of cases)
    test(`${c.name} -q writes its files and says nothing`, { timeout }, () => {
      const loud = cordon(c.args, { cwd: dir, timeout })
      assert.equal(loud.status, 0, loud.stderr)
      assert.notEqual(loud.stderr, '', 'the loud run has notes to silence')
      const quiet = cordon([...c.args.slice(0, 1), '-q', ...c.args.slice(1)], { cwd: dir, timeout })
      assert.equal(quiet.status, 0, quiet.stderr)
      assert.equal(quiet.stderr, '')
    })

  test('seccomp import -q drops its skip notes', { timeout }, () => {
    const oci = join(dir, 'oci.json')
    writeFileSync(
      oci,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' }],
      }),
    )
    const loud = cordon(['seccomp', 'import', oci], { cwd: dir, timeout })
    assert.equal(loud.status, 0, loud.stderr)
    assert.match(loud.stderr, /no_such_call/)
    const quiet = cordon(['seccomp', 'import', '-q', oci], { cwd: dir, timeout })
    assert.equal(quiet.status, 0, quiet.stderr)
    assert.equal(quiet.stderr, '')
  })

  test('errors still print under -q', () => {
    const r = cordon(['compile', '-q'], { cwd: dir })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /compile needs -o FILE/)
  })
})
