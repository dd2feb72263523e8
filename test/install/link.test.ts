// Installing from a clone's path as a user who does not own the clone (issue 20, #1): npm 11
// runs the clone's `prepare` there as the installing user and chmods its bin files, so it
// cannot work; it stops with one message naming the two ways that do (own clone, tarball)
// instead of a hundred TS5033 EACCES lines.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ensureTestUser, ROOT } from '../helpers.js'

describe('npm install /path/to/clone', () => {
  test('as a user who does not own the clone: one message with the fix, nothing written', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to act as the test user')
    const user = ensureTestUser()
    if (statSync(ROOT).uid === user.uid) return t.skip('the test user owns this checkout')
    const project = mkdtempSync(join(tmpdir(), 'cordon-link-'))
    t.after(() => rmSync(project, { recursive: true, force: true }))
    chownSync(project, user.uid, user.gid)
    writeFileSync(join(project, 'package.json'), '{"name":"p","version":"1.0.0","private":true}\n')
    chownSync(join(project, 'package.json'), user.uid, user.gid)
    const before = statSync(join(ROOT, 'build', 'src', 'index.js')).mtimeMs
    const r = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ROOT], {
      cwd: project,
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project, NODE_EXTRA_CA_CERTS: '' },
      timeout: 300_000,
    })
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /cordon: cannot install from .* as uid \d+: .* belongs to uid \d+/)
    assert.match(r.stderr, /npm pack/)
    assert.doesNotMatch(r.stderr, /TS5033|EACCES/)
    assert.equal(statSync(join(ROOT, 'build', 'src', 'index.js')).mtimeMs, before, 'the build is untouched')
    // The clone command it gives works for this user: a plain `git clone` of another user's
    // repository stops at git's safe.directory check ("detected dubious ownership").
    const clone = /\((git clone .*? cordon) && cd cordon/.exec(r.stderr)?.[1]
    assert.ok(clone, r.stderr)
    const c = spawnSync('sh', ['-c', `${clone} && git -C cordon rev-parse HEAD`], {
      cwd: project,
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project },
      timeout: 120_000,
    })
    assert.equal(c.status, 0, c.stderr)
    assert.match(c.stdout, /^[0-9a-f]{40}$/m)
  })
})
