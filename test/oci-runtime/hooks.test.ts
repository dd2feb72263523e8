// The runtime-spec's hooks, each where and when the spec puts it (config.md "POSIX-platform
// Hooks", runtime.md "Lifecycle"): prestart and createRuntime in the runtime's namespaces,
// createContainer in the container's before pivot_root (its path the runtime's), startContainer
// in the container after `start`, before the user's program; state JSON on stdin; failures.
import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { type Bundle, CORDON_OCI, makeBundle, oci, ociSkip, RUNC, spawnOut, waitUntil } from './bundle.js'
import { canStrace, LAUNCHER } from '../helpers.js'

const skip = ociSkip('cordon-oci creates containers as root')

const sleepUntil = (cond: () => boolean) => waitUntil(cond, 500)

/** A hook that saves its stdin as NAME.json, appends NAME to `order` and runs `extra`, all in
 * directory dir (as the hook sees it). */
const recorder = (sh: string, dir: string, name: string, extra = '') => ({
  path: sh,
  args: ['sh', '-c', `cat > ${dir}/${name}.json; echo ${name} >> ${dir}/order; ${extra}`],
  env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
  timeout: 10,
})

const state = (dir: string, name: string) =>
  JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>

describe('cordon-oci hooks', { skip }, () => {
  test('each hook runs at its step, in its namespaces, with the state on stdin', (t) => {
    const b: Bundle = makeBundle(['sh', '-c', 'test -e /startContainer.json && echo ran > /user-ran'])
    t.after(() => b.cleanup())
    const host = b.dir // the runtime's filesystem: the bundle directory
    const rootfs = join(b.dir, 'rootfs')
    b.write((c) => {
      c.annotations = { 'org.example.hooks': 'test' }
      c.hooks = {
        prestart: [recorder('/bin/sh', host, 'prestart')],
        createRuntime: [
          recorder(
            '/bin/sh',
            host,
            'createRuntime',
            `readlink /proc/self/ns/mnt > ${host}/createRuntime.mnt`,
          ),
        ],
        // Resolved in the runtime's filesystem (the host's /bin/sh, the bundle's path), run in
        // the container's mount and uts namespaces, before the view is its root.
        createContainer: [
          recorder(
            '/bin/sh',
            host,
            'createContainer',
            `readlink /proc/self/ns/mnt > ${host}/createContainer.mnt; test -d ${rootfs}/bin && echo host > ${host}/createContainer.fs`,
          ),
        ],
        // In the container: its root, its paths.
        startContainer: [
          recorder('/bin/sh', '', 'startContainer', 'grep CapEff /proc/self/status > /start.caps'),
        ],
      }
    })
    const c = oci(b, ['create', 'h1'])
    assert.equal(c.status, 0, c.stderr)
    const pid = (JSON.parse(oci(b, ['state', 'h1']).stdout) as { pid: number }).pid
    assert.deepEqual(readFileSync(join(host, 'order'), 'utf8').split('\n').filter(Boolean), [
      'prestart',
      'createRuntime',
      'createContainer',
    ])
    assert.equal(existsSync(join(rootfs, 'startContainer.json')), false, 'startContainer waits for start')
    const own = readlinkSync('/proc/self/ns/mnt')
    const container = readlinkSync(`/proc/${pid}/ns/mnt`)
    assert.equal(
      readFileSync(join(host, 'createRuntime.mnt'), 'utf8').trim(),
      own,
      'createRuntime: runtime namespace',
    )
    assert.equal(
      readFileSync(join(host, 'createContainer.mnt'), 'utf8').trim(),
      container,
      'createContainer: the container mount namespace',
    )
    assert.equal(
      readFileSync(join(host, 'createContainer.fs'), 'utf8').trim(),
      'host',
      'createContainer: runtime paths',
    )

    assert.equal(oci(b, ['start', 'h1']).status, 0)
    // The shell creates the file, then writes it: wait for the line, not the file (a loaded
    // host read it empty in between).
    sleepUntil(
      () => existsSync(join(rootfs, 'user-ran')) && readFileSync(join(rootfs, 'user-ran'), 'utf8').length > 0,
    )
    assert.equal(
      readFileSync(join(rootfs, 'user-ran'), 'utf8').trim(),
      'ran',
      'startContainer ran before the program',
    )
    // Under the container's own capabilities (runc's default set), not the runtime's.
    const caps = BigInt(`0x${readFileSync(join(rootfs, 'start.caps'), 'utf8').split(/\s+/)[1]}`)
    assert.equal(caps & (1n << 21n), 0n, 'no CAP_SYS_ADMIN in startContainer')

    const annotations = { 'org.example.hooks': 'test' }
    const expect = (name: string, status: string, p: number, dir = host) => {
      const s = state(dir, name)
      assert.equal(s.id, 'h1', name)
      assert.equal(s.bundle, b.dir, name)
      assert.equal(s.status, status, name)
      assert.equal(s.pid, p, name)
      assert.deepEqual(s.annotations, annotations, name)
      assert.equal(typeof s.ociVersion, 'string', name)
    }
    expect('prestart', 'created', pid)
    expect('createRuntime', 'creating', pid)
    expect('createContainer', 'creating', 1) // its own pid, in the container's pid namespace
    expect('startContainer', 'created', 1, rootfs)
  })

  const failures: { name: string; hooks: NonNullable<Bundle['config']['hooks']>; want: RegExp }[] = [
    {
      name: 'createRuntime',
      hooks: { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }] },
      want: /hooks\.createRuntime\[0\] \/bin\/sh failed: exit status 3: nope/,
    },
    {
      name: 'createContainer',
      hooks: { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope; exit 4'] }] },
      want: /createContainer hook \/bin\/sh: exit status 4: nope/,
    },
    {
      name: 'createContainer past its timeout',
      hooks: { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exec sleep 30'], timeout: 1 }] },
      want: /createContainer hook \/bin\/sh: killed after its timeout of 1 s/,
    },
  ]
  for (const f of failures)
    test(`a failing ${f.name} hook fails create, leaving nothing`, (t) => {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      b.write((c) => (c.hooks = f.hooks))
      const started = Date.now()
      const r = oci(b, ['create', 'f1'])
      assert.equal(r.status, 1, r.stderr)
      assert.match(r.stderr, f.want)
      assert.ok(Date.now() - started < 20_000, 'the timeout ends the hook')
      assert.equal(oci(b, ['list', '-q']).stdout.trim(), '', 'nothing is left behind')
    })

  test('a failing startContainer hook stops the container before its program', (t) => {
    const b = makeBundle(['sh', '-c', 'echo ran > /user-ran'])
    t.after(() => b.cleanup())
    b.write((c) => (c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 5'] }] }))
    assert.equal(oci(b, ['create', 's1']).status, 0)
    oci(b, ['start', 's1'])
    sleepUntil(() => (JSON.parse(oci(b, ['state', 's1']).stdout) as { status: string }).status === 'stopped')
    assert.equal((JSON.parse(oci(b, ['state', 's1']).stdout) as { status: string }).status, 'stopped')
    assert.equal(existsSync(join(b.dir, 'rootfs', 'user-ran')), false, 'the program never ran')
  })

  // The launcher restores the program's signals (the mask it started with, SIGPIPE's default)
  // before the first filter, so that a profile refusing the calls cannot leave them blocked or
  // ignored. With a startContainer hook it once did so after the hook, under the filter: with
  // rt_sigprocmask refused, the program started with SIGINT, SIGTERM, SIGCHLD... blocked.
  test('a filter refusing the signal calls leaves the program no signal blocked or ignored, with a startContainer hook', (t) => {
    const b = makeBundle(['grep', '-E', '^Sig(Blk|Ign):', '/proc/self/status'])
    t.after(() => b.cleanup())
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['rt_sigprocmask', 'rt_sigaction'], action: 'SCMP_ACT_ERRNO' }],
    }
    for (const id of ['sig-plain', 'sig-hook']) {
      b.write((c) => {
        c.linux!.seccomp = seccomp
        if (id === 'sig-hook')
          c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null'] }] }
      })
      const r = oci(b, ['run', id])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^SigBlk:\s+0+$/m, `${id}: ${r.stdout}`)
      assert.match(r.stdout, /^SigIgn:\s+0+$/m, `${id}: ${r.stdout}`)
    }
  })

  // The spec: createContainer runs in the container's mount namespace once the view is built,
  // before pivot_root; what it mounts at the rootfs's path (where runc's view is at that step)
  // is in the container. cordon-oci built the view elsewhere, so a hook's mounts were lost. A
  // prestart hook entering the container's mount namespace by its pid (nvidia-container-cli's
  // way) mounts there too.
  test('what a createContainer or prestart hook mounts at the rootfs’s path is in the container, as under runc', (t) => {
    const shared = mkdtempSync(join(tmpdir(), 'cordon-oci-hookbind-'))
    t.after(() => rmSync(shared, { recursive: true, force: true }))
    writeFileSync(join(shared, 'y'), 'bound\n')
    const ours = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes('cordon-oci-bundle-') || l.includes(shared))
    const before = ours()
    for (const [runtime, id] of [
      [CORDON_OCI, `hookmnt-${process.pid}`],
      [RUNC, `hookmnt-runc-${process.pid}`],
    ] as const) {
      const b = makeBundle(['sh', '-c', 'cat /mnt/hooked/x /mnt/bound/y /mnt/pre/x'])
      t.after(() => b.cleanup())
      const rootfs = join(b.dir, 'rootfs')
      mkdirSync(join(rootfs, 'mnt', 'hooked'), { recursive: true })
      mkdirSync(join(rootfs, 'mnt', 'bound'))
      mkdirSync(join(rootfs, 'mnt', 'pre'))
      b.write((c) => {
        c.hooks = {
          prestart: [
            {
              path: '/bin/sh',
              args: [
                'sh',
                '-c',
                `pid=$(sed 's/.*"pid": *\\([0-9]*\\).*/\\1/'); nsenter -t $pid -m sh -c 'mount -t tmpfs pre ${rootfs}/mnt/pre && echo pre > ${rootfs}/mnt/pre/x'`,
              ],
              env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
              timeout: 10,
            },
          ],
          createContainer: [
            {
              path: '/bin/sh',
              args: [
                'sh',
                '-c',
                `mount -t tmpfs hooked ${rootfs}/mnt/hooked && echo tmpfs > ${rootfs}/mnt/hooked/x && mount --bind ${shared} ${rootfs}/mnt/bound`,
              ],
              env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
              timeout: 10,
            },
          ],
        }
      })
      const r = oci(b, ['run', id], runtime)
      assert.equal(r.status, 0, `${runtime}: ${r.stderr}`)
      assert.equal(r.stdout, 'tmpfs\nbound\npre\n', runtime)
    }
    assert.deepEqual(ours(), before, 'no mount reached the host’s namespace')
  })
  // The launcher joins the container's groups while the sandbox builds its view, unless hooks
  // run in it then: a createContainer hook ran outside the groups, its children escaping the pids
  // and memory limits, whenever the join (a cgroup move, which waits for an RCU grace period on
  // an idle host) took more than 1-2 ms (helper-124). The launcher's opens are slowed here by 20
  // ms each (strace on the launcher alone) to make that wait certain.
  test('a createContainer hook runs in the container’s groups, however slow the join', (t) => {
    if (!canStrace()) return t.skip('needs strace to slow the launcher')
    const b: Bundle = makeBundle(['sh', '-c', 'true'])
    t.after(() => b.cleanup())
    const group = `cordon-test-hook-${process.pid}`
    b.write((c) => {
      c.linux = { ...(c.linux as object), cgroupsPath: `/${group}`, resources: { pids: { limit: 64 } } }
      c.hooks = {
        createContainer: [
          { path: '/bin/sh', args: ['sh', '-c', `grep ':pids:' /proc/self/cgroup > ${b.dir}/hook.cg`] },
        ],
      }
    })
    const slow = join(b.dir, 'slow-launcher.sh')
    writeFileSync(
      slow,
      `#!/bin/sh\nexec strace -qq -o /dev/null -e trace=openat -e inject=openat:delay_enter=20000 ${LAUNCHER} "$@"\n`,
      { mode: 0o755 },
    )
    const r = spawnOut(CORDON_OCI, ['--root', b.root, 'run', 'slowjoin'], {
      cwd: b.dir,
      env: { CORDON_LAUNCHER: slow },
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(readFileSync(join(b.dir, 'hook.cg'), 'utf8'), new RegExp(`:pids:/${group}\\b`))
  })
})
