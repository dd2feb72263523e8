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
import { buildHarness, LAUNCHER } from '../helpers.js'

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

// Fields 5 to 21 of a real line; field 23 follows the start time.
const MIDDLE = '1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 -5 1 0'
const PARSE_CASES: { name: string; input: string; want: string }[] = [
  { name: 'a plain line', input: `12 (sh) S 7 ${MIDDLE} 98765 1 2\n`, want: 'S 7 98765' },
  { name: 'a name of fields', input: `12 () S 1 (x) R 3 ${MIDDLE} 5 1 2\n`, want: 'R 3 5' },
  { name: 'a name with a newline', input: `12 (a\n) b) Z 0 ${MIDDLE} 77 1\n`, want: 'Z 0 77' },
  {
    name: 'the largest start time',
    input: `1 (x) S 0 ${MIDDLE} 18446744073709551615 0`,
    want: 'S 0 18446744073709551615',
  },
  { name: 'a start time past 64 bits', input: `1 (x) S 0 ${MIDDLE} 18446744073709551616 0`, want: 'bad' },
  { name: 'a ppid past long', input: `1 (x) S 9223372036854775808 ${MIDDLE} 5 0`, want: 'bad' },
  { name: 'a negative ppid', input: `1 (x) S -1 ${MIDDLE} 5 0`, want: 'bad' },
  { name: 'a start time cut by the end', input: `1 (x) S 0 ${MIDDLE} 987`, want: 'bad' },
  { name: 'a field missing', input: `1 (x) S 0 ${MIDDLE.slice(2)} 5 0`, want: 'bad' },
  { name: 'no closing parenthesis', input: `1 (x S 0 ${MIDDLE} 5 0`, want: 'bad' },
  { name: 'nothing after the name', input: '1 (x)', want: 'bad' },
  { name: 'a state of two characters', input: `1 (x) SS 0 ${MIDDLE} 5 0`, want: 'bad' },
  { name: 'an empty line', input: '', want: 'bad' },
]

describe('proc_stat_parse', () => {
  const bin = buildHarness('proc-stat-parse', ['test/native/proc-stat-parse.c', 'native/proc_stat.c'])
  for (const c of PARSE_CASES)
    test(`reads ${c.name} within its bytes`, () => {
      const r = spawnSync(bin, [], { input: c.input, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), c.want)
    })
})
