// The escape battery against the real kernel: everything blocked under the default profile,
// by the layer we expect; a weakened policy fails the battery, naming what got through.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { hostFacts, probeKernel } from '../../src/host/probe.js'
import { cordon, isRoot, projectDir } from '../helpers.js'

interface Result {
  probe: string
  target?: string
  outcome: 'blocked' | 'escaped' | 'error' | 'skipped'
  expected: boolean
  by?: string
  reason?: string
  detail?: string
}

function verify(args: string[]): { status: number | null; results: Result[]; failures: number } {
  const r = cordon(['verify', '--json', ...args], { cwd: projectDir(), timeout: 120_000 })
  assert.ok(r.status === 0 || r.status === 1, r.stderr)
  const out = JSON.parse(r.stdout) as { results: Result[]; failures: number }
  return { status: r.status, ...out }
}

/** The file probes' run, shared by the tests that judge it (each run takes seconds). */
let fileRun: ReturnType<typeof verify> | undefined
const fileProbes = () =>
  (fileRun ??= verify(['--probe', 'setuid-plant', '--probe', 'device-metadata', '--probe', 'root-only-read']))

const byProbe = (results: Result[], name: string) => results.filter((r) => r.probe === name)
const one = (results: Result[], name: string) => {
  const found = byProbe(results, name)
  assert.equal(found.length, 1, name)
  return found[0]!
}

const secretRead = (r: Result) => r.probe === 'root-only-read' && r.target === 'a 0600 root-owned host file'

// int 0x80 faults on some VMs (no IA-32 emulation): the i386 probe is then stopped by the kernel.
const i386 = probeKernel().i386Entry !== false

describe('cordon verify', { concurrency: 1 }, () => {
  const noLimits = join(projectDir(), 'no-limits.yaml')
  writeFileSync(noLimits, 'extends: [default]\nlimits: { memory: max, pids: max }\n')
  test('the default profile blocks every attack, each by the layer that should', () => {
    const { results, failures } = verify([])
    for (const r of results)
      if (r.expected) assert.equal(r.outcome, 'blocked', `${r.probe} ${r.target ?? ''}: ${JSON.stringify(r)}`)
    assert.equal(failures, 0)
    const by = (name: string) => one(results, name).by
    assert.equal(by('ptrace-host'), 'seccomp')
    assert.equal(by('signal-host'), 'pid namespace')
    assert.equal(by('tcp-host'), 'net namespace')
    assert.equal(by('udp-host'), 'net namespace')
    assert.equal(by('abstract-unix'), 'net namespace')
    // Where the kernel keeps the connector to CAP_NET_ADMIN (cordon check: plain users poll),
    // the bind is refused before the namespace would be.
    assert.equal(
      by('proc-connector'),
      (hostFacts().unprivileged ?? probeKernel()).procConnector === false
        ? 'capabilities (this kernel lets only CAP_NET_ADMIN listen)'
        : 'net namespace (the connector lives in the host’s)',
    )
    // Root's sandbox is not host root (the file's mode stops it first); a plain user's neither.
    assert.match(by('proc-sys-write')!, /^(mount view \(read-only \/proc\/sys\)|file permissions)/)
    assert.equal(by('exec-tmp'), 'mount view (noexec) and Landlock')
    assert.equal(by('x32-entry'), 'seccomp (x32 killed)')
    if (i386) assert.equal(by('i386-entry'), 'seccomp')
    assert.equal(by('read-home'), 'mount view')
    const writes = byProbe(results, 'write-outside')
    assert.ok(writes.some((w) => w.target === '/etc' && w.by === 'mount view (read-only)'))
    assert.ok(writes.every((w) => w.outcome === 'blocked'))
    // The project is under /tmp, so write-outside tries /tmp too: host-tmp-write, after it, was
    // credited to EEXIST (the same name, made in the sandbox's /tmp first: helper-113).
    if (dirname(projectDir()) === '/tmp') assert.ok(writes.some((w) => w.target === '/tmp'))
    assert.equal(by('host-tmp-write'), 'mount view (a private tmpfs: nothing reached the host)')
    for (const r of results) assert.doesNotMatch(r.by ?? '', /^E[A-Z]+$/, `${r.probe}: a bare errno`)
    if (isRoot) assert.equal(one(results, 'setuid').outcome, 'blocked')
    // The default's limits (4096 tasks, half the memory) hold: the tests run as root, so a cgroup.
    assert.equal(by('fork-bomb'), 'cgroup (pids limit)')
    assert.equal(by('memory'), 'cgroup (memory limit: OOM kill)')
  })

  test('no sandbox leaves a setuid file, changes a host device node or reads root-only kernel tables', () => {
    const { results } = fileProbes()
    for (const r of results)
      if (r.outcome !== 'skipped')
        assert.equal(r.outcome, 'blocked', `${r.probe} ${r.target ?? ''}: ${JSON.stringify(r)}`)
    assert.equal(one(results, 'setuid-plant').by, 'seccomp')
    assert.equal(one(results, 'device-metadata').by, 'mount view (read-only)')
  })

  test(
    "a root caller's sandbox cannot read a 0600 root-owned host file",
    {
      skip: !isRoot && 'a plain user cannot make a root-owned file',
    },
    () => {
      const secret = fileProbes().results.find(secretRead)
      assert.equal(secret?.outcome, 'blocked', JSON.stringify(secret))
    },
  )

  test('the file probes judge by what reached the host', () => {
    const { results } = fileProbes()
    const plant = one(results, 'setuid-plant')
    // Escaped exactly when a host file kept a bit, and then it names the files.
    assert.equal(
      plant.outcome === 'escaped',
      /setuid\/setgid on the host: plant-/.test(plant.detail ?? ''),
      JSON.stringify(plant),
    )
    const devices = one(results, 'device-metadata')
    assert.equal(
      devices.outcome === 'escaped',
      /changed on the host: \/dev\//.test(devices.detail ?? ''),
      JSON.stringify(devices),
    )
    const reads = byProbe(results, 'root-only-read').map((r) => r.target)
    for (const f of [
      '/proc/slabinfo',
      '/proc/timer_list',
      '/proc/vmallocinfo',
      '/proc/pagetypeinfo',
      '/proc/kcore',
      '/proc/keys',
    ])
      assert.ok(reads.includes(f), f)
    if (isRoot) assert.ok(reads.includes('a 0600 root-owned host file'))
  })

  test('without limits the resource probes say so instead of pretending', () => {
    const { results } = verify(['--policy', noLimits, '--probe', 'fork-bomb', '--probe', 'memory'])
    assert.deepEqual(
      results.map((r) => [r.probe, r.expected, r.reason]),
      [
        ['fork-bomb', false, 'the policy sets no pids limit (limits.pids)'],
        ['memory', false, 'the policy sets no memory limit (limits.memory)'],
      ],
    )
  })

  test('a weakened policy fails the battery and names each attack that got through', () => {
    const { status, results, failures } = verify(['--seccomp', 'none', '--tmpfs', '/tmp'])
    assert.equal(status, 1)
    const escaped = results.filter((r) => r.outcome === 'escaped' && r.expected).map((r) => r.probe)
    // io_uring_setup: every filter refuses it (its opens would bypass the no-setid layer).
    for (const name of ['unshare-user', 'keyctl', 'userfaultfd', ...(i386 ? ['i386-entry'] : [])])
      assert.ok(escaped.includes(name), `${name} should get through: ${escaped.join(', ')}`)
    assert.equal(failures, escaped.length)
    // A flag's tmpfs allows exec: the policy's own choice, listed with why, not a failure.
    const exec = one(results, 'exec-tmp')
    assert.equal(exec.expected, false, JSON.stringify(exec))
    assert.match(exec.reason ?? '', /tmpfs at \/tmp allows exec/)
    // Layers other than seccomp still hold.
    assert.equal(one(results, 'mount').by, 'capabilities')
    assert.equal(one(results, 'signal-host').by, 'pid namespace')
    assert.equal(one(results, 'proc-sys-write').outcome, 'blocked')
  })

  // A learned allowlist that refused the probe harness pipe2 read as 73 escapes (helper-152),
  // then as 73 attacks not tried. The harness now runs each probe in a sandbox of its own when
  // the policy refuses it its pipe or its wait: every verdict is the one the same policy without
  // that refusal gets, except where a probe needs the call for itself (to read an exec'd
  // program's answer), which says so and is not called blocked.
  test('a policy that refuses the harness its pipe and wait is verified probe by probe', () => {
    const policy = join(projectDir(), 'no-pipe.yaml')
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [pipe, pipe2, wait4]\n      action: errno(EPERM)\n',
    )
    const plain = verify([])
    const refused = cordon(['verify', '--json', policy], { cwd: projectDir(), timeout: 120_000 })
    const out = JSON.parse(refused.stdout) as { results: Result[]; harnessRefused?: string[] }
    assert.deepEqual(out.harnessRefused, ['pipe2', 'wait4'])
    const ownCall =
      /^the probe's own (pipe|wait4) failed \(the policy refuses it\?\): the attack was not tried$/
    const untried = new Set(['exec-tmp', 'exec-caps', 'exec-devshm', 'setuid', 'tiocsti-high-bits'])
    // Paired by name and place: targets with a pid or a port differ from run to run.
    for (const r of plain.results) {
      const o = byProbe(out.results, r.probe)[byProbe(plain.results, r.probe).indexOf(r)]
      assert.ok(o, `${r.probe} ${r.target ?? ''} ran`)
      if (untried.has(r.probe) && r.outcome === 'blocked') {
        assert.equal(o.outcome, 'error', JSON.stringify(o))
        assert.match(o.detail ?? '', ownCall)
      } else
        assert.deepEqual(
          [o.outcome, o.by],
          [r.outcome, r.by],
          `${r.probe} ${r.target ?? ''}: ${JSON.stringify(o)}`,
        )
    }
    const text = cordon(['verify', policy], { cwd: projectDir(), timeout: 120_000 })
    assert.equal(text.status, 1, text.stderr)
    assert.match(text.stdout, /the policy refuses the probe harness pipe2, wait4: each attack ran alone/)
    assert.match(
      text.stdout,
      /\n\d+ attack\(s\) could not be tried \(ERROR above\): nothing is proven about them/,
    )
    assert.doesNotMatch(text.stdout, /got through/)
    // A filter that kills the probe program's write: killed before its attack began, or as it
    // sent its result, a probe never reads as blocked.
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [write]\n      action: kill\n',
    )
    const killed = cordon(['verify', '--json', policy, '--probe', 'mount', '--probe', 'keyctl'], {
      cwd: projectDir(),
      timeout: 120_000,
    })
    const k = JSON.parse(killed.stdout) as { results: Result[]; harnessRefused?: string[] }
    assert.deepEqual(k.harnessRefused, ['write'])
    assert.deepEqual(
      k.results.map((r) => [r.probe, r.outcome]),
      [
        ['mount', 'error'],
        ['keyctl', 'error'],
      ],
    )
  })

  // helper-153: any signal that ended a probe read as its attack blocked. A filter that killed
  // the probe's write of its result (by descriptor: the harness chose its forked mode), its
  // close after the attack, or its own fork made escapes "blocked · signal 31", and errno(0) on
  // wait4 made an exec probe's unreaped child read as a refused exec.
  test('a filter that kills or fakes the probes own calls never turns an escape into a block', (t) => {
    // A probe killed at its unlink leaves its copy in the host's /dev/shm (a writable bind).
    t.after(() => {
      for (const name of readdirSync('/dev/shm'))
        if (name.startsWith('cordon-verify-exec-')) rmSync(join('/dev/shm', name), { force: true })
    })
    const policy = join(projectDir(), 'kills-machinery.yaml')
    const escapes = ['keyctl', 'perf-event', 'unshare-user'] // each gets through with no seccomp
    for (const rule of [
      'syscalls: [write]\n      action: kill-process\n      args: [{ index: 0, op: eq, value: 4, width: 32 }]',
      'syscalls: [write]\n      action: kill-process\n      args: [{ index: 0, op: eq, value: 1, width: 32 }, { index: 2, op: gt, value: 80 }]',
      'syscalls: [close]\n      action: kill-process',
      'syscalls: [clone]\n      action: kill-process',
    ]) {
      writeFileSync(policy, `extends: [default]\nseccomp:\n  profile: none\n  rules:\n    - ${rule}\n`)
      const { results, failures } = verify([policy, ...escapes.flatMap((p) => ['--probe', p])])
      assert.equal(failures, escapes.length, `${rule}: ${JSON.stringify(results)}`)
      for (const r of results) assert.notEqual(r.outcome, 'blocked', `${rule}: ${JSON.stringify(r)}`)
    }
    // helper-154: a kill of what the probes do around their attack (unlink, rmdir) passed for
    // the attack killed: exec from a writable /dev/shm read as blocked by seccomp.
    writeFileSync(
      policy,
      'extends: [default]\nfilesystem: [{ rw: /dev/shm }]\nseccomp:\n  rules:\n    - syscalls: [unlink, unlinkat, rmdir]\n      action: kill-process\n',
    )
    const around = one(verify([policy, '--probe', 'exec-devshm']).results, 'exec-devshm')
    assert.ok(['escaped', 'error'].includes(around.outcome), JSON.stringify(around))
    // A refusal the filter gives for some arguments only, checked with zeros for the probe's:
    // the errno picked a layer the policy does not have, and another argument passes.
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [openat]\n      action: errno(EACCES)\n      args: [{ index: 2, op: masked-eq, mask: 0x80000, value: 0x80000 }]\n',
    )
    const shadow = one(verify([policy, '--probe', 'read-shadow']).results, 'read-shadow')
    assert.equal(shadow.outcome, 'error', JSON.stringify(shadow))
    assert.match(shadow.detail ?? '', /for some of its arguments only/)
    // helper-156: a refusal of the probe's exact call that another variant of the attack passes
    // (O_RDWR for O_WRONLY, open for openat, a mode the rule lets by, a flag the attack does
    // not need, the upper half of an int) was a block once the rows gave exact arguments.
    const shm = 'filesystem:\n  - tmpfs: { dest: /dev/shm, exec: true }\n'
    for (const [rules, probe] of [
      [
        `${shm}seccomp:\n  rules:\n    - syscalls: [openat]\n      action: errno(EACCES)\n      args: [{ index: 2, op: masked-eq, mask: 3, value: 1, width: 32 }]\n`,
        'exec-devshm',
      ],
      [
        `${shm}seccomp:\n  rules:\n    - syscalls: [openat]\n      action: errno(EACCES)\n      args: [{ index: 2, op: masked-eq, mask: 0x40, value: 0x40, width: 32 }]\n    - syscalls: [openat]\n      action: allow\n      args:\n        - { index: 2, op: masked-eq, mask: 0x40, value: 0x40, width: 32 }\n        - { index: 3, op: masked-eq, mask: 0o777, value: 0o700, width: 32 }\n`,
        'exec-devshm',
      ],
      [
        'seccomp:\n  rules:\n    - syscalls: [perf_event_open]\n      action: allow\n    - syscalls: [perf_event_open]\n      action: errno(EACCES)\n      args: [{ index: 4, op: eq, value: 0, width: 32 }]\n',
        'perf-event',
      ],
      [
        'seccomp:\n  rules:\n    - syscalls: [keyctl]\n      action: allow\n    - syscalls: [keyctl]\n      action: errno(EPERM)\n      args: [{ index: 0, op: eq, value: 0 }]\n',
        'keyctl',
      ],
      // helper-157: a masked value with bits outside its mask, a deny-log refusal, another call
      // to the same keyrings.
      [
        'seccomp:\n  rules:\n    - syscalls: [keyctl]\n      action: errno(EPERM)\n    - syscalls: [keyctl]\n      action: allow\n      args: [{ index: 0, op: masked-eq, mask: "0x100000000", value: "0x300000000" }]\n',
        'keyctl',
      ],
      [
        'seccomp:\n  rules:\n    - syscalls: [keyctl]\n      action: allow\n    - syscalls: [keyctl]\n      action: deny-log(EPERM)\n      args: [{ index: 0, op: eq, value: 0 }]\n',
        'keyctl',
      ],
      [
        'seccomp:\n  rules:\n    - syscalls: [add_key, request_key]\n      action: allow\n    - syscalls: [keyctl]\n      action: errno(EPERM)\n',
        'keyctl',
      ],
      // helper-159: ptrace refused, but not the calls that pass the same access check.
      [
        'seccomp:\n  rules:\n    - syscalls: [process_vm_readv, process_vm_writev]\n      action: allow\n',
        'ptrace-host',
      ],
      // helper-158: every metadata call the probe makes, but not utimes or the ACL's xattr.
      [
        'seccomp:\n  rules:\n    - syscalls: [chmod, fchmod, fchmodat, fchmodat2, chown, fchown, fchownat, lchown, utimensat]\n      action: errno(EPERM)\n',
        'device-metadata',
      ],
    ] as const) {
      writeFileSync(policy, `extends: [default]\n${rules}`)
      const r = one(verify([policy, '--probe', probe]).results, probe)
      assert.equal(r.outcome, 'error', `${rules}: ${JSON.stringify(r)}`)
      assert.match(r.detail ?? '', /for some of its arguments only/, JSON.stringify(r))
    }
    // A kill of the attack's own call, whatever its arguments, is a block.
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  profile: none\n  rules:\n    - syscalls: [keyctl, add_key, request_key, perf_event_open]\n      action: kill-process\n',
    )
    const killed = verify([policy, '--probe', 'keyctl', '--probe', 'perf-event'])
    assert.equal(killed.failures, 0, JSON.stringify(killed.results))
    for (const r of killed.results) {
      assert.equal(r.outcome, 'blocked', JSON.stringify(r))
      assert.match(r.by ?? '', /^seccomp/, JSON.stringify(r))
    }
    // The probe's own setup refused (its pty's ioctls): a block only where the filter refuses
    // the attack's own call whatever its arguments.
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [ioctl]\n      action: errno(EPERM)\n',
    )
    const noIoctl = one(verify([policy, '--probe', 'tiocsti-high-bits']).results, 'tiocsti-high-bits')
    assert.equal(noIoctl.outcome, 'blocked', JSON.stringify(noIoctl))
    assert.equal(noIoctl.by, 'seccomp', JSON.stringify(noIoctl))
    assert.match(noIoctl.detail ?? '', /refuses ioctl whatever the arguments .*its own ioctl/)
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [ioctl]\n      action: errno(EPERM)\n      args: [{ index: 1, op: eq, value: 0x80045430 }]\n',
    )
    const noPty = one(verify([policy, '--probe', 'tiocsti-high-bits']).results, 'tiocsti-high-bits')
    assert.equal(noPty.outcome, 'error', JSON.stringify(noPty))
    assert.match(noPty.detail ?? '', /^the probe's own ioctl failed/)
    writeFileSync(
      policy,
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [wait4]\n      action: errno(0)\n',
    )
    const faked = verify([policy, '--probe', 'exec-tmp', '--probe', 'exec-caps'])
    for (const r of faked.results) {
      assert.equal(r.outcome, 'error', JSON.stringify(r))
      assert.match(r.detail ?? '', /^the probe's own wait4 failed/)
    }
    // The exec probes copy the 1 MiB probe program: a 256 KiB /dev/shm that runs a script an
    // attacker writes there refused only the copy, and an RLIMIT_FSIZE killed it (SIGXFSZ).
    for (const extra of [
      'filesystem:\n  - tmpfs: { dest: /dev/shm, size: 256K, exec: true, access: [read, readdir, write, execute, create, delete, truncate] }\n',
      'filesystem:\n  - tmpfs: { dest: /dev/shm, exec: true, access: [read, readdir, write, execute, create, delete, truncate] }\nlimits:\n  rlimits: { fsize: 65536 }\n',
    ]) {
      writeFileSync(policy, `extends: [default]\n${extra}`)
      const shm = one(verify([policy, '--probe', 'exec-devshm']).results, 'exec-devshm')
      assert.equal(shm.outcome, 'error', `${extra}: ${JSON.stringify(shm)}`)
      assert.match(shm.detail ?? '', /copy of itself \(1 MiB\) failed|SIGXFSZ/)
    }
    // A view without /proc: the probe reads itself by its own path, and finds the exec it allows.
    writeFileSync(
      policy,
      [
        'extends: []',
        'namespaces: { user: true, pid: true, mount: true, ipc: true, uts: true, cgroup: true }',
        'network: none',
        'filesystem:',
        '  - ro: /usr',
        '  - symlink: { target: usr/lib, dest: /lib }',
        '  - symlink: { target: usr/lib64, dest: /lib64 }',
        '  - symlink: { target: usr/bin, dest: /bin }',
        '  - dev: /dev',
        '  - tmpfs: { dest: /dev/shm, exec: true, access: [read, readdir, write, execute, create, delete, truncate] }',
        '',
      ].join('\n'),
    )
    const noProc = one(verify([policy, '--probe', 'exec-devshm']).results, 'exec-devshm')
    assert.equal(noProc.outcome, 'escaped', JSON.stringify(noProc))
  })

  // Without a mount namespace Landlock alone refused the execve, and ld.so ran the program all
  // the same; the probe wrote to the host's /tmp, was refused the write, and said "blocked by
  // the mount view (noexec)" (helper-137). It writes to $TMPDIR and maps the program too.
  test('without namespaces, a program written to $TMPDIR maps executable: listed as the gap, not blocked', () => {
    const { results } = verify(['--no-namespaces', '--acknowledge', 'no-view', '--probe', 'exec-tmp'])
    const exec = one(results, 'exec-tmp')
    assert.equal(exec.outcome, 'escaped', JSON.stringify(exec))
    assert.equal(exec.expected, false)
    assert.match(exec.reason ?? '', /no mount namespace, so no noexec mount/)
    assert.match(exec.detail ?? '', /as ld\.so does/)
  })

  test('network: host: loopback reachable as the policy says; the abstract-socket scope and the proc connector guard hold', () => {
    const { status, results } = verify([
      '--net',
      'host',
      '--probe',
      'tcp-host',
      '--probe',
      'udp-host',
      '--probe',
      'abstract-unix',
      '--probe',
      'proc-connector',
    ])
    assert.equal(status, 0)
    assert.deepEqual(
      results.map((r) => [r.probe, r.outcome, r.expected]),
      [
        ['tcp-host', 'escaped', false],
        ['udp-host', 'escaped', false],
        ['abstract-unix', 'blocked', true],
        ['proc-connector', 'blocked', true],
      ],
    )
    assert.equal(one(results, 'abstract-unix').by, 'landlock (scope)')
    // The host's connector would show every host process starting and ending: seccomp refuses it.
    assert.equal(one(results, 'proc-connector').by, 'seccomp')
  })

  test(
    'limits stop the fork bomb and memory exhaustion',
    { skip: !isRoot && 'cgroups need root here' },
    () => {
      const { status, results } = verify([
        '--pids',
        '64',
        '--memory',
        '64M',
        '--probe',
        'fork-bomb',
        '--probe',
        'memory',
      ])
      assert.equal(status, 0)
      assert.equal(one(results, 'fork-bomb').by, 'cgroup (pids limit)')
      assert.equal(one(results, 'memory').by, 'cgroup (memory limit: OOM kill)')
    },
  )

  // A learned policy refuses what its run never called, capget among them: the setuid fixture
  // then cannot say what exec gave it. It said "all capabilities" (never a false "blocked"),
  // and verify reported a setuid escape under no_new_privs (a newcomer's trial, helper-103);
  // the probe now judges by what exec can grant here, and says so when it cannot tell.
  test(
    'a policy that refuses capget still gets a true setuid verdict',
    { skip: !isRoot && 'root makes the setuid fixture' },
    () => {
      const noCapget = join(projectDir(), 'no-capget.yaml')
      writeFileSync(
        noCapget,
        'extends: [default]\nseccomp:\n  rules:\n    - { syscalls: [capget], action: errno(EPERM) }\n',
      )
      const { results } = verify(['--policy', noCapget, '--probe', 'setuid'])
      const r = one(results, 'setuid')
      assert.equal(r.outcome, 'blocked', JSON.stringify(r))
    },
  )

  test('bad probe names say which exist', () => {
    const r = cordon(['verify', '--probe', 'nosuch'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /unknown probe `nosuch`; probes: ptrace-host, mount/)
  })
})
