// A hard link between a read-only and a writable bind: one file under two names. The mount flag
// and Landlock judge the path walked, so the kernel lets the sandbox write the read-only bind's
// file through the writable name. The statement says so (partial), never `full`.
import assert from 'node:assert/strict'
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { statementStatus } from '../../src/status/statements.js'
import { hardLinkGaps } from '../../src/status/hard-links.js'
import { type FilesystemEntry, resolvePolicy } from '../../src/index.js'
import type { ViewEntry } from '../../src/policy/resolve.js'
import { cordon, projectDir } from '../helpers.js'

const dir = () => join(projectDir(), 'hard-links')

const policyOf = (filesystem: FilesystemEntry[]) =>
  resolvePolicy(
    { policy: { extends: ['minimal'], filesystem }, baseDir: projectDir(), label: 'test' },
    projectDir(),
  )
const statusOf = (filesystem: FilesystemEntry[], statement: string) =>
  statementStatus(policyOf(filesystem), 7).find((s) => s.statement === statement)

describe('hard links between a read-only and a writable bind', () => {
  before(() => {
    rmSync(dir(), { recursive: true, force: true })
    for (const d of ['ro', 'rw', 'clean', 'pair']) mkdirSync(join(dir(), d), { recursive: true })
    writeFileSync(join(dir(), 'ro', 'f'), 'keep\n', { mode: 0o644 })
    linkSync(join(dir(), 'ro', 'f'), join(dir(), 'rw', 'g'))
    writeFileSync(join(dir(), 'clean', 'c'), 'c\n')
    // Both names inside the writable tree: nothing read-only is reached through it.
    writeFileSync(join(dir(), 'pair', 'a'), 'a\n')
    linkSync(join(dir(), 'pair', 'a'), join(dir(), 'pair', 'b'))
  })

  test('the kernel lets the sandbox write the read-only file through its other name', () => {
    const fs = [{ ro: `${join(dir(), 'ro')}:/data` }, { rw: `${join(dir(), 'rw')}:/out` }]
    const policy = join(dir(), 'policy.json')
    writeFileSync(policy, JSON.stringify({ extends: ['minimal'], filesystem: fs }))
    try {
      const r = cordon(['run', '-p', policy, '--', '/bin/sh', '-c', 'echo changed > /out/g; cat /data/f'], {
        cwd: projectDir(),
      })
      assert.equal(r.stdout, 'changed\n', r.stderr)
      // cordon run says the statement is not fully kept, naming the link.
      assert.match(r.stderr, /\/out\/g is a hard link of a file here, writable through it/)
    } finally {
      writeFileSync(join(dir(), 'ro', 'f'), 'keep\n')
    }
  })

  test('a read-only directory with a file linked into a writable bind is partial', () => {
    const s = statusOf(
      [{ ro: `${join(dir(), 'ro')}:/data` }, { rw: `${join(dir(), 'rw')}:/out` }],
      'bind /data',
    )
    assert.equal(s?.status, 'partial', JSON.stringify(s))
    assert.match(s.missing.map((m) => m.why).join(), /\/out\/g is a hard link of a file here/)
    assert.equal(
      statusOf([{ ro: `${join(dir(), 'ro')}:/data` }, { rw: `${join(dir(), 'rw')}:/out` }], 'bind /out')
        ?.status,
      'full',
    )
  })

  test('a read-only file bind linked into a writable bind is partial', () => {
    const s = statusOf(
      [{ ro: `${join(dir(), 'ro', 'f')}:/f` }, { rw: `${join(dir(), 'rw')}:/out` }],
      'bind /f',
    )
    assert.equal(s?.status, 'partial', JSON.stringify(s))
  })

  test('no shared file, or links all inside the writable tree: full', () => {
    const clean = [{ ro: `${join(dir(), 'clean')}:/data` }, { rw: `${join(dir(), 'pair')}:/out` }]
    assert.equal(statusOf(clean, 'bind /data')?.status, 'full')
    const unrelated = [{ ro: `${join(dir(), 'clean')}:/data` }, { rw: `${join(dir(), 'rw')}:/out` }]
    assert.equal(statusOf(unrelated, 'bind /data')?.status, 'full')
  })

  test('a writable tree too large to walk is reported as not checked, never as clean', () => {
    const binds = policyOf([
      { ro: `${join(dir(), 'clean')}:/data` },
      { rw: `${join(dir(), 'pair')}:/out` },
    ]).filesystem.filter((e): e is Extract<ViewEntry, { kind: 'bind' }> => e.kind === 'bind')
    const gaps = [...hardLinkGaps(binds, 1)].map(([b, why]) => [b.dest, why])
    assert.deepEqual(
      gaps.filter(([d]) => d === '/data'),
      [['/data', 'more than 1 entries under bind /out: hard links into it not checked']],
    )
  })

  test('a read-only bind whose source a writable bind shows elsewhere is partial', () => {
    // `rw: DIR` beside `ro: DIR/ro:/data`: the same files under DIR/ro, writable. The kernel lets
    // the write through (the mount flag and Landlock judge the path walked), and cordon run
    // says so.
    const fs = [{ rw: `${dir()}:${dir()}` }, { ro: `${join(dir(), 'ro')}:/data` }]
    const policy = join(dir(), 'alias.json')
    writeFileSync(policy, JSON.stringify({ extends: ['minimal'], filesystem: fs }))
    try {
      const r = cordon(
        ['run', '-p', policy, '--', '/bin/sh', '-c', `echo changed > ${join(dir(), 'ro', 'f')}; cat /data/f`],
        { cwd: projectDir() },
      )
      assert.equal(r.stdout, 'changed\n', r.stderr)
      assert.match(r.stderr, /ro \(bind [^)]*\) shows the same files writable/)
    } finally {
      writeFileSync(join(dir(), 'ro', 'f'), 'keep\n')
    }
    assert.equal(statusOf(fs, 'bind /data')?.status, 'partial')
    // The same directory bound twice, once writable.
    assert.equal(
      statusOf([{ rw: `${join(dir(), 'ro')}:/out` }, { ro: `${join(dir(), 'ro')}:/data` }], 'bind /data')
        ?.status,
      'partial',
    )
    // A read-only carve-out at the same place, or a mask over the other name, is no other name
    // (the carve-out is partial for reasons of its own: Landlock's enclosing rule, the hard link).
    const carved = [
      { rw: `${dir()}:${dir()}` },
      { ro: `${join(dir(), 'ro')}:${join(dir(), 'ro')}` },
      { ro: `${join(dir(), 'clean')}:/data` },
      { mask: join(dir(), 'clean') },
    ]
    const layers = (statement: string) => statusOf(carved, statement)?.missing.map((m) => m.layer)
    assert.ok(!layers(`bind ${join(dir(), 'ro')}`)?.includes('other binds'))
    assert.deepEqual(layers('bind /data'), [])
  })

  test('the host file is unchanged by the statement checks', () => {
    assert.equal(readFileSync(join(dir(), 'ro', 'f'), 'utf8'), 'keep\n')
  })
})
