// A listener of 'event' that throws raises the program's uncaught exception, as a stream's
// listener does; it must not take the other lines read with that one: they were lost for every
// consumer (the listener, `events`, the registry's subscribers), 'started' among them, and with
// it `pid` and 'spawn'. Run in a node of its own, whose uncaughtException handler is the test's.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { projectDir } from '../helpers.js'

const SCRIPT = `
const { spawn } = await import(process.argv[1])
const thrown = []
process.on('uncaughtException', (e) => thrown.push(e.message))
const out = []
for (let i = 0; i < 5; i++) {
  const child = spawn({ extends: ['default'] }, 'cat', ['/etc/hostname', '/etc/hostname', '/etc/hostname'], {
    stdio: 'ignore', watch: ['openat'], context: { cwd: process.argv[2] },
  })
  const heard = []
  let spawned = false
  child.on('spawn', () => (spawned = true))
  child.on('event', (ev) => { heard.push(ev.event); throw new Error('listener ' + ev.event) })
  const iterated = []
  for await (const ev of child.events) iterated.push(ev.event)
  const r = await child.exited
  out.push({ heard, iterated, spawned, pid: typeof child.pid, code: r.code })
}
await new Promise((r) => setTimeout(r, 100))
console.log(JSON.stringify({ out, thrown: thrown.length }))
`

test("a throwing 'event' listener loses no event, for itself or any other consumer", () => {
  const spawnJs = new URL('../../src/run/spawn.js', import.meta.url).href
  const r = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT, spawnJs, projectDir()], {
      encoding: 'utf8',
      timeout: 60_000,
    }),
  ) as {
    out: { heard: string[]; iterated: string[]; spawned: boolean; pid: string; code: number }[]
    thrown: number
  }
  let heard = 0
  for (const [i, run] of r.out.entries()) {
    assert.equal(run.code, 0, `run ${i}`)
    assert.deepEqual(run.heard, run.iterated, `run ${i}: the listener and the iteration saw the same events`)
    assert.ok(run.heard.includes('started') && run.heard.includes('exit'), `run ${i}: ${run.heard.join()}`)
    assert.ok(run.heard.filter((e) => e === 'syscall').length >= 3, `run ${i}: ${run.heard.join()}`)
    assert.ok(run.spawned && run.pid === 'number', `run ${i}: 'spawn' and pid`)
    heard += run.heard.length
  }
  assert.equal(r.thrown, heard, 'each throw is an uncaught exception')
})

// The cgroup's samples were pushed inside a try that also caught the listener's throw: it was
// swallowed, and one thrown on an `oom` event would have told that kill again at each sample.
const STATS_SCRIPT = `
const { spawn } = await import(process.argv[1])
let thrown = 0
process.on('uncaughtException', () => thrown++)
const child = spawn({ extends: ['default'] }, 'sleep', ['0.3'], {
  stdio: 'ignore', cgroup: true, statsIntervalMs: 20, context: { cwd: process.argv[2] },
})
let stats = 0
child.on('event', (ev) => { if (ev.event === 'stats') { stats++; throw new Error('stats listener') } })
const r = await child.exited
await new Promise((res) => setTimeout(res, 100))
console.log(JSON.stringify({ code: r.code, stats, thrown }))
`

test("a throw in a listener of the cgroup's samples is an uncaught exception, not swallowed", (t) => {
  if (process.getuid?.() !== 0) return t.skip('a cgroup for the run needs root')
  const spawnJs = new URL('../../src/run/spawn.js', import.meta.url).href
  const r = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', STATS_SCRIPT, spawnJs, projectDir()], {
      encoding: 'utf8',
      timeout: 60_000,
    }),
  ) as { code: number; stats: number; thrown: number }
  assert.equal(r.code, 0)
  assert.ok(r.stats > 0, 'stats events came')
  assert.equal(r.thrown, r.stats)
})
