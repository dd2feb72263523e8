// tier: unit
// The plan is the one contract between the TypeScript compiler and the C launcher. Its op codes,
// names, flag bits and version are written on both sides; this test reads native/plan.h and
// plan.c and holds them equal, and holds the version to the op table it was released with, so
// a new op cannot ship without a PLAN_VERSION bump (a launcher must refuse a plan it would
// misread, not guess).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { OP_CODES, PLAN_VERSION } from '../../src/plan/model.js'
import { ROOT } from '../helpers.js'

const header = readFileSync(join(ROOT, 'native', 'plan.h'), 'utf8')
const source = readFileSync(join(ROOT, 'native', 'plan.c'), 'utf8')

/** `OP_X = 0xNN` from plan.h's enum, by C identifier. */
const cCodes = new Map(
  [...header.matchAll(/\b(OP_[A-Z_]+)\s*=\s*(0x[0-9a-fA-F]+)/g)].map((m) => [String(m[1]), Number(m[2])]),
)
/** `case OP_X: return "name";` from plan_op_name, by C identifier. */
const cNames = new Map(
  [...source.matchAll(/case (OP_[A-Z_]+):\s*return "([a-z_]+)";/g)].map((m) => [String(m[1]), String(m[2])]),
)

/** The op table of each released plan version: a fingerprint of `name=code` pairs. */
const RELEASED: Record<number, string> = {
  2: '4f86d1ea',
  3: 'bcc04247',
  4: '4751d9e2',
  5: '92cab3e5',
  6: '8b82f5f6',
}

const fingerprint = (codes: Record<string, number>) =>
  createHash('sha256')
    .update(
      Object.entries(codes)
        .map(([n, c]) => `${n}=${c}`)
        .sort()
        .join(','),
    )
    .digest('hex')
    .slice(0, 8)

test('every TypeScript op has the same code and name in the launcher', () => {
  const fromC = new Map<string, number>()
  for (const [ident, name] of cNames) {
    const code = cCodes.get(ident)
    assert.ok(code !== undefined, `plan.c names ${ident}, which plan.h does not define`)
    fromC.set(name, code)
  }
  assert.deepEqual(Object.fromEntries(fromC), { ...OP_CODES }, 'native/plan.h + plan.c vs src/plan/model.ts')
  assert.equal(cCodes.size, fromC.size, 'every op in plan.h has a name in plan_op_name')
})

test('TypeScript and C read the same plan version', () => {
  const m = /#define PLAN_VERSION (\d+)/.exec(header)
  assert.ok(m, 'plan.h defines PLAN_VERSION')
  assert.equal(Number(m[1] ?? ''), PLAN_VERSION)
})

test('a changed op table comes with a new PLAN_VERSION', () => {
  const now = fingerprint(OP_CODES)
  assert.equal(
    RELEASED[PLAN_VERSION],
    now,
    `the op table (fingerprint ${now}) differs from plan version ${PLAN_VERSION}'s: bump PLAN_VERSION in ` +
      `src/plan/model.ts and native/plan.h, and add ${PLAN_VERSION + 1}: '${now}' to RELEASED here`,
  )
})
