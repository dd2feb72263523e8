// cordon-oci's filesystem view against the real kernel, for the config.json fields the OCI
// runtime-tools validation suite found missing (mounts, linux_devices, linux_masked_paths,
// linux_ns_path, config_updates_without_affect): mount propagation, device nodes, masked paths,
// namespaces joined by path. Each checks what the container sees, and that the host is untouched.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'

import type { OciConfig } from '../../src/oci-runtime/spec.js'
import { makeBundle, oci, ociSkip } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root', 'the bundle (runc spec)')

/** The mountinfo line of the mount at `point` (the last one: the visible one). */
const mountAt = (mountinfo: string, point: string) =>
  mountinfo
    .split('\n')
    .filter((l) => l.split(' ')[4] === point)
    .pop() ?? ''

/** A process in namespaces of its own (unshare), ended after the test. */
function unshared(t: TestContext, flag: string): ChildProcess {
  const child = spawn('unshare', [flag, '--fork', 'sleep', '120'], { stdio: 'ignore', detached: true })
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  })
  return child
}

/** The pid of the `sleep` unshare forked into its namespaces. */
function forkedPid(parent: number): number {
  for (let i = 0; i < 300; i++) {
    const children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim()
    if (children) return Number(children.split(' ')[0])
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
  }
  throw new Error('unshare did not fork')
}

describe('cordon-oci view: fields the runtime-tools suite checks', { skip }, () => {
  test('propagation options set each mount’s type in the container, and none reaches the host', (t) => {
    const b = makeBundle(['cat', '/proc/self/mountinfo'])
    t.after(() => b.cleanup())
    const hostSource = mkdtempSync(join(tmpdir(), 'cordon-oci-prop-'))
    t.after(() => rmSync(hostSource, { recursive: true, force: true }))
    const tmpfs = (dest: string, option: string) => ({
      destination: dest,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'size=1k', option],
    })
    b.write((c) => {
      c.linux!.rootfsPropagation = 'shared'
      c.mounts!.push(
        tmpfs('/tmp/shared', 'shared'),
        tmpfs('/tmp/slave', 'slave'),
        tmpfs('/tmp/private', 'private'),
        tmpfs('/tmp/unbindable', 'unbindable'),
        { destination: '/mnt/rshared', type: 'bind', source: hostSource, options: ['rbind', 'rshared'] },
      )
    })
    // Only the mounts of this test's paths: other tests on the machine mount in parallel.
    const ours = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(b.dir) || l.includes(hostSource))
    const before = ours()
    const log = join(b.dir, 'runtime.log')
    const r = oci(b, ['--log', log, 'run', 'vs-p1'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(readFileSync(log, 'utf8'), /level=warning.*nothing propagates to or from the host/)
    assert.match(mountAt(r.stdout, '/'), / shared:\d+ /, 'rootfsPropagation "shared" on the root')
    assert.match(mountAt(r.stdout, '/tmp/shared'), / shared:\d+ /)
    assert.match(mountAt(r.stdout, '/mnt/rshared'), / shared:\d+ /)
    assert.match(mountAt(r.stdout, '/tmp/unbindable'), / unbindable /)
    // Private, and a slave without a master: the view has no peer outside the container.
    for (const point of ['/tmp/private', '/tmp/slave'])
      assert.doesNotMatch(mountAt(r.stdout, point), / (shared|master|unbindable)/, point)
    assert.doesNotMatch(r.stdout, / master:\d+ /, 'nothing in the view receives from the host')
    assert.deepEqual(ours(), before, 'the host’s mounts are unchanged')
  })

  test('a bad rootfsPropagation is refused by name', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    b.write((c) => (c.linux!.rootfsPropagation = 'sharde'))
    const r = oci(b, ['create', 'vs-p2'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /linux\.rootfsPropagation.*\(r\)shared/)
  })

  test('linux.devices are made on the /dev tmpfs with their type, numbers, mode and owner', (t) => {
    const b = makeBundle([
      'busybox',
      'stat',
      '-c',
      '%n %F %t:%T %a %u:%g',
      '/dev/test1',
      '/dev/test2',
      '/dev/sub/fifo',
    ])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.devices = [
        { path: '/dev/test1', type: 'c', major: 10, minor: 666, fileMode: 0o660, uid: 0, gid: 5 },
        { path: '/dev/test2', type: 'b', major: 8, minor: 666, fileMode: 0o600 },
        { path: '/dev/sub/fifo', type: 'p', fileMode: 0o640, uid: 7, gid: 7 },
      ]
    })
    const r = oci(b, ['run', 'vs-d1'])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), [
      '/dev/test1 character special file a:29a 660 0:5',
      '/dev/test2 block special file 8:29a 600 0:0',
      '/dev/sub/fifo fifo 0:0 640 7:7',
    ])
  })

  test('a device node is never made on the bundle’s rootfs (a host filesystem)', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.devices = [{ path: '/test-dev', type: 'c', major: 10, minor: 666 }]
    })
    const r = oci(b, ['create', 'd2'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /linux\.devices\[0\].*\/test-dev is not on a tmpfs mount/)
    assert.equal(existsSync(join(b.dir, 'rootfs', 'test-dev')), false)
  })

  test('masked paths beneath a masked directory are hidden by it; relative and symlinked ones are refused', (t) => {
    const b = makeBundle(['ls', '-A', '/masked-dir'])
    t.after(() => b.cleanup())
    mkdirSync(join(b.dir, 'rootfs', 'masked-dir', 'sub'), { recursive: true })
    spawnSync('sh', ['-c', `echo secret > ${join(b.dir, 'rootfs', 'masked-dir', 'sub', 'file')}`])
    b.write((c) => {
      c.linux!.maskedPaths = ['/masked-dir', '/masked-dir/sub', '/masked-dir/sub/file']
    })
    const r = oci(b, ['run', 'vs-m1'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '', 'the masked directory is empty')

    b.write((c) => (c.linux!.maskedPaths = ['masked-relpath']))
    const relative = oci(b, ['create', 'vs-m2'])
    assert.equal(relative.status, 1)
    assert.match(relative.stderr, /linux\.maskedPaths\[0\].*absolute path/)

    // Resolved on the host, /escape -> /etc would mask (and judge) the host's /etc.
    symlinkSync('/etc', join(b.dir, 'rootfs', 'escape'))
    b.write((c) => (c.linux!.maskedPaths = ['/escape/passwd']))
    const link = oci(b, ['create', 'vs-m3'])
    assert.equal(link.status, 1)
    assert.match(link.stderr, /linux\.maskedPaths\[0\].*symlink in the rootfs \(\/escape\)/)
  })

  test('a mount namespace joined by path holds the container; the runtime’s own is refused', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    const holder = forkedPid(unshared(t, '--mount').pid!)
    const joined = (path: string) => (c: OciConfig) => {
      c.linux!.namespaces = c.linux!.namespaces!.map((n) =>
        n.type === 'mount' ? { type: 'mount', path } : n,
      )
    }
    b.write(joined(`/proc/${holder}/ns/mnt`))
    const pidFile = join(b.dir, 'pid')
    const r = oci(b, ['create', '--pid-file', pidFile, 'vs-n1'])
    assert.equal(r.status, 0, r.stderr)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    assert.equal(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${holder}/ns/mnt`))
    assert.notEqual(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'))
    assert.equal(oci(b, ['delete', '--force', 'vs-n1']).status, 0)

    b.write(joined('/proc/self/ns/mnt')) // /proc/self is cordon-oci itself
    const own = oci(b, ['create', 'vs-n2'])
    assert.equal(own.status, 1)
    assert.match(own.stderr, /linux\.namespaces \(mount.*cordon-oci's own mount namespace/)
  })

  test('hostname is set in a uts namespace joined by path, never in the runtime’s own', (t) => {
    const b = makeBundle(['hostname'])
    t.after(() => b.cleanup())
    const holder = forkedPid(unshared(t, '--uts').pid!)
    const joined = (path: string) => (c: OciConfig) => {
      c.hostname = 'joined-uts'
      c.linux!.namespaces = c.linux!.namespaces!.map((n) => (n.type === 'uts' ? { type: 'uts', path } : n))
    }
    b.write(joined(`/proc/${holder}/ns/uts`))
    const r = oci(b, ['run', 'vs-u1'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'joined-uts')
    const seen = spawnSync('nsenter', ['-t', String(holder), '-u', 'hostname'], { encoding: 'utf8' })
    assert.equal(seen.stdout.trim(), 'joined-uts', 'the joined namespace has the name')

    const host = readFileSync('/proc/sys/kernel/hostname', 'utf8')
    b.write(joined('/proc/self/ns/uts'))
    const own = oci(b, ['run', 'vs-u2'])
    assert.equal(own.status, 1)
    assert.match(own.stderr, /hostname.*cordon-oci's own/)
    assert.equal(readFileSync('/proc/sys/kernel/hostname', 'utf8'), host)
  })

  test('a remapped container’s binds of a shared host mount share nothing with the host', (t) => {
    const shared = mkdtempSync(join(tmpdir(), 'cordon-oci-shared-'))
    t.after(() => {
      spawnSync('umount', ['-l', shared])
      rmSync(shared, { recursive: true, force: true })
    })
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', shared]).status, 0)
    assert.equal(spawnSync('mount', ['--make-shared', shared]).status, 0)
    const b = makeBundle(['cat', '/proc/self/mountinfo'])
    t.after(() => b.cleanup())
    // A root caller's user namespace: the launcher makes the binds outside and sends them in.
    spawnSync('chown', ['-R', '100000:100000', join(b.dir, 'rootfs')])
    b.write((c) => {
      c.linux!.namespaces!.push({ type: 'user' })
      c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]
      c.mounts = c.mounts!.filter((m) => m.type !== 'cgroup')
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind'] })
    })
    const r = oci(b, ['run', 'vs-s1'])
    assert.equal(r.status, 0, r.stderr)
    const line = mountAt(r.stdout, '/shared')
    assert.ok(line, 'the bind is in the view')
    assert.doesNotMatch(line, / (shared|master):\d+ /, 'no peer group with the host’s mount')
  })
})
