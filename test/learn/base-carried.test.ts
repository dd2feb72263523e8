// A policy learned on a base (`cordon learn -p BASE`) narrows the base and never changes what the
// base decides: every call the base refuses is refused with the base's own errno or kill, and
// every restriction the base sets (limits, namespaces, TCP ports, Landlock scopes, masks, tmpfs
// options, acknowledged gaps) is still there. Before, the base's own seccomp rules were dropped,
// so their calls got the learned default's EPERM, and so were most of its other restrictions.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { load as loadYaml } from 'js-yaml'
import { generatePolicy } from '../../src/learn/generate.js'
import { emptyObservation, type Observation } from '../../src/learn/observation.js'
import { validatePolicy } from '../../src/policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../../src/policy/resolve.js'
import type { Policy } from '../../src/policy/schema.js'
import { archByName, entryPoints } from '../../src/seccomp/arch.js'
import { RET } from '../../src/seccomp/bpf.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { cordon, projectDir } from '../helpers.js'

const AF_INET = 2
const AF_UNIX = 1

/** The base every test here learns on: its own seccomp rules of each kind, and a restriction of
 * every other sort a learned policy could drop. */
const BASE: Policy = {
  extends: ['default'],
  seccomp: {
    rules: [
      { syscalls: ['getpriority'], action: 'errno(ENOSYS)' },
      { syscalls: ['uname'], action: 'errno(EACCES)' },
      { syscalls: ['socket'], action: 'errno(EACCES)', args: [{ index: 0, op: 'eq', value: AF_INET }] },
      { syscalls: ['setpriority'], action: 'kill-process' },
      // A refusal with a carve-out: allowed only for one value.
      { syscalls: ['getrandom'], action: 'errno(ENOSYS)' },
      { syscalls: ['getrandom'], action: 'allow', args: [{ index: 2, op: 'eq', value: 0 }] },
    ],
  },
}

function learnedFrom(base: ResolvedPolicy, obs: Observation, cwd: string): ResolvedPolicy {
  const generated = generatePolicy(obs, {
    base,
    baseSeccomp: resolveSeccomp(base.seccomp),
    baseProfile: base.seccomp.findLast((l) => l.profile !== undefined)?.profile ?? 'default',
    cwd,
  })
  return resolvePolicy({ policy: validatePolicy(loadYaml(generated.yaml)), baseDir: cwd, label: 'learned' })
}

const ARCH = archByName(process.arch)!.name
/** The values each argument takes in the comparison: the ones the rules above name, and others. */
const SAMPLES = [0n, 1n, 2n, 7n, 0x5401n]

describe('a policy learned on a base keeps the base', () => {
  test('every call the base refuses is refused with the same action, for every syscall', () => {
    const dir = projectDir()
    const base = resolvePolicy({ policy: BASE, baseDir: dir, label: 'base' }, dir)
    const obs = emptyObservation(ARCH)
    // Seen while learning: socket for AF_UNIX only, getrandom with flags 0, and uname (refused).
    obs.syscalls.socket = { count: 3, values: { '0': [`0x${AF_UNIX.toString(16)}`], '1': ['0x1'] } }
    obs.syscalls.getrandom = { count: 1 }
    obs.syscalls.read = { count: 10 }
    obs.syscalls.uname = { count: 1, refused: 13 }
    const learned = learnedFrom(base, obs, dir)
    const baseSpec = resolveSeccomp(base.seccomp)
    const learnedSpec = resolveSeccomp(learned.seccomp)
    const arches = entryPoints(process.arch)
    const audit = arches[0]!.audit
    const passes = (ret: number) => ret === RET.ALLOW || ret === RET.LOG
    const changed: string[] = []
    for (const [name, nr] of Object.entries(syscallTable(ARCH)))
      for (const a0 of SAMPLES)
        for (const a2 of SAMPLES) {
          const args = [a0, 1n, a2, 0n, 0n, 0n]
          const want = evaluateSpec(baseSpec, arches, audit, nr, args)
          const got = evaluateSpec(learnedSpec, arches, audit, nr, args)
          // Refused by the base: the same outcome. Let through: allowed, or EPERM if unseen.
          const ok = passes(want) ? passes(got) || got === (RET.ERRNO | 1) : got === want
          if (!ok)
            changed.push(`${name}(${a0}, 1, ${a2}): base ${want.toString(16)}, learned ${got.toString(16)}`)
        }
    assert.deepEqual(changed.slice(0, 20), [], `${changed.length} outcomes changed`)
    const outcome = (name: string, args: bigint[]) =>
      evaluateSpec(learnedSpec, arches, audit, syscallTable(ARCH)[name]!, args)
    // Learning still narrows where the base lets through.
    assert.equal(outcome('socket', [BigInt(AF_UNIX), 1n]), RET.ALLOW)
    assert.equal(
      outcome('socket', [BigInt(AF_INET), 1n]),
      RET.ERRNO | 13,
      'the base refuses AF_INET with EACCES',
    )
    assert.equal(outcome('socket', [10n, 1n]), RET.ERRNO | 1, 'AF_INET6: never used, so refused')
    assert.equal(outcome('getpriority', [0n]), RET.ERRNO | 38)
    assert.equal(outcome('setpriority', [0n]), RET.KILL_PROCESS)
    assert.equal(outcome('getrandom', [0n, 1n, 0n]), RET.ALLOW)
    assert.equal(outcome('getrandom', [0n, 1n, 2n]), RET.ERRNO | 38)
    assert.equal(outcome('read', [0n]), RET.ALLOW)
    assert.equal(outcome('write', [0n]), RET.ERRNO | 1, 'never used, so refused')
  })

  test("the base's default refusal stays the default", () => {
    const dir = projectDir()
    const base = resolvePolicy(
      {
        policy: { extends: ['default'], seccomp: { profile: 'strict', default: 'errno(ENOSYS)' } },
        baseDir: dir,
        label: 'base',
      },
      dir,
    )
    const learned = learnedFrom(base, emptyObservation(ARCH), dir)
    assert.deepEqual(resolveSeccomp(learned.seccomp).defaultAction, { kind: 'errno', errno: 38 })
  })

  test('limits, namespaces, TCP ports, Landlock scopes, masks, tmpfs options and acknowledgements carry over', () => {
    const dir = join(projectDir(), 'carry')
    mkdirSync(join(dir, 'data'), { recursive: true })
    writeFileSync(join(dir, 'data', 'secret.txt'), 'secret\n')
    const policy: Policy = {
      extends: ['default'],
      namespaces: { ipc: false },
      network: 'loopback',
      filesystem: [
        { tmpfs: { dest: '/scratch', size: '8M', mode: '0700', exec: false } },
        { mask: join(dir, 'data', 'secret.txt') },
      ],
      limits: {
        memory: '300M',
        pids: 50,
        cpus: '0.5',
        'cpu-weight': 50,
        'io-weight': 200,
        cpuset: '0',
        timeout: '90s',
        swap: '16M',
        rlimits: { nofile: 200 },
      },
      tcp: { bind: [8080], connect: [443, 5432] },
      landlock: { scopes: ['signal'] },
      acknowledge: ['tcp-ports'],
    }
    const base = resolvePolicy({ policy, baseDir: dir, label: 'base' }, dir)
    const obs = emptyObservation(ARCH)
    obs.files[join(dir, 'data')] = ['list']
    obs.peaks = { memoryBytes: 10 * 2 ** 20, pids: 100 }
    obs.syscalls.socket = { count: 1, values: { '0': ['0x2'], '1': ['0x1'] } }
    obs.net.connect.push({ family: 'inet', address: '127.0.0.1', port: 443 })
    const learned = learnedFrom(base, obs, dir)
    assert.deepEqual(learned.namespaces, base.namespaces)
    assert.equal(learned.network, 'loopback')
    // memory: the peak ×2 (64M) is below the base's 300M; pids: the peak ×4 (400) is above 50.
    assert.deepEqual(learned.limits, { ...base.limits, memory: 64 * 2 ** 20 })
    assert.deepEqual(learned.rlimits, { nofile: 200 })
    assert.deepEqual(learned.tcp, { bind: [], connect: [443] })
    assert.deepEqual(learned.landlock.scopes, ['signal'])
    assert.deepEqual(learned.acknowledge, ['tcp-ports'])
    const tmpfs = learned.filesystem.find((e) => e.kind === 'tmpfs' && e.dest === '/scratch')
    assert.deepEqual(
      tmpfs,
      base.filesystem.find((e) => e.kind === 'tmpfs' && e.dest === '/scratch'),
    )
    const secret = join(dir, 'data', 'secret.txt')
    const granted = learned.filesystem.findIndex((e) => e.kind === 'bind' && secret.startsWith(`${e.dest}/`))
    const masked = learned.filesystem.findIndex((e) => e.kind === 'mask' && e.dest === secret)
    assert.ok(granted >= 0 && masked > granted, 'the mask comes after the grant that would show the file')
  })

  test('enforced, the learned policy gives the base own errnos, rlimits, IPC namespace and masks', () => {
    const dir = join(projectDir(), 'kernel')
    mkdirSync(join(dir, 'data'), { recursive: true })
    writeFileSync(join(dir, 'data', 'secret.txt'), 'secret\n')
    writeFileSync(
      join(dir, 'probe.py'),
      [
        'import ctypes, errno, os, resource, socket, sys',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'def call(nr, *a):',
        '    r = libc.syscall(nr, *a)',
        '    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]',
        'print("getpriority", call(140, 0, 0))',
        'print("uname", call(63, 0))',
        'print("unix socket", call(41, socket.AF_UNIX, socket.SOCK_STREAM, 0))',
        'if len(sys.argv) > 1:',
        '    print("inet socket", call(41, socket.AF_INET, socket.SOCK_STREAM, 0))',
        'print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE))',
        'print("ipc", os.readlink("/proc/self/ns/ipc"))',
        'print("data", sorted(os.listdir("data")))',
        'try:',
        '    print("secret", open("data/secret.txt").read().strip() or "empty")',
        'except OSError as e:',
        '    print("secret", errno.errorcode[e.errno])',
        '',
      ].join('\n'),
    )
    const base = join(dir, 'base.yaml')
    writeFileSync(
      base,
      [
        'version: 1',
        'extends: default',
        'namespaces: { ipc: false }',
        'filesystem:',
        `  - mask: ${join(dir, 'data', 'secret.txt')}`,
        'limits: { rlimits: { nofile: 200 } }',
        'seccomp:',
        '  rules:',
        '    - { action: "errno(ENOSYS)", syscalls: [getpriority] }',
        '    - { action: "errno(EACCES)", syscalls: [uname] }',
        `    - { action: "errno(EACCES)", syscalls: [socket], args: [{ index: 0, op: eq, value: ${AF_INET} }] }`,
        '',
      ].join('\n'),
    )
    const learnedFile = join(dir, 'learned.yaml')
    const learned = cordon(['learn', '-q', '-p', base, '-o', learnedFile, '--', 'python3', 'probe.py'], {
      cwd: dir,
      timeout: 120_000,
    })
    assert.equal(learned.status, 0, learned.stderr)
    // The inet call only enforced: the learning run never made it, so learning cannot have seen it.
    const want = cordon(['run', '-q', '-p', base, '--', 'python3', 'probe.py', 'inet'], { cwd: dir })
    assert.equal(want.status, 0, want.stderr)
    assert.match(
      want.stdout,
      /getpriority ENOSYS\nuname EACCES\nunix socket ok\ninet socket EACCES\nnofile \(200, 200\)/,
    )
    assert.match(want.stdout, /secret (EACCES|empty)/)
    const got = cordon(['run', '-q', '-p', learnedFile, '--', 'python3', 'probe.py', 'inet'], { cwd: dir })
    assert.equal(got.status, 0, `${got.stderr}\n${readFileSync(learnedFile, 'utf8')}`)
    assert.equal(got.stdout, want.stdout, readFileSync(learnedFile, 'utf8'))
  })
})
