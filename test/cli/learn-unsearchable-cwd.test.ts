// Issue 20 (leftover 1): learn, then enforce, from a project below a directory the sandbox's host
// ids cannot search — a root caller's /root (0700: its sandbox is an unprivileged host range),
// or a plain user's project below a 0700 directory of its own. The learned run must reach its
// working directory, and the learned policy must run there.
import assert from 'node:assert/strict'
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { traceView } from '../../src/learn/learn.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

test('the traced view makes an unsearchable ancestor of the cwd a tmpfs holding the cwd (pure)', () => {
  const base = resolvePolicy({
    policy: { extends: ['default'], filesystem: [{ ro: '/srv/locked/shared' }] },
    baseDir: '/',
    label: 'test',
  })
  const view = traceView(base, '/srv/locked/proj', (d) => d !== '/srv/locked').filesystem
  const at = (dest: string) => view.findIndex((e) => e.dest === dest)
  const tmpfs = view[at('/srv/locked')]
  assert.equal(tmpfs?.kind, 'tmpfs', JSON.stringify(view))
  // The cwd and the base's bind below it are mounted after (on top of) the tmpfs.
  assert.ok(at('/srv/locked/proj') > at('/srv/locked'), JSON.stringify(view))
  assert.ok(at('/srv/locked/shared') > at('/srv/locked'), JSON.stringify(view))
  // Searchable all the way: the host's own directories, as before.
  const open = traceView(base, '/srv/locked/proj', () => true).filesystem
  assert.ok(!open.some((e) => e.kind === 'tmpfs' && e.dest === '/srv/locked'))
})

const SCRIPT = 'pwd; ls; echo hi > out.txt; cat out.txt'

function learnThenRun(run: (args: string[]) => { status: number | null; stdout: string; stderr: string }) {
  const learned = run(['learn', '-q', '-o', 'p.yaml', '--', 'sh', '-c', SCRIPT])
  assert.equal(learned.status, 0, learned.stderr)
  assert.match(learned.stdout, /hi/)
  const enforced = run(['run', '--policy', 'p.yaml'])
  assert.equal(enforced.status, 0, enforced.stderr)
  assert.match(enforced.stdout, /hi/)
}

describe('learn below a directory the sandbox cannot search', () => {
  test(
    'root caller, project below a 0700 root-owned directory',
    { skip: isRoot ? false : 'needs root' },
    (t) => {
      const top = `/srv/cordon-locked-${process.pid}`
      t.after(() => rmSync(top, { recursive: true, force: true }))
      mkdirSync(`${top}/proj`, { recursive: true })
      chmodSync(top, 0o700)
      learnThenRun((args) => cordon(args, { cwd: `${top}/proj`, timeout: 120_000 }))
      assert.ok(existsSync(`${top}/proj/p.yaml`))
    },
  )

  test(
    'plain user, project below its own 0700 directory',
    { skip: isRoot ? false : 'needs root to make the user' },
    (t) => {
      const user = ensureTestUser()
      const top = `/srv/cordon-locked-user-${process.pid}`
      t.after(() => rmSync(top, { recursive: true, force: true }))
      mkdirSync(`${top}/home/proj`, { recursive: true })
      chownSync(`${top}/home`, user.uid, user.gid)
      chownSync(`${top}/home/proj`, user.uid, user.gid)
      chmodSync(`${top}/home`, 0o700)
      learnThenRun((args) => cordonAs(user, args, `${top}/home/proj`, 120_000))
    },
  )
})
