// tier: unit
// The unit tier (`npm run test:unit`) is chosen by a marker each test file carries: the first
// line `// tier: unit` (scripts/run-tests.mjs reads it). These checks keep a file from landing in
// the wrong tier silently: a misspelt or misplaced marker fails, and so does a unit file that
// reaches for what needs root or a kernel feature (a sandbox run, the test user, cgroups, the
// host's probe). scripts/test-unit-unprivileged.sh is the proof by running; this is the check
// that runs everywhere.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'

const MARKER = '// tier: unit'
const TEST = join(ROOT, 'test')

const testFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return testFiles(path)
    return name.endsWith('.test.ts') ? [path] : []
  })

const files = testFiles(TEST).map((path) => ({
  rel: relative(TEST, path),
  lines: readFileSync(path, 'utf8').split('\n'),
}))
const unit = files.filter((f) => f.lines[0] === MARKER)

/** What a unit test may not use: each needs root, a user namespace, a cgroup or a sandbox. */
const FORBIDDEN: [RegExp, string][] = [
  [/\b(ensureTestUser|cordonAs)\b/, 'the test user (root to create it)'],
  [/\brunSettled\b|from '[./]*src\/run\/(spawn|run|sandbox-\w+|registry)\.js'/, 'a sandbox run'],
  [/from '[./]*src\/(cgroup|backends|verify)\//, 'cgroups, runtimes or the attack battery'],
  [/from '[./]*src\/(learn\/learn|monitor\/session)\.js'/, 'traced or monitored runs'],
  [/\b(hostFacts|probeKernel|cgroupAccess|hostContext)\(/, "the host's probe (kernel features)"],
]

describe('test tiers', () => {
  test('run-tests.mjs picks the unit tier by this marker, not by a list', () => {
    const script = readFileSync(join(ROOT, 'scripts', 'run-tests.mjs'), 'utf8')
    assert.ok(script.includes(`'${MARKER}'`), 'run-tests.mjs does not read the marker')
    assert.ok(!/\bUNIT = new Set\(/.test(script), 'run-tests.mjs lists unit files again')
  })

  test('a tier marker is spelt exactly and stands on the first line', () => {
    const bad = files.flatMap((f) =>
      f.lines
        .map((line, i) => ({ line, i }))
        .filter(({ line, i }) => /^\s*\/\/\s*tier\b/i.test(line) && !(i === 0 && line === MARKER))
        .map(({ line, i }) => `${f.rel}:${i + 1}: ${line}`),
    )
    assert.deepEqual(bad, [], `the marker is \`${MARKER}\`, alone on a test file's first line`)
  })

  test('the unit tier holds its files (the marker is read, not lost)', () => {
    const names = unit.map((f) => f.rel)
    for (const must of [
      'plan/contract.test.ts',
      'seccomp/differential.test.ts',
      'architecture/imports.test.ts',
    ])
      assert.ok(names.includes(must), `${must} lost its marker`)
  })

  // This file names what it forbids; it uses none of it.
  for (const f of unit.filter((u) => u.rel !== 'architecture/tiers.test.ts'))
    test(`unit file ${f.rel} uses nothing that needs root or a kernel feature`, () => {
      const text = f.lines.join('\n')
      const uses = FORBIDDEN.filter(([re]) => re.test(text)).map(([, what]) => what)
      assert.deepEqual(
        uses,
        [],
        `remove \`${MARKER}\` from ${f.rel}, or move what needs root to another file`,
      )
    })
})
