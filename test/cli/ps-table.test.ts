// `cordon ps` for people (issue 20, first hour): memory in binary units, every column aligned
// under its heading whatever the widths, limits in the words of the flags that set them; --json
// keeps bytes and the record's keys.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { limitsWords } from '../../src/cli/commands/sandboxes.js'
import { CLI, cordon, isRoot, plainUserScratch, projectDir } from '../helpers.js'

const timeout = 60_000

/** `cordon run --quiet RUN_ARGS` started as the plain user in a scratch project of its own, and
 * the first row of its `ps --json`, polled (up to 10 s) until `ready` accepts it. */
async function runAsPlainUser<Row>(
  t: TestContext,
  name: string,
  runArgs: string[],
  ready: (row: Row | undefined) => boolean,
) {
  const scratch = plainUserScratch(t, name)
  const run = spawn(process.execPath, [CLI, 'run', '--quiet', ...runArgs], {
    cwd: scratch.dir,
    uid: scratch.user.uid,
    gid: scratch.user.gid,
    env: scratch.env,
    stdio: 'ignore',
  })
  t.after(() => run.kill('SIGKILL'))
  const rows = () =>
    (JSON.parse(scratch.as(['ps', '--json']).stdout || '{"sandboxes":[]}') as { sandboxes: Row[] }).sandboxes
  let row: Row | undefined
  for (let i = 0; i < 100 && !ready(row); i++, await sleep(100)) row = rows()[0]
  return { ...scratch, rows, row }
}

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

  test("LIMITS says what the user set, in the flags' words", () => {
    assert.equal(
      limitsWords({ memory: 12637974528, memoryPercent: 50, pids: 100, cpus: 1.5, timeoutMs: 20_000 }),
      'memory=50% (11.8 GiB), pids=100, cpus=1.5, timeout=20s',
    )
    assert.equal(
      limitsWords({
        memory: 268435456,
        swap: 2 ** 20,
        cpuWeight: 50,
        ioWeight: 200,
        cpuset: '0-1',
        timeoutMs: 90_000,
      }),
      'memory=256 MiB, swap=1 MiB, cpu-weight=50, io-weight=200, cpuset=0-1, timeout=90s',
    )
    assert.equal(limitsWords({ timeoutMs: 250 }), 'timeout=250ms')
    assert.equal(limitsWords({ timeoutMs: 7_200_000 }), 'timeout=2h')
    // A newer cordon's record: its keys are shown as they are, not dropped.
    assert.equal(limitsWords({ future: 3 }), 'future=3')
  })

  test(
    "a running sandbox's LIMITS: --memory 50% --timeout 90s as set, no internal keys",
    { timeout, skip: !isRoot && 'limits are recorded with a cgroup, which only root gets here for sure' },
    async (t) => {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'run',
          '--quiet',
          '--memory',
          '50%',
          '--timeout',
          '90s',
          '--cpu-weight',
          '50',
          '--',
          'sleep',
          '31',
        ],
        { cwd: projectDir(), stdio: 'ignore', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
      )
      t.after(() => child.kill('SIGTERM'))
      let line: string | undefined
      for (let i = 0; i < 100 && !line; i++) {
        await sleep(100)
        line = cordon(['ps'])
          .stdout.split('\n')
          .find((l) => l.endsWith('sleep 31'))
      }
      assert.ok(line, 'the sandbox is listed')
      assert.match(line, /memory=50% \([\d.]+ [KMG]iB\), pids=\d+, cpu-weight=50, timeout=90s /)
      assert.doesNotMatch(line, /memoryPercent|timeoutMs|cpuWeight/)
    },
  )

  test(
    'a sandbox without a cgroup frozen by SIGSTOP is `stopped`, then `running` after thaw',
    { timeout, skip: !isRoot && 'needs root to act as the test user, who has no cgroup here' },
    async (t) => {
      type Row = { id: string; state: string; cgroup?: unknown }
      const { as, rows, row } = await runAsPlainUser<Row>(t, 'ps-stopped', ['--', 'sleep', '32'], (r) => !!r)
      assert.ok(row, 'the sandbox is registered')
      if (row.cgroup)
        return t.skip('this user got a cgroup here: its freeze is the freezer, tested elsewhere')
      const stateOf = () => {
        const line = as(['ps'])
          .stdout.split('\n')
          .find((l) => l.startsWith(row.id))
        return line?.split(/\s+/)[2]
      }
      assert.equal(stateOf(), 'running')
      assert.equal(as(['freeze', row.id]).status, 0)
      assert.equal(stateOf(), 'stopped')
      assert.equal(rows()[0]?.state, 'stopped')
      assert.equal(as(['thaw', row.id]).status, 0)
      assert.equal(stateOf(), 'running')
      assert.equal(as(['kill', row.id]).status, 0)
    },
  )

  test(
    'a sandbox without a cgroup shows its pids limit as the RLIMIT_NPROC it holds, not `-`',
    { timeout, skip: !isRoot && 'needs root to act as the test user, who has no cgroup here' },
    async (t) => {
      type Row = { id: string; cgroup?: unknown; rlimits?: { nproc?: number } }
      const { as, row } = await runAsPlainUser<Row>(
        t,
        'ps-rlimit',
        ['--pids', '57', '--', 'sleep', '33'],
        (r) => !!r?.rlimits?.nproc,
      )
      assert.ok(row, 'the sandbox is registered')
      if (row.cgroup) return t.skip('this user got a cgroup here: its limits are the cgroup’s')
      assert.equal(row.rlimits?.nproc, 57)
      const line = as(['ps'])
        .stdout.split('\n')
        .find((l) => l.startsWith(row.id))
      assert.match(line ?? '', /pids=57 \(RLIMIT_NPROC, per user in the sandbox\)/)
      assert.equal(as(['kill', row.id]).status, 0)
    },
  )
})
