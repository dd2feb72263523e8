// native/init-guard.c: the filter that keeps the command off its init's priority, run by
// native/bpf_eval.c for every entry the kernel may take on this host; and the plan compiler's
// `init-guard` layer, which native plans carry instead (a second filter's refusals hid the calls
// from a monitor watching them), run by cordon's BPF interpreter for every entry of every arch:
// both answer the same. The kernel tests (the monitor's storm-signature, and the last test here)
// cover the native entry live; the i386 one (int 0x80) faults on hosts without IA-32 emulation,
// where a 64-bit program elsewhere reaches it: this proves the ladders, with the numbers of
// cordon's own syscall tables, not the guard's copies.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { callerContext } from '../../src/host/caller.js'
import { compilePlan } from '../../src/plan/compile.js'
import { encodePlan } from '../../src/plan/encode.js'
import { compileFilter } from '../../src/plan/filter.js'
import { SECCOMP_FLAG_GUARDS_INIT } from '../../src/plan/model.js'
import { launcherSeccompExtras, seccompExtras } from '../../src/policy/effective.js'
import { NO_NAMESPACES } from '../../src/policy/profiles.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import {
  ARCHES,
  type ArchName,
  entryPoints,
  HOST_ARCH_NAMES,
  HOST_ARCHES,
  type HostArch,
} from '../../src/seccomp/arch.js'
import { decode, interpret, RET } from '../../src/seccomp/bpf.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { buildHarness, cordon, LAUNCHER, projectDir } from '../helpers.js'

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
    const bin = buildHarness(
      'init-guard-eval',
      ['test/native/init-guard-eval.c', 'native/init-guard.c', 'native/bpf_eval.c'],
      ['syscall=taken'],
    )
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

describe('the plan compiler’s init-guard layer', () => {
  const dir = projectDir()
  const resolve = (namespaces: boolean) =>
    resolvePolicy(
      {
        policy: {
          extends: ['default'],
          ...(namespaces ? {} : { namespaces: { ...NO_NAMESPACES, net: false } }),
        },
        baseDir: dir,
        label: 'test',
      },
      dir,
    )
  const policy = resolve(true)

  for (const host of HOST_ARCH_NAMES)
    test(`answers as the launcher’s guard on every ${host} entry, and the rest as the policy does`, () => {
      const guarded = decode(compileFilter(policy.seccomp, launcherSeccompExtras(policy), host).program)
      const plain = decode(compileFilter(policy.seccomp, seccompExtras(policy), host).program)
      for (const entry of entryPoints(host)) {
        const table = syscallTable(entry.name)
        // A 32-bit entry's arguments have no upper words: a case that needs them is not one there.
        const cases = CASES.filter((c) => entry.bits === 64 || c.args.every((a) => a <= 0xffffffffn))
        for (const c of cases) {
          const data = { nr: table[c.call]!, arch: entry.audit, args: c.args }
          const want = c.want === 'EPERM' ? RET.ERRNO | 1 : interpret(plain, data).value
          assert.equal(interpret(guarded, data).value, want, `${entry.name} ${c.call}(${c.args.join(', ')})`)
        }
      }
    })

  test('a plan with a pid namespace says so to the launcher; one without has no guard', () => {
    const seccompOf = (namespaces: boolean) => {
      const op = compilePlan(resolve(namespaces)).ops.find((o) => o.op === 'seccomp')
      assert.ok(op?.op === 'seccomp')
      return op
    }
    assert.ok(seccompOf(true).flags & SECCOMP_FLAG_GUARDS_INIT)
    assert.equal(seccompOf(false).flags & SECCOMP_FLAG_GUARDS_INIT, 0)
    assert.ok(!launcherSeccompExtras(resolve(false)).includes('init-guard'))
    // Exports and other runtimes' containers, where pid 1 is the program, never have it.
    assert.ok(!seccompExtras(policy).includes('init-guard'))
  })

  test('live: a plan with an init but not the layer gets the launcher’s own guard', () => {
    const plan = compilePlan(policy, { ...callerContext(), cwd: dir })
    const ops = plan.ops.map((o) =>
      o.op === 'seccomp' ? { ...o, flags: o.flags & ~SECCOMP_FLAG_GUARDS_INIT } : o,
    )
    const file = join(dir, 'unguarded.plan')
    writeFileSync(file, encodePlan({ ...plan, ops }))
    const r = spawnSync(
      LAUNCHER,
      [
        file,
        '--',
        'sh',
        '-c',
        'grep Seccomp_filters /proc/self/status; renice -n 19 -p 1 2>/dev/null || echo refused',
      ],
      { cwd: dir, encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout.trim(), /^Seccomp_filters:\s+2\nrefused$/)
  })

  test('live: one filter, whose refusals a monitor watching the calls sees', () => {
    const events = join(dir, 'guard-events.jsonl')
    const r = cordon(
      [
        'run',
        '-q',
        '--watch',
        'setpriority',
        '--events',
        events,
        '--',
        'sh',
        '-c',
        'grep Seccomp_filters /proc/self/status; renice -n 19 -p 1 2>/dev/null || echo refused',
      ],
      { cwd: dir },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout.trim(), /^Seccomp_filters:\s+1\nrefused$/)
    const seen = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; syscall?: string; errno?: number; args?: string[] })
      .filter((e) => e.event === 'syscall' && e.syscall === 'setpriority')
    assert.deepEqual(
      seen.map((e) => [e.errno, e.args?.[1]]),
      [[1, '0x1']],
    )
  })
})
