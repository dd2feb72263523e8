// cordon's init as the runtime backends' pid 1 (native/container-init.c): the command is not
// the container's first process, so the kernel's protection of that process no longer drops
// the signals that end it natively, and orphans are reaped. Used only where the policy's
// profile allows its calls and a place in the view is the container's own.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { INIT_CALLS, initPlace, refusedInitCalls } from '../../src/export/container-init.js'
import type { ViewEntry } from '../../src/policy/resolve.js'
import { CLI, cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const runtimes = isRoot && ((has('runc') && has('runsc')) || !!process.env.CI)
const why = runtimes ? false : 'needs root, runc and runsc (apt-get install runc runsc)'
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

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
    // kill narrowed to one signal: the init forwards every signal.
    const narrowed = allow(names.filter((n) => n !== 'kill'))
    narrowed.syscalls.push({
      names: ['kill'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 1, op: 'SCMP_CMP_EQ', value: 15 }],
    } as (typeof narrowed.syscalls)[number])
    assert.deepEqual(refusedInitCalls(narrowed), ['kill'])
    // clone with namespace flags refused is fine: the init's fork makes none.
    const noNamespaces = allow(names.filter((n) => n !== 'clone'))
    noNamespaces.syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0x7e020080, valueTwo: 0 }],
    } as (typeof noNamespaces.syscalls)[number])
    assert.deepEqual(refusedInitCalls(noNamespaces), [])
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
    // A name the policy uses is left alone.
    assert.equal(initPlace([bind('/usr', '/usr'), tmpfs('/.cordon-init')], 'runc'), undefined)
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
