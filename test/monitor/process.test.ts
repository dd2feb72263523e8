// Process events on the real kernel: every exec and exit of the sandbox's processes, from the
// proc connector (root, and plain users where the kernel lets them listen), or by polling /proc
// inside a user namespace, where the kernel sends a connector subscription nothing.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { callerContext } from '../../src/host/caller.js'
import { hostFacts } from '../../src/host/probe.js'
import { compilePlan } from '../../src/plan/compile.js'
import { encodePlan } from '../../src/plan/encode.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { parseEvent, type SandboxEvent } from '../../src/run/events.js'
import {
  cordon,
  cordonAs,
  ensureTestUser,
  isRoot,
  LAUNCHER,
  projectDir,
  runSettled as run,
} from '../helpers.js'

type ProcessEvent = Extract<SandboxEvent, { event: 'process' }>
const processes = (events: SandboxEvent[]) => events.filter((e): e is ProcessEvent => e.event === 'process')

describe('process events', () => {
  test('every exec and exit, with exit codes and signals, attributed to its parent', async () => {
    const r = await run(
      { extends: ['default'] },
      'sh',
      ['-c', '/bin/true; sh -c "exit 3"; sh -c "kill -SEGV \\$\\$"; sleep 0.4; echo done'],
      { processEvents: true, context: { cwd: projectDir() } },
    )
    assert.equal(r.code, 0, r.stderr)
    const evs = processes(r.events)
    assert.ok(evs.length >= 9, JSON.stringify(evs))
    assert.ok(evs.every((e) => e.source === (isRoot ? 'connector' : e.source)))
    const shell = evs.find((e) => e.action === 'exec' && e.exe === '/usr/bin/dash')!
    const children = evs.filter((e) => e.action === 'exec' && e.ppid === shell.pid)
    // The program is read from /proc/PID/exe when the event is read: a process that already
    // ended has none; one that lives a moment (sleep) always does.
    const want = ['/usr/bin/true', '/usr/bin/dash', '/usr/bin/dash', '/usr/bin/sleep']
    assert.equal(children.length, want.length, JSON.stringify(evs))
    children.forEach((e, i) => assert.ok(e.exe === undefined || e.exe === want[i], JSON.stringify(e)))
    assert.equal(children[3]!.exe, '/usr/bin/sleep')
    const exitOf = (pid: number) => evs.find((e) => e.action === 'exit' && e.pid === pid)
    assert.equal(exitOf(children[0]!.pid)?.code, 0)
    assert.equal(exitOf(children[1]!.pid)?.code, 3)
    assert.equal(exitOf(children[2]!.pid)?.signal, 'SIGSEGV')
    assert.equal(exitOf(children[3]!.pid)?.code, 0)
    assert.equal(exitOf(shell.pid)?.code, 0)
    // Only the sandbox's processes: nothing else on the host was running these.
    const pids = new Set(evs.map((e) => e.pid))
    assert.equal(pids.size, 6) // init, the shell and its four children
  })

  test('the default rules alert on a process that dies of SIGSEGV, naming the program', () => {
    const r = cordon(['run', '--monitor', '--', 'sh', '-c', 'sh -c "kill -SEGV \\$\\$"; true'], {
      cwd: projectDir(),
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      r.stderr,
      /\[warning\] crash \(sandbox \w+\): \/usr\/bin\/(dash|sh) \(pid \d+\) died of SIGSEGV/,
    )
  })

  test(
    'unprivileged: monitored runs get process events',
    { skip: !isRoot && 'needs root to switch users' },
    (t) => {
      const user = ensureTestUser()
      const file = `/tmp/cordon-process-events-${process.pid}.jsonl`
      // A project of the plain user's: the default profile refuses /tmp itself as the project.
      const project = mkdtempSync('/tmp/cordon-test-process-')
      chmodSync(project, 0o755)
      t.after(() => {
        rmSync(file, { force: true })
        rmSync(project, { recursive: true, force: true })
      })
      const r = cordonAs(
        user,
        [
          'run',
          '--json',
          '--events',
          file,
          '--monitor',
          '--',
          'sh',
          '-c',
          'sleep 0.3; sh -c "sleep 0.3; exit 4"; true',
        ],
        project,
      )
      assert.equal(r.status, 0, r.stderr)
      const evs = processes(
        readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map(parseEvent),
      )
      assert.ok(
        evs.some((e) => e.action === 'exec' && e.exe === '/usr/bin/sleep'),
        r.stderr,
      )
      // Where the kernel keeps the proc connector to root (cordon check says so), a plain user's
      // launcher polls /proc: the inner shell is seen, its exit status is not.
      const connector = hostFacts().unprivileged?.procConnector !== false
      const inner = evs.find(
        (e) =>
          e.action === 'exec' &&
          e.exe === '/usr/bin/dash' &&
          e.ppid !== undefined &&
          evs.some((p) => p.pid === e.ppid && p.action === 'exec' && p.exe === '/usr/bin/dash'),
      )
      assert.ok(inner, JSON.stringify(evs))
      assert.ok(
        evs.every((e) => e.source === (connector ? 'connector' : 'polling')),
        JSON.stringify(evs),
      )
      const end = evs.find((e) => e.action === 'exit' && e.pid === inner.pid)
      assert.ok(end, JSON.stringify(evs))
      assert.equal(end.code, connector ? 4 : undefined, JSON.stringify(end))
    },
  )

  test(
    'inside a user namespace the launcher polls /proc: processes that live across a scan, exits without status',
    { skip: !isRoot && 'needs root to switch users' },
    () => {
      const user = ensureTestUser()
      const dir = projectDir()
      const plan = join(dir, 'polled.plan')
      writeFileSync(
        plan,
        encodePlan(
          compilePlan(
            resolvePolicy({ policy: { extends: ['default'] }, baseDir: '/tmp', label: 'p' }, '/tmp'),
            {
              ...callerContext(),
              uid: user.uid,
              gid: user.gid,
              cwd: '/tmp',
            },
          ),
        ),
      )
      chmodSync(plan, 0o644)
      const r = spawnSync(
        'unshare',
        [
          '-U',
          '-r',
          LAUNCHER,
          '--events-fd',
          '3',
          '--proc-events',
          plan,
          '--',
          'sh',
          '-c',
          'sleep 0.6; exit 5',
        ],
        {
          uid: user.uid,
          gid: user.gid,
          cwd: '/tmp',
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        },
      )
      const lines = String(r.output[3] ?? '')
      assert.equal(r.status, 5, `${r.stderr}${lines}`)
      const evs = processes(lines.split('\n').filter(Boolean).map(parseEvent))
      const sleep = evs.find((e) => e.action === 'exec' && e.exe === '/usr/bin/sleep')
      assert.ok(sleep, lines)
      assert.equal(sleep.source, 'polling')
      const end = evs.find((e) => e.action === 'exit' && e.pid === sleep.pid)
      assert.ok(end, lines)
      assert.equal(end.code, undefined)
    },
  )
})
