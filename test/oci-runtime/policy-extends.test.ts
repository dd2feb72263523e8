// org.cordon.policy's inline form is the container author's (a pod, `docker run --annotation`):
// its `extends` could name any host file, which root read for them and echoed back line by line
// in the parse error (/etc/shadow included), as a path in the annotation itself would have. An
// inline policy now extends built-in profiles only; a named policy file's `extends` stay root's,
// relative to the policy directory. A name such as `constructor` crashed the resolver with a
// stack trace: profiles are looked up among their own names only.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI } from '../helpers.js'
import { CORDON_OCI, makeBundle, ociSkip } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root')

describe('org.cordon.policy inline', { skip }, () => {
  test('extends no host file, and a named file extends its neighbours', (t) => {
    const b = makeBundle(['sh', '-c', 'echo x > /etc/x && echo wrote || echo refused'])
    const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-policies-'))
    chmodSync(dir, 0o755)
    t.after(() => {
      b.cleanup()
      rmSync(dir, { recursive: true, force: true })
    })
    const secret = join(dir, 'secret.txt')
    writeFileSync(secret, 'root:SECRET-HASH-LINE:20228:0:99999:7:::\n', { mode: 0o600 })
    writeFileSync(join(dir, 'base.yaml'), 'filesystem:\n  - ro: /\n  - rw: /tmp\n', { mode: 0o644 })
    writeFileSync(join(dir, 'named.yaml'), 'extends: [./base.yaml]\n', { mode: 0o644 })
    const run = (annotation: string, id: string) => {
      b.write((c) => {
        c.annotations = { 'org.cordon.policy': annotation }
      })
      return spawnSync(CORDON_OCI, ['--root', b.root, 'run', id], {
        cwd: b.dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '', CORDON_OCI_POLICIES: dir },
      })
    }
    for (const parent of [secret, '/etc/shadow', '../../etc/passwd.yaml', 'constructor']) {
      const r = run(JSON.stringify({ extends: [parent] }), 'e1')
      assert.equal(r.status, 1, `extends ${parent}: ${r.stderr}`)
      assert.match(
        r.stderr,
        /annotations\["org\.cordon\.policy"\]\.extends\[0\]: expected a built-in profile/,
      )
      assert.doesNotMatch(r.stderr, /SECRET-HASH-LINE|root:|internal error/)
    }
    const named = run('named', 'e2')
    assert.equal(named.status, 0, named.stderr)
    assert.match(named.stdout, /^refused$/m)
    // A built-in profile passes this check (what it then asks of a busybox rootfs is its own
    // matter: the default profile's /var/tmp is missing here).
    const profile = run(JSON.stringify({ extends: ['default'] }), 'e3')
    assert.doesNotMatch(profile.stderr, /extends\[0\]/)
  })
})

describe('profile names', () => {
  test('a name an object inherits (constructor, toString) is no profile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-profile-names-'))
    try {
      for (const name of ['constructor', 'toString', '__proto__']) {
        writeFileSync(join(dir, 'p.yaml'), `extends: [${name}]\n`)
        const r = spawnSync(process.execPath, [CLI, 'plan', '-p', join(dir, 'p.yaml')], {
          encoding: 'utf8',
          env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        })
        assert.notEqual(r.status, 0, name)
        assert.match(r.stderr, new RegExp(`no profile named \`${name}\``))
        assert.doesNotMatch(r.stderr, /internal error|TypeError/)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
