// The spawn addon (native/spawn-addon.c) under AddressSanitizer and UBSan: its ASan build
// (`make sanitize`) is loaded into a node that has libasan preloaded, and every call, the
// failing ones included (bad arguments, a missing program, too many fds, NUL bytes, a reaped
// child), must run without a report. Leak detection is off: Node's own exit leaks by design.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { nativePath } from '../../src/host/launcher.js'

const addon = nativePath('cordon-spawn-asan.node')
const libasan = (() => {
  try {
    const path = execFileSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim()
    return path.startsWith('/') && existsSync(path) ? path : undefined
  } catch {
    return undefined
  }
})()

const SCRIPT = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
const a = m.exports
const expectThrow = (f) => { try { f() } catch { return } throw new Error('no throw') }
const env = ['A=b', 'LONG=' + 'x'.repeat(100000)]
const argv = Array.from({ length: 2000 }, (_, i) => 'arg' + i)
const ok = a.spawn('/bin/sh', ['sh', '-c', 'exit 3', ...argv], env, [0, 1, 2])
if (ok.length !== 2) throw new Error('spawn failed: ' + ok)
let w
while (!(w = a.wait(ok[1]))) {}
if (w[0] !== 3) throw new Error('status ' + w)
if (a.kill(ok[1], 9) !== -3) throw new Error('kill after reap did not say ESRCH')
if (a.wait(ok[1])[0] >= 0) throw new Error('second wait answered')
a.close(ok[1])
if (a.spawn('/nonexistent', ['x'], [], [0, 1, 2])[0] !== -2) throw new Error('ENOENT')
if (a.spawn('/bin/true', ['true'], [], [999])[0] !== -9) throw new Error('EBADF')
expectThrow(() => a.spawn('/bin/true', ['a\\0b'], [], [0]))
expectThrow(() => a.spawn('/bin/true', ['true'], ['A\\0=b'], [0]))
expectThrow(() => a.spawn('/bin/true', ['true'], [], Array(17).fill(0)))
expectThrow(() => a.spawn('/bin/true', ['true'], [], [-1]))
expectThrow(() => a.spawn('/bin/true', [1], [], [0]))
expectThrow(() => a.spawn('/bin/true'))
expectThrow(() => a.wait('x'))
expectThrow(() => a.kill(1))
const pair = a.socketpair()
a.close(pair[0]); a.close(pair[1])
if (a.close(pair[0]) !== -9) throw new Error('double close')
if (!a.usable()) throw new Error('not usable')
console.log('clean')
`

// watch(): lines split at a UTF-8 character and at the read size, a line longer than the
// partial limit, a callback that throws, unwatch before and after the end, bad arguments.
const WATCH_SCRIPT = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
const a = m.exports
const fs = require('fs')
const expectThrow = (f) => { try { f() } catch { return } throw new Error('no throw') }
expectThrow(() => a.watch(0))
expectThrow(() => a.watch(-1, () => {}))
expectThrow(() => a.watch(0, 'x'))
if (a.watch(999, () => {}) >= 0) throw new Error('watch of a closed fd')
if (a.unwatch(123456) !== -2) throw new Error('unwatch of an unknown id')
const writer = "const fs = require('fs'); fs.writeSync(1, Buffer.from([0xe2])); " +
  "setTimeout(() => { fs.writeSync(1, Buffer.concat([Buffer.from([0x82, 0xac, 0x0a]), " +
  "Buffer.alloc(5 << 20, 0x78), Buffer.from([10]), Buffer.from('last')])) }, 50)"
const [p, c] = a.socketpair()
const child = a.spawn(process.execPath, ['node', '-e', writer], [], [0, c, 2])
a.close(c)
let text = ''
const ends = []
const id = a.watch(p, (t, end) => {
  if (t !== undefined) text += t
  if (end !== undefined) ends.push(end)
})
if (!(id > 0)) throw new Error('watch: ' + id)
const thrown = []
process.on('uncaughtException', (e) => thrown.push(e.message))
const [p2, c2] = a.socketpair()
a.watch(p2, (t) => { if (t) throw new Error('boom ' + t.trim()) })
fs.writeSync(c2, 'one\\n')
const [p3, c3] = a.socketpair()
const id3 = a.watch(p3, () => { throw new Error('called after unwatch') })
if (a.unwatch(id3) !== 0) throw new Error('unwatch')
let epipe = false
try { fs.writeSync(c3, 'x') } catch (e) { epipe = e.code === 'EPIPE' }
if (!epipe) throw new Error('the fd outlived unwatch')
const check = () => {
  if (ends.length === 0) return setTimeout(check, 20)
  if (text !== '\\u20ac\\n' + 'x'.repeat(5 << 20) + '\\nlast') throw new Error('text: ' + text.length + ' ' + JSON.stringify(text.slice(0, 8)))
  if (ends.join() !== '0') throw new Error('ends ' + ends)
  if (a.unwatch(id) !== -2) throw new Error('unwatch after the end')
  if (thrown.join() !== 'boom one') throw new Error('thrown ' + thrown)
  while (!a.wait(child[1])) {}
  a.close(child[1]); a.close(c2); a.close(c3)
  console.log('clean')
  process.exit(0)
}
check()
`

// A line longer than the partial limit goes over in pieces: each piece ends at a whole UTF-8
// character (4-byte ones here, written at odd offsets), so no piece decodes to U+FFFD.
const LONG_UTF8_SCRIPT = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
const a = m.exports
const line = '\\u{1f600}'.repeat(10 << 18) + '\\n'
const writer = "const fs = require('fs'); const b = Buffer.from('\\u{1f600}'.repeat(10 << 18) + '\\\\n'); " +
  "for (let o = 0; o < b.length; ) o += fs.writeSync(1, b, o, Math.min(b.length - o, 65537))"
const [p, c] = a.socketpair()
const child = a.spawn(process.execPath, ['node', '-e', writer], [], [0, c, 2])
a.close(c)
let text = ''
let pieces = 0
a.watch(p, (t, end) => {
  if (t !== undefined) { text += t; pieces++ }
  if (end === undefined) return
  while (!a.wait(child[1])) {}
  a.close(child[1])
  if (text !== line) throw new Error('text: ' + text.length + ' U+FFFD: ' + (text.match(/\\ufffd/g) || []).length)
  if (pieces < 2) throw new Error('one piece: the limit was not reached')
  console.log('clean')
})
`

// map(): a file mapped whole, a write that stays this process's, files that cannot be mapped,
// bad arguments; then every mapping dropped and collected (unmapped by the buffer's finalizer).
const MAP_SCRIPT = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
const a = m.exports
const fs = require('fs'), os = require('os'), path = require('path')
const expectThrow = (f) => { try { f() } catch { return } throw new Error('no throw') }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-map-'))
const f = path.join(dir, 'f')
fs.writeFileSync(f, Buffer.concat([Buffer.from('HDR!' + 'abc'.repeat(100000)), Buffer.from([0xe9])]))
const bytes = fs.readFileSync(f)
let [buf, mtime] = a.map(f)
if (!buf.equals(bytes)) throw new Error('bytes')
if (mtime !== fs.statSync(f).mtimeMs) throw new Error('mtime ' + mtime)
buf[0] = 0x21
if (!fs.readFileSync(f).equals(bytes)) throw new Error('a write reached the file')
fs.writeFileSync(path.join(dir, 'empty'), '')
for (const p of [path.join(dir, 'missing'), dir, path.join(dir, 'empty')])
  if (a.map(p) !== null) throw new Error('mapped ' + p)
expectThrow(() => a.map())
expectThrow(() => a.map('a\\0b'))
expectThrow(() => a.map(1))
for (let i = 0; i < 50; i++) a.map(f)
buf = undefined
const settle = () => new Promise((r) => setImmediate(r))
;(async () => {
  for (let i = 0; i < 4; i++) { gc(); await settle() }
  if (!a.map(f)[0].equals(bytes)) throw new Error('after collection')
  fs.rmSync(dir, { recursive: true })
  console.log('clean')
})()
`

// sameReads(): every op on answers that are right, wrong, cut and one byte long; encodings cut at
// every byte (each is refused whole, with nothing read), more reads than the result holds, and
// a path with a NUL.
const SAME_READS_SCRIPT = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
const a = m.exports
const expectThrow = (f) => { try { f() } catch { return } throw new Error('no throw') }
const enc = (reads) => Buffer.concat(reads.map(([op, path, answer]) => {
  const p = Buffer.from(path), s = Buffer.from(answer), h = Buffer.alloc(5), l = Buffer.alloc(4)
  h[0] = op; h.writeUInt32LE(p.length, 1); l.writeUInt32LE(s.length, 0)
  return Buffer.concat([h, p, l, s])
}))
const st = require('fs').lstatSync('/etc')
const reads = [
  [1, '/etc', st.mode + ':' + st.uid], [1, '/nonexistent', '!ENOENT'], [2, '/etc', '!EINVAL'],
  [3, '/etc', '=' + require('fs').readdirSync('/etc').join('\\0')], [4, '/proc/self', 'x'],
  [5, '/proc/self/uid_map', '=' + require('fs').readFileSync('/proc/self/uid_map', 'utf8')],
  [5, '/etc', '!EISDIR'], [2, '/proc/self/exe', ''], [3, '/etc', ''], [5, '/proc/self/status', 'a'],
  [9, '/etc', 'x'], [1, 'a\\0b', '!ENOENT'], [1, '', '!ENOENT'],
]
const bytes = enc(reads)
const same = Buffer.alloc(reads.length)
if (a.sameReads(bytes, same) !== reads.length) throw new Error('count')
if (same.join('') !== '1111011000000') throw new Error('same ' + same.join(''))
for (let cut = 1; cut < bytes.length; cut++) {
  const r = a.sameReads(bytes.subarray(0, cut), Buffer.alloc(reads.length))
  if (r !== -1 && !(r >= 0 && r < reads.length)) throw new Error('cut ' + cut + ': ' + r)
}
if (a.sameReads(bytes, Buffer.alloc(3)) !== -1) throw new Error('more reads than the result holds')
if (a.sameReads(Buffer.alloc(0), Buffer.alloc(0)) !== 0) throw new Error('empty')
expectThrow(() => a.sameReads(bytes))
expectThrow(() => a.sameReads('x', same))
// The encoding in memory another thread rewrites meanwhile: C reads a copy of its own.
const { Worker } = require('worker_threads')
const shared = Buffer.from(new SharedArrayBuffer(bytes.length))
bytes.copy(shared)
const flipper = new Worker(
  'const { workerData: b } = require("worker_threads"); const v = new Uint8Array(b);' +
    'for (const end = Date.now() + 300; Date.now() < end; ) for (let i = 1; i < v.length; i += 7) v[i] ^= 0x80',
  { eval: true, workerData: shared.buffer },
)
const until = Date.now() + 300
while (Date.now() < until) a.sameReads(shared, Buffer.alloc(reads.length))
flipper.terminate().then(() => console.log('clean'))
`

const CASES: [string, string, string[]?][] = [
  [
    'its map() runs clean under ASan and UBSan: ranges, writes, failures, collection',
    MAP_SCRIPT,
    ['--expose-gc'],
  ],
  ['a line longer than the partial limit is never cut inside a UTF-8 character', LONG_UTF8_SCRIPT],
  [
    'its sameReads() runs clean under ASan and UBSan: every op, cut encodings, bad arguments',
    SAME_READS_SCRIPT,
  ],
  ['the spawn addon runs clean under ASan and UBSan, failures included', SCRIPT],
  ['its watch() runs clean under ASan and UBSan: split lines, a throw, unwatch', WATCH_SCRIPT],
]

for (const [name, script, flags = []] of CASES)
  test(
    name,
    { skip: (!existsSync(addon) && 'no ASan build (make sanitize)') || (!libasan && 'no libasan here') },
    () => {
      const r = spawnSync(process.execPath, [...flags, '-e', script, addon], {
        encoding: 'utf8',
        env: {
          ...process.env,
          LD_PRELOAD: libasan,
          ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:exitcode=99',
          UBSAN_OPTIONS: 'halt_on_error=1:exitcode=98',
        },
      })
      assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error/)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), 'clean')
    },
  )
