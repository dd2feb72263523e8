// spawn()'s launcher starts without the caller's event loop (issue 23). It read the plan to the
// socket's shutdown, which Node sends only on the loop's next turn: a caller that kept working
// after spawn() returned (a request handler, a loop of spawns) held every sandbox back until it
// yielded. The launcher now reads the plan to the length its header gives.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { spawn } from '../../src/run/spawn.js'

test('the command runs while the caller is still busy after spawn()', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-early-'))
  chmodSync(dir, 0o777) // the sandbox's ids may be remapped (root's are)
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const marker = join(dir, 'ran')
  const policy = {
    namespaces: { user: true, pid: true, mount: true },
    filesystem: [{ ro: '/' }, { proc: '/proc' }, { dev: '/dev' }, { rw: dir }],
  }
  const p = spawn(policy, 'touch', [marker], { stdio: 'ignore', context: { cwd: '/' } })
  // Busy without yielding to the event loop, as long as it takes (bounded for the old launcher).
  const until = Date.now() + 20_000
  while (!existsSync(marker) && Date.now() < until);
  const ran = existsSync(marker)
  const r = await p.exited
  assert.equal(r.code, 0, JSON.stringify(r))
  assert.ok(ran, 'the command waited for the caller to return to its event loop')
})
