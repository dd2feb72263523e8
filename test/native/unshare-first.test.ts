// The namespaces the sandbox's first process unshares itself (native/launcher.c UNSHARED_FIRST:
// network, mount, IPC, UTS) rather than the clone: they are the sandbox's own, owned by its user
// namespace (the loopback comes up, the hostname is set), and when that unshare fails the run
// reports the one failure, not a second one from the launcher that finds the sandbox gone.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, readlinkSync, writeFileSync } from 'node:fs'
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
})
