// A run's group is removed by rmdir first (cgroup/fs.ts removeIfEmpty): an empty group goes with
// one rmdir per hierarchy, and one that still holds a process (EBUSY) is killed, then removed.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { makeCgroup } from '../../src/run/sandbox-cgroup.js'
import { isRoot } from '../helpers.js'

describe('removing a run group', { skip: isRoot ? false : 'cgroups need root here' }, () => {
  test('an empty group is removed from every hierarchy', () => {
    const { cgroup } = makeCgroup({ memory: 64 << 20, pids: 20 }, true, true)
    assert.ok(cgroup)
    assert.ok(cgroup.joinPaths.every((d) => existsSync(d)))
    cgroup.remove()
    assert.deepEqual(
      cgroup.joinPaths.filter((d) => existsSync(d)),
      [],
    )
    cgroup.remove() // idempotent
  })

  test('a group that still holds a process has it killed, then is removed', async () => {
    const { cgroup } = makeCgroup({ memory: 64 << 20, pids: 20 }, true, true)
    assert.ok(cgroup)
    const child = spawn('sleep', ['30'], { stdio: 'ignore' })
    await once(child, 'spawn')
    for (const d of cgroup.joinPaths) writeFileSync(`${d}/cgroup.procs`, String(child.pid))
    const exited = once(child, 'exit')
    cgroup.remove()
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null]
    assert.equal(code, null)
    assert.equal(signal, 'SIGKILL')
    assert.deepEqual(
      cgroup.joinPaths.filter((d) => existsSync(d)),
      [],
    )
  })
})
