// cordon policy diff and cordon report: direction of every change, and a posture whose numbers
// are the compiled plan's (checked by running the plan's BPF in the interpreter).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { compilePlan } from '../../src/plan/compile.js'
import { loadPolicyFile } from '../../src/policy/parse.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { ARCHES } from '../../src/seccomp/arch.js'
import { decode, interpret, RET } from '../../src/seccomp/bpf.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { cordon, isRoot, projectDir } from '../helpers.js'

interface Change {
  area: string
  subject: string
  direction: 'wider' | 'narrower' | 'changed'
  from: string
  to: string
}

function diff(a: string, b: string): { status: number | null; changes: Change[] } {
  const r = cordon(['policy', 'diff', '--json', a, b])
  assert.ok(r.status === 0 || r.status === 1, r.stderr)
  return { status: r.status, changes: (JSON.parse(r.stdout) as { changes: Change[] }).changes }
}

describe('cordon policy diff', () => {
  const dir = projectDir()
  const wider = join(dir, 'wider.yaml')
  writeFileSync(
    wider,
    `extends: [default]
network: loopback
filesystem:
  - rw: ${dir}
seccomp:
  rules:
    - { syscalls: [ptrace], action: allow }
    - { syscalls: [socket], action: errno(EACCES), args: [{ index: 0, op: eq, value: 17 }] }
limits: { memory: 256M, pids: 64 }
tcp: { connect: [443] }
capabilities: [CAP_NET_BIND_SERVICE]
`,
  )

  test('a policy against itself: equivalent, exit 0', () => {
    const r = cordon(['policy', 'diff', 'default', 'default'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /equivalent/)
  })

  test('every statement change is found with its direction, both ways', () => {
    const { status, changes } = diff('default', wider)
    assert.equal(status, 1)
    const find = (area: string, subject: string) =>
      changes.find((c) => c.area === area && c.subject === subject)
    assert.equal(find('network', 'network')?.direction, 'wider')
    assert.equal(find('filesystem', dir)?.direction, 'wider')
    assert.match(find('filesystem', dir)!.to, /read-write bind/)
    assert.deepEqual(find('seccomp', 'ptrace'), {
      area: 'seccomp',
      subject: 'ptrace',
      direction: 'wider',
      from: 'errno(EPERM)',
      to: 'allow',
    })
    assert.equal(find('seccomp', 'socket')?.direction, 'changed')
    // The enforced filter's (policy/effective.ts): the policy's own rule last, after the layers
    // the compiler adds for `tcp:` and a limited network.
    assert.match(find('seccomp', 'socket')!.to, /; errno\(EACCES\) if arg0 == 17; else allow$/)
    assert.match(find('seccomp', 'socket')!.to, /^errno\(EAFNOSUPPORT\) if arg0 >= 39; /)
    // `tcp:` brings TCP_ONLY (no fast open) and, with no bind port, refuses listen().
    assert.equal(find('seccomp', 'listen')?.direction, 'narrower')
    for (const call of ['sendto', 'sendmsg', 'sendmmsg', 'setsockopt'])
      assert.equal(find('seccomp', call)?.direction, 'changed', call)
    assert.equal(find('capabilities', 'CAP_NET_BIND_SERVICE')?.direction, 'wider')
    assert.equal(find('limits', 'memory')?.to, '256 MiB')
    assert.equal(find('limits', 'pids')?.direction, 'narrower')
    assert.equal(find('tcp', 'connect')?.direction, 'narrower')
    // Nothing else: masks, /usr, /etc are the same in both.
    assert.equal(changes.length, 14, JSON.stringify(changes, null, 1))
    const back = diff(wider, 'default').changes
    assert.equal(back.length, changes.length)
    for (const c of back) {
      const there = changes.find((x) => x.area === c.area && x.subject === c.subject)!
      const flip = { wider: 'narrower', narrower: 'wider', changed: 'changed' }[there.direction]
      assert.equal(c.direction, flip, c.subject)
    }
  })

  test('bad arguments say what to do', () => {
    const r = cordon(['policy', 'diff', 'default', 'nosuch'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /nosuch: no such policy file or profile \(profiles: default, minimal\)/)
    assert.equal(cordon(['policy', 'diff', 'default']).status, 2)
    assert.equal(cordon(['policy', 'frob']).status, 2)
  })
})

interface Posture {
  syscalls: {
    arch: string
    total: number
    blocked: number
    fraction: number
    reachable: string[]
    instructions: number
    byGroup: { group: string; total: number; blocked: number }[]
  }
  capabilities: { kept: string[] }
  filesystem: { readOnly: string[]; readWrite: string[]; hidden: string[] }
  layers: { layer: string; status: string }[]
  controls: { control: string; status: string }[]
  limits: Record<string, string>
}

describe('cordon report', () => {
  const dir = projectDir()
  const file = join(dir, 'strict.yaml')
  writeFileSync(
    file,
    `extends: [default]
filesystem:
  - rw: ${dir}
seccomp:
  default: errno(EPERM)
  rules:
    - syscalls: [read, write, exit, exit_group, execve, brk, mmap, munmap, mprotect, openat, close, fstat, newfstatat, rt_sigreturn, arch_prctl, set_tid_address, prlimit64, getrandom, rseq, set_robust_list]
      action: allow
limits: { memory: 128M, pids: 32 }
`,
  )

  test('the numbers are the compiled plan’s: blocked syscalls fail in its BPF, capabilities and binds match', () => {
    const r = cordon(['report', '--json', file], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    const p = JSON.parse(r.stdout) as Posture
    const own = compilePlan(resolvePolicy({ policy: loadPolicyFile(file), baseDir: dir, label: file }, dir), {
      uid: process.getuid!(),
      gid: process.getgid!(),
      cwd: dir,
      arch: 'x64',
    })
    const seccomp = own.ops.find((o) => o.op === 'seccomp')
    assert.ok(seccomp && seccomp.op === 'seccomp')
    const prog = decode(seccomp.program)
    assert.equal(p.syscalls.instructions, prog.length)
    const table = syscallTable('x86_64')
    assert.equal(p.syscalls.total, Object.keys(table).length)
    const reachable = new Set(p.syscalls.reachable)
    let passing = 0
    for (const [name, nr] of Object.entries(table)) {
      const v = interpret(prog, { nr, arch: ARCHES.x86_64.audit, args: [0n, 0n, 0n, 0n, 0n, 0n] }).value
      const passes = v === RET.ALLOW >>> 0
      if (passes) passing++
      assert.equal(passes, reachable.has(name), `${name}: plan says ${passes ? 'allow' : 'block'}`)
    }
    assert.equal(p.syscalls.blocked, p.syscalls.total - passing)
    assert.equal(p.syscalls.fraction, Number((p.syscalls.blocked / p.syscalls.total).toFixed(4)))
    const debug = p.syscalls.byGroup.find((g) => g.group === '@debug')!
    assert.equal(debug.blocked, debug.total)
    const binds = own.ops.filter((o) => o.op === 'bind' && !o.flags.dev && o.src !== '/dev/null')
    assert.equal(p.filesystem.readWrite.length + p.filesystem.readOnly.length, binds.length)
    assert.deepEqual(p.filesystem.readWrite, [dir])
    assert.deepEqual(p.capabilities.kept, [])
    assert.equal(p.limits.memory, '128 MiB')
    assert.equal(p.controls.find((c) => c.control === 'Least privilege')?.status, 'met')
    assert.equal(p.controls.find((c) => c.control === 'Resource isolation')?.status, 'met')
  })

  test('the default profile is a denylist: least privilege is partial and says how to fix it', () => {
    const r = cordon(['report'], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      r.stdout,
      /syscall denylist: only the dangerous groups are blocked .*`cordon learn` writes an allowlist/,
    )
    // Limits are part of the default: half the host's memory and 4096 tasks, in a cgroup for root.
    if (isRoot) assert.match(r.stdout, /✓ cgroups +memory [\d.]+ GiB, pids 4096 \(/)
    const noLimits = join(dir, 'no-limits.yaml')
    writeFileSync(noLimits, 'network: none\n')
    const none = cordon(['report', '--policy', noLimits], { cwd: dir })
    assert.match(none.stdout, /fix: set limits\.memory and limits\.pids/)
    const md = cordon(['report', '--md'], { cwd: dir })
    assert.match(md.stdout, /^# Sandbox posture: profile default\n/)
    assert.match(md.stdout, /\| `@mount` \| 14 \| 14 \|/)
  })
})
