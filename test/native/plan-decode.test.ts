// The launcher's plan decoder against corrupt input: a clear error and status 125, never a
// crash. Runs the sanitizer build when present, so out-of-bounds reads fail the test.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { compilePlan, encodePlan, resolvePolicy } from '../../src/index.js'
import type { PlanOp } from '../../src/plan/model.js'
import { LAUNCHER_UNDER_TEST, projectDir } from '../helpers.js'

function launch(bytes: Uint8Array) {
  const file = join(projectDir(), 'test.plan')
  writeFileSync(file, bytes)
  const r = spawnSync(LAUNCHER_UNDER_TEST, [file, '--', '/bin/true'], { encoding: 'utf8' })
  return { status: r.status, signal: r.signal, stderr: r.stderr }
}

const valid = encodePlan(
  compilePlan(resolvePolicy({ policy: { extends: ['minimal'] }, baseDir: '/', label: 'minimal' }, '/'), {
    uid: 0,
    gid: 0,
    cwd: '/',
    arch: process.arch,
  }),
)

describe('plan decoding', () => {
  test('a valid plan runs', () => {
    const r = launch(valid)
    assert.equal(r.status, 0, r.stderr)
  })

  const corrupt: { name: string; bytes: () => Buffer; want: RegExp }[] = [
    {
      name: 'bad magic',
      bytes: () => Buffer.from('XXXX\x01\x00\x00\x00\x00\x00\x00\x00'),
      want: /bad magic/,
    },
    {
      name: 'future version',
      bytes: () => {
        const b = Buffer.from(valid)
        b.writeUInt16LE(99, 4)
        return b
      },
      want: /plan version 99, this launcher reads version \d+: recompile/,
    },
    { name: 'truncated', bytes: () => valid.subarray(0, valid.length - 5), want: /does not match|truncated/ },
    {
      name: 'unknown op',
      bytes: () => {
        const b = Buffer.from(valid)
        b.writeUInt16LE(0xee, 12)
        return b
      },
      want: /record 0 \(unknown\) at offset 12: unknown op/,
    },
    {
      name: 'seccomp length not a multiple of 8',
      bytes: () => {
        const b = Buffer.from(valid)
        // The last record is seccomp: flags (4) then blob length.
        const tail = b.length - (valid.length - valid.lastIndexOf(Buffer.from([0x80, 0x00, 0x00, 0x00])))
        const blobLen = b.readUInt32LE(tail + 8 + 4)
        b.writeUInt32LE(blobLen - 1, tail + 8 + 4)
        return b
      },
      want: /seccomp|trailing bytes/,
    },
  ]
  for (const c of corrupt)
    test(`rejects ${c.name} with a message`, () => {
      const r = launch(c.bytes())
      assert.equal(r.status, 125)
      assert.equal(r.signal, null)
      assert.match(r.stderr, c.want)
      assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error/)
    })

  test('every truncation of a valid plan is rejected cleanly', () => {
    for (let n = 0; n < valid.length; n += Math.max(1, Math.floor(valid.length / 60))) {
      const r = launch(valid.subarray(0, n))
      assert.equal(r.status, 125, `prefix ${n}`)
      assert.match(r.stderr, /^cordon-exec: /)
      assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error/)
    }
  })

  test('out-of-order phases are refused (seccomp before capabilities)', () => {
    const plan = compilePlan(
      resolvePolicy({ policy: { extends: ['minimal'] }, baseDir: '/', label: 'm' }, '/'),
      {
        uid: 0,
        gid: 0,
        cwd: '/',
        arch: process.arch,
      },
    )
    const seccomp = plan.ops.pop()!
    plan.ops.splice(
      plan.ops.findIndex((o) => o.op === 'caps'),
      0,
      seccomp,
    )
    const r = launch(encodePlan(plan))
    assert.equal(r.status, 125)
    assert.match(r.stderr, /out of order/)
  })

  const minimal = () =>
    compilePlan(resolvePolicy({ policy: { extends: ['minimal'] }, baseDir: '/', label: 'm' }, '/'), {
      uid: 0,
      gid: 0,
      cwd: '/',
      arch: process.arch,
    })
  const hookCases: { name: string; edit: (ops: PlanOp[]) => void; want: RegExp }[] = [
    {
      name: 'a hook argument without its hook',
      edit: (ops) => ops.push({ op: 'start_hook_arg', arg: 'x' }),
      want: /record \d+ \(start_hook_arg\) does not follow a hook/,
    },
    {
      name: 'a hook with a relative path',
      edit: (ops) =>
        ops.push({ op: 'start_hook', path: 'true', timeout: 0, state: '{"a":1}', statePid: false }),
      want: /\(start_hook\).*path must be absolute/,
    },
    {
      name: 'a state that cannot take the pid',
      edit: (ops) =>
        ops.push({ op: 'start_hook', path: '/bin/true', timeout: 0, state: '[]', statePid: true }),
      want: /\(start_hook\).*JSON object/,
    },
    {
      name: 'a hook variable without =',
      edit: (ops) =>
        ops.push(
          { op: 'start_hook', path: '/bin/true', timeout: 0, state: '{"a":1}', statePid: true },
          { op: 'start_hook_env', env: 'NOEQUALS' },
        ),
      want: /\(start_hook_env\).*NAME=value/,
    },
  ]
  // cordon-oci's phase-0 ops (native/oci.c).
  hookCases.push(
    {
      name: 'a device program that is not whole eBPF instructions',
      edit: (ops) =>
        ops.unshift({ op: 'cgroup_devices', path: '/sys/fs/cgroup/x', program: new Uint8Array(7) }),
      want: /\(cgroup_devices\).*eBPF length/,
    },
    {
      name: 'enter_root without a joined mount namespace',
      edit: (ops) => ops.unshift({ op: 'enter_root', path: '/proc/1/root' }),
      want: /enter_root needs a joined mount namespace/,
    },
  )
  for (const c of hookCases)
    test(`rejects ${c.name}`, () => {
      const plan = minimal()
      c.edit(plan.ops)
      const r = launch(encodePlan(plan))
      assert.equal(r.status, 125)
      assert.match(r.stderr, c.want)
    })

  test('a start hook runs before the command, with its argv, environment and state', () => {
    const plan = minimal()
    const out = '/tmp/hook.out' // the sandbox's own /tmp: the hook and the command share its view
    plan.ops.push(
      { op: 'start_hook', path: '/bin/sh', timeout: 5, state: '{"id":"x"}', statePid: true },
      { op: 'start_hook_arg', arg: 'sh' },
      { op: 'start_hook_arg', arg: '-c' },
      { op: 'start_hook_arg', arg: `{ cat; echo " $V"; } > ${out}` },
      { op: 'start_hook_env', env: 'V=seen' },
    )
    const file = join(projectDir(), 'hook.plan')
    writeFileSync(file, encodePlan(plan))
    const r = spawnSync(LAUNCHER_UNDER_TEST, [file, '--', '/bin/sh', '-c', `cat ${out}`], {
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^\{"pid":\d+,"id":"x"\} seen$/m)
  })
})
