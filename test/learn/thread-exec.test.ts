// An exec by a thread other than the leader (Go's syscall.Exec from a locked thread): the kernel
// gives the thread the process's id, so the launcher's look at "that thread's next call" never
// came, and learn took the exec for failed. The learned policy then lacked the program, and its
// run failed (or, here, waited for ever for the exec). The exec is settled at the process's next
// call (native/outcome.c exec_moved), with the leader alive and after it exited.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, projectDir, ROOT } from '../helpers.js'

const cwd = projectDir()
const program = join(cwd, 'thread-exec')
execFileSync('cc', ['-O2', '-pthread', '-o', program, join(ROOT, 'test', 'learn', 'thread-exec.c')])

for (const mode of [[], ['leader-exits']])
  test(`a thread's exec is learned as done (${mode.length ? 'the leader exited first' : 'the leader alive'})`, () => {
    const policy = join(cwd, `thread-exec${mode.join('')}.yaml`)
    const learned = cordon(['learn', '-o', policy, '--', program, ...mode], { cwd })
    assert.equal(learned.status, 0, learned.stderr)
    assert.equal(learned.stdout, 'exec from a thread\n')
    const yaml = readFileSync(policy, 'utf8')
    assert.doesNotMatch(yaml, /failed while learning/, yaml)
    assert.match(yaml, /executed (\/usr)?\/bin\/echo/)
    const run = cordon(['run', '-q', '-p', policy, '--', program, ...mode], { cwd, timeout: 20_000 })
    assert.equal(run.stdout, 'exec from a thread\n', run.stderr)
    assert.equal(run.status, 0, run.stderr)
  })

// helper-143: a thread's exec refused (a file without execute), the thread then spinning without
// a call, and the leader's own exec: the thread died in it, and its pending exec was settled as
// done at the new program's second call, granting a program that never ran.
test("a thread's refused exec, then the leader's, is not learned as the thread's", () => {
  const script = join(cwd, 'not-executable')
  writeFileSync(script, '#!/bin/sh\necho never\n', { mode: 0o644 })
  const policy = join(cwd, 'thread-exec-refused.yaml')
  const learned = cordon(['learn', '-o', policy, '--', program, 'refused', script], { cwd })
  assert.equal(learned.status, 0, learned.stderr)
  const yaml = readFileSync(policy, 'utf8')
  assert.doesNotMatch(yaml, /executed [^\n]*not-executable/, yaml)
  assert.match(yaml, /failed while learning[^]*execute [^\n]*not-executable/, yaml)
})
