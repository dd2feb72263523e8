// The filter on the real kernel: chosen errnos, kill actions, the i386 entry point (int 0x80),
// x32 numbers, clone3 and unknown numbers, 64-bit argument checks at the 32-bit boundary, and a
// program with far-jump trampolines.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { callerContext, compilePlan, type Policy, resolvePolicy } from '../../src/index.js'
import { probeKernel } from '../../src/host/probe.js'
import { entryPoints } from '../../src/seccomp/arch.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { cordon, projectDir, ROOT, runSettled as run } from '../helpers.js'

const onX64 = process.arch === 'x64'
let probe = ''

const policy: Policy = {
  extends: ['default'],
  seccomp: {
    rules: [
      { syscalls: ['getppid'], action: 'errno(EACCES)' },
      { syscalls: ['getpriority'], action: 'errno(E2BIG)', args: [{ index: 0, op: 'eq', value: 5 }] },
      {
        syscalls: ['getpriority'],
        action: 'errno(EXDEV)',
        args: [{ index: 0, op: 'eq', value: 6, width: 32 }],
      },
      { syscalls: ['sched_yield'], action: 'kill-process' },
      { syscalls: ['getpgrp'], action: 'trap' },
    ],
  },
}

async function call(mode: string, nr: number | string, ...args: string[]) {
  const r = await run(policy, probe, [mode, String(nr), ...args], { context: { cwd: projectDir() } })
  return { out: r.stdout.trim(), code: r.code, signal: r.signal }
}

describe(
  'seccomp on the real kernel',
  { skip: onX64 ? false : 'the probe uses x86_64 syscall numbers' },
  () => {
    before(() => {
      probe = join(projectDir(), 'sysprobe')
      execFileSync('cc', ['-O1', '-o', probe, join(ROOT, 'test', 'seccomp', 'sysprobe.c')])
    })

    test('a denied syscall fails with the chosen errno', async () => {
      assert.equal((await call('native', 110)).out, 'ret=-1 errno=EACCES') // getppid
    })

    test('the i386 entry point (int 0x80) is filtered by its own table', async (t) => {
      if (probeKernel().i386Entry === false)
        return t.skip('this kernel has no i386 entry point (int 0x80 faults: no IA32 emulation)')
      assert.equal((await call('i386', 64)).out, 'ret=-1 errno=EACCES') // getppid on i386
      assert.equal((await call('i386', 26)).out, 'ret=-1 errno=EPERM') // ptrace on i386
      assert.match((await call('i386', 20)).out, /^ret=2 errno=0$/) // getpid: pid 2 in the sandbox
    })

    test('x32 syscall numbers kill the process', async () => {
      const r = await call('x32', 39) // getpid with the x32 bit
      assert.equal(r.signal, 'SIGSYS')
      assert.equal(r.code, 159)
    })

    test('kill-process and trap end the process with SIGSYS', async () => {
      assert.equal((await call('native', 24)).signal, 'SIGSYS') // sched_yield
      assert.equal((await call('native', 111)).signal, 'SIGSYS') // getpgrp
    })

    test('clone3 and numbers past the table get ENOSYS; -1 passes through', async () => {
      assert.equal((await call('native', 435)).out, 'ret=-1 errno=ENOSYS')
      assert.equal((await call('native', 999)).out, 'ret=-1 errno=ENOSYS')
      assert.equal((await call('native', 0x3fffffff)).out, 'ret=-1 errno=ENOSYS')
      assert.equal((await call('native', -1)).out, 'ret=-1 errno=ENOSYS') // the kernel's own answer for -1
    })

    test('default profile: ptrace, mount, bpf, unshare and namespace clones fail EPERM', async () => {
      for (const nr of [101, 165, 321, 272])
        assert.equal((await call('native', nr)).out, 'ret=-1 errno=EPERM', `nr ${nr}`)
      assert.equal((await call('native', 56, '0x10000000')).out, 'ret=-1 errno=EPERM') // clone(CLONE_NEWUSER)
    })

    test('64-bit argument checks: high bits defeat a 64-bit compare, not a 32-bit one', async () => {
      assert.equal((await call('native', 140, '5')).out, 'ret=-1 errno=E2BIG')
      // The kernel reads `which` as an int: 0x1_00000005 is 5 to it (EINVAL), but not to a 64-bit rule.
      assert.equal((await call('native', 140, '0x100000005')).out, 'ret=-1 errno=EINVAL')
      assert.equal((await call('native', 140, '0x100000006')).out, 'ret=-1 errno=EXDEV')
    })

    test('a program with far-jump trampolines is accepted and behaves', async () => {
      const resolved = resolvePolicy({ policy, baseDir: projectDir(), label: 'test' }, projectDir())
      const plan = compilePlan(resolved, { ...callerContext(), cwd: projectDir() })
      const unoptimized = compileSeccomp(resolveSeccomp(resolved.seccomp), entryPoints('x64'), {
        optimize: false,
      })
      assert.ok(unoptimized.instructions > 1000)
      const op = plan.ops.find((o) => o.op === 'seccomp')!
      if (op.op === 'seccomp') op.program = unoptimized.program
      const r = await run(plan, probe, ['native', '110'])
      assert.equal(r.stdout.trim(), 'ret=-1 errno=EACCES')
    })

    test('--seccomp strict runs ordinary programs and denies the rest', () => {
      const ok = cordon([
        'run',
        '--seccomp',
        'strict',
        '--',
        'python3',
        '-c',
        'import os, socket; print(len(os.listdir("/")))',
      ])
      assert.equal(ok.status, 0, ok.stderr)
      const denied = cordon(['run', '--seccomp', 'strict', '--', probe, 'native', '163']) // acct
      assert.equal(denied.stdout.trim(), 'ret=-1 errno=EPERM')
    })

    test('cordon seccomp test shows the verdict and its path', () => {
      const r = cordon(['seccomp', 'test', '--syscall', 'ptrace'])
      assert.equal(r.status, 0, r.stderr)
      // The filter `cordon run` installs: with tcp ports, the layer refusing UDP is part of it.
      const udp = ['seccomp', 'test', '--syscall', 'socket', '--arg', '2', '--arg', '2']
      assert.match(cordon(udp).stdout, /→ ALLOW/)
      assert.match(cordon([...udp, '--tcp-connect', '443']).stdout, /→ ERRNO\(13\)/)
      assert.match(r.stdout, /^x86_64 ptrace \(101\) → ERRNO\(1\) after \d+ instructions/)
      assert.match(r.stdout, /ret {2}ERRNO\(1\)\n$/)
      const i386 = cordon([
        'seccomp',
        'test',
        '--entry',
        'i386',
        '--syscall',
        'ioctl',
        '--arg',
        '1',
        '--arg',
        '0x5412',
      ])
      assert.match(i386.stdout, /^i386 ioctl \(54\) → ERRNO\(1\)/)
    })

    test('an OCI (Docker-format) profile runs under cordon via --seccomp FILE', () => {
      const file = join(projectDir(), 'exported.json')
      const exported = cordon(['seccomp', 'export', '--seccomp', 'strict', '-o', file])
      assert.equal(exported.status, 0, exported.stderr)
      assert.doesNotMatch(exported.stderr, /32-bit|OCI has no width/) // int arguments: masked low word
      const ok = cordon(['run', '--seccomp', file, '--', probe, 'native', '39']) // getpid
      assert.equal(ok.stdout.trim(), 'ret=2 errno=0')
      const denied = cordon(['run', '--seccomp', file, '--', probe, 'native', '163']) // acct
      assert.equal(denied.stdout.trim(), 'ret=-1 errno=EPERM')
    })
  },
)
