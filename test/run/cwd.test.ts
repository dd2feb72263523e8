// The working directory: the caller's when the view shows it, else / — also under /tmp, whose
// private tmpfs starts empty, so /tmp/proj is only there when a bind puts it there.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, runSettled as run } from '../helpers.js'

describe('working directory', () => {
  const dir = `/tmp/cordon-cwd-${process.pid}`
  mkdirSync(dir, { recursive: true })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('under /tmp: the default profile binds it; minimal starts in / (the CLI and the library)', async () => {
    const bound = cordon(['run', '--', 'pwd'], { cwd: dir })
    assert.equal(bound.status, 0, bound.stderr)
    assert.equal(bound.stdout, `${dir}\n`)
    const minimal = cordon(['run', '--profile', 'minimal', '--', 'pwd'], { cwd: dir })
    assert.equal(minimal.status, 0, minimal.stderr)
    assert.equal(minimal.stdout, '/\n')
    const lib = await run({ extends: ['minimal'] }, 'sh', ['-c', 'echo hi; pwd'], { context: { cwd: dir } })
    assert.equal(lib.code, 0, lib.stderr)
    assert.equal(lib.stdout, 'hi\n/\n')
    const named = cordon(['run', '--profile', 'minimal', '--ro', dir, '--', 'pwd'], { cwd: dir })
    assert.equal(named.stdout, `${dir}\n`, named.stderr)
  })
})
