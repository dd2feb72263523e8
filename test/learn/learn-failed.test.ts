// Learning grants only what succeeded (issue 18, finding 7): writes, creates, deletes, renames,
// metadata changes and connects that the kernel refused are listed as failed in the learned
// policy and never widen it; what succeeded in the same run is still granted. As root and as
// the plain user: the learn view shows the host read-only, so every write outside the working
// directory fails for both.
import assert from 'node:assert/strict'
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const timeout = 120_000
/** Host-owned, outside the working directory: the learned program may not change it. */
const FIXTURE = '/srv/cordon-learn-failed'

const SCRIPT = [
  `touch ${FIXTURE}/new`,
  `mkdir ${FIXTURE}/dir`,
  `rm ${FIXTURE}/keep.txt`,
  `mv ${FIXTURE}/keep.txt ${FIXTURE}/moved`,
  `chmod 600 ${FIXTURE}/keep.txt`,
  `ln -s /etc ${FIXTURE}/link`,
  'echo > /dev/tcp/127.0.0.1/1',
  'echo ok > out.txt',
  'cat out.txt',
].join('; ')

interface Summary {
  policy: string
  failed: string[]
}

function check(summary: Summary, dir: string): void {
  const yaml = readFileSync(summary.policy, 'utf8')
  const grants = yaml.split('\n').filter((l) => /^\s+- (rw|ro|mkdir):/.test(l))
  // Nothing under the fixture is writable (a successful stat may show it read-only); the
  // working directory is.
  assert.deepEqual(
    grants.filter((l) => l.includes(FIXTURE) && /- rw:/.test(l)),
    [],
    `a failed attempt widened the policy:\n${yaml}`,
  )
  assert.ok(
    grants.some((l) => l.includes(`rw: ${dir}`)),
    `the successful write in the working directory is not granted:\n${yaml}`,
  )
  assert.doesNotMatch(yaml, /connect: \[[^\]]*\b1\b/, 'the refused connect widened tcp.connect')
  for (const want of [
    `create ${FIXTURE}/new`,
    `create ${FIXTURE}/dir`,
    `delete ${FIXTURE}/keep.txt`,
    `create ${FIXTURE}/moved`,
    `write ${FIXTURE}/keep.txt`,
    `create ${FIXTURE}/link`,
    'connect 127.0.0.1:1',
  ]) {
    assert.ok(summary.failed.includes(want), `${want} is not listed as failed: ${summary.failed.join(', ')}`)
    assert.ok(yaml.includes(`# - ${want}`), `${want} is not in the policy's failed list:\n${yaml}`)
  }
  assert.equal(readFileSync(join(FIXTURE, 'keep.txt'), 'utf8'), 'keep\n')
}

function fixture(t: { after: (f: () => void) => void }): void {
  rmSync(FIXTURE, { recursive: true, force: true })
  mkdirSync(FIXTURE, { mode: 0o755 })
  writeFileSync(join(FIXTURE, 'keep.txt'), 'keep\n', { mode: 0o644 })
  t.after(() => rmSync(FIXTURE, { recursive: true, force: true }))
}

describe(
  'learn records only what succeeded',
  { concurrency: 1, skip: !isRoot && 'needs root for the fixture' },
  () => {
    test(
      'as root: failed writes, creates, deletes and connects are listed, not granted',
      { timeout },
      (t) => {
        fixture(t)
        const dir = join(projectDir(), 'learn-failed-root')
        rmSync(dir, { recursive: true, force: true })
        mkdirSync(dir, { recursive: true })
        const policy = join(dir, '..', 'learn-failed-root.yaml')
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const r = cordon(['learn', '-o', policy, '--json', '--', 'bash', '-c', SCRIPT], { cwd: dir, timeout })
        assert.equal(r.stdout.includes('"failed"'), true, r.stderr)
        check(JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary, dir)
      },
    )

    test('as the plain user: the same', { timeout }, (t) => {
      fixture(t)
      const user = ensureTestUser()
      const dir = join('/tmp', `cordon-learn-failed-${process.pid}`)
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { mode: 0o755 })
      chownSync(dir, user.uid, user.gid)
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const policy = join(dir, 'learned.yaml')
      const r = cordonAs(user, ['learn', '-o', policy, '--json', '--', 'bash', '-c', SCRIPT], dir, timeout)
      assert.equal(r.stdout.includes('"failed"'), true, r.stderr)
      check(JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary, dir)
    })
  },
)
