// tier: unit
// The seccomp section: names, groups, actions and arguments are checked with clear messages.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CordonError } from '../../src/errors.js'
import { entryPoints } from '../../src/seccomp/arch.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import { parseAction, resolveSeccomp } from '../../src/seccomp/resolve.js'

function message(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof CordonError)
    return e.message
  }
  assert.fail('expected an error')
}

describe('seccomp policy resolution', () => {
  const cases = [
    { input: 'allow', want: { kind: 'allow' } },
    { input: 'errno(EPERM)', want: { kind: 'errno', errno: 1 } },
    { input: 'errno(13)', want: { kind: 'errno', errno: 13 } },
    { input: 'kill', want: { kind: 'kill-process' } },
    { input: 'trace(5)', want: { kind: 'trace', data: 5 } },
  ]
  for (const c of cases)
    test(`parses the action ${c.input}`, () => assert.deepEqual(parseAction(c.input), c.want))

  test('rejects bad actions, names and groups with suggestions', () => {
    assert.match(String(parseAction('errno(EPREM)')), /unknown errno `EPREM`/)
    assert.match(String(parseAction('deny')), /expected allow, errno\(NAME\|N\)/)
    const m = message(() =>
      resolveSeccomp([
        { rules: [{ syscalls: ['ptrce', '@mounts'], action: 'errno(EPERM)' }], origin: 'p.yaml' },
      ]),
    )
    assert.match(m, /Unknown syscall `ptrce`; did you mean `ptrace`\?/)
    assert.match(m, /Unknown syscall group `@mounts`; did you mean `@mount`\?/)
    assert.match(
      message(() => resolveSeccomp([{ profile: 'strikt', origin: 'x' }])),
      /did you mean `strict`\?/,
    )
  })

  test('arguments need their values', () => {
    const m = message(() =>
      resolveSeccomp([
        { rules: [{ syscalls: ['socket'], action: 'allow', args: [{ index: 0, op: 'in' }] }], origin: 'x' },
      ]),
    )
    assert.match(m, /`in` needs `values`/)
  })

  test('the terminal guard is the last rule, after every layer', () => {
    const spec = resolveSeccomp([
      { profile: 'none', rules: [{ syscalls: ['ioctl'], action: 'allow' }], origin: 'x' },
    ])
    assert.equal(spec.rules.at(-1)!.origin, 'terminal guard')
  })

  test('a filter over 4096 instructions is a clear error', () => {
    const rules = Array.from({ length: 600 }, (_, i) => ({
      syscalls: ['read'],
      action: 'errno(EPERM)',
      args: [{ index: 0, op: 'gt' as const, value: i }],
    }))
    const spec = resolveSeccomp([{ rules, origin: 'x' }])
    assert.match(
      message(() => compileSeccomp(spec, entryPoints('x64'))),
      /needs \d+ instructions, over the kernel's limit of 4096; merge rules/,
    )
  })
})

describe('precompiled built-in profiles', () => {
  test('each build-time filter equals a fresh compile, with the layers the compiler adds too', async () => {
    const { precompiledProgram } = await import('../../src/seccomp/precompiled.js')
    const { SECCOMP_EXTRAS, PRECOMPILED_EXTRA_SETS: sets } = await import('../../src/seccomp/extras.js')
    for (const arch of ['x64', 'arm64', 'riscv64'])
      for (const profile of ['default', 'strict', 'none'])
        for (const extras of sets) {
          const layers = [{ profile, origin: 'test' }, ...extras.map((e) => SECCOMP_EXTRAS[e])]
          const fresh = compileSeccomp(resolveSeccomp(layers), entryPoints(arch)).program
          const key = `${arch}:${profile}${extras.map((e) => `+${e}`).join('')}`
          const built = precompiledProgram(key)
          assert.ok(built, `missing ${key}: run npm run build`)
          assert.deepEqual(Buffer.from(built), Buffer.from(fresh), key)
        }
  })

  test("the default monitor rules' watch list: each filter and its responder equal a fresh compile", async () => {
    const { precompiledFilter, precompiledProgram, WATCH_SETS_FILE } =
      await import('../../src/seccomp/precompiled.js')
    const { PRECOMPILED_EXTRA_SETS: sets } = await import('../../src/seccomp/extras.js')
    const { compileFilter } = await import('../../src/plan/filter.js')
    const { DEFAULT_RULES_FILE, loadRules, watchedSyscalls } = await import('../../src/monitor/rules.js')
    const watch = watchedSyscalls(loadRules([DEFAULT_RULES_FILE]))
    const { readFileSync } = await import('node:fs')
    assert.deepEqual(JSON.parse(readFileSync(WATCH_SETS_FILE, 'utf8')), [watch], 'run npm run build')
    for (const arch of ['x64', 'arm64', 'riscv64'])
      for (const profile of ['default', 'strict', 'none'] as const)
        for (const extras of sets) {
          const fresh = compileFilter([{ profile, origin: 'test' }], extras, arch, watch)
          const key = `${arch}:${profile}${extras.map((e) => `+${e}`).join('')}+watch0`
          assert.ok(fresh.responder, key)
          assert.deepEqual(Buffer.from(precompiledProgram(key)!), Buffer.from(fresh.program), key)
          assert.deepEqual(
            Buffer.from(precompiledProgram(`${key}+responder`)!),
            Buffer.from(fresh.responder),
            `${key}+responder`,
          )
          // Found from the list in any order, with repeats; not for another list or a traced run.
          const layers = [{ profile, origin: 'policy' }]
          const found = precompiledFilter(layers, extras, arch, [...watch].reverse().concat(watch[0]!))
          assert.deepEqual(Buffer.from(found!.program), Buffer.from(fresh.program), key)
          assert.deepEqual(Buffer.from(found!.responder!), Buffer.from(fresh.responder), key)
          assert.equal(precompiledFilter(layers, extras, arch, watch.slice(1)), undefined)
          assert.equal(precompiledFilter(layers, extras, arch, [...watch, 'openat']), undefined)
          // Nor for one name that holds two of the list's, comma-joined (spawn()'s `watch`).
          const joined = [`${watch[0]},${watch[1]}`, ...watch.slice(2)]
          assert.equal(precompiledFilter(layers, extras, arch, joined), undefined)
          assert.equal(precompiledFilter(layers, extras, arch, watch, { mode: 'learn' }), undefined)
        }
  })
})
