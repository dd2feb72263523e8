// attack13: a mask's mount pins a dentry, not a name. In a mount namespace a `rw:` tree is granted
// whole (plan/landlock-masks.ts carvesMasks), so a program could rename a directory on the mask's
// way (`mv sub sub2`): the mount went along, and the host's secret was left at sub2/secret, which
// the next run's mask (still naming sub/secret) no longer hid. The directories on the way are now
// mount points of their own, which the kernel refuses to rename or remove (EBUSY).
import assert from 'node:assert/strict'
import { chownSync, lchownSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

type Run = (args: string[]) => { status: number | null; stdout: string; stderr: string }

function project(dir: string, owner?: { uid: number; gid: number }): void {
  rmSync(join(dir, '..'), { recursive: true, force: true })
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true })
  writeFileSync(join(dir, 'sub', 'deep', 'secret'), 'masked-secret\n')
  writeFileSync(join(dir, 'sub', 'deep', 'b'), 'plain-b\n')
  writeFileSync(
    join(dir, '..', 'p.yaml'),
    `extends: [default]\nfilesystem:\n  - rw: ${dir}\n  - mask: ${dir}/sub/deep/secret\n`,
  )
  if (owner) {
    const names = readdirSync(dir, { recursive: true }).map(String)
    for (const p of ['..', '', '../p.yaml', ...names]) lchownSync(join(dir, p), owner.uid, owner.gid)
  }
}

function cases(run: Run, dir: string) {
  test('a rename on the way to a mask cannot carry the secret out of the next run’s mask', () => {
    const file = join(dir, '..', 'p.yaml')
    const move =
      'mv sub sub2 2>/dev/null && echo moved-sub; mv sub/deep sub/d2 2>/dev/null && echo moved-deep; ' +
      'rmdir sub/deep 2>/dev/null && echo removed; ' +
      'echo n > sub/deep/new && cat sub/deep/new && rm sub/deep/new; cat sub/deep/b; true'
    const first = run(['run', '--policy', file, '--', 'sh', '-c', move])
    assert.equal(first.status, 0, first.stderr)
    assert.equal(first.stdout, 'n\nplain-b\n', 'a directory on the mask’s way was moved')
    const read = 'for f in sub/deep/secret sub2/deep/secret sub/d2/secret; do cat $f 2>/dev/null; done; true'
    const second = run(['run', '--policy', file, '--', 'sh', '-c', read])
    assert.equal(second.status, 0, second.stderr)
    assert.equal(second.stdout, '', 'the masked secret was read')
  })

  // A mask beneath a masked directory was dropped as "already hidden" even when that directory's
  // mask put nothing there: replaced by a later bind at its place, or nothing on the host.
  test('a mask under a replaced or empty directory mask still hides its path', () => {
    const root = join(dir, '..')
    const policies = [
      ['mask: /data', 'mask: /data/deep/secret', `rw: ${dir}/sub:/data`],
      [`rw: ${dir}/sub/deep:/none-a13/deep`, 'mask: /none-a13', 'mask: /none-a13/deep/secret'],
    ]
    policies.forEach((lines, i) => {
      const file = join(root, `drop${i}.yaml`)
      writeFileSync(
        file,
        ['extends: [default]', 'filesystem:', ...lines.map((l) => `  - ${l}`), ''].join('\n'),
      )
      const read =
        'cat /data/deep/secret /none-a13/deep/secret 2>/dev/null; cat /data/deep/b /none-a13/deep/b'
      const r = run(['run', '--policy', file, '--', 'sh', '-c', read])
      assert.equal(r.stdout, 'plain-b\n', `${lines.join(', ')}: ${r.stderr}`)
    })
  })

  // The same rename defeated a read-only carve-out: once `sub` was moved, the next run skipped
  // the optional `ro:` bind (its source gone) and sub2/deep was writable.
  test('a rename on the way to a read-only carve-out cannot make it writable next run', () => {
    const file = join(dir, '..', 'ro.yaml')
    writeFileSync(
      file,
      `extends: [default]\nfilesystem:\n  - rw: ${dir}\n  - ro: { src: ${dir}/sub/deep, optional: true }\n`,
    )
    const first = run([
      'run',
      '--policy',
      file,
      '--',
      'sh',
      '-c',
      'mv sub sub2 2>/dev/null && echo moved; true',
    ])
    assert.equal(first.status, 0, first.stderr)
    assert.equal(first.stdout, '', 'the carve-out’s parent was moved')
    const write = 'for d in sub/deep sub2/deep; do echo x > $d/w 2>/dev/null && echo wrote-$d; done; true'
    const second = run(['run', '--policy', file, '--', 'sh', '-c', write])
    assert.equal(second.status, 0, second.stderr)
    assert.equal(second.stdout, '', 'the read-only carve-out was written')
  })

  test('the plan says which directories it pins', () => {
    const r = run(['plan', '--policy', join(dir, '..', 'p.yaml')])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout + r.stderr, new RegExp(`${dir}/sub/deep pinned`))
  })
}

describe('a mask’s way cannot be renamed (root)', { skip: isRoot ? false : 'needs root' }, () => {
  const dir = `/srv/cordon-mask-pins-${process.pid}/p`
  project(dir)
  after(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
  cases((args) => cordon(args, { cwd: dir }), dir)
})

describe(
  'a mask’s way cannot be renamed (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    const dir = `/tmp/cordon-mask-pins-user-${process.pid}/p`
    if (isRoot) {
      project(dir, user)
      chownSync(join(dir, '..'), user.uid, user.gid)
    }
    after(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
    cases((args) => cordonAs(user, args, dir), dir)
  },
)
