// A launcher whose setup fails writes its error event and exits before spawn() sends the go
// byte. Writing the go through the socket's stream then failed with EPIPE, which destroyed the
// socket before the event was read: `cordon run` printed nothing and exited 125, and the
// library's iteration of `events` ended empty (seen in CI, most runs on a fast failure).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from '../../src/run/spawn.js'
import { cordon, projectDir } from '../helpers.js'

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

// The launcher cut a line at 60000 bytes, its closing quote and brace with it: the exec error
// of a longer command name was not JSON, and was dropped, so that nothing said why nothing ran
// (helper-115). A string past PATH_MAX is now cut with an ellipsis, the line whole; the CLI's
// line shows the name's start, not all of it.
test('an exec failure of an oversize command name is an event and one short line', async () => {
  const name = `./${'n'.repeat(70_000)}`
  const child = spawn({ extends: ['default'] }, name, [], { stdio: 'ignore', context: { cwd: projectDir() } })
  const errors = []
  for await (const ev of child.events) if (ev.event === 'error') errors.push(ev)
  const r = await child.exited
  assert.equal(r.code, 126)
  assert.equal(errors.length, 1, 'the exec error came')
  const error = errors[0]!
  assert.equal(error.step, 'exec')
  assert.equal(error.code, 'ENAMETOOLONG')
  assert.ok(error.path?.startsWith(name.slice(0, 1000)) && error.path.endsWith('…'), 'its start, cut')
  assert.ok(error.path!.length <= 6 * 4096 + 1, 'no longer than PATH_MAX escaped')

  const cli = cordon(['run', '-q', '--', name])
  assert.equal(cli.status, 126)
  // The event's path is cut already (a long ellipsis'd string): its start and end are shown.
  assert.match(cli.stderr, /^cordon: exec \.\/n{98}…n{59}… failed: file name too long \(ENAMETOOLONG\)\n$/)

  // A name with no slash is looked for on the host too, and the hint says it is not there: in as
  // few words (helper-117: the hint carried all 70 000 bytes).
  const bare = cordon(['run', '-q', '--', 'n'.repeat(70_000)])
  assert.equal(bare.status, 127)
  assert.ok(bare.stderr.length < 1000, `${bare.stderr.length} bytes`)
  assert.match(bare.stderr, /is not on this host either/)
})
