// cordon-oci against the real kernel, with runc as the reference for the state and its shape.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { probeKernel } from '../../src/host/probe.js'
import { CORDON_OCI, makeBundle, oci, ociSkip, RUNC, waitUntil } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root', 'the bundle and the reference')

const sleepUntil = (cond: () => boolean) => waitUntil(cond, 400)

describe('cordon-oci lifecycle', { skip }, () => {
  test('create leaves the process waiting, start runs it, kill and delete end it', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    const pidFile = join(b.dir, 'pid')
    const c = oci(b, ['create', '--bundle', b.dir, '--pid-file', pidFile, 'c1'])
    assert.equal(c.status, 0, c.stderr)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    const created = JSON.parse(oci(b, ['state', 'c1']).stdout)
    assert.equal(created.status, 'created')
    assert.equal(created.pid, pid)
    // Not yet the user's process: still the launcher's image, blocked before execve.
    assert.notEqual(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sleep')
    assert.equal(oci(b, ['start', 'c1']).status, 0)
    assert.equal(JSON.parse(oci(b, ['state', 'c1']).stdout).status, 'running')
    sleepUntil(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep')
    assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sleep')
    const early = oci(b, ['delete', 'c1'])
    assert.equal(early.status, 1, 'a running container is not deleted without --force')
    assert.equal(oci(b, ['kill', 'c1', 'KILL']).status, 0)
    sleepUntil(() => JSON.parse(oci(b, ['state', 'c1']).stdout).status === 'stopped')
    assert.equal(JSON.parse(oci(b, ['state', 'c1']).stdout).status, 'stopped')
    assert.equal(oci(b, ['delete', 'c1']).status, 0)
    const gone = oci(b, ['state', 'c1'])
    assert.equal(gone.status, 1)
    assert.match(gone.stderr, /does not exist/)
  })

  test('state has the fields and types runc prints for the same bundle', (t) => {
    const b = makeBundle(['sleep', '60'])
    const runcRoot = mkdtempSync(join(tmpdir(), 'cordon-oci-runc-'))
    t.after(() => {
      oci(b, ['delete', '--force', 'r1'], RUNC, runcRoot)
      rmSync(runcRoot, { recursive: true, force: true })
      b.cleanup()
    })
    assert.equal(oci(b, ['create', 'c2']).status, 0)
    const r = oci(b, ['create', 'r1'], RUNC, runcRoot)
    assert.equal(r.status, 0, r.stderr)
    const ours = JSON.parse(oci(b, ['state', 'c2']).stdout)
    const theirs = JSON.parse(oci(b, ['state', 'r1'], RUNC, runcRoot).stdout)
    assert.deepEqual(Object.keys(ours), Object.keys(theirs))
    for (const k of Object.keys(theirs)) assert.equal(typeof ours[k], typeof theirs[k], k)
    for (const k of ['status', 'bundle', 'rootfs', 'owner']) assert.equal(ours[k], theirs[k], k)
    assert.ok(!Number.isNaN(Date.parse(ours.created)))
  })

  test('run passes the exit status on and shows the spec hostname, ids and caps', (t) => {
    const b = makeBundle(['sh', '-c', 'hostname; id -u; grep CapBnd /proc/self/status; exit 3'])
    t.after(() => b.cleanup())
    const r = oci(b, ['run', 'c3'])
    assert.equal(r.status, 3, r.stderr)
    const [host, uid, caps] = r.stdout.trim().split('\n')
    assert.equal(host, 'runc')
    assert.equal(uid, '0')
    // runc spec's bounding set: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10)
    assert.equal(
      caps?.split(/\s+/)[1],
      ((1n << 29n) | (1n << 5n) | (1n << 10n)).toString(16).padStart(16, '0'),
    )
    assert.equal(oci(b, ['list', '-q']).stdout.trim(), '', 'run deletes the container')
  })

  test('Landlock from the mounts denies creating a device node that runc allows', (t) => {
    if (probeKernel().landlock.abi < 1) return t.skip('this kernel has no Landlock')
    const b = makeBundle(['sh', '-c', 'mknod /tmp/null c 1 3 && echo made'])
    const runcRoot = mkdtempSync(join(tmpdir(), 'cordon-oci-runc-'))
    t.after(() => {
      rmSync(runcRoot, { recursive: true, force: true })
      b.cleanup()
    })
    b.write((c) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const)
        c.process!.capabilities![set]!.push('CAP_MKNOD')
    })
    const ref = oci(b, ['run', 'r2'], RUNC, runcRoot)
    assert.equal(ref.stdout.trim(), 'made', `runc: ${ref.stderr}`)
    rmSync(join(b.dir, 'rootfs', 'tmp', 'null'), { force: true })
    const ours = oci(b, ['run', 'c4'])
    assert.notEqual(ours.status, 0)
    assert.match(ours.stderr, /Permission denied/)
    b.write((c) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const)
        c.process!.capabilities![set]!.push('CAP_MKNOD')
      c.annotations = { 'org.cordon.landlock': 'off' }
    })
    // Off drops the mount rules but not the denial of device nodes (device-guard.test.ts): the
    // container's author chooses the annotation, and a node would outlive it on the bundle.
    assert.notEqual(
      oci(b, ['run', 'c5']).stdout.trim(),
      'made',
      'org.cordon.landlock=off still denies device nodes',
    )
  })

  test('a read-only root is read-only to the container', (t) => {
    const b = makeBundle(['sh', '-c', 'touch /x 2>&1; touch /tmp/y 2>&1; echo done'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.root!.readonly = true
    })
    const r = oci(b, ['run', 'c6'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /Read-only file system/)
    assert.ok(!existsSync(join(b.dir, 'rootfs', 'x')))
  })
})

describe('cordon-oci refuses what it cannot carry out, naming the field', { skip }, () => {
  const cases: {
    name: string
    edit: (c: import('../../src/oci-runtime/spec.js').OciConfig) => void
    want: RegExp
  }[] = [
    { name: 'a terminal', edit: (c) => (c.process!.terminal = true), want: /process\.terminal/ },
    {
      name: 'an Intel RDT class',
      edit: (c) => (c.linux!.intelRdt = { closID: 'x' }),
      want: /linux\.intelRdt/,
    },
    {
      name: 'a systemd cgroup path',
      edit: (c) => (c.linux!.cgroupsPath = 'system.slice:cordon:x'),
      want: /linux\.cgroupsPath.*systemd/,
    },
    {
      name: 'an unknown mount type',
      edit: (c) => c.mounts!.push({ destination: '/x', type: 'nfs', source: 'h:/x' }),
      want: /mounts\[\d+\]\.type "nfs"/,
    },
    {
      // In the runtime's mount namespace, CAP_SYS_ADMIN would mount over the host's paths.
      name: 'CAP_SYS_ADMIN in the runtime’s own mount namespace',
      edit: (c) => {
        c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount')
        c.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN')
      },
      want: /process\.capabilities: CAP_SYS_ADMIN with no mount namespace/,
    },
    {
      name: 'an AppArmor profile',
      edit: (c) => (c.process!.apparmorProfile = 'docker-default'),
      want: /process\.apparmorProfile/,
    },
    {
      name: 'a hook with a relative path',
      edit: (c) => (c.hooks = { startContainer: [{ path: 'bin/true' }] }),
      want: /hooks\.startContainer\[0\]\.path.*absolute/,
    },
  ]
  test('no mount namespace: the container is in the runtime’s, its view its root, no mount in the host’s', (t) => {
    const b = makeBundle(['sh', '-c', 'readlink /proc/self/ns/mnt; test -x /bin/busybox && echo view'])
    t.after(() => b.cleanup())
    b.write((c) => (c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount')))
    const mounts = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(b.dir))
    const r = oci(b, ['run', 'nomnt'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.split('\n')[0], readlinkSync('/proc/self/ns/mnt'))
    assert.match(r.stdout, /^view$/m)
    assert.deepEqual(mounts(), [], 'nothing mounted in the host’s namespace')
    b.write((c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount')
      c.process!.args = ['sleep', '30']
    })
    assert.equal(oci(b, ['create', 'nomnt2']).status, 0)
    assert.equal(oci(b, ['start', 'nomnt2']).status, 0)
    // exec joins the runtime's namespace and takes the init's root, the container's view: not
    // the namespace's root, the host's (where runc's exec lands), and `..` stays in the view.
    const e = oci(b, [
      'exec',
      'nomnt2',
      'sh',
      '-c',
      'readlink /proc/self/ns/mnt; cd /../.. && test -x bin/busybox && test ! -e usr && echo view',
    ])
    assert.equal(e.status, 0, e.stderr)
    assert.equal(e.stdout, `${readlinkSync('/proc/self/ns/mnt')}\nview\n`)
    assert.deepEqual(mounts(), [], 'nothing mounted in the host’s namespace')
  })

  for (const { name, edit, want } of cases)
    test(`create refuses ${name}`, (t) => {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      b.write(edit)
      const r = oci(b, ['create', 'bad'])
      assert.equal(r.status, 1)
      assert.match(r.stderr, want)
      assert.equal(oci(b, ['list', '-q']).stdout.trim(), '', 'nothing is left behind')
    })

  test('--systemd-cgroup is refused with the fix', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    const r = oci(b, ['--systemd-cgroup', 'create', 'x'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /cgroupfs driver/)
  })
})

describe('cordon-oci flags', () => {
  const run = (args: string[]) => {
    const r = spawnSync(CORDON_OCI, args, {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  test('every command has --help', () => {
    for (const c of [
      'create',
      'run',
      'exec',
      'update',
      'start',
      'state',
      'kill',
      'delete',
      'pause',
      'list',
      'ps',
      'features',
    ]) {
      const r = run([c, '--help'])
      assert.equal(r.status, 0, `${c}: ${r.stderr}`)
      assert.match(r.stdout, new RegExp(`^Usage: cordon-oci ${c} `))
    }
  })
  test('an unknown flag is refused, never taken as the next flag’s value', () => {
    const r = run(['run', '--bundel', 'b', 'c6'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /run: unknown flag --bundel \(flags: --bundle, /)
    const s = run(['state', '--json', 'x'])
    assert.match(s.stderr, /state: unknown flag --json \(it takes none\)/)
  })
})
