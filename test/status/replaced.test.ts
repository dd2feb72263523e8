// A filesystem entry that a later one at the same place replaces is not in the view (the plan
// keeps the last entry at each destination, plan/view.ts), and its status must say so: with
// `--ro /etc/shadow` over the default profile's mask, the status said the mask held in full
// while the program read the file.
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
  test('a mask under a later bind is not enforced, and says by what', () => {
    const [mask, ...more] = of(statuses([{ ro: '/etc/shadow' }]), 'mask /etc/shadow')
    assert.equal(more.length, 0)
    assert.equal(mask?.status, 'none')
    assert.deepEqual(mask?.enforcedBy, [])
    assert.deepEqual(
      mask?.missing.map((m) => m.why),
      ['replaced by the later bind /etc/shadow', 'replaced by the later bind /etc/shadow'],
    )
    assert.equal(of(statuses([]), 'mask /etc/shadow')[0]?.status, 'full', 'the profile alone keeps it')
  })

  test('a read-only bind made writable later loses its promise; the other way it keeps it', () => {
    const dir = projectDir()
    const widened = of(statuses([{ ro: dir }, { rw: dir }], 'minimal'), `bind ${dir}`)
    assert.equal(widened.length, 2)
    assert.equal(widened[0]?.status, 'none')
    assert.equal(widened[0]?.missing[0]?.why, `replaced by the later bind ${dir}`)
    assert.notEqual(widened[1]?.status, 'none')
    const narrowed = of(statuses([{ rw: dir }, { ro: dir }], 'minimal'), `bind ${dir}`)
    assert.equal(narrowed.length, 1, 'the later read-only bind says it all')
    assert.notEqual(narrowed[0]?.status, 'none')
  })

  test('the same kind again (a tmpfs, a mask) is one statement, kept', () => {
    const all = statuses([{ tmpfs: '/tmp' }, { mask: '/etc/shadow' }])
    assert.deepEqual(
      of(all, 'tmpfs /tmp').map((s) => s.status),
      [of(statuses([]), 'tmpfs /tmp')[0]!.status],
    )
    assert.deepEqual(
      of(all, 'mask /etc/shadow').map((s) => s.status),
      ['full'],
    )
  })

  test(
    'cordon run says the mask is not enforced, and the program reads the file',
    {
      skip:
        (!isRoot && 'host root: --host-root is root only') ||
        (!existsSync('/etc/shadow') && 'no /etc/shadow'),
    },
    () => {
      const r = spawnSync(
        process.execPath,
        [CLI, 'run', '--host-root', '--ro', '/etc/shadow', '--', 'head', '-c', '5', '/etc/shadow'],
        { cwd: projectDir(), encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.length, 5, 'what the status now says: the file is shown')
      assert.match(
        r.stderr,
        /warning: not enforced: mask \/etc\/shadow \(replaced by the later bind \/etc\/shadow\)/,
      )
    },
  )
})
