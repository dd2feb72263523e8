// The addon's forwardAll passes on SIGSEGV, SIGPIPE, SIGABRT and the rest of forward-signal.h's
// forwarded_sent only when another process sent them, as runc's Go runtime does: `kill -SEGV
// <cordon>` ended cordon and, under cordon-oci, left the container running (helper-131). The
// process's own stay its own: V8's SIGSEGV handler still turns a WebAssembly bounds fault into a
// trap, a write to a closed socket is still EPIPE (Node ignores SIGPIPE), an abort(3) still
// aborts, and the actions come back at the stop.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test, type TestContext } from 'node:test'
import { loadAddon } from '../../src/host/addon.js'

const SENT = [
  'SIGSEGV',
  'SIGBUS',
  'SIGFPE',
  'SIGILL',
  'SIGTRAP',
  'SIGSYS',
  'SIGABRT',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGPIPE',
] as const

const dir = mkdtempSync(join(tmpdir(), 'cordon-forward-sent-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Prints the number of every signal of SENT it gets, after "ready". */
const TARGET =
  `import ctypes, signal, time\n` +
  `ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n` + // PR_SET_PDEATHSIG: gone with the forwarder, which dies here
  `for s in (${SENT.map((s) => `signal.${s}`).join(', ')}):\n` +
  `  signal.signal(s, lambda n, f: print(n, flush=True))\n` +
  `print("ready", flush=True)\ntime.sleep(60)\n`

/** Starts TARGET, passes every signal on to it, makes its own fault, socket write and (with
 * "abort") abort, says "armed", and on a line of stdin stops forwarding and says "stopped". */
const FORWARDER =
  `import { loadAddon } from ${JSON.stringify(new URL('../../src/host/addon.js', import.meta.url).href)}\n` +
  `import { spawn } from 'node:child_process'\n` +
  `import { closeSync, writeSync } from 'node:fs'\n` +
  `import { createInterface } from 'node:readline'\n` +
  `const addon = loadAddon()\n` +
  `const target = spawn('python3', ['-c', ${JSON.stringify(TARGET)}], { stdio: ['ignore', 'pipe', 'inherit'] })\n` +
  // By line: a pipe may split "25\n" in two (CI: "target 25target \n").
  `let ready\n` +
  `const started = new Promise((go) => (ready = go))\n` +
  `createInterface({ input: target.stdout }).on('line', (l) => l === 'ready' ? ready() : console.log('target ' + l))\n` +
  `await started\n` +
  `console.log('forwardAll', addon.forwardAll(target.pid, false, []))\n` +
  `const wasm = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, 3, 2, 1, 0, ` +
  `5, 3, 1, 0, 1, 7, 5, 1, 1, 0x66, 0, 0, 0x0a, 9, 1, 7, 0, 0x20, 0, 0x28, 2, 0, 0x0b])\n` +
  `const { instance } = await WebAssembly.instantiate(wasm)\n` +
  `try { instance.exports.f(0x7ffffff0); console.log('no trap') } catch (e) { console.log('own fault:', e.message) }\n` +
  `const [a, b] = addon.socketpair()\n` +
  `closeSync(b)\n` +
  `try { writeSync(a, 'x') } catch (e) { console.log('own write:', e.code) }\n` +
  `if (process.argv[2] === 'abort') process.abort()\n` +
  `console.log('armed')\n` +
  `process.stdin.once('data', () => { addon.forwardAll(0, false, []); console.log('stopped') })\n` +
  `process.once('exit', () => target.kill('SIGKILL'))\n`
const script = join(dir, 'forwarder.mjs')
writeFileSync(script, FORWARDER)

interface Run {
  child: ChildProcess
  out: () => string
  until: (text: string) => Promise<void>
  end: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** FORWARDER run without core dumps (it dies of SIGSEGV and SIGABRT here). */
function forwarder(t: TestContext, arg = ''): Run {
  const child = spawn('sh', ['-c', `ulimit -c 0; exec "${process.execPath}" "${script}" ${arg}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  // A failed assertion leaves it running, and the runner waiting on it (its target with it).
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  const waiting: (() => void)[] = []
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8')
    stream?.on('data', (text: string) => {
      out += text
      for (const w of waiting.splice(0)) w()
    })
  }
  const end = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  )
  const until = async (text: string) => {
    const limit = Date.now() + 15_000
    while (!out.includes(text)) {
      assert.ok(Date.now() < limit, `no "${text}" in: ${out}`)
      await Promise.race([
        new Promise<void>((go) => waiting.push(go)),
        new Promise((go) => setTimeout(go, 200)),
      ])
    }
  }
  return { child, out: () => out, until, end }
}

const skip = !loadAddon()?.forwardAll && 'the addon is not built here'

test(
  'sent, SIGSEGV, SIGPIPE and the like are passed on; the own fault, write and action are not',
  { skip },
  async (t) => {
    const run = forwarder(t)
    await run.until('armed')
    assert.match(run.out(), /forwardAll 0\nown fault: memory access out of bounds\nown write: EPIPE\narmed\n/)
    for (const s of SENT) {
      process.kill(run.child.pid ?? 0, s)
      await run.until(`target ${constants.signals[s]}\n`)
    }
    run.child.stdin?.write('stop\n')
    await run.until('stopped')
    // The actions of before: Node's ignored SIGPIPE, then V8's SIGSEGV handler, which ends it.
    process.kill(run.child.pid ?? 0, 'SIGPIPE')
    await new Promise((go) => setTimeout(go, 300))
    process.kill(run.child.pid ?? 0, 'SIGSEGV')
    assert.deepEqual(await run.end, { code: null, signal: 'SIGSEGV' }, run.out())
    const passed = run.out().match(/^target \d+$/gm) ?? []
    assert.equal(passed.length, SENT.length, `each passed on once: ${run.out()}`)
  },
)

test('its own abort(3) aborts it and reaches no one', { skip }, async (t) => {
  const run = forwarder(t, 'abort')
  assert.deepEqual(await run.end, { code: null, signal: 'SIGABRT' }, run.out())
  assert.doesNotMatch(run.out(), /target|armed/)
})
