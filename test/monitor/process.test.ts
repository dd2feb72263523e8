// Process events on the real kernel: every exec and exit of the sandbox's processes, from the
// proc connector (root, and plain users where the kernel lets them listen), or by polling /proc
// inside a user namespace, where the kernel sends a connector subscription nothing.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cgroupAccess } from '../../src/cgroup/select.js'
import { callerContext } from '../../src/host/caller.js'
import { hostFacts, probeKernel } from '../../src/host/probe.js'
import { compilePlan } from '../../src/plan/compile.js'
import { encodePlan } from '../../src/plan/encode.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { parseEvent, type SandboxEvent } from '../../src/run/events.js'
import {
  cordon,
  cordonAs,
  ensureTestUser,
  CLI,
  isRoot,
  LAUNCHER,
  projectDir,
  runSettled as run,
} from '../helpers.js'
import { eventsIn, stormDir } from './helpers.js'

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

  // SIGABRT too: an assert, or glibc's answer to a heap corruption it caught (helper-152).
  for (const sig of ['SEGV', 'ABRT'])
    test(`the default rules alert on a process that dies of SIG${sig}, naming the program`, () => {
      const r = cordon(['run', '--monitor', '--', 'sh', '-c', `sh -c "kill -${sig} \\$\\$"; true`], {
        cwd: projectDir(),
      })
      assert.equal(r.status, 0, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(
          `\\[warning\\] crash \\(sandbox \\w+\\): /usr/bin/(dash|sh) \\(pid \\d+\\) died of SIG${sig}`,
        ),
      )
    })

  // A fork that never exec'd has no exec event to name it: the launcher reads its program at its
  // fork, which is its creator's (not the parent the kernel names for a CLONE_PARENT child, nor
  // what its parent ran next), namespaced and not. Each lives 200 ms: one gone before the
  // launcher reads its fork (CI56, under load) is left unnamed, not named by a guess.
  const crash = /\[warning\] crash \(sandbox \w+\): (\S+) \(pid \d+\) died of SIGSEGV/
  for (const mode of [[], ['--no-namespaces', '--acknowledge', 'no-view']])
    test(`a fork that dies of SIGSEGV is named by the program it ran${mode.length ? ', without namespaces' : ''}`, () => {
      const { dir, storm } = stormDir(`crash${mode.length}`)
      for (const [command, want] of [
        [
          ['sh', '-c', '(sleep 0.2; read p rest < /proc/self/stat; kill -SEGV $p); true'],
          /^\/usr\/bin\/(dash|sh)$/,
        ],
        [[storm, 'crash-sibling'], storm],
        [[storm, 'crash-after-exec', '/bin/sleep', '1'], storm],
      ] as const) {
        const r = cordon(['run', ...mode, '--monitor', '--', ...command], { cwd: dir })
        assert.equal(r.status, 0, r.stderr)
        const named = crash.exec(r.stderr)?.[1]
        if (typeof want === 'string') assert.equal(named, want, r.stderr)
        else assert.match(named ?? '', want, r.stderr)
      }
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
      // The command's own end is the one the launcher knows the status of: told with it.
      const shell = evs.find((e) => e.action === 'exec' && e.exe === '/usr/bin/dash')
      assert.ok(shell, lines)
      const shellEnd = evs.filter((e) => e.action === 'exit' && e.pid === shell.pid)
      assert.deepEqual(
        shellEnd.map((e) => [e.code, e.signal]),
        [[5, undefined]],
        lines,
      )
    },
  )

  // helper-152: `--check` said "loaded" for rules a plain user's sandboxes can never feed.
  test(
    "cordon monitor --check says which rules this user's sandboxes cannot feed",
    { skip: !isRoot && 'needs root to switch users' },
    () => {
      const user = ensureTestUser()
      const r = cordonAs(user, ['monitor', '--check', '--json'], '/')
      assert.equal(r.status, 0, r.stderr)
      const rules = (JSON.parse(r.stdout) as { rules: { rule: string; inert?: string }[] }).rules
      const inert = (name: string) => rules.find((x) => x.rule === name)?.inert
      const cgroup = cgroupAccess(user.uid).ok
      for (const name of ['out-of-memory', 'pids-limit', 'memory-near-limit'])
        if (cgroup) assert.equal(inert(name), undefined, name)
        else
          assert.match(
            inert(name) ?? '',
            /^never fires for this user: its [\w-]+ events come from a cgroup, and /,
          )
      const polling = hostFacts().unprivileged?.procConnector === false
      if (polling) assert.match(inert('crash') ?? '', /^sees only the command's own exit status/)
      else assert.equal(inert('crash'), undefined)
      assert.equal(inert('shell-exec'), undefined)
      // Denials come from the audit log, which only root's launcher reads.
      assert.match(
        inert('landlock-denied') ?? '',
        /^never fires here: denied events come from the kernel's audit log/,
      )
      // Root here has a cgroup and the connector: nothing to say but of audit, where it is off.
      const root = cordon(['monitor', '--check'])
      if (cgroupAccess(0).ok && probeKernel().procConnector !== false)
        assert.doesNotMatch(
          root.stdout.replace(/^.*landlock-denied.*$/m, ''),
          /never fires|sees only/,
          root.stdout,
        )
      assert.equal(
        /landlock-denied.*never fires/.test(root.stdout),
        !probeKernel().audit.enabled,
        root.stdout,
      )
    },
  )

  // helper-152: a plain user's launcher polls /proc, which sees no exit status, so the crash rule
  // never fired, not even for the command, whose status the launcher has at the end.
  test(
    'as a plain user, the command that dies of SIGSEGV is alerted as a crash, namespaced and not',
    { skip: !isRoot && 'needs root to switch users' },
    (t) => {
      const user = ensureTestUser()
      const project = mkdtempSync('/tmp/cordon-test-crash-')
      chmodSync(project, 0o755)
      t.after(() => rmSync(project, { recursive: true, force: true }))
      // At once too: a crash before the first scan of /proc (helper-155).
      for (const mode of [[], ['--no-namespaces', '--acknowledge', 'no-view']])
        for (const script of ['kill -SEGV $$', 'sleep 0.3; kill -SEGV $$']) {
          const r = cordonAs(user, ['run', '-q', ...mode, '--monitor', '--', 'sh', '-c', script], project)
          assert.equal(r.signal ?? r.status, 139, r.stderr)
          assert.match(
            r.stderr,
            /\[warning\] crash \(sandbox \w+\): \/usr\/bin\/(dash|sh) \(pid \d+\) died of SIGSEGV/,
          )
          assert.equal(r.stderr.match(/\] crash /g)?.length, 1, r.stderr)
        }
    },
  )

  describe(
    'without namespaces, the launcher is the parent of what the first process clones with CLONE_PARENT',
    { skip: !isRoot && 'needs root to switch users' },
    () => {
      // The kernel names a new task's parent, not its maker: such children, and the first
      // process's threads, were not followed (no exec, exit or spawn event; rules were blind).
      const { dir, storm } = stormDir('siblings')
      const NO_NS = ['--no-namespaces', '--acknowledge', 'no-view']
      const events = eventsIn
      const modes = [
        {
          name: 'root, the proc connector',
          user: undefined,
          skip: probeKernel().procConnector === false && 'this host refuses the proc connector to root',
        },
        { name: 'a plain user', user: ensureTestUser(), skip: false as const },
      ]
      for (const mode of modes)
        test(
          `as ${mode.name}: their execs and exits, and nothing of the launcher's own`,
          { skip: mode.skip },
          () => {
            const file = join(dir, `siblings-${mode.user ? 'user' : 'root'}.jsonl`)
            // Between two pipes of the caller's own: a plain user's run then has its stdin and
            // output relays, children of the launcher that are not the sandbox's.
            const r = spawnSync(
              'sh',
              [
                '-c',
                'echo input | "$@" | cat',
                'sh',
                process.execPath,
                CLI,
                'run',
                ...NO_NS,
                '--monitor',
                '-q',
                '--events',
                file,
                '--',
                storm,
                'siblings',
                '2',
                '/bin/sleep',
                '0.6',
              ],
              {
                cwd: dir,
                encoding: 'utf8',
                ...(mode.user ?? {}),
                env: { PATH: process.env.PATH, HOME: '/nonexistent', NODE_EXTRA_CA_CERTS: '' },
              },
            )
            assert.equal(r.status, 0, r.stderr)
            const evs = events(file)
            const procs = processes(evs)
            const sleeps = procs.filter((e) => e.action === 'exec' && e.exe === '/usr/bin/sleep')
            assert.equal(new Set(sleeps.map((e) => e.pid)).size, 2, JSON.stringify(procs))
            for (const s of sleeps)
              assert.ok(
                procs.some((e) => e.action === 'exit' && e.pid === s.pid),
                JSON.stringify(procs),
              )
            // Only the sandbox's programs: the relays are the launcher's (cordon-exec, no exec).
            assert.deepEqual(
              [...new Set(procs.filter((e) => e.action === 'exec').map((e) => e.exe))].sort(),
              procs[0]?.source === 'polling' ? ['/usr/bin/sleep'] : [storm, '/usr/bin/sleep'].sort(),
              JSON.stringify(procs),
            )
            if (procs[0]?.source !== 'connector') return
            // Each child counted once as a spawn; the first process not at all.
            const spawns = evs.filter((e) => e.event === 'spawn')
            assert.equal(
              spawns.reduce((n, e) => n + e.count, 0),
              2,
              JSON.stringify(spawns),
            )
          },
        )

      test(
        'as root: the first process’s threads are counted as spawns',
        { skip: probeKernel().procConnector === false && 'this host refuses the proc connector to root' },
        () => {
          const file = join(dir, 'threads.jsonl')
          const r = cordon(
            ['run', ...NO_NS, '--monitor', '-q', '--events', file, '--', storm, 'threads', '30'],
            {
              cwd: dir,
            },
          )
          assert.equal(r.status, 0, r.stderr)
          const spawns = events(file).filter((e) => e.event === 'spawn')
          assert.equal(
            spawns.reduce((n, e) => n + e.count, 0),
            29,
            JSON.stringify(spawns),
          )
        },
      )
    },
  )

  describe(
    'a process is followed while any of its threads lives',
    { skip: (!isRoot || probeKernel().procConnector === false) && 'needs root and the proc connector' },
    () => {
      // The first thread's exit (exit, or another thread's execve) was taken for the process's:
      // it was dropped, and what it did next went unseen (no exec, exit or spawn event).
      const { dir, storm } = stormDir('threads')
      const modes = [
        { name: 'in its namespaces', args: [] },
        { name: 'without namespaces', args: ['--no-namespaces', '--acknowledge', 'no-view'] },
      ]
      const monitored = (mode: (typeof modes)[number], name: string, command: string[]) => {
        const file = join(dir, `${name}.jsonl`)
        const r = cordon(
          ['run', '-q', ...mode.args, '--monitor', '--events', file, '--', storm, ...command],
          {
            cwd: dir,
          },
        )
        const evs = eventsIn(file)
        return { r, evs, procs: processes(evs) }
      }
      for (const mode of modes) {
        test(`${mode.name}: after its first thread ended`, () => {
          const { r, evs, procs } = monitored(mode, `leader-${mode.args.length}`, [
            'leader-exit',
            '2',
            '/bin/sleep',
            '0.3',
          ])
          assert.equal(r.status, 3, r.stderr)
          const sleeps = procs.filter((e) => e.action === 'exec' && e.exe === '/usr/bin/sleep')
          assert.equal(sleeps.length, 2, JSON.stringify(procs))
          // Its own exec names no program when read after its first thread ended (a thread
          // that ended has no /proc/PID/exe): found by its children's parent.
          const self = procs.find((e) => e.action === 'exec' && e.pid === sleeps[0]!.ppid)
          assert.ok(self && (self.exe === undefined || self.exe === storm), JSON.stringify(procs))
          assert.equal(sleeps[1]!.ppid, self.pid)
          // Its end once, with the status it ended with, after its children's.
          const ends = procs.filter((e) => e.action === 'exit' && e.pid === self.pid)
          assert.equal(ends.length, 1, JSON.stringify(procs))
          assert.equal(ends[0]!.code, 3)
          const last = Math.max(
            ...sleeps.map((s) => procs.findIndex((e) => e.action === 'exit' && e.pid === s.pid)),
          )
          assert.ok(last >= 0 && procs.indexOf(ends[0]!) > last, JSON.stringify(procs))
          if (mode.args.length) {
            // The second thread and the two children, counted by the connector.
            const spawns = evs.filter((e) => e.event === 'spawn')
            assert.equal(
              spawns.reduce((n, e) => n + e.count, 0),
              3,
              JSON.stringify(spawns),
            )
          }
        })

        test(`${mode.name}: a thread’s execve that dies past its point of no return ends it`, () => {
          // The first thread's end, then the exec'ing thread's under the same pid: the second
          // was taken for the first again, and the process stayed tracked for good (helper-147:
          // 16 420 of them filled the table; a later bomb went unfollowed, host pids matched).
          const big = join(dir, 'big')
          if (!existsSync(big)) {
            writeFileSync(
              `${big}.c`,
              'static char b[512 << 20];\nint main(void) { b[0] = 1; return b[1]; }\n',
            )
            execFileSync('cc', ['-O1', '-o', big, `${big}.c`])
          }
          const { r, procs } = monitored(mode, `dies-${mode.args.length}`, ['exec-dies', '3', big])
          assert.equal(r.status, 0, r.stderr)
          assert.equal(r.stdout.trim(), 'died 3 of 3')
          const deaths = procs.filter((e) => e.action === 'exit' && e.signal === 'SIGSEGV')
          assert.equal(new Set(deaths.map((e) => e.pid)).size, 3, JSON.stringify(procs))
        })

        test(`${mode.name}: after another thread’s execve`, () => {
          const { r, procs } = monitored(mode, `exec-${mode.args.length}`, [
            'thread-exec',
            '/bin/sh',
            '-c',
            'sleep 0.3; exit 4',
          ])
          assert.equal(r.status, 4, r.stderr)
          const sleep = procs.find((e) => e.action === 'exec' && e.exe === '/usr/bin/sleep')
          assert.ok(sleep, JSON.stringify(procs))
          // Both its programs under its pid (the first one's name is read when the event is,
          // so it may be the second's already), the shell's child after them.
          const own = procs.filter((e) => e.action === 'exec' && e.pid === sleep.ppid)
          assert.equal(own.length, 2, JSON.stringify(procs))
          assert.equal(own[1]!.exe, '/usr/bin/dash')
          assert.ok(procs.indexOf(own[1]!) < procs.indexOf(sleep))
          const ends = procs.filter((e) => e.action === 'exit' && e.pid === sleep.ppid)
          assert.deepEqual(
            ends.map((e) => e.code),
            [4],
            JSON.stringify(procs),
          )
        })
      }
    },
  )
})
