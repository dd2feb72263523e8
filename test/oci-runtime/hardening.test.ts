// cordon-oci's edges from issue 24's review: the state root's parents, the cgroup parents it
// makes, supplementary groups in a user namespace, and a plain user's (rootless) containers.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ensureTestUser } from '../helpers.js'
import type { OciConfig } from '../../src/oci-runtime/spec.js'
import { CORDON_OCI, makeBundle, oci, ociSkip } from './bundle.js'

const skip = ociSkip('these tests act as root and as the test user')

/** The cgroup hierarchies' mount points (v1 and v2) from /proc/self/mountinfo. */
function cgroupMounts(): string[] {
  return spawnSync('sh', ['-c', "awk '$9 ~ /^cgroup2?$/ {print $5}' /proc/self/mountinfo"], {
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean)
}

describe('cordon-oci hardening', { skip }, () => {
  test('--root under a parent another user owns, or one writable by all without the sticky bit, is refused', (t) => {
    const b = makeBundle(['true'])
    const base = mkdtempSync(join(tmpdir(), 'cordon-oci-parents-'))
    t.after(() => {
      rmSync(base, { recursive: true, force: true })
      b.cleanup()
    })
    const user = ensureTestUser()
    const theirs = join(base, 'theirs')
    mkdirSync(theirs, { mode: 0o755 })
    chownSync(theirs, user.uid, user.gid)
    const r = oci(b, ['list'], CORDON_OCI, join(theirs, 'state'))
    assert.equal(r.status, 1)
    assert.match(r.stderr, new RegExp(`parent ${theirs} is owned by uid ${user.uid}`))
    const open = join(base, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    const w = oci(b, ['create', 'p1'], CORDON_OCI, join(open, 'state'))
    assert.equal(w.status, 1)
    assert.match(w.stderr, /writable by others \(mode 777\) and not sticky/)
    assert.ok(!existsSync(join(open, 'state')), 'nothing is made under a refused parent')
    chmodSync(open, 0o1777) // sticky, as /tmp: no one else can rename what root makes in it
    assert.equal(oci(b, ['list'], CORDON_OCI, join(open, 'state')).status, 0)
  })

  test('delete removes the empty parent cgroups create made, and keeps one still in use', (t) => {
    const b = makeBundle(['sleep', '60'])
    const top = `cordon-oci-test-${process.pid}`
    t.after(() => {
      b.cleanup()
      for (const m of cgroupMounts())
        for (const d of ['a/c2', 'a/c1', 'a', '']) rmSync(join(m, top, d), { recursive: false, force: true })
    })
    b.write((c) => {
      c.linux!.cgroupsPath = `/${top}/a/c1`
    })
    // stdio ignored: the container keeps what it is given open, and a pipe would hold spawnSync.
    const create = (id: string) =>
      spawnSync(CORDON_OCI, ['--root', b.root, 'create', '--bundle', b.dir, id], { stdio: 'ignore' }).status
    assert.equal(create('c1'), 0)
    b.write((c) => {
      c.linux!.cgroupsPath = `/${top}/a/c2`
    })
    assert.equal(create('c2'), 0)
    const mounts = cgroupMounts()
    assert.ok(mounts.some((m) => existsSync(join(m, top, 'a', 'c1'))))
    assert.equal(oci(b, ['delete', '--force', 'c1']).status, 0)
    for (const m of mounts) {
      assert.ok(!existsSync(join(m, top, 'a', 'c1')), `${m}: the container's group is gone`)
      if (existsSync(join(m, top, 'a', 'c2')))
        assert.ok(existsSync(join(m, top, 'a')), `${m}: a parent another container uses stays`)
    }
    assert.equal(oci(b, ['delete', '--force', 'c2']).status, 0)
    for (const m of mounts) assert.ok(!existsSync(join(m, top)), `${m}/${top} is removed once empty`)
  })

  test('supplementary groups in a new user namespace are refused by name; without them no false warning', (t) => {
    const b = makeBundle(['sh', '-c', 'cat /proc/self/setgroups; grep Groups /proc/self/status'])
    t.after(() => b.cleanup())
    const userns = (c: OciConfig) => {
      c.linux!.namespaces!.push({ type: 'user' })
      c.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
    }
    b.write((c) => {
      userns(c)
      c.process!.user.additionalGids = [5]
    })
    const refused = oci(b, ['run', 'g1'])
    assert.equal(refused.status, 1)
    assert.match(refused.stderr, /process\.user\.additionalGids: \[5\] cannot be set in a new user namespace/)
    b.write(userns)
    const r = oci(b, ['run', 'g2'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^deny$/m)
    assert.match(r.stdout, /^Groups:\s*$/m, 'no supplementary group')
    assert.doesNotMatch(r.stderr, /setgroups/, 'no warning about a nested sandbox that is not there')
  })

  test('a plain user runs a rootless bundle (own uid mapped, no cgroup), and is told what to fix otherwise', (t) => {
    const user = ensureTestUser()
    const b = makeBundle(['sh', '-c', 'id -u; cat /proc/self/uid_map'])
    t.after(() => b.cleanup())
    spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, b.dir, b.root])
    chmodSync(b.dir, 0o755)
    const as = (args: string[]) => {
      const r = spawnSync(CORDON_OCI, ['--root', join(b.root, 'state'), ...args], {
        cwd: b.dir,
        uid: user.uid,
        gid: user.gid,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', NODE_EXTRA_CA_CERTS: '' },
      })
      return { status: r.status, stdout: r.stdout, stderr: r.stderr }
    }
    const rootless = (c: OciConfig) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'network' && n.type !== 'cgroup')
      c.linux!.namespaces.push({ type: 'user' })
      c.linux!.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: user.gid, size: 1 }]
      delete c.linux!.resources
      c.mounts = c.mounts!.filter(
        (m) => m.type !== 'sysfs' && m.type !== 'cgroup' && m.destination !== '/dev/pts',
      )
    }
    b.write((c) => {
      delete c.linux!.resources
    })
    spawnSync('chown', [`${user.uid}:${user.gid}`, join(b.dir, 'config.json')])
    const noUserns = as(['run', 'u1'])
    assert.equal(noUserns.status, 1)
    assert.match(noUserns.stderr, /plain user \(uid \d+\) cordon-oci needs a new "user" namespace/)
    assert.doesNotMatch(noUserns.stderr, /EACCES/)
    b.write((c) => {
      rootless(c)
      c.linux!.resources = { pids: { limit: 10 } }
    })
    const limits = as(['run', 'u2'])
    assert.equal(limits.status, 1)
    assert.match(limits.stderr, /linux\.resources: needs a cgroup of the container's own/)
    b.write(rootless)
    const r = as(['run', 'u3'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^0\\n\\s+0\\s+${user.uid}\\s+1$`, 'm'))
    assert.deepEqual(readdirSync(join(b.root, 'state')), [], 'run leaves no state behind')
  })
})
