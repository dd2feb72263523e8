// cordon-oci takes UTF-8 paths only: Node writes each byte that is not UTF-8 of a string path as
// U+FFFD, so a bundle (or the working directory, the default bundle) under /tmp/b\xff named the
// sibling /tmp/b\xef\xbf\xbd, where another user's config ran as root. Such a path is refused,
// and so is a config holding one; the pid file is never written through a planted link.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { CORDON_OCI } from './bundle.js'
import { writePidFile } from '../../src/oci-runtime/create.js'

const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

test('a bundle or working directory that is not UTF-8 is refused, not read through its twin', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cordon-oci-bytes-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'state')
  // The twin another user could make: were it read, its config's error would say so.
  const twin = Buffer.from(`${base}/b\xef\xbf\xbd`, 'latin1')
  mkdirSync(twin)
  writeFileSync(Buffer.concat([twin, Buffer.from('/config.json')]), '{"ociVersion": "twin"}')
  const script = [
    `B="${base}/$(printf 'b\\377')"; mkdir "$B"`,
    `"${CORDON_OCI}" --root "${root}" create --bundle "$B" c1 2>&1 || true`,
    `cd "$B" && "${CORDON_OCI}" --root "${root}" create c2 2>&1 || true`,
  ].join('\n')
  const r = spawnSync('sh', ['-ec', script], { env, encoding: 'utf8' })
  const lines = r.stdout.trim().split('\n')
  assert.equal(lines.length, 2, r.stdout)
  for (const line of lines) assert.match(line, /b\\xff: not UTF-8; cordon-oci takes UTF-8 paths only/)
  assert.doesNotMatch(r.stdout, /twin/)
})

test('a config with a lone surrogate (a raw path byte) is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-bytes-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'config.json'), '{"ociVersion": "1.0.2", "root": {"path": "rootfs\\udcff"}}')
  const r = spawnSync(CORDON_OCI, ['--root', join(dir, 'state'), 'create', '--bundle', dir, 'c3'], {
    env,
    encoding: 'utf8',
  })
  assert.equal(r.status, 1)
  assert.match(r.stderr, /lone surrogate/)
})

test('the pid file is never written through a link planted at its temporary name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-pid-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const victim = join(dir, 'victim')
  writeFileSync(victim, 'keep\n')
  symlinkSync(victim, join(dir, 'pid.tmp'))
  writePidFile(join(dir, 'pid'), 4242)
  assert.equal(readFileSync(victim, 'utf8'), 'keep\n')
  assert.equal(readFileSync(join(dir, 'pid'), 'utf8'), '4242')
  assert.equal(existsSync(join(dir, 'pid.tmp')), false)
})
