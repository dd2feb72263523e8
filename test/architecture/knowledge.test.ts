// tier: unit
// One home for each piece of knowledge (issue 22): the supported architectures live in
// seccomp/arch.ts (ARCHES, HOST_ARCHES), the Landlock ABI facts in landlock/rights.ts (ABI_ADDS,
// ACCESS, SHORTHANDS), the plan version in plan/model.ts and the product version in package.json
// (copied, and held equal by test/cli/version.test.ts, where it cannot be read: cli/main.ts for
// start-up, launcher.c). These checks fail when another list of the same knowledge appears in
// src/ or scripts/, so the next arch or ABI is still one row.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, test } from 'node:test'
import { ARCH_NAMES, ARCHES, entryPoints, HOST_ARCH_NAMES, HOST_ARCHES } from '../../src/seccomp/arch.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import {
  ABI_ADDS,
  abiFor,
  ACCESS,
  FS,
  fsRights,
  MAX_ABI,
  NET,
  netRights,
  RESTRICT,
  restrictFlags,
  SCOPE,
  scopes,
  SHORTHANDS,
} from '../../src/landlock/rights.js'
import { ROOT } from '../helpers.js'

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return walk(path)
    return /\.(ts|mjs)$/.test(name) ? [path] : []
  })
const sources = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'scripts'))].map((path) => ({
  rel: relative(ROOT, path),
  text: readFileSync(path, 'utf8'),
}))

const TOKENS = /(\/\*[\s\S]*?\*\/|\/\/[^\n]*)|('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`)/g
/** A source's string literals (comments skipped). */
const literals = (text: string) => [...text.matchAll(TOKENS)].flatMap((m) => (m[2] ? [m[2]] : []))
/** A source without comments and string literals: the code alone. */
const code = (text: string) => text.replace(TOKENS, (m, comment: string | undefined) => (comment ? '' : '""'))

describe('supported architectures: seccomp/arch.ts is their one home', () => {
  /** Where an architecture list may still be written, and why. */
  const HOMES: Record<string, string> = {
    'src/seccomp/arch.ts': 'the table itself',
    'src/seccomp/tables.ts': 'generated from the kernel headers by scripts/gen-syscalls.mjs',
    // It runs before anything is built (it writes what arch.ts reads), reading one header per
    // arch; the test below holds its tables to ARCHES.
    'scripts/gen-syscalls.mjs': 'the generator of tables.ts',
  }
  const names = [
    ...ARCH_NAMES,
    ...HOST_ARCH_NAMES,
    ...Object.values(HOST_ARCHES).flatMap((h) => h.go),
    ...Object.values(ARCHES).map((a) => a.scmp),
  ]
  const word = new RegExp(`\\b(${[...new Set(names)].join('|')})\\b`, 'g')

  test('no other file spells out a list of architectures', () => {
    const lists = sources
      .filter((s) => !HOMES[s.rel])
      .map((s) => ({
        rel: s.rel,
        found: new Set(literals(s.text).flatMap((l) => [...l.matchAll(word)].map((m) => m[1]!))),
      }))
      .filter((s) => s.found.size >= 3 || [...s.found].some((n) => n.startsWith('SCMP_ARCH_')))
      .map((s) => `${s.rel}: ${[...s.found].join(' ')}`)
    assert.deepEqual(lists, [], 'derive these from ARCHES / HOST_ARCHES (src/seccomp/arch.ts)')
  })

  test('every arch has its syscall table, every host its entries', () => {
    for (const name of ARCH_NAMES) assert.ok(Object.keys(syscallTable(name)).length > 300, name)
    for (const host of HOST_ARCH_NAMES) {
      const entries = entryPoints(host)
      assert.ok(entries.length >= 1 && entries.every((a) => ARCHES[a.name] === a), host)
    }
  })
})

describe('Landlock ABI facts: landlock/rights.ts is their one home', () => {
  test('each right and flag is added by exactly one ABI row, and the derived views agree', () => {
    const kinds = { fs: FS, net: NET, scope: SCOPE } as const
    for (const [kind, rights] of Object.entries(kinds))
      for (const [name, bit] of Object.entries(rights)) {
        const rows = ABI_ADDS.filter((row) => ((row[kind as keyof typeof kinds] ?? 0n) & bit) !== 0n)
        assert.equal(rows.length, 1, `${kind} ${name} is added by ${rows.length} rows`)
        assert.equal(abiFor(kind as keyof typeof kinds, bit), ABI_ADDS.indexOf(rows[0]!) + 1, name)
      }
    assert.equal(MAX_ABI, ABI_ADDS.length)
    assert.equal(
      fsRights(MAX_ABI),
      Object.values(FS).reduce((a, b) => a | b, 0n),
    )
    assert.equal(netRights(MAX_ABI), NET.bind_tcp | NET.connect_tcp)
    assert.equal(scopes(MAX_ABI), SCOPE.abstract_unix_socket | SCOPE.signal)
    const flags = Object.values(RESTRICT).reduce((a, b) => a | b, 0)
    assert.equal(restrictFlags(MAX_ABI), flags)
    assert.equal(restrictFlags(MAX_ABI - 1), 0)
  })

  test('no other file compares an ABI with a number or writes one into a message', () => {
    const found = sources
      .filter((s) => s.rel !== 'src/landlock/rights.ts')
      .flatMap((s) => [
        ...[
          ...code(s.text).matchAll(
            /\babi\w*\s*[<>]=?\s*[2-9]\b|\b[2-9]\s*[<>]=?\s*\w*abi\b|\bmax: [2-9]\b.*ABI/gi,
          ),
        ].map((m) => `${s.rel}: ${m[0]}`),
        ...literals(s.text)
          .filter((l) => /\bABI [2-9]\b|\bABI \(1-\d/.test(l))
          .map((l) => `${s.rel}: ${l.slice(0, 80)}`),
      ])
    assert.deepEqual(
      found,
      [],
      'use MAX_ABI, NET_ABI, SCOPE_ABI, abiFor or the *Rights functions of rights.ts',
    )
  })

  test('no other file lists the access words', () => {
    const words = [...Object.keys(SHORTHANDS), ...Object.keys(ACCESS)]
    const list = new RegExp(`\\b(${words.join('|')})\\b[|, ]+`, 'g')
    const found = sources
      .filter((s) => s.rel !== 'src/landlock/rights.ts')
      .flatMap((s) =>
        literals(s.text).filter((l) => new Set([...l.matchAll(list)].map((m) => m[1])).size >= 6),
      )
    assert.deepEqual(found, [], 'derive access words from ACCESS and SHORTHANDS (landlock/rights.ts)')
  })
})

describe('versions', () => {
  test('PLAN_VERSION and the package version are written where the tests expect, nowhere else', () => {
    const pkg = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    const planVersion = sources.filter((s) => /\bPLAN_VERSION\s*=/.test(code(s.text))).map((s) => s.rel)
    assert.deepEqual(planVersion, ['src/plan/model.ts'])
    const product = sources
      .filter((s) => literals(s.text).some((l) => l.slice(1, -1) === pkg))
      .map((s) => s.rel)
    assert.deepEqual(product, ['src/cli/main.ts'], 'the CLI copies the version; others read package.json')
  })
})
