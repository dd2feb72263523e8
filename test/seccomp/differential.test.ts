// tier: unit
// Differential property tests: for random policies, syscalls and arguments, the compiled
// program (run in the interpreter) must give exactly what the policy means (the reference
// evaluator), on every arch, before and after optimization. Values cluster at the 32-bit
// boundaries, where 64-bit comparisons built from 32-bit words go wrong.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ARCHES, type ArchInfo, entryPoints } from '../../src/seccomp/arch.js'
import { decode, DATA, interpret, RET } from '../../src/seccomp/bpf.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import type { Action, ArgCondition, ArgOp, SeccompSpec } from '../../src/seccomp/model.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'

/** mulberry32: deterministic, so a failure reproduces. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  return { next, int, pick }
}

const BOUNDARIES = [
  0n,
  1n,
  2n,
  0x7fffffffn,
  0x80000000n,
  0xfffffffen,
  0xffffffffn,
  0x100000000n,
  0x100000001n,
  0x1ffffffffn,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffff00000000n,
  0xffffffff80000000n,
  0xfffffffffffffffen,
  0xffffffffffffffffn,
  0x5412n,
  0x100005412n,
]

function randomValue(r: ReturnType<typeof prng>): bigint {
  if (r.next() < 0.7) return r.pick(BOUNDARIES)
  return (BigInt(r.int(2 ** 32)) << 32n) | BigInt(r.int(2 ** 32))
}

const ACTIONS: Action[] = [
  { kind: 'allow' },
  { kind: 'errno', errno: 1 },
  { kind: 'errno', errno: 13 },
  { kind: 'kill-process' },
  { kind: 'kill-thread' },
  { kind: 'trap' },
  { kind: 'log' },
  { kind: 'trace', data: 7 },
  { kind: 'notify' },
]
const OPS: ArgOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'masked-eq', 'in']

function randomSpec(r: ReturnType<typeof prng>, names: string[]): SeccompSpec {
  const rules = Array.from({ length: 1 + r.int(25) }, () => ({
    syscalls: Array.from({ length: 1 + r.int(6) }, () => r.pick(names)),
    args: Array.from({ length: r.next() < 0.5 ? 0 : 1 + r.int(3) }, (): ArgCondition => {
      const op = r.pick(OPS)
      return {
        index: r.int(6),
        op,
        value: randomValue(r),
        ...(op === 'masked-eq' ? { mask: randomValue(r) } : {}),
        ...(op === 'in' ? { values: Array.from({ length: 1 + r.int(3) }, () => randomValue(r)) } : {}),
        width: r.next() < 0.3 ? 32 : 64,
      }
    }),
    action: r.pick(ACTIONS),
    origin: 'random',
  }))
  return { defaultAction: r.pick(ACTIONS), rules, unknownAction: { kind: 'errno', errno: 38 } }
}

function randomCall(r: ReturnType<typeof prng>, arch: ArchInfo, spec: SeccompSpec) {
  const named = spec.rules.flatMap((rule) => rule.syscalls).filter((n) => arch.table[n] !== undefined)
  const roll = r.next()
  const nr =
    roll < 0.6 && named.length
      ? arch.table[r.pick(named)]!
      : roll < 0.9
        ? r.int(480)
        : r.pick([0xffffffff, 0x40000000, 0x40000001, 0x3fffffff, 0x7fffffff, 1000])
  // A 32-bit task's arguments arrive zero-extended.
  const args = Array.from({ length: 6 }, () =>
    arch.bits === 32 ? randomValue(r) & 0xffffffffn : randomValue(r),
  )
  // Also use the rule's own values, so conditions are hit, not just missed.
  for (const rule of spec.rules)
    for (const c of rule.args)
      if (r.next() < 0.3) args[c.index] = arch.bits === 32 ? c.value & 0xffffffffn : c.value
  return { nr, args }
}

describe('compiled filters mean what the policy says', () => {
  for (const host of ['x64', 'arm64', 'riscv64']) {
    const arches = entryPoints(host)
    const names = [...new Set(arches.flatMap((a) => Object.keys(a.table)))]
    for (const optimize of [true, false])
      test(`random policies on ${host}, ${optimize ? 'optimized' : 'unoptimized'}`, () => {
        const r = prng(host.length * 1000 + (optimize ? 1 : 2))
        let calls = 0
        for (let round = 0; round < 40; round++) {
          const spec = randomSpec(r, names)
          const prog = decode(compileSeccomp(spec, arches, { optimize }).program)
          for (let i = 0; i < 300; i++) {
            const arch = r.next() < 0.05 ? ARCHES.aarch64 : r.pick(arches)
            const foreign = r.next() < 0.03 ? 0xdeadbeef : arch.audit
            const { nr, args } = randomCall(r, arch, spec)
            const got = interpret(prog, { nr, arch: foreign, args }).value
            const want = evaluateSpec(spec, arches, foreign, nr, args)
            if (got !== want)
              assert.fail(
                `round ${round}: ${arch.name} nr ${nr} args ${args.map((a) => `0x${a.toString(16)}`).join(',')}: ` +
                  `got 0x${got.toString(16)}, want 0x${want.toString(16)}\n${JSON.stringify(spec, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`,
              )
            calls++
          }
        }
        assert.equal(calls, 12_000)
      })
  }

  for (const profile of ['default', 'strict', 'none'])
    test(`the ${profile} profile, every syscall of every arch`, () => {
      const spec = resolveSeccomp([{ profile, origin: 'test' }])
      for (const host of ['x64', 'arm64', 'riscv64']) {
        const arches = entryPoints(host)
        const prog = decode(compileSeccomp(spec, arches).program)
        for (const arch of arches)
          for (const nr of Object.values(arch.table))
            for (const args of [[], [0x7e020000n], [0x5412n, 0x5412n], [0n, 0x541cn]]) {
              const got = interpret(prog, { nr, arch: arch.audit, args }).value
              assert.equal(got, evaluateSpec(spec, arches, arch.audit, nr, args), `${arch.name} ${nr}`)
            }
      }
    })
})

describe('compiled filter shape', () => {
  const spec = resolveSeccomp([{ profile: 'default', origin: 'test' }])
  const arches = entryPoints('x64')
  const prog = decode(compileSeccomp(spec, arches).program)

  test('unconditional allows load only nr and arch (the kernel can cache them)', () => {
    let cached = 0
    for (const arch of arches)
      for (const nr of Object.values(arch.table)) {
        const { value, path } = interpret(prog, { nr, arch: arch.audit, args: [] })
        const rule = spec.rules.findLast((r) => r.syscalls.some((n) => arch.table[n] === nr))
        if (value !== RET.ALLOW || rule?.args.length) continue
        const loads = path.filter((pc) => prog[pc]!.code === 0x20).map((pc) => prog[pc]!.k)
        assert.ok(
          loads.every((k) => k === DATA.nr || k === DATA.arch),
          `${arch.name} ${nr} loads an argument`,
        )
        cached++
      }
    assert.ok(cached > 300)
  })

  test('x32 numbers are killed, -1 is allowed, numbers past the table get ENOSYS', () => {
    const at = (nr: number, arch = ARCHES.x86_64.audit) => interpret(prog, { nr, arch, args: [] }).value
    assert.equal(at(0x40000000 + 39), RET.KILL_PROCESS)
    assert.equal(at(0xffffffff), RET.ALLOW)
    assert.equal(at(1000), RET.ERRNO | 38)
    assert.equal(at(0x3fffffff), RET.ERRNO | 38)
    assert.equal(at(20, 0xc00000b7), RET.KILL_PROCESS, 'aarch64 is foreign on an x64 host')
  })

  test('statistics: path lengths and a frequency-weighted cost that favours hot syscalls', () => {
    const uniform = compileSeccomp(spec, arches, { stats: true })
    const hot = compileSeccomp(spec, arches, {
      stats: true,
      frequencies: { read: 1000, write: 800, futex: 500 },
    })
    const s = uniform.perArch[0]!
    assert.ok(s.averagePath > 5 && s.averagePath <= s.worstPath)
    const path = (filter: typeof uniform) =>
      interpret(decode(filter.program), { nr: ARCHES.x86_64.table.read!, arch: ARCHES.x86_64.audit }).path
        .length
    assert.ok(path(hot) < path(uniform), `read: ${path(hot)} vs ${path(uniform)} instructions`)
    assert.ok(hot.perArch[0]!.weightedCost < 6)
  })

  // The kernel converts, JITs and maps the whole program at every sandbox's start (~8% of a
  // start's CPU): the default filter had a return at almost every leaf of its search tree, and
  // socket and socketpair each their own copy of the family check.
  test('returns and recurring argument checks are emitted once where jumps can reach them', () => {
    const rets = prog.filter((i) => i.code === 0x06)
    const values = new Set(rets.map((i) => i.k))
    assert.ok(
      rets.length <= values.size * Math.ceil(prog.length / 200),
      `${rets.length} returns of ${values.size} values in ${prog.length} instructions`,
    )
    const MARK = 0x1234567n
    const families: SeccompSpec = {
      defaultAction: { kind: 'allow' },
      unknownAction: { kind: 'errno', errno: 38 },
      rules: [
        {
          syscalls: ['socket', 'socketpair'],
          args: [{ index: 0, op: 'in', value: 0n, values: [3n, 4n, 5n, MARK], width: 32 }],
          action: { kind: 'errno', errno: 97 },
          origin: 'test',
        },
      ],
    }
    const marks = (optimize: boolean) =>
      decode(compileSeccomp(families, arches, { optimize }).program).filter((i) => i.k === Number(MARK))
        .length
    // Once per arch: x86_64's socket (41) and socketpair (53) are apart, i386's neighbours (one
    // range). Unoptimized, every number is a range of its own.
    assert.equal(marks(false), 4)
    assert.equal(marks(true), 2)
  })
})
