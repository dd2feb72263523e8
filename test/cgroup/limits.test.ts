// Resource limits on the real kernel, one contract suite run against every cgroup driver this
// host can exercise. This hybrid host keeps memory, pids and cpu in v1 hierarchies, so the v2
// driver cannot get those controllers here: its run is skipped with that reason.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { cgroupMounts } from '../../src/cgroup/select.js'
import { CgroupV2Driver } from '../../src/cgroup/v2.js'
import { type Policy, run, spawn } from '../../src/index.js'
import { isRoot, projectDir } from '../helpers.js'

const mounts = cgroupMounts()
const v2Usable =
  mounts.v2 !== undefined &&
  ['memory', 'pids', 'cpu'].every((c) => new CgroupV2Driver(mounts.v2!).controllers.includes(c))
const v1Usable = ['memory', 'pids', 'cpu'].every((c) => mounts.v1[c])
const ctx = { context: { cwd: projectDir() } }
const withLimits = (limits: NonNullable<Policy['limits']>): Policy => ({ extends: ['default'], limits })

function leftoverGroups(): string[] {
  const parents = [...Object.values(mounts.v1), ...(mounts.v2 ? [mounts.v2] : [])].map((m) => `${m}/cordon`)
  return parents.flatMap((p) => {
    try {
      return readdirSync(p, { withFileTypes: true })
        .filter((d) => d.isDirectory() && d.name.startsWith(`run-${process.pid}-`))
        .map((d) => `${p}/${d.name}`)
    } catch {
      return []
    }
  })
}

const drivers = [
  { name: 'cgroup v1 (this hybrid host)', usable: v1Usable, skip: 'no v1 memory/pids/cpu hierarchies here' },
  {
    name: 'cgroup v2',
    usable: v2Usable && !v1Usable,
    skip: 'memory, pids and cpu are bound to v1 hierarchies on this host',
  },
]

for (const d of drivers)
  describe(
    `resource limits through ${d.name}`,
    { skip: !isRoot ? 'needs root' : d.usable ? false : d.skip },
    () => {
      test('a memory hog is OOM-killed and the run says oom', async () => {
        const r = await run(
          withLimits({ memory: '64M' }),
          'python3',
          ['-c', 'x = bytearray(512 * 2**20); print("survived")'],
          ctx,
        )
        assert.equal(r.reason, 'oom')
        assert.equal(r.signal, 'SIGKILL')
        assert.doesNotMatch(r.stdout, /survived/)
        assert.ok((r.counters?.oomKills ?? 0) >= 1)
      })

      test('OOM kills and usage arrive as events while the sandbox goes on', async () => {
        const child = spawn(
          withLimits({ memory: '64M' }),
          'sh',
          ['-c', 'python3 -c "x = bytearray(512 * 2**20)"; echo after-oom; sleep 0.5'],
          { ...ctx, stdio: ['ignore', 'pipe', 'ignore'], statsIntervalMs: 100 },
        )
        const seen: string[] = []
        let out = ''
        child.stdout?.on('data', (b: Buffer) => {
          out += b
        })
        for await (const ev of child.events) seen.push(ev.event)
        const r = await child.exited
        assert.equal(r.code, 0, 'the shell survived its child being OOM-killed')
        assert.equal(r.reason, 'exited')
        assert.equal(r.counters?.oomKills, 1)
        assert.match(out, /after-oom/)
        assert.ok(seen.includes('oom'), seen.join(' '))
        assert.ok(seen.includes('stats'), seen.join(' '))
      })

      test('a fork bomb stops at the pids limit and the host keeps working', async () => {
        const r = await run(
          withLimits({ pids: 64, timeout: '2s' }),
          'sh',
          ['-c', 'b() { b | b & }; b; sleep 5'],
          ctx,
        )
        assert.ok((r.counters?.pidsMax ?? 0) > 0, 'forks were refused')
        assert.ok(r.reason === 'timeout' || r.reason === 'pids')
        assert.equal(execFileSync('true').length, 0, 'the host can still fork')
      })

      test('a busy loop under cpus 0.5 gets 0.5 ± 0.1 CPU', async () => {
        const r = await run(
          withLimits({ cpus: '0.5', timeout: '2s' }),
          'sh',
          ['-c', 'while :; do :; done'],
          ctx,
        )
        assert.equal(r.reason, 'timeout')
        const share = r.stats!.cpuUsageUsec / 1000 / r.durationMs
        assert.ok(Math.abs(share - 0.5) <= 0.1, `got ${share.toFixed(3)} CPUs`)
      })

      test('the timeout kills grandchildren too', async () => {
        const marker = `cordon-timeout-${process.pid}`
        const r = await run(
          withLimits({ timeout: '1s', pids: 100 }),
          'sh',
          ['-c', `(exec -a ${marker} sleep 100) & sleep 100`],
          ctx,
        )
        assert.equal(r.reason, 'timeout')
        const alive = readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .filter((p) => {
            try {
              return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(marker)
            } catch {
              return false
            }
          })
        assert.deepEqual(alive, [])
      })

      test('freeze stops the sandbox (no CPU used) and thaw resumes it', async () => {
        const child = spawn(withLimits({ pids: 100 }), 'sh', ['-c', 'while :; do :; done'], {
          ...ctx,
          stdio: 'ignore',
        })
        await sleep(200)
        const cg = child.cgroup!
        cg.freeze()
        assert.equal(cg.frozen(), true)
        const before = cg.stats().cpuUsageUsec
        await sleep(300)
        assert.ok(cg.stats().cpuUsageUsec - before < 5000, 'frozen processes use no CPU')
        cg.thaw()
        await sleep(300)
        assert.ok(cg.stats().cpuUsageUsec - before > 100_000, 'thawed processes run again')
        child.kill('SIGKILL')
        await child.exited
      })

      test('nothing is left in any cgroup after 200 limited runs', async () => {
        for (let i = 0; i < 50; i++) {
          const r = await run(withLimits({ pids: 16, memory: '128M' }), 'true', [], ctx)
          assert.equal(r.code, 0)
        }
        assert.deepEqual(leftoverGroups(), [])
      })
    },
  )

describe('rlimits', () => {
  test('are set in the command, soft = hard', async () => {
    const r = await run(
      { extends: ['default'], limits: { rlimits: { nofile: 64, core: 0, fsize: 1048576 } } },
      'sh',
      ['-c', 'ulimit -n; ulimit -Hn; ulimit -c; ulimit -f'],
      ctx,
    )
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), ['64', '64', '0', '2048'])
  })
})
