// tier: unit
// Tests skip with the reason and never fail because of the host (issue 20, "host facts decide
// what the tests expect"): node:test prints a skip's string, so a bare `skip: true`, a
// `skip: !fact` with no words or a `t.skip()` with none leaves the reader of a run guessing
// which host fact was missing. Each skip says it.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { ROOT } from '../helpers.js'

const TEST = join(ROOT, 'test')
const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return name.endsWith('.ts') ? [path] : []
  })

/** Skips that carry no words: `skip: true`, `skip: !fact }`, `t.skip()`, `test.skip(`. */
const BARE = /\bskip: true\b|\bskip: ![\w.()]+\s*[,}]|\bt\.skip\(\)|\b(?:test|describe|it)\.skip\(/

test('every skip in the tests carries its reason', () => {
  // This file names the patterns it looks for.
  const others = sources(TEST).filter((f) => !f.endsWith('skip-reasons.test.ts'))
  const bare = others.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (BARE.test(line) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [])),
  )
  assert.deepEqual(bare, [], 'give each skip its reason, e.g. { skip: !isRoot && "needs root to …" }')
})

test('the check sees a bare skip', () => {
  for (const line of ['{ skip: !isRoot }, () => {', 'skip: true,', 't.skip()', "test.skip('x', () => {})"])
    assert.match(line, BARE, line)
  for (const line of ["{ skip: !isRoot && 'needs root' }", "t.skip('no cc')", "skip: !x ? false : 'why'"])
    assert.doesNotMatch(line, BARE, line)
})
