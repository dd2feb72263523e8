// The end of a monitored run whose alerts wait on a receiver that does not answer: a Ctrl-C cuts
// the wait short, and the run still ends with the command's own status and says what was not
// delivered (helper-155: it ended 130, in silence).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cordon, projectDir } from '../helpers.js'

test('a Ctrl-C while alerts wait for a webhook keeps the command status and the count', async (t) => {
  let posted!: () => void
  const request = new Promise<void>((r) => (posted = r))
  const server = createServer(() => posted()) // takes the alert, never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.closeAllConnections()
    server.close()
    rmSync(join(projectDir(), 'ended'), { force: true })
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  // A shell started in the sandbox: the default shell-exec rule alerts.
  const child = spawn(
    process.execPath,
    [
      CLI,
      'run',
      '-q',
      '--rw',
      '.',
      '--monitor',
      '--alert',
      `webhook:${url}`,
      '--',
      'sh',
      '-c',
      'sh -c true; touch ended; exit 3',
    ],
    {
      cwd: projectDir(),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => (stderr += b))
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('close', (code, signal) => r([code, signal])),
  )
  await request
  // Once the command has ended (a Ctrl-C before would be the command's): its last act, and a
  // moment for its exit, well inside the 5 s the end would wait for the webhook.
  const done = join(projectDir(), 'ended')
  for (let i = 0; !existsSync(done); i++) {
    assert.ok(i < 500, `the command never ended: ${stderr}`)
    await sleep(20)
  }
  await sleep(300)
  const started = Date.now()
  child.kill('SIGINT')
  const [code, signal] = await ended
  assert.deepEqual([code, signal], [3, null], stderr)
  assert.ok(Date.now() - started < 3000, 'the Ctrl-C ended the wait (a request times out after 5 s)')
  assert.match(
    stderr,
    /1 alert\(s\) to webhook:http:\/\/127\.0\.0\.1:\d+\/hook were not delivered \(1 failed\)/,
  )
})

// helper-155: with --json the sink's failure and its count still went to stderr.
test('with --json, a sink that fails says so on the events channel, not on stderr', async () => {
  const closed = createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as AddressInfo).port
  await new Promise((r) => closed.close(r))
  const events = join(projectDir(), 'alert-end.jsonl')
  const r = cordon(
    [
      'run',
      '--json',
      '--events',
      events,
      '--monitor',
      '--alert',
      `webhook:http://127.0.0.1:${port}/x`,
      '--',
      'sh',
      '-c',
      'sh -c true',
    ],
    { cwd: projectDir() },
  )
  assert.equal(r.status, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /^cordon:/m)
  const warnings = readFileSync(events, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; step?: string; message?: string })
    .filter((e) => e.event === 'warning' && e.step === 'monitor')
    .map((e) => e.message)
  assert.match(warnings[0] ?? '', /^alerts to webhook:http:\/\/127\.0\.0\.1:\d+\/x fail \(ECONNREFUSED\)/)
  assert.match(warnings.at(-1) ?? '', /^1 alert\(s\) to webhook:.* were not delivered \(1 failed\)$/)
  rmSync(events, { force: true })
})
