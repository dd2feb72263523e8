// tier: unit
// encodePlan writes into one growing buffer and patches each op's length afterwards (issue 23:
// a Buffer per field made encoding a visible share of every start). The layout must stay
// exactly the format native/plan.h describes, however large the plan grows past the first
// buffer: [magic "CRDN"][u16 version][u16 0][u32 payload length], then per op
// [u16 code][u16 0][u32 body length][body].
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { callerContext, compilePlan, type CordonError, encodePlan, resolvePolicy } from '../../src/index.js'
import { OP_CODES, PLAN_VERSION, type Plan } from '../../src/plan/model.js'
import { projectDir } from '../helpers.js'

function walk(bytes: Buffer): { code: number; body: Buffer }[] {
  assert.deepEqual([...bytes.subarray(0, 4)], [0x43, 0x52, 0x44, 0x4e])
  assert.equal(bytes.readUInt16LE(4), PLAN_VERSION)
  assert.equal(bytes.readUInt32LE(8), bytes.length - 12, 'the payload length is the rest')
  const ops = []
  for (let at = 12; at < bytes.length;) {
    const len = bytes.readUInt32LE(at + 4)
    ops.push({ code: bytes.readUInt16LE(at), body: bytes.subarray(at + 8, at + 8 + len) })
    at += 8 + len
    assert.ok(at <= bytes.length, 'an op runs past the end')
  }
  return ops
}

test('encodePlan lays out every op of the default profile with its own length', () => {
  const plan = compilePlan(
    resolvePolicy({ policy: { extends: ['default'] }, baseDir: projectDir(), label: 't' }, projectDir()),
    { ...callerContext(), cwd: projectDir() },
  )
  const ops = walk(encodePlan(plan))
  assert.deepEqual(
    ops.map((o) => o.code),
    plan.ops.map((o) => OP_CODES[o.op]),
  )
  const path = plan.ops.findIndex((o) => o.op === 'landlock_path')
  const op = plan.ops[path]!
  assert.ok(op.op === 'landlock_path')
  const body = ops[path]!.body
  assert.equal(body.readBigUInt64LE(4), op.access)
  assert.equal(body.subarray(16, 16 + body.readUInt32LE(12)).toString(), op.path)
  assert.equal(body[body.length - 1], 0, 'strings end with NUL')
})

test('encodePlan keeps a blob larger than its first buffer intact', () => {
  const program = Buffer.alloc(100_000 * 8, 0xab)
  program.writeUInt32LE(0x12345678, program.length - 4)
  const plan: Plan = {
    ops: [
      { op: 'hostname', name: 'x' },
      { op: 'seccomp_notify', program },
      { op: 'exec_arg', arg: '/bin/true' },
    ],
    notes: [],
  }
  const ops = walk(encodePlan(plan))
  assert.equal(ops.length, 3)
  assert.equal(ops[1]!.body.readUInt32LE(0), program.length)
  assert.ok(ops[1]!.body.subarray(4).equals(program))
  assert.equal(ops[2]!.body.subarray(4, -1).toString(), '/bin/true')
})

test("encodePlan writes a string's exact bytes: UTF-8, escaped bytes, the 4096-byte limit, no NUL", () => {
  const body = (arg: string) => walk(encodePlan({ ops: [{ op: 'env_pass', name: arg }], notes: [] }))[0]!.body
  const exact = (arg: string, bytes: Buffer) => {
    const b = body(arg)
    assert.equal(b.readUInt32LE(0), bytes.length)
    assert.ok(
      b.subarray(4, -1).equals(bytes),
      `${JSON.stringify(arg)} as ${b.subarray(4, -1).toString('hex')}`,
    )
    assert.equal(b.length, 4 + bytes.length + 1)
    assert.equal(b[b.length - 1], 0)
  }
  exact('/bin/true', Buffer.from('/bin/true'))
  exact('/tmp/é€😀', Buffer.from('/tmp/é€😀', 'utf8'))
  // A byte that is not UTF-8 travels as a lone surrogate (path-bytes.ts): the byte itself goes.
  exact('/tmp/a\udcffb\udc80', Buffer.from([...Buffer.from('/tmp/a'), 0xff, 0x62, 0x80]))
  // Counted in bytes, not UTF-16 units: 1366 × '€' is 4098 bytes.
  exact('x'.repeat(4096), Buffer.from('x'.repeat(4096)))
  exact('€'.repeat(1365), Buffer.from('€'.repeat(1365)))
  for (const bad of ['', 'a\0b', 'x'.repeat(4097), '€'.repeat(1366), `${'x'.repeat(4096)}\udcff`])
    assert.throws(() => body(bad), /must be 1-4096 bytes without NUL/, JSON.stringify(bad).slice(0, 40))
  // What goes to execve (an argument, an environment entry) may be as long as execve takes one
  // string, 128 KiB; too long, the error says how long and never echoes a value (a secret).
  const arg = (a: string) => encodePlan({ ops: [{ op: 'exec_arg', arg: a }], notes: [] })
  assert.equal(walk(arg('x'.repeat(131072)))[0]!.body.readUInt32LE(0), 131072)
  const secret = `s3cr3t-${'x'.repeat(131072)}`
  assert.throws(
    () => encodePlan({ ops: [{ op: 'env_set', name: 'TOKEN', value: secret }], notes: [] }),
    (e: Error) =>
      /^env TOKEN must be 1-131072 bytes without NUL, got 131085 bytes$/.test(e.message) &&
      !e.message.includes('s3cr3t'),
  )
  assert.throws(() => arg('x'.repeat(131073)), /argument must be 1-131072 bytes/)
  // Many strings past the first buffer: each lands whole after the buffer grows.
  const many = walk(
    encodePlan({
      ops: Array.from({ length: 3000 }, (_, i) => ({ op: 'exec_arg', arg: `€${i}` })),
      notes: [],
    }),
  )
  assert.deepEqual(
    many.map((o) => o.body.subarray(4, -1).toString()),
    Array.from({ length: 3000 }, (_, i) => `€${i}`),
  )
})

// spawn() takes a caller's plan, maybe one kept as JSON. Left to Buffer's coercions, a missing
// uid was written as 0, and a seccomp program that went through JSON ({type: 'Buffer', data})
// made the whole plan empty: the launcher then waited for it, and the run never ended.
test('encodePlan refuses a plan whose fields are not what their op holds, naming the op', () => {
  const plan = compilePlan(
    resolvePolicy({ policy: { extends: ['default'] }, baseDir: projectDir(), label: 't' }, projectDir()),
    { ...callerContext(), cwd: projectDir() },
  )
  const seccomp = plan.ops.findIndex((o) => o.op === 'seccomp')
  const throughJson = JSON.parse(
    JSON.stringify(plan, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
  ) as Plan
  assert.throws(
    () => encodePlan(throughJson),
    (e: CordonError) =>
      e.code === 'invalid_usage' &&
      /^plan: ops\[\d+\] \(\w+\): expected a 64-bit unsigned bigint/.test(e.message),
  )
  const programAsJson = {
    ...plan,
    ops: plan.ops.map((o, i) => (i === seccomp ? { ...o, program: { type: 'Buffer', data: [1, 2] } } : o)),
  }
  assert.throws(
    () => encodePlan(programAsJson as unknown as Plan),
    (e: CordonError) =>
      e.code === 'invalid_usage' &&
      e.message.startsWith(`plan: ops[${seccomp}] (seccomp): expected bytes (a Uint8Array), got object;`),
  )
  const cases: [unknown, RegExp][] = [
    [{ op: 'ids', gid: 0 }, /ops\[0\] \(ids\): expected a uid or gid from 0 to 4294967294, got `undefined`/],
    [{ op: 'ids', uid: 1.5, gid: 0 }, /expected a uid or gid from 0 to 4294967294, got `1.5` \(number\)/],
    [{ op: 'ids', uid: '1000', gid: 0 }, /expected a uid or gid from 0 to 4294967294, got `1000` \(string\)/],
    // -1 is no id to setresuid ("leave it"): the program ran as the caller's root.
    [{ op: 'ids', uid: -1, gid: 65534 }, /\(ids\): expected a uid or gid from 0 to 4294967294, got `-1`/],
    [{ op: 'ids', uid: 65534, gid: 0xffffffff }, /got `4294967295`/],
    [{ op: 'ids', uid: 1, gid: 1, groups: [1, null] }, /\(ids\): expected a uid or gid .*, got `null`/],
    [{ op: 'uid_map', inside: 0, outside: -1, count: 1 }, /\(uid_map\): expected a uid or gid/],
    [
      { op: 'env_set', name: 'A=B', value: 'x' },
      /\(env_set\): expected a variable name: a non-empty string without `=`/,
    ],
    [
      { op: 'bind', src: '/a', dest: '/a', flags: { readonly: true } },
      /\(bind\): expected bind flags among readOnly, /,
    ],
    [{ op: 'bind', src: '/a', dest: '/a', flags: 'readOnly' }, /\(bind\): expected bind flags: an object/],
    [
      { op: 'fsmount', attrs: 0, fstype: 'tmpfs', dest: '/t', options: ['size=1M\0mode=4777'] },
      /\(fsmount\): expected a mount option: a non-empty string without NUL/,
    ],
    [
      { op: 'file', dest: '/f', mode: 0o644, content: { length: 2 ** 32 } },
      /\(file\): expected a string \(content\), got object/,
    ],
    [
      { op: 'mknod', dest: '/d', mode: 0o20666, major: 'sda', minor: 0, uid: 0, gid: 0 },
      /\(mknod\): expected a device number/,
    ],
    [{ op: 'landlock_port', access: 1n, port: 70000 }, /\(landlock_port\): expected a port from 0 to 65535/],
    [{ op: ['ids'] }, /ops\[0\]: expected an op cordon knows/],
    [
      { op: 'rlimit', resource: 7, soft: 10, hard: 10n },
      /expected a 64-bit unsigned bigint, got `10` \(number\)/,
    ],
    [{ op: 'caps', keep: -1n }, /\(caps\): expected a 64-bit unsigned bigint, got `-1n` \(bigint\)/],
    [
      { op: 'tmpfs', size: 'lots', mode: 0o755, flags: {}, dest: '/tmp' },
      /\(tmpfs\): expected a whole number, got `lots`/,
    ],
    [{ op: 'exec_arg', arg: 42 }, /expected a string \(argument\), got `42` \(number\)/],
    [
      { op: 'bind', src: '/a', dest: '/a' },
      /ops\[0\] \(bind\): expected bind flags: an object, got `undefined`/,
    ],
    [{ op: 'format_disk' }, /ops\[0\] \(format_disk\): expected an op cordon knows \(namespaces, /],
    [{ op: 'toString' }, /expected an op cordon knows/],
    [null, /ops\[0\]: expected an op cordon knows/],
  ]
  for (const [op, message] of cases)
    assert.throws(
      () => encodePlan({ ops: [op], notes: [] } as unknown as Plan),
      (e: CordonError) => e.code === 'invalid_usage' && message.test(e.message),
      JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
    )
  assert.throws(
    () => encodePlan({} as Plan),
    /plan: the header: expected a plan: an object with an `ops` array/,
  )
  // Each op's fields are read once: a getter cannot give its code one op and its body another.
  let reads = 0
  const flipping = {
    get op() {
      return reads++ === 0 ? 'hostname' : 'exec_arg'
    },
    name: 'h',
    arg: 'x',
  }
  const flippingPlan: unknown = { ops: [flipping], notes: [] }
  const once = walk(encodePlan(flippingPlan as Plan))
  assert.equal(reads, 1)
  assert.deepEqual(
    once.map((o) => [o.code, o.body.subarray(4, -1).toString()]),
    [[OP_CODES.hostname, 'h']],
  )
  // What compilePlan makes still encodes, negative 32-bit values as their two's complement.
  assert.ok(encodePlan(plan).length > 12)
  assert.equal(
    walk(encodePlan({ ops: [{ op: 'keep_fd', fd: -1 }], notes: [] }))[0]!.body.readUInt32LE(0),
    0xffffffff,
  )
})
