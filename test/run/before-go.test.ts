// The CLI forwards signals from just before the go (StartHooks.beforeGo through spawnWith): a
// signal that came between the go and its install ended cordon by Node's default action instead
// of reaching the command. The hook runs once the sandbox is set up, before anything of the
// command, and the CLI's `kill -TERM` test (process.test.ts) shows the forwarding itself.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { spawnWith } from '../../src/run/spawn.js'

test('beforeGo runs once, before the command runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-before-go-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  chmodSync(dir, 0o777) // the sandbox's own ids write there
  const marker = join(dir, 'ran')
  const seen: boolean[] = []
  const child = spawnWith(
    { extends: ['minimal'], filesystem: [{ rw: dir }] },
    'sh',
    ['-c', `: > ${marker}`],
    { stdio: 'ignore', context: { cwd: dir } },
    { beforeGo: () => seen.push(existsSync(marker)) },
  )
  assert.deepEqual(seen, [false], 'called once, with nothing of the command run yet')
  const result = await child.exited
  assert.equal(result.code, 0, JSON.stringify(result))
  assert.ok(existsSync(marker), 'the command ran after it')
})
