// One policy, three backends: cordon's launcher, runc and gVisor (runsc). The shared contract is
// the escape battery: every attack the policy stops natively must be stopped by each backend
// too, and what a backend enforces with fewer layers must be said by the run.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir, runtimesSkip } from '../helpers.js'

// CI installs both runtimes (.ci/run); elsewhere the tests need them and root.
const why = runtimesSkip()

interface Result {
  probe: string
  outcome: string
  expected: boolean
  by?: string
  target?: string
}
interface StatusEvent {
  event: 'status'
  backend?: string
  statements: { statement: string; status: string; enforcedBy: string[]; missing: { layer: string }[] }[]
}

// A memory limit the probe reaches in a second, not half of this host's RAM.
const CONTRACT = ['--memory', '512M', '--pids', '512']

function battery(backend: string, project: string): Result[] {
  const r = cordon(['verify', ...CONTRACT, '--backend', backend, '--json'], {
    cwd: project,
    timeout: 300_000,
  })
  const out = JSON.parse(r.stdout) as { results: Result[]; failures: number }
  assert.equal(
    out.failures,
    0,
    `${backend}: ${JSON.stringify(out.results.filter((x) => x.outcome !== 'blocked'))}`,
  )
  return out.results
}

const label = (r: Result) => `${r.probe}${r.target && !/\d{3,}/.test(r.target) ? ` ${r.target}` : ''}`

function statusOf(stderr: string): StatusEvent {
  const line = stderr.split('\n').find((l) => l.includes('"event":"status"'))
  assert.ok(line, stderr)
  return JSON.parse(line) as StatusEvent
}

describe('backends', { skip: why }, () => {
  const project = projectDir()

  test('the escape battery: what native blocks, runc and gVisor block too', () => {
    const native = battery('native', project)
    const blocked = native.filter((r) => r.expected && r.outcome === 'blocked').map(label)
    assert.ok(blocked.length >= 40, String(blocked.length))
    for (const backend of ['runc', 'gvisor']) {
      const results = battery(backend, project)
      const theirs = new Set(results.filter((r) => r.outcome === 'blocked').map(label))
      // What the backend does not promise, said by the battery itself: a root caller's container
      // is host root there (runc 1.1 has no idmapped mounts), so a 0600 root file is readable.
      const unpromised = new Set(results.filter((r) => !r.expected && r.outcome !== 'skipped').map(label))
      assert.deepEqual(
        blocked.filter((b) => !theirs.has(b) && !unpromised.has(b)),
        [],
        `${backend} lets through what native blocks`,
      )
      // And gVisor's noexec refuses an execve, not ld.so's executable mapping (CI39).
      assert.deepEqual(
        [...unpromised].filter((b) => blocked.includes(b)).map((b) => b.split(' ')[0]),
        [...(backend === 'gvisor' ? ['exec-tmp'] : []), ...(isRoot ? ['root-only-read'] : [])],
      )
      // The layer is named honestly: no Landlock in either runtime, gVisor's kernel in gVisor.
      for (const r of results) assert.doesNotMatch(r.by ?? '', /landlock/i, `${backend} ${r.probe}`)
      if (backend === 'gvisor')
        for (const r of results.filter((x) => x.outcome === 'blocked'))
          assert.match(r.by!, /gVisor|^cgroup/, r.probe)
      // gVisor's kernel stops the bomb at the program's limit (RLIMIT_NPROC), or the host cgroup
      // ends the sandbox when the bomb's churn takes the room given to gVisor's own tasks.
      const bomb = results.find((r) => r.probe === 'fork-bomb')!
      assert.match(
        bomb.by!,
        backend === 'gvisor'
          ? /^rlimit \(RLIMIT_NPROC in gVisor|^cgroup \(pids limit/
          : /^cgroup \(pids limit/,
      )
      const memory = results.find((r) => r.probe === 'memory')!
      assert.match(memory.by!, /^cgroup \(memory limit/)
    }
  })

  test('each backend reports which statements it enforces with fewer layers', () => {
    const report = (backend: string) => {
      const file = join(project, `${backend}-events.jsonl`)
      const r = cordon(['run', '--backend', backend, '--json', '--events', file, '--', '/bin/true'], {
        cwd: project,
      })
      assert.equal(r.status, 0, r.stderr)
      return statusOf(readFileSync(file, 'utf8'))
    }
    const native = report('native')
    assert.equal(native.backend, undefined)
    const mask = (s: StatusEvent) => s.statements.find((x) => x.statement === 'mask /etc/shadow')!
    assert.deepEqual(mask(native).enforcedBy, ['mount view', 'landlock'])
    const runc = report('runc')
    assert.equal(runc.backend, 'runc')
    assert.deepEqual(mask(runc), {
      statement: 'mask /etc/shadow',
      status: 'partial',
      enforcedBy: ['mount view'],
      missing: [{ layer: 'landlock', why: 'runc has no Landlock layer' }],
    })
    const gvisor = report('gvisor')
    assert.deepEqual(mask(gvisor).enforcedBy, ['mount view (gVisor)'])
    // The program's tasks in gVisor's kernel; the whole sandbox, runsc's own tasks too, on the host.
    const pids = gvisor.statements.find((x) => x.statement === 'limit pids 4096')!
    assert.deepEqual(pids.enforcedBy, ['rlimit nproc (gVisor)', 'cgroup'])
    // Without --json the difference is one warning line, before the command's output.
    const plain = cordon(['run', '--backend', 'runc', '--', '/bin/echo', 'hi'], { cwd: project })
    assert.equal(plain.stdout, 'hi\n')
    assert.match(plain.stderr, /enforced by fewer layers than possible \(runc has no Landlock layer[;)]/)
    // A root caller's runc container without writable binds runs as the host id range; gVisor's
    // is host root, and the status says so (issue 17).
    const hostRoot = (s: StatusEvent) => s.statements.find((x) => x.statement === 'no host root powers')
    if (isRoot) {
      assert.deepEqual(hostRoot(runc)?.missing, [])
      assert.deepEqual(hostRoot(gvisor)?.missing, [
        { layer: 'id range (gVisor)', why: "gVisor (runsc) runs a root caller's container as host root" },
      ])
    }
  })

  test('plan --backend: the bundle and the statements the run gets, its refusal in the same words', () => {
    for (const backend of ['runc', 'gvisor']) {
      const file = join(project, `${backend}-plan-events.jsonl`)
      const run = cordon(
        ['run', '--backend', backend, '--json', '--events', file, '--', '/bin/cat', '/proc/self/mountinfo'],
        { cwd: project },
      )
      assert.equal(run.status, 0, run.stderr)
      const plan = cordon(['plan', '--backend', backend, '--json'], { cwd: project })
      assert.equal(plan.status, 0, plan.stderr)
      const planned = JSON.parse(plan.stdout) as {
        backend: string
        available: boolean
        config: { mounts: { destination: string }[]; process: { args: string[] } }
        statements: unknown
      }
      assert.equal(planned.backend, backend)
      assert.equal(planned.available, true)
      assert.deepEqual(planned.statements, statusOf(readFileSync(file, 'utf8')).statements)
      // Every mount of the planned bundle is a mount the runtime made (gVisor's own mount table
      // shows its view, not the host's); the command is a placeholder the run replaces.
      const points = new Set(run.stdout.split('\n').map((l) => l.split(' ')[4]))
      const missing = planned.config.mounts.map((m) => m.destination).filter((d) => !points.has(d))
      assert.deepEqual(missing, [], run.stdout)
      assert.equal(planned.config.process.args.at(-1), 'COMMAND')
      const human = cordon(['plan', '--backend', backend], { cwd: project })
      assert.match(human.stdout, /^\S.* runs this policy as an OCI bundle/)
      assert.match(human.stdout, /\n {2}seccomp {7}calls by rule: \d+ fail with EPERM/)
      assert.match(
        human.stdout,
        new RegExp(`statements under --backend ${backend} on this host:\n {2}partial bind /usr`),
      )
      // The run's warning names the command that lists them.
      const plain = cordon(['run', '--backend', backend, '--', '/bin/true'], { cwd: project })
      assert.match(plain.stderr, new RegExp(`\\[\`cordon plan --backend ${backend}\` lists each statement`))
      // A policy the run refuses before the runtime starts: the plan says so, in the run's words.
      const refusedRun = cordon(['run', '--backend', backend, '--tcp-connect', '80', '--', '/bin/true'], {
        cwd: project,
      })
      assert.equal(refusedRun.status, 125, refusedRun.stderr)
      const refusedPlan = cordon(['plan', '--backend', backend, '--tcp-connect', '80'], { cwd: project })
      assert.equal(refusedPlan.status, 0, refusedPlan.stderr)
      const words = refusedRun.stderr
        .replace(/^cordon: /, '')
        .replace(/^Refused: /, '')
        .trim()
      assert.ok(
        refusedPlan.stdout.startsWith(
          `cordon run --backend ${backend} would refuse this policy here: ${words}\n`,
        ),
        `${refusedPlan.stdout}\n---\n${refusedRun.stderr}`,
      )
    }
  })

  test('check --backend: the runtime asked to run ls /, and its statements', () => {
    for (const backend of ['runc', 'gvisor']) {
      const ls = cordon(['run', '--backend', backend, '--', '/bin/ls', '/'], { cwd: project })
      const r = cordon(['check', '--backend', backend, '--json'], { cwd: project })
      const out = JSON.parse(r.stdout) as {
        usable: boolean
        checks: { id: string; status: string; detail: string }[]
        statements: StatusEvent['statements']
      }
      const check = out.checks.find((c) => c.id === `backend-${backend}`)!
      // The verdict is the runtime's own on this host (Debian's runsc fails `ls /` on some kernels).
      assert.equal(check.status, ls.status === 0 ? 'ok' : 'missing', `${check.detail}\n${ls.stderr}`)
      assert.equal(out.usable, ls.status === 0)
      assert.equal(r.status, ls.status === 0 ? 0 : 1)
      const plan = JSON.parse(cordon(['plan', '--backend', backend, '--json'], { cwd: project }).stdout) as {
        statements: unknown
      }
      assert.deepEqual(out.statements, plan.statements)
    }
  })

  // A runtime broken on this host fails the command with its own error, which read as the
  // command's (helper-125: runsc 2022 on Linux 6.18, "ls: cannot access '/': Invalid argument").
  // A failed run asks whether the runtime works here (once per binary and kernel) and says so;
  // under a runtime that works, a command's own failure gets no word from cordon.
  test('a failed run under a runtime broken here says so; a command’s own failure does not', () => {
    for (const [backend, program] of [
      ['runc', 'runc'],
      ['gvisor', 'runsc'],
    ] as const) {
      const ls = cordon(['run', '-q', '--backend', backend, '--', '/bin/ls', '/'], { cwd: project })
      if (ls.status === 0) {
        const own = cordon(['run', '-q', '--backend', backend, '--', 'sh', '-c', 'exit 3'], { cwd: project })
        assert.equal(own.status, 3, own.stderr)
        assert.equal(own.stderr, '', backend)
      } else {
        assert.match(
          ls.stderr,
          new RegExp(
            `the failure may be ${program}'s, not the command's: ${program} is installed, but \`ls /\` fails under it here`,
          ),
        )
        assert.ok(ls.stderr.includes(`\`cordon check --backend ${backend}\` tests it`), ls.stderr)
      }
    }
  })

  // The container's init says only ENOENT; the host says why, as natively (helper-125).
  test("a command not found under runc gets the host's hint; a command's own 127 does not", () => {
    const mine = join(project, 'mine')
    mkdirSync(mine, { recursive: true })
    writeFileSync(join(mine, 'mytool'), '#!/bin/sh\necho mine\n', { mode: 0o755 })
    const env = { PATH: `${mine}:${process.env.PATH ?? '/usr/bin:/bin'}` }
    const r = cordon(['run', '--backend', 'runc', '-q', '--', 'mytool'], { cwd: join(project, 'mine'), env })
    assert.equal(r.status, 127, r.stderr)
    assert.ok(r.stderr.includes(`exec mytool: mytool is ${mine}/mytool on your PATH`), r.stderr)
    const own = cordon(['run', '--backend', 'runc', '-q', '--', 'sh', '-c', 'exit 127'], { cwd: project })
    assert.equal(own.status, 127)
    assert.equal(own.stderr, '')
  })

  test('run: stdio, exit status, the view, setup errors and timeouts as with the native backend', () => {
    for (const backend of ['runc', 'gvisor']) {
      const r = cordon(
        [
          'run',
          '--backend',
          backend,
          '--',
          'sh',
          '-c',
          'read x; echo "got $x"; head -c1 /etc/shadow; exit 7',
        ],
        { cwd: project, input: 'word\n' },
      )
      assert.equal(r.status, 7, `${backend}: ${r.stderr}`)
      assert.equal(r.stdout, 'got word\n', backend) // /etc/shadow masked: empty
      const killed = cordon(['run', '--backend', backend, '--', 'sh', '-c', 'kill -TERM $$; sleep 5'], {
        cwd: project,
      })
      // The command is not the container's pid 1 (cordon's init is): its own signal ends it.
      assert.equal(killed.status, 143, `${backend}: ${killed.stderr}`)
      // The init execs the command: a missing one is 127 with its line, as natively.
      const missing = cordon(['run', '--backend', backend, '--', '/no/such/program'], { cwd: project })
      assert.equal(missing.status, 127, missing.stderr)
      assert.match(missing.stderr, /^cordon: exec \/no\/such\/program failed: ENOENT: no such file$/m)
      const unlisted = cordon(['run', '--backend', backend, '--', 'no-such-program'], { cwd: project })
      assert.equal(unlisted.status, 127, unlisted.stderr)
      assert.match(
        unlisted.stderr,
        /^cordon: exec no-such-program failed: ENOENT: not found in the sandbox's PATH$/m,
      )
      const slow = cordon(['run', '--backend', backend, '--timeout', '1s', '--', 'sleep', '30'], {
        cwd: project,
      })
      assert.equal(slow.status, 137, `${backend}: ${slow.stderr}`)
      assert.match(slow.stderr, /timed out after 1000 ms/)
    }
    const monitored = cordon(['run', '--backend', 'runc', '--monitor', '--', '/bin/true'], { cwd: project })
    assert.equal(monitored.status, 125)
    assert.match(monitored.stderr, /--monitor needs cordon's own launcher .*: drop --backend runc/)
    const bad = cordon(['run', '--backend', 'kata', '--', '/bin/true'], { cwd: project })
    assert.equal(bad.status, 125)
    assert.match(bad.stderr, /--backend must be one of native, runc, gvisor, got `kata`/)
  })

  describe('as an unprivileged user', () => {
    let user = { uid: 0, gid: 0 }
    const dir = `/tmp/cordon-backends-${process.pid}`
    before(() => {
      user = ensureTestUser()
      mkdirSync(dir, { recursive: true })
      chmodSync(dir, 0o777)
      writeFileSync(join(dir, 'hello'), 'hello\n')
    })
    after(() => rmSync(dir, { recursive: true, force: true }))

    test('runc runs rootless: the battery holds, without a cgroup the pids limit is RLIMIT_NPROC', () => {
      const r = cordonAs(user, ['run', '--backend', 'runc', '--', 'cat', 'hello'], dir)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'hello\n')
      assert.match(r.stderr, /not enforced: limit memory .*only root gets a cgroup/)
      const v = cordonAs(user, ['verify', '--backend', 'runc', '--json'], dir, 120_000)
      const out = JSON.parse(v.stdout) as { results: Result[]; failures: number }
      assert.equal(out.failures, 0, v.stdout)
      assert.equal(
        out.results.find((x) => x.probe === 'fork-bomb')!.by,
        'rlimit (RLIMIT_NPROC in the user namespace)',
      )
    })

    test('gVisor says it needs root instead of failing inside runsc', () => {
      const r = cordonAs(user, ['run', '--backend', 'gvisor', '--', '/bin/true'], dir)
      assert.equal(r.status, 125)
      assert.match(
        r.stderr,
        /--backend gvisor: gVisor \(runsc\) needs root here; unprivileged, use --backend native or runc/,
      )
      assert.doesNotMatch(r.stderr, /warning/)
      // check's fix was to install what is installed (helper-138).
      const check = cordonAs(user, ['check', '--backend', 'gvisor'], dir)
      assert.match(check.stdout + check.stderr, /fix: run it as root, or use --backend native or runc/)
    })
  })
})
