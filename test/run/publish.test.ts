// The event socket a published sandbox serves (`cordon monitor ID` reads it): it exists, 0600,
// as soon as the registry record names it, and a client that connects at once, before this
// process accepts (publish.ts ACCEPT_AFTER_MS), loses nothing: it reads every line since the
// start. A run shorter than that delay never loads net's listen machinery (node:cluster,
// child_process, dgram): seen in a process of its own; a client that connected during such a
// run still reads its lines and then the end, not a reset.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { publish } from '../../src/run/publish.js'
import { starter } from '../../src/run/launcher-process.js'
import { find } from '../../src/run/registry.js'
import { spawn } from '../../src/run/spawn.js'
import { recordedEvents, ROOT } from '../helpers.js'

/** Where the spawn addon is not in use (not built, CORDON_SPAWN=child_process), net binds the
 * socket and serves it at once, as before the addon did: it is 0600 only from its listen
 * callback on, loads net, and a client reads from when the loop accepted it (keeping no lines
 * for it, and closing unaccepted ones with a reset). */
const ADDON = {
  skip: starter() === 'addon' ? false : 'the event socket is bound by the spawn addon, not in use here',
}

/** Every line a client of the socket at path reads until the server ends it. */
function readAll(path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = ''
    const socket = connect(path)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(text.split('\n').filter(Boolean)))
  })
}

test('a client that connects at once reads every line of the run', ADDON, async () => {
  const child = spawn({ extends: ['minimal'] }, 'sh', ['-c', 'echo hi; sleep 0.2'], {
    stdio: 'ignore',
    publish: true,
    context: { cwd: '/' },
  })
  const record = find(child.id)
  assert.ok(record?.events, 'the record names an event socket')
  const st = statSync(record.events)
  assert.ok(st.isSocket())
  assert.equal(st.mode & 0o777, 0o600)
  const lines = readAll(record.events)
  const seen: string[] = []
  for await (const ev of child.events) seen.push(ev.event)
  assert.equal((await child.exited).code, 0)
  const events = (await lines).map((l) => (JSON.parse(l) as { event: string }).event)
  assert.ok(events.includes('started'), `no started in ${events.join(',')}`)
  assert.deepEqual(events, seen)
  assert.throws(() => statSync(record.events!), { code: 'ENOENT' }, 'the socket is removed at the end')
})

test('a client queued before the socket is served reads every line since the start', ADDON, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-publish-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const p = publish(join(dir, 'events.sock'))
  assert.ok(p)
  p.send('{"event":"warning"}')
  p.send('{"event":"started"}', true)
  const first = readAll(p.path) // queued in the kernel: nothing accepts yet
  p.send('{"event":"syscall"}')
  await sleep(300) // served now, the queued client accepted
  const late = readAll(p.path)
  await sleep(50)
  p.send('{"event":"exit"}')
  await sleep(50)
  p.close()
  assert.deepEqual(await first, [
    '{"event":"warning"}',
    '{"event":"started"}',
    '{"event":"syscall"}',
    '{"event":"exit"}',
  ])
  assert.deepEqual(await late, ['{"event":"started"}', '{"event":"exit"}'])
})

test('a publisher closed before it serves loads no node:cluster, child_process or dgram', ADDON, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-publish-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'events.sock')
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { publish } = await import(${JSON.stringify(join(ROOT, 'build', 'src', 'run', 'publish.js'))})
const p = publish(${JSON.stringify(path)})
if (!p) throw new Error('no publisher')
p.send('{"event":"started"}', true)
p.close()
console.log(process.moduleLoadList.join(' '))`,
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
  )
  assert.equal(r.status, 0, r.stderr)
  const loaded = r.stdout.trim().split(' ')
  for (const m of ['cluster', 'child_process', 'dgram'])
    assert.ok(!loaded.includes(m), `${m} loaded: ${r.stdout}`)
  assert.throws(() => statSync(path), { code: 'ENOENT' })
})

test(
  'a client queued during a run shorter than the serving delay reads its lines, not a reset',
  ADDON,
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-publish-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const p = publish(join(dir, 'events.sock'))
    assert.ok(p)
    p.send('{"event":"started"}', true)
    const lines = readAll(p.path) // queued in the kernel: nothing accepts yet
    await sleep(20)
    p.send('{"event":"exit"}')
    p.close() // before ACCEPT_AFTER_MS: the socket was never served
    assert.deepEqual(await lines, ['{"event":"started"}', '{"event":"exit"}'])
  },
)

test('a short published run gives a client that connected at once every line', ADDON, async () => {
  const child = spawn({ extends: ['minimal'] }, 'true', [], {
    stdio: 'ignore',
    publish: true,
    context: { cwd: '/' },
  })
  // From the record file: the launcher of /bin/true may have ended by now (find() lists running
  // sandboxes), and its supervisor still serves the socket until the run's end.
  const socket = recordedEvents(child.id)
  assert.ok(socket, 'the record names an event socket')
  const lines = readAll(socket)
  const seen: string[] = []
  for await (const ev of child.events) seen.push(ev.event)
  await child.exited
  const events = (await lines).map((l) => (JSON.parse(l) as { event: string }).event)
  assert.deepEqual(events, seen)
})
