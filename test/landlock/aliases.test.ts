// Landlock rules belong to inodes, not to mount points, and a file's rights are the union of the
// rules met walking up from it across mount points. So the rights of one bind reach another bind
// of the same host files, and a tmpfs's reach what is mounted under it: a read-only bind is then
// read-only only by its mount flag. cordon keeps the grant (taking it back would take writes from
// the writable bind) and the statement says Landlock does not keep it (landlock/compile.ts
// foreignRights). Checked on the kernel: the write is refused by the mount (EROFS), and Landlock
// lets through what only it would refuse (executing from a bind whose access is `ro`).
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { statementStatus } from '../../src/status/statements.js'
import { type FilesystemEntry, resolvePolicy } from '../../src/index.js'
import { cordon, projectDir } from '../helpers.js'

const dir = () => join(projectDir(), 'aliases')
const RO = (src: string, dest: string): FilesystemEntry => ({ ro: { src, dest, access: 'ro' } })

const statusOf = (filesystem: FilesystemEntry[], statement: string) => {
  const policy = resolvePolicy(
    { policy: { extends: ['minimal'], filesystem }, baseDir: projectDir(), label: 'test' },
    projectDir(),
  )
  return statementStatus(policy, 7).find((s) => s.statement === statement)
}

describe('rights of one bind reaching another bind of the same files', () => {
  before(() => {
    mkdirSync(join(dir(), 'sub'), { recursive: true })
    chmodSync(projectDir(), 0o755)
    chmodSync(dir(), 0o777)
    chmodSync(join(dir(), 'sub'), 0o777)
    writeFileSync(join(dir(), 'f'), 'keep\n', { mode: 0o666 })
    writeFileSync(join(dir(), 'sub', 's'), '#!/bin/sh\necho ran\n', { mode: 0o755 })
  })

  // {name, filesystem, want}: the status of `bind /ro`, and the rule the rights come through.
  const cases = (d: string) =>
    [
      { name: 'a writable bind of the same source', fs: [RO(d, '/ro'), { rw: `${d}:/rw` }], by: 'bind /rw' },
      {
        name: 'a writable bind of a directory inside its source',
        fs: [RO(d, '/ro'), { rw: `${join(d, 'sub')}:/rw` }],
        by: 'bind /rw',
      },
      {
        name: 'a tmpfs around it',
        fs: [{ tmpfs: '/mnt' }, RO(d, '/mnt/ro')],
        by: 'tmpfs /mnt',
        at: '/mnt/ro',
      },
      {
        name: 'a writable bind around it (ro ./p/.git inside rw ./p)',
        fs: [{ rw: `${d}:/p` }, RO(join(d, 'sub'), '/p/sub')],
        by: 'bind /p',
        at: '/p/sub',
      },
      // Landlock's rights are not reached: the walk leaves a bind at its mount root, so a rule on
      // a host directory above its source is never met. The files still are writable through
      // the other bind (/rw/sub): partial by the other binds (status/hard-links.ts), not Landlock.
      {
        name: 'a writable bind of the directory above its source',
        fs: [RO(join(d, 'sub'), '/ro'), { rw: `${d}:/rw` }],
        shownWritableAt: '/rw/sub (bind /rw)',
      },
      // A writable bind inside it at the same place is the policy's own carve-out, reached only
      // through its own mount.
      {
        name: 'a writable carve-out at the same place',
        fs: [RO(d, '/ro'), { rw: `${join(d, 'sub')}:/ro/sub` }],
      },
    ] as { name: string; fs: FilesystemEntry[]; by?: string; at?: string; shownWritableAt?: string }[]

  for (const c of cases('/srv/data'))
    test(`a read-only bind's status with ${c.name}`, () => {
      const s = statusOf(c.fs, `bind ${c.at ?? '/ro'}`)
      assert.ok(s)
      if (c.shownWritableAt) {
        assert.equal(s.status, 'partial', JSON.stringify(s))
        assert.deepEqual(s.enforcedBy, ['mount view', 'landlock'])
        assert.equal(s.missing[0]?.layer, 'other binds')
        assert.ok(s.missing[0].why.startsWith(c.shownWritableAt), s.missing[0].why)
        return
      }
      if (!c.by) {
        assert.equal(s.status, 'full', JSON.stringify(s))
        return
      }
      assert.equal(s.status, 'partial')
      assert.deepEqual(s.enforcedBy, ['mount view'])
      assert.equal(s.missing[0]?.layer, 'landlock')
      assert.match(s.missing[0].why, new RegExp(`Landlock grants write,.* here too, through \`${c.by}\``))
    })

  test('the kernel: the mount refuses the write, Landlock lets the aliased rights through', () => {
    const probe = (fs: FilesystemEntry[]) => {
      const file = join(dir(), `p${fs.length}.json`)
      writeFileSync(file, JSON.stringify({ extends: ['minimal'], filesystem: fs }))
      return cordon(['run', '-p', file, '--', '/bin/sh', '-c', 'echo x > /ro/f; /ro/sub/s; cat /ro/f'])
    }
    // Alone, the `ro` bind is kept by both layers: EROFS for the write, EACCES (Landlock) for exec.
    const alone = probe([RO(dir(), '/ro')])
    assert.equal(alone.status, 0, alone.stderr)
    assert.match(alone.stderr, /\/ro\/f: Read-only file system/)
    assert.match(alone.stderr, /\/ro\/sub\/s: Permission denied/)
    assert.equal(alone.stdout, 'keep\n')
    // With a writable bind of the same files, only the mount refuses the write, and Landlock
    // grants the writable bind's execute right through /ro too; the run says so. The exec is
    // still refused: a bind without execute is mounted noexec (plan/view.ts noexecWhere).
    const aliased = probe([RO(dir(), '/ro'), { rw: `${dir()}:/rw` }])
    assert.equal(aliased.status, 0, aliased.stderr)
    assert.match(aliased.stderr, /\/ro\/f: Read-only file system/)
    assert.match(aliased.stderr, /\/ro\/sub\/s: Permission denied/)
    assert.equal(aliased.stdout, 'keep\n')
    assert.match(
      aliased.stderr,
      /warning: 1 of \d+ statements enforced by fewer layers than possible \(Landlock grants write,execute,create,delete,refer here too, through `bind \/rw`/,
    )
  })
})

test('a statement that makes several grants is named once', (t) => {
  // A project under /tmp with a tmpfs on /tmp (the default profile): the tmpfs's grants reach the
  // project's read-only bind, and the warning named `tmpfs /tmp` once per grant. (With
  // examples/dev.yaml the project is bound writable: the tmpfs adds nothing to that.)
  const project = mkdtempSync(join(tmpdir(), 'cordon-aliases-'))
  t.after(() => rmSync(project, { recursive: true, force: true }))
  chmodSync(project, 0o755)
  const r = cordon(['run', '--', 'true'], { cwd: project })
  assert.equal(r.status, 0, r.stderr)
  const by = /here too, through ([^:]*):/.exec(r.stderr)?.[1]
  assert.equal(by, '`tmpfs /tmp`', r.stderr)
})
