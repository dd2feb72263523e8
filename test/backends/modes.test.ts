// The modes a policy runs in, on the runtime backends too: `--no-namespaces` (no pid namespace,
// where runc's user namespace cannot mount a procfs and gVisor's compiler took the profile
// past 4096 instructions) and a learned allowlist (its default refuses what runc's own init
// calls after loading the filter). Each worked natively and failed on runc or gVisor.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { seccompProfile } from '../../src/export/model.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { validatePolicy } from '../../src/policy/parse.js'
import { cordon, cordonAs, ensureTestUser, projectDir, runtimesSkip } from '../helpers.js'

const why = runtimesSkip()

const resolved = (policy: object) =>
  resolvePolicy({ policy: validatePolicy(policy), baseDir: '/', label: 'test' }, '/')

describe("an allowlist profile leaves the OCI runtime's own init its calls", () => {
  test('calls the profile leaves to a refusing default are allowed, and said', () => {
    const { profile, gaps } = seccompProfile(
      resolved({
        seccomp: {
          profile: 'none',
          default: 'errno(EPERM)',
          rules: [{ action: 'allow', syscalls: ['read', 'exit_group'] }],
        },
      }),
      'x64',
    )
    const allowed = new Set(
      profile.syscalls!.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
    )
    for (const name of ['fstatfs', 'getdents64', 'futex', 'write', 'execve'])
      assert.ok(allowed.has(name), name)
    // Narrowed where the call reaches beyond the caller: Go's preemption signal only (without a
    // pid namespace any other would reach the host's processes), threads but no namespace.
    assert.ok(!allowed.has('tgkill') && !allowed.has('clone'))
    const tgkill = profile.syscalls!.filter((r) => r.names.includes('tgkill'))
    assert.deepEqual(tgkill, [
      { names: ['tgkill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 2, op: 'SCMP_CMP_EQ', value: 23 }] },
    ])
    const clone = profile.syscalls!.filter((r) => r.names.includes('clone'))
    assert.deepEqual(clone, [
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0x7e020080, valueTwo: 0 }],
      },
    ])
    const gap = gaps.find((g) => g.statement.startsWith('seccomp: ') && g.statement.includes('fstatfs'))
    assert.ok(gap, JSON.stringify(gaps))
    assert.match(gap.statement, /tgkill \(SIGURG\), clone \(no namespace\)/)
    assert.match(gap.why, /allowed for the program too/)
    // A call the policy already decides is left to its rule.
    assert.doesNotMatch(gap.statement, /exit_group/)
  })

  test('a call the policy refuses by name keeps its refusal', () => {
    const { profile } = seccompProfile(
      resolved({
        seccomp: {
          profile: 'none',
          default: 'errno(EPERM)',
          rules: [
            { action: 'allow', syscalls: ['read'] },
            { action: 'errno(EACCES)', syscalls: ['write'] },
          ],
        },
      }),
      'x64',
    )
    const write = profile.syscalls!.filter((r) => r.names.includes('write'))
    assert.deepEqual(
      write.map((r) => r.action),
      ['SCMP_ACT_ERRNO'],
    )
  })

  test('a profile that allows by default gets nothing added', () => {
    const { profile, gaps } = seccompProfile(resolved({ extends: ['default'] }), 'x64')
    assert.equal(profile.defaultAction, 'SCMP_ACT_ALLOW')
    assert.ok(!gaps.some((g) => g.why.includes('allowed for the program too')))
  })
})

describe('runtime backends in every mode', { skip: why }, () => {
  const project = projectDir()
  let learned = ''
  let scratch = ''
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cordon-modes-'))
    learned = join(scratch, 'learned.yaml')
    const r = cordon(['learn', '-q', '-o', learned, '--', '/bin/sh', '-c', 'cat /etc/hostname; echo done'], {
      cwd: project,
      timeout: 120_000,
    })
    assert.equal(r.status, 0, r.stderr)
  })
  after(() => rmSync(scratch, { recursive: true, force: true }))

  test('--no-namespaces: runc shows the host /proc, write-protected and masked; gVisor starts', () => {
    const runc = cordon(
      [
        'run',
        '-q',
        '--backend',
        'runc',
        '--no-namespaces',
        // No pid or net namespace and no Landlock: the scopes' gap, accepted (backends/status.ts).
        '--acknowledge',
        'scopes',
        '--',
        'sh',
        '-c',
        'test -r /proc/self/status && echo proc; echo 1 > /proc/sys/kernel/sysrq || echo ro; ' +
          'test -s /proc/kallsyms && echo shown || echo masked',
      ],
      { cwd: project },
    )
    assert.equal(runc.status, 0, runc.stderr)
    assert.equal(runc.stdout, 'proc\nro\nmasked\n')
    const gvisor = cordon(
      ['run', '-q', '--backend', 'gvisor', '--no-namespaces', '--', 'sh', '-c', 'cat /proc/self/comm'],
      { cwd: project, timeout: 120_000 },
    )
    assert.equal(gvisor.status, 0, gvisor.stderr)
    assert.equal(gvisor.stdout, 'cat\n')
  })

  test('a learned allowlist runs on runc and gVisor as natively, and its export under runc itself', () => {
    for (const backend of ['native', 'runc', 'gvisor']) {
      // Several runs: the Go runtime's calls in runc's init vary from one run to the next.
      for (let i = 0; i < (backend === 'runc' ? 5 : 1); i++) {
        const r = cordon(['run', '-q', '-p', learned, '--backend', backend], {
          cwd: project,
          timeout: 120_000,
        })
        assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
        assert.equal(r.stdout, `${readFileSync('/etc/hostname', 'utf8')}done\n`)
      }
    }
    const bundle = join(scratch, 'bundle')
    const e = cordon(['export', '-q', '--to', 'oci-bundle', '-p', learned, '-o', bundle], { cwd: project })
    assert.equal(e.status, 0, e.stderr)
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { terminal?: boolean }
    }
    config.process.terminal = false
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
    const id = `cordon-modes-${process.pid}`
    const r = spawnSync('runc', ['run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 })
    spawnSync('runc', ['delete', '-f', id])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, `${readFileSync('/etc/hostname', 'utf8')}done\n`)
  })

  describe('as an unprivileged user', () => {
    let user = { uid: 0, gid: 0 }
    const dir = `/tmp/cordon-modes-${process.pid}`
    before(() => {
      user = ensureTestUser()
      mkdirSync(dir, { recursive: true })
      chmodSync(dir, 0o777)
    })
    after(() => rmSync(dir, { recursive: true, force: true }))

    test('rootless runc with --no-namespaces shows the host /proc', () => {
      const r = cordonAs(
        user,
        [
          'run',
          '-q',
          '--backend',
          'runc',
          '--no-namespaces',
          '--acknowledge',
          'scopes',
          '--',
          'sh',
          '-c',
          'test -d /proc/1 && echo host',
        ],
        dir,
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'host\n')
    })
  })
})
