// native/init-guard.c: the filter that keeps the command off its init's priority, run by
// native/bpf_eval.c for every entry the kernel may take on this host. The kernel test (the
// monitor's storm-signature) covers the native entry live; the i386 one (int 0x80) faults on
// hosts without IA-32 emulation, where a 64-bit program elsewhere reaches it: this proves its
// ladder, with the numbers of cordon's own syscall tables, not the guard's copies.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ARCHES, type ArchName, HOST_ARCHES, type HostArch } from '../../src/seccomp/arch.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { projectDir, ROOT } from '../helpers.js'

const entries = HOST_ARCHES[process.arch as HostArch]?.entries ?? []

/** Calls and what the guard answers: targets by pid, then the selectors' forms. */
const CASES: { call: string; args: bigint[]; want: 'EPERM' | 'ALLOW' }[] = [
  ...['sched_setscheduler', 'sched_setparam', 'sched_setattr', 'sched_setaffinity'].flatMap((call) => [
    { call, args: [1n, 0n, 0n], want: 'EPERM' as const },
    { call, args: [0n, 0n, 0n], want: 'ALLOW' as const },
    { call, args: [2n, 0n, 0n], want: 'ALLOW' as const },
  ]),
  // setpriority(which, who): PRIO_PROCESS 0, PRIO_PGRP 1 (init's group is 1), PRIO_USER 2.
  { call: 'setpriority', args: [0n, 1n, 19n], want: 'EPERM' },
  { call: 'setpriority', args: [0n, 0x100000001n, 19n], want: 'EPERM' }, // the kernel reads an int
  { call: 'setpriority', args: [1n, 1n, 19n], want: 'EPERM' },
  { call: 'setpriority', args: [2n, 0n, 19n], want: 'EPERM' },
  { call: 'setpriority', args: [0n, 0n, 19n], want: 'ALLOW' },
  { call: 'setpriority', args: [0n, 2n, 19n], want: 'ALLOW' },
  { call: 'setpriority', args: [1n, 0n, 19n], want: 'ALLOW' },
  // ioprio_set(which, who): IOPRIO_WHO_PROCESS 1, PGRP 2, USER 3.
  { call: 'ioprio_set', args: [1n, 1n, 0xe007n], want: 'EPERM' },
  { call: 'ioprio_set', args: [2n, 1n, 0xe007n], want: 'EPERM' },
  { call: 'ioprio_set', args: [3n, 0n, 0xe007n], want: 'EPERM' },
  { call: 'ioprio_set', args: [1n, 0n, 0xe007n], want: 'ALLOW' },
  { call: 'ioprio_set', args: [2n, 0n, 0xe007n], want: 'ALLOW' },
  // prlimit64(pid, resource, new, old): reading pid 1's limits stays allowed.
  { call: 'prlimit64', args: [1n, 0n, 0x7000n], want: 'EPERM' },
  { call: 'prlimit64', args: [1n, 0n, 0x100000000n], want: 'EPERM' },
  { call: 'prlimit64', args: [1n, 0n, 0n], want: 'ALLOW' },
  { call: 'prlimit64', args: [0n, 0n, 0x7000n], want: 'ALLOW' },
  { call: 'getpid', args: [1n, 1n, 1n], want: 'ALLOW' },
  { call: 'kill', args: [1n, 19n, 0n], want: 'ALLOW' }, // the policy's and Landlock's
]

describe(
  'the init guard’s filter',
  { skip: !entries.length && `no entries known for ${process.arch}` },
  () => {
    const bin = join(projectDir(), 'init-guard-eval')
    execFileSync('cc', [
      '-std=c11',
      '-O1',
      '-g',
      '-fsanitize=address,undefined',
      '-fno-sanitize-recover=all',
      '-Dsyscall=taken',
      `-I${join(ROOT, 'native')}`,
      '-o',
      bin,
      join(ROOT, 'test', 'native', 'init-guard-eval.c'),
      join(ROOT, 'native', 'init-guard.c'),
      join(ROOT, 'native', 'bpf_eval.c'),
    ])
    const answers = (arch: ArchName, cases: typeof CASES) => {
      const table = syscallTable(arch)
      const lines = cases.map((c) => {
        const nr = table[c.call]
        assert.ok(nr !== undefined, `${arch} has ${c.call}`)
        return [ARCHES[arch].audit, nr, ...c.args].join(' ')
      })
      const r = spawnSync(bin, [], { input: `${lines.join('\n')}\n`, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      const [check, ...out] = r.stdout.trim().split('\n')
      assert.equal(check, 'check ok')
      return out
    }

    for (const arch of entries)
      test(`answers each call on the ${arch} entry`, () => {
        const out = answers(arch, CASES)
        CASES.forEach((c, i) => assert.equal(out[i], c.want, `${arch} ${c.call}(${c.args.join(', ')})`))
      })

    test('leaves a foreign entry to the policy’s filter, which kills it', () => {
      const foreign = (Object.keys(ARCHES) as ArchName[]).find((a) => !entries.includes(a))!
      const out = answers(foreign, [{ call: 'setpriority', args: [0n, 1n, 19n], want: 'ALLOW' }])
      assert.deepEqual(out, ['ALLOW'])
    })
  },
)
