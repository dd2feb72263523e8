// Resource limits on the real kernel, one contract suite run against both cgroup drivers. Each
// test names the controllers it needs; a driver without one skips that test with the reason.
// This hybrid host keeps memory, pids and cpu in v1 hierarchies, so the v2 driver runs what the
// cgroup core gives every v2 group (freeze, kill, cpu.stat, removal) and skips the limits.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { cgroupMounts } from '../../src/cgroup/select.js'
import { cgroupLayout } from '../../src/host/probe.js'
import { CgroupV2Driver } from '../../src/cgroup/v2.js'
import { type Policy, spawn } from '../../src/index.js'
import { CLI, cordon, hasCommand, isRoot, projectDir, runSettled as run } from '../helpers.js'

const mounts = cgroupMounts()
const v2Controllers = mounts.v2 ? new CgroupV2Driver(mounts.v2).controllers : []
const ctx = { context: { cwd: projectDir() } }
/** The default profile's limits lifted: a test that needs no controller sets only its own. */
const NO_LIMITS = { memory: 'max', pids: 'max' } as const

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
  {
    name: 'cgroup v1',
    version: 1 as const,
    mounted: Object.keys(mounts.v1).length > 0,
    has: (c: string) => mounts.v1[c] !== undefined,
    where: 'a v1 hierarchy',
  },
  {
    name: 'cgroup v2',
    version: 2 as const,
    mounted: mounts.v2 !== undefined,
    has: (c: string) => v2Controllers.includes(c),
    where: `the v2 tree at ${mounts.v2} (it is bound to a v1 hierarchy on this host)`,
  },
]

for (const d of drivers)
  describe(
    `resource limits through ${d.name}`,
    { skip: !isRoot ? 'needs root' : d.mounted ? false : `${d.name} is not mounted here` },
    () => {
      const opts = { ...ctx, cgroupVersion: d.version }
      const withLimits = (limits: NonNullable<Policy['limits']>): Policy => ({
        extends: ['default'],
        limits: { ...NO_LIMITS, ...limits },
      })
      /** Skips the test, with the reason, when the driver lacks a controller it needs. */
      const needs = (...controllers: string[]) => {
        const missing = controllers.filter((c) => !d.has(c))
        return missing.length ? { skip: `no ${missing.join(' or ')} controller in ${d.where}` } : {}
      }

      test('a memory hog is OOM-killed and the run says oom', needs('memory'), async () => {
        const r = await run(
          withLimits({ memory: '64M' }),
          'python3',
          ['-c', 'x = bytearray(512 * 2**20); print("survived")'],
          opts,
        )
        assert.equal(r.reason, 'oom')
        assert.equal(r.signal, 'SIGKILL')
        assert.doesNotMatch(r.stdout, /survived/)
        assert.ok((r.counters?.oomKills ?? 0) >= 1)
      })

      // helper-152: the OOM kill that ended the command fell between two samples, and the
      // monitor, which lets go of a sandbox at its exit, never alerted out-of-memory.
      test(
        'the OOM kill that ends the command is told before its exit, and alerted',
        needs('memory'),
        async () => {
          const child = spawn(
            withLimits({ memory: '64M' }),
            'python3',
            ['-c', 'x = bytearray(512 * 2**20)'],
            {
              ...opts,
              stdio: 'ignore',
              statsIntervalMs: 60_000, // no sample while it runs: only the last look can see it
            },
          )
          const seen: string[] = []
          for await (const ev of child.events) seen.push(ev.event)
          assert.equal((await child.exited).reason, 'oom')
          assert.ok(seen.includes('oom'), seen.join(' '))
          assert.ok(seen.indexOf('oom') < seen.indexOf('exit'), seen.join(' '))
          const cli = cordon(
            ['run', '--monitor', '--memory', '64M', '--', 'python3', '-c', 'x = bytearray(512 * 2**20)'],
            { cwd: projectDir() },
          )
          assert.equal(cli.status, 137, cli.stderr)
          assert.match(
            cli.stderr,
            /\[error\] out-of-memory \(sandbox \w+\): the OOM killer ended a process at the memory limit of 67108864 bytes \(1 OOM kill\(s\) in this sandbox so far\)/,
          )
        },
      )

      test('OOM kills and usage arrive as events while the sandbox goes on', needs('memory'), async () => {
        const child = spawn(
          withLimits({ memory: '64M' }),
          'sh',
          ['-c', 'python3 -c "x = bytearray(512 * 2**20)"; echo after-oom; sleep 0.5'],
          { ...opts, stdio: ['ignore', 'pipe', 'ignore'], statsIntervalMs: 100 },
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

      test('a fork bomb stops at the pids limit and the host keeps working', needs('pids'), async () => {
        const r = await run(
          withLimits({ pids: 64, timeout: '2s' }),
          'sh',
          ['-c', 'b() { b | b & }; b; sleep 5'],
          opts,
        )
        assert.ok((r.counters?.pidsMax ?? 0) > 0, 'forks were refused')
        assert.ok(r.reason === 'timeout' || r.reason === 'pids')
        assert.equal(execFileSync('true').length, 0, 'the host can still fork')
      })

      // How close to 0.5 it gets depends on the machine's load: bench/timings.mjs measures that.
      // The quota is an upper bound whatever the load.
      test('a busy loop under cpus 0.5 gets no more than its quota', needs('cpu'), async () => {
        const r = await run(
          withLimits({ cpus: '0.5', timeout: '2s' }),
          'sh',
          ['-c', 'while :; do :; done'],
          opts,
        )
        assert.equal(r.reason, 'timeout')
        const share = r.stats!.cpuUsageUsec / 1000 / r.durationMs
        assert.ok(share > 0 && share <= 0.6, `got ${share.toFixed(3)} CPUs`)
      })

      test('a cpuset pins the sandbox; a cpu weight lands in the group', needs('cpuset', 'cpu'), async () => {
        const r = await run(
          withLimits({ cpuset: '0', 'cpu-weight': 300 }),
          'sh',
          ['-c', 'grep Cpus_allowed_list /proc/self/status'],
          opts,
        )
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stdout, /^Cpus_allowed_list:\s+0$/m)
        const child = spawn(withLimits({ 'cpu-weight': 300 }), 'sleep', ['5'], { ...opts, stdio: 'ignore' })
        const dirs = child.cgroup!.ref().dirs
        if (d.version === 2) assert.equal(readFileSync(`${dirs.unified}/cpu.weight`, 'utf8').trim(), '300')
        else assert.equal(readFileSync(`${dirs.cpu}/cpu.shares`, 'utf8').trim(), '3072') // 300 % of 1024
        child.kill('SIGKILL')
        await child.exited
        const cli = cordon(['run', '--cpu-weight', '300', '--cpuset', '0', '--', 'true'])
        assert.equal(cli.status, 0, cli.stderr)
      })

      const ioWeight =
        d.version === 1 && d.has('blkio') && !cgroupLayout().blkioWeight
          ? { skip: 'v1 blkio takes no weight here: no BFQ I/O scheduler in the kernel (cordon check)' }
          : needs(d.version === 1 ? 'blkio' : 'io')
      test(
        'without a weight file, an io weight is refused before anything runs, saying what to do',
        d.version === 1 && d.has('blkio') && !cgroupLayout().blkioWeight
          ? {}
          : { skip: 'this host takes an io weight (cordon check)' },
        () => {
          const r = cordon(['run', '--io-weight', '300', '--', 'sh', '-c', 'echo ran'])
          assert.equal(r.status, 125, r.stderr)
          assert.equal(r.stdout, '')
          assert.match(r.stderr, /io weight needs the BFQ I\/O scheduler .*modprobe bfq\) or drop io-weight/)
          assert.deepEqual(leftoverGroups(), [])
        },
      )

      test('an io weight lands in the group', ioWeight, async () => {
        const child = spawn(withLimits({ 'io-weight': 300 }), 'sleep', ['5'], { ...opts, stdio: 'ignore' })
        const dir = Object.values(child.cgroup!.ref().dirs)
        const file =
          d.version === 2
            ? `${dir[0]}/io.weight`
            : [
                `${child.cgroup!.ref().dirs.blkio}/blkio.bfq.weight`,
                `${child.cgroup!.ref().dirs.blkio}/blkio.weight`,
              ].find((f) => existsSync(f))!
        assert.match(readFileSync(file, 'utf8'), d.version === 2 ? /^default 300$/m : /^300$/m)
        child.kill('SIGKILL')
        await child.exited
      })

      test('the timeout kills grandchildren too', async () => {
        const marker = `cordon-timeout-${process.pid}`
        const r = await run(
          withLimits({ timeout: '1s' }),
          'sh',
          ['-c', `(exec -a ${marker} sleep 100) & sleep 100`],
          { ...opts, cgroup: true },
        )
        assert.equal(r.reason, 'timeout')
        // v2: cloned straight into its group (CLONE_INTO_CGROUP); v1: moved in by cgroup.procs.
        const started = r.events.find((e) => e.event === 'started')
        assert.equal(
          started && 'cgroupJoin' in started && started.cgroupJoin,
          d.version === 2 ? 'clone3' : 'write',
        )
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

      test('freeze stops the sandbox (no CPU used) and thaw resumes it', async (t) => {
        const child = spawn(withLimits({}), 'sh', ['-c', 'while :; do :; done'], {
          ...opts,
          cgroup: true,
          stdio: 'ignore',
        })
        // A failed assertion must not leave the busy loop (and its group) behind: on a loaded
        // host the thaw check can fail, and the next test counted the group as left over.
        t.after(async () => {
          child.kill('SIGKILL')
          await child.exited
        })
        await sleep(200)
        const cg = child.cgroup!
        assert.equal(cg.version, d.version)
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
        // With the limits the driver can set here (none needs a controller to be cleaned up).
        const limits = {
          ...(d.has('pids') ? { pids: 16 } : {}),
          ...(d.has('memory') ? { memory: '128M' } : {}),
        }
        for (let i = 0; i < 50; i++) {
          const r = await run(withLimits(limits), 'true', [], { ...opts, cgroup: true })
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

  test('no real-time scheduling, whatever the caller’s RLIMIT_RTPRIO', (t) => {
    // PAM gives the audio group rtprio 95: a SCHED_FIFO task runs before every normal one,
    // past the CPU quota (CFS bandwidth does not apply to it) and past init.
    const raise = ['prlimit', '--rtprio=50:50']
    const raised = spawnSync(raise[0]!, [...raise.slice(1), 'sh', '-c', 'ulimit -r'], { encoding: 'utf8' })
    const wrapper = raised.stdout.trim() === '50' ? raise : []
    const argv = [
      ...wrapper,
      process.execPath,
      CLI,
      'run',
      '-q',
      '--',
      'sh',
      '-c',
      'ulimit -r; chrt -f 10 true && echo realtime',
    ]
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: projectDir(),
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.stdout.trim(), '0', r.stderr)
    assert.match(r.stderr, /chrt: failed to set pid \d+'s policy: Operation not permitted/)
    if (!wrapper.length)
      t.skip(`this host cannot raise RLIMIT_RTPRIO (${raised.stderr.trim()}): checked at the caller’s 0`)
  })

  test('a real-time caller’s sandbox runs at the default policy', (t) => {
    // RLIMIT_RTPRIO 0 does not take back a policy the command inherits (helper-147: `chrt -r 1
    // cordon run` ran an RR command; as root here its cgroup join failed with EINVAL).
    const rt = spawnSync('chrt', ['-r', '1', 'true'])
    if (rt.status !== 0) return t.skip('this caller may not use SCHED_RR (no CAP_SYS_NICE)')
    for (const mode of [[], ['--no-namespaces', '--acknowledge', 'no-view']]) {
      const argv = [
        'chrt',
        '-r',
        '1',
        process.execPath,
        CLI,
        'run',
        '-q',
        ...mode,
        '--',
        'sh',
        '-c',
        'chrt -p $$',
      ]
      const r = spawnSync(argv[0]!, argv.slice(1), {
        cwd: projectDir(),
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      })
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /current scheduling policy: SCHED_OTHER/, mode.join(' '))
    }
    // A runtime is started by Node, which cannot take the policy back from it: refused, saying so
    // (helper-149: the container ran RR).
    if (!hasCommand('runc')) return
    const argv = ['chrt', '-r', '1', process.execPath, CLI, 'run', '-q', '--backend', 'runc', '--', 'true']
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: projectDir(),
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.status, 125, r.stderr)
    assert.match(r.stderr, /--backend runc: cordon runs with SCHED_RR \(from its caller\)/)
  })
})

describe('a run refused after its cgroup was made', { skip: !isRoot && 'cgroups need root here' }, () => {
  // prepareRun makes the cgroup before compiling (its joins are part of the plan), so a policy
  // the compiler or the gap check refuses must take that cgroup away with it.
  test('leaves no cgroup behind', () => {
    const refused: Policy = { extends: ['default'], namespaces: { mount: false }, limits: { pids: 16 } }
    const before = leftoverGroups()
    assert.throws(() => spawn(refused, 'true', [], { ...ctx, cgroup: true }), /Refused: no layer enforces/)
    assert.deepEqual(leftoverGroups(), before)
  })
})
