// cordon's init as the runtime backends' pid 1 (native/container-init.c): the command is not
// the container's first process, so the kernel's protection of that process no longer drops
// the signals that end it natively, and orphans are reaped. Used only where the policy's
// profile allows its calls and a place in the view is the container's own.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { INIT_CALLS, initPlace, refusedInitCalls } from '../../src/export/container-init.js'
import type { ViewEntry } from '../../src/policy/resolve.js'
import type { OciArg } from '../../src/seccomp/oci.js'
import { BUSYBOX } from '../oci-runtime/bundle.js'
import { CLI, cordon, cordonAs, ensureTestUser, projectDir, runtimesSkip } from '../helpers.js'

const why = runtimesSkip()
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

/** `cordon run ARGS` in the background: its stdout so far, the first output, and its end (the
 * signal it died of, or its status). */
function started(args: string[], options: { cwd: string; detached?: boolean }) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], {
    ...options,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += String(d)))
  return {
    child,
    out: () => out,
    output: new Promise((resolve) => child.stdout.once('data', resolve)),
    status: new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code))),
  }
}

const bind = (src: string, dest: string): ViewEntry => ({
  kind: 'bind',
  src,
  dest,
  readOnly: true,
  optional: false,
})
const tmpfs = (dest: string): ViewEntry => ({ kind: 'tmpfs', dest }) as ViewEntry

describe('where the init may go, and whether the profile lets it run', () => {
  test('the profile must allow every call the init makes, with its arguments', () => {
    assert.deepEqual(refusedInitCalls(undefined), [])
    assert.deepEqual(refusedInitCalls({ defaultAction: 'SCMP_ACT_ALLOW' }), [])
    const names = [...new Set(INIT_CALLS.map((c) => c.name))]
    const allow = (list: string[]) => ({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: list, action: 'SCMP_ACT_ALLOW' }],
    })
    assert.deepEqual(refusedInitCalls(allow(names)), [])
    assert.deepEqual(refusedInitCalls(allow(names.filter((n) => n !== 'wait4'))), ['wait4'])
    // A kill default would end the container at the init's first refused call.
    assert.deepEqual(
      refusedInitCalls({
        ...allow(names.filter((n) => n !== 'rt_sigtimedwait')),
        defaultAction: 'SCMP_ACT_KILL_PROCESS',
      }),
      ['rt_sigtimedwait'],
    )
    /** The profile allowing every call of the init but `name`, which only `args` allow. */
    const narrowed = (name: string, args: OciArg[]) => {
      const profile = allow(names.filter((n) => n !== name))
      profile.syscalls.push({
        names: [name],
        action: 'SCMP_ACT_ALLOW',
        args,
      } as (typeof profile.syscalls)[number])
      return refusedInitCalls(profile)
    }
    // kill narrowed to one signal: the init forwards every signal.
    assert.deepEqual(narrowed('kill', [{ index: 1, op: 'SCMP_CMP_EQ', value: 15 }]), ['kill'])
    // kill narrowed to small pids: under runc the command is pid 6 or 7 (runc's threads took
    // the ones before), and the init's kill failed while the check said it passed (helper-119).
    assert.deepEqual(narrowed('kill', [{ index: 0, op: 'SCMP_CMP_LE', value: 3 }]), ['kill'])
    // helper-120: refused above 6, where runc's command is (pid 7).
    assert.deepEqual(narrowed('kill', [{ index: 0, op: 'SCMP_CMP_LE', value: 6 }]), ['kill'])
    // The command leads a session of its own, as natively.
    assert.deepEqual(refusedInitCalls(allow(names.filter((n) => n !== 'setsid'))), ['setsid'])
    // clone with namespace flags refused is fine: the init's fork makes none.
    assert.deepEqual(
      narrowed('clone', [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0x7e020080, valueTwo: 0 }]),
      [],
    )
  })

  test('the bundle’s own root, else a tmpfs of the container’s own (runc), never a bind', () => {
    assert.equal(initPlace([bind('/usr', '/usr'), tmpfs('/tmp')], 'runc'), '/.cordon-init')
    assert.equal(initPlace([bind('/usr', '/usr')], 'gvisor'), '/.cordon-init')
    // A bind of / holds the root: runc would make the mount point in the host's /.
    assert.equal(initPlace([bind('/', '/'), tmpfs('/tmp')], 'runc'), '/tmp/.cordon-init')
    assert.equal(initPlace([bind('/', '/'), tmpfs('/tmp'), bind('/srv', '/tmp')], 'runc'), undefined)
    assert.equal(initPlace([bind('/', '/'), { kind: 'dev', dest: '/dev' }], 'runc'), '/dev/.cordon-init')
    // gVisor's gofer makes mount points beneath its tmpfs on the host, through the binds.
    assert.equal(initPlace([bind('/', '/'), tmpfs('/tmp')], 'gvisor'), undefined)
    // A name the policy uses, or an entry beneath it, is left alone (runc failed "not a directory").
    assert.equal(initPlace([bind('/usr', '/usr'), tmpfs('/.cordon-init')], 'runc'), undefined)
    const mkdir = { kind: 'mkdir', dest: '/.cordon-init/sub', mode: 0o755 } as ViewEntry
    assert.equal(initPlace([bind('/usr', '/usr'), mkdir], 'runc'), undefined)
    // runc mounts nothing in /proc or /sys: a tmpfs there (a common mask) is no place for it.
    const proc = { kind: 'proc', dest: '/proc' } as ViewEntry
    assert.equal(initPlace([bind('/', '/'), proc, tmpfs('/proc/driver')], 'runc'), undefined)
    assert.equal(
      initPlace([bind('/', '/'), proc, tmpfs('/proc/driver'), tmpfs('/run')], 'runc'),
      '/run/.cordon-init',
    )
  })

  // helper-119: a merged-/usr root (lib -> usr/lib) and a bind spelled deeper than a tmpfs that
  // lands on the same place: runc mounts the bind after the tmpfs, over it, and the init's mount
  // point was made in the bind's host directory.
  test('a tmpfs reached through a link, or covered by a bind spelled through one, is not its own', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'cordon-init-place-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    mkdirSync(join(root, 'usr', 'lib', 'app'), { recursive: true })
    mkdirSync(join(root, 'run'))
    symlinkSync('usr/lib', join(root, 'lib'))
    symlinkSync('/usr/lib', join(root, 'run-lib'))
    const view = [bind(root, '/'), tmpfs('/lib/app'), bind('/srv', '/usr/lib/app')]
    assert.equal(initPlace(view, 'runc'), undefined)
    // Spelled without the link, the bind above it is seen as before.
    assert.equal(initPlace([bind(root, '/'), tmpfs('/usr/lib/app'), bind('/srv', '/lib')], 'runc'), undefined)
    assert.equal(
      initPlace([bind(root, '/'), tmpfs('/run'), bind('/srv', '/run-lib/app')], 'runc'),
      '/run/.cordon-init',
    )
    // An entry spelled through a link that lands on the init's name (helper-120: the container
    // did not start, "not a directory").
    const link = { kind: 'symlink', dest: '/l', target: '/' } as ViewEntry
    assert.equal(initPlace([bind('/usr', '/usr'), link, bind('/srv', '/l/.cordon-init')], 'runc'), undefined)
    mkdirSync(join(root, 's'))
    symlinkSync('/', join(root, 's', 'up'))
    assert.equal(
      initPlace([bind(root, '/'), tmpfs('/run'), bind('/srv', '/s/up/run/.cordon-init')], 'runc'),
      undefined,
    )
  })
})

describe('the runtime backends’ pid 1 is cordon’s init', { skip: why }, () => {
  const project = projectDir()
  const sh = (script: string) =>
    spawnSync('bash', ['-c', script, process.execPath, CLI], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    })

  test('runc: a command that writes to a closed pipe dies of SIGPIPE, 141, as natively', () => {
    for (const backend of ['native', 'runc']) {
      const r = sh(
        `"$0" "$1" run -q --backend ${backend} -- seq 1000000 | head -1; echo "rc=\${PIPESTATUS[0]}"`,
      )
      assert.equal(r.stdout, '1\nrc=141\n', `${backend}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /Broken pipe/, backend)
    }
  })

  test('runc and gVisor: pid 1 is the init, not the command, and orphans are reaped', () => {
    // An orphan's zombie stays while its new parent (pid 1) does not wait for it.
    const zombies =
      'import os,subprocess,time\n' +
      "subprocess.run(['sh','-c','sleep 0.2 &'])\n" +
      'time.sleep(1)\n' +
      "z=[p for p in os.listdir('/proc') if p.isdigit() and 'State:\\tZ' in open(f'/proc/{p}/status').read()]\n" +
      "print(open('/proc/1/cmdline').read().split(chr(0))[0], os.getpid() > 1, len(z))"
    for (const backend of ['runc', 'gvisor']) {
      const r = cordon(['run', '-q', '--backend', backend, '--', 'python3', '-c', zombies], { cwd: project })
      assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
      assert.equal(r.stdout, '/.cordon-init True 0\n', backend)
    }
  })

  test('a signal the command raises on itself ends it (kill -USR1 $$), its status 128+N', () => {
    for (const backend of ['runc', 'gvisor']) {
      const r = cordon(['run', '-q', '--backend', backend, '--', 'sh', '-c', 'kill -USR1 $$; sleep 5'], {
        cwd: project,
      })
      assert.equal(r.status, 138, `${backend}: ${r.stderr}`)
    }
  })

  // helper-119: the init forwarded whatever reached it, so a signal the command sent its parent
  // or its process group came back to it; natively Landlock's signal scope refuses the first,
  // and the command leads a session and group of its own.
  test('what the command sends its parent or its group does not come back; it leads its session', () => {
    for (const backend of ['runc', 'gvisor']) {
      const parent = cordon(
        [
          'run',
          '-q',
          '--backend',
          backend,
          '--',
          'sh',
          '-c',
          'kill -USR1 $PPID; kill -TERM 1; sleep 0.5; echo alive',
        ],
        {
          cwd: project,
        },
      )
      assert.deepEqual([parent.status, parent.stdout], [0, 'alive\n'], `${backend}: ${parent.stderr}`)
      const group = cordon(
        [
          'run',
          '-q',
          '--backend',
          backend,
          '--',
          'bash',
          '-c',
          'trap "echo trapped" TERM; kill -TERM 0; sleep 0.5; echo end',
        ],
        { cwd: project },
      )
      assert.equal(group.stdout, 'trapped\nend\n', `${backend}: ${group.stderr}`)
      const session = cordon(
        [
          'run',
          '-q',
          '--backend',
          backend,
          '--',
          'python3',
          '-c',
          'import os; print(os.getsid(0) == os.getpid() == os.getpgid(0))',
        ],
        { cwd: project },
      )
      assert.equal(session.stdout, 'True\n', `${backend}: ${session.stderr}`)
    }
  })

  test('a signal sent to cordon reaches a command that handles it, on gVisor too (runsc kill)', async () => {
    const handler =
      'import signal,sys,time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(5))\nprint(1, flush=True)\ntime.sleep(30)'
    for (const backend of ['runc', 'gvisor']) {
      const run = started(['-q', '--backend', backend, '--', 'python3', '-c', handler], { cwd: project })
      await run.output // the handler is in place
      run.child.kill('SIGINT')
      assert.equal(await run.status, 5, backend)
    }
  })

  // helper-120: a terminal's Ctrl-C goes to the job's whole process group: the runtime, in
  // cordon's, got it too (runc passed it on twice; runsc run killed the sandbox).
  test('a signal to cordon’s whole process group reaches the command once', async () => {
    const counts = 'n=0; trap "n=$((n+1))" INT; sleep 4 & wait; sleep 1 & wait; echo "n=$n"; exit 7'
    for (const backend of ['runc', 'gvisor']) {
      // A group of its own, as a job's.
      const run = started(['-q', '--backend', backend, '--', 'sh', '-c', counts], {
        cwd: project,
        detached: true,
      })
      await new Promise((resolve) => setTimeout(resolve, 3000))
      process.kill(-run.child.pid!, 'SIGINT')
      assert.equal(await run.status, 7, `${backend}: ${run.out()}`)
      assert.equal(run.out(), 'n=1\n', backend)
    }
  })

  test('runc: a tmpfs a bind covers through a link gets no init, and no host file is made', (t) => {
    if (!BUSYBOX) return t.skip('no static busybox (apt-get install busybox-static)')
    const root = mkdtempSync(join(tmpdir(), 'cordon-init-root-'))
    const data = mkdtempSync(join(tmpdir(), 'cordon-init-data-'))
    t.after(() => [root, data].forEach((d) => rmSync(d, { recursive: true, force: true })))
    for (const d of ['usr/bin', 'usr/lib/app', 'proc', 'dev']) mkdirSync(join(root, d), { recursive: true })
    symlinkSync('usr/lib', join(root, 'lib'))
    symlinkSync('usr/bin', join(root, 'bin'))
    copyFileSync(BUSYBOX, join(root, 'usr/bin/busybox'))
    const policy = join(data, 'policy.yaml')
    writeFileSync(
      policy,
      [
        'filesystem:',
        `  - ro: ${root}:/`,
        '  - proc: /proc',
        '  - tmpfs: /lib/app',
        `  - rw: ${data}:/usr/lib/app`,
        'env:',
        '  set: { PATH: /bin }',
        'cwd: /',
        '',
      ].join('\n'),
    )
    const r = cordon(
      ['run', '-q', '--backend', 'runc', '-p', policy, '--', '/usr/bin/busybox', 'cat', '/proc/1/cmdline'],
      { cwd: project },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.ok(!r.stdout.startsWith('/lib/app/'), r.stdout)
    assert.deepEqual(
      readdirSync(data).filter((n) => n !== 'policy.yaml'),
      [],
    )
    assert.ok(!existsSync(join(root, 'usr/lib/app/.cordon-init')))
  })

  // helper-119: with the init left out (this profile refuses one of its calls), a command that
  // blocks SIGTERM as pid 1 drops it when it unblocks it: the signal is the run's end all the same.
  test('without the init, a SIGTERM the command blocks still ends the run', async () => {
    const dir = join(project, 'blocks-term')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'policy.yaml'),
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [rt_sigtimedwait]\n      action: errno(EPERM)\n',
    )
    const blocks =
      'import signal,time\nsignal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGTERM])\nprint(1,flush=True)\ntime.sleep(2)\nsignal.pthread_sigmask(signal.SIG_UNBLOCK,[signal.SIGTERM])\ntime.sleep(3)\nprint("survived")'
    const run = started(['-q', '-p', 'policy.yaml', '--backend', 'runc', '--', 'python3', '-c', blocks], {
      cwd: dir,
    })
    await run.output
    run.child.kill('SIGTERM')
    assert.equal(await run.status, 143)
    assert.doesNotMatch(run.out(), /survived/)
  })

  test('a profile that refuses a call of the init leaves the command pid 1, and it runs', () => {
    const dir = join(project, 'refuses-wait4')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'policy.yaml'),
      'extends: [default]\nseccomp:\n  rules:\n    - syscalls: [wait4]\n      action: errno(EPERM)\n',
    )
    for (const backend of ['runc', 'gvisor']) {
      const r = cordon(
        ['run', '-q', '-p', 'policy.yaml', '--backend', backend, '--', 'cat', '/proc/1/cmdline'],
        {
          cwd: dir,
        },
      )
      assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
      assert.equal(r.stdout, 'cat\0/proc/1/cmdline\0', backend)
    }
  })

  describe('as an unprivileged user (rootless runc)', () => {
    let user = { uid: 0, gid: 0 }
    const dir = `/tmp/cordon-init-${process.pid}`
    before(() => {
      user = ensureTestUser()
      mkdirSync(dir, { recursive: true })
      chmodSync(dir, 0o777)
    })
    after(() => rmSync(dir, { recursive: true, force: true }))

    test('pid 1 is the init, and SIGPIPE ends the command', () => {
      const r = cordonAs(
        user,
        ['run', '-q', '--backend', 'runc', '--', 'sh', '-c', 'cat /proc/1/cmdline; echo; kill -PIPE $$'],
        dir,
      )
      assert.equal(r.status, 141, r.stderr)
      assert.match(r.stdout, /^\/\.cordon-init\0sh\0-c\0/)
    })
  })
})
