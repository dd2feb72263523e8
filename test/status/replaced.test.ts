// A filesystem entry that a later one at the same place replaces is not in the view (the plan
// keeps the last entry at each destination, plan/view.ts), so it is no statement of the run: with
// `--ro /etc/shadow` over the default profile's mask, the status said the mask held in full
// while the program read the file. The later entry's statement is the one there.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, test } from 'node:test'
import { statementStatus } from '../../src/status/statements.js'
import { type FilesystemEntry, resolvePolicy } from '../../src/index.js'
import { CLI, isRoot, projectDir } from '../helpers.js'

const statuses = (filesystem: FilesystemEntry[], base = 'default') =>
  statementStatus(
    resolvePolicy(
      { policy: { extends: [base], filesystem }, baseDir: projectDir(), label: 'test' },
      projectDir(),
    ),
    7,
  )
const of = (all: ReturnType<typeof statuses>, statement: string) =>
  all.filter((s) => s.statement === statement)

describe('a statement a later entry at its place replaces', () => {
  test('a mask under a later bind is no statement any more; the bind is', () => {
    assert.equal(of(statuses([]), 'mask /etc/shadow')[0]?.status, 'full', 'the profile alone keeps it')
    const all = statuses([{ ro: '/etc/shadow' }])
    assert.deepEqual(of(all, 'mask /etc/shadow'), [])
    assert.equal(of(all, 'bind /etc/shadow').length, 1)
  })

  test('one statement per place: a bind made writable, a tmpfs or a mask again', () => {
    const dir = projectDir()
    for (const fs of [
      [{ ro: dir }, { rw: dir }],
      [{ rw: dir }, { ro: dir }],
    ] as FilesystemEntry[][])
      assert.equal(of(statuses(fs, 'minimal'), `bind ${dir}`).length, 1, JSON.stringify(fs))
    const again = statuses([{ tmpfs: '/tmp' }, { mask: '/etc/shadow' }])
    assert.equal(of(again, 'tmpfs /tmp').length, 1)
    assert.equal(of(again, 'mask /etc/shadow').length, 1)
  })

  test(
    'cordon check and a run no longer claim the mask, and the program reads the file',
    {
      skip:
        (!isRoot && 'host root: --host-root is root only') ||
        (!existsSync('/etc/shadow') && 'no /etc/shadow'),
    },
    () => {
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
      const check = spawnSync(process.execPath, [CLI, 'check', '--ro', '/etc/shadow'], {
        cwd: projectDir(),
        encoding: 'utf8',
        env,
      })
      assert.doesNotMatch(check.stdout, /mask \/etc\/shadow:/)
      assert.match(check.stdout, /full +bind \/etc\/shadow: mount view \+ landlock/)
      const r = spawnSync(
        process.execPath,
        [CLI, 'run', '-q', '--host-root', '--ro', '/etc/shadow', '--', 'head', '-c', '5', '/etc/shadow'],
        { cwd: projectDir(), encoding: 'utf8', env },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.length, 5, 'what the statuses say: the file is shown')
    },
  )
})
