// The namespaces the sandbox's first process unshares itself (native/launcher.c UNSHARED_FIRST:
// network, mount, IPC, UTS) rather than the clone: they are the sandbox's own, owned by its user
// namespace (the loopback comes up, the hostname is set), and when that unshare fails the run
// reports the one failure, not a second one from the launcher that finds the sandbox gone.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, readlinkSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { compilePlan, encodePlan, resolvePolicy } from '../../src/index.js'
import type { Policy } from '../../src/policy/schema.js'
import { LAUNCHER_UNDER_TEST, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const probe = probeKernel()
const noUserns = probe.namespaces.user?.ok ? undefined : 'this host refuses user namespaces'

function planFor(policy: Policy, uid: number, gid: number, name: string): string {
  const file = join(projectDir(), name)
  const resolved = resolvePolicy({ policy, baseDir: '/', label: name }, '/')
  writeFileSync(file, encodePlan(compilePlan(resolved, { uid, gid, cwd: '/', arch: process.arch })))
  chmodSync(file, 0o644)
  return file
}

const events = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; step?: string; code?: string | number })

describe('namespaces unshared by the sandbox first', { skip: noUserns }, () => {
  test('are its own, owned by its user namespace: loopback up, hostname set', () => {
    const plan = planFor(
      {
        namespaces: { user: true, pid: true, mount: true, ipc: true, uts: true },
        network: 'loopback',
        hostname: 'box1',
        filesystem: [{ ro: '/' }, { proc: '/proc' }, { dev: '/dev' }],
      },
      process.getuid?.() ?? 0,
      process.getgid?.() ?? 0,
      'loopback.plan',
    )
    const r = spawnSync(
      LAUNCHER_UNDER_TEST,
      [
        plan,
        '--',
        '/bin/sh',
        '-c',
        'readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/ipc /proc/self/ns/uts; hostname; ' +
          'ip -o link show lo 2>&1',
      ],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    const [net, mnt, ipc, uts, hostname] = r.stdout.split('\n')
    for (const [kind, inside] of [
      ['net', net],
      ['mnt', mnt],
      ['ipc', ipc],
      ['uts', uts],
    ] as const)
      assert.notEqual(inside, readlinkSync(`/proc/self/ns/${kind}`), `${kind} namespace is the host's`)
    assert.equal(hostname, 'box1')
    // The launcher brought lo up inside: SIOCSIFFLAGS needs CAP_NET_ADMIN over the network
    // namespace, which the sandbox's root has only when its user namespace owns it.
    if (spawnSync('ip', ['-V']).status === 0) assert.match(r.stdout, /<LOOPBACK,UP/, r.stdout)
  })

  test(
    'a failed unshare is reported once',
    { skip: isRoot ? false : 'makes a plain user run the launcher' },
    () => {
      // A plain user's plan with a network namespace and no user namespace: the clone needs no
      // privilege any more, the sandbox's unshare is refused (EPERM), and the launcher's next
      // steps fail only because the sandbox is gone.
      const user = ensureTestUser()
      const plan = planFor(
        {
          namespaces: { user: false, pid: false, mount: false, ipc: false, uts: false, cgroup: false },
          network: 'none',
          acknowledge: ['no-view'],
        },
        user.uid,
        user.gid,
        'net-only.plan',
      )
      for (let i = 0; i < 5; i++) {
        const r = spawnSync(LAUNCHER_UNDER_TEST, ['--events-fd', '1', plan, '--', '/bin/true'], {
          encoding: 'utf8',
          uid: user.uid,
          gid: user.gid,
          cwd: '/',
        })
        assert.equal(r.status, 125, r.stderr)
        const errors = events(r.stdout).filter((e) => e.event === 'error')
        assert.equal(errors.length, 1, r.stdout)
        assert.equal(errors[0]?.step, 'clone namespaces')
        assert.equal(errors[0]?.code, 'EPERM')
        assert.equal(r.stderr, '')
      }
    },
  )
  // A user namespace's limit on namespaces of a kind (user.max_net_namespaces and the like) is
  // set inside an outer user namespace, so the rest of the host is untouched: the sandbox's
  // unshare of that kind fails (ENOSPC) and the command never runs, with no namespace missing.
  for (const kind of ['net', 'ipc', 'uts', 'mnt'] as const)
    test(
      `a ${kind} namespace over the user namespace's limit: refused, the command never runs`,
      { skip: isRoot ? false : 'writes the id maps of an outer user namespace' },
      async () => {
        const plan = planFor(
          {
            namespaces: { user: true, pid: true, mount: true, ipc: true, uts: true },
            network: 'loopback',
            filesystem: [{ ro: '/' }, { proc: '/proc' }, { dev: '/dev' }],
          },
          0,
          0,
          `limit-${kind}.plan`,
        )
        // Root of the outer namespace once its maps are written (the inner sh runs after them,
        // with its capabilities), with every host id mapped so the plan's own map fits in it.
        const inner = `echo 0 > /proc/sys/user/max_${kind}_namespaces && exec "$0" --events-fd 1 "$1" -- /bin/echo RAN`
        const child = spawn(
          'unshare',
          [
            '-U',
            '-m',
            'sh',
            '-c',
            'while ! grep -q . /proc/self/gid_map; do sleep 0.01; done; exec sh -c "$0" "$1" "$2"',
            inner,
            LAUNCHER_UNDER_TEST,
            plan,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        )
        let out = ''
        let err = ''
        child.stdout.on('data', (d: Buffer) => (out += d.toString()))
        child.stderr.on('data', (d: Buffer) => (err += d.toString()))
        const done = once(child, 'exit')
        // The maps, as host root, once unshare has made the namespace.
        for (
          let i = 0;
          i < 200 && readlinkSync(`/proc/${child.pid}/ns/user`) === readlinkSync('/proc/self/ns/user');
          i++
        )
          await new Promise((r) => setTimeout(r, 10))
        writeFileSync(`/proc/${child.pid}/uid_map`, '0 0 4294967295\n')
        writeFileSync(`/proc/${child.pid}/gid_map`, '0 0 4294967295\n')
        const [code] = (await done) as [number | null]
        assert.equal(code, 125, out + err)
        assert.doesNotMatch(out, /^RAN$/m, 'the command ran')
        const errors = events(out).filter((e) => e.event === 'error')
        assert.ok(errors.length >= 1, out + err)
        assert.ok(
          errors.every((e) => e.code === 'ENOSPC'),
          `every failure is the limit's: ${out}`,
        )
        // The launcher's own tree clones count as mount namespaces: its bind may fail first.
        if (kind !== 'mnt') {
          assert.equal(errors.length, 1, out)
          assert.equal(errors[0]?.step, 'clone namespaces')
        }
      },
    )
})
