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

test(
  'the spawn addon runs clean under ASan and UBSan, failures included',
  { skip: (!existsSync(addon) && 'no ASan build (make sanitize)') || (!libasan && 'no libasan here') },
  () => {
    const r = spawnSync(process.execPath, ['-e', SCRIPT, addon], {
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
