// The launcher joins the plan's cgroups while the sandbox builds its view (native/launcher.c: the
// 'g' then the 'c'): a migration by write waits for an RCU grace period on a kernel without
// favordynmods (up to 20 ms measured), most of a limited start then. What must still hold: the command and
// everything it forks are in the groups, the cgroup namespace's root is the joined group, and a
// join that fails runs nothing of the command.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { compilePlan, encodePlan, PROFILES, resolvePolicy } from '../../src/index.js'
import { makeCgroup } from '../../src/run/sandbox-cgroup.js'
import { insertOpsAfterFirst } from '../../src/plan/encode.js'
import { cgroupAccess } from '../../src/cgroup/select.js'
import { LAUNCHER_UNDER_TEST, isRoot, projectDir } from '../helpers.js'
import type { FilesystemEntry } from '../../src/policy/schema.js'

const access = cgroupAccess()
const skip = !isRoot ? 'needs root to make cgroups' : !access.ok ? `no cgroup here: ${access.why}` : false

/** The default profile's plan for this project, joining `dirs`. */
function planJoining(dirs: string[], name: string, extra: FilesystemEntry[] = []): string {
  const dir = projectDir()
  const base = PROFILES.default!.policy
  const policy = { ...base, filesystem: [...(base.filesystem ?? []), ...extra] }
  const resolved = resolvePolicy({ policy, baseDir: dir, label: 'default' }, dir)
  const plan = compilePlan(resolved, { uid: 0, gid: 0, cwd: dir, arch: process.arch })
  const file = join(dir, name)
  writeFileSync(
    file,
    insertOpsAfterFirst(
      encodePlan({ ...plan, ops: plan.ops.filter((op) => op.op !== 'cgroup') }),
      dirs.map((path) => ({ op: 'cgroup', path })),
    ),
  )
  chmodSync(file, 0o644)
  return file
}

const members = (dirs: string[]) =>
  dirs.map((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length)

describe('the cgroup join, overlapped with the view', { skip }, () => {
  test('the command and its children are in every group; the namespace is rooted there', async () => {
    const made = makeCgroup({ pids: 64 }, true, true).cgroup!
    try {
      const plan = planJoining(made.joinPaths, 'joined.plan')
      // A child forked by the command too: both must be counted in each group.
      const child = spawn(
        LAUNCHER_UNDER_TEST,
        [plan, '--', '/bin/sh', '-c', 'sleep 2 & cat /proc/self/cgroup; echo ready; wait'],
        { cwd: projectDir(), stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      child.stdout.on('data', (b: Buffer) => (out += b.toString()))
      let err = ''
      child.stderr.on('data', (b: Buffer) => (err += b.toString()))
      for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(10)
      assert.ok(out.includes('ready'), err)
      // init, the shell and its sleep (the launcher stays outside).
      for (const n of members(made.joinPaths)) assert.ok(n >= 3, `${n} in a group: ${err}`)
      const [code] = (await once(child, 'exit')) as [number | null]
      assert.equal(code, 0, err)
      // Each hierarchy of the plan shows the joined group as the namespace's root.
      const lines = out.split('\n').filter((l) => /^\d+:/.test(l))
      assert.ok(lines.length > 0, out)
      for (const l of lines) assert.match(l, /:\/$/, out)
    } finally {
      made.remove()
    }
  })

  test('a join that fails runs nothing of the command, and says which group', () => {
    const gone = '/sys/fs/cgroup/pids/cordon-no-such-group'
    const plan = planJoining([gone], 'gone.plan')
    const r = spawnSync(LAUNCHER_UNDER_TEST, [plan, '--', '/bin/echo', 'ran'], {
      cwd: projectDir(),
      encoding: 'utf8',
    })
    assert.equal(r.status, 125, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /join cgroup/)
    assert.ok(r.stderr.includes(gone), r.stderr)
    // Said once: the sandbox, waiting for the join, does not report a failure of its own.
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    // Nor one of its view, which it builds meanwhile: it is killed when the join fails
    // (helper-124: an OCI plan has no parent-death signal, and both failures were reported).
    const both = planJoining([gone], 'both.plan', [{ ro: '/cordon-test-no-such-source:/tmp/x' }])
    for (let i = 0; i < 5; i++) {
      const b = spawnSync(LAUNCHER_UNDER_TEST, [both, '--', '/bin/echo', 'ran'], {
        cwd: projectDir(),
        encoding: 'utf8',
      })
      assert.equal(b.status, 125, b.stderr)
      assert.equal(b.stdout, '')
      assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr)
    }
  })
})
