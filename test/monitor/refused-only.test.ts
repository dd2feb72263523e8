// A rule that fires only on refused calls (the default `escape-attempt`) watches its syscalls
// only where the policy refuses them. helper-95: under a policy that allows ptrace (a debugger's,
// examples/debug.yaml) every ptrace call was stopped for the launcher anyway, so `strace` of 200
// `ls` ran 8× slower under --monitor, and a signal landing in the wait failed calls with EINTR.
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, projectDir, ROOT } from '../helpers.js'

// 200 PTRACE_PEEKDATA calls on a pid that is not the caller's tracee: ESRCH, or EPERM refused.
const PEEKS =
  'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfor _ in range(200): libc.ptrace(2, os.getppid(), 0, 0)\nprint(os.strerror(ctypes.get_errno()))'

function run(policy: string[], name: string) {
  const events = join(projectDir(), `${name}.jsonl`)
  rmSync(events, { force: true })
  const r = cordon(['run', '-q', '--monitor', '--events', events, ...policy, '--', 'python3', '-c', PEEKS])
  const lines = readFileSync(events, 'utf8').split('\n').filter(Boolean)
  const ptrace = lines.filter((l) => l.includes('"syscall":"ptrace"') && l.startsWith('{"event":"syscall"'))
  return { r, ptrace, alerts: lines.filter((l) => l.includes('"rule":"escape-attempt"')) }
}

describe('monitor: rules on refusals watch only refusals', () => {
  test('ptrace the policy allows is never stopped, nor reported', () => {
    const { r, ptrace, alerts } = run(['-p', join(ROOT, 'examples', 'debug.yaml')], 'allowed')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'No such process\n')
    assert.equal(ptrace.length, 0, ptrace.slice(0, 3).join('\n'))
    assert.equal(alerts.length, 0)
  })

  test('ptrace the policy refuses is reported, and escape-attempt fires', () => {
    const { r, ptrace, alerts } = run([], 'refused')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'Operation not permitted\n')
    assert.ok(ptrace.length > 0, 'the refusals are reported')
    assert.ok(alerts.length > 0, r.stderr)
  })
})
