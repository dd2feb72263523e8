// tier: unit
// A failing test never hangs the suite (issue 20, finding 16): a test that failed with a server
// still open kept its file's process alive, and `npm test` waited for it for good. Every way
// the suite is started gives node's runner a timeout, and the runner ends such a file at it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'

describe('the suite has a test timeout', () => {
  test('every node --test the scripts start carries --test-timeout', () => {
    const scripts = Object.values(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
        .scripts,
    )
    const runner = readFileSync(join(ROOT, 'scripts', 'run-tests.mjs'), 'utf8')
    const starts = [
      ...scripts.flatMap((s) => s.match(/node --test[^&|;]*/g) ?? []),
      ...(runner.match(/\['--test',[^\]]*\]/g) ?? []),
    ]
    assert.ok(starts.length >= 2, starts.join('\n'))
    for (const s of starts) assert.match(s, /--test-timeout=\d+/, s)
  })

  test('a test that fails with a server open ends at the timeout, not never', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-hang-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(
      join(dir, 'hang.test.mjs'),
      [
        "import { test } from 'node:test'",
        "import { createServer } from 'node:net'",
        "test('fails with a server open', async () => {",
        '  const server = createServer()',
        '  await new Promise((resolve) => server.listen(0, resolve))',
        "  throw new Error('failed, and the server stays open')",
        '})',
      ].join('\n'),
    )
    const r = spawnSync(process.execPath, ['--test', '--test-timeout=2000', 'hang.test.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      // Without NODE_TEST_CONTEXT: with it, node --test reports to this runner instead.
      env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.signal, null, 'the runner ended by itself')
    assert.equal(r.status, 1, r.stdout)
    assert.match(r.stdout, /# fail 1/)
  })
})
