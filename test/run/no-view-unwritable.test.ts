// Without a user namespace a root caller's sandbox runs as its id range, and its binds are not
// idmapped: `--no-namespaces --rw .` in a root-owned project made no file, and said nothing of
// why (a newcomer's trial). The run now warns, naming the ids and the fix.
import assert from 'node:assert/strict'
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, ensureTestUser, isRoot } from '../helpers.js'

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

// helper-113: with namespaces a root caller's writable binds are idmapped, so another owner's
// directory shows its owner's ids, and the sandbox's root, without capabilities, cannot write
// it: `--rw .` in a plain user's project made nothing and said nothing. Now it warns, naming
// the owner to run as; run as that owner, the file is made (and is the owner's).
test(
  "root, namespaced: a writable bind of another owner's directory is warned of",
  { skip: !isRoot && 'root: idmapped binds are a root caller’s' },
  (t) => {
    const { uid, gid } = ensureTestUser()
    const project = mkdtempSync(join(tmpdir(), 'cordon-others-'))
    t.after(() => rmSync(project, { recursive: true, force: true }))
    chmodSync(project, 0o755)
    chownSync(project, uid, gid)
    const run = (more: string[]) => cordon(['run', ...more, '--', 'sh', '-c', ': > made'], { cwd: project })
    const r = run(['--rw', '.'])
    assert.notEqual(r.status, 0)
    assert.equal(existsSync(join(project, 'made')), false)
    assert.match(
      r.stderr,
      new RegExp(
        `warning: .*the writable bind of .*cordon-others-.*: the sandbox writes as 0:0 without capabilities .*` +
          `\\(owner ${uid}:${gid}, mode 755\\) lets it make no file there; run as its owner \\(\`--uid ${uid} --gid ${gid}\`\\)`,
      ),
    )
    const owner = run(['--uid', String(uid), '--gid', String(gid), '--rw', '.'])
    assert.equal(owner.status, 0, owner.stderr)
    assert.doesNotMatch(owner.stderr, /writable bind of/)
    assert.equal(statSync(join(project, 'made')).uid, uid)
  },
)
