// What a plain user is told about the parts of cordon only root can use (issue 20, first hour):
// a root-only flag says it does nothing, and `check` marks what this caller can do, not what
// the host has.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, cordonAs, ensureTestUser, isRoot, plainUserScratch } from '../helpers.js'

const timeout = 60_000

function userProject(t: { after(fn: () => void): void }): {
  user: { uid: number; gid: number }
  dir: string
} {
  const user = ensureTestUser()
  const dir = mkdtempSync(join(tmpdir(), 'cordon-plain-'))
  chownSync(dir, user.uid, user.gid)
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return { user, dir }
}

describe('a plain user', { skip: isRoot ? false : 'needs root to act as the test user' }, () => {
  test('--host-root warns that it does nothing for this uid, and why', { timeout }, (t) => {
    const { user, dir } = userProject(t)
    const r = cordonAs(user, ['plan', '--host-root'], dir)
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `warning: --host-root has no effect for uid ${user.uid}: only root has host root’s file permissions`,
      ),
    )
    const quiet = cordonAs(user, ['plan', '--host-root', '--quiet'], dir)
    assert.doesNotMatch(quiet.stderr, /host-root/)
  })

  test('check marks cgroups ✓ only when this user can use them', { timeout }, (t) => {
    const { user, dir } = userProject(t)
    const r = cordonAs(user, ['check', '--json'], dir)
    const out = JSON.parse(r.stdout) as {
      checks: { id: string; status: string; detail: string; fix?: string }[]
    }
    const cg = out.checks.find((c) => c.id === 'cgroups')
    assert.ok(cg, 'a cgroups check')
    if (cg.status === 'missing') return t.skip('no cgroup file system on this host')
    const delegated = /this user's groups go in/.test(cg.detail)
    assert.equal(cg.status, delegated ? 'ok' : 'partial', cg.detail)
    if (delegated) return
    // The delegation hint only where a v2 tree holds the controllers (a hybrid host keeps them
    // in v1, which no user is given).
    const v2 = / v2: ([^;]*)/.exec(cg.detail)?.[1]?.split(' ') ?? []
    if (v2.includes('memory') || v2.includes('pids'))
      assert.match(cg.fix ?? '', /run cordon as root .* or delegate a cgroup v2 subtree/)
    else
      assert.match(
        cg.fix ?? '',
        /run cordon as root for cgroup limits: this host keeps its controllers in cgroup v1/,
      )
  })
})

// helper-114: the default profile's 4096 tasks are an RLIMIT_NPROC for a plain user without a
// cgroup; a hard `ulimit -u` already below that made setrlimit fail EPERM, and every run of
// that user failed. The caller's lower hard limit is stricter: it is kept.
test(
  "a plain user's hard process limit below the profile's is kept, not a failed run",
  { skip: isRoot ? false : 'needs root to act as the test user' },
  (t) => {
    const { env, dir, user } = plainUserScratch(t, 'nproc')
    const r = spawnSync(
      'bash',
      [
        '-c',
        'ulimit -Su 1000 && ulimit -Hu 4000 && exec "$0" "$1" run -q -- bash -c "ulimit -Hu"',
        process.execPath,
        CLI,
      ],
      { cwd: dir, uid: user.uid, gid: user.gid, env, encoding: 'utf8', timeout: 60_000 },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, '4000\n')
  },
)
