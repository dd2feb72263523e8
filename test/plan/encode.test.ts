// tier: unit
// encodePlan writes into one growing buffer and patches each op's length afterwards (issue 23:
// a Buffer per field made encoding a visible share of every start). The layout must stay
// exactly the format native/plan.h describes, however large the plan grows past the first
// buffer: [magic "CRDN"][u16 version][u16 0][u32 payload length], then per op
// [u16 code][u16 0][u32 body length][body].
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { callerContext, compilePlan, encodePlan, resolvePolicy } from '../../src/index.js'
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
  const body = (arg: string) => walk(encodePlan({ ops: [{ op: 'exec_arg', arg }], notes: [] }))[0]!.body
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
