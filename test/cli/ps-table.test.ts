// `cordon ps` for people (issue 20, first hour): memory in binary units, every column aligned
// under its heading whatever the widths; --json keeps bytes.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cordon, projectDir } from '../helpers.js'

const timeout = 60_000

describe('cordon ps', () => {
  test('MEMORY in KiB/MiB/GiB, columns aligned; --json in bytes', { timeout }, async (t) => {
    const child = spawn(process.execPath, [CLI, 'run', '--quiet', '--', 'sleep', '30'], {
      cwd: projectDir(),
      stdio: 'ignore',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    t.after(() => child.kill('SIGTERM'))
    let json: { sandboxes: { pid: number; command: string[]; usage?: { memoryBytes: number } }[] } = {
      sandboxes: [],
    }
    for (let i = 0; i < 100 && !json.sandboxes.some((s) => s.command.join(' ') === 'sleep 30'); i++) {
      await sleep(100)
      json = JSON.parse(cordon(['ps', '--json']).stdout) as typeof json
    }
    const mine = json.sandboxes.find((s) => s.command.join(' ') === 'sleep 30')
    assert.ok(mine, 'the sandbox is listed')
    if (mine.usage) assert.equal(typeof mine.usage.memoryBytes, 'number')

    const r = cordon(['ps'])
    assert.equal(r.status, 0, r.stderr)
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    const names = ['ID', 'PID', 'STATE', 'MEMORY', 'PIDS', 'CPU(s)', 'LIMITS', 'COMMAND']
    const starts = names.map((n) => header!.indexOf(n))
    assert.deepEqual(
      starts.map((s) => s >= 0),
      names.map(() => true),
      header,
    )
    for (const row of rows) {
      for (const s of starts.slice(1)) {
        assert.notEqual(row[s], ' ', `a cell starts under each heading:\n${header}\n${row}`)
        assert.equal(row.slice(s - 2, s), '  ', `two spaces before each column:\n${header}\n${row}`)
      }
      const memory = row.slice(starts[3], starts[4]).trim()
      assert.match(memory, /^(-|\d+ bytes|[\d.]+ [KMG]iB)$/, row)
    }
    const line = rows.find((row) => row.endsWith('sleep 30'))
    assert.ok(line)
    if (mine.usage) assert.match(line.slice(starts[3], starts[4]), /[KMG]iB/)
  })
})
