// Seccomp user notification through the launcher, on the real kernel: watched syscalls are
// reported (and still run), deny-log refuses and reports, counts are exact end to end, and a
// monitor that does not read never stalls the sandbox.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { callerContext } from '../../src/host/caller.js'
import { compilePlan } from '../../src/plan/compile.js'
import { encodePlan } from '../../src/plan/encode.js'
import { NO_NAMESPACES } from '../../src/policy/profiles.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { parseEvent, type SandboxEvent } from '../../src/run/events.js'
import { MonitorSession } from '../../src/monitor/session.js'
import { spawn } from '../../src/run/spawn.js'
import { LAUNCHER, LAUNCHER_UNDER_TEST, projectDir, runSettled as run } from '../helpers.js'
import { stormBinary } from './helpers.js'

const syscalls = (events: SandboxEvent[]) =>
  events.filter((e): e is Extract<SandboxEvent, { event: 'syscall' }> => e.event === 'syscall')
const lastCounts = (events: SandboxEvent[]) =>
  events
    .filter((e): e is Extract<SandboxEvent, { event: 'syscall-counts' }> => e.event === 'syscall-counts')
    .at(-1)

describe('seccomp notifications', () => {
  test('watched syscalls run as before and are reported with their path', async () => {
    const r = await run(
      // The built-in /tmp is noexec; this test runs what it writes there.
      { extends: ['default'], filesystem: [{ tmpfs: { dest: '/tmp', exec: true } }] },
      'sh',
      ['-c', 'cp /bin/true /tmp/mine && /tmp/mine && /bin/true && echo ok'],
      {
        watch: ['execve'],
        context: { cwd: projectDir() },
      },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'ok\n')
    const execs = syscalls(r.events).filter((e) => e.syscall === 'execve')
    const paths = execs.map((e) => e.path)
    assert.ok(paths.includes('/tmp/mine') && paths.includes('/bin/true'), paths.join(' '))
    const started = execs.find((e) => e.path === '/bin/true')!
    const mine = execs.find((e) => e.path === '/tmp/mine')!
    // The copy was written inside the sandbox: its ctime is recent; /bin/true's is not.
    assert.ok(mine.ctimeMs! > Date.now() - 60_000, String(mine.ctimeMs))
    assert.ok(started.ctimeMs! < Date.now() - 60_000, String(started.ctimeMs))
    assert.equal(lastCounts(r.events)?.counts.execve, execs.length)
  })

  test('deny-log refuses with the errno and attributes the denial', async () => {
    const r = await run(
      {
        extends: ['default'],
        seccomp: { rules: [{ syscalls: ['mkdir', 'mkdirat'], action: 'deny-log(EACCES)' }] },
      },
      'sh',
      ['-c', 'mkdir /tmp/d; echo rc=$?'],
      { context: { cwd: projectDir() } },
    )
    assert.match(r.stdout, /rc=1/)
    assert.match(r.stderr, /Permission denied/)
    const denied = syscalls(r.events).filter((e) => e.errno !== undefined)
    assert.equal(denied.length, 1)
    assert.equal(denied[0]!.syscall, 'mkdir')
    assert.equal(denied[0]!.errno, 13)
    assert.equal(denied[0]!.path, '/tmp/d')
  })

  test('a watched call the policy refuses stays refused, now reported', async () => {
    const r = await run(
      { extends: ['default'] },
      'sh',
      ['-c', 'mount -t tmpfs x /tmp 2>/dev/null; echo rc=$?'],
      {
        watch: ['mount'],
        context: { cwd: projectDir() },
      },
    )
    assert.match(r.stdout, /rc=32/)
    const mount = syscalls(r.events).find((e) => e.syscall === 'mount')
    assert.equal(mount?.errno, 1)
    assert.equal(mount?.path, '/tmp')
  })

  test('100,000 notified calls: every one reported and counted', async () => {
    const n = 100_000
    const r = await run(
      { extends: ['minimal'], filesystem: [{ ro: projectDir() }] },
      stormBinary(),
      ['loop', String(n)],
      {
        watch: ['getppid'],
        context: { cwd: projectDir() },
      },
    )
    assert.equal(r.code, 0, r.stderr)
    const nsPerCall = Number(r.stdout.trim().split(' ')[2])
    const counts = lastCounts(r.events)!
    const got = syscalls(r.events).filter((e) => e.syscall === 'getppid').length
    assert.equal(counts.counts.getppid, n)
    assert.equal(got + counts.dropped, n)
    // Above 20,000 per second with room to spare (the rate is the sandbox's own, end to end).
    assert.ok(1e9 / nsPerCall > 20_000, `${(1e9 / nsPerCall).toFixed(0)} calls/s`)
  })

  test('a monitor that stops reading sheds events, counts them, and never stalls the sandbox', async () => {
    const n = 50_000
    const policy = resolvePolicy(
      {
        policy: { extends: ['minimal'], filesystem: [{ ro: projectDir() }] },
        baseDir: projectDir(),
        label: 'test',
      },
      projectDir(),
    )
    const plan = compilePlan(policy, { ...callerContext(), cwd: projectDir(), watch: ['getppid'] })
    const file = join(projectDir(), 'notify.plan')
    writeFileSync(file, encodePlan(plan))
    const child = spawnChild(
      LAUNCHER_UNDER_TEST,
      [file, '--events-fd', '3', '--', stormBinary(), 'loop', String(n)],
      {
        stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
      },
    )
    const events = child.stdio[3] as Readable
    events.pause() // nobody reads: the pipe fills, then the launcher's queue
    let out = ''
    child.stdout!.on('data', (b: Buffer) => (out += b))
    while (!out.includes('done')) await once(child.stdout!, 'data')
    // The program finished while the monitor read nothing; now read what was kept.
    let text = ''
    events.on('data', (b: Buffer) => (text += b))
    events.resume()
    await once(child, 'exit')
    const parsed = text.trim().split('\n').map(parseEvent)
    const counts = lastCounts(parsed)!
    const got = syscalls(parsed).length
    assert.equal(counts.counts.getppid, n)
    assert.ok(counts.dropped > 0, 'expected drops with a reader that stopped')
    assert.equal(got + counts.dropped, n)
  })

  test('metrics: exact syscall counts and denials over HTTP in Prometheus format', async () => {
    const session = await MonitorSession.open({
      metrics: '127.0.0.1:0',
      reload: false,
      alerts: [],
      log: () => {},
    })
    const p = spawn(
      { extends: ['default'] },
      'sh',
      ['-c', 'for i in 1 2 3; do /bin/true; done; mount -t tmpfs x /tmp 2>/dev/null; true'],
      {
        stdio: 'ignore',
        watch: [...session.watchList(), 'mount'],
        context: { cwd: projectDir() },
      },
    )
    session.attachProcess(p, ['sh'], {})
    for await (const ev of p.events) session.handle(p.id, ev)
    await p.exited
    const text = await (await fetch(`http://127.0.0.1:${session.metricsPort}/metrics`)).text()
    await session.close()
    assert.match(text, new RegExp(`cordon_syscalls_total\\{sandbox="${p.id}",syscall="execve"\\} [4-9]`))
    assert.match(text, new RegExp(`cordon_denials_total\\{sandbox="${p.id}",layer="seccomp"\\} 1`))
    assert.match(text, /cordon_events_dropped_total\{sandbox="\w+"\} 0/)
  })

  test('a watched sandbox inside a watched one fails at the listener with the fix, not a bare EBUSY', async () => {
    const dir = projectDir()
    // cordon-exec plans for the inner sandbox (no namespaces: the outer filter refuses them).
    const innerPlan = (name: string, watch?: string[]) => {
      const file = join(dir, `${name}.plan`)
      const policy = { extends: ['default'], namespaces: NO_NAMESPACES, network: 'host' as const }
      // Run inside the outer sandbox, where uid 0 is that namespace's: no host id range.
      const ctx = { ...callerContext(), cwd: dir, idRanges: null, ...(watch ? { watch } : {}) }
      writeFileSync(
        file,
        encodePlan(compilePlan(resolvePolicy({ policy, baseDir: dir, label: name }, dir), ctx)),
      )
      return file
    }
    const planFile = innerPlan('watched-inner', ['getppid'])
    const r = await run(
      { extends: ['default'], filesystem: [{ ro: dirname(LAUNCHER) }] },
      LAUNCHER,
      [planFile, '--', 'true'],
      { watch: ['getppid'], context: { cwd: dir } },
    )
    assert.equal(r.code, 125, r.stderr)
    assert.match(
      r.stderr,
      /seccomp listener( pidfd_getfd)? failed: .* \((EPERM|EBUSY)\); a sandbox inside another cannot report syscalls/,
    )
    assert.match(r.stderr, /monitor only the outer sandbox, or run the inner one without them/)
    assert.equal(r.stderr.match(/failed/g)?.length, 1, r.stderr)
    // Unwatched, the inner sandbox's filter stacks under the outer listener and runs.
    const plainFile = innerPlan('plain-inner')
    const plain = await run(
      { extends: ['default'], filesystem: [{ ro: dirname(LAUNCHER) }] },
      LAUNCHER,
      [plainFile, '--', 'true'],
      { watch: ['getppid'], context: { cwd: dir } },
    )
    assert.equal(plain.code, 0, plain.stderr)
  })
})
