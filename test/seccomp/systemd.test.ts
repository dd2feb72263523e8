// systemd's SystemCallFilter= as a cordon policy: systemd's semantics (first assignment decides
// allow- or deny-list, later ones add or remove, empty resets, @default always allowed, per-call
// errno, kill without SystemCallErrorNumber=), systemd's own groups (systemd-analyze), and the
// imported filter enforced by the kernel.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { importSystemd, systemdGroups } from '../../src/seccomp/systemd.js'
import { cordon, projectDir, ROOT } from '../helpers.js'

const hasSystemd = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0
// A stand-in for systemd's table where the point is the merge semantics, not the members.
const SMALL: Record<string, string[]> = {
  '@default': ['execve', 'exit', 'exit_group', 'brk'],
  '@mount': ['mount', 'umount2', 'pivot_root'],
  '@reboot': ['reboot', 'kexec_load'],
}
const small = (g: string) => SMALL[g]
const rules = (text: string) => importSystemd(text, small).layer

describe('cordon seccomp import --from systemd', () => {
  test('allow-list: @default included, ~ entries taken away, SystemCallErrorNumber the default', () => {
    const layer = rules(
      '[Service]\nSystemCallFilter=read write @mount\nSystemCallFilter=~pivot_root\nSystemCallErrorNumber=EPERM\n',
    )
    assert.equal(layer.default, 'errno(EPERM)')
    assert.deepEqual(layer.rules, [
      {
        syscalls: ['brk', 'execve', 'exit', 'exit_group', 'mount', 'read', 'umount2', 'write'],
        action: 'allow',
      },
    ])
  })

  test('deny-list: kill by default, per-call errno, later allow entries and empty resets', () => {
    const layer = rules(
      'SystemCallFilter=~@mount ptrace:EACCES\nSystemCallFilter=~@reboot\nSystemCallFilter=umount2\n',
    )
    assert.equal(layer.default, 'allow')
    assert.deepEqual(layer.rules, [
      { syscalls: ['kexec_load', 'mount', 'pivot_root', 'reboot'], action: 'kill-process' },
      { syscalls: ['ptrace'], action: 'errno(EACCES)' },
    ])
    const reset = rules('SystemCallFilter=~@mount\nSystemCallFilter=\nSystemCallFilter=read\n')
    assert.equal(reset.default, 'kill-process')
    assert.deepEqual(reset.rules?.[0]?.syscalls, ['brk', 'execve', 'exit', 'exit_group', 'read'])
  })

  test('groups are systemd’s own, nested groups expanded', { skip: !hasSystemd && !process.env.CI }, () => {
    const expand = systemdGroups()!
    const privileged = expand('@privileged')!
    // @privileged nests @reboot, @swap, @module…: their members come with it.
    for (const call of ['chroot', 'reboot', 'swapon', 'init_module', 'bpf'])
      assert.ok(privileged.includes(call), call)
    const { layer, unknown } = importSystemd(
      'SystemCallFilter=@system-service\nSystemCallFilter=~@privileged @resources\nSystemCallErrorNumber=EPERM\n',
      expand,
    )
    const allowed = new Set(layer.rules![0]!.syscalls)
    for (const call of ['read', 'openat', 'execve', 'futex', 'socket']) assert.ok(allowed.has(call), call)
    for (const call of ['chroot', 'mount', 'reboot', 'setrlimit', 'bpf']) assert.ok(!allowed.has(call), call)
    // Other arches' calls (s390, arm) are not in cordon's tables: reported, not guessed.
    assert.ok(unknown.includes('s390_pci_mmio_read'))
  })

  test('the imported filter is what the kernel enforces', () => {
    const project = projectDir()
    const unit = join(project, 'svc.service')
    writeFileSync(
      unit,
      '[Service]\nExecStart=/bin/true\nSystemCallFilter=~@mount ptrace:EACCES\nSystemCallErrorNumber=EPERM\n',
    )
    const policy = join(project, 'svc-seccomp.yaml')
    const imported = cordon(['seccomp', 'import', '--from', 'systemd', unit, '-o', policy])
    assert.equal(imported.status, 0, imported.stderr)
    const probes = join(ROOT, 'build', 'native')
    const r = cordon(
      [
        'run',
        '--seccomp',
        policy,
        '--ro',
        probes,
        '--',
        join(probes, 'cordon-probes'),
        'mount',
        'ptrace-host=1',
        'chroot',
      ],
      { cwd: project },
    )
    assert.equal(r.status, 0, r.stderr)
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { probe: string; errno?: number; call: string })
    assert.deepEqual(
      results.map((x) => [x.probe, x.errno]),
      [
        ['mount', 1], // EPERM: SystemCallErrorNumber
        ['ptrace-host=1', 13], // EACCES: its own errno
        ['chroot', 1], // systemd's @mount has chroot too
      ],
    )
    // --seccomp takes the unit itself too.
    const direct = cordon(
      ['run', '--seccomp', unit, '--ro', probes, '--', join(probes, 'cordon-probes'), 'ptrace-host=1'],
      { cwd: project },
    )
    assert.equal((JSON.parse(direct.stdout) as { errno: number }).errno, 13, direct.stderr)
    const explain = cordon(['seccomp', 'explain', '--seccomp', policy], { cwd: project })
    assert.match(explain.stdout, / mount +errno\(1\) /)
    assert.match(explain.stdout, / ptrace +errno\(13\) /)
  })

  test('bad input: the item and the fix', () => {
    const project = projectDir()
    const bad = join(project, 'bad.service')
    writeFileSync(bad, 'SystemCallFilter=~ptrace:EWHAT\n')
    writeFileSync(join(project, 'empty.service'), '[Service]\nExecStart=/bin/true\n')
    const r = cordon(['seccomp', 'import', '--from', 'systemd', bad])
    assert.equal(r.status, 2)
    assert.match(
      r.stderr,
      /bad\.service: ptrace:EWHAT: unknown errno EWHAT \(use a name like EPERM or a number\)/,
    )
    const none = cordon(['seccomp', 'import', '--from', 'systemd', join(project, 'empty.service')])
    assert.match(none.stderr, /no SystemCallFilter= found/)
    const from = cordon(['seccomp', 'import', '--from', 'apparmor', bad])
    assert.match(from.stderr, /--from must be oci or systemd, got `apparmor`/)
  })
})
