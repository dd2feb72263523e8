// The unprivileged path: a plain user runs cordon through user namespaces, no setuid anywhere.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { cgroupMounts } from '../../src/cgroup/select.js'
import { after, before, describe, test } from 'node:test'
import { CLI, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

let user = { uid: 0, gid: 0 }
const asUser = (args: string[], cwd: string) => cordonAs(user, args, cwd)

/** Starts n idle processes in a new process group; returns the group's id, for SIGKILL.
 * Perl (always on Debian, perl-base) forks faster than a shell or Python. */
function crowd(n: number): number {
  const script = `open STDIN, "</dev/null"; for (1..${n}) { my $p = fork; if (defined $p && $p == 0) { close STDOUT; close STDERR; sleep 600; exit } } print "$$\\n"`
  return Number(execFileSync('setsid', ['perl', '-e', script], { encoding: 'utf8' }).trim())
}

describe('as an unprivileged user', { skip: isRoot ? false : 'needs root to create the test user' }, () => {
  const project = `/tmp/cordon-unpriv-${process.pid}`
  before(() => {
    user = ensureTestUser()
    mkdirSync(project, { recursive: true })
    chmodSync(project, 0o777)
  })
  after(() => rmSync(project, { recursive: true, force: true }))

  test('runs in its own namespaces with the caller uid inside', () => {
    const r = asUser(['run', '--', 'sh', '-c', 'id -u; echo $$; hostname; cat /proc/self/uid_map'], project)
    assert.equal(r.status, 0, r.stderr)
    const [inside, pid, host, map] = r.stdout.trim().split('\n')
    assert.equal(inside, String(user.uid))
    assert.equal(pid, '2')
    assert.equal(host, 'cordon')
    assert.deepEqual(map!.trim().split(/\s+/), [String(user.uid), String(user.uid), '1'])
  })

  test('read-only binds, private tmpfs and masked secrets hold', () => {
    const r = asUser(
      ['run', '--', 'sh', '-c', 'touch /usr/x 2>&1; echo t > /tmp/t && cat /tmp/t; cat /etc/shadow 2>&1'],
      project,
    )
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stdout, /Read-only file system/)
    assert.match(r.stdout, /^t$/m)
    assert.match(r.stdout, /shadow: Permission denied/)
  })

  test('--rw . writes land in the project as the caller', () => {
    const r = asUser(
      ['run', '--rw', '.', '--', 'sh', '-c', 'echo hi > out.txt && stat -c %u out.txt'],
      project,
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), String(user.uid))
  })

  test('--uid 0 makes the caller root inside, still without capabilities on the host', () => {
    const r = asUser(
      ['run', '--uid', '0', '--gid', '0', '--', 'sh', '-c', 'id -u; grep CapEff /proc/self/status'],
      project,
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^0$/m)
    assert.match(r.stdout, /CapEff:\s+0000000000000000/)
  })

  test('cordon check reports user namespaces available to this user', () => {
    const r = asUser(['check', '--json'], project)
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout) as { usable: boolean; facts: { probe: { uid: number } } }
    assert.equal(report.usable, true)
    assert.equal(report.facts.probe.uid, user.uid)
  })

  test('exit statuses and signals propagate as for root', () => {
    assert.equal(asUser(['run', '--', 'sh', '-c', 'exit 42'], project).status, 42)
    // Killed by SIGTERM: cordon dies of it too, as the caller would have seen the command die.
    const killed = asUser(['run', '--', 'sh', '-c', 'kill -TERM $$'], project)
    assert.equal(killed.signal, 'SIGTERM', killed.stderr)
    assert.equal(asUser(['run', '--', 'no-such-command'], project).status, 127)
    const setup = asUser(['run', '--ro', '/nonexistent-src:/x', '--', 'true'], project)
    assert.equal(setup.status, 125)
    assert.match(setup.stderr, /--ro \/nonexistent-src:\/x: \/nonexistent-src does not exist/)
  })

  test('limits without a cgroup: best effort and said so, pids as RLIMIT_NPROC, refused when required', () => {
    const best = asUser(
      ['run', '--memory', '64M', '--', 'sh', '-c', 'grep "Max processes" /proc/self/limits'],
      project,
    )
    assert.equal(best.status, 0, best.stderr)
    assert.match(best.stdout, /Max processes +4096 +4096/)
    assert.match(
      best.stderr,
      /not enforced: limit memory 64 MiB \(only root gets a cgroup on this host, and no cgroup v2 subtree is delegated to this user\)/,
    )
    // The two answers besides -q (helper-134 found neither): refuse such a run, or ask for none.
    assert.match(
      best.stderr,
      /`--require limits` refuses such a run, `--memory max --pids max` asks for no limit/,
    )
    // -q hides the gaps a host repeats at every run, not a limit this command line asked for.
    const quiet = asUser(['run', '-q', '--memory', '64M', '--', 'true'], project)
    assert.equal(quiet.status, 0, quiet.stderr)
    assert.match(
      quiet.stderr,
      /^cordon: not enforced: limit memory 64 MiB, asked for by --memory \(only root/,
    )
    assert.equal(quiet.stderr.trim().split('\n').length, 1, quiet.stderr)
    assert.equal(asUser(['run', '-q', '--', 'true'], project).stderr, '')
    const none = asUser(['run', '--memory', 'max', '--pids', 'max', '--', 'true'], project)
    assert.equal(none.status, 0, none.stderr)
    assert.doesNotMatch(none.stderr, /limit/)
    const refused = asUser(['run', '--memory', '64M', '--require', 'limits', '--', 'true'], project)
    assert.equal(refused.status, 125)
    assert.match(
      refused.stderr,
      /requires its limits .* cannot be enforced: only root gets a cgroup on this host/,
    )
    const policy = `${project}/rlimit.yaml`
    writeFileSync(policy, 'extends: [default]\nlimits:\n  rlimits: { nofile: 32 }\n')
    chmodSync(policy, 0o644)
    const r = asUser(['run', '--policy', policy, '--', 'sh', '-c', 'ulimit -n'], project)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '32')
  })

  test('notified syscalls reach the launcher without privileges', () => {
    const file = `${project}/watch-events.jsonl`
    const r = asUser(
      [
        'run',
        '--watch',
        'execve,mkdir',
        '--json',
        '--events',
        file,
        '--',
        'sh',
        '-c',
        'mkdir /tmp/d && /bin/true',
      ],
      project,
    )
    assert.equal(r.status, 0, r.stderr)
    const events = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; syscall?: string; path?: string })
    assert.ok(events.some((e) => e.event === 'syscall' && e.syscall === 'execve' && e.path === '/bin/true'))
    assert.ok(events.some((e) => e.event === 'syscall' && e.syscall === 'mkdir' && e.path === '/tmp/d'))
  })

  test('a freeze without a cgroup stops a process that forks away from every pass', () => {
    // Each generation forks and exits at once, so one sweep of SIGSTOP never reaches the newest
    // pid, which sends SIGCONT to the rest. A sweep from outside lost this race whenever a pass
    // over /proc took longer than a fork (a busy CI host): the sandbox's init stops them all at
    // once (kill(-1) in its pid namespace). 1000 idle processes make every pass slow here.
    const hop = `
import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
start = time.monotonic()
if os.fork() > 0:
    while True: signal.pause()
last, n = -1, 0
while True:
    if os.fork() > 0: os._exit(0)
    n += 1
    if n % 4 == 0: os.kill(-1, signal.SIGCONT)
    t = int(time.monotonic() - start)
    if t != last:
        last = t
        os.write(1, b'alive %d\\n' % t)
`
    const rules = `${project}/low-storm.yaml`
    writeFileSync(
      rules,
      'rules:\n  - rule: fork-storm\n    description: low for the test\n    when: spawn\n' +
        '    rate: count > 20 within 1s\n    then: [freeze, alert]\n    priority: critical\n' +
        "    output: 'fork storm: {count}'\n",
    )
    chmodSync(rules, 0o644)
    const group = crowd(1000)
    let r
    try {
      r = asUser(
        ['run', '--monitor', '--rules', rules, '--timeout', '6s', '--', 'python3', '-c', hop],
        project,
      )
    } finally {
      process.kill(-group, 'SIGKILL')
    }
    assert.match(r.stderr, /fork storm/)
    const seconds = r.stdout
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[1]))
    assert.ok(Math.max(...seconds) <= 2, `still running after the freeze: ${r.stdout}`)
  })

  test('learn, then enforce: the same output, nothing refused, no cgroup limits it could not use', () => {
    const dir = `${project}/learn`
    const script = 'tar cf out.tar data && tar tf out.tar | sort'
    const reset = () => {
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(`${dir}/data/sub`, { recursive: true })
      writeFileSync(`${dir}/data/one.txt`, 'one\n')
      writeFileSync(`${dir}/data/sub/two.txt`, 'two\n')
      execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir])
    }
    reset()
    const learned = asUser(['learn', '-o', 'tar.yaml', '--json', '--', 'sh', '-c', script], dir)
    assert.equal(learned.status, 0, learned.stderr)
    const lines = learned.stdout.trimEnd().split('\n')
    const summary = JSON.parse(lines.pop()!) as { blockedFraction: number }
    assert.ok(summary.blockedFraction >= 0.85, `blocks ${summary.blockedFraction}`)
    const policy = readFileSync(`${dir}/tar.yaml`, 'utf8')
    // No cgroup for this user, so no peaks learned: the limits are the base profile's own.
    assert.doesNotMatch(policy, /peaks seen/, 'no cgroup for this user, so no cgroup limits learned')
    assert.match(policy, /^limits: {2}# the base's\n {2}memory: "50%"\n {2}pids: 4096$/m)
    cpSync(`${dir}/tar.yaml`, `${project}/tar.yaml`)
    reset()
    const enforced = asUser(['run', '-p', `${project}/tar.yaml`, '--', 'sh', '-c', script], dir)
    assert.equal(enforced.status, 0, enforced.stderr)
    assert.equal(enforced.stdout.trimEnd(), lines.join('\n'))
    reset()
    const audited = asUser(
      [
        'run',
        '--audit',
        '--json',
        '--events',
        `${project}/audit-events.jsonl`,
        '-p',
        `${project}/tar.yaml`,
        '--',
        'sh',
        '-c',
        script,
      ],
      dir,
    )
    assert.equal(audited.status, 0, audited.stderr)
    const last = readFileSync(`${project}/audit-events.jsonl`, 'utf8').trim().split('\n').pop()!
    const report = JSON.parse(last) as { violations: unknown[] }
    assert.deepEqual(report.violations, [])
    const probe = asUser(
      [
        'run',
        '-p',
        `${project}/tar.yaml`,
        '--',
        'sh',
        '-c',
        'read l < /etc/shadow && echo READ; echo x > ../escape && echo WROTE; true',
      ],
      dir,
    )
    assert.doesNotMatch(probe.stdout, /READ/)
    assert.ok(!existsSync(`${project}/escape`), 'the write stayed in the sandbox’s private /tmp')
  })

  test('cordon verify: every attack blocked for a plain user too (the setuid and root-only fixtures need root)', () => {
    const r = asUser(['verify', '--json'], project)
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout) as {
      failures: number
      results: { probe: string; outcome: string; expected: boolean; by?: string; reason?: string }[]
    }
    assert.equal(out.failures, 0)
    // Entries this host lacks (an i386 entry that faults) are "not applicable", not the user's.
    assert.deepEqual(
      out.results
        .filter((x) => x.outcome === 'skipped' && !/not applicable on this host/.test(x.reason ?? ''))
        .map((x) => x.probe),
      ['setuid', 'root-only-read'],
    )
    for (const x of out.results) if (x.expected) assert.equal(x.outcome, 'blocked', x.probe)
    // No cgroup for a plain user: tasks are bounded by RLIMIT_NPROC in its user namespace, and
    // the memory limit is reported as not enforced rather than claimed.
    const find = (name: string) => out.results.find((x) => x.probe === name)!
    assert.equal(find('fork-bomb').by, 'rlimit (RLIMIT_NPROC in the user namespace)')
    assert.equal(find('fork-bomb').expected, true)
    assert.deepEqual(
      [find('memory').expected, find('memory').reason],
      [
        false,
        'the memory limit is not enforced here: only root gets a cgroup on this host, and no cgroup v2 subtree is delegated to this user',
      ],
    )
  })

  test('a delegated cgroup v2 subtree gives the user its own groups: made, frozen, removed', async () => {
    const v2 = cgroupMounts().v2
    if (!v2) return // no v2 tree on this host
    // What systemd's Delegate=yes does: a directory the user owns, with the user's shell in it.
    const delegated = `${v2}/cordon-delegated-${process.pid}`
    mkdirSync(delegated)
    for (const f of ['', '/cgroup.procs', '/cgroup.subtree_control', '/cgroup.threads'])
      chownSync(`${delegated}${f}`, user.uid, user.gid)
    const env = 'PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent NODE_EXTRA_CA_CERTS='
    const asDelegated = (args: string) =>
      spawn(
        'sh',
        [
          '-c',
          `echo $$ > ${delegated}/cgroup.procs && exec setpriv --reuid=${user.uid} --regid=${user.gid} --clear-groups env -i ${env} ${process.execPath} ${CLI} ${args}`,
        ],
        { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    const collect = (child: ReturnType<typeof spawn>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        let stdout = ''
        let stderr = ''
        child.stdout!.on('data', (b: Buffer) => (stdout += b))
        child.stderr!.on('data', (b: Buffer) => (stderr += b))
        child.on('exit', (code) => resolve({ code, stdout, stderr }))
      })
    const groups = () => {
      try {
        return readdirSync(`${delegated}/cordon`).filter((n) => n.startsWith('run-'))
      } catch {
        return []
      }
    }
    try {
      const running = collect(
        asDelegated('run --json --events-fd 3 -- sh -c "echo started; sleep 1.5; echo done" 3>&2'),
      )
      const members = () =>
        groups().flatMap((g) =>
          readFileSync(`${delegated}/cordon/${g}/cgroup.procs`, 'utf8').trim().split('\n').filter(Boolean),
        )
      for (let i = 0; i < 150 && members().length === 0; i++) await sleep(20)
      assert.equal(groups().length, 1, 'the sandbox has a group in the delegated subtree')
      assert.ok(members().length > 0, 'the sandbox joined it')
      const group = `${delegated}/cordon/${groups()[0]}`
      // Another cordon process of the user freezes it through that group, not with SIGSTOP.
      const ps = await collect(asDelegated('ps --json'))
      // This user's other sandboxes (another test file's, running beside this one) are listed too.
      const id = (
        JSON.parse(ps.stdout) as { sandboxes: { id: string; cgroup?: unknown; command: string[] }[] }
      ).sandboxes.find((s) => s.command.join(' ').includes('echo started; sleep 1.5; echo done'))!
      assert.ok(id.cgroup, ps.stdout)
      const frozen = await collect(asDelegated(`freeze ${id.id}`))
      assert.equal(frozen.code, 0, frozen.stderr)
      assert.doesNotMatch(frozen.stderr, /SIGSTOP/)
      assert.match(readFileSync(`${group}/cgroup.events`, 'utf8'), /^frozen 1$/m)
      assert.equal((await collect(asDelegated(`thaw ${id.id}`))).code, 0)
      const r = await running
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /started\ndone/)
      assert.match(r.stderr, /"event":"started","pid":\d+,(?:"commandPid":\d+,)?"cgroupJoin":"clone3"/)
      // No memory controller delegated here: the limit is reported, with the reason.
      assert.match(
        r.stderr,
        /"statement":"limit memory [^"]+","status":"none","enforcedBy":\[\],"missing":\[\{"layer":"cgroup","why":"the cgroup delegated to this user \([^)]+\) has no memory controller"/,
      )
      assert.deepEqual(groups(), [], 'the group is removed at exit')
      const check = await collect(asDelegated('check'))
      assert.ok(check.stdout.includes(`this user's groups go in ${delegated} (controllers: `), check.stdout)
    } finally {
      for (const d of [`${delegated}/cordon`, delegated])
        try {
          rmdirSync(d)
        } catch {}
    }
  })
})
