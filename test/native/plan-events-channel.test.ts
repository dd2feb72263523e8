// spawn()'s channel (issue 23): one socket carries the plan to the launcher, read to the length
// its header gives, and then its events back, so that each spawn opens one pipe, not two.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { Duplex } from 'node:stream'
import { test } from 'node:test'
import { compilePlan, encodePlan, resolvePolicy } from '../../src/index.js'
import { LAUNCHER_UNDER_TEST } from '../helpers.js'

const plan = encodePlan(
  compilePlan(resolvePolicy({ policy: { extends: ['minimal'] }, baseDir: '/', label: 'minimal' }, '/'), {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: '/',
    arch: process.arch,
  }),
)

test('--plan-fd N --events-fd N: the plan comes in and the events go out on one socket', async () => {
  const child = spawn(
    LAUNCHER_UNDER_TEST,
    ['--plan-fd', '3', '--events-fd', '3', '--', 'sh', '-c', 'exit 3'],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    },
  )
  const channel = child.stdio[3] as Duplex
  channel.end(plan)
  let text = ''
  let stderr = ''
  channel.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise((resolve) => child.once('close', resolve))
  assert.equal(code, 3, stderr)
  const events = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; code?: number })
  assert.ok(
    events.some((e) => e.event === 'started'),
    `no started event on the plan's socket: ${text}`,
  )
  assert.deepEqual(
    events.filter((e) => e.event === 'exit'),
    [{ event: 'exit', code: 3 }],
  )
})

// attack5's review (a pin): a writer that stops mid-plan (its process died, the socket was shut
// early) must not leave the launcher a shorter plan to run, at an op boundary or anywhere else.
test('a plan cut short on the shared socket runs nothing', async () => {
  for (const cut of [1, 16, plan.length - 12]) {
    const child = spawn(
      LAUNCHER_UNDER_TEST,
      ['--plan-fd', '3', '--events-fd', '3', '--', 'sh', '-c', 'echo ran'],
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    )
    const channel = child.stdio[3] as Duplex
    channel.on('error', () => {})
    channel.end(plan.subarray(0, plan.length - cut))
    let out = ''
    let err = ''
    channel.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()))
    const code = await new Promise((resolve) => child.once('close', resolve))
    assert.notEqual(code, 0, `a plan ${cut} bytes short was run`)
    assert.equal(out, '', `the command ran on a plan ${cut} bytes short`)
    assert.match(err, /truncated|plan/, err)
  }
})

// Issue 23: Node sends a socket's shutdown only on its event loop's next turn, so a launcher that
// read to the writer's shutdown waited for spawn()'s bookkeeping and the caller's code after it.
// It reads to the length in the plan's header: the command runs while the writer keeps its end.
test('the launcher starts on the whole plan, without waiting for the writer to end', async () => {
  const child = spawn(
    LAUNCHER_UNDER_TEST,
    ['--plan-fd', '3', '--events-fd', '3', '--', 'sh', '-c', 'exit 3'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  )
  const channel = child.stdio[3] as Duplex
  channel.on('error', () => {})
  channel.write(plan)
  let text = ''
  let stderr = ''
  channel.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([
    new Promise((resolve) => child.once('exit', resolve)),
    new Promise((resolve) => (timer = setTimeout(() => resolve('waiting'), 10_000))),
  ])
  clearTimeout(timer)
  child.kill('SIGKILL')
  channel.destroy()
  assert.equal(code, 3, `the launcher waited for the end of the socket (${stderr}${text})`)
})

/** The launcher on spawn()'s channel with --go-fd 3: the plan sent, the go not yet. */
function startWaiting(command: string) {
  const child = spawn(
    LAUNCHER_UNDER_TEST,
    ['--plan-fd', '3', '--events-fd', '3', '--go-fd', '3', '--', 'sh', '-c', command],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  )
  const channel = child.stdio[3] as Duplex
  channel.on('error', () => {})
  channel.write(plan)
  const seen = { out: '', events: '' }
  child.stdout!.on('data', (chunk: Buffer) => (seen.out += chunk.toString()))
  channel.on('data', (chunk: Buffer) => (seen.events += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (seen.events += chunk.toString()))
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve))
  return { child, channel, seen, closed }
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; step?: string; code?: string | number })

// Issue 23: spawn() sends the plan first and proves it (a reused plan's host reads, the registry
// record) while the launcher sets the sandbox up; nothing of the command runs before the go.
test('--go-fd: the sandbox is set up, but nothing of the command runs before the go byte', async () => {
  const run = startWaiting('echo ran; exit 4')
  // Long enough for the whole setup on a loaded machine (a start takes ~20 ms).
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(run.child.exitCode, null, `the launcher ended before its go: ${run.seen.events}`)
  assert.equal(run.seen.out, '', 'the command ran before its go')
  assert.ok(!lines(run.seen.events).some((e) => e.event === 'started'), run.seen.events)
  run.channel.end('g')
  assert.equal(await run.closed, 4, run.seen.events)
  assert.equal(run.seen.out, 'ran\n')
  assert.ok(
    lines(run.seen.events).some((e) => e.event === 'started'),
    run.seen.events,
  )
})

test('--go-fd: end of file or another byte instead of the go runs nothing of the command', async () => {
  for (const abort of ['eof', 'x'] as const) {
    const run = startWaiting('echo ran')
    await new Promise((resolve) => setTimeout(resolve, 200))
    if (abort === 'eof') run.channel.end()
    else run.channel.end(abort)
    assert.equal(await run.closed, 125, run.seen.events)
    assert.equal(run.seen.out, '', `the command ran without its go (${abort})`)
    const events = lines(run.seen.events)
    assert.ok(!events.some((e) => e.event === 'started'), run.seen.events)
    assert.ok(
      events.some((e) => e.event === 'error' && e.step === 'wait for go' && e.code === 'ECANCELED'),
      run.seen.events,
    )
  }
})
