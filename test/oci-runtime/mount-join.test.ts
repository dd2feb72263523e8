// A mount namespace joined by path (linux.namespaces[].path, type mount) is shared with
// whatever else lives there: another container, or the host's own. The launcher made `/`
// recursively private in it and pivot_root'ed the view over its root, changing the propagation
// of every mount there and the root of every other process in it. The view is now built in a
// private copy and the container goes back to the joined namespace with it as a detached root:
// a second process in that namespace sees the same mounts, propagation and root before and
// after, and the container is in the joined namespace, on its own view.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CORDON_OCI, makeBundle, oci, ociSkip, waitUntil } from './bundle.js'

const skip =
  ociSkip('cordon-oci makes a root container here') ||
  (spawnSync('findmnt', ['--version']).status !== 0 ? 'needs findmnt (util-linux)' : false)

/** Every mount of the namespace of pid, with its propagation, as that process sees it. */
const mounts = (pid: number) =>
  spawnSync('findmnt', ['-N', String(pid), '-rn', '-o', 'TARGET,PROPAGATION'], { encoding: 'utf8' }).stdout

describe('a mount namespace joined by path', { skip }, () => {
  test('keeps its mounts, propagation and root for the other process in it', (t) => {
    // The other process: a namespace of its own whose mounts are all shared (a host's are).
    const other: ChildProcess = spawn('unshare', ['-m', '--propagation', 'shared', 'sleep', '600'], {
      stdio: 'ignore',
    })
    t.after(() => other.kill('SIGKILL'))
    const pid = other.pid!
    const ns = `/proc/${pid}/ns/mnt`
    waitUntil(() => readlinkSync(ns) !== readlinkSync('/proc/self/ns/mnt'), 200)
    assert.notEqual(readlinkSync(ns), readlinkSync('/proc/self/ns/mnt'), 'the other process unshared')
    const before = mounts(pid)
    assert.match(before, /^\/ shared$/m)

    const b = makeBundle(['sh', '-c', 'cat /marker; ls -l /proc/self/ns/mnt'])
    t.after(() => b.cleanup())
    writeFileSync(join(b.dir, 'rootfs', 'marker'), 'the view\n')
    b.write((c) => {
      c.linux!.namespaces = c.linux!.namespaces!.map((n) =>
        n.type === 'mount' ? { type: 'mount', path: ns } : n,
      )
    })
    const r = oci(b, ['run', `mntjoin-${process.pid}`])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^the view$/m, 'the container runs on its view')
    assert.ok(r.stdout.includes(readlinkSync(ns)), `the container is in the joined namespace: ${r.stdout}`)

    assert.equal(mounts(pid), before, 'the same mounts, with the same propagation')
    assert.ok(existsSync(`/proc/${pid}/root${CORDON_OCI}`), "the other process's root is still the host's")

    // exec: in the joined namespace too, on the container's view (not the namespace's root).
    b.write((c) => {
      c.process!.args = ['sleep', '60']
      c.linux!.namespaces = c.linux!.namespaces!.map((n) =>
        n.type === 'mount' ? { type: 'mount', path: ns } : n,
      )
    })
    const id = `mntjoin-exec-${process.pid}`
    assert.equal(oci(b, ['create', id]).status, 0)
    assert.equal(oci(b, ['start', id]).status, 0)
    const e = oci(b, ['exec', id, 'sh', '-c', 'cat /marker; ls -l /proc/self/ns/mnt'])
    assert.equal(e.status, 0, e.stderr)
    assert.match(e.stdout, /^the view$/m)
    assert.ok(e.stdout.includes(readlinkSync(ns)), e.stdout)
    assert.equal(oci(b, ['delete', '--force', id]).status, 0)
    assert.equal(mounts(pid), before, 'still the same after a created, exec’d and deleted container')
  })

  test('with a new user namespace is refused by name', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.namespaces = [
        ...c.linux!.namespaces!.filter((n) => n.type !== 'mount'),
        { type: 'mount', path: '/proc/1/ns/mnt' },
        { type: 'user' },
      ]
      c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]
    })
    const r = oci(b, ['create', '--bundle', b.dir, `mntjoin-user-${process.pid}`])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /linux\.namespaces.*joined by path/)
  })
})
