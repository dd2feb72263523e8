// Without a user namespace a root caller's sandbox runs as its id range, and its binds are not
// idmapped: `--no-namespaces --rw .` in a root-owned project made no file, and said nothing of
// why (a newcomer's trial). The run now warns, naming the ids and the fix.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, isRoot } from '../helpers.js'

test(
  'root, without namespaces: a writable bind the id range cannot write is warned of',
  { skip: !isRoot && 'root: the id range is a root caller’s' },
  (t) => {
    const project = mkdtempSync(join(tmpdir(), 'cordon-unwritable-'))
    t.after(() => rmSync(project, { recursive: true, force: true }))
    chmodSync(project, 0o755) // root's, as /opt/app or a checkout by root is
    const run = (more: string[]) =>
      cordon(['run', '--no-namespaces', '--acknowledge', 'no-view', ...more, '--', 'sh', '-c', ': > made'], {
        cwd: project,
      })
    const r = run(['--rw', '.'])
    assert.notEqual(r.status, 0)
    assert.equal(existsSync(join(project, 'made')), false)
    assert.match(r.stderr, /warning: .*the writable bind of .*cordon-unwritable-.*lets it make no file there/)
    assert.match(r.stderr, /run with namespaces \(their binds are idmapped\), or `chown \d+:\d+`/)
    // Once the range may write there, nothing is said, and the file is made.
    chmodSync(project, 0o777)
    const ok = run(['--rw', '.'])
    assert.equal(ok.status, 0, ok.stderr)
    assert.doesNotMatch(ok.stderr, /writable bind of/)
    assert.equal(existsSync(join(project, 'made')), true)
  },
)
