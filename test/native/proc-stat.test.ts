// The launcher reads /proc/PID/stat with one parser (native/proc_stat.c): `--signal` checks a
// start time with it, the kill of every descendant a parent, the /proc poll of process events
// and the audit tap a parent. The command name in that line is the process's own choice: one
// that reads like fields (") S 1 (") must not move them.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { processStartTime } from '../../src/host/process.js'
import { LAUNCHER } from '../helpers.js'

// At most 15 bytes (TASK_COMM_LEN): parentheses, spaces and numbers where fields would be.
const NAMES = [') S 1 1 1 (', 'a b) (c', ')))', '(', ') 9 9 9 9 9 9 9']

describe('the launcher’s /proc/PID/stat parser', () => {
  for (const name of NAMES)
    test(`keeps the fields of a process named ${JSON.stringify(name)}`, async (t) => {
      // sh names itself, then waits for its child without exec'ing: the name stays.
      const child = spawn('sh', ['-c', 'printf "%s" "$1" > /proc/$$/comm; sleep 60', 'sh', name], {
        stdio: 'ignore',
      })
      t.after(() => child.kill('SIGKILL'))
      const pid = child.pid!
      for (let i = 0; i < 100 && readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd() !== name; i++)
        await sleep(20)
      assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd(), name)
      const start = processStartTime(pid)
      assert.ok(start !== undefined)
      const signal = (when: number) =>
        spawnSync(LAUNCHER, ['--signal', '0', `${pid}:${when}`], { encoding: 'utf8' }).stdout.trim()
      assert.equal(signal(start), '1', 'signalled at its own start time')
      assert.equal(signal(start + 1), '0', 'not at another')
    })
})
