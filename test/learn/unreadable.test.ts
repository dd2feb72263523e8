// A plain user's launcher may not read a non-dumpable program's memory: a binary its user may
// execute but not read (mode 0711), or one that called prctl(PR_SET_DUMPABLE, 0), as ssh-agent
// and gpg-agent do. Audit then saw no path and gave a clean verdict over calls it never judged,
// and learn wrote a policy without them, which refused the run (helper-142). Each now says so:
// audit gives no clean verdict, learn writes nothing without --force.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordonAs, isRoot, plainUserScratch } from '../helpers.js'

const UNJUDGED = /audit: \d+ calls could not be judged: the launcher may not read the program’s memory/

describe('calls of a program the launcher may not read', { skip: isRoot ? false : 'needs root' }, () => {
  test('a binary its user may not read: audit says it, learn writes nothing', (t) => {
    const { user, dir } = plainUserScratch(t, 'unreadable')
    // Root's, executable but not readable by the user: the kernel makes the process non-dumpable.
    const noread = join(dir, 'noread-mkdir')
    copyFileSync('/usr/bin/mkdir', noread)
    const readable = join(dir, 'readable-mkdir')
    copyFileSync('/usr/bin/mkdir', readable)
    assert.equal(
      spawnChmod(noread, '0711') && spawnChmod(readable, '0755'),
      true,
      'the fixtures take their modes',
    )
    const target = join(dir, 'made')
    const control = cordonAs(user, ['run', '-q', '--audit', '--', readable, target], dir)
    assert.match(control.stderr, /would have denied 1:\n {2}filesystem create .*made → read-only bind/)
    const audited = cordonAs(user, ['run', '-q', '--audit', '--', noread, target], dir)
    assert.match(audited.stderr, UNJUDGED)
    assert.doesNotMatch(audited.stderr, /allowed everything this run did/)
    const policy = join(dir, 'learned.yaml')
    const learned = cordonAs(user, ['learn', '-o', policy, '--', noread, '-p', '/tmp/a'], dir)
    assert.equal(learned.status, 1, learned.stderr)
    assert.match(
      learned.stderr,
      /\d+ calls could not be read, so no policy was written: .*Learn as root, or pass --force/,
    )
    assert.ok(!existsSync(policy))
  })

  test('a program that made itself non-dumpable, without namespaces', (t) => {
    const { user, dir } = plainUserScratch(t, 'undumpable')
    const py = "import ctypes\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\nopen('/etc/hostname').read()"
    const audited = cordonAs(
      user,
      ['run', '-q', '--audit', '--no-namespaces', '--acknowledge', 'no-view', '--', 'python3', '-c', py],
      dir,
    )
    assert.equal(audited.status, 0, audited.stderr)
    assert.match(audited.stderr, UNJUDGED)
  })
})

function spawnChmod(path: string, mode: string): boolean {
  return spawnSync('chmod', [mode, path]).status === 0 && spawnSync('chown', ['0:0', path]).status === 0
}
