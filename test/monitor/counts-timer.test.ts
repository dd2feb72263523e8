// Per-syscall counts arrive on a timer, whatever else keeps the launcher's poll busy: with
// process events on, the host-wide proc connector wakes it for every fork on the host, and the
// counts used to wait for a quiet 250 ms that never came.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { describe, test } from 'node:test'
import { isRoot, projectDir } from '../helpers.js'
import { spawn } from '../../src/run/spawn.js'

describe('syscall counts', () => {
  test(
    'are reported every 250 ms while the host forks busily',
    { skip: !isRoot && 'the proc connector needs root' },
    async () => {
      // Host-wide process churn: each fork and exit is a proc connector message to the launcher.
      const churn = spawnChild('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' })
      try {
        const p = spawn(
          { extends: ['default'] },
          'sh',
          ['-c', 'i=0; while [ $i -lt 30 ]; do cat /etc/hostname >/dev/null; sleep 0.05; i=$((i+1)); done'],
          { stdio: 'ignore', watch: ['openat'], processEvents: true, context: { cwd: projectDir() } },
        )
        const reports: number[] = []
        for await (const ev of p.events)
          if (ev.event === 'syscall-counts') reports.push(ev.counts.openat ?? 0)
        const r = await p.exited
        assert.equal(r.code, 0)
        // About 1.5 s of work: five or more timed reports, counting up, besides the final one.
        assert.ok(reports.length >= 5, `${reports.length} count reports: ${reports.join(' ')}`)
        assert.ok(reports.at(-1)! >= 30, reports.join(' '))
      } finally {
        churn.kill('SIGKILL')
      }
    },
  )
})
