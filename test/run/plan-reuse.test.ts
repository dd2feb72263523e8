// Issue 23 (spawn() ≤ 1.0× bwrap): spawn() compiles a policy once and reuses the plan while every
// host read the compile made answers the same, so a reused plan is always the plan a fresh
// compile would give now: a planted symlink, a new mount under a wide bind, a path that appears
// or a policy object changed in place all compile again.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { callerContext } from '../../src/host/caller.js'
import { bindRun, compilePlan } from '../../src/plan/compile.js'
import { encodePlan } from '../../src/plan/encode.js'
import { type ResolvedPolicy, resolvePolicy } from '../../src/policy/resolve.js'
import type { Policy } from '../../src/policy/schema.js'
import { compileOnce, planBytes, prepareRun } from '../../src/run/prepare.js'
import { openRegistry } from '../../src/run/registry.js'
import { spawn } from '../../src/run/spawn.js'
import { isRoot } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'cordon-reuse-'))
after(() => {
  spawnSync('umount', ['-l', join(dir, 'wide', 'mq')])
  rmSync(dir, { recursive: true, force: true })
})
const ctx = { ...callerContext(), cwd: '/' }
const resolve = (policy: Policy) => resolvePolicy({ policy, baseDir: '/', label: 'test' }, '/')
/** What compileOnce gives, beside a fresh compile of the same policy now. */
const both = (policy: ReturnType<typeof resolve>) => ({
  reused: compileOnce(policy, ctx),
  fresh: compilePlan(policy, ctx),
})

describe('spawn() reuses a compiled plan only while the host answers the same', () => {
  test('the same policy twice: one plan, encoded once, equal to a fresh compile', () => {
    const policy = resolve({ filesystem: [{ ro: '/usr' }, { proc: '/proc' }] })
    const first = compileOnce(policy, ctx)
    const { reused, fresh } = both(policy)
    assert.equal(reused, first, 'the second spawn compiled again')
    assert.deepEqual(reused, fresh)
    assert.equal(planBytes(reused), planBytes(reused))
    assert.deepEqual(Buffer.from(planBytes(reused)), Buffer.from(encodePlan(fresh)))
    assert.ok(Object.isFrozen(reused) && Object.isFrozen(reused.ops[0]), 'a shared plan is frozen')
  })

  test("a reused plan bound to a run is the compile with that run's facts", () => {
    const facts = [
      {},
      { cgroups: ['/sys/fs/cgroup/pids/cordon/run-x', '/sys/fs/cgroup/memory/cordon/run-x'] },
      { env: [['A', '1'] as const, ['B', 'x\\xffy'] as const] },
      { command: ['sh', '-c', 'echo hi'] },
      { cgroups: ['/sys/fs/cgroup/cordon/run-y'], env: [['HOME', '/h'] as const], command: ['true'] },
    ]
    const policies = [
      resolve({ filesystem: [{ ro: '/usr' }, { proc: '/proc' }] }),
      resolve({
        extends: ['minimal'],
        env: { set: { X: 'y' }, pass: ['PATH'] },
        command: ['/bin/echo', 'policy'],
      }),
      resolve({ namespaces: { pid: false, user: false }, filesystem: [{ ro: '/usr' }] }),
    ]
    for (const policy of policies)
      for (const f of facts) {
        const bound = bindRun(compileOnce(policy, ctx), f)
        assert.deepEqual(bound, compilePlan(policy, { ...ctx, ...f }), JSON.stringify(f))
      }
  })

  test('a policy object changed in place compiles again', () => {
    const policy = resolve({ filesystem: [{ ro: '/usr' }] })
    const first = compileOnce(policy, ctx)
    policy.filesystem.push({ kind: 'tmpfs', dest: '/scratch', size: 0, mode: 0o755 })
    const { reused, fresh } = both(policy)
    assert.notEqual(reused, first)
    assert.deepEqual(reused, fresh)
    assert.ok(reused.ops.some((op) => op.op === 'tmpfs' && op.dest === '/scratch'))
  })

  test('a path that appears, and one replaced by a planted symlink, compile again', () => {
    const optional = join(dir, 'later')
    const policy = resolve({ filesystem: [{ ro: { src: optional, optional: true } }] })
    const before = compileOnce(policy, ctx)
    assert.ok(!before.ops.some((op) => op.op === 'bind' && op.src === optional))
    mkdirSync(optional)
    const { reused, fresh } = both(policy)
    assert.notEqual(reused, before)
    assert.deepEqual(reused, fresh)
    assert.ok(reused.ops.some((op) => op.op === 'bind' && op.src === optional))

    // A directory others can write (the test's own, made so), then a symlink planted in it.
    const src = join(dir, 'shared')
    mkdirSync(join(src, 'cfg'), { recursive: true, mode: 0o1777 })
    spawnSync('chmod', ['1777', src])
    const planted = resolve({ filesystem: [{ ro: `${src}/cfg:/cfg` }] })
    compileOnce(planted, ctx)
    rmSync(join(src, 'cfg'), { recursive: true })
    symlinkSync('/etc', join(src, 'cfg'))
    assert.throws(() => compilePlan(planted, ctx), /others can write/)
    assert.throws(() => compileOnce(planted, ctx), /others can write/)
  })

  test(
    'a kernel mount new under a wide bind is kept from the next sandbox',
    { skip: !isRoot && 'mounting needs root' },
    () => {
      const wide = join(dir, 'wide')
      mkdirSync(join(wide, 'mq'), { recursive: true })
      const policy = resolve({ filesystem: [{ rw: wide }] })
      const before = compileOnce(policy, ctx)
      const m = spawnSync('mount', ['-t', 'mqueue', 'none', join(wide, 'mq')], { encoding: 'utf8' })
      assert.equal(m.status, 0, m.stderr)
      const { reused, fresh } = both(policy)
      assert.notEqual(reused, before)
      assert.deepEqual(reused, fresh)
      assert.ok(
        reused.ops.some((op) => op.op === 'bind' && op.src === join(wide, 'mq') && op.flags.readOnly),
        'the new mqueue is bound read-only over the writable bind',
      )
    },
  )

  // attack5's review (pins, not fixes): what the reuse must never share between spawns.
  test("the caller's objects stay its own: never frozen, and a later change compiles again", () => {
    const policy = resolve({ filesystem: [{ ro: '/usr' }], env: { set: { A: 'a' } }, command: ['x'] })
    const watch = ['openat']
    const context = { ...ctx, watch, command: ['run', 'me'] }
    compileOnce(policy, context)
    const second = compileOnce(policy, context)
    for (const o of [policy, policy.filesystem, policy.filesystem[0], policy.env.set, watch, context.command])
      assert.ok(!Object.isFrozen(o), 'a reuse froze an object of the caller')
    policy.env.set.A = 'b'
    watch.push('unlinkat')
    const third = compileOnce(policy, context)
    assert.notEqual(third, second)
    assert.deepEqual(third, compilePlan(policy, context))
  })

  test("a policy that reads differently to the key and to the compile never poisons another's key", () => {
    const closed = resolve({ extends: ['default'] })
    const open = resolve({ extends: ['default'], namespaces: { net: false } })
    const fresh = compilePlan(closed, ctx)
    // Objects that serialize as one policy and read as another: a toJSON (a class's own
    // serialization), accessors that change (a store's computed fields), fields the key leaves
    // out (not enumerable). Each must not leave its plan under `closed`'s key.
    let reads = 0
    const shifty: ResolvedPolicy[] = [
      { ...open, toJSON: () => closed } as ResolvedPolicy,
      Object.defineProperty({ ...closed }, 'namespaces', {
        enumerable: true,
        get: () => (reads++ < 2 ? closed.namespaces : open.namespaces),
      }),
      Object.defineProperty({ ...closed, extra: 1 }, 'namespaces', {
        enumerable: false,
        value: open.namespaces,
      }),
    ]
    for (const policy of shifty) {
      try {
        compileOnce(policy, ctx)
      } catch {} // refused or not: what matters is what it left behind
      assert.deepEqual(
        compileOnce(closed, ctx),
        fresh,
        "closed's spawn got the plan compiled for another policy",
      )
    }
  })

  test('a plan is never served to another caller context (uid, cwd, watched calls)', () => {
    const policy = resolve({ extends: ['default'] })
    const base = compileOnce(policy, ctx)
    for (const other of [
      { ...ctx, uid: ctx.uid + 1000, gid: ctx.gid + 1000 },
      { ...ctx, cwd: '/usr' },
      { ...ctx, watch: ['openat'] },
    ]) {
      let fresh
      try {
        fresh = compilePlan(policy, other)
      } catch {
        continue // a context this host refuses: nothing to reuse
      }
      const got = compileOnce(policy, other)
      assert.notEqual(got, base)
      assert.deepEqual(got, fresh)
    }
  })

  test('without a mount namespace each spawn gets its own temporary directory, never a reused one', () => {
    const policy = resolve({
      extends: ['default'],
      namespaces: { mount: false },
      acknowledge: ['no-view'],
    })
    const run = () => prepareRun({ kind: 'resolved', policy }, ctx, { cgroup: false })
    const runs = [run(), run()]
    try {
      const [a, b] = runs.map((r) => r.privateTmp?.path)
      assert.ok(a && b && a !== b, `two spawns shared a private /tmp: ${a} ${b}`)
      assert.notEqual(runs[0]!.plan, runs[1]!.plan)
      assert.ok(
        !JSON.stringify(runs[1]!.plan, (_, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)).includes(a),
      )
    } finally {
      for (const r of runs) r.remove()
    }
  })

  test("the command holds no fd of the plan's and events' socket", async () => {
    const p = spawn(
      resolve({ extends: ['default'] }),
      '/bin/sh',
      ['-c', 'for i in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$i ] && echo "fd $i"; done; :'],
      { stdio: ['ignore', 'pipe', 'inherit'], context: { cwd: '/' }, processEvents: true },
    )
    let out = ''
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const r = await p.exited
    assert.equal(r.code, 0, JSON.stringify(r.error))
    assert.equal(out, '', 'the sandbox inherited an fd beyond its stdio')
  })

  test('spawn() runs a reused plan as a fresh one', async () => {
    const policy = resolve({ extends: ['default'] })
    for (let i = 0; i < 3; i++) {
      const r = await spawn(policy, '/bin/true', [], { stdio: 'ignore', context: { cwd: '/' } }).exited
      assert.equal(r.code, 0, JSON.stringify(r.error))
    }
  })

  // Issue 23's go byte: spawn() sends a reused plan before proving it, and the launcher sets up
  // meanwhile. A plan that proves stale is thrown away with its launcher before the go.
  test('spawn() throws a stale plan away before its command ran, and runs a fresh one', async () => {
    const later = join(dir, 'appears')
    const out = join(dir, 'out')
    mkdirSync(out)
    const policy = resolve({
      extends: ['minimal'],
      filesystem: [{ rw: out }, { ro: { src: later, optional: true } }],
      limits: { pids: 64 },
    })
    const registry = openRegistry()
    // This test's records only: other files' runs share the caller's registry.
    const records = () =>
      (registry ? readdirSync(registry).filter((n) => n.endsWith('.json')) : []).filter((n) => {
        try {
          return readFileSync(join(registry!, n), 'utf8').includes(out)
        } catch {
          return false // removed meanwhile
        }
      })
    const before = records()
    const script = `echo run >> ${out}/log; if [ -d ${later} ]; then echo seen >> ${out}/log; fi`
    const go = async () => {
      const p = spawn(policy, '/bin/sh', ['-c', script], { stdio: 'ignore', context: { cwd: '/' } })
      const r = await p.exited
      assert.equal(r.code, 0, JSON.stringify(r.error))
    }
    await go() // compiled, and kept
    mkdirSync(later) // the kept plan has no bind of it: stale
    await go()
    assert.equal(
      readFileSync(join(out, 'log'), 'utf8'),
      'run\nrun\nseen\n',
      'a command ran twice, or on the stale plan',
    )
    // The thrown-away launcher's record and cgroup go with it.
    assert.deepEqual(records(), before, 'a record was left behind')
    const groups = () =>
      ['pids', 'unified', '']
        .map((c) => `/sys/fs/cgroup/${c}/cordon`.replace('//', '/'))
        .filter(existsSync)
        .flatMap((d) => readdirSync(d).filter((n) => n.startsWith(`run-${process.pid}-`)))
    for (let i = 0; i < 50 && groups().length; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(groups(), [], 'cgroups left behind')
  })
})
