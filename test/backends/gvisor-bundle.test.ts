// gVisor's bundle: the pids limit split between gVisor's kernel (the program's tasks, as
// RLIMIT_NPROC) and the host cgroup (the whole sandbox, with room for runsc and for the ptrace
// platform's stub processes, bounded by the host's pid_max). The behaviour on the real runtime
// is in orphans.test.ts (`--pids 20`) and the escape battery.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RUNSC_OWN_TASKS, sandboxPidsLimit, splitPidsLimit } from '../../src/export/gvisor.js'
import type { OciConfig } from '../../src/export/oci-bundle.js'

describe('gVisor pids limit', () => {
  test('the host bound: runsc’s room and 8 per task, at most half of pid_max, at least N + room', () => {
    const cases = [
      { name: 'small', pids: 20, pidMax: 32768, want: 352 },
      { name: 'default profile, pid_max 32768', pids: 4096, pidMax: 32768, want: 16384 },
      { name: 'default profile, pid_max 4194304', pids: 4096, pidMax: 4194304, want: 32960 },
      { name: 'above half of pid_max', pids: 20000, pidMax: 32768, want: 20000 + RUNSC_OWN_TASKS },
    ]
    for (const c of cases) assert.equal(sandboxPidsLimit(c.pids, c.pidMax), c.want, c.name)
  })

  test('the program’s limit is RLIMIT_NPROC, lowered to a smaller one the policy sets', () => {
    const config = (rlimits?: { type: string; hard: number; soft: number }[]) =>
      ({
        process: { ...(rlimits ? { rlimits } : {}) },
        linux: { resources: { pids: { limit: 20 } } },
      }) as unknown as OciConfig
    const plain = config()
    splitPidsLimit(plain, 20)
    assert.deepEqual(plain.process.rlimits, [{ type: 'RLIMIT_NPROC', hard: 20, soft: 20 }])
    assert.equal((plain.linux.resources as { pids: { limit: number } }).pids.limit, sandboxPidsLimit(20))
    const own = config([
      { type: 'RLIMIT_NOFILE', hard: 64, soft: 64 },
      { type: 'RLIMIT_NPROC', hard: 10, soft: 5 },
    ])
    splitPidsLimit(own, 20)
    assert.deepEqual(own.process.rlimits, [
      { type: 'RLIMIT_NOFILE', hard: 64, soft: 64 },
      { type: 'RLIMIT_NPROC', hard: 10, soft: 5 },
    ])
    const none = config()
    splitPidsLimit(none, undefined)
    assert.equal(none.process.rlimits, undefined)
  })
})
