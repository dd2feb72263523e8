// Issue 20 (leftover 6): an -o path that cannot be written says what is wrong with it — a
// directory, a missing parent, a file on the way, a kernel file system, a directory the caller
// cannot write — before anything runs, for every command's -o (cli/output-file.ts).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { CLI, cordon, cordonAs, ensureTestUser, inPrivateMounts, isRoot } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'cordon-output-path-'))
after(() => rmSync(dir, { recursive: true, force: true }))
writeFileSync(join(dir, 'file'), 'x')

const cases = [
  { name: 'a kernel file system', out: '/proc/x', want: /cannot write \/proc\/x: \/proc takes no new files/ },
  {
    name: 'a missing parent',
    out: join(dir, 'missing/x'),
    want: /the directory \S+\/missing does not exist; cordon does not create directories: mkdir -p /,
  },
  { name: 'a directory', out: dir, want: /is a directory; give a file name, e\.g\. / },
  { name: 'a file on the way', out: join(dir, 'file/x'), want: /\S+\/file is not a directory/ },
]

describe('-o paths that cannot be written', () => {
  for (const c of cases) {
    test(`compile: ${c.name}`, () => {
      const r = cordon(['compile', '-q', '-o', c.out], { cwd: dir })
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, c.want)
      assert.doesNotMatch(r.stderr, /\.cordon-|\.tmp\./, 'names a temporary file')
    })
    test(`learn: ${c.name}, before the command runs`, () => {
      const r = cordon(['learn', '-q', '-o', c.out, '--', 'echo', 'RAN'], { cwd: dir })
      assert.equal(r.status, 125, r.stderr)
      assert.match(r.stderr, c.want)
      assert.doesNotMatch(r.stdout, /RAN/)
      // A policy's name, not `out` (helper-134).
      if (c.out === dir) assert.match(r.stderr, /e\.g\. \S+\/policy\.yaml/)
    })
  }
  test('export: a file given as the output directory', () => {
    const r = cordon(['export', '--to', 'systemd', '-q', '-o', join(dir, 'file'), '--', 'true'], { cwd: dir })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /is a file; -o takes a directory here/)
  })
  test(
    'a plain user: a directory it cannot write',
    { skip: isRoot ? false : 'needs root to make the user' },
    () => {
      const r = cordonAs(ensureTestUser(), ['compile', '-q', '-o', '/etc/x.plan'], '/tmp')
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, /cannot write \/etc\/x.plan: \/etc is not writable by you \(EACCES\)/)
    },
  )

  // helper-114: one writeSync on a nearly full disk wrote part of the plan, which was renamed
  // into place: exit 0, and cordon-exec refused the plan later. All of it, or an error.
  test(
    'compile: a disk that fills up leaves no part of the plan, and says so',
    { skip: !isRoot && 'needs root to mount a small tmpfs in a mount namespace of its own' },
    () => {
      const small = mkdtempSync(join(tmpdir(), 'cordon-full-'))
      try {
        const script =
          `mount -t tmpfs -o size=8k tmpfs "$1" && "$2" "$3" compile -q -o "$1/web.plan" -- /bin/echo served; ` +
          'echo "rc=$?"; ls -A "$1"'
        const r = inPrivateMounts(script, ['sh', small, process.execPath, CLI], dir)
        assert.match(r.stdout, /^rc=2\n$/, `${r.stdout}${r.stderr}`)
        assert.match(r.stderr, /cannot write \S+\/web\.plan: the disk is full/)
      } finally {
        rmSync(small, { recursive: true, force: true })
      }
    },
  )
})
