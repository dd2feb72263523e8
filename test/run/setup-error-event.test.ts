// A launcher whose setup fails writes its error event and exits before spawn() sends the go
// byte. Writing the go through the socket's stream then failed with EPIPE, which destroyed the
// socket before the event was read: `cordon run` printed nothing and exited 125, and the
// library's iteration of `events` ended empty (seen in CI, most runs on a fast failure).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from '../../src/run/spawn.js'
import { projectDir } from '../helpers.js'

test('a setup failure before the go still reaches events, exited and the CLI', async () => {
  const policy = { extends: ['default'], filesystem: [{ ro: '/srv/nonexistent:/var/www' }] }
  for (let i = 0; i < 20; i++) {
    const child = spawn(policy, 'true', [], { stdio: 'ignore', context: { cwd: projectDir() } })
    child.on('error', () => {})
    const events = []
    for await (const ev of child.events) events.push(ev)
    const r = await child.exited.catch((e: Error) => ({ code: -1, error: e }))
    assert.deepEqual(
      events.map((e) => e.event),
      ['error'],
      `run ${i}: the launcher's error event`,
    )
    assert.equal(r.code, 125, `run ${i}`)
  }
})
