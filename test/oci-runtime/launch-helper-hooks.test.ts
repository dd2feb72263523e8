// create's launch helper runs the runtime's prestart and createRuntime hooks itself (native/
// oci-hook.h), so that a container with hooks (Docker's every one: libnetwork's prestart hook)
// needs no node:child_process either. What a hook sees — its argv, environment, umask, working
// directory, fds, the state on stdin — and how a failing one fails create are those of the Node
// half, which runs them with spawnSync (hooks.ts runHooks).
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import type { OciHook } from '../../src/oci-runtime/spec.js'
import { CORDON_OCI, makeBundle, ociSkip, spawnOut, waitUntil } from './bundle.js'

const NODE_HALF = join(ROOT, 'bin', 'cordon-oci.cjs')
const WAYS = [
  { name: 'helper', cmd: CORDON_OCI, pre: [] as string[] },
  { name: 'node', cmd: process.execPath, pre: [NODE_HALF] },
]

/** What a hook saw, into OUT.KIND: its arguments (sh -c's $0 is the one after the script),
 * env, umask, cwd, fds, then its stdin. */
const seen = (out: string, kind: string): OciHook => ({
  path: '/bin/sh',
  args: [
    'hook-argv0',
    '-c',
    `f=${out}.${kind}; { echo "$0 $1"; env | sort; umask; pwd; ls /proc/self/fd | tr '\\n' ' '; echo; cat; } > $f`,
    'first-arg',
  ],
  env: ['HOOK_VAR=1', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
})

describe("cordon-oci create's launch helper runs the runtime hooks", { skip: ociSkip() }, () => {
  test('each hook sees what it sees under the Node half, and the container starts', (t) => {
    const got: Record<string, string> = {}
    for (const way of WAYS) {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      const out = join(b.dir, 'seen')
      b.write((c) => {
        c.hooks = { prestart: [seen(out, 'prestart')], createRuntime: [seen(out, 'createRuntime')] }
        c.process!.user.umask = 0o027
      })
      const r = spawnOut(way.cmd, [...way.pre, '--root', b.root, 'create', '--bundle', b.dir, 'h1'], {
        cwd: b.dir,
      })
      assert.equal(r.status, 0, r.stderr)
      const pid = readFileSync(join(b.root, 'h1', 'pid'), 'utf8').trim()
      for (const kind of ['prestart', 'createRuntime']) {
        const text = readFileSync(`${out}.${kind}`, 'utf8')
        assert.ok(text.includes(`"pid":${pid}}`), `${kind} reads the container's pid last: ${text}`)
        got[`${way.name} ${kind}`] = text.replaceAll(b.dir, 'BUNDLE').replaceAll(pid, 'PID')
      }
      assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'start', 'h1']).status, 0)
      waitUntil(() => /"stopped"/.test(spawnOut(CORDON_OCI, ['--root', b.root, 'state', 'h1']).stdout), 500)
      assert.match(spawnOut(CORDON_OCI, ['--root', b.root, 'state', 'h1']).stdout, /"stopped"/)
    }
    // The fds: the helper closes all but 0-2, where Node's spawnSync passes on any the engine
    // left open without close-on-exec (this test runner's fd 251, say).
    const noFds = (text: string) => text.replace(/\n0 1 2 [0-9 ]*\n/, '\nFDS\n')
    for (const kind of ['prestart', 'createRuntime']) {
      assert.equal(noFds(got[`helper ${kind}`]!), noFds(got[`node ${kind}`]!))
      assert.match(got[`helper ${kind}`]!, /^first-arg \nHOOK_VAR=1\n/)
      assert.match(got[`helper ${kind}`]!, /\n0027\nBUNDLE\n0 1 2 3 \n/) // ls's own fd is 3
    }
    assert.match(got['helper prestart']!, /"status":"created"/)
    assert.match(got['helper createRuntime']!, /"status":"creating"/)
  })

  const failures: { name: string; hook: OciHook; want: RegExp }[] = [
    {
      name: 'exits 3',
      hook: { path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] },
      want: /hooks\.createRuntime\[1\] \/bin\/sh failed: exit status 3: nope\n/,
    },
    {
      name: 'is killed by a signal',
      hook: { path: '/bin/sh', args: ['sh', '-c', 'kill -9 $$'] },
      want: /hooks\.createRuntime\[1\] \/bin\/sh failed: exit status SIGKILL\n/,
    },
    {
      name: 'cannot be run',
      hook: { path: '/nonexistent/hook' },
      want: /hooks\.createRuntime\[1\] \/nonexistent\/hook failed: spawnSync \/nonexistent\/hook ENOENT\n/,
    },
    {
      name: 'outlives its timeout',
      hook: { path: '/bin/sh', args: ['sh', '-c', 'exec sleep 30'], timeout: 1 },
      want: /hooks\.createRuntime\[1\] \/bin\/sh failed: spawnSync \/bin\/sh ETIMEDOUT\n/,
    },
    {
      // runc kills a hook past its timeout with SIGKILL (Go's Process.Kill), as the launcher
      // does its own hooks (native/hook.c): a SIGTERM alone left create waiting on it.
      name: 'ignores SIGTERM past its timeout',
      hook: { path: '/bin/sh', args: ['sh', '-c', 'trap "" TERM; exec sleep 25'], timeout: 1 },
      want: /hooks\.createRuntime\[1\] \/bin\/sh failed: spawnSync \/bin\/sh ETIMEDOUT\n/,
    },
  ]
  for (const f of failures)
    test(`a createRuntime hook that ${f.name} fails create with the Node half's message, leaving nothing`, (t) => {
      const errs: string[] = []
      for (const way of WAYS) {
        const b = makeBundle(['true'])
        t.after(() => b.cleanup())
        const ok = { path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null'] }
        b.write((c) => (c.hooks = { prestart: [ok], createRuntime: [ok, f.hook] }))
        const started = Date.now()
        const r = spawnOut(way.cmd, [...way.pre, '--root', b.root, 'create', '--bundle', b.dir, 'f1'])
        assert.equal(r.status, 1, r.stderr)
        assert.match(r.stderr, f.want)
        assert.ok(Date.now() - started < 15_000, `the timeout ends the hook (${way.name})`)
        assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'list', '-q']).stdout.trim(), '')
        errs.push(r.stderr)
      }
      assert.equal(errs[0], errs[1])
    })

  test('a NUL byte in a hook argument is refused by both halves, naming it, and runs nothing', (t) => {
    for (const way of WAYS) {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      const out = join(b.dir, 'smuggled')
      // The helper's request separates strings with NULs: this argument, split there, would
      // read as a second prestart hook `touch OUT`.
      const arg = ['true', '0', 'prestart', '/bin/touch', '0', '2', 'touch', out, '1'].join('\0')
      b.write((c) => (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', arg] }] }))
      const r = spawnOut(way.cmd, [...way.pre, '--root', b.root, 'create', '--bundle', b.dir, 'z1'])
      assert.equal(r.status, 1, `${way.name}: ${r.stderr}`)
      assert.match(
        r.stderr,
        /config\.json hooks\.prestart\[0\]\.args\[2\]: expected a string without NUL bytes/,
      )
      assert.equal(existsSync(out), false, `${way.name} ran no smuggled hook`)
      assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'list', '-q']).stdout.trim(), '')
    }
  })

  test('hooks whose states carry large annotations run as under the Node half', (t) => {
    // The helper's request holds both states (prestart's, createRuntime's), each with the
    // annotations: 2 x 40 KB was past its old 64 KiB limit, and create failed (ECONNRESET).
    for (const way of WAYS) {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      const out = join(b.dir, 'state-bytes')
      b.write((c) => {
        c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `wc -c > ${out}`] }] }
        c.annotations = { big: 'x'.repeat(40_000) }
      })
      const r = spawnOut(way.cmd, [...way.pre, '--root', b.root, 'create', '--bundle', b.dir, 'a1'])
      assert.equal(r.status, 0, `${way.name}: ${r.stderr}`)
      assert.ok(
        Number(readFileSync(out, 'utf8').trim()) > 40_000,
        `${way.name}: the hook read the whole state`,
      )
      assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'delete', '-f', 'a1']).status, 0)
    }
  })

  test('a hook timeout of any size runs the hook, as under the Node half', (t) => {
    // The helper took at most 2^20 s: a larger timeout failed create with EINVAL.
    for (const way of WAYS)
      for (const timeout of [2_000_000, 5_000_000_000]) {
        const b = makeBundle(['true'])
        t.after(() => b.cleanup())
        b.write(
          (c) =>
            (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null'], timeout }] }),
        )
        const r = spawnOut(way.cmd, [...way.pre, '--root', b.root, 'create', '--bundle', b.dir, 't1'])
        assert.equal(r.status, 0, `${way.name}, ${timeout} s: ${r.stderr}`)
        assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'delete', '-f', 't1']).status, 0)
      }
  })
})
