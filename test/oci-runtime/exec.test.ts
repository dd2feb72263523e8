// cordon-oci exec and update against the real kernel: the exec'd process joins the container
// and is never less restricted than its init (issue 24).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'

import {
  type Bundle,
  CORDON_OCI,
  COUNT_INTS,
  countSignal,
  interruptWhenReady,
  makeBundle,
  oci,
  ociSkip,
} from './bundle.js'

/** create + start with no pipes: the container keeps create's stdio (as under runc), and a
 * pipe it holds would keep spawnSync waiting until its timeout. */
function started(b: Bundle, id: string, start = true): void {
  for (const cmd of start ? ['create', 'start'] : ['create']) {
    const r = spawnSync(
      CORDON_OCI,
      ['--root', b.root, cmd, ...(cmd === 'create' ? ['--bundle', b.dir] : []), id],
      {
        stdio: 'ignore',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      },
    )
    assert.equal(r.status, 0, `${cmd} ${id}`)
  }
}

const skip = ociSkip('cordon-oci creates containers as root')

const LIMITS = "grep -E '^(CapBnd|CapEff|CapPrm|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/PID/status"

describe('cordon-oci exec', { skip }, () => {
  test('exec joins the namespaces and cgroup and keeps the init’s caps, no_new_privs, seccomp, Landlock', (t) => {
    const b = makeBundle(['sleep', '60'])
    b.write((c) => {
      c.process!.noNewPrivileges = true
      c.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['uname'], action: 'SCMP_ACT_ERRNO' }],
      }
    })
    t.after(() => b.cleanup())
    started(b, 'e1')
    const init = oci(b, ['exec', 'e1', 'sh', '-c', LIMITS.replace('PID', () => '1')])
    assert.equal(init.status, 0, init.stderr)
    const own = oci(b, ['exec', 'e1', 'sh', '-c', LIMITS.replace('PID', () => '$$')])
    assert.equal(own.status, 0, own.stderr)
    assert.equal(own.stdout, init.stdout)
    assert.match(own.stdout, /NoNewPrivs:\s+1/)
    assert.match(own.stdout, /Seccomp:\s+2/)
    // The container's pid namespace (its sleep is pid 1) and cgroup.
    const where = oci(b, ['exec', 'e1', 'sh', '-c', 'cat /proc/1/cmdline; echo; cat /proc/self/cgroup'])
    assert.match(where.stdout, /^sleep/)
    assert.ok(where.stdout.includes(`:${b.config.linux!.cgroupsPath}\n`), where.stdout)
    // What the init cannot do, neither can the exec: the seccomp rule, Landlock's make_char.
    const uname = oci(b, ['exec', 'e1', 'uname'])
    assert.notEqual(uname.status, 0)
    const mk = oci(b, ['exec', 'e1', 'sh', '-c', 'mknod /tmp/n c 1 3 && echo made || echo refused'])
    assert.match(mk.stdout, /^refused$/m)
    // The exit status is passed on; env, cwd and user flags are runc's.
    assert.equal(oci(b, ['exec', 'e1', 'sh', '-c', 'exit 9']).status, 9)
    const flags = oci(b, [
      'exec',
      '--env',
      'A=1',
      '-e',
      'B=2',
      '--cwd',
      '/tmp',
      '--user',
      '1000:1000',
      'e1',
      'sh',
      '-c',
      'echo $A$B; pwd; id -u; id -g',
    ])
    assert.equal(flags.stdout, '12\n/tmp\n1000\n1000\n', flags.stderr)
  })

  test('exec refuses a capability outside the container’s bounding set', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'e2')
    const r = oci(b, ['exec', '--cap', 'CAP_SYS_ADMIN', 'e2', 'sh', '-c', 'grep CapEff /proc/self/status'])
    assert.equal(r.status, 1, r.stdout)
    assert.match(
      r.stderr,
      /process\.capabilities\.bounding: CAP_SYS_ADMIN is not in the container's bounding set/,
    )
  })

  // The launcher gets a job-wide signal directly and again from the runtime, which passes on
  // what it gets: it drops the copy (--forwarded-signals). A Ctrl-C reached the exec'd process
  // twice.
  test('a job-wide SIGINT reaches the exec’d process once', async (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'e5')
    const { code, out } = await interruptWhenReady(CORDON_OCI, [
      '--root',
      b.root,
      'exec',
      'e5',
      'sh',
      '-c',
      COUNT_INTS,
    ])
    assert.equal(code, 0)
    assert.equal(out, 'ready\ntotal 1\n')
  })

  // Every signal runc passes on (native/forward-signal.h forwarded_all): cordon-oci died of a
  // real-time one, which Node cannot listen to, and the exec'd process never got it.
  // 61 and 62 are the launcher's own (a forward, a freeze's wake-up): forwarded as themselves
  // from cordon-oci's Node, they were dropped (helper-131). A sent SIGSEGV or SIGPIPE ended it
  // (forwarded_sent: runc tells one sent from its own fault).
  test('a job-wide SIGRTMIN+3, 61, 62, SIGSEGV or SIGPIPE reaches the exec’d process once', async (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'e6')
    for (const sig of [37, 61, 62, 'SIGSEGV', 'SIGPIPE'] as const) {
      const { code, out } = await interruptWhenReady(
        CORDON_OCI,
        [
          '--root',
          b.root,
          'exec',
          'e6',
          'sh',
          '-c',
          countSignal(typeof sig === 'number' ? String(sig) : sig.slice(3)),
        ],
        sig,
      )
      assert.equal(code, 0, `${sig}: cordon-oci ended with ${code} (null: killed by the signal)`)
      assert.equal(out, 'ready\ntotal 1\n', `signal ${sig}`)
    }
  })

  // libuv's child_process resets signals 1-31 only: a real-time one ignored by whoever started
  // cordon-oci stayed ignored in the exec'd process, which then never saw a forwarded
  // SIGRTMIN+3 (helper-131). runc's has none ignored.
  test('a real-time signal the caller ignores is not ignored in the exec’d process', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'e7')
    const r = spawnSync(
      'sh',
      [
        '-c',
        `trap '' 37 50; exec "$0" --root "$1" exec e7 grep SigIgn /proc/self/status`,
        CORDON_OCI,
        b.root,
      ],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^SigIgn:\s+0+$/m)
  })

  test('exec --detach leaves the process running and writes --pid-file', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'e3')
    const pidFile = `${b.dir}/exec.pid`
    const r = spawnSync(
      CORDON_OCI,
      ['--root', b.root, 'exec', '--detach', '--pid-file', pidFile, 'e3', 'sleep', '30'],
      {
        stdio: 'ignore',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      },
    )
    assert.equal(r.status, 0)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sleep')
    const ps = JSON.parse(oci(b, ['ps', '--format', 'json', 'e3']).stdout) as number[]
    assert.ok(ps.includes(pid), `the exec is in the container's cgroup: ${ps.join(' ')}`)
  })

  test('exec into a stopped container is refused', (t) => {
    const b = makeBundle(['sh', '-c', 'exit 0'])
    t.after(() => b.cleanup())
    assert.equal(oci(b, ['run', '--keep', 'e4']).status, 0)
    const r = oci(b, ['exec', 'e4', 'sh'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /stopped/)
  })
})

describe('cordon-oci update', { skip }, () => {
  test('update --resources - and the flags write the container’s cgroup', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    started(b, 'u1', false)
    const r = oci(b, ['update', '--pids-limit', '42', '--memory', '64m', 'u1'])
    assert.equal(r.status, 0, r.stderr)
    const cg = readFileSync(`/proc/${JSON.parse(oci(b, ['state', 'u1']).stdout).pid}/cgroup`, 'utf8')
    const v1 = (ctl: string) => new RegExp(`^\\d+:${ctl}:(\\S+)$`, 'm').exec(cg)?.[1]
    const v2 = /^0::(\S+)$/m.exec(cg)?.[1]
    const file = (ctl: string, v1file: string, v2file: string) =>
      readFileSync(
        v1(ctl) ? `/sys/fs/cgroup/${ctl}${v1(ctl)}/${v1file}` : `/sys/fs/cgroup${v2}/${v2file}`,
        'utf8',
      ).trim()
    assert.equal(file('pids', 'pids.max', 'pids.max'), '42')
    assert.equal(file('memory', 'memory.limit_in_bytes', 'memory.max'), String(64 << 20))
    const bad = oci(b, ['update', '--memory', 'lots', 'u1'])
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /--memory: expected a number/)
  })
})
