// The state directory (--root) is trusted: a state.json names the hooks `delete` runs and the
// processes and cgroups `kill` and `delete` act on. One that someone else can write is refused.
// (Found by the adversarial review of cordon-oci.)
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { CORDON_OCI } from './bundle.js'

describe('cordon-oci --root must be the caller’s own', () => {
  const base = mkdtempSync(join(tmpdir(), 'cordon-oci-root-'))
  after(() => rmSync(base, { recursive: true, force: true }))
  const marker = join(base, 'hook-ran')

  function plant(root: string): void {
    mkdirSync(join(root, 'x'), { recursive: true })
    const hook = { path: '/bin/sh', args: ['sh', '-c', `touch ${marker}`] }
    const rec = {
      id: 'x',
      pid: 0,
      startTime: '',
      bundle: '/',
      rootfs: '/',
      created: '2026-01-01T00:00:00Z',
      owner: '',
      annotations: {},
      cgroupDirs: [],
      freezer: null,
      hooks: { poststart: [], poststop: [hook] },
    }
    writeFileSync(join(root, 'x', 'state.json'), JSON.stringify(rec))
  }
  const oci = (root: string, ...args: string[]) =>
    spawnSync(CORDON_OCI, ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000 })

  test('a world-writable state directory: no hook runs, delete is refused', () => {
    const root = join(base, 'shared')
    plant(root)
    chmodSync(root, 0o777)
    const r = oci(root, 'delete', 'x')
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /writable by others/)
    assert.ok(!existsSync(marker))
    assert.notEqual(oci(root, 'list').status, 0)
  })

  test('a state directory reached through a symbolic link is refused', () => {
    const real = join(base, 'real')
    plant(real)
    chmodSync(real, 0o700)
    const link = join(base, 'link')
    symlinkSync(real, link)
    const r = oci(link, 'state', 'x')
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /symbolic link/)
  })
})
