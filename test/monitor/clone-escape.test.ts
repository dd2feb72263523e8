// A refused clone with namespace flags is the same attempt as a refused unshare, and raises the
// same escape-attempt alert under --monitor (attack review, 2026-12-02). Process creation itself
// is never notified (README, "Observation"): only the refusal is reported. clone3's ENOSYS,
// which every thread libc starts meets before it falls back to clone, is neither notified (an
// interrupted notification would turn it into EINTR, a failed pthread_create) nor alerted.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

const ATTEMPTS = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
r = libc.syscall(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)   # clone
if r == 0: os._exit(0)
print('clone', r, ctypes.get_errno())
args = (ctypes.c_uint64 * 11)(CLONE_NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0)
r = libc.syscall(435, args, ctypes.sizeof(args))             # clone3
if r == 0: os._exit(0)
print('clone3', r, ctypes.get_errno())
`

test(
  'a refused clone with CLONE_NEWUSER raises escape-attempt; threads raise nothing',
  { skip: process.arch !== 'x64' && 'x86_64 syscall numbers' },
  () => {
    const alerts = join(projectDir(), 'clone-alerts.jsonl')
    const r = cordon(['run', '--monitor', '--alert', `file:${alerts}`, '--', 'python3', '-c', ATTEMPTS])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^clone -1 1$/m)
    assert.match(r.stdout, /^clone3 -1 38$/m)
    const fired = readFileSync(alerts, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rule: string; output: string })
      .filter((a) => a.rule === 'escape-attempt')
      .map((a) => a.output.split(' ')[1])
    assert.ok(fired.includes('clone'), `escape-attempt alerts: ${fired.join(', ')}`)
    assert.ok(!fired.includes('clone3'), `clone3's ENOSYS is libc's fallback: ${fired.join(', ')}`)

    const threads = join(projectDir(), 'thread-alerts.jsonl')
    const code =
      'import threading\nts = [threading.Thread(target=lambda: None) for i in range(8)]\n' +
      '[x.start() for x in ts]; [x.join() for x in ts]; print("threads ok")'
    const t = cordon(['run', '--monitor', '--alert', `file:${threads}`, '--', 'python3', '-c', code])
    assert.equal(t.status, 0, t.stderr)
    assert.equal(t.stdout, 'threads ok\n')
    assert.equal(existsSync(threads) ? readFileSync(threads, 'utf8') : '', '', 'no alert for threads')
  },
)
