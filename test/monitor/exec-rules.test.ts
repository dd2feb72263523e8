// Exec rules judge the program that runs, not the name it was called by (issue 18, finding 8):
// a shell started through a symlink named /tmp/innocent fires shell-exec; a file run from an fd
// (execveat AT_EMPTY_PATH, as fexecve and a memfd do) or through /proc/self/fd/N fires
// exec-new-binary. memfd_create without MFD_NOEXEC_SEAL is refused in every sandbox (the
// exec-memfd probe), so the memfd case itself is shown on the engine with the event the
// launcher reports for one; the launcher's lookup of an fd is the same for a deleted file.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type Alert, Monitor, type Target } from '../../src/monitor/engine.js'
import { DEFAULT_RULES_FILE, loadRules } from '../../src/monitor/rules.js'
import type { SandboxEvent } from '../../src/run/events.js'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const timeout = 60_000

/** Runs a file from an fd and through /proc/self/fd/N after deleting it: both name no path. */
const FEXEC = `import os, shutil, sys
p = os.path.join(sys.argv[1], 'prog')
shutil.copy('/bin/true', p)
os.chmod(p, 0o755)
fd = os.open(p, os.O_RDONLY)
os.unlink(p)
for target in (fd, '/proc/self/fd/%d' % fd):
    pid = os.fork()
    if pid == 0:
        os.execve(target, ['prog'], {})
    os.waitpid(pid, 0)
`

const SYMLINK_SHELL = 'ln -sf /bin/sh /tmp/innocent && /tmp/innocent -c true'

function scratch(name: string, owner?: { uid: number; gid: number }): string {
  const dir = join('/tmp', `cordon-exec-rules-${process.pid}-${name}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { mode: 0o755 })
  writeFileSync(join(dir, 'fexec.py'), FEXEC)
  if (owner) chownSync(dir, owner.uid, owner.gid)
  return dir
}

type Runner = (args: string[], cwd: string) => { status: number | null; stderr: string }

function cases(run: Runner, owner?: { uid: number; gid: number }) {
  return () => {
    test('a shell called through a symlink named /tmp/innocent fires shell-exec', { timeout }, (t) => {
      const dir = scratch('shell', owner)
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const r = run(['run', '--monitor', '--', 'sh', '-c', SYMLINK_SHELL], dir)
      assert.equal(r.status, 0, r.stderr)
      assert.match(
        r.stderr,
        /\[warning\] shell-exec .*shell started: \/tmp\/innocent \(pid \d+, runs \/usr\/bin\/\w*sh\)/,
      )
    })

    // helper-95: a command that execs a shell as its first act was missed most runs: that
    // execve waited on the listener in the same pass as the end of the command's own exec, and
    // reported first it passed for the launcher's exec (`initial`).
    test(
      'a shell exec’d at once by the command fires shell-exec, every run',
      { timeout, skip: spawnSync('cc', ['--version']).status !== 0 && 'needs a C compiler' },
      (t) => {
        const dir = scratch('at-once', owner)
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        writeFileSync(
          join(dir, 'at-once.c'),
          '#include <unistd.h>\nextern char **environ;\nint main(void) { char *a[] = {"/bin/sh", "-c", "true", 0}; execve(a[0], a, environ); return 1; }\n',
        )
        execFileSync('cc', ['-O1', '-o', join(dir, 'at-once'), join(dir, 'at-once.c')])
        if (owner) chownSync(join(dir, 'at-once'), owner.uid, owner.gid)
        for (let i = 0; i < 8; i++) {
          const r = run(['run', '-q', '--monitor', '--', join(dir, 'at-once')], dir)
          assert.equal(r.status, 0, r.stderr)
          assert.match(r.stderr, /shell-exec .*shell started: \/bin\/sh/, `run ${i}: ${r.stderr}`)
        }
      },
    )

    // The launcher read 511 bytes of an exec's path: a path whose first 511 named a link to
    // /bin/true ran the shell its whole length names, unalerted (helper-151).
    test(
      'a shell behind a long path whose prefix names another program fires shell-exec',
      { timeout },
      (t) => {
        const dir = scratch('long-path', owner)
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        symlinkSync('/bin/true', join(dir, 's'))
        symlinkSync('/bin/sh', join(dir, 'sX'))
        const long = `${dir}/`.padEnd(510, '/') + 'sX'
        const r = run(['run', '--monitor', '--', 'sh', '-c', 'exec "$0" -c true', long], dir)
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stderr, /shell-exec .*shell started: .*\/sX \(pid \d+, runs \/usr\/bin\/\w*sh\)/)
      },
    )

    // A newcomer's trial: Python's subprocess (execvp) tries each PATH directory in turn, and
    // each miss (/usr/local/bin/sh) alerted as a shell started, with nothing it runs.
    test("a PATH search's misses are no exec: one shell, one alert", { timeout }, (t) => {
      const dir = scratch('path-miss', owner)
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const script =
        'import os\nos.execvpe("sh", ["sh", "-c", "true"], {"PATH": "/nonexistent:/usr/local/bin:/usr/bin:/bin"})'
      const r = run(['run', '--monitor', '--', 'python3', '-c', script], dir)
      assert.equal(r.status, 0, r.stderr)
      const fired = r.stderr.split('\n').filter((l) => l.includes('shell-exec'))
      assert.equal(fired.length, 1, r.stderr)
      assert.match(fired[0]!, /shell started: \/usr\/bin\/sh \(pid \d+, runs \/usr\/bin\/\w*sh\)/)
    })

    test(
      'a deleted file run from its fd, and through /proc/self/fd, fires exec-new-binary',
      { timeout },
      (t) => {
        const dir = scratch('fexec', owner)
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const r = run(['run', '--monitor', '--rw', dir, '--', 'python3', join(dir, 'fexec.py'), dir], dir)
        assert.equal(r.status, 0, r.stderr)
        const fired = r.stderr.split('\n').filter((l) => l.includes('[critical] exec-new-binary'))
        assert.equal(fired.length, 2, r.stderr)
        for (const l of fired) assert.ok(l.includes(`${dir}/prog (deleted)`), l)
      },
    )
  }
}

describe(
  'exec rules on the real kernel, as root',
  { concurrency: 1, skip: !isRoot && 'runs as root' },
  () => {
    cases((args, cwd) => cordon(args, { cwd, timeout }))()
  },
)

describe(
  'exec rules on the real kernel, as the plain user',
  { concurrency: 1, skip: !isRoot && 'needs root to switch to the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    cases((args, cwd) => cordonAs(user, args, cwd, timeout), user)()
  },
)

describe('exec rules judge the program the launcher resolved', () => {
  const target: Target = {
    id: 's1',
    command: ['x'],
    startedAt: 1000,
    limits: {},
    freeze: () => 'test',
    kill: () => {},
  }
  const exec = (fields: Partial<Extract<SandboxEvent, { event: 'syscall' }>>): SandboxEvent => ({
    event: 'syscall',
    syscall: 'execveat',
    arch: 'x86_64',
    nr: 322,
    pid: 7,
    args: [3n, 0n, 0n, 0n, 0x1000n, 0n],
    ...fields,
  })
  const alertsFor = (ev: SandboxEvent): Alert[] => {
    const m = new Monitor(loadRules([DEFAULT_RULES_FILE]))
    const alerts: Alert[] = []
    m.on('alert', (a) => alerts.push(a))
    m.attach(target)
    m.handle('s1', { event: 'started', pid: 1 })
    m.handle('s1', ev)
    return alerts
  }

  test('a memfd run from memory is a new binary', () => {
    const alerts = alertsFor(exec({ exe: '/memfd:payload (deleted)', ctimeMs: 5000 }))
    assert.deepEqual(
      alerts.map((a) => [a.rule, a.output]),
      [['exec-new-binary', 'executed a file written inside the sandbox: /memfd:payload (deleted) (pid 7)']],
    )
  })

  test('a shell by any other name is a shell; a program named like a shell is judged by what it is', () => {
    const viaLink = alertsFor(
      exec({ syscall: 'execve', nr: 59, path: '/tmp/innocent', exe: '/usr/bin/dash', ctimeMs: 1 }),
    )
    assert.deepEqual(
      viaLink.map((a) => a.rule),
      ['shell-exec'],
    )
    const busybox = alertsFor(
      exec({ syscall: 'execve', nr: 59, path: '/bin/sh', exe: '/bin/busybox', ctimeMs: 1 }),
    )
    assert.deepEqual(
      busybox.map((a) => a.rule),
      ['shell-exec'],
    )
  })
})

// A copy, not a link: the program's own name says nothing, but the file is new.
test(
  'a shell copied under another name is a new binary',
  { timeout, skip: !isRoot && 'runs as root' },
  (t) => {
    const dir = join(projectDir(), 'exec-rules-copy')
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    copyFileSync('/bin/sh', join(dir, 'innocent'))
    chmodSync(join(dir, 'innocent'), 0o755)
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const r = cordon(
      [
        'run',
        '--monitor',
        '--rw',
        dir,
        '--',
        'sh',
        '-c',
        `cp ${dir}/innocent ${dir}/again && ${dir}/again -c true`,
      ],
      {
        cwd: dir,
        timeout,
      },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /exec-new-binary .*again/)
  },
)
